//! Spike and converge: `spawn --variants`, `compare`, `converge`.

use std::path::{Path, PathBuf};

use crate::common::{Env, write};
use crate::spawn::{agents_dir, canonical_repo, record, rev};

fn setup(env: &Env) -> PathBuf {
    canonical_repo(
        env,
        "repo",
        &[
            ("Cargo.toml", "[package]\nname = \"x\"\nversion = \"0.1.0\"\n\n[dependencies]\n"),
            ("src/a.txt", "one\ntwo\nthree\n"),
        ],
    )
}

/// Spawns three variants of `feat` (no agent) and returns their worktrees.
fn three(env: &Env, repo: &Path) -> Vec<PathBuf> {
    env.agent(repo, &["spawn", "feat", "--variants", "3", "--brief", "make it so", "--no-agent"]).success();
    (1..=3).map(|i| agents_dir(repo).join(format!("feat.{i}"))).collect()
}

fn refs(env: &Env, repo: &Path, pattern: &str) -> Vec<(String, String)> {
    env.git(repo, &["for-each-ref", "--format=%(refname) %(objectname)", pattern])
        .lines()
        .map(|l| {
            let (name, id) = l.split_once(' ').unwrap();
            (name.to_owned(), id.to_owned())
        })
        .collect()
}

#[test]
fn spawn_variants_makes_each_task_with_one_brief_and_its_own_command() {
    let env = Env::new();
    let repo = setup(&env);
    let run = env
        .agent(
            &repo,
            &[
                "spawn",
                "feat",
                "--variants",
                "3",
                "--brief",
                "make it so",
                "--scope",
                "src",
                "--acceptance",
                "tests pass",
                "--no-agent",
                "--variant-command",
                "claude --model opus",
                "--variant-command",
                "codex -m 'gpt 5'",
                "--variant-command",
                "aider",
            ],
        )
        .success();
    let commands = [vec!["claude", "--model", "opus"], vec!["codex", "-m", "gpt 5"], vec!["aider"]];
    let main = rev(&env, &repo, "main");
    for (i, command) in (1..=3).zip(commands) {
        let name = format!("feat.{i}");
        let worktree = agents_dir(&repo).join(&name);
        assert!(worktree.join(".git").is_file(), "{name} has a worktree");
        assert!(run.stdout.contains(&format!("{name}\t{}", worktree.display())), "{run:#?}");
        assert_eq!(rev(&env, &repo, &format!("agent/{name}")), main, "{name} starts at main");
        let record = record(&env, &repo, &name);
        assert_eq!(record["brief"], "make it so");
        assert_eq!(record["scope"], serde_json::json!(["src"]));
        assert_eq!(record["acceptance"], serde_json::json!(["tests pass"]));
        assert_eq!(record["variant"], serde_json::json!({"of": "feat", "index": i}));
        assert_eq!(record["command"], serde_json::json!(command));
    }
    assert!(env.git(&repo, &["for-each-ref", "refs/agent/tasks/feat"]).is_empty(), "no task named after the group");

    let list = env.agent(&repo, &["list", "--json"]).success().json();
    let rows = list["tasks"].as_array().or(list.as_array()).cloned().unwrap_or_default();
    let row = rows.iter().find(|r| r["name"] == "feat.2").unwrap_or_else(|| panic!("{list:#}"));
    assert_eq!(row["variant"], serde_json::json!({"of": "feat", "index": 2}));
    let show = env.agent(&repo, &["show", "feat.3"]).success();
    assert!(show.stdout.contains("variant 3 of feat"), "{show:#?}");
}

