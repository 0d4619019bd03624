//! `git agent-integrate`: dependency order, the three strategies, failing tests and conflicts
//! (all or nothing), --keep-going, a target that moves during the run, the checked-out target's
//! worktree, integration branches, interruption, resolution rules, idempotence, dry runs, notes and
//! the test cache, and bad input. Tested against docs/integrate-contract.md.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo, file_named_anywhere, record, rev};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Spawns `name` (after `after`) in `repo`; returns its worktree.
fn spawn(env: &Env, repo: &Path, name: &str, after: &[&str], extra: &[&str]) -> PathBuf {
    let mut args = vec!["spawn", name, "-q"];
    for dep in after {
        args.extend(["--after", dep]);
    }
    args.extend_from_slice(extra);
    env.agent(repo, &args).success();
    agents_dir(repo).join(name)
}

/// Marks `name` done.
fn done(env: &Env, repo: &Path, name: &str) {
    env.agent(repo, &["done", name, "-q"]).success();
}

/// A finished task: spawned after `after`, one commit writing `files`, marked done.
fn task(env: &Env, repo: &Path, name: &str, after: &[&str], files: &[(&str, &str)]) -> PathBuf {
    let wt = spawn(env, repo, name, after, &[]);
    env.commit(&wt, files, &format!("{name}: work"));
    done(env, repo, name);
    wt
}

/// Commits `files` in `dir` with the given author (`Name <email>`).
fn commit_as(env: &Env, dir: &Path, files: &[(&str, &str)], message: &str, author: &str) {
    for (path, content) in files {
        write(&dir.join(path), content);
    }
    env.git(dir, &["add", "-A"]);
    env.git(dir, &["commit", "-q", "-m", message, "--author", author]);
}

/// Runs `git agent-integrate <args>` in `repo`.
pub(crate) fn integrate(env: &Env, repo: &Path, args: &[&str]) -> Run {
    let mut all = vec!["agent-integrate"];
    all.extend_from_slice(args);
    env.run(repo, "git", &all)
}

/// Runs `git agent-integrate --json <args>`, asserts exit code `code` and the format version.
#[track_caller]
pub(crate) fn integrate_json(env: &Env, repo: &Path, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = integrate(env, repo, &all).code(code);
    let json = run.json();
    assert_eq!(json["version"], 1, "{json:#}");
    json
}

/// The steps' tasks, in order.
fn step_tasks(json: &Value) -> Vec<String> {
    steps(json).iter().map(|s| s["task"].as_str().unwrap_or_else(|| panic!("step without task: {s}")).into()).collect()
}

fn steps(json: &Value) -> &Vec<Value> {
    json["steps"].as_array().unwrap_or_else(|| panic!("no steps array: {json:#}"))
}

/// The step of `task`.
#[track_caller]
pub(crate) fn step<'a>(json: &'a Value, task: &str) -> &'a Value {
    steps(json).iter().find(|s| s["task"] == task).unwrap_or_else(|| panic!("no step for {task}: {json:#}"))
}

/// The steps' statuses, in order.
pub(crate) fn statuses(json: &Value) -> Vec<String> {
    steps(json).iter().map(|s| s["status"].as_str().unwrap_or("<none>").to_owned()).collect()
}

/// `git log --first-parent --format=%s <rev>` as lines.
fn first_parent_subjects(env: &Env, repo: &Path, rev: &str) -> Vec<String> {
    env.git(repo, &["log", "--first-parent", "--format=%s", rev]).lines().map(str::to_owned).collect()
}

/// The parents of a commit.
fn parents(env: &Env, repo: &Path, commit: &str) -> Vec<String> {
    let line = env.git(repo, &["rev-list", "--parents", "-n", "1", commit]);
    line.split_whitespace().skip(1).map(str::to_owned).collect()
}

fn is_ancestor(env: &Env, repo: &Path, ancestor: &str, descendant: &str) -> bool {
    env.command("git", repo).args(["merge-base", "--is-ancestor", ancestor, descendant]).status().unwrap().success()
}

fn tree_of(env: &Env, repo: &Path, rev: &str) -> String {
    self::rev(env, repo, &format!("{rev}^{{tree}}"))
}

/// Runs `git <args>` with `input` on stdin, asserting success; returns stdout.
fn git_stdin(env: &Env, repo: &Path, args: &[&str], input: &str) -> String {
    env.run_input(repo, "git", args, input).success().stdout.trim().to_owned()
}

/// Rewrites a task's recorded dependencies by appending a record commit, as a future
/// `git agent edit` might; lets tests order spawns independently of dependencies.
fn set_after(env: &Env, repo: &Path, name: &str, deps: &[&str]) {
    let mut rec = record(env, repo, name);
    rec["after"] = json!(deps);
    let blob = git_stdin(env, repo, &["hash-object", "-w", "--stdin"], &rec.to_string());
    let tree = git_stdin(env, repo, &["mktree"], &format!("100644 blob {blob}\ttask.json\n"));
    let reference = format!("refs/agent/tasks/{name}");
    let old = rev(env, repo, &reference);
    let commit = env.git(repo, &["commit-tree", &tree, "-p", &old, "-m", &format!("edit {name}")]);
    env.git(repo, &["update-ref", &reference, commit.trim(), &old]);
}

/// What plain git makes of merging `tips` one after the other into `base` (the tree).
fn merged_tree(env: &Env, repo: &Path, base: &str, tips: &[&str]) -> String {
    let mut current = rev(env, repo, base);
    for tip in tips {
        let out = env.git(repo, &["merge-tree", "--write-tree", &current, tip]);
        let tree = out.lines().next().unwrap().to_owned();
        current =
            env.git(repo, &["commit-tree", &tree, "-p", &current, "-p", tip, "-m", "reference"]).trim().to_owned();
    }
    tree_of(env, repo, &current)
}

/// Every ref with its value (refs/heads, refs/agent, refs/notes, ...).
fn all_refs(env: &Env, repo: &Path) -> String {
    env.git(repo, &["for-each-ref", "--format=%(refname) %(objectname)"])
}

/// The registered worktrees, integrate's warm scratch slots left out.
fn worktrees(env: &Env, repo: &Path) -> String {
    without_slots(&env.git(repo, &["worktree", "list", "--porcelain"]))
}

/// The `worktree <path>` lines of `git worktree list --porcelain`.
fn worktree_paths(env: &Env, repo: &Path) -> Vec<PathBuf> {
    worktrees(env, repo).lines().filter_map(|l| l.strip_prefix("worktree ")).map(PathBuf::from).collect()
}

/// `numbered("shared")` with line `n` replaced.
fn numbered_with(n: usize, text: &str) -> String {
    (1..=10).map(|i| if i == n { format!("{text}\n") } else { format!("shared line {i}\n") }).collect()
}

