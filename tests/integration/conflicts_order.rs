//! `git agent-conflicts` with dependencies: the tasks merged in dependency order (as integrate
//! merges them) decide the exit status, `--pairwise` keeps the all-pairs verdict, and what a
//! task only inherited from its dependency is not its change (scope, hazards, `list`).

use std::path::PathBuf;

use serde_json::Value;

use crate::common::*;
use crate::conflicts::{conflicts_json, spawn};
use crate::spawn::canonical_repo;

fn lines(changed: &[(usize, &str)]) -> String {
    (1..=10)
        .map(|n| match changed.iter().find(|(m, _)| *m == n) {
            Some((_, text)) => format!("{text}\n"),
            None => format!("line {n}\n"),
        })
        .collect()
}

fn order_of(json: &Value) -> Vec<(String, String)> {
    json["in_order"]
        .as_array()
        .unwrap_or_else(|| panic!("no in_order: {json:#}"))
        .iter()
        .map(|s| (s["task"].as_str().unwrap().to_owned(), s["verdict"].as_str().unwrap().to_owned()))
        .collect()
}

fn pair_verdict(json: &Value, a: &str, b: &str) -> Option<String> {
    json["pairs"].as_array().unwrap().iter().find(|p| p["a"] == a && p["b"] == b).map(|p| p["verdict"].to_string())
}

/// `db` changed line 5; `api` (after db) merged that db and built on it; main then changed
/// line 5 too, and db merged main, resolving the conflict. `api` against main conflicts (it
/// carries db's old line 5), but integration lands db first, and api then merges cleanly.
fn stacked_repo(env: &Env) -> PathBuf {
    let repo = canonical_repo(env, "repo", &[("f.txt", &lines(&[])), ("README.md", "# r\n")]);
    let db = spawn(env, &repo, "db", &["--scope", "f.txt"]);
    env.commit(&db, &[("f.txt", &lines(&[(5, "db")]))], "db: line 5");
    let api = spawn(env, &repo, "api", &["--after", "db", "--scope", "api/"]);
    env.git(&api, &["merge", "-q", "--no-edit", "agent/db"]);
    env.commit(&api, &[("api/x.txt", "x\n")], "api: x");
    env.commit(&repo, &[("f.txt", &lines(&[(5, "main")]))], "main: line 5");
    let _ = env.command("git", &db).args(["merge", "-q", "--no-edit", "main"]).output().unwrap();
    env.commit(&db, &[("f.txt", &lines(&[(5, "db and main")]))], "db: merge main, resolved");
    repo
}

#[test]
fn a_conflict_integration_never_meets_does_not_fail_the_gate_in_dependency_order() {
    let env = Env::new();
    let repo = stacked_repo(&env);
    // The reference: git agrees that api conflicts with main on its own...
    let status = env.command("git", &repo).args(["merge-tree", "--write-tree", "main", "agent/api"]).status().unwrap();
    assert_eq!(status.code(), Some(1));
    // ... and that after db landed, api merges cleanly.
    let landed = env.git(&repo, &["merge-tree", "--write-tree", "main", "agent/db"]);
    let landed_tree = landed.trim();
    let landed_commit =
        env.git(&repo, &["commit-tree", landed_tree, "-p", "main", "-p", "agent/db", "-m", "db"]).trim().to_owned();
    let status =
        env.command("git", &repo).args(["merge-tree", "--write-tree", &landed_commit, "agent/api"]).status().unwrap();
    assert_eq!(status.code(), Some(0));
    let before = env.snapshot(&repo);

    let json = conflicts_json(&env, &repo, &[], 0);
    assert_eq!(order_of(&json), [("db".into(), "applies".into()), ("api".into(), "applies".into())], "{json:#}");
    let api_vs_main = json["against_target"].as_array().unwrap().iter().find(|t| t["task"] == "api").unwrap();
    assert_eq!(api_vs_main["verdict"], "conflict", "the pairwise view still shows it: {json:#}");
    assert_eq!(before, env.snapshot(&repo), "the check writes nothing");

    let text = env.run(&repo, "git", &["agent", "conflicts"]).success();
    let out = &text.stdout;
    assert!(out.contains("In dependency order onto main"), "{out}");
    assert!(out.contains("No conflicts in dependency order (the pairwise conflicts above are not met)."), "{out}");

    // --pairwise: the strict all-pairs verdict.
    let json = conflicts_json(&env, &repo, &["--pairwise"], 1);
    assert!(json["in_order"].is_null(), "{json:#}");
}

