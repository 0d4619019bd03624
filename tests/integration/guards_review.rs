//! A hostile review of the guards (contracts, protected paths, constraints, the plan gate) and
//! the resolution strategies: each test is a defect found (and fixed) or a corner that held.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::integrate::{integrate_json, statuses};
use crate::resolve_strategy::{blob, conflicting_tasks, merge_file, rule};
use crate::spawn::{agents_dir, canonical_repo};
use crate::sync::{fleet, state, sync};

/// The hazards of `task` in `list --json`.
fn hazards(env: &Env, repo: &Path, task: &str) -> Value {
    let json = env.agent(repo, &["list", "--json"]).success().json();
    json["tasks"].as_array().unwrap().iter().find(|t| t["name"] == task).unwrap()["hazards"].clone()
}

fn setup(env: &Env) -> PathBuf {
    canonical_repo(
        env,
        "repo",
        &[
            ("api/schema.txt", "type Event { id }\n"),
            ("tests/events.txt", "test: events\n"),
            ("Cargo.toml", "[package]\nname = \"x\"\n\n[dependencies]\nserde = \"1\"\n"),
            ("web/package.json", "{\"name\": \"web\", \"dependencies\": {\"react\": \"18\"}}\n"),
        ],
    )
}

/// Defect (fixed): the README and `spawn --help` say "no new dependencies" is checked against
/// dependency manifests, but only lock files were: a dependency added to Cargo.toml or
/// package.json (without touching a lock file) was no hazard.
#[test]
fn no_new_dependencies_flags_a_dependency_added_to_a_manifest() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "lean", "-q", "--constraint", "No new dependencies"]).success();
    env.agent(&repo, &["spawn", "bump", "-q", "--constraint", "No new dependencies"]).success();
    env.agent(&repo, &["spawn", "free", "-q"]).success();
    let cargo = "[package]\nname = \"x\"\n\n[dependencies]\nserde = \"1\"\nrand = \"0.8\"\n";
    let npm = "{\"name\": \"web\", \"dependencies\": {\"react\": \"18\"}, \"devDependencies\": {\"jest\": \"29\"}}\n";
    for task in ["lean", "free"] {
        env.commit(&agents_dir(&repo).join(task), &[("Cargo.toml", cargo), ("web/package.json", npm)], "deps");
    }
    // A version bump adds no dependency.
    let bumped = "[package]\nname = \"x\"\n\n[dependencies]\nserde = \"1.0.200\"\n";
    env.commit(&agents_dir(&repo).join("bump"), &[("Cargo.toml", bumped)], "bump");
    assert_eq!(
        hazards(&env, &repo, "lean"),
        serde_json::json!([
            {"kind": "new-dependency", "path": "Cargo.toml", "dependency": "rand", "section": "dependencies"},
            {"kind": "new-dependency", "path": "web/package.json", "dependency": "jest", "section": "devDependencies"},
        ])
    );
    assert_eq!(hazards(&env, &repo, "bump"), serde_json::json!([]));
    assert_eq!(hazards(&env, &repo, "free"), serde_json::json!([]), "no constraint, no hazard");
    env.agent(&repo, &["done", "lean", "-q"]).success();
    env.agent(&repo, &["integrate", "lean"]).code(3).stderr_has("adds dependency rand (dependencies) in Cargo.toml");
}

/// Defect (fixed): "Don't add new dependencies" (the apostrophe splits "don't") and "Avoid
/// new dependencies" were not recognised as the constraint, so nothing was checked.
#[test]
fn no_new_dependencies_in_other_wordings() {
    let env = Env::new();
    let repo = setup(&env);
    for (task, wording) in [("a", "Don't add new dependencies"), ("b", "avoid new deps")] {
        env.agent(&repo, &["spawn", task, "-q", "--constraint", wording]).success();
        env.commit(&agents_dir(&repo).join(task), &[("Cargo.lock", "# changed\n")], "lock");
        assert_eq!(hazards(&env, &repo, task)[0]["kind"], "lock-file", "{wording}");
    }
}

