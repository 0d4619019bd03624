//! The decomposition checklist's guards: contracts, protected paths and constraints (hazards
//! in list and conflicts, refused by integrate), and the plan review gate (propose, approve,
//! reject; integrate refuses a gated task never approved).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo};

/// A repository with a contract (`api/schema.txt`) and a test file, committed on main.
fn setup(env: &Env) -> PathBuf {
    canonical_repo(
        env,
        "repo",
        &[("api/schema.txt", "type Event { id }\n"), ("tests/events.txt", "test: events\n"), ("a.txt", "a\n")],
    )
}

/// The row of `task` in `list --json`.
fn row(env: &Env, repo: &Path, task: &str) -> Value {
    let json = env.agent(repo, &["list", "--json"]).success().json();
    json["tasks"].as_array().unwrap().iter().find(|t| t["name"] == task).cloned().unwrap()
}

fn record(env: &Env, repo: &Path, task: &str) -> Value {
    env.agent(repo, &["show", task, "--json"]).success().json()
}

#[test]
fn spawn_records_guards_and_show_prints_them() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(
        &repo,
        &[
            "spawn",
            "db",
            "-q",
            "--contract",
            "api/",
            "--protect",
            "tests/events.txt",
            "--protect",
            "tests/events.txt",
            "--constraint",
            "No new dependencies",
        ],
    )
    .success();
    let json = record(&env, &repo, "db");
    assert_eq!(json["contracts"], serde_json::json!(["api/"]));
    assert_eq!(json["protect"], serde_json::json!(["tests/events.txt"]), "repeats are recorded once");
    assert_eq!(json["constraints"], serde_json::json!(["No new dependencies"]));
    assert_eq!(json["gate"], Value::Null);
    let text = env.agent(&repo, &["show", "db"]).success().stdout;
    for needle in ["contracts\n  - api/", "protected\n  - tests/events.txt", "constraints\n  - No new dependencies"] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
}

#[test]
fn a_contract_must_be_committed_on_the_base() {
    let env = Env::new();
    let repo = setup(&env);
    // Written but not committed: the agents would start without it.
    write(&repo.join("api/events.proto"), "message Event {}\n");
    env.agent(&repo, &["spawn", "db", "-q", "--contract", "api/events.proto"])
        .code(3)
        .stderr_has("contract \"api/events.proto\" matches no file committed at the base")
        .stderr_has("commit the shared interfaces");
    env.agent(&repo, &["spawn", "db", "-q", "--contract", "api/*.txt"]).success();
    assert!(env.git(&repo, &["branch", "--list", "agent/db"]).contains("agent/db"));
}

#[test]
fn changing_a_contract_is_a_hazard_and_integrate_refuses_it_unless_allowed() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "db", "-q", "--contract", "api/schema.txt"]).success();
    env.agent(&repo, &["spawn", "ui", "-q", "--contract", "api/schema.txt"]).success();
    let db = agents_dir(&repo).join("db");
    let ui = agents_dir(&repo).join("ui");
    env.commit(&db, &[("api/schema.txt", "type Event { id, at }\n"), ("db.txt", "db\n")], "db: change the contract");
    env.commit(&ui, &[("ui.txt", "ui\n")], "ui");

    let hazards = &row(&env, &repo, "db")["hazards"];
    assert_eq!(
        hazards,
        &serde_json::json!([{"kind": "contract", "path": "api/schema.txt", "pathspec": "api/schema.txt"}])
    );
    assert_eq!(row(&env, &repo, "ui")["hazards"], serde_json::json!([]));
    let list = env.agent(&repo, &["list"]).success().stdout;
    let line = list.lines().find(|l| l.starts_with("db ")).unwrap();
    assert!(line.contains("hazard: changes contract api/schema.txt"), "{list}");

    let conflicts = env.agent(&repo, &["conflicts", "--json"]).success().json();
    let found: Vec<&Value> =
        conflicts["hazards"].as_array().unwrap().iter().filter(|h| h["kind"] == "contract").collect();
    assert_eq!(found.len(), 1, "{conflicts}");
    assert_eq!(found[0]["tasks"], serde_json::json!(["db"]));
    assert_eq!(found[0]["paths"], serde_json::json!(["api/schema.txt"]));

    env.agent(&repo, &["done", "db"]).success();
    env.agent(&repo, &["done", "ui"]).success();
    let main_before = env.git(&repo, &["rev-parse", "main"]);
    // Named: the whole run is refused, nothing lands.
    env.agent(&repo, &["integrate", "db", "ui"])
        .code(3)
        .stderr_has("task db: it changes contract api/schema.txt")
        .stderr_has("--allow-contract-change=db");
    assert_eq!(env.git(&repo, &["rev-parse", "main"]), main_before);
    // Unnamed: db is left out, ui lands.
    env.agent(&repo, &["integrate"]).success().stderr_has("task db left out: it changes contract");
    assert_eq!(record(&env, &repo, "ui")["state"], "integrated");
    assert_eq!(record(&env, &repo, "db")["state"], "done");
    // Allowing another task changes nothing; allowing db lets it land.
    env.agent(&repo, &["integrate", "db", "--allow-contract-change=ui"]).code(3);
    env.agent(&repo, &["integrate", "db", "--allow-contract-change=db"]).success();
    assert_eq!(record(&env, &repo, "db")["state"], "integrated");
}

