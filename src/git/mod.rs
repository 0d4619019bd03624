//! All git access through gix, split by job:
//! - [`repo`]: repository discovery (with git's environment overrides) and identity
//! - [`refs`]: ref writes, always compare-and-swap
//! - [`history`]: record commits, reachability, merge bases, tree diffs
//! - [`worktree`]: adding and removing worktrees, status, snapshots
//!
//! Child processes (including `git` itself where gix has no equivalent) are started only by
//! [`crate::process`].

pub mod checkout;
pub mod history;
pub mod refs;
pub mod repo;
pub mod worktree;

pub use history::*;
pub use refs::*;
pub use repo::*;
pub use worktree::*;