/// Defect (fixed): a protected pathspec that can match nothing (absolute, `..`, pathspec
/// magic) was recorded and silently guarded nothing; an empty one guarded everything.
#[test]
fn a_guard_pathspec_that_can_match_nothing_is_refused() {
    let env = Env::new();
    let repo = setup(&env);
    let absolute = repo.join("tests/events.txt");
    for (flag, pathspec) in [
        ("--protect", absolute.to_str().unwrap()),
        ("--protect", "../repo/tests/events.txt"),
        ("--protect", "tests/../tests/events.txt"),
        ("--protect", ":(exclude)api"),
        ("--protect", ""),
        ("--contract", ""),
    ] {
        env.agent(&repo, &["spawn", "t", "-q", flag, pathspec]).code(2).stderr_has(&format!("{flag} {pathspec:?}"));
        assert_eq!(env.git(&repo, &["for-each-ref", "refs/agent/tasks", "refs/heads/agent"]), "", "{pathspec}");
    }
    // What git users write for the same paths is accepted and guards them.
    env.agent(&repo, &["spawn", "t", "-q", "--protect", "./tests/", "--contract", "api/*.txt"]).success();
    env.commit(&agents_dir(&repo).join("t"), &[("tests/events.txt", "weaker\n"), ("api/schema.txt", "x\n")], "w");
    let found: Vec<Value> = hazards(&env, &repo, "t").as_array().unwrap().iter().map(|h| h["kind"].clone()).collect();
    assert_eq!(found, ["contract", "protected"]);
    // agent.protected is held to the same rule.
    env.git(&repo, &["config", "--add", "agent.protected", "/tests"]);
    env.agent(&repo, &["list"])
        .code(2)
        .stderr_has("invalid git config agent.protected")
        .stderr_has("\"/tests\" is an absolute path");
}

/// Defect (fixed): an unnamed integrate leaving out a guarded task said its dependent was
/// left out because the dependency "is neither done nor integrated", though it was done.
#[test]
fn a_dependent_of_a_guarded_task_is_left_out_saying_why() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "db", "-q", "--contract", "api/"]).success();
    env.commit(&agents_dir(&repo).join("db"), &[("api/schema.txt", "type Event { id, at }\n")], "contract");
    env.agent(&repo, &["spawn", "ui", "-q", "--after", "db", "--contract", "api/"]).success();
    env.commit(&agents_dir(&repo).join("ui"), &[("ui.txt", "ui\n")], "ui");
    // ui inherits db's contract change: not its own hazard.
    assert_eq!(hazards(&env, &repo, "ui"), serde_json::json!([]));
    assert_eq!(hazards(&env, &repo, "db")[0]["kind"], "contract");
    env.agent(&repo, &["done", "db", "-q"]).success();
    env.agent(&repo, &["done", "ui", "-q"]).success();
    let before = env.git(&repo, &["rev-parse", "main"]);
    env.agent(&repo, &["integrate"])
        .success()
        .stderr_has("task db left out: it changes contract api/schema.txt")
        .stderr_has("task ui left out: its dependency db is left out");
    assert_eq!(env.git(&repo, &["rev-parse", "main"]), before);
    // Allowing db lets both land: ui's inherited change is db's.
    env.agent(&repo, &["integrate", "--allow-contract-change=db"]).success();
    let log = env.git(&repo, &["log", "--format=%s", "main"]);
    assert!(log.contains("contract") && log.contains("ui"), "{log}");
}