#[test]
fn a_protected_test_file_and_agent_protected_are_guarded() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "impl", "-q", "--protect", "tests/"]).success();
    env.agent(&repo, &["spawn", "docs", "-q"]).success();
    env.commit(&agents_dir(&repo).join("impl"), &[("tests/events.txt", "test: nothing\n")], "weaken the test");
    env.commit(&agents_dir(&repo).join("docs"), &[("a.txt", "a, documented\n")], "docs");
    assert_eq!(
        row(&env, &repo, "impl")["hazards"],
        serde_json::json!([{"kind": "protected", "path": "tests/events.txt", "pathspec": "tests/", "by": "task"}])
    );
    assert_eq!(row(&env, &repo, "docs")["hazards"], serde_json::json!([]));
    env.agent(&repo, &["done", "impl"]).success();
    env.agent(&repo, &["integrate", "impl"]).code(3).stderr_has("changes protected tests/events.txt");

    // agent.protected guards every task.
    env.git(&repo, &["config", "agent.protected", "a.txt"]);
    assert_eq!(row(&env, &repo, "docs")["hazards"][0]["by"], "config");
    env.agent(&repo, &["done", "docs"]).success();
    env.agent(&repo, &["integrate", "docs"]).code(3).stderr_has("changes a.txt, protected by agent.protected");
    env.agent(&repo, &["integrate", "docs", "impl", "--allow-contract-change"]).success();
}

#[test]
fn no_new_dependencies_flags_a_changed_lock_file() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("Cargo.toml", "[package]\nname = \"x\"\n"), ("Cargo.lock", "# v1\n")]);
    env.agent(&repo, &["spawn", "lean", "-q", "--constraint", "No new dependencies"]).success();
    env.agent(&repo, &["spawn", "free", "-q"]).success();
    env.commit(&agents_dir(&repo).join("lean"), &[("Cargo.lock", "# v2\n")], "lock");
    env.commit(&agents_dir(&repo).join("free"), &[("Cargo.lock", "# v3\n")], "lock");
    assert_eq!(row(&env, &repo, "lean")["hazards"][0]["kind"], "lock-file");
    assert_eq!(row(&env, &repo, "free")["hazards"], serde_json::json!([]), "no constraint, no hazard");
}

