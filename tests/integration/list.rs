//! `git agent list` (alias `status`): every task's facts, robust against damaged state.

use std::path::Path;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo, rev};

/// 2026-01-01T00:00:00Z, the committer date of every commit the tests make.
const FIXED_DATE: i64 = 1_767_225_600;

fn list_json(env: &Env, cwd: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["list", "--json"];
    args.extend_from_slice(extra);
    let json = env.agent(cwd, &args).success().json();
    assert_eq!(json["version"], 1, "{json}");
    json
}

/// The row of `task` in `list --json`.
fn row(env: &Env, repo: &Path, task: &str) -> Value {
    let json = list_json(env, repo, &[]);
    json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == task)
        .unwrap_or_else(|| panic!("no row for {task}: {json}"))
        .clone()
}

#[test]
fn no_tasks_is_friendly() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let run = env.agent(&repo, &["list"]).success();
    assert_eq!(run.stdout, "", "{run:#?}");
    assert!(run.stderr.contains("git agent spawn"), "{run:#?}");
    assert!(!run.stderr.contains("error"), "{run:#?}");
    let json = env.agent(&repo, &["list", "--json"]).success().json();
    assert_eq!(json, json!({"version": 1, "tasks": []}));
    env.agent(&repo, &["list", "-q"]).success();
    // An unknown task name is bad input, a bad one too.
    env.agent(&repo, &["list", "ghost"]).code(2);
    env.agent(&repo, &["list", "a/b"]).code(2);
}

#[test]
fn commits_in_a_task_are_counted() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n"), ("src/lib.rs", "// lib\n")]);
    env.agent(&repo, &["spawn", "t", "--scope", "src", "--scope", "*.md"]).success();
    env.agent(&repo, &["spawn", "idle"]).success();
    let wt = agents_dir(&repo).join("t");
    let main = rev(&env, &repo, "main");

    let fresh = row(&env, &repo, "t");
    assert_eq!(fresh["state"], "active");
    assert_eq!(fresh["branch"], "agent/t");
    assert_eq!(fresh["base_ref"], "refs/heads/main");
    assert_eq!(fresh["base_commit"], main.as_str());
    assert_eq!(fresh["head"], main.as_str());
    assert_eq!(fresh["ahead"], 0);
    assert_eq!(fresh["behind"], 0);
    assert_eq!(fresh["files_changed"], 0);
    assert_eq!(fresh["base_drift"], 0);
    assert_eq!(fresh["dirty"], false);
    assert_eq!(fresh["out_of_scope"], json!([]));
    assert_eq!(fresh["worktree"], wt.to_str().unwrap());
    assert_eq!(fresh["worktree_missing"], false);
    assert!(fresh["agent_exit"].is_null());
    assert_eq!(fresh["problems"], json!([]));
    // No commit of its own: LAST is when it was spawned (now), not the base's commit time.
    let spawned = fresh["last_commit_unix"].as_i64().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(spawned > FIXED_DATE && (now - 600..=now + 1).contains(&spawned), "{fresh}");
    let text = env.agent(&repo, &["list"]).success().stdout;
    assert!(text.lines().any(|l| l.starts_with("t ") && !l.contains("d ")), "LAST is seconds, not days: {text}");

    env.commit(&wt, &[("src/lib.rs", "// changed\n"), ("src/db/new.rs", "// new\n")], "in scope");
    env.commit(&wt, &[("docs/guide.md", "# guide\n"), ("Cargo.toml", "[package]\n")], "more");
    env.git(&wt, &["rm", "-q", "a.txt"]);
    env.git(&wt, &["commit", "-q", "-m", "delete a.txt"]);
    let head = rev(&env, &repo, "agent/t");

    let t = row(&env, &repo, "t");
    assert_eq!(t["head"], head.as_str());
    assert_eq!(t["ahead"], 3);
    assert_eq!(t["behind"], 0);
    assert_eq!(t["files_changed"], 5, "{t}");
    assert_eq!(t["out_of_scope"], json!(["Cargo.toml", "a.txt"]), "docs/guide.md is in scope by *.md: {t}");
    assert_eq!(t["base_drift"], 0);
    assert_eq!(t["dirty"], false);
    assert_eq!(t["last_commit_unix"], FIXED_DATE);
    // The other task is unaffected.
    let idle = row(&env, &repo, "idle");
    assert_eq!(idle["ahead"], 0);
    assert_eq!(idle["files_changed"], 0);

    // Main moves: the task is behind, and its base drifted.
    env.commit(&repo, &[("main.txt", "m\n")], "main moves 1");
    env.commit(&repo, &[("main2.txt", "m\n")], "main moves 2");
    let t = row(&env, &repo, "t");
    assert_eq!(t["ahead"], 3);
    assert_eq!(t["behind"], 2);
    assert_eq!(t["base_drift"], 2);
    assert_eq!(t["files_changed"], 5, "changes on main are not the task's: {t}");
    assert_eq!(row(&env, &repo, "idle")["base_drift"], 2);

    // Only the named tasks.
    let json = list_json(&env, &repo, &["t"]);
    assert_eq!(json["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(json["tasks"][0]["name"], "t");

    // The table for people shows the same.
    let table = env.agent(&repo, &["list"]).success().stdout;
    let line = table.lines().find(|l| l.starts_with("t ")).unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cells[..7], ["t", "active", "-", "3", "2", "5", "no"], "{table}");
    assert!(line.contains("base moved +2"), "{table}");
    assert!(line.contains("2 outside scope"), "{table}");
}

