//! `git agent archive`: what `prune --force` (and `converge`, and sync when it replaced a
//! record) saved under `refs/agent/archive/<task>/<stamp>/<part>`, listed and dropped.

use std::collections::BTreeMap;

use bstr::ByteSlice;
use gix::ObjectId;
use serde::Serialize;

use crate::layout::ARCHIVE_PREFIX;

/// One archive: the refs one prune (or sync) wrote for one task at one moment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Archive {
    pub task: String,
    /// When it was made, in ms since the epoch (the `<stamp>` of its refs).
    pub stamp_ms: u64,
    /// `branch`, `head`, `index`, `worktree`, `record`: each part's ref and commit.
    pub parts: Vec<Part>,
    /// The ref to restore from (`git agent spawn <new> --base <ref>`), see [`restore_from`].
    pub restore_from: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Part {
    pub name: String,
    #[serde(rename = "ref")]
    pub reference: String,
    pub commit: String,
}

/// The part to restore from: the uncommitted work on top of the commits when there was some,
/// else the branch, else a detached HEAD.
fn restore_from(parts: &[Part]) -> Option<String> {
    ["worktree", "branch", "head"]
        .iter()
        .find_map(|want| parts.iter().find(|p| p.name == *want))
        .map(|part| part.reference.clone())
}

/// Every archive, oldest first; refs under the prefix that are not `<task>/<stamp>/<part>` are
/// someone else's and are left out (and never dropped).
pub fn list(repo: &gix::Repository) -> anyhow::Result<Vec<Archive>> {
    let mut found: BTreeMap<(u64, String), Vec<Part>> = BTreeMap::new();
    for reference in repo.references()?.prefixed(ARCHIVE_PREFIX)? {
        let reference = reference.map_err(|err| anyhow::anyhow!("cannot list archives: {err}"))?;
        let full = reference.name().as_bstr().to_str_lossy().into_owned();
        let Some(id) = reference.target().try_id().map(ToOwned::to_owned) else { continue };
        let Some((task, stamp, part)) = parse_ref(&full) else { continue };
        found.entry((stamp, task)).or_default().push(Part { name: part, reference: full, commit: id.to_string() });
    }
    Ok(found
        .into_iter()
        .map(|((stamp_ms, task), parts)| Archive { task, stamp_ms, restore_from: restore_from(&parts), parts })
        .collect())
}

/// `refs/agent/archive/<task>/<stamp>/<part>` -> (task, stamp, part).
fn parse_ref(full: &str) -> Option<(String, u64, String)> {
    let rest = full.strip_prefix(ARCHIVE_PREFIX)?;
    let mut pieces = rest.splitn(3, '/');
    let (task, stamp, part) = (pieces.next()?, pieces.next()?, pieces.next()?);
    if crate::names::validate_task_name(task).is_err() || part.contains('/') {
        return None;
    }
    Some((task.to_owned(), stamp.parse().ok()?, part.to_owned()))
}

/// What `archive list --json` and `archive drop --json` print.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub version: u32,
    /// drop only: nothing was dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Listed, or dropped (would be, with --dry-run).
    pub archives: Vec<Archive>,
}

/// A name for the task that restores `task`'s archive: `<task>-restored`, shortened to fit the
/// name limit (a 64-byte name plus the suffix would be refused by the very spawn it suggests).
pub fn restore_name(task: &str) -> String {
    const SUFFIX: &str = "-restored";
    let keep = task.len().min(crate::names::MAX_LEN - SUFFIX.len());
    // Task names are ASCII, so any byte is a character boundary.
    let name = format!("{}{SUFFIX}", task.get(..keep).unwrap_or(task));
    if crate::names::validate_task_name(&name).is_ok() { name } else { "restored".to_owned() }
}

/// Which archives to drop.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these tasks' archives (all tasks when empty).
    pub tasks: Vec<String>,
    /// Only archives made before this moment (ms since the epoch).
    pub before_ms: Option<u64>,
}

impl Selection {
    pub fn matches(&self, archive: &Archive) -> bool {
        (self.tasks.is_empty() || self.tasks.contains(&archive.task))
            && self.before_ms.is_none_or(|before| archive.stamp_ms < before)
    }
}

/// Drops the selected archives (all of them unless `dry_run`) and returns them. Each archive's
/// refs go in one transaction, each only if it still points where it was listed: an archive
/// rewritten meanwhile stays whole.
pub fn drop(repo: &gix::Repository, selection: &Selection, dry_run: bool) -> anyhow::Result<Vec<Archive>> {
    let chosen: Vec<Archive> = list(repo)?.into_iter().filter(|a| selection.matches(a)).collect();
    if !dry_run {
        for archive in &chosen {
            let refs = archive
                .parts
                .iter()
                .map(|part| Ok((part.reference.clone(), ObjectId::from_hex(part.commit.as_bytes())?)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            crate::guard::drop_archive_refs(repo, &refs)?;
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_refs_parse_and_foreign_ones_do_not() {
        assert_eq!(
            parse_ref("refs/agent/archive/api/1700000000000/worktree"),
            Some(("api".into(), 1_700_000_000_000, "worktree".into()))
        );
        assert_eq!(parse_ref("refs/agent/archive/api/notanumber/worktree"), None);
        assert_eq!(parse_ref("refs/agent/archive/api/17/a/b"), None);
        assert_eq!(parse_ref("refs/agent/archive/api"), None);
        assert_eq!(parse_ref("refs/agent/archive/-x/17/branch"), None);
    }

    #[test]
    fn the_restoring_task_has_a_name_spawn_takes() {
        assert_eq!(restore_name("api"), "api-restored");
        let long = "x".repeat(crate::names::MAX_LEN);
        let name = restore_name(&long);
        assert!(name.ends_with("-restored") && name.len() == crate::names::MAX_LEN, "{name}");
        assert!(crate::names::validate_task_name(&name).is_ok());
    }

    #[test]
    fn a_selection_filters_by_task_and_age() {
        let archive = Archive { task: "a".into(), stamp_ms: 100, parts: vec![], restore_from: None };
        assert!(Selection::default().matches(&archive));
        assert!(Selection { tasks: vec!["a".into()], before_ms: Some(101) }.matches(&archive));
        assert!(!Selection { tasks: vec!["b".into()], before_ms: None }.matches(&archive));
        assert!(!Selection { tasks: vec![], before_ms: Some(100) }.matches(&archive));
    }
}