#[track_caller]
fn assert_state(env: &Env, repo: &Path, name: &str, state: &str) {
    let rec = record(env, repo, name);
    assert_eq!(rec["state"], state, "record of {name}: {rec:#}");
}

/// A path shell-quoted for `sh -c`.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display())
}

// ---------------------------------------------------------------------------------------------
// 1. Order

#[test]
fn tasks_land_in_dependency_order_with_ties_in_spawn_order() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    let before = rev(&env, &repo, "main");
    // Spawned in an order that is not the dependency order (and not alphabetical); the
    // dependencies are then recorded: tests after api and web, web after api, api after db.
    for name in ["tests", "zeta", "web", "db", "alpha", "api"] {
        let wt = spawn(&env, &repo, name, &[], &[]);
        env.commit(&wt, &[(&format!("{name}/file.txt"), &format!("{name}\n"))], &format!("{name}: work"));
    }
    set_after(&env, &repo, "tests", &["api", "web"]);
    set_after(&env, &repo, "web", &["api"]);
    set_after(&env, &repo, "api", &["db"]);
    for name in ["api", "alpha", "db", "tests", "web", "zeta"] {
        done(&env, &repo, name);
    }

    let json = integrate_json(&env, &repo, &[], 0);
    // Ready first: zeta, db, alpha (spawn order) -> zeta; then db; then alpha (spawned before
    // api), api, web, tests.
    let order = ["zeta", "db", "alpha", "api", "web", "tests"];
    assert_eq!(step_tasks(&json), order, "{json:#}");
    assert_eq!(statuses(&json), ["merged"; 6], "{json:#}");
    assert_eq!(json["strategy"], "merge");
    assert_eq!(json["dry_run"], false);
    assert_eq!(json["landed"], true);
    assert_eq!(json["skipped"], json!([]));
    let after = rev(&env, &repo, "main");
    assert_ne!(after, before);
    assert_eq!(
        json["target"],
        json!({"name": "main", "ref": "refs/heads/main", "before": before, "after": after, "current": after,
               "moved_by_others": false})
    );
    assert_eq!(steps(&json).last().unwrap()["commit"], after, "the last step's commit is the new target");

    let mut expected: Vec<String> = order.iter().rev().map(|t| format!("Merge task {t} (agent/{t})")).collect();
    expected.push("initial".into());
    assert_eq!(first_parent_subjects(&env, &repo, "main"), expected);

    for name in order {
        let rec = record(&env, &repo, name);
        assert_eq!(rec["state"], "integrated", "{rec:#}");
        let commit = rec["integrated_commit"].as_str().unwrap_or_else(|| panic!("no integrated_commit: {rec:#}"));
        assert!(is_ancestor(&env, &repo, commit, "main"), "{name}: {commit} is not in main");
        assert!(is_ancestor(&env, &repo, &format!("agent/{name}"), commit), "{name}: its tip is not in {commit}");
        let event = env.git(&repo, &["log", "-1", "--format=%s", &format!("refs/agent/tasks/{name}")]);
        assert!(event.starts_with("integrated"), "{name}: last record event is {event:?}");
        assert_eq!(env.git(&repo, &["show", &format!("main:{name}/file.txt")]), format!("{name}\n"));
    }
}

#[test]
fn spawn_time_dependencies_are_respected_and_the_umbrella_dispatches() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "db", &[], &[("db.sql", "create\n")]);
    task(&env, &repo, "api", &["db"], &[("api.rs", "api\n")]);
    task(&env, &repo, "web", &["api"], &[("web.js", "web\n")]);
    task(&env, &repo, "tests", &["api", "web"], &[("tests.sh", "t\n")]);
    // An active task is not integrated by default.
    let wip = spawn(&env, &repo, "wip", &[], &[]);
    env.commit(&wip, &[("wip.txt", "wip\n")], "wip: work");
    // `git agent integrate` is the same command.
    let run = env.agent(&repo, &["integrate", "--json"]).success();
    assert_eq!(step_tasks(&run.json()), ["db", "api", "web", "tests"]);
    assert_eq!(
        first_parent_subjects(&env, &repo, "main"),
        [
            "Merge task tests (agent/tests)",
            "Merge task web (agent/web)",
            "Merge task api (agent/api)",
            "Merge task db (agent/db)",
            "initial"
        ]
    );
    assert!(!is_ancestor(&env, &repo, "agent/wip", "main"));
    assert_state(&env, &repo, "wip", "active");
}

// ---------------------------------------------------------------------------------------------
// 2. Strategies

#[test]
fn merge_strategy_makes_a_no_ff_merge_commit_per_task() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    let before = rev(&env, &repo, "main");
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    task(&env, &repo, "b", &[], &[("b.txt", "b\n")]);
    let json = integrate_json(&env, &repo, &["--strategy", "merge"], 0);
    assert_eq!(step_tasks(&json), ["a", "b"]);
    let a = step(&json, "a")["commit"].as_str().unwrap().to_owned();
    let b = step(&json, "b")["commit"].as_str().unwrap().to_owned();
    // a was fast-forwardable, yet it gets a merge commit.
    assert_eq!(parents(&env, &repo, &a), [before.clone(), rev(&env, &repo, "agent/a")]);
    assert_eq!(parents(&env, &repo, &b), [a.clone(), rev(&env, &repo, "agent/b")]);
    assert_eq!(rev(&env, &repo, "main"), b);
    assert_eq!(step(&json, "a")["tree"], tree_of(&env, &repo, &a));
    assert_eq!(step(&json, "a")["conflicts"], json!([]));
    assert_eq!(step(&json, "a")["rule"], Value::Null);
    assert_eq!(step(&json, "a")["test"], Value::Null, "no test command: test is null");
    assert_eq!(env.git(&repo, &["log", "-1", "--format=%B", &a]).trim(), "Merge task a (agent/a)");
    assert_eq!(tree_of(&env, &repo, "main"), merged_tree(&env, &repo, &before, &["agent/a", "agent/b"]));
}

