//! git-agent: the library behind the `git-agent*` binaries.
//!
//! - [`cli`]: clap definitions of every binary (also the source of man pages and completions)
//! - [`commands`]: one module per command: parse, call the logic, render
//! - [`git`]: all git access through gix, split by job (discovery, refs, history, worktrees)
//! - [`process`]: every child process (user commands and `git` itself), with a clean environment
//! - [`layout`]: every name of the state: refs, notes, lock files, scratch names, config keys
//! - [`integrate`], [`land`]: integration runs, and landing them in one ref transaction
//! - [`scratch`]: integrate's scratch worktrees (slots), kept warm between runs
//! - [`conflicts`], [`ordered`]: the conflict gate, pairwise and in dependency order
//! - [`stack`]: stacked dependencies: where a dependent task starts, and when it must move
//! - [`state`]: task records: reading, validating, writing
//! - [`settings`]: the `agent.*` configuration, read once
//! - [`lock`]: git-agent's own lock files
//! - [`interrupt`]: SIGINT and SIGTERM, recorded and checked at safe points, never fatal
//! - [`output`], [`error`]: what every binary shares: flags, colour, exit codes
//! - [`complete`]: dynamic shell completion (task names, revisions, remotes at TAB time)

pub mod cli;
pub mod commands;
pub mod complete;
pub mod conflicts;
pub mod docs;
pub mod error;
pub mod git;
pub mod graph;
pub mod guard;
pub mod hazard;
pub mod integrate;
pub mod interrupt;
pub mod land;
pub mod layout;
pub mod lock;
pub mod manifest;
pub mod merge;
pub mod names;
pub mod oplog;
pub mod ops;
pub mod ordered;
pub mod output;
pub mod pause;
pub mod plan;
pub mod process;
pub mod schema;
pub mod scope;
pub mod scratch;
pub mod settings;
pub mod stack;
pub mod state;