#[test]
fn no_new_dependencies_flags_an_added_dependency_not_a_changed_version() {
    let env = Env::new();
    let manifest = "[package]\nname = \"x\"\n\n[dependencies]\nserde = \"1\"\n";
    let repo =
        canonical_repo(&env, "repo", &[("Cargo.toml", manifest), ("web/package.json", "{\"dependencies\":{}}\n")]);
    for task in ["bump", "add"] {
        env.agent(&repo, &["spawn", task, "-q", "--constraint", "no new deps."]).success();
    }
    env.commit(&agents_dir(&repo).join("bump"), &[("Cargo.toml", &manifest.replace("\"1\"", "\"1.0.200\""))], "bump");
    env.commit(
        &agents_dir(&repo).join("add"),
        &[
            ("Cargo.toml", &format!("{manifest}anyhow = \"1\"\n")),
            ("web/package.json", "{\"dependencies\":{},\"devDependencies\":{\"left-pad\":\"1\"}}\n"),
        ],
        "add",
    );
    assert_eq!(row(&env, &repo, "bump")["hazards"], serde_json::json!([]), "a changed version adds nothing");
    let hazards = row(&env, &repo, "add")["hazards"].clone();
    assert_eq!(
        hazards,
        serde_json::json!([
            {"kind": "new-dependency", "path": "Cargo.toml", "dependency": "anyhow", "section": "dependencies"},
            {"kind": "new-dependency", "path": "web/package.json", "dependency": "left-pad", "section": "devDependencies"}
        ])
    );
    env.agent(&repo, &["done", "add"]).success();
    env.agent(&repo, &["integrate", "add"])
        .code(3)
        .stderr_has("adds dependency anyhow (dependencies) in Cargo.toml (constraint: no new dependencies)");
}

#[test]
fn a_plan_carries_contracts_protect_constraints_and_gate() {
    let env = Env::new();
    let repo = setup(&env);
    let plan = repo.join("plan.json");
    write(
        &plan,
        r#"{"version":1,"contracts":["api/schema.txt"],"constraints":["No new dependencies"],"gate":true,
            "tasks":[{"name":"db","scope":["db/"],"acceptance":["x"],"protect":["tests/"],"constraints":["Keep it small"]},
                     {"name":"ui","scope":["ui/"],"acceptance":["x"],"gate":false}]}"#,
    );
    env.agent(&repo, &["spawn", "--plan", plan.to_str().unwrap(), "-q"]).success();
    let db = record(&env, &repo, "db");
    assert_eq!(db["contracts"], serde_json::json!(["api/schema.txt"]));
    assert_eq!(db["protect"], serde_json::json!(["tests/"]));
    assert_eq!(db["constraints"], serde_json::json!(["No new dependencies", "Keep it small"]));
    assert_eq!(db["gate"]["state"], "planned");
    let ui = record(&env, &repo, "ui");
    assert_eq!(ui["gate"], Value::Null, "the task's own gate: false wins over the plan's");
    assert_eq!(ui["contracts"], serde_json::json!(["api/schema.txt"]));

    // A plan whose contract is not committed is refused before anything is created.
    let bad = repo.join("bad.json");
    write(&bad, r#"{"contracts":["api/missing.txt"],"tasks":[{"name":"x","scope":["x/"],"acceptance":["x"]}]}"#);
    env.agent(&repo, &["spawn", "--plan", bad.to_str().unwrap(), "-q"]).code(3).stderr_has("api/missing.txt");
    assert!(env.git(&repo, &["branch", "--list", "agent/x"]).is_empty());
}