#[test]
fn rebase_strategy_replays_commits_linearly_with_authors_and_messages() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    let a = spawn(&env, &repo, "a", &[], &[]);
    commit_as(&env, &a, &[("a.txt", "a1\n")], "a: first", "Alice <alice@example.com>");
    commit_as(&env, &a, &[("a.txt", "a2\n")], "a: second\n\nwith a body", "Alice <alice@example.com>");
    let b = spawn(&env, &repo, "b", &[], &[]);
    commit_as(&env, &b, &[("b.txt", "b\n")], "b: only", "Bob <bob@example.com>");
    done(&env, &repo, "a");
    done(&env, &repo, "b");
    // main moves, so neither task is a fast-forward.
    env.commit(&repo, &[("main.txt", "main\n")], "main moves");
    let base = rev(&env, &repo, "main");
    let expected_tree = merged_tree(&env, &repo, &base, &["agent/a", "agent/b"]);

    let json = integrate_json(&env, &repo, &["--strategy", "rebase"], 0);
    assert_eq!(json["strategy"], "rebase");
    assert_eq!(statuses(&json), ["merged", "merged"], "{json:#}");
    let range = format!("{base}..main");
    assert_eq!(env.git(&repo, &["rev-list", "--merges", &range]), "", "no merge commits");
    assert_eq!(
        env.git(&repo, &["log", "--reverse", "--format=%s|%an|%ae", &range]),
        "a: first|Alice|alice@example.com\na: second|Alice|alice@example.com\nb: only|Bob|bob@example.com\n"
    );
    assert_eq!(env.git(&repo, &["log", "-1", "--format=%B", "main~1"]).trim_end(), "a: second\n\nwith a body");
    // Linear down to the old target.
    assert_eq!(first_parent_subjects(&env, &repo, "main").len(), 3 + 2);
    assert_eq!(rev(&env, &repo, "main~3"), base);
    assert_eq!(tree_of(&env, &repo, "main"), expected_tree, "the final tree is the merge result");
    assert_eq!(json["target"]["after"], rev(&env, &repo, "main"));
    assert_state(&env, &repo, "a", "integrated");
    assert_state(&env, &repo, "b", "integrated");
}

#[test]
fn squash_strategy_makes_one_single_parent_commit_per_task() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    let a = spawn(&env, &repo, "a", &[], &["--brief", "Add the a thing\nwith details below"]);
    env.commit(&a, &[("a.txt", "a1\n")], "a: one");
    env.commit(&a, &[("a2.txt", "a2\n")], "a: two");
    let b = spawn(&env, &repo, "b", &[], &[]);
    env.commit(&b, &[("b.txt", "b\n")], "b: one");
    env.commit(&b, &[("README.md", "readme by b\n")], "b: two");
    done(&env, &repo, "a");
    done(&env, &repo, "b");
    let before = rev(&env, &repo, "main");
    let expected_tree = merged_tree(&env, &repo, &before, &["agent/a", "agent/b"]);

    let json = integrate_json(&env, &repo, &["--strategy", "squash"], 0);
    assert_eq!(statuses(&json), ["merged", "merged"], "{json:#}");
    assert_eq!(
        env.git(&repo, &["log", "--format=%s", &format!("{before}..main")]),
        "task b: squashed\ntask a: Add the a thing\n"
    );
    let squash_a = rev(&env, &repo, "main~1");
    assert_eq!(parents(&env, &repo, "main"), std::slice::from_ref(&squash_a));
    assert_eq!(parents(&env, &repo, &squash_a), [before]);
    assert_eq!(step(&json, "a")["commit"], squash_a);
    assert_eq!(tree_of(&env, &repo, "main"), expected_tree);
    assert_eq!(env.git(&repo, &["show", "main:README.md"]), "readme by b\n");
}

// ---------------------------------------------------------------------------------------------
// 3. Stops: a failing test, a conflict

#[test]
fn a_failing_test_stops_the_run_and_leaves_the_target_unchanged() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "one", &[], &[("one.txt", "1\n")]);
    task(&env, &repo, "two", &[], &[("fail.flag", "x\n")]);
    task(&env, &repo, "three", &[], &[("three.txt", "3\n")]);
    let before = rev(&env, &repo, "main");
    let worktrees_before = worktrees(&env, &repo);
    let cmd = "test ! -e fail.flag || { echo 'fail.flag is here'; exit 3; }";

    let json = integrate_json(&env, &repo, &["--test", cmd], 1);
    assert_eq!(rev(&env, &repo, "main"), before, "target unchanged");
    assert_eq!(json["landed"], false, "{json:#}");
    assert_eq!(json["target"]["after"], Value::Null, "{json:#}");
    let all = steps(&json);
    assert_eq!(all[0]["task"], "one");
    assert_eq!(all[0]["status"], "merged");
    let ok = &all[0]["test"];
    assert_eq!(ok["command"], cmd);
    assert_eq!(ok["exit"], 0);
    assert_eq!(ok["cached"], false);
    assert_eq!(ok["timed_out"], false);
    assert_eq!(ok["output"], Value::Null);
    assert_eq!(all[1]["task"], "two");
    assert_eq!(all[1]["status"], "test-failed", "{json:#}");
    let failed = &all[1]["test"];
    assert_eq!(failed["exit"], 3, "{json:#}");
    assert_eq!(failed["timed_out"], false);
    assert!(failed["output"].as_str().is_some_and(|o| o.contains("fail.flag is here")), "{json:#}");
    assert!(all[2..].iter().all(|s| s["status"] != "merged"), "nothing is merged after the failure: {json:#}");
    for name in ["one", "two", "three"] {
        assert_state(&env, &repo, name, "done");
    }
    assert_eq!(worktrees(&env, &repo), worktrees_before, "only the scratch slot stays");
    assert_eq!(held_slots(&repo), Vec::<PathBuf>::new(), "the slot is released");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    assert!(!repo.join("one.txt").exists());
}

#[test]
fn a_conflict_stops_the_run_and_names_the_path() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared"))]);
    task(&env, &repo, "one", &[], &[("one.txt", "1\n")]);
    task(&env, &repo, "two", &[], &[("shared.txt", &numbered_with(3, "two was here"))]);
    task(&env, &repo, "three", &[], &[("shared.txt", &numbered_with(3, "three was here"))]);
    let before = rev(&env, &repo, "main");
    let json = integrate_json(&env, &repo, &[], 1);
    assert_eq!(rev(&env, &repo, "main"), before);
    assert_eq!(step_tasks(&json)[..3], ["one", "two", "three"]);
    assert_eq!(statuses(&json)[..3], ["merged", "merged", "conflict"], "{json:#}");
    assert_eq!(step(&json, "three")["conflicts"], json!(["shared.txt"]), "{json:#}");
    assert_eq!(json["landed"], false);
    for name in ["one", "two", "three"] {
        assert_state(&env, &repo, name, "done");
    }
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    assert_eq!(std::fs::read_to_string(repo.join("shared.txt")).unwrap(), numbered("shared"));
}

