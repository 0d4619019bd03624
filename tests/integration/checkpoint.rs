//! `git agent checkpoint`, the checkpoint in `show` and `list`, and `git agent handoff`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{Env, Run, write};
use crate::spawn::{agents_dir, canonical_repo};

fn setup(env: &Env) -> PathBuf {
    canonical_repo(env, "repo", &[("README.md", "hello\n"), (".gitignore", "*.log\n")])
}

/// Spawns task `t` (scope src/, a brief and two acceptance criteria); returns its worktree.
fn spawn_t(env: &Env, repo: &Path) -> PathBuf {
    env.agent(
        repo,
        &[
            "spawn",
            "t",
            "-q",
            "--scope",
            "src/",
            "--brief",
            "Build the parser.",
            "--acceptance",
            "parser works",
            "--acceptance",
            "docs written",
        ],
    )
    .success();
    agents_dir(repo).join("t")
}

fn checkpoint_of(env: &Env, repo: &Path, task: &str) -> serde_json::Value {
    env.agent(repo, &["show", task, "--json"]).success().json()["checkpoint"].clone()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

#[test]
fn a_checkpoint_records_its_lists_and_the_files_committed_and_uncommitted() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn_t(&env, &repo);
    env.commit(&worktree, &[("src/a.txt", "a\n")], "add a");
    write(&worktree.join("src/b.txt"), "untracked\n");
    write(&worktree.join("README.md"), "changed\n");
    write(&worktree.join("build.log"), "ignored\n");
    // From inside the worktree, without naming the task.
    env.agent(&worktree, &["checkpoint", "--completed", "parser", "--next", "docs", "--decision", "no regex"])
        .success()
        .stderr_has("checkpoint of task t");
    let checkpoint = checkpoint_of(&env, &repo, "t");
    assert_eq!(strings(&checkpoint["completed"]), ["parser"]);
    assert_eq!(strings(&checkpoint["next"]), ["docs"]);
    assert_eq!(strings(&checkpoint["decisions"]), ["no regex"]);
    assert_eq!(strings(&checkpoint["files"]), ["README.md", "src/a.txt", "src/b.txt"]);
    assert!(checkpoint["at_ms"].as_u64().unwrap() > 0, "{checkpoint:#}");
}