#[test]
fn the_gate_goes_planned_proposed_rejected_approved() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "db", "-q", "--gate"]).success();
    let db = agents_dir(&repo).join("db");
    assert_eq!(row(&env, &repo, "db")["gate"], "planned");
    assert!(env.agent(&db, &["show"]).success().stdout.contains("propose an implementation plan"));
    // Nothing to judge yet.
    env.agent(&repo, &["approve", "db"]).code(3).stderr_has("has not proposed a plan yet");

    let proposed = env.agent(&db, &["propose", "-m", "1. add the table\n2. migrate", "--json"]).success().json();
    assert_eq!((proposed["old"].as_str(), proposed["state"].as_str()), (Some("planned"), Some("proposed")));
    let first = proposed["proposal"].as_str().unwrap().to_owned();
    let shown = env.agent(&repo, &["show", "db"]).success().stdout;
    assert!(shown.contains(&format!("proposed {}", &first[..12])), "{shown}");
    assert!(shown.contains("  1. add the table\n  2. migrate\n"), "{shown}");
    let list = env.agent(&repo, &["list"]).success().stdout;
    assert!(list.lines().any(|l| l.starts_with("db ") && l.contains("plan proposed")), "{list}");

    env.agent(&repo, &["reject", "db", "--reason", "use the existing table"]).success();
    assert_eq!(row(&env, &repo, "db")["gate"], "planned");
    let shown = env.agent(&db, &["show"]).success().stdout;
    assert!(shown.contains("PLAN REJECTED: use the existing table"), "{shown}");
    env.agent(&repo, &["approve", "db"]).code(3).stderr_has("was rejected");

    // A judgement naming a plan that is no longer the last one is a lost race.
    let second = env.agent(&db, &["propose", "-m", "1. extend the table", "--json"]).success().json();
    let second = second["proposal"].as_str().unwrap().to_owned();
    env.agent(&repo, &["approve", "db", "--proposal", &first[..12]]).code(4).stderr_has("proposed again");
    assert_eq!(row(&env, &repo, "db")["gate"], "proposed");
    let approved = env.agent(&repo, &["approve", "db", "--proposal", &second[..8], "--json"]).success().json();
    assert_eq!(approved["state"], "approved");
    assert_eq!(approved["plan"], "1. extend the table");
    env.agent(&repo, &["approve", "db"]).code(3).stderr_has("approved already");
    assert_eq!(record(&env, &repo, "db")["gate"]["reason"], Value::Null, "an approval clears the reason");
}

#[test]
fn gate_commands_refuse_bad_input_and_ungated_tasks() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "free", "-q"]).success();
    env.agent(&repo, &["spawn", "gated", "-q"]).success();
    env.git(&repo, &["config", "agent.gate", "true"]);
    env.agent(&repo, &["spawn", "later", "-q"]).success();
    assert_eq!(record(&env, &repo, "later")["gate"]["state"], "planned", "agent.gate=true gates new tasks");
    assert_eq!(record(&env, &repo, "gated")["gate"], Value::Null, "existing tasks stay as they were");
    env.agent(&repo, &["propose", "--task", "free", "-m", "plan"]).code(3).stderr_has("is not gated");
    env.agent(&repo, &["propose", "--task", "later", "-m", "  \n"]).code(2).stderr_has("the plan is empty");
    env.agent(&repo, &["propose", "--task", "later"]).code(2);
    env.agent(&repo, &["reject", "later"]).code(2);
    env.agent(&repo, &["reject", "later", "--reason", " "]).code(2).stderr_has("the reason is empty");
    env.agent(&repo, &["approve", "../x"]).code(2).stderr_has("invalid task name");
    let big = "x".repeat(64 * 1024 + 1);
    let file = repo.join("plan.md");
    write(&file, &big);
    env.agent(&repo, &["propose", "--task", "later", "-F", file.to_str().unwrap()]).code(2).stderr_has("more than");
    write(&file, "1. from a file\n");
    env.agent(&repo, &["propose", "--task", "later", "-F", file.to_str().unwrap()]).success();
    assert_eq!(record(&env, &repo, "later")["gate"]["plan"], "1. from a file");
}

#[test]
fn integrate_refuses_a_gated_task_never_approved() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "db", "-q", "--gate"]).success();
    let db = agents_dir(&repo).join("db");
    env.commit(&db, &[("db.txt", "db\n")], "db");
    env.agent(&repo, &["done", "db"]).success().stderr_has("plan is planned, not approved: integrate refuses it");
    env.agent(&repo, &["integrate", "db"]).code(3).stderr_has("its plan was never approved");
    env.agent(&repo, &["integrate", "db", "--allow-contract-change"]).code(3);
    env.agent(&repo, &["integrate"]).success().stderr_has("task db left out: it was gated");
    env.agent(&db, &["propose", "-m", "1. db.txt"]).success();
    env.agent(&repo, &["integrate", "db"]).code(3).stderr_has("the gate is proposed");
    env.agent(&repo, &["approve", "db"]).success();
    env.agent(&repo, &["integrate", "db"]).success();
    assert_eq!(record(&env, &repo, "db")["state"], "integrated");
    env.agent(&db, &["propose", "-m", "more"]).code(3).stderr_has("its plan can no longer change");
}
