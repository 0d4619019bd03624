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
