//! `git agent check-edit`: per path a verdict before an agent edits it, as text, JSON and
//! Claude Code's PreToolUse hook answer.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo};

/// The files of the repositories here.
const FILES: &[(&str, &str)] = &[
    ("src/db/a.rs", "a\n"),
    ("src/api/b.rs", "b\n"),
    ("tests/t.rs", "t\n"),
    ("api.yaml", "api\n"),
    ("LICENSE", "mine\n"),
    ("README.md", "readme\n"),
    ("shared.txt", "shared\n"),
];

fn spawn(env: &Env, repo: &Path, task: &str, args: &[&str]) -> PathBuf {
    let mut all = vec!["spawn", task, "-q"];
    all.extend_from_slice(args);
    env.agent(repo, &all).success();
    agents_dir(repo).join(task)
}

/// A repository of FILES with tasks x and y, without scopes: the repository, x's and y's worktrees.
fn tasks_x_and_y(env: &Env) -> (PathBuf, PathBuf, PathBuf) {
    let repo = canonical_repo(env, "repo", FILES);
    let x = spawn(env, &repo, "x", &[]);
    let y = spawn(env, &repo, "y", &[]);
    (repo, x, y)
}

/// `check-edit --json` of `paths` in `cwd`: the report, after checking the exit status.
fn check(env: &Env, cwd: &Path, paths: &[&str], code: i32) -> Value {
    let mut args = vec!["check-edit", "--json"];
    args.extend_from_slice(paths);
    env.agent(cwd, &args).code(code).json()
}

/// The checked path `path` of a report.
fn at<'a>(report: &'a Value, path: &str) -> &'a Value {
    report["paths"].as_array().unwrap().iter().find(|p| p["path"] == path).unwrap_or_else(|| panic!("{report}"))
}

/// The finding names of one path, most severe first.
fn verdicts(report: &Value, path: &str) -> Vec<String> {
    at(report, path)["findings"].as_array().unwrap().iter().map(|f| f["verdict"].as_str().unwrap().to_owned()).collect()
}

/// Runs `git agent check-edit --hook claude` in `cwd` with `input` on stdin.
fn hook(env: &Env, cwd: &Path, input: &str) -> Run {
    env.run_input(cwd, "git", &["agent", "check-edit", "--hook", "claude"], input)
}

fn edit_input(tool: &str, cwd: &Path, file: &Path) -> String {
    let key = if tool == "NotebookEdit" { "notebook_path" } else { "file_path" };
    json!({
        "session_id": "s1",
        "transcript_path": "/nonexistent/t.jsonl",
        "cwd": cwd,
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": { key: file, "old_string": "a", "new_string": "b" },
        "tool_use_id": "toolu_01"
    })
    .to_string()
}