#[test]
fn task_spawned_from_a_commit_has_no_drift() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let initial = rev(&env, &repo, "main");
    env.agent(&repo, &["spawn", "t", "--base", &initial]).success();
    env.commit(&repo, &[("main.txt", "m\n")], "main moves");
    env.commit(&agents_dir(&repo).join("t"), &[("x.txt", "x\n")], "work");
    let t = row(&env, &repo, "t");
    assert!(t["base_ref"].is_null());
    assert_eq!(t["ahead"], 1);
    assert_eq!(t["behind"], 0);
    assert_eq!(t["base_drift"], 0);
    assert_eq!(t["files_changed"], 1);
}

#[test]
fn dirty_counts_modified_and_untracked_files() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n"), (".gitignore", "*.log\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    let wt = agents_dir(&repo).join("t");
    assert_eq!(row(&env, &repo, "t")["dirty"], false);

    write(&wt.join("a.txt"), "modified\n");
    assert_eq!(row(&env, &repo, "t")["dirty"], true, "modified tracked file");
    env.git(&wt, &["add", "a.txt"]);
    assert_eq!(row(&env, &repo, "t")["dirty"], true, "staged change");
    env.git(&wt, &["reset", "-q", "--hard"]);
    assert_eq!(row(&env, &repo, "t")["dirty"], false);

    write(&wt.join("ignored.log"), "noise\n");
    assert_eq!(row(&env, &repo, "t")["dirty"], false, "ignored files are not work");

    env.git(&repo, &["config", "status.showUntrackedFiles", "no"]);
    write(&wt.join("new/untracked.txt"), "work in progress\n");
    assert_eq!(env.git(&wt, &["status", "--porcelain"]), "", "git status hides it");
    assert_eq!(row(&env, &repo, "t")["dirty"], true, "untracked files count even with showUntrackedFiles=no");

    let json = list_json(&env, &repo, &["--no-dirty"]);
    assert!(json["tasks"][0]["dirty"].is_null(), "--no-dirty skips the check: {json}");

    std::fs::remove_dir_all(wt.join("new")).unwrap();
    assert_eq!(row(&env, &repo, "t")["dirty"], false);
    std::fs::remove_file(wt.join("a.txt")).unwrap();
    assert_eq!(row(&env, &repo, "t")["dirty"], true, "a deleted tracked file");
}

#[test]
fn a_deleted_worktree_is_reported_and_others_still_listed() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "gone"]).success();
    env.agent(&repo, &["spawn", "here"]).success();
    env.commit(&agents_dir(&repo).join("gone"), &[("x.txt", "x\n")], "work");
    std::fs::remove_dir_all(agents_dir(&repo).join("gone")).unwrap();

    let json = list_json(&env, &repo, &[]);
    let tasks = json["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{json}");
    let gone = tasks.iter().find(|t| t["name"] == "gone").unwrap();
    assert_eq!(gone["worktree_missing"], true);
    assert!(gone["dirty"].is_null());
    assert_eq!(gone["ahead"], 1, "branch facts still come from the branch: {gone}");
    assert!(gone["problems"].as_array().unwrap().iter().any(|p| p.as_str().unwrap().contains("missing")), "{gone}");
    let here = tasks.iter().find(|t| t["name"] == "here").unwrap();
    assert_eq!(here["worktree_missing"], false);
    assert_eq!(here["dirty"], false);
    assert_eq!(here["problems"], json!([]));

    let table = env.agent(&repo, &["list"]).success().stdout;
    assert!(table.lines().any(|l| l.starts_with("gone ") && l.contains("worktree missing")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("here ")), "{table}");
}