#[test]
fn a_task_that_conflicts_in_order_blocks_its_dependents() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("f.txt", &lines(&[]))]);
    let db = spawn(&env, &repo, "db", &[]);
    env.commit(&db, &[("f.txt", &lines(&[(2, "db")]))], "db");
    let api = spawn(&env, &repo, "api", &["--after", "db"]);
    env.commit(&api, &[("api.txt", "api\n")], "api");
    let other = spawn(&env, &repo, "other", &[]);
    env.commit(&other, &[("other.txt", "other\n")], "other");
    env.commit(&repo, &[("f.txt", &lines(&[(2, "main")]))], "main");

    let json = conflicts_json(&env, &repo, &[], 1);
    assert_eq!(
        order_of(&json),
        [("db".into(), "conflict".into()), ("api".into(), "blocked".into()), ("other".into(), "applies".into())],
        "{json:#}"
    );
    let api = &json["in_order"][1];
    assert_eq!(api["blocked_by"], "db", "{json:#}");
    let db = &json["in_order"][0];
    assert_eq!(db["conflicts"][0]["path"], "f.txt", "{json:#}");
    let list = env.run(&repo, "git", &["agent-conflicts", "--format", "list"]).code(1);
    assert!(list.stdout.contains("in-order blocked api db"), "{}", list.stdout);
}

#[test]
fn files_inherited_from_a_dependency_are_not_out_of_scope_or_the_same_new_path() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "# r\n")]);
    let db = spawn(&env, &repo, "db", &["--scope", "db/"]);
    env.commit(&db, &[("db/schema.sql", "create table t;\n")], "db: schema");
    let api = spawn(&env, &repo, "api", &["--after", "db", "--scope", "api/"]);
    env.git(&api, &["merge", "-q", "--no-edit", "agent/db"]);
    env.commit(&api, &[("api/x.txt", "x\n"), ("README.md", "# r, by api\n")], "api");

    let json = conflicts_json(&env, &repo, &[], 0);
    let hazards = json["hazards"].as_array().unwrap();
    let out_of_scope: Vec<&Value> = hazards.iter().filter(|h| h["kind"] == "out-of-scope").collect();
    assert_eq!(out_of_scope.len(), 1, "{json:#}");
    assert_eq!(out_of_scope[0]["tasks"], serde_json::json!(["api"]), "{json:#}");
    assert_eq!(out_of_scope[0]["paths"], serde_json::json!(["README.md"]), "only api's own change: {json:#}");
    assert!(!hazards.iter().any(|h| h["kind"] == "same-new-path"), "{json:#}");
    assert_eq!(pair_verdict(&json, "db", "api"), None, "{json:#}");

    let list = env.agent(&repo, &["list", "--json"]).success().json();
    let api_row = list["tasks"].as_array().unwrap().iter().find(|t| t["name"] == "api").unwrap().clone();
    assert_eq!(api_row["out_of_scope"], serde_json::json!(["README.md"]), "{list:#}");

    // A file it changed again after inheriting it is its own change.
    env.commit(&api, &[("db/schema.sql", "create table t (id int);\n")], "api edits the schema");
    let json = conflicts_json(&env, &repo, &[], 0);
    let out_of_scope = json["hazards"].as_array().unwrap().iter().find(|h| h["kind"] == "out-of-scope").unwrap();
    assert_eq!(out_of_scope["paths"], serde_json::json!(["README.md", "db/schema.sql"]), "{json:#}");
}

#[test]
fn conflicts_without_any_task_exits_0() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "# r\n")]);
    let run = env.run(&repo, "git", &["agent-conflicts"]).success();
    assert!(run.stderr.contains("there are no tasks"), "{}", run.stderr);
    let json = env.run(&repo, "git", &["agent-conflicts", "--json"]).success().json();
    assert_eq!(json["version"], 1, "{json:#}");
    assert!(json["target"].is_null() && json["tasks"].as_array().unwrap().is_empty(), "{json:#}");
    assert_eq!(json["summary"]["tasks"], 0, "{json:#}");
}

#[test]
fn a_file_both_tasks_inherited_from_one_upstream_commit_is_not_the_same_new_path() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "# r\n")]);
    env.git(&repo, &["checkout", "-q", "-b", "upstream"]);
    env.commit(&repo, &[("lib/up.txt", "from upstream\n")], "upstream adds a file");
    env.git(&repo, &["checkout", "-q", "main"]);
    for name in ["a", "b"] {
        let wt = spawn(&env, &repo, name, &["--base", "upstream"]);
        env.commit(&wt, &[(&format!("{name}.txt") as &str, "own\n")], "own work");
    }
    // Two agents writing the same new file on their own still count.
    for name in ["c", "d"] {
        let wt = spawn(&env, &repo, name, &["--base", "main"]);
        env.commit(&wt, &[("docs/new.md", "# the same page\n")], &format!("same page, by {name}"));
    }
    let json = conflicts_json(&env, &repo, &["--target", "main"], 0);
    let same: Vec<&Value> =
        json["hazards"].as_array().unwrap().iter().filter(|h| h["kind"] == "same-new-path").collect();
    assert_eq!(same.len(), 1, "{json:#}");
    assert_eq!(same[0]["paths"], serde_json::json!(["docs/new.md"]), "{json:#}");
}
