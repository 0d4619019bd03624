//! `git agent schema` and `--json`: every command's real output, in states that fill its
//! optional fields, is valid against the schema `git agent schema CMD` prints; the schemas are
//! closed (a field they do not name fails); errors are a JSON object on stdout; spawn keeps
//! stdout to its report while a foreground agent writes; `git agent setup` installs the schemas.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo};

/// The schemas as `git agent schema` prints them, and the commands whose output was checked.
struct Schemas {
    schemas: BTreeMap<String, Value>,
    checked: BTreeSet<String>,
}

impl Schemas {
    fn new(env: &Env) -> Schemas {
        let names = env.agent(env.path(), &["schema"]).success().stdout;
        let schemas = names
            .lines()
            .map(|name| (name.to_owned(), env.agent(env.path(), &["schema", name]).success().json()))
            .collect();
        Schemas { schemas, checked: BTreeSet::new() }
    }

    /// Runs `git agent --json ARGS` in `cwd`, expects one of `codes`, and validates stdout
    /// against the schema of `name` (the first argument unless given), or of `error` when the
    /// command failed without a document of its own.
    #[track_caller]
    fn run(&mut self, env: &Env, cwd: &Path, args: &[&str], codes: &[i32]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = env.agent(cwd, &all);
        assert!(codes.contains(&run.code), "git agent {all:?} exited {}: {run:#?}", run.code);
        let value = run.json();
        let name = if value.get("error").is_some() { "error" } else { args[0] };
        self.validate(name, &value);
        value
    }

    #[track_caller]
    fn validate(&mut self, name: &str, value: &Value) {
        let schema = self.schemas.get(name).unwrap_or_else(|| panic!("no schema for {name}"));
        let validator = jsonschema::validator_for(schema).unwrap_or_else(|err| panic!("schema of {name}: {err}"));
        let errors: Vec<String> =
            validator.iter_errors(value).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "output of {name} against its schema:\n{}\n{value:#}", errors.join("\n"));
        self.checked.insert(name.to_owned());
    }

    fn valid(&self, name: &str, value: &Value) -> bool {
        jsonschema::validator_for(&self.schemas[name]).unwrap().is_valid(value)
    }
}

const FILES: &[(&str, &str)] = &[("shared.txt", "one\ntwo\nthree\n"), ("a.txt", "a\n"), ("b.txt", "b\n")];

fn worktree(repo: &Path, task: &str) -> PathBuf {
    agents_dir(repo).join(task)
}

