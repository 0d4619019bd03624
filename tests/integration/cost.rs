//! `git agent cost`: recording, importing and totalling what agents spent per task.

use std::path::Path;

use serde_json::{Value, json};

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo, record, rev};

fn report(env: &Env, cwd: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["cost", "--json"];
    args.extend_from_slice(extra);
    let json = env.agent(cwd, &args).success().json();
    assert_eq!(json["version"], 1, "{json}");
    json
}

/// The report's group named `key`.
fn group(json: &Value, key: &str) -> Value {
    json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("no group {key}: {json}"))
        .clone()
}

fn keys(json: &Value) -> Vec<String> {
    json["groups"].as_array().unwrap().iter().map(|g| g["key"].as_str().unwrap().to_owned()).collect()
}

fn usd(value: &Value) -> f64 {
    value["usd"].as_f64().unwrap_or_else(|| panic!("no usd in {value}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn commits(env: &Env, repo: &Path, task: &str) -> usize {
    env.git(repo, &["rev-list", "--count", &format!("refs/agent/tasks/{task}")]).trim().parse().unwrap()
}

#[test]
fn costs_added_by_hand_are_totalled_by_task_and_model() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "db"]).success();
    env.agent(&repo, &["spawn", "api"]).success();
    let db = agents_dir(&repo).join("db");

    // Without TASK, the task whose worktree we are in.
    let run = env
        .agent(&db, &["cost", "add", "--model", "claude-sonnet-4-5", "--input", "1000000", "--output", "100000"])
        .success();
    assert!(run.stderr.contains("task db: recorded"), "{run:#?}");
    env.agent(&repo, &["cost", "add", "db", "--model", "claude-sonnet-4-5", "--cache-read", "1000000"]).success();
    env.agent(&repo, &["cost", "add", "api", "--model", "claude-opus-4-1", "--input", "10", "--usd", "0.5"]).success();
    assert_eq!(record(&env, &repo, "db")["cost"]["models"]["claude-sonnet-4-5"]["input"], 1_000_000);

    let by_task = report(&env, &repo, &[]);
    assert_eq!(by_task["by"], "task");
    assert_eq!(keys(&by_task), ["api", "db"]);
    let db_group = group(&by_task, "db");
    assert_eq!((db_group["input"].as_u64(), db_group["output"].as_u64()), (Some(1_000_000), Some(100_000)));
    assert_eq!(db_group["cache_read"], 1_000_000);
    // sonnet: 3 in, 15 out, 0.30 cache read per million tokens (built-in estimate).
    assert!(close(usd(&db_group), 3.0 + 1.5 + 0.3), "{db_group}");
    assert!(close(usd(&group(&by_task, "api")), 0.5), "its own usd wins");
    assert!(close(usd(&by_task["total"]), 5.3), "{by_task}");
    assert_eq!(by_task["warnings"], json!([]));

    let by_model = report(&env, &repo, &["--by", "model"]);
    assert_eq!(keys(&by_model), ["claude-opus-4-1", "claude-sonnet-4-5"]);
    assert_eq!(group(&by_model, "claude-sonnet-4-5")["input"], 1_000_000);

    let text = env.agent(&repo, &["cost"]).success();
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert!(lines[0].starts_with("TASK") && lines[0].ends_with("USD"), "{text:#?}");
    assert!(lines[1].starts_with("api") && lines[1].ends_with("$0.50"), "{text:#?}");
    assert!(lines[2].starts_with("db") && lines[2].contains("1.0M") && lines[2].ends_with("$4.80"), "{text:#?}");
    assert!(lines[3].starts_with("total") && lines[3].ends_with("$5.30"), "{text:#?}");

    // list and show give each task's cost.
    let list = env.agent(&repo, &["list", "--json"]).success().json();
    let db_row = list["tasks"].as_array().unwrap().iter().find(|t| t["name"] == "db").unwrap().clone();
    assert!(close(usd(&db_row["cost"]), 4.8), "{db_row}");
    env.agent(&repo, &["spawn", "idle"]).success();
    let list = env.agent(&repo, &["list", "--json"]).success().json();
    assert_eq!(list["tasks"].as_array().unwrap().iter().find(|t| t["name"] == "idle").unwrap()["cost"], Value::Null);
    env.agent(&repo, &["list"]).success().stdout_has("cost $4.80");
    env.agent(&repo, &["show", "api"]).success().stdout_has("cost $0.50");
}

