//! integrate's merges against real git: every strategy, rebase steps and resolve rules go
//! through the one merge engine (git's configuration, worktree attributes, virtual merge bases),
//! the rebase strategy replays as `git rebase` does, merge drivers follow one policy, and
//! rule-resolved files keep their mode. Each case compares with what `git merge-tree`,
//! `git rebase` or `git ls-tree` say on the same history.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo, rev};

/// A finished task: spawned, one commit writing `files`, marked done; its worktree.
fn task(env: &Env, repo: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let wt = spawned(env, repo, name);
    env.commit(&wt, files, &format!("{name}: work"));
    env.agent(repo, &["done", name, "-q"]).success();
    wt
}

fn spawned(env: &Env, repo: &Path, name: &str) -> PathBuf {
    env.agent(repo, &["spawn", name, "-q"]).success();
    agents_dir(repo).join(name)
}

/// `git agent-integrate --json <args>`, asserting exit code `code`.
#[track_caller]
fn integrate_json(env: &Env, repo: &Path, args: &[&str], code: i32) -> Value {
    let mut all = vec!["agent-integrate", "--json"];
    all.extend_from_slice(args);
    env.run(repo, "git", &all).code(code).json()
}

fn statuses(json: &Value) -> Vec<String> {
    json["steps"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap().to_owned()).collect()
}

fn tree_of(env: &Env, repo: &Path, rev: &str) -> String {
    self::rev(env, repo, &format!("{rev}^{{tree}}"))
}

/// `git merge-tree --write-tree [--merge-base <base>] ours theirs`: git's tree and whether it
/// is clean.
fn git_merge_tree(env: &Env, repo: &Path, base: Option<&str>, ours: &str, theirs: &str) -> (String, bool) {
    let mut args = vec!["merge-tree", "--write-tree"];
    if let Some(base) = base {
        args.extend(["--merge-base", base]);
    }
    args.extend([ours, theirs]);
    let out = env.command("git", repo).args(&args).output().unwrap();
    let tree = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_owned();
    (tree, out.status.code() == Some(0))
}

// ---------------------------------------------------------------------------------------------
// 1. One engine

#[test]
fn a_rebase_step_reads_the_worktree_attributes_as_git_merge_tree_does() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("notes.txt", "start\n")]);
    task(&env, &repo, "a", &[("notes.txt", "start\nfrom a\n")]);
    task(&env, &repo, "b", &[("notes.txt", "start\nfrom b\n")]);
    // Only in the worktree, as git reads it for merges; never committed.
    write(&repo.join(".gitattributes"), "notes.txt merge=union\n");

    let json = integrate_json(&env, &repo, &["--strategy", "rebase", "--branch", "out"], 0);
    assert_eq!(statuses(&json), ["merged", "merged"], "{json:#}");
    // b's step is git's merge of b's commit onto a's, with b's parent as the base.
    let (tree, clean) = git_merge_tree(&env, &repo, Some("main"), "out~1", "agent/b");
    assert!(clean, "git merges the step cleanly");
    assert_eq!(tree_of(&env, &repo, "out"), tree);
}

// ---------------------------------------------------------------------------------------------
// 2. Merge drivers: none runs, in any strategy or dry run

/// Tasks a and b change `x.lock`, whose merge attribute names a configured driver that leaves
/// a marker file when it runs; returns the repository and the marker.
fn repo_with_a_merge_driver(env: &Env) -> (PathBuf, PathBuf) {
    let repo = canonical_repo(env, "repo", &[("x.lock", "v1\n"), (".gitattributes", "x.lock merge=keepours\n")]);
    task(env, &repo, "a", &[("x.lock", "v-a\n")]);
    task(env, &repo, "b", &[("x.lock", "v-b\n")]);
    // git without the driver: the text merge conflicts.
    assert!(!git_merge_tree(env, &repo, None, "agent/a", "agent/b").1);
    let marker = env.path().join("driver-ran");
    env.git(&repo, &["config", "merge.keepours.driver", &format!("touch '{}'; true", marker.display())]);
    (repo, marker)
}

