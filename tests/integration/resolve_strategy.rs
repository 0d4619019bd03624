//! `agent.resolve.<name>.strategy`: union, ours and theirs settle a rule's conflicted files in
//! memory, byte for byte as `git merge-file --union` (`--ours`, `--theirs`) does on the same
//! three versions; a rule's command runs after them; what they cannot settle stays a conflict
//! and says why; a dry run gives the real run's result; an unknown strategy is bad input.

use std::path::Path;

use serde_json::Value;

use crate::common::*;
use crate::integrate::{integrate, integrate_json, statuses, step};
use crate::spawn::{agents_dir, canonical_repo, rev};

/// (file, base, the target's version, the task's version): the target's version lands first
/// (task `a`), then the task `b` conflicts with it.
const CASES: &[(&str, &str, &str, &str)] = &[
    ("lists/same-spot", "a\nb\n", "a\nb\nx\n", "a\nb\ny\n"),
    ("lists/same-line", "1\n2\n3\n4\n5\n", "1\nA\n3\n4\n5\n", "1\nB\n3\n4\n5\n"),
    ("lists/crlf", "1\r\n2\r\n3\r\n", "1\r\n2\r\n3\r\nx\r\n", "1\r\n2\r\n3\r\ny\r\n"),
    ("lists/no-newline", "1\n2", "1\n2\nx", "1\n2\ny"),
    ("lists/one-side-no-newline", "1\n2\n", "1\n2\nx", "1\n2\ny\n"),
    (
        "lists/imports",
        "import a\nimport c\n\nbody\nmore\nend\n",
        "import a\nimport b\nimport c\n\nbody\nmore\nend\n",
        "import a\nimport bb\nimport c\n\nbody\nmore\nend, changed\n",
    ),
    (
        "lists/two-hunks",
        "h\n1\n2\n3\n4\n5\n6\n7\n8\nt\n",
        "h\nours-1\n1\n2\n3\n4\n5\n6\n7\n8\nours-t\n",
        "h\ntheirs-1\n1\n2\n3\n4\n5\n6\n7\n8\ntheirs-t\n",
    ),
];

/// A repository whose tasks `a` (the target's versions) and `b` (the task's versions) conflict
/// in every file of `cases`; `a` is integrated first.
pub fn conflicting_tasks(env: &Env, cases: &[(&str, &str, &str, &str)]) -> std::path::PathBuf {
    let base: Vec<(&str, &str)> = cases.iter().map(|c| (c.0, c.1)).collect();
    let repo = canonical_repo(env, "repo", &base);
    for (task, side) in [("a", 2), ("b", 3)] {
        env.agent(&repo, &["spawn", task, "-q"]).success();
        let files: Vec<(&str, &str)> = cases.iter().map(|c| (c.0, if side == 2 { c.2 } else { c.3 })).collect();
        env.commit(&agents_dir(&repo).join(task), &files, &format!("{task}: work"));
        env.agent(&repo, &["done", task, "-q"]).success();
    }
    repo
}

