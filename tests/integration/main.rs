//! Integration tests: the real binaries, through `git agent ...` dispatch, on real temporary
//! repositories with a hermetic git configuration and fixed dates.

mod background;
mod check_edit;
mod checkpoint;
mod common;
mod conflicts;
mod conflicts_order;
mod cost;
mod demo;
mod dispatch;
mod docs;
mod integrate;
mod integrate_queue;
mod integrate_trust;
mod join;
mod list;
mod merge_parity;
mod merge_property;
mod plan;
mod process;
mod prune;
mod prune_guard;
mod prune_trust;
mod records;
mod restack;
mod scratch;
mod signals;
mod spawn;
mod status;
mod sync;
mod sync_daemon;
mod sync_review;
mod trust;