#[test]
fn a_rebase_conflict_stops_the_run() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared"))]);
    task(&env, &repo, "one", &[], &[("shared.txt", &numbered_with(7, "one"))]);
    let two = spawn(&env, &repo, "two", &[], &[]);
    env.commit(&two, &[("two.txt", "2\n")], "two: clean first");
    env.commit(&two, &[("shared.txt", &numbered_with(7, "two"))], "two: conflicting second");
    done(&env, &repo, "two");
    let before = rev(&env, &repo, "main");
    let json = integrate_json(&env, &repo, &["--strategy", "rebase"], 1);
    assert_eq!(statuses(&json), ["merged", "conflict"], "{json:#}");
    assert_eq!(step(&json, "two")["conflicts"], json!(["shared.txt"]));
    assert_eq!(rev(&env, &repo, "main"), before);
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn a_conflicted_path_that_is_not_utf8_is_given_as_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let raw: &[u8] = b"raw\xff\xfe name.txt";
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    std::fs::write(repo.join(OsStr::from_bytes(raw)), numbered("shared")).unwrap();
    env.commit(&repo, &[], "raw file");
    for name in ["one", "two"] {
        let wt = spawn(&env, &repo, name, &[], &[]);
        std::fs::write(wt.join(OsStr::from_bytes(raw)), numbered_with(2, name)).unwrap();
        env.commit(&wt, &[], name);
        done(&env, &repo, name);
    }
    let json = integrate_json(&env, &repo, &[], 1);
    assert_eq!(step(&json, "two")["status"], "conflict", "{json:#}");
    assert_eq!(step(&json, "two")["conflicts"], json!([{"bytes": raw}]), "{json:#}");
}

// ---------------------------------------------------------------------------------------------
// 4. --keep-going

#[test]
fn keep_going_skips_the_failure_and_its_dependents_and_lands_the_rest() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    task(&env, &repo, "bad", &[], &[("fail.flag", "x\n")]);
    task(&env, &repo, "dep", &["bad"], &[("dep.txt", "dep\n")]);
    task(&env, &repo, "dep2", &["dep"], &[("dep2.txt", "dep2\n")]);
    task(&env, &repo, "c", &[], &[("c.txt", "c\n")]);
    let before = rev(&env, &repo, "main");

    let json = integrate_json(&env, &repo, &["--keep-going", "--test", "test ! -e fail.flag"], 1);
    assert_eq!(step(&json, "bad")["status"], "test-failed", "{json:#}");
    assert_eq!(step(&json, "a")["status"], "merged");
    assert_eq!(step(&json, "c")["status"], "merged");
    for name in ["dep", "dep2"] {
        if let Some(s) = steps(&json).iter().find(|s| s["task"] == name) {
            assert_eq!(s["status"], "skipped", "{json:#}");
        }
    }
    let skipped = json["skipped"].as_array().unwrap_or_else(|| panic!("{json:#}"));
    let find = |t: &str| skipped.iter().find(|s| s["task"] == t);
    assert_eq!(find("dep").unwrap_or_else(|| panic!("dep not skipped: {json:#}"))["because"], "bad");
    let because = &find("dep2").unwrap_or_else(|| panic!("dep2 not skipped: {json:#}"))["because"];
    assert!(because == "dep" || because == "bad", "{json:#}");
    assert!(find("a").is_none() && find("c").is_none(), "{json:#}");

    assert_eq!(json["landed"], true);
    assert_ne!(rev(&env, &repo, "main"), before);
    assert_eq!(
        first_parent_subjects(&env, &repo, "main"),
        ["Merge task c (agent/c)", "Merge task a (agent/a)", "initial"]
    );
    assert_state(&env, &repo, "a", "integrated");
    assert_state(&env, &repo, "c", "integrated");
    for name in ["bad", "dep", "dep2"] {
        assert_state(&env, &repo, name, "done");
    }
    assert!(repo.join("c.txt").exists() && !repo.join("fail.flag").exists() && !repo.join("dep.txt").exists());
}

#[test]
fn keep_going_skips_a_conflicting_task_and_its_dependents() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared"))]);
    task(&env, &repo, "one", &[], &[("shared.txt", &numbered_with(5, "one"))]);
    task(&env, &repo, "two", &[], &[("shared.txt", &numbered_with(5, "two"))]);
    task(&env, &repo, "after-two", &["two"], &[("after.txt", "x\n")]);
    task(&env, &repo, "three", &[], &[("three.txt", "3\n")]);
    let json = integrate_json(&env, &repo, &["--keep-going"], 1);
    assert_eq!(step(&json, "two")["status"], "conflict", "{json:#}");
    assert_eq!(step(&json, "two")["conflicts"], json!(["shared.txt"]));
    let skipped = json["skipped"].as_array().unwrap();
    assert!(skipped.iter().any(|s| s["task"] == "after-two" && s["because"] == "two"), "{json:#}");
    assert_eq!(
        first_parent_subjects(&env, &repo, "main"),
        ["Merge task three (agent/three)", "Merge task one (agent/one)", "initial"]
    );
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
}

// ---------------------------------------------------------------------------------------------
// 5. A concurrent writer

/// Sets up one done task and runs integrate with a test command that commits on main (where it is
/// checked out); returns main before the run, all refs before it, and the run.
fn run_with_sneaky_test(env: &Env, repo: &Path) -> (String, String, Run) {
    task(env, repo, "a", &[], &[("a.txt", "a\n")]);
    let before = rev(env, repo, "main");
    let refs_before = all_refs(env, repo);
    let cmd = format!(
        "env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE git -C {} commit --allow-empty -qm sneaky",
        quoted(repo)
    );
    let run = integrate(env, repo, &["--test", &cmd]);
    (before, refs_before, run)
}

#[test]
fn a_target_moved_during_the_run_exits_4_and_lands_nothing() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    let (before, refs_before, run) = run_with_sneaky_test(&env, &repo);
    let run = run.code(4);
    let main = rev(&env, &repo, "main");
    assert_eq!(env.git(&repo, &["log", "-1", "--format=%s", "main"]).trim(), "sneaky", "{run:#?}");
    assert_eq!(parents(&env, &repo, &main), [before]);
    // Branches and records: only main moved, by the sneaky commit.
    let ours = |refs: &str| -> String {
        refs.lines().filter(|l| !l.starts_with("refs/notes/") && !l.starts_with("refs/heads/main ")).collect()
    };
    assert_eq!(ours(&all_refs(&env, &repo)), ours(&refs_before), "no branch or record written");
    assert_state(&env, &repo, "a", "done");
    assert_eq!(worktree_paths(&env, &repo), [repo.clone(), agents_dir(&repo).join("a")], "only the scratch slot stays");
    assert_eq!(held_slots(&repo), Vec::<PathBuf>::new(), "the slot is released");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    assert!(!repo.join("a.txt").exists());
}

#[test]
fn a_target_moved_during_the_run_writes_no_notes() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    let (_, refs_before, run) = run_with_sneaky_test(&env, &repo);
    run.code(4);
    let main = rev(&env, &repo, "main");
    let expected: String = refs_before
        .lines()
        .map(|l| if l.starts_with("refs/heads/main ") { format!("refs/heads/main {main}\n") } else { format!("{l}\n") })
        .collect();
    assert_eq!(all_refs(&env, &repo), expected, "nothing but the sneaky commit was written (notes included)");
}

