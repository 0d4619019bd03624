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
