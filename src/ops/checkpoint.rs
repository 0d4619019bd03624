//! The work of `git agent checkpoint`: a summary of an agent's session, written on its task's
//! record with the files the task changed, and whether a running agent is overdue for one.

use bstr::{BString, ByteSlice};

use super::Context;
use crate::state::{self, Checkpoint, TaskRecord};

/// The checkpoint's lists under their headings, in the order of a checkpoint file (the files,
/// which git-agent fills in, last).
pub fn sections(checkpoint: &Checkpoint) -> [(&'static str, &[String]); 5] {
    [
        ("Completed", &checkpoint.completed),
        ("In progress", &checkpoint.in_progress),
        ("Next", &checkpoint.next),
        ("Decisions", &checkpoint.decisions),
        ("Files", &checkpoint.files),
    ]
}

/// Reads a checkpoint file. Under the headings `## Completed`, `## In progress`, `## Next` and
/// `## Decisions` (any number of `#`, any case), each bullet (`- item` or `* item`) is an item,
/// and lines indented under a bullet continue it. Everything else, other headings included,
/// is kept as notes.
pub fn parse_file(text: &str) -> Checkpoint {
    let mut checkpoint = Checkpoint::default();
    let mut notes: Vec<&str> = Vec::new();
    // The list the current section fills, and whether the last line was one of its items.
    let mut section: Option<usize> = None;
    let mut in_item = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(heading) = trimmed.strip_prefix('#') {
            let title = heading.trim_start_matches('#').trim().trim_end_matches(':').to_lowercase();
            section = sections(&Checkpoint::default())[..4].iter().position(|(s, _)| s.to_lowercase() == title);
            in_item = false;
            if section.is_none() {
                notes.push(line);
            }
            continue;
        }
        let Some(index) = section else {
            notes.push(line);
            continue;
        };
        let list = match index {
            0 => &mut checkpoint.completed,
            1 => &mut checkpoint.in_progress,
            2 => &mut checkpoint.next,
            _ => &mut checkpoint.decisions,
        };
        if let Some(item) = trimmed.strip_prefix("- ").or_else(|| trimmed.strip_prefix("* ")) {
            list.push(item.trim().to_owned());
            in_item = true;
        } else if trimmed.is_empty() {
            in_item = false;
        } else if in_item && line.starts_with([' ', '\t']) {
            let last = list.last_mut().expect("an item was pushed");
            last.push(' ');
            last.push_str(trimmed);
        } else {
            notes.push(line);
            in_item = false;
        }
    }
    checkpoint.notes = notes.join("\n").trim().to_owned();
    checkpoint
}

/// Does the checkpoint say anything (an item, or notes)?
pub fn is_empty(checkpoint: &Checkpoint) -> bool {
    checkpoint.notes.trim().is_empty()
        && sections(checkpoint)[..4].iter().all(|(_, list)| list.iter().all(|item| item.trim().is_empty()))
}

/// The files the task changed: on its branch since its start, and in its worktree on this
/// machine now (staged, unstaged, untracked and not ignored); sorted, each once.
pub fn changed_files(repo: &gix::Repository, record: &TaskRecord) -> anyhow::Result<Vec<String>> {
    let mut paths: Vec<BString> = Vec::new();
    if let (Some(start), Some(tip)) = (record.start_commit(), crate::git::ref_target(repo, &record.branch)?)
        && repo.has_object(start)
    {
        paths.extend(crate::git::changed_paths(repo, start, tip)?);
    }
    let worktree = crate::ops::prune::worktree_path(repo, record);
    if worktree.is_dir() {
        let worktree = crate::git::open_worktree_for_status(&worktree)?;
        paths.extend(crate::git::changed_files(&worktree)?);
    }
    let mut files: Vec<String> = paths.iter().map(|path| path.to_str_lossy().into_owned()).collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// Records `checkpoint` on `record`'s task, its files filled in; returns the task's new state.
pub fn record(ctx: &Context, record: &TaskRecord, mut checkpoint: Checkpoint) -> anyhow::Result<TaskRecord> {
    checkpoint.files = changed_files(&ctx.repo, record)?;
    let change = state::Change::Checkpoint { checkpoint };
    let (_, updated) = state::update_record(&ctx.repo, &record.name, |_| Ok(change.clone()))?;
    Ok(updated)
}

/// When the task's running agent started on this machine (ms since the epoch): when its spawn
/// took the task's claim for the agent, a machine-local fact kept in the claim file.
pub fn agent_started_ms(repo: &gix::Repository, task: &str) -> Option<u64> {
    let modified = std::fs::metadata(crate::lock::claim_path(repo, task)).ok()?.modified().ok()?;
    modified.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_millis() as u64)
}

/// For a running agent: how long (seconds) since its last checkpoint, or since it started if
/// it took none since, when that is longer than `every`; `None` while it is not overdue.
pub fn overdue(record: &TaskRecord, started_ms: Option<u64>, now_ms: u64, every: std::time::Duration) -> Option<u64> {
    let checkpoint_ms = record.checkpoint.as_ref().map_or(0, |c| c.at_ms);
    let since_ms = checkpoint_ms.max(started_ms.unwrap_or(record.created_ms));
    let seconds = now_ms.saturating_sub(since_ms) / 1000;
    (seconds >= every.as_secs()).then_some(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_file_fills_the_lists_and_keeps_the_rest_as_notes() {
        let text = "Intro line.\n\n## Completed\n- parser\n- tests for\n  the parser\n\n## In Progress:\n* docs\n\
                    stray text\n### next\n- ship it\n## Risks\n- flaky CI\n## Decisions\n- no regex\n";
        let checkpoint = parse_file(text);
        assert_eq!(checkpoint.completed, ["parser", "tests for the parser"]);
        assert_eq!(checkpoint.in_progress, ["docs"]);
        assert_eq!(checkpoint.next, ["ship it"]);
        assert_eq!(checkpoint.decisions, ["no regex"]);
        assert_eq!(checkpoint.notes, "Intro line.\n\nstray text\n## Risks\n- flaky CI");
        assert!(!is_empty(&checkpoint));
        assert!(is_empty(&parse_file("## Next\n\n")));
    }

    #[test]
    fn overdue_counts_from_the_later_of_the_checkpoint_and_the_agent_start() {
        let json = br#"{"version":2,"name":"db","branch":"refs/heads/agent/db","base_ref":null,
            "base_commit":"0000000000000000000000000000000000000000","created_ms":1000,"state":"active"}"#;
        let mut record: TaskRecord = serde_json::from_slice(json).unwrap();
        let every = std::time::Duration::from_secs(60);
        assert_eq!(overdue(&record, Some(10_000), 69_000, every), None);
        assert_eq!(overdue(&record, Some(10_000), 70_000, every), Some(60));
        assert_eq!(overdue(&record, None, 70_000, every), Some(69));
        record.checkpoint = Some(Checkpoint { at_ms: 50_000, ..Checkpoint::default() });
        assert_eq!(overdue(&record, Some(10_000), 70_000, every), None);
        assert_eq!(overdue(&record, Some(10_000), 120_000, every), Some(70));
    }
}