// ---------------------------------------------------------------------------------------------
// 6. The checked-out target

#[test]
fn a_clean_checked_out_target_is_brought_to_the_new_commit() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let repo = canonical_repo(
        &env,
        "repo",
        &[("README.md", "readme\n"), ("old.txt", "old\n"), ("keep.txt", "keep\n"), ("gone/deep/x.txt", "x\n")],
    );
    task(&env, &repo, "a", &[], &[("README.md", "readme by a\n"), ("a/new.txt", "new\n")]);
    let b = spawn(&env, &repo, "b", &[], &[]);
    env.git(&b, &["rm", "-q", "old.txt", "gone/deep/x.txt"]);
    write(&b.join("run.sh"), "#!/bin/sh\n");
    std::fs::set_permissions(b.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("keep.txt", b.join("link")).unwrap();
    env.commit(&b, &[("b.txt", "b\n")], "b: remove old, add b, a script and a link");
    done(&env, &repo, "b");
    integrate(&env, &repo, &[]).success();
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    assert_eq!(env.git(&repo, &["diff", "--cached", "--name-only"]), "");
    assert_eq!(env.git(&repo, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/main");
    assert_eq!(std::fs::read_to_string(repo.join("README.md")).unwrap(), "readme by a\n");
    assert_eq!(std::fs::read_to_string(repo.join("a/new.txt")).unwrap(), "new\n");
    assert_eq!(std::fs::read_to_string(repo.join("b.txt")).unwrap(), "b\n");
    assert!(!repo.join("old.txt").exists(), "a file the tasks deleted is gone");
    assert!(!repo.join("gone").exists(), "directories left empty are removed");
    assert_eq!(std::fs::read_to_string(repo.join("keep.txt")).unwrap(), "keep\n");
    let mode = std::fs::metadata(repo.join("run.sh")).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "the executable bit is set: {mode:o}");
    assert_eq!(std::fs::read_link(repo.join("link")).unwrap(), Path::new("keep.txt"));
}

#[test]
fn a_moved_integration_branch_exits_4() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    env.git(&repo, &["branch", "integration/x"]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    let cmd = format!(
        "cd {} && env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE sh -c \
         'git update-ref refs/heads/integration/x $(git commit-tree -p integration/x -m sneaky integration/x^{{tree}})'",
        quoted(&repo)
    );
    integrate(&env, &repo, &["--branch", "integration/x", "--test", &cmd]).code(4);
    assert_eq!(env.git(&repo, &["log", "-1", "--format=%s", "integration/x"]).trim(), "sneaky");
    assert_eq!(rev(&env, &repo, "integration/x~1"), rev(&env, &repo, "main"));
    assert_state(&env, &repo, "a", "done");
}

#[test]
fn ignored_files_in_the_target_worktree_do_not_block_and_survive() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[(".gitignore", "*.log\ntarget/\n")]);
    write(&repo.join("build.log"), "log\n");
    write(&repo.join("target/out.bin"), "bin\n");
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    integrate(&env, &repo, &[]).success();
    assert_eq!(std::fs::read_to_string(repo.join("build.log")).unwrap(), "log\n");
    assert_eq!(std::fs::read_to_string(repo.join("target/out.bin")).unwrap(), "bin\n");
    assert_eq!(std::fs::read_to_string(repo.join("a.txt")).unwrap(), "a\n");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn a_dirty_checked_out_target_is_refused_before_merging() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    let before = rev(&env, &repo, "main");
    let refs_before = all_refs(&env, &repo);
    let marker = env.path().join("test-ran");
    let cmd = format!("touch {}", quoted(&marker));

    // An uncommitted edit.
    write(&repo.join("README.md"), "my edit\n");
    let run = integrate(&env, &repo, &["--test", &cmd]).code(3);
    let message = run.stderr.to_lowercase();
    for needle in ["commit", "stash", "--branch"] {
        assert!(message.contains(needle), "{needle:?} missing: {run:#?}");
    }
    assert_eq!(std::fs::read_to_string(repo.join("README.md")).unwrap(), "my edit\n", "the edit is untouched");
    assert_eq!(rev(&env, &repo, "main"), before);
    assert!(!marker.exists(), "refused before any test ran");
    assert_eq!(all_refs(&env, &repo), refs_before);

    // A staged edit.
    env.git(&repo, &["add", "README.md"]);
    integrate(&env, &repo, &["--test", &cmd]).code(3);
    assert_eq!(env.git(&repo, &["diff", "--cached", "--name-only"]), "README.md\n");
    env.git(&repo, &["reset", "-q", "--hard"]);

    // An untracked file.
    write(&repo.join("notes.txt"), "mine\n");
    let run = integrate(&env, &repo, &["--test", &cmd]).code(3);
    let message = run.stderr.to_lowercase();
    assert!(message.contains("stash") && message.contains("--branch"), "{run:#?}");
    assert_eq!(std::fs::read_to_string(repo.join("notes.txt")).unwrap(), "mine\n");
    assert_eq!(rev(&env, &repo, "main"), before);
    assert!(!marker.exists());
    assert_eq!(all_refs(&env, &repo), refs_before);
    assert_state(&env, &repo, "a", "done");

    // --branch works with a dirty target worktree, and does not touch it.
    integrate(&env, &repo, &["--branch", "integration/x"]).success();
    assert_eq!(rev(&env, &repo, "main"), before);
    assert_eq!(std::fs::read_to_string(repo.join("notes.txt")).unwrap(), "mine\n");
    assert!(!repo.join("a.txt").exists());
}

#[test]
fn a_target_checked_out_in_a_linked_worktree_is_updated_or_protected() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    env.git(&repo, &["branch", "release"]);
    let release = env.path().join("release-wt");
    env.git(&repo, &["worktree", "add", "-q", release.to_str().unwrap(), "release"]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    let before = rev(&env, &repo, "release");

    write(&release.join("README.md"), "my edit\n");
    integrate(&env, &repo, &["--into", "release"]).code(3).stderr_has("stash");
    assert_eq!(rev(&env, &repo, "release"), before);
    assert_eq!(std::fs::read_to_string(release.join("README.md")).unwrap(), "my edit\n");
    env.git(&release, &["checkout", "-q", "--", "README.md"]);

    integrate(&env, &repo, &["--into", "release"]).success();
    assert_ne!(rev(&env, &repo, "release"), before);
    assert_eq!(env.git(&release, &["status", "--porcelain"]), "");
    assert_eq!(std::fs::read_to_string(release.join("a.txt")).unwrap(), "a\n");
    assert!(!repo.join("a.txt").exists(), "the main worktree (on main) is not touched");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
}

// ---------------------------------------------------------------------------------------------
// 7. --branch and --into