#[test]
fn every_json_output_is_valid_against_its_schema() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    let mut s = Schemas::new(&env);

    // spawn: plain, with a foreground agent, --check of a task, of variants and of a plan.
    s.run(&env, &repo, &["spawn", "a", "--brief", "do a", "--scope", "a.txt", "--acceptance", "works"], &[0]);
    s.run(&env, &repo, &["spawn", "b", "--after", "a", "--from-base"], &[0]);
    let spawned = s.run(&env, &repo, &["spawn", "fg", "--", "sh", "-c", "echo from the agent"], &[0]);
    assert_eq!(spawned["spawned"][0]["agent"]["exit"], 0, "{spawned:#}");
    let check = s.run(&env, &repo, &["spawn", "c", "--check"], &[0]);
    assert_eq!(check["check"]["tasks"][0]["task"], "c", "{check:#}");
    s.run(&env, &repo, &["spawn", "w", "--variants", "2", "--check"], &[0]);
    write(&repo.join(".git/plan.json"), r#"{"tasks": [{"name": "p1"}, {"name": "p2", "after": ["p1"]}]}"#);
    let check = s.run(&env, &repo, &["spawn", "--plan", ".git/plan.json", "--check"], &[0]);
    assert_eq!(check["check"]["order"], json!(["p1", "p2"]), "{check:#}");

    // Work that conflicts: a and b both change shared.txt.
    env.commit(&worktree(&repo, "a"), &[("shared.txt", "one\nA\nthree\n"), ("a.txt", "a2\n")], "a");
    env.commit(&worktree(&repo, "b"), &[("shared.txt", "one\nB\nthree\n")], "b");
    write(&worktree(&repo, "b").join("b.txt"), "uncommitted\n");
    let conflicts = s.run(&env, &repo, &["conflicts", "--include-uncommitted"], &[1]);
    assert!(!conflicts["pairs"].as_array().unwrap().is_empty(), "{conflicts:#}");
    s.run(&env, &repo, &["conflicts", "a"], &[0]);

    // The agent's side: status, questions, checkpoints, cost, edits, the plan gate.
    let a = worktree(&repo, "a");
    s.run(&env, &a, &["report", "working", "-m", "on it"], &[0]);
    s.run(&env, &a, &["ask", "which colour?"], &[0]);
    s.run(&env, &repo, &["answer", "a", "blue"], &[0]);
    s.run(
        &env,
        &a,
        &["checkpoint", "--completed", "the parser", "--next", "the printer", "--decision", "no regex"],
        &[0],
    );
    s.run(&env, &a, &["cost", "add", "--model", "claude-sonnet-4", "--input", "1000", "--output", "200"], &[0]);
    s.run(&env, &a, &["cost", "add", "--model", "mystery", "--input", "5", "--usd", "0.25"], &[0]);
    s.run(&env, &repo, &["cost"], &[0]);
    s.run(&env, &repo, &["cost", "--by", "model"], &[0]);
    std::fs::create_dir_all(env.path().join("sessions")).unwrap();
    s.run(&env, &repo, &["cost", "import", "claude", "--dir", env.path().join("sessions").to_str().unwrap()], &[0]);
    s.run(&env, &worktree(&repo, "b"), &["check-edit", "shared.txt", "a.txt", "b.txt"], &[0, 1]);
    s.run(&env, &repo, &["spawn", "g", "--gate"], &[0]);
    let g = worktree(&repo, "g");
    s.run(&env, &g, &["propose", "-m", "rewrite everything"], &[0]);
    s.run(&env, &repo, &["reject", "g", "--reason", "too broad"], &[0]);
    s.run(&env, &g, &["propose", "-m", "only shared.txt"], &[0]);
    s.run(&env, &repo, &["approve", "g"], &[0]);
    s.run(&env, &repo, &["handoff", "a"], &[0]);
    s.run(&env, &repo, &["handoff", "fg", "--to", "fg2"], &[0]);

    // What people read: list, show, path.
    let list = s.run(&env, &repo, &["list"], &[0]);
    assert!(list["tasks"].as_array().unwrap().len() >= 5, "{list:#}");
    // -v names the uncommitted files: a dirty worktree makes sure there are some.
    write(&worktree(&repo, "a").join("scratch.txt"), "uncommitted\n");
    let verbose = s.run(&env, &repo, &["list", "-v"], &[0]);
    let rows = verbose["tasks"].as_array().unwrap();
    assert!(rows.iter().any(|row| row["uncommitted"].as_array().is_some_and(|files| !files.is_empty())), "{verbose:#}");
    std::fs::remove_file(worktree(&repo, "a").join("scratch.txt")).unwrap();
    s.run(&env, &repo, &["show", "a"], &[0]);
    s.run(&env, &repo, &["path", "a"], &[0]);

    // Agents run again, in the foreground and in the background.
    s.run(&env, &repo, &["run", "fg", "--", "sh", "-c", "echo again; exit 3"], &[1]);
    s.run(&env, &repo, &["run", "fg", "--detach", "--", "sleep", "60"], &[0]);
    s.run(&env, &repo, &["stop", "fg", "--grace", "1"], &[0]);

    // Variants compared and converged.
    s.run(&env, &repo, &["spawn", "v", "--variants", "2", "--no-agent"], &[0]);
    env.commit(&worktree(&repo, "v.1"), &[("a.txt", "v1\n")], "v1");
    s.run(&env, &repo, &["compare", "v", "--test", "true"], &[0]);
    s.run(&env, &repo, &["converge", "v", "--pick", "v.1", "--dry-run"], &[0]);

    // Integration, with a task left out and one step; then nothing to integrate.
    s.run(&env, &repo, &["done", "a"], &[0]);
    let integrated = s.run(&env, &repo, &["integrate"], &[0]);
    assert_eq!(integrated["landed"], true, "{integrated:#}");
    s.run(&env, &repo, &["integrate"], &[0]);
    // b changed the line a changed: its step conflicts, nothing lands.
    s.run(&env, &repo, &["restack"], &[0, 1]);
    s.run(&env, &repo, &["done", "b"], &[0]);
    let conflicted = s.run(&env, &repo, &["integrate", "b"], &[1]);
    assert_eq!(conflicted["landed"], false, "{conflicted:#}");

    // Prune: a dry run, then the integrated task.
    s.run(&env, &repo, &["prune", "--dry-run", "--all"], &[0, 1, 3]);
    s.run(&env, &repo, &["prune"], &[0]);

    // archive: what prune --force saved of a task with uncommitted work.
    write(&worktree(&repo, "g").join("notes.txt"), "unsaved\n");
    s.run(&env, &repo, &["prune", "g", "--force"], &[0]);
    let archives = s.run(&env, &repo, &["archive"], &[0]);
    assert_eq!(archives["archives"][0]["task"], "g", "{archives:#}");
    s.run(&env, &repo, &["archive", "drop", "--all", "--dry-run"], &[0]);

    // join: a task whose worktree was removed gets one again.
    s.run(&env, &repo, &["spawn", "j"], &[0]);
    env.git(&repo, &["worktree", "remove", worktree(&repo, "j").to_str().unwrap()]);
    s.run(&env, &repo, &["join", "j"], &[0]);

    // sync with a bare remote.
    let remote = env.path().join("remote.git");
    env.git(env.path(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    env.git(&repo, &["remote", "add", "origin", remote.to_str().unwrap()]);
    env.git(&repo, &["push", "-q", "origin", "main"]);
    s.run(&env, &repo, &["sync"], &[0, 1]);

    s.run(&env, &repo, &["setup", "--dry-run"], &[0]);
    s.run(&env, &repo, &["show", "no-such-task"], &[2]);

    let missing: Vec<&String> = s.schemas.keys().filter(|name| !s.checked.contains(*name)).collect();
    assert!(missing.is_empty(), "no real output was validated against the schemas of {missing:?}");
}

#[test]
fn the_schemas_are_closed_a_field_they_do_not_name_fails() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    let mut s = Schemas::new(&env);
    s.run(&env, &repo, &["spawn", "a"], &[0]);
    let list = s.run(&env, &repo, &["list"], &[0]);
    let mut top = list.clone();
    top["surprise"] = json!(1);
    assert!(!s.valid("list", &top), "a new top-level field is rejected");
    let mut nested = list.clone();
    nested["tasks"][0]["surprise"] = json!(1);
    assert!(!s.valid("list", &nested), "a new field of a row is rejected");
    // A record keeps the fields a newer git-agent wrote (so its schema allows more), but
    // the fields it names have their types.
    let show = s.run(&env, &repo, &["show", "a"], &[0]);
    let mut record = show.clone();
    record["name"] = json!(7);
    assert!(!s.valid("show", &record), "a field of the wrong type is rejected");
    // A finding is a flattened enum: its variant's fields are allowed, nothing else.
    s.run(&env, &repo, &["spawn", "g", "--gate"], &[0]);
    let report = s.run(&env, &repo.with_file_name("repo.agents/g"), &["check-edit", "shared.txt"], &[1]);
    let finding = &report["paths"][0]["findings"][0];
    assert_eq!(finding["verdict"], "gated", "{report:#}");
    let mut extra = report.clone();
    extra["paths"][0]["findings"][0]["surprise"] = json!(1);
    assert!(!s.valid("check-edit", &extra), "a new field of a finding is rejected");
    let error = s.run(&env, &repo, &["path", "nope"], &[2]);
    let mut error = error.clone();
    error["error"]["surprise"] = json!(true);
    assert!(!s.valid("error", &error), "the error object is closed too");
}

#[test]
fn schema_lists_prints_and_refuses() {
    let env = Env::new();
    let names = env.agent(env.path(), &["schema"]).success().stdout;
    for name in ["list", "spawn", "conflicts", "integrate", "prune", "show", "error"] {
        assert!(names.lines().any(|line| line == name), "{name} is listed: {names}");
    }
    let list = env.agent(env.path(), &["schema", "list"]).success().json();
    assert_eq!(list["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(list["unevaluatedProperties"], false, "{list:#}");
    env.agent(env.path(), &["schema", "demo"])
        .code(2)
        .stderr_has("no schema for \"demo\"")
        .stderr_has("hint: these have one: spawn, list");
}

#[test]
fn setup_installs_the_schemas_as_schema_prints_them() {
    let env = Env::new();
    let data = env.path().join("data");
    let run = env
        .command("git", env.path())
        .args(["agent", "setup", "--man-prefix"])
        .arg(env.path().join("prefix"))
        .env("XDG_DATA_HOME", &data)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    for name in env.agent(env.path(), &["schema"]).success().stdout.lines() {
        let installed = std::fs::read_to_string(data.join(format!("git-agent/schemas/{name}.json")))
            .unwrap_or_else(|err| panic!("schema of {name} not installed: {err}"));
        assert_eq!(installed, env.agent(env.path(), &["schema", name]).success().stdout, "{name}");
    }
}

#[test]
fn errors_under_json_are_one_object_on_stdout_with_the_text_on_stderr() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    let mut s = Schemas::new(&env);

    let run = env.agent(&repo, &["show", "nope", "--json"]).code(2).stderr_has("error: ");
    let error = run.json();
    assert_eq!(error["error"]["exit"], 2, "{error:#}");
    assert!(error["error"]["message"].as_str().unwrap().contains("nope"), "{error:#}");
    s.validate("error", &error);

    // Refused by the repository's state (3), with the hint the text has.
    s.run(&env, &repo, &["spawn", "a"], &[0]);
    let run = env.agent(&repo, &["spawn", "a", "--json"]).code(3);
    let error = run.json();
    assert_eq!(error["error"]["exit"], 3, "{error:#}");
    let hint = error["error"]["hint"].as_str().expect("a hint");
    assert!(run.stderr.contains(&format!("hint: {hint}")), "{run:#?}");
    s.validate("error", &error);

    // A usage error, found by clap, in the umbrella and in a stand-alone binary.
    for (program, args) in
        [("git", &["agent", "list", "--no-such-flag", "--json"][..]), ("git-agent-prune", &["--json", "--bogus"][..])]
    {
        let run = env.run(&repo, program, args).code(2);
        let error = run.json();
        assert_eq!(error["error"]["exit"], 2, "{error:#}");
        assert!(error["error"]["message"].as_str().unwrap().contains("unexpected argument"), "{error:#}");
        assert!(run.stderr.contains("unexpected argument"), "{run:#?}");
        s.validate("error", &error);
    }
    // Without --json, stdout stays empty.
    let run = env.agent(&repo, &["show", "nope"]).code(2);
    assert_eq!(run.stdout, "", "{run:#?}");
    // --help is help, not an error.
    env.agent(&repo, &["list", "--json", "--help"]).success().stdout_has("Usage");
}

#[test]
fn spawn_keeps_stdout_to_its_report_while_a_foreground_agent_writes() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    // printf: what it writes ("agent-out") is not in the command line the report repeats.
    let agent = ["sh", "-c", "printf 'agent-%s\\n' out; printf 'agent-%s\\n' err >&2"];

    let mut args = vec!["spawn", "a", "--json", "--"];
    args.extend(agent);
    let run = env.agent(&repo, &args).success();
    let report = run.json();
    assert_eq!(report["spawned"][0]["task"], "a", "{run:#?}");
    assert!(!run.stdout.contains("agent-out"), "{run:#?}");
    assert!(run.stderr.contains("agent-out") && run.stderr.contains("agent-err"), "{run:#?}");

    // Text: stdout is the worktree path alone, so `cd "$(git agent spawn b -- agent)"` works.
    let mut args = vec!["spawn", "b", "--"];
    args.extend(agent);
    let run = env.agent(&repo, &args).success();
    assert_eq!(run.stdout, format!("{}\n", worktree(&repo, "b").display()), "{run:#?}");
    assert!(run.stderr.contains("agent-out"), "{run:#?}");

    // `run` in the foreground too.
    let mut args = vec!["run", "b", "--json", "--"];
    args.extend(agent);
    let run = env.agent(&repo, &args).success();
    assert_eq!(run.json()["exit"], 0, "{run:#?}");
    assert!(run.stderr.contains("agent-out"), "{run:#?}");
}

#[test]
fn spawn_check_json_says_what_would_be_spawned_and_writes_nothing() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    env.agent(&repo, &["spawn", "db"]).success();
    env.commit(&worktree(&repo, "db"), &[("a.txt", "db\n")], "db");
    let before = env.snapshot(&repo);
    let run = env.agent(&repo, &["spawn", "ui", "--after", "db", "--check", "--json"]).success();
    let check = run.json();
    let tip = env.git(&repo, &["rev-parse", "agent/db"]);
    assert_eq!(
        check,
        json!({"version": 1, "check": {"tasks": [{
            "task": "ui",
            "branch": "agent/ui",
            "start_commit": tip.trim(),
            "stacked_on": ["db"],
            "worktree": worktree(&repo, "ui"),
        }]}}),
        "{run:#?}"
    );
    assert_eq!(env.snapshot(&repo), before, "--check wrote nothing");
    // A task that cannot be spawned: the error object, and still nothing written.
    let error = env.agent(&repo, &["spawn", "db", "--check", "--json"]).code(3).json();
    assert_eq!(error["error"]["exit"], 3, "{error:#}");
    assert_eq!(env.snapshot(&repo), before);
}

#[test]
fn spawn_plan_check_json_lists_every_problem_of_the_plan() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    let s = Schemas::new(&env);
    // A duplicate task, a dependency on nothing, two scopes that overlap; c lacks acceptance.
    write(
        &repo.join(".git/plan.json"),
        r#"{"tasks": [
            {"name": "a", "scope": ["src/"], "acceptance": ["x"]},
            {"name": "b", "scope": ["src/lib.rs"], "acceptance": ["x"]},
            {"name": "a", "scope": ["other/"], "acceptance": ["x"]},
            {"name": "c", "scope": ["c/"], "after": ["ghost"]}]}"#,
    );
    let before = env.snapshot(&repo);
    let run = env.agent(&repo, &["spawn", "--plan", ".git/plan.json", "--check", "--json"]).code(2);
    let check = run.json();
    assert!(s.valid("spawn", &check), "{check:#}");
    let errors: Vec<&str> = check["check"]["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(errors.len(), 3, "one string per problem: {errors:#?}");
    for (error, needle) in errors.iter().zip(["\"a\" appears more than once", "\"ghost\"", "scopes of \"a\" and \"b\""])
    {
        assert!(error.contains(needle), "{needle}: {errors:#?}");
    }
    let warnings = check["check"]["warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w.as_str().unwrap().contains("\"c\" has no acceptance criteria")), "{check:#}");
    assert!(run.stderr.contains("error: ") && run.stderr.contains("ghost"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before, "--check wrote nothing");

    // Without --check an invalid plan is an error, as one object.
    let error = env.agent(&repo, &["spawn", "--plan", ".git/plan.json", "--json"]).code(2).json();
    assert!(error["error"]["message"].as_str().unwrap().contains("ghost"), "{error:#}");
    assert!(s.valid("error", &error), "{error:#}");
    assert_eq!(env.snapshot(&repo), before);
}

