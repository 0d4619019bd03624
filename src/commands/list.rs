//! `git agent list` (alias `status`): every task at a glance.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use gix::ObjectId;
use serde::Serialize;

use super::Context;
use crate::cli::ListArgs;
use crate::error::{Exit, bad_input};
use crate::output::{GlobalArgs, JsonPath, Style, Ui, paint};
use crate::state::{self, TaskEntry, TaskRecord};

/// One task's row. The JSON schema is documented in git-agent-list(1).
#[derive(Debug, Serialize)]
pub struct Row {
    pub name: String,
    /// active, done, integrated, unknown, or corrupt when the record cannot be read.
    pub state: String,
    pub branch: Option<String>,
    pub base_ref: Option<String>,
    pub base_commit: Option<String>,
    pub head: Option<String>,
    pub ahead: Option<usize>,
    pub behind: Option<usize>,
    pub files_changed: Option<usize>,
    pub dirty: Option<bool>,
    pub last_commit_unix: Option<i64>,
    pub base_drift: Option<usize>,
    pub out_of_scope: Vec<JsonPath>,
    pub worktree: Option<PathBuf>,
    pub worktree_missing: bool,
    /// The task's agent is running right now (its spawn holds the task's claim).
    pub running: bool,
    pub agent_exit: Option<i32>,
    pub problems: Vec<String>,
}

#[derive(Serialize)]
struct Report {
    version: u32,
    tasks: Vec<Row>,
}

pub fn run(global: &GlobalArgs, ui: &Ui, args: ListArgs) -> anyhow::Result<Exit> {
    for name in &args.tasks {
        crate::names::validate_task_name(name)?;
    }
    let ctx = Context::open(global)?;
    let mut entries = state::read_tasks(&ctx.repo)?;
    if !args.tasks.is_empty() {
        if let Some(missing) = args.tasks.iter().find(|n| !entries.iter().any(|e| &e.name == *n)) {
            return Err(bad_input(format!("no task named {missing:?}")).into());
        }
        entries.retain(|e| args.tasks.contains(&e.name));
    }
    let rows = rows(&ctx.repo, &entries, !args.no_dirty);
    if ui.json {
        ui.json_data(&Report { version: 1, tasks: rows });
    } else if rows.is_empty() {
        ui.status(
            "no tasks yet: start one with `git agent spawn <task>`, or several with `git agent spawn --plan plan.json`",
        );
    } else {
        ui.data(&render(&rows, now_unix()));
    }
    Ok(Exit::Success)
}

/// Computes the rows on all cores: each task's worktree status is independent work.
pub fn rows(repo: &gix::Repository, entries: &[TaskEntry], check_dirty: bool) -> Vec<Row> {
    let sync = repo.clone().into_sync();
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(entries.len().max(1));
    let mut rows: Vec<(usize, Row)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let repo = sync.to_thread_local();
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(entry) = entries.get(i) else { break };
                        done.push((i, row(&repo, entry, check_dirty)));
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("list worker panicked")).collect()
    });
    rows.sort_by_key(|(i, _)| *i);
    rows.into_iter().map(|(_, row)| row).collect()
}

fn row(repo: &gix::Repository, entry: &TaskEntry, check_dirty: bool) -> Row {
    let mut row = Row {
        name: entry.name.clone(),
        state: "corrupt".into(),
        branch: None,
        base_ref: None,
        base_commit: None,
        head: None,
        ahead: None,
        behind: None,
        files_changed: None,
        dirty: None,
        last_commit_unix: None,
        base_drift: None,
        out_of_scope: Vec::new(),
        worktree: None,
        worktree_missing: false,
        running: false,
        agent_exit: None,
        problems: Vec::new(),
    };
    let record = match &entry.record {
        Ok(record) => record,
        Err(why) => {
            row.problems.push(format!("corrupt record: {why}"));
            return row;
        }
    };
    row.state = record.state.as_str().into();
    row.branch = Some(record.short_branch().to_owned());
    row.base_ref = record.base_ref.clone();
    row.base_commit = Some(record.base_commit.clone());
    row.worktree = Some(record.worktree.clone());
    row.agent_exit = record.agent_exit;
    row.running = crate::lock::task_holder(repo, &entry.name).is_some_and(|owner| owner.purpose == "agent");
    if let Err(err) = fill_branch_facts(repo, record, &mut row) {
        row.problems.push(format!("{err:#}"));
    }
    row.worktree_missing = !record.worktree.is_dir();
    if row.worktree_missing {
        row.problems.push("worktree missing".into());
    } else if check_dirty {
        match crate::git::open_worktree_for_status(&record.worktree).and_then(|wt| crate::git::has_changes(&wt)) {
            Ok(dirty) => row.dirty = Some(dirty),
            Err(err) => row.problems.push(format!("cannot check the worktree: {err:#}")),
        }
    }
    row
}