#[test]
fn branch_builds_an_integration_branch_and_a_rerun_is_idempotent() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    task(&env, &repo, "b", &["a"], &[("b.txt", "b\n")]);
    let before = rev(&env, &repo, "main");

    let json = integrate_json(&env, &repo, &["--branch", "integration/x"], 0);
    assert_eq!(statuses(&json), ["merged", "merged"], "{json:#}");
    assert_eq!(rev(&env, &repo, "main"), before, "the target is untouched");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    assert!(!repo.join("a.txt").exists());
    let x = rev(&env, &repo, "refs/heads/integration/x");
    assert_eq!(json["target"]["after"], x, "{json:#}");
    assert_eq!(
        first_parent_subjects(&env, &repo, "integration/x"),
        ["Merge task b (agent/b)", "Merge task a (agent/a)", "initial"]
    );
    assert_eq!(rev(&env, &repo, "integration/x~2"), before);
    assert_eq!(env.git(&repo, &["show", "integration/x:b.txt"]), "b\n");

    let refs = all_refs(&env, &repo);
    let json = integrate_json(&env, &repo, &["a", "b", "--branch", "integration/x"], 0);
    assert_eq!(statuses(&json), ["already-integrated", "already-integrated"], "{json:#}");
    assert_eq!(rev(&env, &repo, "integration/x"), x);
    assert_eq!(rev(&env, &repo, "main"), before);
    assert_eq!(all_refs(&env, &repo), refs, "a second run writes nothing");
}

#[test]
fn into_lands_on_another_branch() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    env.git(&repo, &["branch", "release"]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    let before = rev(&env, &repo, "main");
    let json = integrate_json(&env, &repo, &["--into", "release"], 0);
    assert_eq!(json["target"]["ref"], "refs/heads/release", "{json:#}");
    assert_eq!(rev(&env, &repo, "main"), before);
    assert_eq!(first_parent_subjects(&env, &repo, "release"), ["Merge task a (agent/a)", "initial"]);
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
}

// ---------------------------------------------------------------------------------------------
// 8. Interruption

#[test]
fn an_interrupted_run_leaves_the_target_and_releases_the_scratch_slot() {
    for signal in ["INT", "TERM"] {
        let env = Env::new();
        let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
        task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
        task(&env, &repo, "b", &[], &[("b.txt", "b\n")]);
        let before = rev(&env, &repo, "main");
        let worktrees_before = worktree_paths(&env, &repo);
        assert_eq!(worktrees_before.len(), 3);
        let snapshot = env.snapshot(&repo);
        let child = env
            .command(&bin_dir().join("git-agent-integrate").to_string_lossy(), &repo)
            .args(["--test", "touch started; sleep 5"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let started = loop {
            if let Some(found) = file_named_anywhere(env.path(), "started") {
                break found;
            }
            assert!(Instant::now() < deadline, "the test never started");
            std::thread::sleep(Duration::from_millis(20));
        };
        let sent = Instant::now();
        let killed = std::process::Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
        assert!(killed.unwrap().success());
        let run = Run::from(child.wait_with_output().unwrap());
        assert_eq!(run.code, if signal == "INT" { 130 } else { 143 }, "SIG{signal}: {run:#?}");
        assert!(sent.elapsed() < Duration::from_secs(4), "SIG{signal}: the run did not stop promptly");
        assert_eq!(rev(&env, &repo, "main"), before);
        assert_eq!(worktree_paths(&env, &repo), worktrees_before, "SIG{signal}: only main and task worktrees");
        assert_eq!(env.snapshot(&repo), snapshot, "SIG{signal}");
        assert!(started.starts_with(agents_dir(&repo).join(".integrate")), "the test ran in a slot: {started:?}");
        assert_eq!(held_slots(&repo), Vec::<PathBuf>::new(), "SIG{signal}: the slot is released");
        assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
        assert_state(&env, &repo, "a", "done");
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Resolution rules

#[test]
fn a_lock_file_conflict_is_resolved_by_rule() {
    let env = Env::new();
    let lock = "# lock\nversion = 1\n";
    let repo = canonical_repo(&env, "repo", &[("Cargo.lock", lock)]);
    task(&env, &repo, "a", &[], &[("Cargo.lock", "# lock\nversion = a\n"), ("a.txt", "a\n")]);
    task(&env, &repo, "b", &[], &[("Cargo.lock", "# lock\nversion = b\n"), ("b.txt", "b\n")]);
    let before = rev(&env, &repo, "main");

    let json = integrate_json(&env, &repo, &[], 1);
    assert_eq!(statuses(&json), ["merged", "conflict"], "{json:#}");
    assert_eq!(step(&json, "b")["conflicts"], json!(["Cargo.lock"]));
    assert_eq!(rev(&env, &repo, "main"), before);

    env.git(&repo, &["config", "agent.resolve.lock.path", "Cargo.lock"]);
    env.git(&repo, &["config", "agent.resolve.lock.run", "echo regenerated > Cargo.lock"]);
    let json = integrate_json(&env, &repo, &[], 0);
    assert_eq!(statuses(&json), ["merged", "resolved-by-rule"], "{json:#}");
    assert_eq!(step(&json, "b")["rule"], "lock");
    assert_eq!(step(&json, "a")["rule"], Value::Null);
    assert_eq!(env.git(&repo, &["show", "main:Cargo.lock"]), "regenerated\n");
    assert_eq!(env.git(&repo, &["show", "main:b.txt"]), "b\n");
    assert_eq!(
        parents(&env, &repo, "main"),
        [step(&json, "a")["commit"].as_str().unwrap(), &rev(&env, &repo, "agent/b")]
    );
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    assert_eq!(std::fs::read_to_string(repo.join("Cargo.lock")).unwrap(), "regenerated\n");
    assert_state(&env, &repo, "b", "integrated");
}

#[test]
fn a_rule_does_not_resolve_conflicts_outside_its_glob() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("Cargo.lock", "v0\n"), ("shared.txt", &numbered("shared"))]);
    task(&env, &repo, "a", &[], &[("Cargo.lock", "va\n"), ("shared.txt", &numbered_with(2, "a"))]);
    task(&env, &repo, "b", &[], &[("Cargo.lock", "vb\n"), ("shared.txt", &numbered_with(2, "b"))]);
    env.git(&repo, &["config", "agent.resolve.lock.path", "Cargo.lock"]);
    env.git(&repo, &["config", "agent.resolve.lock.run", "echo regenerated > Cargo.lock"]);
    let before = rev(&env, &repo, "main");
    let json = integrate_json(&env, &repo, &[], 1);
    assert_eq!(statuses(&json), ["merged", "conflict"], "{json:#}");
    assert_eq!(rev(&env, &repo, "main"), before);
}

// ---------------------------------------------------------------------------------------------
// 10. Idempotence and dry runs

#[test]
fn integrating_again_changes_nothing() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    task(&env, &repo, "b", &[], &[("b.txt", "b\n")]);
    integrate(&env, &repo, &[]).success();
    let main = rev(&env, &repo, "main");
    let refs = all_refs(&env, &repo);
    let json = integrate_json(&env, &repo, &["a", "b"], 0);
    assert_eq!(statuses(&json), ["already-integrated", "already-integrated"], "{json:#}");
    assert_eq!(rev(&env, &repo, "main"), main);
    assert_eq!(all_refs(&env, &repo), refs);
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn rebase_and_squash_reruns_change_nothing() {
    for strategy in ["rebase", "squash"] {
        let env = Env::new();
        let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
        task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
        task(&env, &repo, "b", &[], &[("b.txt", "b\n")]);
        env.commit(&repo, &[("main.txt", "main\n")], "main moves");
        integrate(&env, &repo, &["--strategy", strategy]).success();
        let main = rev(&env, &repo, "main");
        let refs = all_refs(&env, &repo);
        let json = integrate_json(&env, &repo, &["a", "b", "--strategy", strategy], 0);
        assert_eq!(statuses(&json), ["already-integrated", "already-integrated"], "{strategy}: {json:#}");
        assert_eq!(rev(&env, &repo, "main"), main, "{strategy}");
        assert_eq!(all_refs(&env, &repo), refs, "{strategy}");
    }
}

#[test]
fn a_task_merged_by_hand_is_already_integrated() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    task(&env, &repo, "b", &[], &[("b.txt", "b\n")]);
    env.git(&repo, &["merge", "-q", "--no-edit", "agent/a"]);
    let json = integrate_json(&env, &repo, &[], 0);
    assert_eq!(step_tasks(&json), ["a", "b"]);
    assert_eq!(statuses(&json), ["already-integrated", "merged"], "{json:#}");
    assert_eq!(first_parent_subjects(&env, &repo, "main")[0], "Merge task b (agent/b)");
}