#[test]
fn a_deleted_branch_is_a_problem_not_a_failure() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    env.agent(&repo, &["spawn", "u"]).success();
    env.git(&repo, &["worktree", "remove", "--force", agents_dir(&repo).join("t").to_str().unwrap()]);
    env.git(&repo, &["branch", "-D", "-q", "agent/t"]);
    let t = row(&env, &repo, "t");
    assert!(t["ahead"].is_null(), "{t}");
    assert_eq!(t["worktree_missing"], true);
    assert!(t["problems"].as_array().unwrap().iter().any(|p| p.as_str().unwrap().contains("agent/t")), "{t}");
    assert_eq!(row(&env, &repo, "u")["problems"], json!([]));
}

#[test]
fn a_corrupt_record_is_reported_and_others_listed() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "good"]).success();
    let bad = write_raw_record(&env, &repo, "bad", "{ this is not json");
    let future = write_raw_record(
        &env,
        &repo,
        "future",
        r#"{"version":99,"name":"future","branch":"refs/heads/agent/future","base_ref":null,"base_commit":"0","worktree":"/x","created_ms":0,"state":"active"}"#,
    );
    let misnamed = write_raw_record(
        &env,
        &repo,
        "misnamed",
        r#"{"version":1,"name":"other","branch":"refs/heads/agent/x","base_ref":null,"base_commit":"0","worktree":"/x","created_ms":0,"state":"active"}"#,
    );
    env.agent(&repo, &["spawn", "good2"]).success();

    let run = env.agent(&repo, &["list", "--json"]).success();
    let json = run.json();
    let tasks = json["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 5, "{json}");
    for name in ["bad", "future", "misnamed"] {
        let row = tasks.iter().find(|t| t["name"] == name).unwrap();
        assert_eq!(row["state"], "corrupt", "{row}");
        assert!(!row["problems"].as_array().unwrap().is_empty(), "{row}");
    }
    let future_row = tasks.iter().find(|t| t["name"] == "future").unwrap();
    assert!(future_row["problems"][0].as_str().unwrap().contains("version 99"), "{future_row}");
    for name in ["good", "good2"] {
        let row = tasks.iter().find(|t| t["name"] == name).unwrap();
        assert_eq!(row["state"], "active", "{row}");
        assert_eq!(row["problems"], json!([]), "{row}");
        assert_eq!(row["dirty"], false, "{row}");
    }
    let table = env.agent(&repo, &["list"]).success().stdout;
    assert!(table.lines().any(|l| l.starts_with("bad ") && l.contains("corrupt")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("good ")), "{table}");

    // Nothing was "repaired" away.
    assert_eq!(rev(&env, &repo, "refs/agent/tasks/bad"), bad);
    assert_eq!(rev(&env, &repo, "refs/agent/tasks/future"), future);
    assert_eq!(rev(&env, &repo, "refs/agent/tasks/misnamed"), misnamed);
    // Other commands refuse the corrupt task but work for others.
    env.agent(&repo, &["show", "bad"]).code(3);
    env.agent(&repo, &["done", "bad"]).code(3);
    env.agent(&repo, &["spawn", "bad"]).code(3);
    env.agent(&repo, &["show", "good"]).success();
    env.agent(&repo, &["spawn", "good3"]).success();
    assert_eq!(rev(&env, &repo, "refs/agent/tasks/bad"), bad);
}