#[test]
fn no_strategy_and_no_dry_run_runs_a_merge_driver() {
    let env = Env::new();
    let (repo, marker) = repo_with_a_merge_driver(&env);
    for strategy in ["merge", "squash", "rebase"] {
        for dry_run in [false, true] {
            let mut args = vec!["--strategy", strategy];
            if dry_run {
                args.push("--dry-run");
            }
            let json = integrate_json(&env, &repo, &args, 1);
            let conflict = if dry_run { "would-conflict" } else { "conflict" };
            assert_eq!(
                statuses(&json),
                [if dry_run { "would-merge" } else { "merged" }, conflict],
                "{args:?} {json:#}"
            );
            assert_eq!(json["steps"][1]["conflicts"], serde_json::json!(["x.lock"]), "{args:?}");
            assert!(!marker.exists(), "{args:?} ran the merge driver");
        }
    }
}

#[test]
fn a_rule_resolves_a_driver_path_in_every_strategy_without_running_the_driver() {
    let env = Env::new();
    let (repo, marker) = repo_with_a_merge_driver(&env);
    env.git(&repo, &["config", "agent.resolve.lock.path", "x.lock"]);
    env.git(&repo, &["config", "agent.resolve.lock.run", "echo resolved > x.lock"]);
    for strategy in ["merge", "squash", "rebase"] {
        let branch = format!("out-{strategy}");
        let json = integrate_json(&env, &repo, &["--strategy", strategy, "--branch", &branch], 0);
        assert_eq!(statuses(&json), ["merged", "resolved-by-rule"], "{strategy}: {json:#}");
        assert_eq!(env.git(&repo, &["show", &format!("{branch}:x.lock")]), "resolved\n", "{strategy}");
        assert!(!marker.exists(), "{strategy} ran the merge driver");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Rebase order

/// Commits `files` in `dir` with author and committer date `date`.
fn commit_at(env: &Env, dir: &Path, files: &[(&str, &str)], message: &str, date: &str) {
    for (path, content) in files {
        write(&dir.join(path), content);
    }
    env.git(dir, &["add", "-A"]);
    let out = env
        .command("git", dir)
        .args(["commit", "-q", "-m", message])
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Subject and tree of every commit in `range`, newest first.
fn subjects_and_trees(env: &Env, repo: &Path, range: &str) -> Vec<String> {
    env.git(repo, &["log", "--format=%s %T", range]).lines().map(str::to_owned).collect()
}

/// What `git rebase <onto>` makes of `branch`: its subjects and trees after `onto`.
fn git_rebase(env: &Env, repo: &Path, onto: &str, branch: &str) -> Vec<String> {
    let wt = env.path().join("reference");
    env.git(repo, &["worktree", "add", "-q", "--detach", wt.to_str().unwrap(), branch]);
    env.git(&wt, &["rebase", "-q", onto]);
    let replayed = subjects_and_trees(env, &wt, &format!("{onto}..HEAD"));
    env.git(repo, &["worktree", "remove", "--force", wt.to_str().unwrap()]);
    replayed
}

#[test]
fn rebase_replays_in_git_rebase_order_when_dates_are_out_of_order_and_a_merge_is_inside() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("f", "base\n")]);
    let wt = spawned(&env, &repo, "t");
    // Dated so that a walk by date reaches D (through the side branch) before C1, C2 and P1:
    // reversed, it would replay C1 (which edits d) before D (which adds it).
    commit_at(&env, &wt, &[("d", "d\n")], "D", "2026-01-05T00:00:00Z");
    env.git(&wt, &["checkout", "-q", "-b", "side"]);
    commit_at(&env, &wt, &[("p2", "p2\n")], "P2", "2026-01-06T00:00:00Z");
    env.git(&wt, &["checkout", "-q", "agent/t"]);
    commit_at(&env, &wt, &[("d", "d\nc1\n")], "C1", "2026-01-01T00:00:00Z");
    commit_at(&env, &wt, &[("d", "d\nc1\nc2\n")], "C2", "2026-01-02T00:00:00Z");
    commit_at(&env, &wt, &[("p1", "p1\n")], "P1", "2026-01-03T00:00:00Z");
    env.git(&wt, &["merge", "-q", "--no-edit", "side"]);
    env.agent(&repo, &["done", "t", "-q"]).success();
    // The target moves on, so every commit is really replayed.
    env.commit(&repo, &[("main.txt", "moved\n")], "main moved");

    let expected = git_rebase(&env, &repo, "main", "agent/t");
    assert_eq!(expected.len(), 5, "{expected:?}");
    let json = integrate_json(&env, &repo, &["--strategy", "rebase", "--branch", "out"], 0);
    assert_eq!(statuses(&json), ["merged"], "{json:#}");
    assert_eq!(subjects_and_trees(&env, &repo, "main..out"), expected);
}