/// Held: the hazard is the net change (a contract changed and changed back is none), and a
/// protected file deleted or renamed away is changed.
#[test]
fn net_changes_deletions_and_renames_of_guarded_files() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "back", "-q", "--contract", "api/schema.txt"]).success();
    let back = agents_dir(&repo).join("back");
    env.commit(&back, &[("api/schema.txt", "changed\n")], "change");
    env.commit(&back, &[("api/schema.txt", "type Event { id }\n"), ("b.txt", "b\n")], "back");
    assert_eq!(hazards(&env, &repo, "back"), serde_json::json!([]));

    env.agent(&repo, &["spawn", "del", "-q", "--protect", "tests/events.txt"]).success();
    let del = agents_dir(&repo).join("del");
    env.git(&del, &["rm", "-q", "tests/events.txt"]);
    env.git(&del, &["commit", "-q", "-m", "delete the test"]);
    assert_eq!(hazards(&env, &repo, "del")[0]["path"], "tests/events.txt");

    env.agent(&repo, &["spawn", "ren", "-q", "--protect", "tests/"]).success();
    let ren = agents_dir(&repo).join("ren");
    env.git(&ren, &["mv", "tests/events.txt", "events.txt"]);
    env.git(&ren, &["commit", "-q", "-m", "move the test away"]);
    assert_eq!(hazards(&env, &repo, "ren")[0]["path"], "tests/events.txt");
}

/// Held: union settles awkward inputs byte for byte as `git merge-file --union`, ours and
/// theirs as `--ours`/`--theirs`, and the dry run gives the same tree.
#[test]
fn strategies_on_awkward_inputs_match_git_merge_file() {
    let long = |mark: &str| -> String {
        (0..40).map(|i| if i % 7 == 0 { format!("{i}{mark}\n") } else { format!("{i}\n") }).collect()
    };
    let (base_long, ours_long, theirs_long) = (long(""), long("o"), long("t"));
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "l/markers",
            "a\n<<<<<<< x\nb\n=======\nc\n>>>>>>> y\nd\n",
            "a\n<<<<<<< x\nB1\n=======\nc\n>>>>>>> y\nd\n",
            "a\n<<<<<<< x\nB2\n=======\nc\n>>>>>>> y\nd\n",
        ),
        ("l/delete-vs-modify", "1\n2\n3\n4\n", "1\n3\n4\n", "1\n2x\n3\n4\n"),
        ("l/both-delete", "1\n2\n3\n4\n5\n", "1\n4\n5\n", "1\n2\n5\n"),
        ("l/mixed-eol", "1\r\n2\n3\r\n", "1\r\nA\n3\r\n", "1\r\nB\r\n3\r\n"),
        ("l/to-empty", "1\n2\n", "", "1\nchanged\n"),
        ("l/no-newline", "a", "b", "c"),
        ("l/long", &base_long, &ours_long, &theirs_long),
    ];
    for strategy in ["union", "ours", "theirs"] {
        let env = Env::new();
        let repo = conflicting_tasks(&env, cases);
        rule(&env, &repo, "l", "l/*", strategy);
        let dry = integrate_json(&env, &repo, &["--dry-run"], 0);
        let json = integrate_json(&env, &repo, &[], 0);
        assert_eq!(statuses(&json), ["merged", "resolved-by-rule"], "{strategy}: {json:#}");
        assert_eq!(dry["steps"][1]["tree"], json["steps"][1]["tree"], "{strategy}");
        for case in cases {
            let expected = merge_file(&env, env.path(), &format!("--{strategy}"), case);
            let got = blob(&env, &repo, &format!("main:{}", case.0));
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected), "{strategy} {}", case.0);
        }
    }
}

/// Defect (fixed): `approve --proposal` with fewer than 7 characters (or none) of the id
/// failed with exit 4 saying the plan "was proposed again", which it was not.
#[test]
fn a_too_short_proposal_id_is_bad_input_not_a_race() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "s", "-q", "--gate"]).success();
    env.agent(&agents_dir(&repo).join("s"), &["propose", "-m", "the plan"]).success();
    let proposal =
        env.agent(&repo, &["show", "s", "--json"]).success().json()["gate"]["proposal"].as_str().unwrap().to_owned();
    for short in ["", &proposal[..6]] {
        env.agent(&repo, &["approve", "s", "--proposal", short]).code(2).stderr_has("at least 7 characters");
    }
    env.agent(&repo, &["approve", "s", "--proposal", "0000000"]).code(4).stderr_has("proposed again");
    env.agent(&repo, &["approve", "s", "--proposal", &proposal[..7]]).success();
}