#[test]
fn a_non_utf8_file_name_is_reported_as_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t", "--scope", "src"]).success();
    let wt = agents_dir(&repo).join("t");
    let name: &[u8] = b"caf\xe9.txt";
    std::fs::write(wt.join(std::ffi::OsStr::from_bytes(name)), "x\n").unwrap();
    env.commit(&wt, &[("src/ok.rs", "// ok\n"), ("plain.txt", "p\n")], "odd name");
    let t = row(&env, &repo, "t");
    assert_eq!(t["files_changed"], 3, "{t}");
    let out = t["out_of_scope"].as_array().unwrap();
    assert_eq!(out.len(), 2, "{t}");
    assert!(out.contains(&json!({"bytes": [99, 97, 102, 233, 46, 116, 120, 116]})), "{t}");
    assert!(out.contains(&json!("plain.txt")), "{t}");
    // The table escapes it instead of printing invalid UTF-8.
    let table = env.agent(&repo, &["list"]).success().stdout;
    assert!(!table.contains('\u{fffd}'), "{table}");
}

#[test]
fn status_is_an_alias_of_list() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    let list = env.agent(&repo, &["list", "--json"]).success().json();
    let mut status = env.agent(&repo, &["status", "--json"]).success().json();
    // Only the age may differ between two runs, and with fixed commit dates it does not.
    assert_eq!(list, status);
    status["tasks"][0]["name"] = json!("changed");
    assert_ne!(list, status);
    let table = env.agent(&repo, &["status"]).success().stdout;
    assert!(table.starts_with("TASK"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("t ")), "{table}");
}

#[test]
fn a_closed_stdout_pipe_is_a_quiet_success() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    for i in 0..3 {
        env.agent(&repo, &["spawn", &format!("t{i}")]).success();
    }
    for args in [&["list"][..], &["list", "--json"], &["status"], &["show", "t0"]] {
        let mut child = env
            .command("git", &repo)
            .arg("agent")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // Close the read end before the command writes.
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.to_lowercase().contains("broken pipe"), "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    }
}

#[test]
fn an_oversized_record_is_reported_without_being_read() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "good"]).success();
    let huge = format!("{{\"padding\": \"{}\"}}", "x".repeat(1_100_000));
    write_raw_record(&env, &repo, "huge", &huge);
    let json = list_json(&env, &repo, &[]);
    let tasks = json["tasks"].as_array().unwrap();
    let huge_row = tasks.iter().find(|t| t["name"] == "huge").unwrap();
    assert_eq!(huge_row["state"], "corrupt");
    assert!(huge_row["problems"][0].as_str().unwrap().contains("larger than the limit"), "{huge_row}");
    assert!(tasks.iter().any(|t| t["name"] == "good" && t["state"] == "active"));
    // The record is reported, never deleted on that account.
    env.git(&repo, &["rev-parse", "--verify", "refs/agent/tasks/huge"]);
}

/// The rows' (name, current) pairs, listing from `cwd`.
fn current_rows(env: &Env, cwd: &Path) -> Vec<(String, bool)> {
    let json = list_json(env, cwd, &[]);
    let tasks = json["tasks"].as_array().unwrap();
    tasks.iter().map(|t| (t["name"].as_str().unwrap().to_owned(), t["current"].as_bool().unwrap())).collect()
}

#[test]
fn after_and_the_current_task_are_shown() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "db"]).success();
    env.agent(&repo, &["spawn", "api", "--after", "db"]).success();
    assert_eq!(row(&env, &repo, "api")["after"], json!(["db"]));
    assert_eq!(row(&env, &repo, "db")["after"], json!([]));
    let table = env.agent(&repo, &["list"]).success().stdout;
    assert!(table.lines().next().unwrap().contains(" AFTER "), "{table}");
    let api = table.lines().find(|l| l.starts_with("api ")).unwrap_or_else(|| panic!("{table}"));
    assert!(api.split_whitespace().any(|cell| cell == "db"), "{table}");

    // From the main worktree no task is current; from a task's worktree or any folder in it,
    // that task is, whatever path leads there.
    let no = |name: &str| (name.to_owned(), false);
    let yes = |name: &str| (name.to_owned(), true);
    assert_eq!(current_rows(&env, &repo), [no("db"), no("api")]);
    let db = agents_dir(&repo).join("db");
    std::fs::create_dir_all(db.join("src/deep")).unwrap();
    assert_eq!(current_rows(&env, &db), [yes("db"), no("api")]);
    assert_eq!(current_rows(&env, &db.join("src/deep")), [yes("db"), no("api")]);
    let via = env.path().join("via-link");
    std::os::unix::fs::symlink(&db, &via).unwrap();
    let run = env.run(env.path(), "git", &["-C", via.join("src").to_str().unwrap(), "agent", "list", "--json"]);
    let tasks = run.success().json()["tasks"].clone();
    assert_eq!((tasks[0]["current"].as_bool(), tasks[1]["current"].as_bool()), (Some(true), Some(false)), "{tasks}");
    let table = env.agent(&db.join("src"), &["list"]).success().stdout;
    assert!(table.lines().any(|l| l.starts_with("db* ")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("api ")), "{table}");
}

