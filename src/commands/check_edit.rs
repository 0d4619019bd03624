//! `git agent check-edit`: may the task's agent edit these paths? The work is in
//! [`crate::ops::check_edit`]; this renders it as text, JSON, or an agent's hook answer.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::Context;
use crate::cli::{CheckEditArgs, EditHook};
use crate::error::{Exit, bad_input, exit_of};
use crate::ops::check_edit::{self, Severity};
use crate::output::{GlobalArgs, Ui};
use crate::settings::Settings;

/// The most of a hook's input read: a tool call carrying a whole file to write is large.
const MAX_HOOK_INPUT: u64 = 64 << 20;

pub fn run(global: &GlobalArgs, ui: &Ui, args: CheckEditArgs) -> anyhow::Result<Exit> {
    if let Some(EditHook::Claude) = args.hook {
        if let Some(answer) = claude_answer(global, args.task.as_deref()) {
            ui.data(&answer);
        }
        return Ok(Exit::Success);
    }
    let cwd = std::env::current_dir()?;
    let cwd = global.directory.as_deref().map_or_else(|| cwd.clone(), |dir| cwd.join(dir));
    let ctx = Context::open(global)?;
    let report = check(&ctx, args.task.as_deref(), &args.paths, &cwd)?;
    if ui.json {
        ui.json_data(&report);
    } else {
        let mut text = String::new();
        for path in &report.paths {
            match path.severity {
                Severity::Ok => text.push_str(&format!("{}: ok\n", path.path)),
                _ => text.push_str(&format!("{}: {} ({})\n", path.path, path.verdict, path.messages())),
            }
        }
        ui.data(&text);
    }
    Ok(if report.severity() == Severity::Ok { Exit::Success } else { Exit::Found })
}

fn check(ctx: &Context, task: Option<&str>, paths: &[PathBuf], cwd: &Path) -> anyhow::Result<check_edit::Report> {
    let (_, record) = ctx.task_or_current(task).map_err(|err| match task {
        None if exit_of(&err) == Exit::BadInput => {
            anyhow::Error::from(bad_input("no task given, and the current directory is not in a task's worktree").hint(
                "pass --task TASK (`git agent list` shows the tasks), or run it in the task's worktree, as its agent does",
            ))
        }
        _ => err,
    })?;
    check_edit::check(&ctx.repo, &ctx.settings, &record, paths, cwd)
}

/// Claude Code's PreToolUse hook (https://code.claude.com/docs/en/hooks, "PreToolUse decision
/// control"): the input on stdin has `tool_name`, `tool_input` (Edit, Write and MultiEdit name
/// the file in `file_path`, NotebookEdit in `notebook_path`, absolute) and `cwd`. Exit status 0
/// with `hookSpecificOutput.permissionDecision` "deny" (the reason is shown to Claude) or "ask"
/// (the reason is shown to the user, who confirms) on stdout decides; no output leaves the
/// decision to Claude Code's permission rules. Every failure is "no output": a hook that
/// fails must not block the agent.
fn claude_answer(global: &GlobalArgs, task: Option<&str>) -> Option<String> {
    let mut input = Vec::new();
    std::io::stdin().take(MAX_HOOK_INPUT).read_to_end(&mut input).ok()?;
    let input: serde_json::Value = serde_json::from_slice(&input).ok()?;
    let tool = &input["tool_input"];
    let path = tool["file_path"].as_str().or_else(|| tool["notebook_path"].as_str())?;
    let cwd = match input["cwd"].as_str() {
        Some(cwd) if Path::new(cwd).is_absolute() => PathBuf::from(cwd),
        _ => std::env::current_dir().ok()?,
    };
    let dir = global.directory.as_deref().map_or_else(|| cwd.clone(), |dir| cwd.join(dir));
    let repo = crate::git::open(Some(&dir)).ok()?;
    let settings = Settings::read(&repo).ok()?;
    let ctx = Context { repo, settings };
    let report = check(&ctx, task, &[PathBuf::from(path)], &cwd).ok()?;
    let checked = report.paths.first()?;
    let decision = match checked.severity {
        Severity::Ok => return None,
        Severity::Ask => "ask",
        Severity::Deny => "deny",
    };
    let answer = serde_json::json!({
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": decision,
            "permissionDecisionReason": format!("git agent check-edit: {}: {}", checked.path, checked.messages()),
        }
    });
    Some(format!("{answer}\n"))
}