/// Two clones `a` and `b` of one remote, both holding the gated task `s` whose agent (in
/// `a`'s worktree, the third path) proposed "plan one".
fn proposed_on_two_machines(env: &Env) -> (PathBuf, PathBuf, PathBuf) {
    let (_remote, clones) = fleet(env, &["a", "b"]);
    let (a, b) = (clones[0].clone(), clones[1].clone());
    env.agent(&a, &["spawn", "s", "-q", "--gate"]).success();
    let worktree = a.with_file_name("a.agents").join("s");
    env.agent(&worktree, &["propose", "-m", "plan one"]).success();
    sync(env, &a);
    sync(env, &b);
    (a, b, worktree)
}

/// Held: an approval crossing a newer proposal on another machine approves nothing once the
/// two meet, on both machines; integrate refuses the task until the new plan is approved.
#[test]
fn an_approval_crossing_a_proposal_on_another_machine_approves_nothing() {
    let env = Env::new();
    let (a, b, worktree) = &proposed_on_two_machines(&env);
    env.agent(b, &["approve", "s"]).success();
    env.agent(worktree, &["propose", "-m", "plan two"]).success();
    sync(&env, a);
    sync(&env, b);
    sync(&env, a);
    for machine in [a, b] {
        let gate = &state(&env, machine, "s")["gate"];
        assert_eq!((&gate["state"], &gate["plan"]), (&Value::from("proposed"), &Value::from("plan two")), "{gate:#}");
    }
    env.commit(worktree, &[("s.txt", "s\n")], "work");
    env.agent(a, &["done", "s", "-q"]).success();
    env.agent(a, &["integrate", "s"]).code(3).stderr_has("never approved");
}

/// Defect (fixed with the manifest check): a stacked task that edits the same manifest as
/// its dependency does not own the dependency its dependency added.
#[test]
fn a_stacked_task_does_not_own_its_dependencys_new_dependency() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "db", "-q"]).success();
    let with_rand = "[package]\nname = \"x\"\n\n[dependencies]\nserde = \"1\"\nrand = \"0.8\"\n";
    env.commit(&agents_dir(&repo).join("db"), &[("Cargo.toml", with_rand)], "db: rand");
    env.agent(&repo, &["spawn", "ui", "-q", "--after", "db", "--constraint", "No new dependencies"]).success();
    let versioned = "[package]\nname = \"x\"\nversion = \"0.2.0\"\n\n[dependencies]\nserde = \"1\"\nrand = \"0.8\"\n";
    env.commit(&agents_dir(&repo).join("ui"), &[("Cargo.toml", versioned)], "ui: version");
    assert_eq!(hazards(&env, &repo, "ui"), serde_json::json!([]));
    let with_log = versioned.replace("rand", "log = \"0.4\"\nrand");
    env.commit(&agents_dir(&repo).join("ui"), &[("Cargo.toml", &with_log)], "ui: log");
    assert_eq!(
        hazards(&env, &repo, "ui"),
        serde_json::json!([{"kind": "new-dependency", "path": "Cargo.toml", "dependency": "log", "section": "dependencies"}])
    );
}