#[test]
fn commands_whose_output_is_no_data_refuse_json() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    let s = Schemas::new(&env);
    env.agent(&repo, &["spawn", "db", "-q"]).success();
    let before = env.snapshot(&repo);
    let demo = env.path().join("demo");
    for args in [
        &["demo", demo.to_str().unwrap()][..],
        &["help", "spawn"],
        &["open", "db"],
        &["setup", "--shell", "bash"],
        &["logs", "db"],
        &["attach", "db"],
        &["cd", "db"],
    ] {
        let mut all = args.to_vec();
        all.push("--json");
        let run = env.agent(&repo, &all).code(2);
        let error = run.json();
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.ends_with("has no JSON output"), "{args:?}: {run:#?}");
        assert!(s.valid("error", &error), "{error:#}");
    }
    assert!(!demo.exists(), "the demo made nothing");
    assert_eq!(env.snapshot(&repo), before);

    // The shell function hands `cd --json` to git-agent, and changes no directory.
    for name in ["bash", "zsh", "fish"] {
        let (load, status) = match name {
            "fish" => ("git agent setup --shell fish | source", "$status"),
            _ => (&*format!("eval \"$(git agent setup --shell {name})\""), "$?"),
        };
        let script = format!("{load}\ngit agent cd --json db\necho status {status}\npwd\n");
        let run = crate::worktree_setup::shell(&env, &repo, name, &script);
        let tail = format!("status 2\n{}\n", repo.display());
        let document = run.stdout.strip_suffix(&tail).unwrap_or_else(|| panic!("{name}: {run:#?}"));
        let error: Value = serde_json::from_str(document).unwrap_or_else(|err| panic!("{name}: {err}: {run:#?}"));
        assert_eq!(error["error"]["message"], "git agent cd has no JSON output", "{name}: {run:#?}");
    }
}