#[test]
fn each_verdict_of_scope_ownership_protection_and_contracts() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    env.git(&repo, &["config", "agent.protected", "LICENSE"]);
    let db = spawn(&env, &repo, "db", &["--scope", "src/db", "--protect", "tests/", "--contract", "api.yaml"]);
    spawn(&env, &repo, "api", &["--scope", "src/api"]);

    let run = env.agent(&db, &["check-edit", "src/db/a.rs", "src/db/new.rs"]).success();
    assert_eq!(run.stdout, "src/db/a.rs: ok\nsrc/db/new.rs: ok\n");

    let report = check(&env, &db, &["src/api/b.rs", "README.md", "tests/t.rs", "api.yaml", "LICENSE"], 1);
    assert_eq!(report["version"], 1);
    assert_eq!(report["task"], "db");
    assert_eq!(verdicts(&report, "src/api/b.rs"), ["owned", "outside-scope"]);
    let owned = &at(&report, "src/api/b.rs")["findings"][0];
    assert_eq!(
        (&owned["task"], &owned["pathspec"], &owned["severity"]),
        (&json!("api"), &json!("src/api"), &json!("ask"))
    );
    assert_eq!(verdicts(&report, "README.md"), ["outside-scope"]);
    assert_eq!(at(&report, "README.md")["severity"], "ask");
    assert_eq!(verdicts(&report, "tests/t.rs"), ["protected", "outside-scope"]);
    assert_eq!(at(&report, "tests/t.rs")["findings"][0]["by"], "task");
    assert_eq!(at(&report, "tests/t.rs")["findings"][0]["pathspec"], "tests/");
    assert_eq!(at(&report, "tests/t.rs")["severity"], "deny");
    assert_eq!(verdicts(&report, "api.yaml"), ["contract", "outside-scope"]);
    assert_eq!(at(&report, "api.yaml")["findings"][0]["pathspec"], "api.yaml");
    assert_eq!(verdicts(&report, "LICENSE"), ["protected", "outside-scope"]);
    assert_eq!(at(&report, "LICENSE")["findings"][0]["by"], "config");
    assert_eq!(at(&report, "LICENSE")["verdict"], "protected");

    // agent.protected holds for a task without any scope too; another's scope is asked about.
    let free = spawn(&env, &repo, "free", &[]);
    let report = check(&env, &free, &["LICENSE", "src/db/a.rs", "shared.txt"], 1);
    assert_eq!(verdicts(&report, "LICENSE"), ["protected"]);
    assert_eq!(verdicts(&report, "src/db/a.rs"), ["owned"]);
    assert_eq!(verdicts(&report, "shared.txt"), Vec::<String>::new());
    assert_eq!(at(&report, "shared.txt")["verdict"], "ok");

    // Text: one line per path, the verdict and the reasons.
    let run = env.agent(&db, &["check-edit", "LICENSE", "src/db/a.rs"]).code(1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(lines[0].starts_with("LICENSE: protected (protected by git config agent.protected (LICENSE)"), "{run:#?}");
    assert!(lines[0].contains("outside task db's scope (src/db)"), "{run:#?}");
    assert_eq!(lines[1], "src/db/a.rs: ok");
}

#[test]
fn paths_another_task_changed_on_its_branch_agree_with_git_diff() {
    let env = Env::new();
    let (repo, x, y) = tasks_x_and_y(&env);
    env.commit(&y, &[("shared.txt", "y's\n"), ("src/db/a.rs", "y's a\n"), ("new/y.txt", "new\n")], "y works");
    env.git(&y, &["rm", "-q", "README.md"]);
    env.git(&y, &["commit", "-q", "-m", "y removes the readme"]);

    let changed = env.git(&repo, &["diff", "--name-only", "main", "agent/y"]);
    let changed: Vec<&str> = changed.lines().collect();
    let mut all: Vec<String> =
        env.git(&repo, &["ls-tree", "-r", "--name-only", "agent/y"]).lines().map(String::from).collect();
    all.extend(FILES.iter().map(|(path, _)| path.to_string()));
    all.sort();
    all.dedup();
    let paths: Vec<&str> = all.iter().map(String::as_str).collect();
    let report = check(&env, &x, &paths, 1);
    for path in &paths {
        let expected: Vec<String> = if changed.contains(path) { vec!["changed".to_owned()] } else { Vec::new() };
        assert_eq!(verdicts(&report, path), expected, "{path}: {report}");
    }
    let finding = &at(&report, "shared.txt")["findings"][0];
    assert_eq!(
        (&finding["task"], &finding["where"], &finding["severity"]),
        (&json!("y"), &json!("branch"), &json!("ask"))
    );

    // A task stacked on y has y's version: no conflict in the making, until y changes it again.
    let z = spawn(&env, &repo, "z", &["--after", "y"]);
    check(&env, &z, &["shared.txt"], 0);
    env.commit(&y, &[("shared.txt", "y's second\n")], "y again");
    let report = check(&env, &z, &["shared.txt"], 1);
    assert_eq!(verdicts(&report, "shared.txt"), ["changed"]);

    // Integrated tasks are no one's conflict.
    env.agent(&repo, &["done", "y"]).success();
    env.agent(&repo, &["integrate", "-q"]).success();
    let report = check(&env, &x, &["shared.txt"], 0);
    assert_eq!(at(&report, "shared.txt")["verdict"], "ok", "integrated y still reported: {report}");
}