#[test]
fn a_rule_on_a_rebase_step_resolves_that_step_only_and_the_replay_goes_on() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("Cargo.lock", "v0\n"), ("src.txt", "s0\n")]);
    task(&env, &repo, "a", &[("Cargo.lock", "va\n")]);
    let wt = spawned(&env, &repo, "b");
    env.commit(&wt, &[("Cargo.lock", "vb\n")], "b: lock");
    env.commit(&wt, &[("src.txt", "s1\n")], "b: source");
    env.agent(&repo, &["done", "b", "-q"]).success();
    env.git(&repo, &["config", "agent.resolve.lock.path", "Cargo.lock"]);
    env.git(&repo, &["config", "agent.resolve.lock.run", "echo regenerated > Cargo.lock"]);

    let json = integrate_json(&env, &repo, &["--strategy", "rebase", "--branch", "out"], 0);
    assert_eq!(statuses(&json), ["merged", "resolved-by-rule"], "{json:#}");
    assert_eq!(json["steps"][1]["conflicts"], serde_json::json!(["Cargo.lock"]));
    // b's two commits are replayed one by one (not squashed): the rule made the first.
    let subjects = env.git(&repo, &["log", "--format=%s", "main..out"]);
    assert_eq!(subjects, "b: source\nb: lock\na: work\n");
    assert_eq!(env.git(&repo, &["show", "out~1:Cargo.lock"]), "regenerated\n");
    assert_eq!(env.git(&repo, &["show", "out~1:src.txt"]), "s0\n");
    assert_eq!(env.git(&repo, &["show", "out:src.txt"]), "s1\n");
    // The dry run takes the same steps, with the target's side of the conflicted file.
    let json = integrate_json(&env, &repo, &["--strategy", "rebase", "--dry-run"], 0);
    assert_eq!(statuses(&json), ["would-merge", "would-resolve-by-rule"], "{json:#}");
}

// ---------------------------------------------------------------------------------------------
// 4. Rules in criss-cross histories

/// Every file under .git/objects.
fn loose_and_packed_objects(repo: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() { walk(&path, out) } else { out.push(path) }
        }
    }
    let mut files = Vec::new();
    walk(&repo.join(".git/objects"), &mut files);
    files.sort();
    files
}

/// Ten lines, with line `n` replaced for each `(n, text)`.
fn lines(changes: &[(usize, &str)]) -> String {
    (1..=10)
        .map(|i| match changes.iter().find(|(n, _)| *n == i) {
            Some((_, text)) => format!("{text}\n"),
            None => format!("{i}\n"),
        })
        .collect()
}

/// In `dir`, merges `other` and commits `x` as `resolved` (a merge resolved by hand).
fn merge_resolving_as(env: &Env, dir: &Path, other: &str, resolved: &str) {
    env.git(dir, &["merge", "-q", "--no-ff", "--no-commit", other]);
    write(&dir.join("x"), resolved);
    env.git(dir, &["commit", "-q", "-am", &format!("merge {other}")]);
}