#[test]
fn a_dry_run_writes_nothing_and_lists_the_order() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared"))]);
    task(&env, &repo, "zz", &[], &[("zz.txt", "z\n")]);
    task(&env, &repo, "mm", &["zz"], &[("shared.txt", &numbered_with(4, "mm"))]);
    task(&env, &repo, "aa", &[], &[("aa.txt", "a\n")]);
    // Notes exist already, so refs/notes is part of what must not change.
    env.git(&repo, &["notes", "--ref", "agent", "add", "-m", "{}", "HEAD"]);
    let marker = env.path().join("test-ran");
    let cmd = format!("touch {}", quoted(&marker));
    let refs = all_refs(&env, &repo);
    assert!(refs.contains("refs/notes/agent"));
    let wts = worktrees(&env, &repo);

    let json = integrate_json(&env, &repo, &["--dry-run", "--test", &cmd], 0);
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["landed"], false, "{json:#}");
    assert_eq!(json["target"]["after"], Value::Null, "{json:#}");
    assert!(steps(&json).iter().all(|s| s["test"].is_null()), "{json:#}");
    assert_eq!(step_tasks(&json), ["zz", "mm", "aa"]);
    assert_eq!(statuses(&json), ["would-merge"; 3], "{json:#}");
    let run = integrate(&env, &repo, &["--dry-run"]).success();
    let at = |name: &str| run.stdout.find(name).unwrap_or_else(|| panic!("{name} not listed: {run:#?}"));
    assert!(at("zz") < at("mm") && at("mm") < at("aa"), "{run:#?}");
    env.agent(&repo, &["integrate", "--dry-run", "-q"]).success();
    assert_eq!(all_refs(&env, &repo), refs, "no refs, notes or records written");
    assert_eq!(worktrees(&env, &repo), wts);

    // A predicted conflict.
    task(&env, &repo, "conflicting", &[], &[("shared.txt", &numbered_with(4, "conflicting"))]);
    let refs = all_refs(&env, &repo);
    let wts = worktrees(&env, &repo);
    let run = integrate(&env, &repo, &["--dry-run", "--json"]);
    assert!(run.code == 0 || run.code == 1, "{run:#?}");
    let json = run.json();
    assert_eq!(statuses(&json), ["would-merge", "would-merge", "would-merge", "would-conflict"], "{json:#}");
    assert_eq!(step(&json, "conflicting")["conflicts"], json!(["shared.txt"]));

    assert!(!marker.exists(), "a dry run runs no tests");
    assert_eq!(all_refs(&env, &repo), refs, "no refs, notes or records written");
    assert_eq!(worktrees(&env, &repo), wts);
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    for name in ["zz", "mm", "aa", "conflicting"] {
        assert_state(&env, &repo, name, "done");
    }
}

// ---------------------------------------------------------------------------------------------
// 11. Notes and the test cache

#[test]
fn steps_and_tests_are_noted_and_passing_trees_are_not_tested_again() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    task(&env, &repo, "b", &[], &[("b.txt", "b\n")]);
    let counter = env.path().join("count.txt");
    let cmd = format!("echo ran >> {}", quoted(&counter));

    let json = integrate_json(&env, &repo, &["a", "b", "--branch", "integration/one", "--test", &cmd], 0);
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "ran\nran\n");
    for name in ["a", "b"] {
        let s = step(&json, name);
        assert_eq!(s["test"]["cached"], false, "{json:#}");
        assert_eq!(s["test"]["exit"], 0);
        let commit = s["commit"].as_str().unwrap();
        let tree = s["tree"].as_str().unwrap();
        assert_eq!(tree_of(&env, &repo, commit), tree);
        let text = env.git(&repo, &["notes", "--ref", "agent", "show", commit]);
        let note: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("step note is not JSON ({e}): {text}"));
        assert_eq!(note["task"], name, "{note:#}");
        assert_eq!(note["commit"], commit, "{note:#}");
        assert_eq!(note["tree"], tree, "{note:#}");
        assert_eq!(note["command"], cmd.as_str(), "{note:#}");
        assert_eq!(note["exit"], 0, "{note:#}");
        assert_eq!(note["status"], "merged", "{note:#}");
        assert!(note["duration_ms"].is_u64(), "{note:#}");
        let text = env.git(&repo, &["notes", "--ref", "agent", "show", tree]);
        let note: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("test note is not JSON ({e}): {text}"));
        assert_eq!(note["command"], cmd.as_str(), "{note:#}");
        assert_eq!(note["exit"], 0, "{note:#}");
    }

    // The same trees again, on another integration branch: the test is not run again.
    let json = integrate_json(&env, &repo, &["a", "b", "--branch", "integration/two", "--test", &cmd], 0);
    assert_eq!(statuses(&json), ["merged", "merged"], "{json:#}");
    for s in steps(&json) {
        assert_eq!(s["test"]["cached"], true, "{json:#}");
        assert_eq!(s["test"]["exit"], 0, "{json:#}");
    }
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "ran\nran\n", "cached tests are not run");
    assert_eq!(tree_of(&env, &repo, "integration/one"), tree_of(&env, &repo, "integration/two"));

    // Another command is not cached.
    let other = format!("{cmd} && true");
    let json = integrate_json(&env, &repo, &["a", "b", "--branch", "integration/three", "--test", &other], 0);
    assert!(steps(&json).iter().all(|s| s["test"]["cached"] == false), "{json:#}");
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "ran\nran\nran\nran\n");
}