#[test]
fn paths_changed_uncommitted_in_another_worktree_agree_with_git_status() {
    let env = Env::new();
    let (repo, x, y) = tasks_x_and_y(&env);
    write(&y.join("shared.txt"), "edited, not committed\n");
    write(&y.join("src/new.rs"), "untracked\n");
    std::fs::remove_file(y.join("README.md")).unwrap();
    // Rewritten with the same bytes: not a change.
    write(&y.join("LICENSE"), "mine\n");
    #[cfg(unix)]
    {
        std::fs::remove_file(y.join("tests/t.rs")).unwrap();
        std::os::unix::fs::symlink("../api.yaml", y.join("tests/t.rs")).unwrap();
    }
    let index_before = std::fs::read(env.git(&y, &["rev-parse", "--git-path", "index"]).trim()).unwrap();
    let state_before = env.snapshot(&repo);

    let report = check(
        &env,
        &x,
        &["shared.txt", "src/new.rs", "README.md", "LICENSE", "tests/t.rs", "api.yaml", "src/db/a.rs", "src/none.rs"],
        1,
    );
    // Read-only: no ref, worktree or index was written (git status below may refresh the index).
    assert_eq!(env.snapshot(&repo), state_before);
    assert_eq!(std::fs::read(env.git(&y, &["rev-parse", "--git-path", "index"]).trim()).unwrap(), index_before);
    let status = env.git(&y, &["status", "--porcelain", "--untracked-files=all"]);
    let dirty: Vec<&str> = status.lines().map(|line| &line[3..]).collect();
    assert!(["shared.txt", "src/new.rs", "README.md"].iter().all(|p| dirty.contains(p)), "{status}");
    assert!(!dirty.contains(&"LICENSE"), "{status}");
    for path in
        ["shared.txt", "src/new.rs", "README.md", "LICENSE", "tests/t.rs", "api.yaml", "src/db/a.rs", "src/none.rs"]
    {
        let expected: Vec<String> = if dirty.contains(&path) { vec!["changed".into()] } else { Vec::new() };
        assert_eq!(verdicts(&report, path), expected, "{path}: {status}\n{report}");
    }
    assert_eq!(at(&report, "shared.txt")["findings"][0]["where"], "worktree");
    assert!(at(&report, "shared.txt")["findings"][0]["message"].as_str().unwrap().contains("uncommitted"));
}

#[test]
fn a_gated_task_is_denied_until_its_plan_is_approved() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    let g = spawn(&env, &repo, "g", &["--gate"]);
    let report = check(&env, &g, &["shared.txt"], 1);
    assert_eq!(verdicts(&report, "shared.txt"), ["gated"]);
    assert_eq!(at(&report, "shared.txt")["severity"], "deny");
    assert!(at(&report, "shared.txt")["findings"][0]["message"].as_str().unwrap().contains("git agent propose"));

    env.agent(&g, &["propose", "-m", "rewrite everything"]).success();
    let run = env.agent(&g, &["check-edit", "shared.txt"]).code(1);
    assert!(run.stdout.starts_with("shared.txt: gated ("), "{run:#?}");
    assert!(run.stdout.contains("approval"), "{run:#?}");

    env.agent(&repo, &["reject", "g", "--reason", "too broad, keep to shared.txt"]).success();
    let report = check(&env, &g, &["shared.txt"], 1);
    let finding = &at(&report, "shared.txt")["findings"][0];
    assert_eq!(finding["reason"], "too broad, keep to shared.txt");
    assert!(finding["message"].as_str().unwrap().contains("too broad, keep to shared.txt"), "{finding}");
    assert!(finding["message"].as_str().unwrap().contains("git agent propose"), "{finding}");

    env.agent(&g, &["propose", "-m", "only shared.txt"]).success();
    env.agent(&repo, &["approve", "g"]).success();
    check(&env, &g, &["shared.txt"], 0);
}

#[test]
fn paths_outside_the_worktree_are_denied() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    let t = spawn(&env, &repo, "t", &[]);
    let other = spawn(&env, &repo, "other", &[]);
    let main_file = repo.join("shared.txt");
    let other_file = other.join("shared.txt");
    let report = check(
        &env,
        &t.join("src"),
        &[
            "../../../repo/shared.txt",
            main_file.to_str().unwrap(),
            other_file.to_str().unwrap(),
            "../.git",
            "../src/../shared.txt",
            "db/../../new dir/file.txt",
        ],
        1,
    );
    for path in ["../../../repo/shared.txt", main_file.to_str().unwrap(), other_file.to_str().unwrap(), "../.git"] {
        assert_eq!(verdicts(&report, path), ["outside-worktree"], "{path}: {report}");
        assert_eq!(at(&report, path)["severity"], "deny");
    }
    assert!(
        at(&report, main_file.to_str().unwrap())["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not in task t's worktree")
    );
    // `..` that stays inside is fine; paths are reported repository-relative.
    assert_eq!(at(&report, "shared.txt")["verdict"], "ok");
    assert_eq!(at(&report, "new dir/file.txt")["verdict"], "ok");

    // A link to a directory elsewhere leads out.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&repo, t.join("elsewhere")).unwrap();
        let report = check(&env, &t, &["elsewhere/shared.txt"], 1);
        assert_eq!(verdicts(&report, "elsewhere/shared.txt"), ["outside-worktree"]);
    }
}