#[test]
fn an_integrated_task_is_not_behind() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    env.agent(&repo, &["spawn", "other"]).success();
    env.commit(&agents_dir(&repo).join("t"), &[("t.txt", "t\n")], "t's work");
    env.agent(&repo, &["done", "t"]).success();
    env.agent(&repo, &["integrate", "t", "-q"]).success();
    env.commit(&repo, &[("later1.txt", "1\n")], "later 1");
    env.commit(&repo, &[("later2.txt", "2\n")], "later 2");

    let t = row(&env, &repo, "t");
    assert_eq!(t["state"], "integrated", "{t}");
    assert!(t["behind"].is_null(), "{t}");
    // A task still at work is behind by what the target gained.
    let other = row(&env, &repo, "other");
    assert!(other["behind"].as_u64().unwrap() >= 2, "{other}");
    let table = env.agent(&repo, &["list"]).success().stdout;
    let line = table.lines().find(|l| l.starts_with("t ")).unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((cells[1], cells[4]), ("integrated", "-"), "BEHIND is -: {table}");
}

/// `git status --porcelain` of `wt` without rename tracking, every untracked file named: the
/// lines `list -v` must match.
fn git_short_status(env: &Env, wt: &Path) -> Vec<String> {
    let out = env.git(wt, &["-c", "status.renames=false", "status", "--porcelain", "--untracked-files=all"]);
    out.lines().map(str::to_owned).collect()
}

/// The same lines from `list -v --json`'s row of `task`.
fn listed_short_status(env: &Env, repo: &Path, task: &str) -> Vec<String> {
    let json = list_json(env, repo, &["-v", task]);
    let files = json["tasks"][0]["uncommitted"].as_array().unwrap_or_else(|| panic!("{json}")).clone();
    let letter = |mark: &Value| match mark.as_str() {
        None => ' ',
        Some("added") => 'A',
        Some("modified") => 'M',
        Some("deleted") => 'D',
        Some("type-changed") => 'T',
        Some("unmerged") => 'U',
        Some("untracked") => '?',
        Some(other) => panic!("unknown mark {other}"),
    };
    files
        .iter()
        .map(|f| format!("{}{} {}", letter(&f["staged"]), letter(&f["unstaged"]), f["path"].as_str().unwrap()))
        .collect()
}

#[test]
fn verbose_names_the_uncommitted_files_as_git_status_does() {
    let env = Env::new();
    let files: Vec<(String, String)> =
        ["mod.txt", "both.txt", "gone.txt", "removed.txt", "exec.sh", "link.txt", "keep.txt", "staged.txt"]
            .iter()
            .map(|name| (name.to_string(), format!("{name}\n")))
            .collect();
    let mut files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (n.as_str(), c.as_str())).collect();
    files.push((".gitignore", "*.log\n"));
    let repo = canonical_repo(&env, "repo", &files);
    env.agent(&repo, &["spawn", "t"]).success();
    let wt = agents_dir(&repo).join("t");
    assert!(row(&env, &repo, "t")["uncommitted"].is_null(), "only with -v");
    assert_eq!(listed_short_status(&env, &repo, "t"), Vec::<String>::new());

    write(&wt.join("mod.txt"), "changed\n");
    write(&wt.join("both.txt"), "staged\n");
    env.git(&wt, &["add", "both.txt"]);
    write(&wt.join("both.txt"), "staged, then changed again\n");
    write(&wt.join("staged.txt"), "staged only\n");
    env.git(&wt, &["add", "staged.txt"]);
    std::fs::remove_file(wt.join("gone.txt")).unwrap();
    env.git(&wt, &["rm", "-q", "removed.txt"]);
    env.git(&wt, &["update-index", "--chmod=+x", "exec.sh"]);
    std::fs::remove_file(wt.join("link.txt")).unwrap();
    std::os::unix::fs::symlink("keep.txt", wt.join("link.txt")).unwrap();
    write(&wt.join("new.txt"), "new\n");
    env.git(&wt, &["add", "new.txt"]);
    write(&wt.join("intent.txt"), "later\n");
    env.git(&wt, &["add", "-N", "intent.txt"]);
    write(&wt.join("deep/er/untracked.txt"), "u\n");
    write(&wt.join("top.txt"), "u\n");
    write(&wt.join("noise.log"), "ignored\n");

    let expected = git_short_status(&env, &wt);
    assert!(expected.len() >= 11, "the worktree shows every kind of change: {expected:#?}");
    assert_eq!(listed_short_status(&env, &repo, "t"), expected);

    // The table names them under the row, at most ten, then how many more.
    let table = env.agent(&repo, &["list", "-v"]).success().stdout;
    let lines: Vec<&str> = table.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("t ")).unwrap_or_else(|| panic!("{table}"));
    let shown: Vec<String> = expected.iter().take(10).map(|line| format!("    {line}")).collect();
    assert_eq!(lines[at + 1..at + 11], shown, "{table}");
    assert_eq!(lines[at + 11], format!("    and {} more", expected.len() - 10), "{table}");
    env.agent(&repo, &["list", "-v", "--no-dirty"]).code(2);
}