#[test]
fn a_rule_in_a_criss_cross_merges_against_the_virtual_merge_base() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("x", &lines(&[])), ("Cargo.lock", "v0\n")]);
    let wt = spawned(&env, &repo, "t");
    env.commit(&repo, &[("x", &lines(&[(2, "2a")]))], "A1");
    env.commit(&wt, &[("x", &lines(&[(9, "9t")]))], "T1");
    let (a1, t1) = (rev(&env, &repo, "main"), rev(&env, &repo, "agent/t"));
    // Each side merges the other's first commit, and each takes back one of the other's changes:
    // the two merge bases A1 and T1 each give a different answer for x than their virtual base.
    merge_resolving_as(&env, &repo, &t1, &lines(&[(2, "2a")]));
    merge_resolving_as(&env, &wt, &a1, &lines(&[(9, "9t")]));
    env.commit(&repo, &[("Cargo.lock", "main\n")], "main: lock");
    env.commit(&wt, &[("Cargo.lock", "t\n")], "t: lock");
    env.agent(&repo, &["done", "t", "-q"]).success();
    let bases = env.git(&repo, &["merge-base", "--all", "main", "agent/t"]);
    assert_eq!(bases.lines().count(), 2, "a criss-cross: {bases}");
    let (git_tree, clean) = git_merge_tree(&env, &repo, None, "main", "agent/t");
    assert!(!clean, "git conflicts in Cargo.lock only");
    env.git(&repo, &["config", "agent.resolve.lock.path", "Cargo.lock"]);
    env.git(&repo, &["config", "agent.resolve.lock.run", "echo regenerated > Cargo.lock"]);

    // 6. The dry runs take the same path in memory: same verdicts, nothing written (not even
    // the virtual merge base's commits).
    let objects = loose_and_packed_objects(&repo);
    for strategy in ["merge", "squash", "rebase"] {
        let json = integrate_json(&env, &repo, &["--strategy", strategy, "--dry-run"], 0);
        assert_eq!(statuses(&json), ["would-resolve-by-rule"], "{strategy}: {json:#}");
        assert_eq!(json["steps"][0]["conflicts"], serde_json::json!(["Cargo.lock"]), "{strategy}");
    }
    assert_eq!(loose_and_packed_objects(&repo), objects, "a dry run writes no object");

    for strategy in ["merge", "squash"] {
        let branch = format!("out-{strategy}");
        let json = integrate_json(&env, &repo, &["--strategy", strategy, "--branch", &branch], 0);
        assert_eq!(statuses(&json), ["resolved-by-rule"], "{strategy}: {json:#}");
        assert_eq!(json["steps"][0]["conflicts"], serde_json::json!(["Cargo.lock"]));
        let ours = env.git(&repo, &["show", &format!("{branch}:x")]);
        assert_eq!(ours, env.git(&repo, &["show", &format!("{git_tree}:x")]), "{strategy}: x as git merges it");
        assert_eq!(ours, lines(&[]), "{strategy}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Rule-resolved files as `git add` stores them

/// `git ls-tree <rev> <path>`: mode, type, id and path.
fn ls_tree(env: &Env, repo: &Path, rev: &str, path: &str) -> String {
    env.git(repo, &["ls-tree", rev, "--", path]).trim().to_owned()
}

/// A repository whose `path` is made by `make` (in the main worktree, then committed), and
/// tasks a and b that each make it again with their own name, then commit; a rule for `path`
/// running `run`. Integrates onto branch `out`; returns the repository.
fn rule_on_both_changed(env: &Env, path: &str, make: &dyn Fn(&Path, &str), run: &str) -> PathBuf {
    let repo = canonical_repo(env, "repo", &[]);
    make(&repo, "base");
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["commit", "-q", "-m", "base"]);
    for name in ["a", "b"] {
        let wt = spawned(env, &repo, name);
        make(&wt, name);
        env.git(&wt, &["commit", "-q", "-am", name]);
        env.agent(&repo, &["done", name, "-q"]).success();
    }
    assert!(!git_merge_tree(env, &repo, None, "agent/a", "agent/b").1, "git conflicts on {path}");
    env.git(&repo, &["config", "agent.resolve.r.path", path]);
    env.git(&repo, &["config", "agent.resolve.r.run", run]);
    let json = integrate_json(env, &repo, &["--branch", "out"], 0);
    assert_eq!(statuses(&json), ["merged", "resolved-by-rule"], "{json:#}");
    assert_eq!(json["steps"][1]["conflicts"], serde_json::json!([path]), "{json:#}");
    repo
}

#[test]
fn a_rule_resolved_file_keeps_its_executable_bit() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let make = |dir: &Path, name: &str| {
        write(&dir.join("gen.sh"), &format!("#!/bin/sh\necho {name}\n"));
        std::fs::set_permissions(dir.join("gen.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let repo = rule_on_both_changed(&env, "gen.sh", &make, "printf '#!/bin/sh\\necho resolved\\n' > gen.sh");
    let entry = ls_tree(&env, &repo, "out", "gen.sh");
    assert!(entry.starts_with("100755 blob "), "{entry}");
    assert_eq!(env.git(&repo, &["show", "out:gen.sh"]), "#!/bin/sh\necho resolved\n");
}

#[test]
fn a_rule_resolved_symlink_stays_a_symlink() {
    let env = Env::new();
    let make = |dir: &Path, name: &str| {
        let _ = std::fs::remove_file(dir.join("link"));
        std::os::unix::fs::symlink(format!("to-{name}"), dir.join("link")).unwrap();
    };
    let repo = rule_on_both_changed(&env, "link", &make, "ln -sfn resolved link");
    let entry = ls_tree(&env, &repo, "out", "link");
    assert!(entry.starts_with("120000 blob "), "{entry}");
    assert_eq!(env.git(&repo, &["cat-file", "-p", "out:link"]), "resolved");
}

#[test]
fn a_rule_resolved_file_goes_through_the_clean_conversion_as_git_add_would() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("notes.txt", "v0\n"), (".gitattributes", "notes.txt text eol=crlf\n")]);
    task(&env, &repo, "a", &[("notes.txt", "va\n")]);
    task(&env, &repo, "b", &[("notes.txt", "vb\n")]);
    env.git(&repo, &["config", "agent.resolve.notes.path", "notes.txt"]);
    env.git(&repo, &["config", "agent.resolve.notes.run", "printf 'one\\r\\ntwo\\r\\n' > notes.txt"]);
    let json = integrate_json(&env, &repo, &["--branch", "out"], 0);
    assert_eq!(statuses(&json), ["merged", "resolved-by-rule"], "{json:#}");
    // What git stores for the same bytes at that path.
    let file = env.path().join("crlf");
    std::fs::write(&file, "one\r\ntwo\r\n").unwrap();
    let git_blob = env.git(&repo, &["hash-object", "--path", "notes.txt", file.to_str().unwrap()]);
    assert_eq!(rev(&env, &repo, "out:notes.txt"), git_blob.trim());
    assert_eq!(env.git(&repo, &["cat-file", "-p", "out:notes.txt"]), "one\ntwo\n");
}