/// Defect (fixed): a guard pathspec with glob characters matches like `git ls-files --
/// PATHSPEC`, which also matches the file spelled literally so (`f[1].txt`); that file was
/// not protected. Differential against git for a set of pathspecs.
#[test]
fn guard_pathspecs_match_what_git_ls_files_matches() {
    let env = Env::new();
    let files = [
        "a.txt",
        "b.md",
        "A.TXT",
        "tests.txt",
        "tests/x.txt",
        "tests/sub/y.txt",
        "tests/sub/z.md",
        "docs/guide.md",
        "we ird/f[1].txt",
        "we ird/f1.txt",
    ];
    let base: Vec<(&str, &str)> = files.iter().map(|f| (*f, "1\n")).collect();
    let repo = canonical_repo(&env, "repo", &base);
    env.agent(&repo, &["spawn", "t", "-q"]).success();
    let changed: Vec<(&str, &str)> = files.iter().map(|f| (*f, "2\n")).collect();
    env.commit(&agents_dir(&repo).join("t"), &changed, "change every file");
    for pathspec in [
        "tests/*.txt",
        "*.md",
        "tests/",
        "tests",
        "?.txt",
        "[ab].*",
        "tests/**",
        "**/y.txt",
        "we ird/f[1].txt",
        "we ird/f\\[1\\].txt",
        "tests/sub/*",
        "tests*",
        "TESTS",
    ] {
        env.git(&repo, &["config", "--replace-all", "agent.protected", pathspec]);
        let git: Vec<String> = env.git(&repo, &["ls-files", "--", pathspec]).lines().map(str::to_owned).collect();
        let mut ours: Vec<String> = hazards(&env, &repo, "t")
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["path"].as_str().unwrap().to_owned())
            .collect();
        ours.sort();
        assert_eq!(ours, git, "{pathspec}");
    }
}

/// Defect (fixed): rejecting an integrated task's plan was accepted and told the agent to
/// propose again, which propose refuses (an integrated plan can no longer change): the task
/// was left showing a rejected plan no one could revise.
#[test]
fn an_integrated_tasks_plan_can_be_neither_rejected_nor_approved() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "s", "-q", "--gate"]).success();
    let worktree = agents_dir(&repo).join("s");
    env.agent(&worktree, &["propose", "-m", "the plan"]).success();
    env.agent(&repo, &["approve", "s"]).success();
    env.commit(&worktree, &[("s.txt", "s\n")], "s");
    env.agent(&repo, &["done", "s", "-q"]).success();
    env.agent(&repo, &["integrate", "s", "-q"]).success();
    env.agent(&repo, &["reject", "s", "--reason", "too late"]).code(3).stderr_has("can no longer change");
    env.agent(&repo, &["approve", "s"]).code(3).stderr_has("can no longer change");
    env.agent(&worktree, &["propose", "-m", "again"]).code(3).stderr_has("can no longer change");
    let gate = &env.agent(&repo, &["show", "s", "--json"]).success().json()["gate"];
    assert_eq!(gate["state"], "approved", "{gate:#}");
}

/// Defect (fixed: the singular followed by another noun modifies it): "No new dependency
/// injection framework" was read as "no new dependencies", so an ordinary lock file update
/// became a hazard and integrate refused the task with a constraint its author never set.
#[test]
fn a_constraint_about_dependency_injection_is_not_no_new_dependencies() {
    let env = Env::new();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "di", "-q", "--constraint", "No new dependency injection framework"]).success();
    env.commit(&agents_dir(&repo).join("di"), &[("Cargo.lock", "# updated\n")], "lock");
    assert_eq!(hazards(&env, &repo, "di"), serde_json::json!([]));
}

/// Defect (fixed): an approval and a rejection of the same plan on two machines at once were
/// settled by the operations' order (clock, then random id): the approval, made after any
/// other change on its machine, won over the rejection, and the agent went ahead with a plan
/// a reviewer had sent back. Now the rejection stands in either order.
#[test]
fn a_rejection_crossing_an_approval_on_another_machine_stands() {
    let env = Env::new();
    let (a, b, _) = &proposed_on_two_machines(&env);
    env.agent(a, &["reject", "s", "--reason", "use the existing index"]).success();
    // Another change on b first: its approval comes later in the operations' order.
    env.agent(b, &["cost", "add", "s", "--model", "m", "--input", "1", "--output", "1"]).success();
    env.agent(b, &["approve", "s"]).success();
    sync(&env, a);
    sync(&env, b);
    sync(&env, a);
    for machine in [a, b] {
        let gate = &state(&env, machine, "s")["gate"];
        assert_eq!(
            (&gate["state"], &gate["reason"]),
            (&Value::from("planned"), &Value::from("use the existing index")),
            "{gate:#}"
        );
    }
}