/// Ahead/behind, files changed, drift, scope: everything that comes from commits.
fn fill_branch_facts(repo: &gix::Repository, record: &TaskRecord, row: &mut Row) -> anyhow::Result<()> {
    let base_commit = ObjectId::from_hex(record.base_commit.as_bytes())
        .map_err(|_| anyhow::anyhow!("the record's base commit is not an object id"))?;
    let Some(head) = crate::git::ref_target(repo, &record.branch)? else {
        anyhow::bail!("branch {} is missing", record.short_branch());
    };
    row.head = Some(head.to_string());
    // The target is the base branch as it is now; without one, the commit spawned from.
    let target = match &record.base_ref {
        Some(base_ref) => crate::git::ref_target(repo, base_ref)?.unwrap_or(base_commit),
        None => base_commit,
    };
    row.ahead = Some(crate::git::count_only_in(repo, head, target)?);
    row.behind = Some(crate::git::count_only_in(repo, target, head)?);
    row.base_drift =
        Some(if repo.has_object(base_commit) { crate::git::count_only_in(repo, target, base_commit)? } else { 0 });
    row.last_commit_unix = Some(crate::git::commit_time(repo, head)?);
    let merge_base = crate::git::merge_base(repo, head, target)?.unwrap_or(base_commit);
    let changed = crate::git::changed_paths(repo, merge_base, head)?;
    row.files_changed = Some(changed.len());
    row.out_of_scope = changed
        .into_iter()
        .filter(|path| !crate::scope::contains(&record.scope, path.as_ref()))
        .map(JsonPath)
        .collect();
    Ok(())
}

fn now_unix() -> i64 {
    (state::now_ms() / 1000) as i64
}

/// "5m", "3h", "2d": how long ago, in one unit.
fn age(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn render(rows: &[Row], now: i64) -> String {
    let header = ["TASK", "STATE", "AHEAD", "BEHIND", "FILES", "DIRTY", "LAST", "NOTES"];
    let mut table: Vec<[String; 8]> = Vec::new();
    for row in rows {
        let opt = |n: Option<usize>| n.map_or("-".to_owned(), |n| n.to_string());
        let mut notes = Vec::new();
        if let Some(drift) = row.base_drift.filter(|d| *d > 0 && row.state != "integrated") {
            notes.push(format!("base moved +{drift}"));
        }
        if !row.out_of_scope.is_empty() {
            let shown: Vec<String> = row.out_of_scope.iter().take(3).map(|p| p.to_string()).collect();
            let more = if row.out_of_scope.len() > 3 { ", ..." } else { "" };
            notes.push(format!("{} outside scope: {}{more}", row.out_of_scope.len(), shown.join(", ")));
        }
        if row.running {
            notes.push("agent running".to_owned());
        } else if let Some(exit) = row.agent_exit.filter(|e| *e != 0) {
            notes.push(format!("agent exited {exit}"));
        }
        notes.extend(row.problems.iter().cloned());
        table.push([
            row.name.clone(),
            row.state.clone(),
            opt(row.ahead),
            opt(row.behind),
            opt(row.files_changed),
            row.dirty.map_or("-".to_owned(), |d| if d { "yes".into() } else { "no".into() }),
            row.last_commit_unix.map_or("-".to_owned(), |t| age(now - t)),
            notes.join("; "),
        ]);
    }
    let mut widths = header.map(str::len);
    for cells in &table {
        for (w, cell) in widths.iter_mut().zip(cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [String; 8], style: Option<Style>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let padded = if i == 7 { cell.clone() } else { format!("{cell:<w$}  ") };
            out.push_str(&match (i, style) {
                (_, Some(style)) => paint(&padded, style),
                (1, None) => paint(&padded, state_style(cell)),
                (7, None) if !cell.is_empty() => paint(&padded, Style::new().yellow()),
                _ => padded,
            });
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.map(str::to_owned), Some(Style::new().bold()));
    for cells in table {
        out.push_str(&line(cells, None));
    }
    out
}

fn state_style(state: &str) -> Style {
    match state {
        "done" => Style::new().green(),
        "integrated" => Style::new().dimmed(),
        "corrupt" | "unknown" => Style::new().red(),
        _ => Style::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::age;

    #[test]
    fn ages_use_one_unit() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(125), "2m");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(3 * 86_400 + 5), "3d");
        assert_eq!(age(-5), "0s");
    }
}