#[test]
fn verbose_names_conflicts_as_git_status_does() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n"), ("b.txt", "b\n"), ("c.txt", "c\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    let wt = agents_dir(&repo).join("t");
    env.commit(&wt, &[("a.txt", "task\n"), ("both.txt", "task\n")], "task");
    env.git(&wt, &["rm", "-q", "b.txt"]);
    env.git(&wt, &["commit", "-q", "-m", "task deletes b"]);
    env.commit(&repo, &[("a.txt", "main\n"), ("both.txt", "main\n"), ("b.txt", "main's b\n")], "main");
    env.git(&repo, &["rm", "-q", "c.txt"]);
    env.git(&repo, &["commit", "-q", "-m", "main deletes c"]);
    write(&wt.join("c.txt"), "task's c\n");
    env.git(&wt, &["commit", "-q", "-am", "task changes c"]);
    let merge = env.command("git", &wt).args(["merge", "-q", "main"]).output().unwrap();
    assert!(!merge.status.success(), "the merge conflicts");

    let expected = git_short_status(&env, &wt);
    assert!(expected.iter().any(|l| l.starts_with("UU")), "{expected:#?}");
    assert!(expected.iter().any(|l| l.starts_with("AA")), "{expected:#?}");
    assert!(expected.iter().any(|l| l.starts_with("DU")), "{expected:#?}");
    assert!(expected.iter().any(|l| l.starts_with("UD")), "{expected:#?}");
    assert_eq!(listed_short_status(&env, &repo, "t"), expected);
}

#[test]
fn staged_changes_are_found_in_worktrees_sharing_a_head_tree() {
    // The rows share each HEAD tree's index between worktrees: a staged change in one of them
    // must not be hidden by the clean ones checked before or after it.
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n"), ("run.sh", "echo\n")]);
    let names = ["t0", "t1", "t2", "t3", "t4", "t5"];
    for name in names {
        env.agent(&repo, &["spawn", name]).success();
    }
    let wt = |name: &str| agents_dir(&repo).join(name);
    write(&wt("t1").join("a.txt"), "staged\n");
    env.git(&wt("t1"), &["add", "a.txt"]);
    env.git(&wt("t3"), &["update-index", "--chmod=+x", "run.sh"]);
    std::fs::set_permissions(wt("t3").join("run.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    env.git(&wt("t5"), &["rm", "-q", "--cached", "a.txt"]);
    let json = list_json(&env, &repo, &[]);
    let dirty: Vec<(&str, bool)> = json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["dirty"].as_bool().unwrap()))
        .collect();
    let expected: Vec<(&str, bool)> = names.iter().map(|name| (*name, ["t1", "t3", "t5"].contains(name))).collect();
    assert_eq!(dirty, expected, "{json}");
    // git agrees on each.
    for name in names {
        let staged = env.git(&wt(name), &["diff", "--cached", "--name-only"]);
        assert_eq!(!staged.is_empty(), ["t1", "t3", "t5"].contains(&name), "{name}: {staged}");
    }
}
