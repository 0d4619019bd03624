//! `git agent spawn --plan`: validate a decomposition, then create its tasks in dependency order.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::spawn::{agents_dir, assert_consistent, canonical_repo, record};

fn plan_file(env: &Env, json: &str) -> PathBuf {
    let path = env.path().join("plan.json");
    write(&path, json);
    path
}

/// Runs `spawn --plan <json> <extra>` that must fail with `code` and create nothing.
#[track_caller]
fn assert_plan_refused(env: &Env, repo: &Path, json: &str, extra: &[&str], code: i32) -> Run {
    let plan = plan_file(env, json);
    let before = env.snapshot(repo);
    let mut args = vec!["spawn", "--plan", plan.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = env.agent(repo, &args);
    assert_eq!(run.code, code, "expected exit {code}:\n{run:#?}");
    assert_eq!(env.snapshot(repo), before, "a refused plan created something");
    assert!(!agents_dir(repo).exists(), "a refused plan created the worktree root");
    run
}

const LAYERED: &str = r#"{
  "version": 1,
  "tasks": [
    {"name": "tests", "after": ["api", "web"], "scope": ["tests/"], "acceptance": ["all green"], "brief": "Test it"},
    {"name": "web", "after": ["api"], "scope": ["web/"], "acceptance": ["renders"]},
    {"name": "api", "after": ["db"], "scope": ["api/"], "acceptance": ["serves"]},
    {"name": "db", "scope": ["db/"], "acceptance": ["migrates"], "brief": "Add the table"}
  ]
}"#;

#[test]
fn plan_creates_tasks_in_dependency_order() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let plan = plan_file(&env, LAYERED);
    let run = env.agent(&repo, &["spawn", "--plan", plan.to_str().unwrap()]).success();
    let order: Vec<&str> = run.stdout.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(order, ["db", "api", "web", "tests"], "{run:#?}");
    for line in run.stdout.lines() {
        let (name, path) = line.split_once('\t').unwrap();
        assert_eq!(path, agents_dir(&repo).join(name).to_str().unwrap());
    }
    assert!(!run.stderr.contains("warning"), "a complete plan has no warnings: {run:#?}");

    assert_eq!(record(&env, &repo, "db")["after"], serde_json::json!([]));
    assert_eq!(record(&env, &repo, "api")["after"], serde_json::json!(["db"]));
    assert_eq!(record(&env, &repo, "web")["after"], serde_json::json!(["api"]));
    assert_eq!(record(&env, &repo, "tests")["after"], serde_json::json!(["api", "web"]));
    assert_eq!(record(&env, &repo, "db")["brief"], "Add the table");
    assert_eq!(record(&env, &repo, "tests")["scope"], serde_json::json!(["tests/"]));
    assert_eq!(record(&env, &repo, "web")["acceptance"], serde_json::json!(["renders"]));
    let created: Vec<u64> =
        ["db", "api", "web", "tests"].iter().map(|t| record(&env, &repo, t)["created_ms"].as_u64().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "records created in order: {created:?}");
    assert_eq!(assert_consistent(&env, &repo).len(), 4);

    // `list` shows them in spawn order.
    let json = env.agent(&repo, &["list", "--json"]).success().json();
    let names: Vec<&str> = json["tasks"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["db", "api", "web", "tests"]);

    // A second plan may depend on tasks that exist already, but not re-create them.
    let plan = plan_file(&env, r#"{"tasks":[{"name":"docs","after":["api"],"scope":["docs/"],"acceptance":["x"]}]}"#);
    env.agent(&repo, &["spawn", "--plan", plan.to_str().unwrap()]).success();
    assert_eq!(record(&env, &repo, "docs")["after"], serde_json::json!(["api"]));
    let run =
        assert_plan_refused_keeping(&env, &repo, r#"{"tasks":[{"name":"db","scope":["x/"],"acceptance":["x"]}]}"#);
    assert!(run.stderr.contains("exists already"), "{run:#?}");
}

/// Like [`assert_plan_refused`] for a repository that has tasks already (exit 2).
#[track_caller]
fn assert_plan_refused_keeping(env: &Env, repo: &Path, json: &str) -> Run {
    let plan = plan_file(env, json);
    let before = env.snapshot(repo);
    let run = env.agent(repo, &["spawn", "--plan", plan.to_str().unwrap()]).code(2);
    assert_eq!(env.snapshot(repo), before);
    run
}

#[test]
fn plan_json_output_lists_what_was_spawned() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let plan = plan_file(&env, LAYERED);
    let json = env.agent(&repo, &["spawn", "--json", "--plan", plan.to_str().unwrap()]).success().json();
    assert_eq!(json["version"], 1);
    let names: Vec<&str> = json["spawned"].as_array().unwrap().iter().map(|s| s["task"].as_str().unwrap()).collect();
    assert_eq!(names, ["db", "api", "web", "tests"]);
}

