//! git agent-integrate under hostile or unlucky conditions: dry runs with rules, new work on
//! integrated tasks, a checked-out target edited meanwhile, planted configuration, missing
//! identities, and runs killed half-way.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo, record, rev};

/// A finished task: spawned, one commit writing `files`, marked done; returns its worktree.
fn task(env: &Env, repo: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    env.agent(repo, &["spawn", name, "-q", "--no-agent"]).success();
    let wt = agents_dir(repo).join(name);
    env.commit(&wt, files, &format!("{name}: work"));
    env.agent(repo, &["done", name, "-q"]).success();
    wt
}

/// Runs `git agent-integrate <args>` in `repo`.
fn integrate(env: &Env, repo: &Path, args: &[&str]) -> Run {
    let mut all = vec!["agent-integrate"];
    all.extend_from_slice(args);
    env.run(repo, "git", &all)
}

/// `git agent-integrate --json <args>`, asserting the exit code.
#[track_caller]
fn integrate_json(env: &Env, repo: &Path, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    integrate(env, repo, &all).code(code).json()
}

fn statuses(json: &Value) -> Vec<String> {
    json["steps"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap().to_owned()).collect()
}

fn step<'a>(json: &'a Value, task: &str) -> &'a Value {
    json["steps"].as_array().unwrap().iter().find(|s| s["task"] == task).unwrap_or_else(|| panic!("{json:#}"))
}

fn object_type(env: &Env, repo: &Path, id: &str) -> String {
    env.git(repo, &["cat-file", "-t", id]).trim().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Dry runs with resolution rules (defect 04)

#[test]
fn a_dry_run_with_a_rule_hands_a_tree_on_and_agrees_with_the_real_run() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("Cargo.lock", "x\ny\nz\n"), ("c.txt", "c\n")]);
    env.git(&repo, &["config", "agent.resolve.lock.path", "Cargo.lock"]);
    env.git(&repo, &["config", "agent.resolve.lock.run", "printf 'resolved\\n' > Cargo.lock"]);
    task(&env, &repo, "a", &[("Cargo.lock", "x-a\ny\nz\n")]);
    task(&env, &repo, "b", &[("Cargo.lock", "x-b\ny\nz\n")]);
    task(&env, &repo, "c", &[("c.txt", "c2\n")]);
    let refs = env.snapshot(&repo);

    let json = integrate_json(&env, &repo, &["--dry-run"], 0);
    assert_eq!(statuses(&json), ["would-merge", "would-resolve-by-rule", "would-merge"], "{json:#}");
    assert_eq!(step(&json, "b")["rule"], "lock");
    assert_eq!(env.snapshot(&repo), refs, "a dry run writes nothing");
    // Every id the dry run reports is what it says it is (it is not in the object database:
    // the dry run computed it in memory, so compare the real run's result instead).
    let real = integrate_json(&env, &repo, &[], 0);
    assert_eq!(statuses(&real), ["merged", "resolved-by-rule", "merged"], "{real:#}");
    for task in ["a", "b", "c"] {
        let tree = step(&real, task)["tree"].as_str().unwrap().to_owned();
        assert_eq!(object_type(&env, &repo, &tree), "tree", "{task}: {real:#}");
        assert_eq!(object_type(&env, &repo, step(&real, task)["commit"].as_str().unwrap()), "commit");
    }
    assert_eq!(env.git(&repo, &["show", "main:Cargo.lock"]), "resolved\n");
    assert_eq!(env.git(&repo, &["show", "main:c.txt"]), "c2\n");
    // Tasks not touching the rule's files get the same trees in the dry run and the real run.
    assert_eq!(step(&json, "a")["tree"], step(&real, "a")["tree"]);
}

// ---------------------------------------------------------------------------------------------
// New work on an integrated task (defect 05)

#[test]
fn new_commits_on_an_integrated_task_are_integrated_with_every_strategy() {
    for strategy in ["merge", "squash", "rebase"] {
        let env = Env::new();
        let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n"), ("shared.txt", &numbered("s"))]);
        let wt = task(&env, &repo, "t", &[("t1.txt", "1\n"), ("shared.txt", &numbered("t"))]);
        integrate(&env, &repo, &["-q", "--strategy", strategy]).success();
        assert_eq!(record(&env, &repo, "t")["state"], "integrated");
        // The target edits what the task had changed: a task replayed from its fork point would conflict.
        env.commit(&repo, &[("shared.txt", &numbered("main"))], "main edits shared.txt");
        env.commit(&wt, &[("t2.txt", "2\n")], "more work");

        let json = integrate_json(&env, &repo, &["t", "--strategy", strategy], 0);
        assert_eq!(statuses(&json), ["merged"], "{strategy}: {json:#}");
        assert_eq!(env.git(&repo, &["show", "main:t2.txt"]), "2\n", "{strategy}");
        assert_eq!(env.git(&repo, &["show", "main:shared.txt"]), numbered("main"), "{strategy}: nothing reverted");
        assert_eq!(record(&env, &repo, "t")["integrated_tip"], rev(&env, &repo, "agent/t"), "{strategy}");
        // And once that is in, the task is integrated again: a rerun changes nothing.
        let main = rev(&env, &repo, "main");
        let json = integrate_json(&env, &repo, &["t", "--strategy", strategy], 0);
        assert_eq!(statuses(&json), ["already-integrated"], "{strategy}: {json:#}");
        assert_eq!(rev(&env, &repo, "main"), main, "{strategy}");
    }
}

#[test]
fn an_integrated_task_whose_record_lacks_the_tip_is_refused_when_it_has_new_work() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    let wt = task(&env, &repo, "t", &[("t1.txt", "1\n")]);
    integrate(&env, &repo, &["-q", "--strategy", "squash"]).success();
    // As an older git-agent wrote it: no integrated_tip.
    let mut old = record(&env, &repo, "t");
    old.as_object_mut().unwrap().remove("integrated_tip");
    write_raw_record(&env, &repo, "t", &old.to_string());
    // Nothing new: still recognised as integrated.
    assert_eq!(statuses(&integrate_json(&env, &repo, &["t", "--strategy", "squash"], 0)), ["already-integrated"]);
    env.commit(&wt, &[("t2.txt", "2\n")], "more work");
    let main = rev(&env, &repo, "main");
    integrate(&env, &repo, &["t", "--strategy", "squash"]).code(3).stderr_has("has changed since");
    assert_eq!(rev(&env, &repo, "main"), main);
}
