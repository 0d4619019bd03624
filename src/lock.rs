//! git-agent's own lock files (task claims).

use anyhow::Context as _;

use crate::error::race;

/// Claims `task` for this process until the returned lock is dropped: a spawn holds it from
/// start to finish, prune while it removes the task. Another git-agent working on the same
/// task gets a lost-race error (exit 4) at once. A plain lock file beside the refs, not a held
/// ref transaction: those also hold `packed-refs.lock`, which would block this process's own
/// ref writes in any repository whose refs have been packed.
pub fn claim_task(repo: &gix::Repository, task: &str) -> anyhow::Result<gix::lock::Marker> {
    let dir = crate::layout::claims_dir(repo.common_dir());
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    gix::lock::Marker::acquire_to_hold_resource(dir.join(task), gix::lock::acquire::Fail::Immediately, None, 0).map_err(
        |_| {
            race(format!("another git-agent is spawning or pruning task {task:?} right now"))
                .hint(format!(
                    "try again when it has finished; if none is running, delete {}",
                    dir.join(format!("{task}.lock")).display()
                ))
                .into()
        },
    )
}