fn claude_line(session: &str, cwd: &Path, id: &str, model: &str, usage: [u64; 4]) -> String {
    json!({
        "parentUuid": null, "isSidechain": false, "userType": "external", "cwd": cwd, "sessionId": session,
        "version": "2.0.0", "gitBranch": "agent/t", "type": "assistant", "uuid": format!("{id}-{}", usage[0]),
        "timestamp": "2026-01-01T00:00:00.000Z", "requestId": format!("req_{id}"),
        "message": {
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "working on it"}], "stop_reason": null,
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1], "cache_read_input_tokens": usage[2],
                      "cache_creation_input_tokens": usage[3], "service_tier": "standard"}
        }
    })
    .to_string()
}

fn user_line(session: &str, cwd: &Path) -> String {
    json!({"type": "user", "sessionId": session, "cwd": cwd, "message": {"role": "user", "content": "go"},
           "timestamp": "2026-01-01T00:00:00.000Z"})
    .to_string()
}

fn import(env: &Env, repo: &Path, agent: &str, dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["cost", "import", agent, "--dir", dir.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    env.agent(repo, &args).success().json()
}

#[test]
fn claude_transcripts_are_imported_once_per_message_and_again_only_for_what_is_new() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n"), ("src/lib.rs", "\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    let wt = agents_dir(&repo).join("t");
    let projects = env.path().join("claude-projects");
    let sonnet = "claude-sonnet-4-5-20250929";
    // Session one: message m1 streamed on two lines (counted once), m2 in a subdirectory.
    let s1 = projects.join("-repo-agents-t/s1.jsonl");
    let one = [
        user_line("s1", &wt),
        claude_line("s1", &wt, "msg_1", sonnet, [100, 10, 1000, 5]),
        claude_line("s1", &wt, "msg_1", sonnet, [100, 10, 1000, 5]),
        "{not json".to_owned(),
        claude_line("s1", &wt.join("src"), "msg_2", sonnet, [200, 20, 0, 0]),
        claude_line("s1", &wt, "msg_0", "<synthetic>", [0, 0, 0, 0]),
    ];
    write(&s1, &(one.join("\n") + "\n"));
    // Session two: another model, same task.
    let two = [claude_line("s2", &wt, "msg_3", "claude-3-5-haiku-20241022", [1000, 100, 0, 0])];
    write(&projects.join("-repo-agents-t/s2.jsonl"), &(two.join("\n") + "\n"));
    // Session three ran in no task's worktree: ignored.
    let three = [claude_line("s3", &repo, "msg_4", sonnet, [5000, 500, 0, 0])];
    write(&projects.join("-repo/s3.jsonl"), &(three.join("\n") + "\n"));

    let before = commits(&env, &repo, "t");
    let dry = import(&env, &repo, "claude", &projects, &["--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["added"].as_array().unwrap().len(), 2, "{dry}");
    assert_eq!(commits(&env, &repo, "t"), before, "a dry run records nothing");

    let first = import(&env, &repo, "claude", &projects, &[]);
    assert_eq!((first["files"].as_u64(), first["sessions"].as_u64()), (Some(3), Some(2)), "{first}");
    assert_eq!(first["ignored_sessions"], 1, "{first}");
    assert_eq!(first["unreadable_lines"], 1, "{first}");
    let added = first["added"].as_array().unwrap();
    let s1_added = added.iter().find(|a| a["source"] == format!("claude:s1:{sonnet}")).unwrap();
    assert_eq!(s1_added["task"], "t");
    assert_eq!(s1_added["model"], sonnet);
    // msg_1 once (100 + 5 cache writes), msg_2; the synthetic message costs nothing.
    assert_eq!((s1_added["input"].as_u64(), s1_added["output"].as_u64()), (Some(305), Some(30)), "{s1_added}");
    assert_eq!(s1_added["cache_read"], 1000);
    let s2_added = added.iter().find(|a| a["source"] == "claude:s2:claude-3-5-haiku-20241022").unwrap();
    assert_eq!(s2_added["input"], 1000);
    assert_eq!(commits(&env, &repo, "t"), before + 1, "one record commit per task per import");
    // Both operations are in the commit's cached state.
    let models = record(&env, &repo, "t")["cost"]["models"].clone();
    assert_eq!(
        (models[sonnet]["input"].as_u64(), models["claude-3-5-haiku-20241022"]["input"].as_u64()),
        (Some(305), Some(1000))
    );
    let by_task = report(&env, &repo, &[]);
    assert_eq!(keys(&by_task), ["t"], "the session elsewhere is not counted");
    assert_eq!(group(&by_task, "t")["input"], 1305);

    // Again: nothing new.
    let again = import(&env, &repo, "claude", &projects, &[]);
    assert_eq!(again["added"], json!([]), "{again}");
    assert_eq!(again["up_to_date"], 2);
    assert_eq!(commits(&env, &repo, "t"), before + 1);

    // The session went on: only its new message is added.
    let mut more = one.to_vec();
    more.push(claude_line("s1", &wt, "msg_5", sonnet, [7, 3, 0, 0]));
    write(&s1, &(more.join("\n") + "\n"));
    let third = import(&env, &repo, "claude", &projects, &[]);
    let added = third["added"].as_array().unwrap();
    assert_eq!(added.len(), 1, "{third}");
    assert_eq!((added[0]["input"].as_u64(), added[0]["output"].as_u64()), (Some(7), Some(3)));
    assert_eq!(group(&report(&env, &repo, &[]), "t")["input"], 1312);

    // Text output names what was recorded.
    let run = env.agent(&repo, &["cost", "import", "claude", "--dir", projects.to_str().unwrap()]).success();
    assert!(run.stderr.contains("2 sessions in task worktrees (0 recorded, 2 up to date), 1 elsewhere"), "{run:#?}");
    // A missing directory is bad input.
    env.agent(&repo, &["cost", "import", "claude", "--dir", env.path().join("nowhere").to_str().unwrap()]).code(2);
    // The default directory is under HOME.
    write(&env.path().join("home/.claude/projects/x/s1.jsonl"), &(more.join("\n") + "\n"));
    let default = env.agent(&repo, &["cost", "import", "claude", "--json"]).success().json();
    assert_eq!(default["added"], json!([]), "the same sessions: {default}");
}

#[test]
fn codex_rollouts_are_imported_from_their_running_totals() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    let wt = agents_dir(&repo).join("t");
    let sessions = env.path().join("codex/sessions");
    let total = |input: u64, cached: u64, output: u64| {
        json!({"timestamp": "2026-01-01T00:00:01.000Z", "type": "event_msg", "payload": {"type": "token_count",
            "info": {"total_token_usage": {"input_tokens": input, "cached_input_tokens": cached,
                "output_tokens": output, "reasoning_output_tokens": 0, "total_tokens": input + output},
                "last_token_usage": {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0,
                "reasoning_output_tokens": 0, "total_tokens": 0}, "model_context_window": 272000},
            "rate_limits": null}})
        .to_string()
    };
    let lines = [
        json!({"timestamp": "2026-01-01T00:00:00.000Z", "type": "session_meta",
               "payload": {"id": "c1", "timestamp": "2026-01-01T00:00:00.000Z", "cwd": wt, "originator": "codex_cli_rs",
                           "cli_version": "0.50.0"}})
        .to_string(),
        json!({"timestamp": "2026-01-01T00:00:00.500Z", "type": "turn_context",
               "payload": {"cwd": wt, "approval_policy": "never", "model": "gpt-5-codex"}})
        .to_string(),
        json!({"timestamp": "2026-01-01T00:00:01.000Z", "type": "event_msg",
               "payload": {"type": "token_count", "info": null, "rate_limits": null}})
        .to_string(),
        total(1000, 400, 100),
        total(3000, 1400, 250),
    ];
    let file = sessions.join("2026/01/01/rollout-2026-01-01T00-00-00-c1.jsonl");
    write(&file, &(lines.join("\n") + "\n"));
    let first = import(&env, &repo, "codex", &sessions, &[]);
    let added = first["added"].as_array().unwrap();
    assert_eq!(added.len(), 1, "{first}");
    assert_eq!(added[0]["source"], "codex:c1:gpt-5-codex");
    assert_eq!(
        (added[0]["input"].as_u64(), added[0]["cache_read"].as_u64(), added[0]["output"].as_u64()),
        (Some(1600), Some(1400), Some(250)),
        "{first}"
    );
    let again = import(&env, &repo, "codex", &sessions, &[]);
    assert_eq!(again["added"], json!([]));
    // gpt-5: 1.25 in, 10 out, 0.125 cache read per million tokens.
    let expected = (1600.0 * 1.25 + 250.0 * 10.0 + 1400.0 * 0.125) / 1e6;
    assert!(close(usd(&group(&report(&env, &repo, &[]), "t")), expected));
    // CODEX_HOME is where the sessions are by default.
    let out = env
        .command("git", &repo)
        .args(["agent", "cost", "import", "codex", "--json"])
        .env("CODEX_HOME", env.path().join("codex"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((json["files"].as_u64(), json["up_to_date"].as_u64()), (Some(1), Some(1)), "{json}");
}

/// Writes a format-2 record for `name` by hand: a spawned operation and cost operations at
/// fixed times (as if synced from another machine), so that days are deterministic.
fn write_record_with_costs(env: &Env, repo: &Path, name: &str, costs: &[(u64, &str, u64)]) {
    let main = rev(env, repo, "main");
    let state = json!({"version": 2, "name": name, "branch": format!("refs/heads/agent/{name}"),
        "base_ref": "refs/heads/main", "base_commit": main, "created_ms": 5, "state": "active"});
    let mut ops = vec![json!({"clock": 1, "id": "a0", "at_ms": 5, "op": "spawned", "record": state})];
    for (i, (at_ms, model, input)) in costs.iter().enumerate() {
        ops.push(json!({"clock": i + 2, "id": format!("c{i}"), "at_ms": at_ms, "op": "cost",
            "cost": {"model": model, "input": input, "output": 0, "source": "manual"}}));
    }
    write_raw_record_files(
        env,
        repo,
        name,
        &[("ops.json", &json!(ops).to_string()), ("task.json", &state.to_string())],
    );
}

const JAN_1: u64 = 1_767_225_600_000;
const DAY: u64 = 86_400_000;

#[test]
fn costs_are_grouped_by_day_and_week_from_when_they_were_recorded() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    write_record_with_costs(
        &env,
        &repo,
        "old",
        &[
            (JAN_1 + 3_600_000, "claude-sonnet-4-5", 1000),
            (JAN_1 + 4 * DAY, "claude-sonnet-4-5", 2000),
            (JAN_1 + 4 * DAY + 5, "claude-haiku-4-5", 3000),
            (JAN_1 + 11 * DAY, "claude-sonnet-4-5", 4000),
        ],
    );
    env.agent(&repo, &["show", "old"]).success();
    let by_day = report(&env, &repo, &["--by", "day"]);
    assert_eq!(keys(&by_day), ["2026-01-01", "2026-01-05", "2026-01-12"], "{by_day}");
    assert_eq!(group(&by_day, "2026-01-05")["input"], 5000);
    let since = report(&env, &repo, &["--by", "day", "--since", "2026-01-05"]);
    assert_eq!(since["since"], "2026-01-05");
    assert_eq!(keys(&since), ["2026-01-05", "2026-01-12"]);
    assert_eq!(since["total"]["input"], 9000);
    // 2026-01-01 is a Thursday: ISO week 1; the 5th and the 12th are Mondays.
    let by_week = report(&env, &repo, &["--by", "week"]);
    assert_eq!(keys(&by_week), ["2026-W01", "2026-W02", "2026-W03"]);
    assert_eq!(report(&env, &repo, &["--since", "2026-02-01"])["groups"], json!([]));
    let run = env.agent(&repo, &["cost", "--since", "2026-02-01"]).success();
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("no costs recorded"), "{run:#?}");
    let by_kind = report(&env, &repo, &["--by", "kind"]);
    assert_eq!(keys(&by_kind), ["(none)"]);
}

#[test]
fn prices_come_from_git_config_and_an_entrys_own_usd_wins() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    let add = |model: &str, extra: &[&str]| {
        let mut args = vec!["cost", "add", "t", "--model", model];
        args.extend_from_slice(extra);
        env.agent(&repo, &args).success();
    };
    add("local-llama", &["--input", "1000000", "--output", "1000000"]);
    let unpriced = env.agent(&repo, &["cost", "--json"]).success();
    assert!(unpriced.stderr.contains("model \"local-llama\" has no price"), "{unpriced:#?}");
    let json = unpriced.json();
    assert_eq!(json["total"]["usd"], Value::Null);
    assert_eq!(json["total"]["unpriced"], json!(["local-llama"]));
    assert_eq!(json["warnings"][0]["kind"], "unpriced");
    let text = env.agent(&repo, &["cost"]).success();
    assert!(text.stdout.lines().nth(1).unwrap().ends_with(" ?"), "{text:#?}");
    env.agent(&repo, &["list"]).success().stdout_has("cost 1.0M in, 1.0M out tokens");

    env.git(&repo, &["config", "agent.price.local-llama.input", "2"]);
    env.git(&repo, &["config", "agent.price.local-llama.output", "10.5"]);
    assert!(close(usd(&report(&env, &repo, &[])["total"]), 12.5));
    // The configured price wins over the built-in one, with cacheRead defaulting to input.
    env.git(&repo, &["config", "agent.price.claude-sonnet-4-5.input", "1"]);
    env.git(&repo, &["config", "agent.price.claude-sonnet-4-5.output", "1"]);
    add("claude-sonnet-4-5", &["--input", "1000000", "--cache-read", "1000000"]);
    assert!(close(usd(&report(&env, &repo, &[])["total"]), 14.5));
    add("claude-sonnet-4-5", &["--input", "1000000", "--usd", "0.25"]);
    let by_model = report(&env, &repo, &["--by", "model"]);
    assert!(close(usd(&group(&by_model, "claude-sonnet-4-5")), 2.25), "{by_model}");
    assert_eq!(by_model["warnings"], json!([]));

    // Invalid prices are bad input, naming the key.
    env.git(&repo, &["config", "agent.price.x.input", "abc"]);
    env.git(&repo, &["config", "agent.price.x.output", "1"]);
    env.agent(&repo, &["cost"]).code(2).stderr_has("agent.price.x.input");
    env.git(&repo, &["config", "agent.price.x.input", "-1"]);
    env.agent(&repo, &["cost"]).code(2);
    env.git(&repo, &["config", "agent.price.x.input", "1"]);
    env.git(&repo, &["config", "--unset", "agent.price.x.output"]);
    env.agent(&repo, &["cost"]).code(2).stderr_has("agent.price.x.output is missing");
}