/// What `git merge-file <flag>` makes of the three versions.
pub fn merge_file(env: &Env, dir: &Path, flag: &str, case: &(&str, &str, &str, &str)) -> Vec<u8> {
    let name = case.0.replace('/', "-");
    let [base, ours, theirs] = ["base", "ours", "theirs"].map(|side| dir.join(format!("{name}.{side}")));
    std::fs::write(&base, case.1).unwrap();
    std::fs::write(&ours, case.2).unwrap();
    std::fs::write(&theirs, case.3).unwrap();
    let out = env
        .command("git", dir)
        .args(["merge-file", "-p", flag, "--diff-algorithm", "histogram"])
        .args([&ours, &base, &theirs])
        .output()
        .unwrap();
    assert!(out.status.success(), "git merge-file {flag} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The bytes of `rev:path`.
pub fn blob(env: &Env, repo: &Path, spec: &str) -> Vec<u8> {
    let out = env.command("git", repo).args(["cat-file", "blob", spec]).output().unwrap();
    assert!(out.status.success(), "no {spec}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

pub fn rule(env: &Env, repo: &Path, name: &str, path: &str, strategy: &str) {
    env.git(repo, &["config", &format!("agent.resolve.{name}.path"), path]);
    env.git(repo, &["config", &format!("agent.resolve.{name}.strategy"), strategy]);
}

#[test]
fn union_settles_each_file_as_git_merge_file_union_and_the_dry_run_agrees() {
    let env = Env::new();
    let repo = conflicting_tasks(&env, CASES);
    let before = rev(&env, &repo, "main");
    // Without a rule, every file conflicts (the cases are real conflicts).
    let json = integrate_json(&env, &repo, &[], 1);
    assert_eq!(statuses(&json), ["merged", "conflict"], "{json:#}");
    assert_eq!(step(&json, "b")["conflicts"].as_array().unwrap().len(), CASES.len(), "{json:#}");

    rule(&env, &repo, "lists", "lists/*", "union");
    let dry = integrate_json(&env, &repo, &["--dry-run"], 0);
    assert_eq!(statuses(&dry), ["would-merge", "would-resolve-by-rule"], "{dry:#}");
    assert_eq!(rev(&env, &repo, "main"), before);

    let json = integrate_json(&env, &repo, &[], 0);
    assert_eq!(statuses(&json), ["merged", "resolved-by-rule"], "{json:#}");
    let b = step(&json, "b");
    assert_eq!((&b["rule"], &b["strategy"]), (&Value::from("lists"), &Value::from("union")), "{json:#}");
    assert_eq!(b["unsettled"], serde_json::json!([]));
    for case in CASES {
        let expected = merge_file(&env, env.path(), "--union", case);
        assert_eq!(
            String::from_utf8_lossy(&blob(&env, &repo, &format!("main:{}", case.0))),
            String::from_utf8_lossy(&expected),
            "{}",
            case.0
        );
    }
    // The dry run's result is the real one, to the tree.
    assert_eq!(b["tree"], dry["steps"][1]["tree"], "{dry:#}\n{json:#}");
    assert_eq!(b["tree"].as_str().unwrap(), rev(&env, &repo, "main^{tree}"));
    // The note on the step's commit names the rule and the strategy.
    let note = env.git(&repo, &["notes", "--ref", "refs/notes/agent", "show", "main"]);
    assert!(note.contains("\"strategy\":\"union\"") && note.contains("\"rule\":\"lists\""), "{note}");
}

#[test]
fn union_by_rebase_is_the_same_and_the_dry_run_agrees() {
    let env = Env::new();
    let repo = conflicting_tasks(&env, &CASES[..3]);
    rule(&env, &repo, "lists", "lists/*", "union");
    let dry = integrate_json(&env, &repo, &["--dry-run", "--strategy", "rebase"], 0);
    let json = integrate_json(&env, &repo, &["--strategy", "rebase"], 0);
    assert_eq!(statuses(&json), ["merged", "resolved-by-rule"], "{json:#}");
    assert_eq!(step(&json, "b")["tree"], step(&dry, "b")["tree"], "{dry:#}\n{json:#}");
    for case in &CASES[..3] {
        let expected = merge_file(&env, env.path(), "--union", case);
        assert_eq!(blob(&env, &repo, &format!("main:{}", case.0)), expected, "{}", case.0);
    }
}

#[test]
fn ours_and_theirs_take_a_side_of_each_conflicting_hunk_as_git_merge_file_does() {
    for (strategy, flag) in [("ours", "--ours"), ("theirs", "--theirs")] {
        let env = Env::new();
        let repo = conflicting_tasks(&env, CASES);
        rule(&env, &repo, "lists", "lists", strategy);
        let dry = integrate_json(&env, &repo, &["--dry-run"], 0);
        let json = integrate_json(&env, &repo, &[], 0);
        assert_eq!(statuses(&json), ["merged", "resolved-by-rule"], "{strategy}: {json:#}");
        assert_eq!(step(&json, "b")["strategy"], strategy);
        assert_eq!(step(&json, "b")["tree"], step(&dry, "b")["tree"], "{strategy}");
        for case in CASES {
            let expected = merge_file(&env, env.path(), flag, case);
            assert_eq!(
                String::from_utf8_lossy(&blob(&env, &repo, &format!("main:{}", case.0))),
                String::from_utf8_lossy(&expected),
                "{strategy}: {}",
                case.0
            );
        }
    }
}

#[test]
fn a_command_runs_on_the_union_and_its_result_is_taken() {
    let env = Env::new();
    let case =
        ("imports.txt", "import a\nimport d\n", "import a\nimport c\nimport d\n", "import a\nimport b\nimport d\n");
    let repo = conflicting_tasks(&env, &[case]);
    rule(&env, &repo, "imports", "imports.txt", "union");
    env.git(&repo, &["config", "agent.resolve.imports.run", "sort -r imports.txt > sorted && mv sorted imports.txt"]);
    let run = integrate(&env, &repo, &["--json"]).code(0);
    let run = run.stderr_has("by agent.resolve.imports.strategy union, then running agent.resolve.imports.run");
    let json = run.json();
    assert_eq!(step(&json, "b")["strategy"], "union", "{json:#}");
    // The command saw the union (both imports), not the target's side.
    let union = String::from_utf8(merge_file(&env, env.path(), "--union", &case)).unwrap();
    let mut lines: Vec<&str> = union.lines().collect();
    lines.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(env.git(&repo, &["show", "main:imports.txt"]), format!("{}\n", lines.join("\n")));
    assert_eq!(lines, ["import d", "import c", "import b", "import a"]);
}

#[test]
fn an_unknown_strategy_or_a_missing_command_is_bad_input() {
    let env = Env::new();
    let repo = conflicting_tasks(&env, &CASES[..1]);
    let before = env.snapshot(&repo);
    rule(&env, &repo, "lists", "lists/*", "merge");
    integrate(&env, &repo, &["--dry-run"])
        .code(2)
        .stderr_has("agent.resolve.lists.strategy")
        .stderr_has("\"merge\" is not one of union, ours, theirs or run");
    rule(&env, &repo, "lists", "lists/*", "run");
    integrate(&env, &repo, &[]).code(2).stderr_has("agent.resolve.lists.run is missing");
    env.git(&repo, &["config", "--unset", "agent.resolve.lists.path"]);
    env.git(&repo, &["config", "agent.resolve.lists.strategy", "union"]);
    integrate(&env, &repo, &[]).code(2).stderr_has("agent.resolve.lists.path is missing");
    assert_eq!(env.snapshot(&repo), before);
}

#[test]
fn a_strategy_does_not_cover_a_conflict_outside_its_path() {
    let env = Env::new();
    let cases = [CASES[0], ("other.txt", "1\n", "a\n", "b\n")];
    let repo = conflicting_tasks(&env, &cases);
    rule(&env, &repo, "lists", "lists/*", "union");
    let before = rev(&env, &repo, "main");
    let json = integrate_json(&env, &repo, &[], 1);
    assert_eq!(statuses(&json), ["merged", "conflict"], "{json:#}");
    assert_eq!(step(&json, "b")["conflicts"], serde_json::json!(["lists/same-spot", "other.txt"]));
    assert_eq!(step(&json, "b")["rule"], Value::Null);
    assert_eq!(rev(&env, &repo, "main"), before);
}

#[test]
fn union_leaves_a_binary_file_conflicted_and_says_why_and_ours_takes_a_side() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("data/blob.bin", "\0base\n"), ("data/list.txt", "1\n")]);
    env.agent(&repo, &["spawn", "a", "-q"]).success();
    env.commit(&agents_dir(&repo).join("a"), &[("data/blob.bin", "\0ours\n")], "a: work");
    env.agent(&repo, &["spawn", "b", "-q"]).success();
    env.commit(&agents_dir(&repo).join("b"), &[("data/blob.bin", "\0theirs\n")], "b: work");
    for task in ["a", "b"] {
        env.agent(&repo, &["done", task, "-q"]).success();
    }
    rule(&env, &repo, "data", "data", "union");
    let before = rev(&env, &repo, "main");
    let run = integrate(&env, &repo, &[]).code(1);
    assert!(run.stdout.contains("not settled: data/blob.bin (content): a binary file"), "{}", run.stdout);
    assert!(run.stdout.contains("(rule data: union)"), "{}", run.stdout);
    let json = integrate_json(&env, &repo, &[], 1);
    let b = step(&json, "b");
    assert_eq!(b["status"], "conflict", "{json:#}");
    assert_eq!((&b["rule"], &b["strategy"]), (&Value::from("data"), &Value::from("union")), "{json:#}");
    assert_eq!(b["unsettled"], serde_json::json!([{"path": "data/blob.bin", "kind": "content", "why": "binary"}]));
    assert_eq!(rev(&env, &repo, "main"), before);

    // ours takes the target's side of a binary file, as `git merge -X ours` does.
    rule(&env, &repo, "data", "data", "ours");
    let json = integrate_json(&env, &repo, &[], 0);
    assert_eq!(statuses(&json), ["merged", "resolved-by-rule"], "{json:#}");
    assert_eq!(blob(&env, &repo, "main:data/blob.bin"), b"\0ours\n");
}

#[test]
fn union_leaves_a_modify_delete_conflicted() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("lists/l.txt", "1\n2\n")]);
    env.agent(&repo, &["spawn", "a", "-q"]).success();
    let a = agents_dir(&repo).join("a");
    env.git(&a, &["rm", "-q", "lists/l.txt"]);
    env.git(&a, &["commit", "-q", "-m", "a: delete"]);
    env.agent(&repo, &["spawn", "b", "-q"]).success();
    env.commit(&agents_dir(&repo).join("b"), &[("lists/l.txt", "1\n2\n3\n")], "b: work");
    for task in ["a", "b"] {
        env.agent(&repo, &["done", task, "-q"]).success();
    }
    rule(&env, &repo, "lists", "lists", "union");
    let json = integrate_json(&env, &repo, &[], 1);
    let b = step(&json, "b");
    assert_eq!(b["unsettled"], serde_json::json!([{"path": "lists/l.txt", "kind": "modify-delete", "why": "deleted"}]));
}

#[test]
fn a_strategy_from_a_task_worktrees_own_config_is_refused() {
    let env = Env::new();
    let repo = conflicting_tasks(&env, &CASES[..1]);
    let wt = agents_dir(&repo).join("b");
    env.git(&repo, &["config", "extensions.worktreeConfig", "true"]);
    // An agent that could plant `theirs` for every file would win every conflict.
    env.git(&wt, &["config", "--worktree", "agent.resolve.x.path", "*"]);
    env.git(&wt, &["config", "--worktree", "agent.resolve.x.strategy", "theirs"]);
    let before = rev(&env, &repo, "main");
    integrate(&env, &wt, &[]).code(3).stderr_has("agent.resolve.x.strategy").stderr_has("config.worktree");
    assert_eq!(rev(&env, &repo, "main"), before);
}