#[test]
fn a_test_result_note_has_the_contract_fields() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    let json = integrate_json(&env, &repo, &["--test", "true"], 0);
    let tree = step(&json, "a")["tree"].as_str().unwrap().to_owned();
    let text = env.git(&repo, &["notes", "--ref", "agent", "show", &tree]);
    let note: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("test note is not JSON ({e}): {text}"));
    for field in ["task", "commit", "tree", "command", "exit", "duration_ms", "status"] {
        assert!(note.get(field).is_some(), "the note on the tested tree lacks {field:?}: {note:#}");
    }
    assert_eq!(note["tree"], tree.as_str());
    assert_eq!(note["task"], "a");
}

#[test]
fn a_test_that_runs_too_long_is_killed_with_its_process_group() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    // From config this time: agent.test and agent.testTimeout.
    env.git(&repo, &["config", "agent.test", "sleep 30 & sleep 30; echo never"]);
    env.git(&repo, &["config", "agent.testTimeout", "1"]);
    let before = rev(&env, &repo, "main");
    let start = Instant::now();
    let json = integrate_json(&env, &repo, &[], 1);
    assert!(start.elapsed() < Duration::from_secs(15), "took {:?}", start.elapsed());
    let s = step(&json, "a");
    assert_eq!(s["status"], "test-failed", "{json:#}");
    assert_eq!(s["test"]["timed_out"], true, "{json:#}");
    assert_eq!(s["test"]["command"], "sleep 30 & sleep 30; echo never");
    assert_eq!(rev(&env, &repo, "main"), before);

    // The flag wins over the configuration.
    env.git(&repo, &["config", "agent.testTimeout", "600"]);
    let start = Instant::now();
    let json = integrate_json(&env, &repo, &["--test", "sleep 30 & sleep 30", "--test-timeout", "1"], 1);
    assert!(start.elapsed() < Duration::from_secs(15), "took {:?}", start.elapsed());
    assert_eq!(step(&json, "a")["test"]["timed_out"], true, "{json:#}");
    assert_eq!(step(&json, "a")["test"]["command"], "sleep 30 & sleep 30");
    assert_eq!(rev(&env, &repo, "main"), before);
}

// ---------------------------------------------------------------------------------------------
// 12. Bad input

#[test]
fn a_missing_dependency_is_bad_input() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    // db has work that is not on main (a branch without commits would count as integrated).
    let db = spawn(&env, &repo, "db", &[], &[]);
    env.commit(&db, &[("db.txt", "db\n")], "db: work");
    task(&env, &repo, "api", &["db"], &[("api.txt", "api\n")]);
    let before = env.snapshot(&repo);
    let refs = all_refs(&env, &repo);
    let run = integrate(&env, &repo, &["api"]).code(2);
    assert!(run.stderr.contains("db") && run.stderr.to_lowercase().contains("depend"), "{run:#?}");
    // By default, api is left out (db is not done), and said so; nothing changes.
    integrate(&env, &repo, &[]).success().stderr_has("task api left out: its dependency db");
    assert_eq!(env.snapshot(&repo), before);
    assert_eq!(all_refs(&env, &repo), refs);

    // Once the dependency is integrated (its tip reachable from the target), api alone is fine.
    done(&env, &repo, "db");
    integrate(&env, &repo, &["db"]).success();
    let json = integrate_json(&env, &repo, &["api"], 0);
    assert_eq!(step_tasks(&json), ["api"]);
    assert_eq!(statuses(&json), ["merged"]);
}

#[test]
fn a_dependency_cycle_and_an_unknown_task_are_bad_input() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "a", &[], &[("a.txt", "a\n")]);
    task(&env, &repo, "b", &["a"], &[("b.txt", "b\n")]);
    let main = rev(&env, &repo, "main");
    let refs = all_refs(&env, &repo);
    integrate(&env, &repo, &["a", "ghost"]).code(2).stderr_has("ghost");
    integrate(&env, &repo, &["--strategy", "octopus"]).code(2);
    integrate(&env, &repo, &["--into", "no-such-branch"]).code(2);
    integrate(&env, &repo, &["--into", "main", "--branch", "x"]).code(2);
    integrate(&env, &repo, &["--branch", "bad..name"]).code(2);
    for name in ["ORIG_HEAD", "FETCH_HEAD", "origin/main", "main"] {
        integrate(&env, &repo, &["--branch", name]).code(2);
    }
    assert_eq!(all_refs(&env, &repo), refs);

    set_after(&env, &repo, "a", &["b"]);
    let refs_cycle = all_refs(&env, &repo);
    // Named, a cycle is bad input; by default its tasks are left out, and said so.
    let run = integrate(&env, &repo, &["a", "b"]).code(2);
    assert!(run.stderr.to_lowercase().contains("cycle"), "{run:#?}");
    let run = integrate(&env, &repo, &[]).success();
    assert!(run.stderr.contains("left out") && run.stderr.contains("cycle"), "{run:#?}");
    assert_eq!(all_refs(&env, &repo), refs_cycle);
    assert_eq!(rev(&env, &repo, "main"), main);
    assert_ne!(refs_cycle, refs);
    assert_state(&env, &repo, "a", "done");
    assert_state(&env, &repo, "b", "done");
}

#[test]
fn a_stacked_task_whose_dependency_was_integrated_and_pruned_can_be_integrated() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "db", &[], &[("db.txt", "db\n")]);
    // Stacked on db's work (db has commits of its own).
    let api = spawn(&env, &repo, "api", &["db"], &[]);
    env.commit(&api, &[("api.txt", "api\n")], "api: work");
    integrate(&env, &repo, &["db"]).success();
    env.agent(&repo, &["prune"]).success();
    assert!(env.git(&repo, &["for-each-ref", "refs/agent/tasks/db"]).is_empty(), "db's record is pruned");
    done(&env, &repo, "api");
    let json = integrate_json(&env, &repo, &[], 0);
    assert_eq!(step_tasks(&json), ["api"]);
    let json = integrate_json(&env, &repo, &["api"], 0);
    assert_eq!(statuses(&json), ["already-integrated"]);
    assert_eq!(env.git(&repo, &["show", "main:api.txt"]), "api\n");
}