#[test]
fn the_task_is_the_one_whose_worktree_we_are_in_or_named() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    let db = spawn(&env, &repo, "db", &["--scope", "src/db"]);
    // From a subdirectory, paths are relative to it.
    let report = check(&env, &db.join("src/db"), &["a.rs", "../api/b.rs"], 1);
    assert_eq!(report["task"], "db");
    assert_eq!(at(&report, "src/db/a.rs")["verdict"], "ok");
    assert_eq!(at(&report, "src/api/b.rs")["verdict"], "outside-scope");
    // The main worktree is no task's: name one, and paths are the worktree's.
    env.agent(&repo, &["check-edit", "src/db/a.rs"]).code(2).stderr_has("--task");
    let report = check(&env, &repo, &["--task", "db", "src/db/a.rs", "README.md"], 1);
    assert_eq!(at(&report, "src/db/a.rs")["verdict"], "ok");
    assert_eq!(at(&report, "README.md")["verdict"], "outside-scope");
    env.agent(&repo, &["check-edit", "--task", "nope", "a"]).code(2);
    env.agent(&db, &["check-edit"]).code(2);
}

#[test]
fn the_claude_hook_answers_deny_ask_or_nothing_and_never_fails() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    env.git(&repo, &["config", "agent.protected", "LICENSE"]);
    let db = spawn(&env, &repo, "db", &["--scope", "src/db"]);

    let deny = hook(&env, &db, &edit_input("Edit", &db, &db.join("LICENSE"))).success();
    let answer: Value = serde_json::from_str(&deny.stdout).unwrap();
    let out = &answer["hookSpecificOutput"];
    assert_eq!(out["hookEventName"], "PreToolUse");
    assert_eq!(out["permissionDecision"], "deny");
    let reason = out["permissionDecisionReason"].as_str().unwrap();
    assert!(reason.contains("LICENSE") && reason.contains("agent.protected"), "{reason}");

    let ask = hook(&env, &db, &edit_input("Write", &db, &db.join("README.md"))).success();
    let answer: Value = serde_json::from_str(&ask.stdout).unwrap();
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "ask");
    assert!(answer["hookSpecificOutput"]["permissionDecisionReason"].as_str().unwrap().contains("scope"));

    let ok = hook(&env, &db, &edit_input("MultiEdit", &db, &db.join("src/db/a.rs"))).success();
    assert_eq!((ok.stdout.as_str(), ok.stderr.as_str()), ("", ""));
    let notebook = hook(&env, &db, &edit_input("NotebookEdit", &db, &db.join("tests/t.ipynb"))).success();
    assert!(notebook.stdout.contains("\"ask\""), "{notebook:#?}");

    // The hook's cwd comes from its input, wherever the process starts.
    let deny = hook(&env, env.path(), &edit_input("Edit", &db, &db.join("LICENSE"))).success();
    assert!(deny.stdout.contains("\"deny\""), "{deny:#?}");

    // Never fails, and says nothing when it cannot decide.
    for input in ["", "not json", "{}", r#"{"tool_input":{"file_path":42}}"#] {
        let run = hook(&env, &db, input).success();
        assert_eq!(run.stdout, "", "{input}: {run:#?}");
    }
    let nowhere = hook(&env, &repo, &edit_input("Edit", &repo, &repo.join("LICENSE"))).success();
    assert_eq!(nowhere.stdout, "", "the main worktree is no task's: {nowhere:#?}");
    let outside = hook(&env, env.path(), &edit_input("Edit", env.path(), &env.path().join("x"))).success();
    assert_eq!(outside.stdout, "");
}
