//! `git agent archive [list|drop]`: render the archives prune --force made, and drop them.

use super::Context;
use super::list::{age, now_unix};
use crate::cli::{ArchiveAction, ArchiveArgs, ArchiveDropArgs, ArchiveListArgs};
use crate::error::{Exit, bad_input};
use crate::ops::archive::{Archive, Report, Selection};
use crate::output::{GlobalArgs, Style, Ui, paint};

pub fn run(global: &GlobalArgs, ui: &Ui, args: ArchiveArgs) -> anyhow::Result<Exit> {
    match args.action {
        None => list(global, ui, ArchiveListArgs::default()),
        Some(ArchiveAction::List(args)) => list(global, ui, args),
        Some(ArchiveAction::Drop(args)) => drop(global, ui, args),
    }
}

fn list(global: &GlobalArgs, ui: &Ui, args: ArchiveListArgs) -> anyhow::Result<Exit> {
    validate_names(&args.tasks)?;
    let ctx = Context::open(global)?;
    let selection = Selection { tasks: args.tasks, before_ms: None };
    let archives: Vec<Archive> =
        crate::ops::archive::list(&ctx.repo)?.into_iter().filter(|a| selection.matches(a)).collect();
    if ui.json {
        ui.json_data(&Report { version: 1, dry_run: None, archives });
        return Ok(Exit::Success);
    }
    if archives.is_empty() {
        ui.status("no archives: prune --force and converge archive work before they remove it");
        return Ok(Exit::Success);
    }
    ui.data(&render(&archives));
    Ok(Exit::Success)
}

fn drop(global: &GlobalArgs, ui: &Ui, args: ArchiveDropArgs) -> anyhow::Result<Exit> {
    validate_names(&args.tasks)?;
    let before_ms = args.older_than.as_deref().map(parse_older_than).transpose()?;
    let ctx = Context::open(global)?;
    let selection = Selection { tasks: args.tasks, before_ms };
    let dropped = crate::ops::archive::drop(&ctx.repo, &selection, args.dry_run)?;
    if ui.json {
        ui.json_data(&Report { version: 1, dry_run: Some(args.dry_run), archives: dropped });
        return Ok(Exit::Success);
    }
    if dropped.is_empty() {
        ui.status("no archive matches: nothing dropped");
        return Ok(Exit::Success);
    }
    let verb = if args.dry_run { "would drop" } else { "dropped" };
    for archive in &dropped {
        ui.data(&format!("{verb} {} {}\n", archive.task, when(archive.stamp_ms)));
    }
    if !args.dry_run {
        ui.status("their commits stay in the object database until git gc prunes them");
    }
    Ok(Exit::Success)
}

fn validate_names(tasks: &[String]) -> anyhow::Result<()> {
    Ok(tasks.iter().try_for_each(|task| crate::names::validate_task_name(task))?)
}

/// `30d`, `2w`, `12h`, `45m`, `90s`, or a date gix parses (`2026-11-01`, `2 weeks ago`):
/// the moment before which archives count as older, in ms since the epoch.
fn parse_older_than(text: &str) -> anyhow::Result<u64> {
    let now_ms = crate::state::now_ms();
    if let Some(age) = crate::settings::parse_age(text) {
        return Ok(now_ms.saturating_sub(age.as_millis() as u64));
    }
    match gix::date::parse(text, gix::date::Zoned::now().into()) {
        Ok(time) if time.seconds >= 0 => Ok(time.seconds as u64 * 1000),
        _ => Err(bad_input(format!("--older-than {text:?} is neither an age nor a date"))
            .hint("give an age like 30d, 2w or 12h, a date like 2026-11-01, or \"2 weeks ago\"")
            .into()),
    }
}

/// `2026-12-03 02:31 UTC (3h ago)`.
fn when(stamp_ms: u64) -> String {
    let seconds = (stamp_ms / 1000) as i64;
    let format = gix::date::time::CustomFormat::new("%Y-%m-%d %H:%M UTC");
    let date = gix::date::Time::new(seconds, 0).format_or_unix(format);
    format!("{date} ({} ago)", age(now_unix() - seconds))
}

fn render(archives: &[Archive]) -> String {
    let mut out = String::new();
    for archive in archives {
        let parts: Vec<&str> = archive.parts.iter().map(|p| p.name.as_str()).collect();
        out.push_str(&format!(
            "{} {}  {}\n",
            paint(&archive.task, Style::new().bold()),
            when(archive.stamp_ms),
            parts.join(", ")
        ));
        if let Some(from) = &archive.restore_from {
            out.push_str(&format!(
                "  restore: git agent spawn {} --base {from}\n",
                crate::ops::archive::restore_name(&archive.task)
            ));
        }
    }
    out
}