#[test]
fn a_checkpoint_file_fills_the_lists_under_its_headings_and_the_rest_is_notes() {
    let env = Env::new();
    let repo = setup(&env);
    spawn_t(&env, &repo);
    let file = env.path().join("checkpoint.md");
    write(
        &file,
        "Context window nearly full.\n\n## Completed\n- lexer\n- parser for\n  expressions\n\n## In progress\n\
         - statements\n\n## Next\n- docs\n\n## Decisions\n- hand-written parser\n\n## Risks\nthe grammar may change\n",
    );
    env.agent(&repo, &["checkpoint", "t", "-F", file.to_str().unwrap(), "--completed", "setup"]).success();
    let checkpoint = checkpoint_of(&env, &repo, "t");
    assert_eq!(strings(&checkpoint["completed"]), ["setup", "lexer", "parser for expressions"]);
    assert_eq!(strings(&checkpoint["in_progress"]), ["statements"]);
    assert_eq!(strings(&checkpoint["next"]), ["docs"]);
    assert_eq!(strings(&checkpoint["decisions"]), ["hand-written parser"]);
    assert_eq!(checkpoint["notes"], "Context window nearly full.\n\n## Risks\nthe grammar may change");

    // `-F -` reads standard input.
    let mut child = env
        .command("git", &repo)
        .args(["agent", "checkpoint", "t", "-F", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"just notes\n").unwrap();
    Run::from(child.wait_with_output().unwrap()).success();
    let checkpoint = checkpoint_of(&env, &repo, "t");
    assert_eq!(checkpoint["notes"], "just notes");
    assert_eq!(strings(&checkpoint["completed"]), Vec::<String>::new());
}

#[test]
fn an_empty_checkpoint_is_refused_and_records_nothing() {
    let env = Env::new();
    let repo = setup(&env);
    spawn_t(&env, &repo);
    let empty = env.path().join("empty.md");
    write(&empty, "## Next\n\n## Completed\n");
    let before = env.git(&repo, &["rev-parse", "refs/agent/tasks/t"]);
    env.agent(&repo, &["checkpoint", "t"]).code(2).stderr_has("empty");
    env.agent(&repo, &["checkpoint", "t", "--next", "  "]).code(2);
    env.agent(&repo, &["checkpoint", "t", "-F", empty.to_str().unwrap()]).code(2);
    env.agent(&repo, &["checkpoint", "nope", "--next", "x"]).code(2);
    assert_eq!(env.git(&repo, &["rev-parse", "refs/agent/tasks/t"]), before);
    assert!(checkpoint_of(&env, &repo, "t").is_null());
}

#[test]
fn show_prints_the_latest_checkpoint() {
    let env = Env::new();
    let repo = setup(&env);
    spawn_t(&env, &repo);
    env.agent(&repo, &["show", "t"]).success();
    assert!(!env.agent(&repo, &["show", "t"]).success().stdout.contains("checkpoint"));
    env.agent(&repo, &["checkpoint", "t", "--next", "first thing"]).success();
    env.agent(&repo, &["checkpoint", "t", "--completed", "first thing", "--next", "second thing"]).success();
    let shown = env.agent(&repo, &["show", "t"]).success();
    assert!(shown.stdout.contains("checkpoint ") && shown.stdout.contains(" ago"), "{shown:#?}");
    assert!(shown.stdout.contains("- second thing"), "{shown:#?}");
    assert!(shown.stdout.contains("completed:\n    - first thing"), "{shown:#?}");
    assert!(!shown.stdout.contains("next:\n    - first thing"), "{shown:#?}");
}

#[test]
fn list_flags_a_running_agent_without_a_recent_checkpoint() {
    let env = Env::new();
    let repo = setup(&env);
    env.git(&repo, &["config", "agent.checkpointEvery", "1s"]);
    env.agent(&repo, &["spawn", "idle", "-q"]).success();
    let go = env.path().join("go");
    let script = format!("touch started; while [ ! -f {} ]; do sleep 0.02; done", go.display());
    let child = env
        .command("git", &repo)
        .args(["agent", "spawn", "t", "-q", "--", "sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let worktree = agents_dir(&repo).join("t");
    let waited = std::time::Instant::now();
    while !worktree.join("started").exists() {
        assert!(waited.elapsed() < Duration::from_secs(60), "the agent never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    // More than agent.checkpointEvery passes (time only goes forward: no upper bound is assumed).
    std::thread::sleep(Duration::from_millis(1100));
    let tasks = env.agent(&repo, &["list", "--json"]).success().json()["tasks"].clone();
    let row = |name: &str| tasks.as_array().unwrap().iter().find(|t| t["name"] == name).unwrap().clone();
    assert_eq!(row("t")["running"], true, "{tasks:#}");
    assert!(row("t")["checkpoint_overdue"].as_u64().unwrap() >= 1, "{tasks:#}");
    assert!(row("idle")["checkpoint_overdue"].is_null(), "not running: {tasks:#}");
    env.agent(&repo, &["list"]).success().stdout_has("no checkpoint for");

    env.git(&repo, &["config", "agent.checkpointEvery", "2h"]);
    let tasks = env.agent(&repo, &["list", "--json"]).success().json()["tasks"].clone();
    assert!(tasks.as_array().unwrap().iter().all(|t| t["checkpoint_overdue"].is_null()), "{tasks:#}");
    env.git(&repo, &["config", "agent.checkpointEvery", "soon"]);
    env.agent(&repo, &["list"]).code(2).stderr_has("agent.checkpointEvery");

    std::fs::write(&go, "").unwrap();
    Run::from(child.wait_with_output().unwrap()).success();
}

/// The lines of the prompt's section `heading` (up to the next heading of any level).
fn section<'a>(prompt: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = prompt.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "no section {heading:?} in:\n{prompt}");
    lines.take_while(|l| !l.starts_with('#')).filter(|l| !l.is_empty()).collect()
}

#[test]
fn handoff_prints_commits_diffstat_checkpoint_brief_and_contract() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn_t(&env, &repo);
    env.commit(&worktree, &[("src/a.txt", "one\ntwo\n")], "add the parser");
    env.commit(&worktree, &[("src/b.txt", "three\n")], "add its tests");
    env.agent(&repo, &["checkpoint", "t", "--completed", "Parser works.", "--next", "write the docs"]).success();

    let prompt = env.agent(&repo, &["handoff", "t"]).success().stdout;
    let commits = section(&prompt, "### Commits");
    assert!(commits[0].ends_with(" add the parser") && commits[1].ends_with(" add its tests"), "{prompt}");
    assert_eq!(
        section(&prompt, "### Diffstat"),
        ["```", "src/a.txt | +2 -0", "src/b.txt | +1 -0", "2 file(s) changed, +3 -0", "```"]
    );
    assert!(section(&prompt, "### Integration state").contains(&"- state: active"), "{prompt}");
    assert_eq!(section(&prompt, "### Next"), ["- write the docs"]);
    assert_eq!(section(&prompt, "### Brief"), ["Build the parser."]);
    // "Parser works." is the criterion "parser works", reported completed.
    assert_eq!(section(&prompt, "### Acceptance criteria still open"), ["- docs written"]);
    assert_eq!(section(&prompt, "### Acceptance criteria reported completed"), ["- parser works"]);
    assert_eq!(section(&prompt, "### Scope (the files this task owns)"), ["- src/"]);
    assert_eq!(section(&prompt, "### Protected paths (never change these)"), ["(none recorded for this task)"]);
    assert!(prompt.contains("`git agent checkpoint` at least every 45m"), "{prompt}");
    assert!(prompt.contains("`git agent done`"), "{prompt}");

    env.git(&repo, &["config", "agent.protected", "Cargo.lock"]);
    let json = env.agent(&repo, &["handoff", "t", "--json"]).success().json();
    assert_eq!(json["handoff"]["protected"], serde_json::json!(["Cargo.lock"]));
    assert_eq!(json["handoff"]["commits"].as_array().unwrap().len(), 2);
    assert!(json["prompt"].as_str().unwrap().contains("- Cargo.lock"));
}

#[test]
fn handoff_to_spawns_a_successor_stacked_on_the_task_with_the_prompt_as_brief() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn_t(&env, &repo);
    env.commit(&worktree, &[("src/a.txt", "a\n")], "add the parser");
    env.agent(&repo, &["checkpoint", "t", "--in-progress", "the docs"]).success();

    let run = env.agent(&repo, &["handoff", "t", "--to", "t2"]).success();
    let new_worktree = agents_dir(&repo).join("t2");
    assert_eq!(run.stdout.trim(), new_worktree.to_str().unwrap());
    assert!(new_worktree.join("src/a.txt").is_file());
    assert_eq!(env.git(&repo, &["rev-parse", "agent/t2"]), env.git(&repo, &["rev-parse", "agent/t"]));
    let record = env.agent(&repo, &["show", "t2", "--json"]).success().json();
    let brief = record["brief"].as_str().unwrap();
    assert!(brief.starts_with("# Handoff: task t\n"), "{brief}");
    assert!(brief.contains("add the parser") && brief.contains("- the docs"), "{brief}");
    assert_eq!(record["after"], serde_json::json!(["t"]));
    assert_eq!(record["scope"], serde_json::json!(["src/"]));
    assert_eq!(record["acceptance"], serde_json::json!(["parser works", "docs written"]));

    let before = env.snapshot(&repo);
    env.agent(&repo, &["handoff", "t", "--to", "t2"]).code(3).stderr_has("exists already");
    env.agent(&repo, &["handoff", "nope", "--to", "t3"]).code(2);
    env.agent(&repo, &["handoff", "nope"]).code(2);
    env.agent(&repo, &["handoff", "t", "--to", "-bad"]).code(2);
    assert_eq!(env.snapshot(&repo), before);
}
