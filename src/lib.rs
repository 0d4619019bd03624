//! git-agent: the library behind the `git-agent*` binaries.
//!
//! - [`cli`]: clap definitions of every binary (also the source of man pages and completions)
//! - [`commands`]: one module per command: parse, call the logic, render
//! - [`git`]: all git access (gix in-process, and the one wrapper for `git` subprocesses)
//! - [`state`]: the repository state contract (task records, settings)
//! - [`output`], [`error`]: what every binary shares: flags, colour, exit codes

pub mod cli;
pub mod commands;
pub mod conflicts;
pub mod docs;
pub mod error;
pub mod git;
pub mod graph;
pub mod integrate;
pub mod names;
pub mod output;
pub mod plan;
pub mod prune;
pub mod scope;
pub mod state;