#[test]
fn plan_check_creates_nothing() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let plan = plan_file(&env, LAYERED);
    let before = env.snapshot(&repo);
    let run = env.agent(&repo, &["spawn", "--check", "--plan", plan.to_str().unwrap()]).success();
    assert!(run.stdout.contains("db, api, web, tests"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before);
    assert!(!agents_dir(&repo).exists());

    let json = env.agent(&repo, &["spawn", "--check", "--json", "--plan", plan.to_str().unwrap()]).success().json();
    assert_eq!(json["check"]["order"], serde_json::json!(["db", "api", "web", "tests"]));
    assert_eq!(json["check"]["errors"], serde_json::json!([]));
    assert_eq!(env.snapshot(&repo), before);
    assert!(!agents_dir(&repo).exists());

    // --check also fails on a bad plan, without creating anything.
    assert_plan_refused(&env, &repo, r#"{"tasks":[{"name":"a","after":["a"]}]}"#, &["--check"], 2);
}

#[test]
fn plan_with_a_cycle_is_rejected_naming_it() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let run = assert_plan_refused(
        &env,
        &repo,
        r#"{"tasks":[
            {"name":"a","after":["b"],"scope":["a/"],"acceptance":["x"]},
            {"name":"b","after":["a"],"scope":["b/"],"acceptance":["x"]},
            {"name":"c","scope":["c/"],"acceptance":["x"]}]}"#,
        &[],
        2,
    );
    assert!(run.stderr.contains("a -> b -> a"), "{run:#?}");
    assert!(run.stderr.contains("cycle"), "{run:#?}");
    assert!(run.stderr.contains("nothing was created"), "{run:#?}");

    let run = assert_plan_refused(
        &env,
        &repo,
        r#"{"tasks":[
            {"name":"x","after":["z"],"scope":["x/"],"acceptance":["x"]},
            {"name":"y","after":["x"],"scope":["y/"],"acceptance":["x"]},
            {"name":"z","after":["y"],"scope":["z/"],"acceptance":["x"]}]}"#,
        &[],
        2,
    );
    assert!(run.stderr.contains("x -> z -> y -> x"), "{run:#?}");
}