/// A directory renamed to the top level (its only file moved up) on the target, a file added
/// into it by the task: with `merge.directoryRenames=true` git moves the file to the top, with
/// `false` it stays; integrate's merged tree is git's either way.
#[test]
fn a_directory_rename_to_the_top_level_lands_where_git_puts_the_file() {
    for setting in ["true", "false"] {
        let env = Env::new();
        let repo = canonical_repo(&env, "repo", &[("moved/x.txt", "x\n"), ("top.txt", "top\n")]);
        task(&env, &repo, "add", &[("moved/f2.txt", "new\n")]);
        env.git(&repo, &["mv", "moved/x.txt", "x.txt"]);
        env.git(&repo, &["commit", "-q", "-m", "moved/x.txt to the top"]);
        env.git(&repo, &["config", "merge.directoryRenames", setting]);
        let (git_tree, clean) = git_merge_tree(&env, &repo, None, "main", "agent/add");
        assert!(clean, "{setting}: git merges cleanly");
        let json = integrate_json(&env, &repo, &["--branch", "out"], 0);
        assert_eq!(statuses(&json), ["merged"], "{setting}: {json:#}");
        let files = |rev: &str| env.git(&repo, &["ls-tree", "-r", "--name-only", rev]);
        assert_eq!(files("out"), files(&git_tree), "{setting}: the files where git puts them");
        assert_eq!(tree_of(&env, &repo, "out"), git_tree, "{setting}");
    }
}