#[test]
fn usage_errors_under_json_carry_clap_s_whole_message() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    let s = Schemas::new(&env);
    let run = env.agent(&repo, &["spawn", "--json"]).code(2);
    let error = run.json();
    assert_eq!(error["error"]["message"], "the following required arguments were not provided: <TASK>", "{run:#?}");
    let hint = error["error"]["hint"].as_str().unwrap();
    assert!(hint.starts_with("Usage: git-agent spawn") && !hint.contains("For more information"), "{run:#?}");
    assert!(s.valid("error", &error), "{error:#}");
}

#[test]
fn an_unknown_command_is_a_json_error_wherever_json_is_given() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", FILES);
    let s = Schemas::new(&env);
    for (program, args) in [
        ("git", &["agent", "nosuch", "--json"][..]),
        ("git", &["agent", "--json", "nosuch"]),
        ("git-agent", &["nosuch", "--json"]),
        ("git-agent", &["--json", "nosuch"]),
    ] {
        let run = env.run(&repo, program, args).code(2).stderr_has("'nosuch' is not a git agent command");
        let error = run.json();
        assert_eq!(error["error"]["message"], "'nosuch' is not a git agent command", "{args:?}: {run:#?}");
        assert!(s.valid("error", &error), "{error:#}");
    }
    // After `--`, --json is an argument, not the flag.
    let run = env.agent(&repo, &["nosuch", "--", "--json"]).code(2);
    assert_eq!(run.stdout, "", "{run:#?}");
}