#[test]
fn plan_with_unknown_dependency_or_duplicate_names_is_rejected() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let run = assert_plan_refused(
        &env,
        &repo,
        r#"{"tasks":[{"name":"a","after":["ghost"],"scope":["a/"],"acceptance":["x"]}]}"#,
        &[],
        2,
    );
    assert!(run.stderr.contains("\"ghost\""), "{run:#?}");

    let run = assert_plan_refused(
        &env,
        &repo,
        r#"{"tasks":[
            {"name":"a","scope":["a/"],"acceptance":["x"]},
            {"name":"a","scope":["b/"],"acceptance":["x"]}]}"#,
        &[],
        2,
    );
    assert!(run.stderr.contains("\"a\" appears more than once"), "{run:#?}");

    let run = assert_plan_refused(
        &env,
        &repo,
        r#"{"tasks":[{"name":"ok","scope":["a/"],"acceptance":["x"]},{"name":"bad/name","scope":["b/"],"acceptance":["x"]}]}"#,
        &[],
        2,
    );
    assert!(run.stderr.contains("bad/name"), "{run:#?}");
    assert_plan_refused(&env, &repo, r#"{"tasks":[]}"#, &[], 2);
    assert_plan_refused(
        &env,
        &repo,
        r#"{"version":2,"tasks":[{"name":"a","scope":["a/"],"acceptance":["x"]}]}"#,
        &[],
        2,
    );
    // A bad base is found before anything is created.
    assert_plan_refused(
        &env,
        &repo,
        r#"{"base":"nope","tasks":[{"name":"a","scope":["a/"],"acceptance":["x"]}]}"#,
        &[],
        2,
    );
}

#[test]
fn overlapping_scopes_need_allow_overlap() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let json = r#"{"tasks":[
        {"name":"a","scope":["src/"],"acceptance":["x"]},
        {"name":"b","scope":["src/lib.rs"],"acceptance":["x"]}]}"#;
    let run = assert_plan_refused(&env, &repo, json, &[], 2);
    assert!(run.stderr.contains("overlap"), "{run:#?}");
    assert!(run.stderr.contains("--allow-overlap"), "{run:#?}");

    let plan = plan_file(&env, json);
    let run = env.agent(&repo, &["spawn", "--allow-overlap", "--plan", plan.to_str().unwrap()]).success();
    assert!(run.stderr.contains("warning") && run.stderr.contains("overlap"), "{run:#?}");
    assert_eq!(assert_consistent(&env, &repo).len(), 2);

    // New tasks are checked against active existing ones too.
    let plan = plan_file(&env, r#"{"tasks":[{"name":"c","scope":["src/x"],"acceptance":["x"]}]}"#);
    let before = env.snapshot(&repo);
    let run = env.agent(&repo, &["spawn", "--plan", plan.to_str().unwrap()]).code(2);
    assert!(run.stderr.contains("overlap"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before);
}

#[test]
fn missing_acceptance_criteria_give_a_warning() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let plan =
        plan_file(&env, r#"{"tasks":[{"name":"a","scope":["a/"]},{"name":"b","scope":["b/"],"acceptance":["x"]}]}"#);
    let run = env.agent(&repo, &["spawn", "--plan", plan.to_str().unwrap()]).success();
    assert!(run.stderr.contains("warning"), "{run:#?}");
    assert!(run.stderr.contains("acceptance"), "{run:#?}");
    assert!(run.stderr.contains("\"a\""), "the warning names the task: {run:#?}");
    assert!(!run.stderr.contains("\"b\""), "b has acceptance criteria: {run:#?}");
    assert_eq!(assert_consistent(&env, &repo).len(), 2);
}

#[test]
fn invalid_plan_files_are_bad_input() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    assert_plan_refused(&env, &repo, "{ not json", &[], 2);
    assert_plan_refused(&env, &repo, "", &[], 2);
    assert_plan_refused(&env, &repo, r#"{"tasks":[{"name":"a","afer":["b"]}]}"#, &[], 2).stderr_has("afer");
    assert_plan_refused(&env, &repo, r#"{"tasks":[{"name":"a"}],"extra":true}"#, &[], 2).stderr_has("extra");
    assert_plan_refused(&env, &repo, r#"{"tasks":{"name":"a"}}"#, &[], 2);
    let before = env.snapshot(&repo);
    env.agent(&repo, &["spawn", "--plan", "/nonexistent/plan.json"]).code(2);
    env.agent(&repo, &["spawn", "t", "--plan", "/nonexistent/plan.json"]).code(2);
    assert_eq!(env.snapshot(&repo), before);
}