#[test]
fn each_variant_agent_starts_in_the_background_with_its_own_command() {
    let env = Env::new();
    let repo = setup(&env);
    let run = crate::background::bounded(
        &env,
        &repo,
        &[
            "spawn",
            "feat",
            "--variants",
            "2",
            "--variant-command",
            "sh -c 'echo one > ran.txt'",
            "--variant-command",
            "sh -c 'echo two > ran.txt'",
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("started the agent of task feat.2 in the background"), "{run:#?}");
    for (i, word) in [(1, "one"), (2, "two")] {
        let name = format!("feat.{i}");
        crate::background::wait_until(&format!("{name}'s agent exit"), || {
            record(&env, &repo, &name)["agent_exit"] == 0
        });
        let ran = std::fs::read_to_string(agents_dir(&repo).join(&name).join("ran.txt")).unwrap();
        assert_eq!(ran, format!("{word}\n"), "{name} ran its own command");
    }
}

#[test]
fn spawn_variants_checks_everything_before_creating_anything() {
    let env = Env::new();
    let repo = setup(&env);
    let before = env.snapshot(&repo);
    for count in ["1", "17", "0"] {
        let run = env.agent(&repo, &["spawn", "feat", "--variants", count, "--no-agent"]).code(2);
        assert!(run.stderr.contains("between 2 and 16"), "{run:#?}");
    }
    env.agent(&repo, &["spawn", "feat", "--variants", "3", "--variant-command", "a", "--variant-command", "b"])
        .code(2)
        .stderr_has("give none, or one per variant");
    env.agent(&repo, &["spawn", "feat", "--variant-command", "a"]).code(2);
    assert_eq!(env.snapshot(&repo), before, "nothing was created");

    // A task named after the group, or a variant's name taken: refused, nothing created.
    env.agent(&repo, &["spawn", "feat", "--no-agent"]).success();
    let with_feat = env.snapshot(&repo);
    env.agent(&repo, &["spawn", "feat", "--variants", "2", "--no-agent"]).code(3).stderr_has("exists already");
    env.agent(&repo, &["spawn", "other.2", "--no-agent"]).success();
    let with_other = env.snapshot(&repo);
    assert_ne!(with_feat, with_other);
    env.agent(&repo, &["spawn", "other", "--variants", "3", "--no-agent"]).code(3).stderr_has("other.2");
    assert_eq!(env.snapshot(&repo), with_other, "other.1 was not created either");
}

#[test]
fn a_variant_that_fails_to_spawn_removes_the_ones_before_it() {
    let env = Env::new();
    let repo = setup(&env);
    let before = env.snapshot(&repo);
    // The third variant's setup fails: the first two were complete and are removed again.
    env.git(&repo, &["config", "agent.setup", "test \"$GIT_AGENT_TASK\" != feat.3"]);
    let run = env.agent(&repo, &["spawn", "feat", "--variants", "3", "--no-agent"]).code(1);
    assert!(run.stderr.contains("variants created before it were removed again"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before, "nothing of any variant is left");
    for i in 1..=3 {
        assert!(!agents_dir(&repo).join(format!("feat.{i}")).exists(), "feat.{i}'s worktree is gone");
    }
    assert!(refs(&env, &repo, "refs/agent/archive/").is_empty(), "nothing needed archiving");
}

/// v1: passes, small diff with a test; v2: fails the test with a one-line diff; v3: passes,
/// adds a dependency and many lines.
fn three_with_known_outcomes(env: &Env, repo: &Path) -> Vec<PathBuf> {
    let worktrees = three(env, repo);
    env.commit(&worktrees[0], &[("src/a.txt", "one\nTWO\nthree\n"), ("tests/a_test.txt", "t1\nt2\n")], "v1");
    env.commit(&worktrees[1], &[("broken", "x\n")], "v2");
    let big: String = (1..=20).map(|n| format!("line {n}\n")).collect();
    env.commit(
        &worktrees[2],
        &[
            ("Cargo.toml", "[package]\nname = \"x\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1\"\n"),
            ("src/big.txt", &big),
        ],
        "v3",
    );
    worktrees
}

fn by_task(json: &serde_json::Value) -> std::collections::BTreeMap<String, serde_json::Value> {
    json["comparison"]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["task"].as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

#[test]
fn compare_scores_and_ranks_three_variants() {
    let env = Env::new();
    let repo = setup(&env);
    let worktrees = three_with_known_outcomes(&env, &repo);
    write(&worktrees[0].join("scratch-notes.txt"), "not committed\n");
    let run = env.agent(&repo, &["compare", "feat", "--test", "test ! -e broken", "--json"]).success();
    assert!(run.stderr.contains("feat.1 has uncommitted changes"), "{run:#?}");
    assert!(run.stderr.contains("left out: performance"), "{run:#?}");
    assert!(run.stderr.contains("left out: cost"), "{run:#?}");
    let json = run.json();
    let variants = by_task(&json);
    let (v1, v2, v3) = (&variants["feat.1"], &variants["feat.2"], &variants["feat.3"]);
    assert_eq!(v1["test"]["passed"], true);
    assert_eq!(v2["test"]["passed"], false);
    assert_eq!(v3["test"]["passed"], true);
    assert_eq!(
        (v1["lines_changed"].as_u64(), v1["test_lines"].as_u64(), v1["code_lines"].as_u64()),
        (Some(4), Some(2), Some(2))
    );
    assert_eq!(v2["lines_changed"], 1);
    assert_eq!(v3["lines_changed"], 21);
    assert_eq!(
        v3["dependencies_added"],
        serde_json::json!([{"manifest": "Cargo.toml", "name": "serde", "section": "dependencies"}])
    );
    // Differential: git diff --numstat from the merge base counts the same lines.
    for (task, variant) in &variants {
        let numstat = env.git(&repo, &["diff", "--numstat", &format!("main...agent/{task}")]);
        let lines: u64 = numstat.lines().flat_map(|l| l.split('\t').take(2)).map(|n| n.parse::<u64>().unwrap()).sum();
        assert_eq!(variant["lines_changed"], lines, "{task}: {numstat}");
    }
    assert_eq!(v1["uncommitted"], true);
    // Weights 30/25/15 of 70 (performance and cost left out); simplicity best = 1 line.
    assert_eq!(v1["total"], 73.21);
    assert_eq!(v2["total"], 35.71);
    assert_eq!(v3["total"], 43.36);
    assert_eq!((v1["rank"].as_u64(), v3["rank"].as_u64(), v2["rank"].as_u64()), (Some(1), Some(2), Some(3)));
    let simplicity = |v: &serde_json::Value| {
        v["scores"].as_array().unwrap().iter().find(|s| s["criterion"] == "simplicity").cloned().unwrap()
    };
    assert_eq!(simplicity(v1), serde_json::json!({"criterion": "simplicity", "raw": 4.0, "score": 0.25}));
    assert_eq!(simplicity(v3)["raw"], 71.0, "21 lines and one dependency (50)");

    // A benchmark: the fastest that passes scores 1, a failing one 0 without a time.
    let json =
        env.agent(&repo, &["compare", "feat", "--bench", "test ! -e broken", "--runs", "2", "--json"]).success().json();
    let variants = by_task(&json);
    let performance = |v: &serde_json::Value| {
        v["scores"].as_array().unwrap().iter().find(|s| s["criterion"] == "performance").cloned().unwrap()
    };
    assert_eq!(
        performance(&variants["feat.2"]),
        serde_json::json!({"criterion": "performance", "raw": null, "score": 0.0})
    );
    assert_eq!(variants["feat.2"]["bench"]["passed"], false);
    let best = [&variants["feat.1"], &variants["feat.3"]].map(|v| performance(v)["score"].as_f64().unwrap());
    assert!(best.contains(&1.0) && best.iter().all(|s| *s > 0.0 && *s <= 1.0), "{best:?}");
    assert!(json["comparison"]["skipped"].as_array().unwrap().iter().any(|s| s["criterion"] == "correctness"));

    // The table: best first.
    let table = env.agent(&repo, &["compare", "feat", "--test", "test ! -e broken"]).success();
    let rows: Vec<&str> = table.stdout.lines().collect();
    assert!(rows[0].starts_with("rank") && rows[0].contains("correctness (43%)"), "{table:#?}");
    assert!(rows[1].starts_with("1") && rows[1].contains("feat.1") && rows[1].contains("pass 1.00"), "{table:#?}");
    assert!(rows[2].contains("feat.3") && rows[2].contains("21 lines +1 dep"), "{table:#?}");
    assert!(rows[3].contains("feat.2") && rows[3].contains("fail(1) 0.00") && rows[3].ends_with("35.7"), "{table:#?}");
}

#[test]
fn weights_from_config_change_the_ranking_and_cost_counts_when_recorded() {
    let env = Env::new();
    let repo = setup(&env);
    three_with_known_outcomes(&env, &repo);
    env.git(&repo, &["config", "agent.compare.correctness", "0"]);
    env.git(&repo, &["config", "agent.compare.maintainability", "0"]);
    let json = env.agent(&repo, &["compare", "feat", "--test", "test ! -e broken", "--json"]).success().json();
    let variants = by_task(&json);
    assert_eq!(variants["feat.2"]["rank"], 1, "only simplicity counts: the one-line diff wins\n{json:#}");
    assert_eq!(variants["feat.2"]["total"], 100.0);
    assert_eq!(variants["feat.1"]["rank"], 2);
    assert_eq!(json["comparison"]["weights"], serde_json::json!([["simplicity", 1.0]]));

    // Recorded cost joins in: simplicity 25 and cost 10 of 35; feat.3 spent least.
    for (task, usd) in [("feat.1", "4"), ("feat.2", "2"), ("feat.3", "1")] {
        env.agent(&repo, &["cost", "add", task, "--model", "m", "--usd", usd]).success();
    }
    let json = env.agent(&repo, &["compare", "feat", "--json"]).success().json();
    let variants = by_task(&json);
    let cost = |task: &str| {
        variants[task]["scores"].as_array().unwrap().iter().find(|s| s["criterion"] == "cost").cloned().unwrap()
    };
    assert_eq!(cost("feat.1"), serde_json::json!({"criterion": "cost", "raw": 4.0, "score": 0.25}));
    assert_eq!(cost("feat.3")["score"], 1.0);
    // feat.2: (25 * 1 + 10 * 0.5) / 35
    assert_eq!(variants["feat.2"]["total"], 85.71);

    env.agent(&repo, &["compare", "nothing"]).code(2).stderr_has("has no variants");
    env.git(&repo, &["config", "agent.compare.simplicity", "-1"]);
    env.agent(&repo, &["compare", "feat"]).code(2).stderr_has("agent.compare.simplicity");
    for key in ["simplicity", "performance", "cost"] {
        env.git(&repo, &["config", &format!("agent.compare.{key}"), "0"]);
    }
    env.agent(&repo, &["compare", "feat"]).code(2).stderr_has("all 0");
}

#[test]
fn converge_marks_the_pick_done_and_archives_the_others_restorably() {
    let env = Env::new();
    let repo = setup(&env);
    let worktrees = three(&env, &repo);
    for (i, worktree) in worktrees.iter().enumerate() {
        env.commit(worktree, &[(&format!("v{i}.txt"), "work\n")], "work");
    }
    write(&worktrees[2].join("untracked.txt"), "never added\n");
    let tips: Vec<String> = (1..=3).map(|i| rev(&env, &repo, &format!("agent/feat.{i}"))).collect();

    let before = env.snapshot(&repo);
    let dry = env.agent(&repo, &["converge", "feat", "--pick", "feat.2", "--dry-run"]).success();
    assert!(dry.stdout.contains("would keep feat.2") && dry.stdout.contains("would-prune feat.1"), "{dry:#?}");
    assert_eq!(env.snapshot(&repo), before, "a dry run changes nothing");

    let run = env.agent(&repo, &["converge", "feat", "--pick", "feat.2"]).success();
    assert!(run.stdout.contains("kept, marked done: feat.2"), "{run:#?}");
    assert!(
        run.stdout.contains("restore with: git agent spawn feat.3-restored --base refs/agent/archive/feat.3/"),
        "{run:#?}"
    );
    assert_eq!(record(&env, &repo, "feat.2")["state"], "done");
    assert!(worktrees[1].is_dir());
    for (i, tip) in [(0, &tips[0]), (2, &tips[2])] {
        let name = format!("feat.{}", i + 1);
        assert!(!worktrees[i].exists(), "{name}'s worktree is gone");
        assert!(refs(&env, &repo, &format!("refs/heads/agent/{name}")).is_empty(), "{name}'s branch is gone");
        assert!(refs(&env, &repo, &format!("refs/agent/tasks/{name}")).is_empty(), "{name}'s record is gone");
        let archived = refs(&env, &repo, &format!("refs/agent/archive/{name}/"));
        let branch = archived.iter().find(|(n, _)| n.ends_with("/branch")).unwrap_or_else(|| panic!("{archived:?}"));
        assert_eq!(&branch.1, tip, "{name}'s commits are archived");
    }
    let archived = refs(&env, &repo, "refs/agent/archive/feat.3/");
    let snapshot = &archived.iter().find(|(n, _)| n.ends_with("/worktree")).unwrap().1;
    assert_eq!(env.git(&repo, &["show", &format!("{snapshot}:untracked.txt")]), "never added\n");
    assert!(!env.git(&repo, &["worktree", "list"]).contains("feat.1"));

    // Converging again is harmless: the pick stays done, nothing else is left.
    let again = env.agent(&repo, &["converge", "feat", "--pick", "feat.2"]).success();
    assert!(again.stdout.contains("kept (already done): feat.2"), "{again:#?}");
}

#[test]
fn converge_refuses_a_foreign_pick_and_integrated_variants() {
    let env = Env::new();
    let repo = setup(&env);
    let worktrees = three(&env, &repo);
    env.agent(&repo, &["spawn", "solo", "--no-agent"]).success();
    env.agent(&repo, &["converge", "feat", "--pick", "solo"]).code(2).stderr_has("not a variant of");
    env.agent(&repo, &["converge", "solo", "--pick", "solo"]).code(2).stderr_has("has no variants");
    env.agent(&repo, &["converge", "feat", "--pick", "../x"]).code(2);

    env.commit(&worktrees[0], &[("v1.txt", "work\n")], "v1");
    env.agent(&repo, &["done", "feat.1"]).success();
    env.agent(&repo, &["integrate", "feat.1"]).success();
    let before = env.snapshot(&repo);
    env.agent(&repo, &["converge", "feat", "--pick", "feat.2"])
        .code(3)
        .stderr_has("feat.1 of feat is integrated already");
    env.agent(&repo, &["converge", "feat", "--pick", "feat.1"]).code(3).stderr_has("integrated already");
    assert_eq!(env.snapshot(&repo), before, "refusals change nothing");
    assert_eq!(record(&env, &repo, "feat.2")["state"], "active");
}