#[test]
fn a_kind_spending_on_a_model_that_does_not_fit_is_warned_about() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "lint", "--kind", "lint"]).success();
    let plan = env.path().join("plan.json");
    write(
        &plan,
        r#"{"version": 1, "tasks": [
            {"name": "sec", "kind": "security", "scope": ["sec/"], "acceptance": ["audited"]},
            {"name": "feat", "scope": ["feat/"], "acceptance": ["works"]}]}"#,
    );
    env.agent(&repo, &["spawn", "--plan", plan.to_str().unwrap()]).success();
    assert_eq!(record(&env, &repo, "lint")["kind"], "lint");
    assert_eq!(record(&env, &repo, "sec")["kind"], "security");
    assert!(record(&env, &repo, "feat").get("kind").is_none());

    for (task, model) in [
        ("lint", "claude-opus-4-1"),
        ("lint", "claude-haiku-4-5"),
        ("sec", "claude-3-5-haiku"),
        ("feat", "claude-opus-4-1"),
    ] {
        env.agent(&repo, &["cost", "add", task, "--model", model, "--input", "10000"]).success();
    }
    let run = env.agent(&repo, &["cost", "--json"]).success();
    let json = run.json();
    let mismatches: Vec<(String, String)> = json["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "mismatch")
        .map(|w| (w["task"].as_str().unwrap().to_owned(), w["model"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        mismatches,
        [("lint".to_owned(), "claude-opus-4-1".to_owned()), ("sec".to_owned(), "claude-3-5-haiku".to_owned())]
    );
    assert!(run.stderr.contains("task lint (kind lint) spent $0.15 on claude-opus-4-1: mechanical work"), "{run:#?}");
    assert!(run.stderr.contains("task sec (kind security)"), "{run:#?}");
    let by_kind = report(&env, &repo, &["--by", "kind"]);
    assert_eq!(keys(&by_kind), ["(none)", "lint", "security"]);
    // -q silences the warnings, not the data.
    let quiet = env.agent(&repo, &["cost", "-q"]).success();
    assert_eq!(quiet.stderr, "");
    assert!(quiet.stdout.contains("lint"));
}

#[test]
fn bad_kinds_amounts_and_groupings_are_bad_input() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let before = env.snapshot(&repo);
    env.agent(&repo, &["spawn", "t", "--kind", "Not A Kind"]).code(2).stderr_has("not a kind");
    let plan = env.path().join("plan.json");
    write(&plan, r#"{"version": 1, "tasks": [{"name": "p", "kind": "x y", "scope": ["p/"], "acceptance": ["a"]}]}"#);
    env.agent(&repo, &["spawn", "--plan", plan.to_str().unwrap()]).code(2);
    write(&plan, r#"{"version": 1, "tasks": [{"name": "p", "kinds": "lint"}]}"#);
    env.agent(&repo, &["spawn", "--plan", plan.to_str().unwrap()]).code(2);
    assert_eq!(env.snapshot(&repo), before);

    env.agent(&repo, &["spawn", "t"]).success();
    let commits_before = commits(&env, &repo, "t");
    for bad in [
        &["--input", "-5"][..],
        &["--input", "abc"],
        &["--output", "1.5"],
        &["--cache-read", "-1"],
        &["--input", "1", "--usd", "-1"],
        &["--input", "1", "--usd", "NaN"],
        &[],
    ] {
        let mut args = vec!["cost", "add", "t", "--model", "claude-sonnet-4-5"];
        args.extend_from_slice(bad);
        let run = env.agent(&repo, &args);
        assert_eq!(run.code, 2, "{bad:?}: {run:#?}");
    }
    env.agent(&repo, &["cost", "add", "t", "--input", "5"]).code(2);
    env.agent(&repo, &["cost", "add", "ghost", "--model", "m", "--input", "5"]).code(2);
    env.agent(&repo, &["cost", "add", "--model", "m", "--input", "5"]).code(2).stderr_has("not in a task's worktree");
    assert_eq!(commits(&env, &repo, "t"), commits_before, "nothing recorded");
    env.agent(&repo, &["cost", "--by", "month"]).code(2);
    env.agent(&repo, &["cost", "--since", "2026-13-01"]).code(2);
    env.agent(&repo, &["cost", "--since", "last week"]).code(2);
    env.agent(&repo, &["cost", "import", "gemini", "--dir", "."]).code(2);
}

#[test]
fn a_session_whose_directory_climbs_out_of_a_worktree_is_no_tasks() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    let wt = agents_dir(&repo).join("t");
    let projects = env.path().join("claude-projects");
    let outside = wt.join("nonexistent/../../../outside");
    let line = claude_line("s9", &outside, "msg_9", "claude-sonnet-4-5", [100, 10, 0, 0]);
    write(&projects.join("-x/s9.jsonl"), &(line + "\n"));
    let imported = import(&env, &repo, "claude", &projects, &[]);
    assert_eq!(imported["added"], json!([]), "{imported}");
    assert_eq!(imported["ignored_sessions"], 1, "{imported}");
}
