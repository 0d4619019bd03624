//! `git agent report`, `ask`, `answer` and `hooks`: what agents say they are doing, shown by
//! `show` and `list`, `agent.notify`, and idle detection of running agents.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo};

/// A repository with tasks `db` and `api` (no agents).
fn setup(env: &Env) -> PathBuf {
    let repo = canonical_repo(env, "repo", &[("a.txt", "a\n")]);
    for task in ["db", "api"] {
        env.agent(&repo, &["spawn", task, "-q"]).success();
    }
    repo
}

/// The row of `task` in `list --json`.
fn row(env: &Env, repo: &Path, task: &str) -> Value {
    let json = env.agent(repo, &["list", "--json"]).success().json();
    json["tasks"].as_array().unwrap().iter().find(|t| t["name"] == task).cloned().unwrap()
}

/// How many commits the task's record has.
fn record_commits(env: &Env, repo: &Path, task: &str) -> usize {
    env.git(repo, &["rev-list", "--count", &format!("refs/agent/tasks/{task}")]).trim().parse().unwrap()
}

#[test]
fn report_from_inside_a_worktree_and_from_outside_with_the_task() {
    let env = Env::new();
    let repo = setup(&env);
    let db = agents_dir(&repo).join("db");
    env.agent(&db, &["report", "working", "--message", "writing the migration"])
        .success()
        .stderr_has("task db: (none) -> working");
    let status = &row(&env, &repo, "db")["status"];
    assert_eq!(status["status"], "working", "{status}");
    assert_eq!(status["message"], "writing the migration");
    assert!(status["at_ms"].as_u64().unwrap() > 0);
    assert_eq!(row(&env, &repo, "api")["status"], Value::Null);

    // From the main worktree, naming the task; JSON says what changed.
    let json = env.agent(&repo, &["report", "waiting", "db", "--json"]).success().json();
    assert_eq!(
        (json["task"].as_str(), json["old"].as_str(), json["status"].as_str()),
        (Some("db"), Some("working"), Some("waiting"))
    );
    assert_eq!(json["written"], true);
    let list = env.agent(&repo, &["list"]).success();
    let line = list.stdout.lines().find(|l| l.starts_with("db ")).unwrap();
    assert!(line.contains(" waiting "), "{list:#?}");
    assert!(list.stdout.starts_with("TASK  STATE   STATUS"), "{list:#?}");

    // The same status and message again writes nothing.
    let before = record_commits(&env, &repo, "db");
    let json = env.agent(&db, &["report", "waiting", "--json"]).success().json();
    assert_eq!(json["written"], false);
    assert_eq!(record_commits(&env, &repo, "db"), before);

    // Outside any worktree without a task, and with an unknown task: bad input.
    env.agent(&repo, &["report", "working"]).code(2).stderr_has("not in a task's worktree");
    env.agent(&repo, &["report", "working", "nosuch"]).code(2).stderr_has("no task named");
}

#[test]
fn a_bad_status_word_is_bad_input() {
    let env = Env::new();
    let repo = setup(&env);
    let before = env.snapshot(&repo);
    env.agent(&agents_dir(&repo).join("db"), &["report", "sleeping"]).code(2).stderr_has("working");
    env.agent(&repo, &["report", "done", "db"]).code(2);
    assert_eq!(env.snapshot(&repo), before);
}

#[test]
fn ask_and_answer_round_trip_through_show_and_list() {
    let env = Env::new();
    let repo = setup(&env);
    let db = agents_dir(&repo).join("db");
    env.agent(&db, &["ask", "Postgres or SQLite?"]).success();
    let shown = env.agent(&db, &["show"]).success();
    let status = shown.stdout.lines().find(|l| l.starts_with("status ")).unwrap_or_else(|| panic!("{shown:#?}"));
    assert!(status.starts_with("status blocked (") && status.ends_with(" ago): Postgres or SQLite?"), "{shown:#?}");
    assert!(shown.stdout.contains("question (open)"), "{shown:#?}");
    let listed = row(&env, &repo, "db");
    assert_eq!(listed["status"]["status"], "blocked");
    assert_eq!(listed["question"]["text"], "Postgres or SQLite?");
    assert_eq!(listed["answer"], Value::Null);

    // ask --task from elsewhere.
    env.agent(&repo, &["ask", "--task", "api", "Which port?"]).success();
    assert_eq!(row(&env, &repo, "api")["question"]["text"], "Which port?");

    env.agent(&repo, &["answer", "db", "SQLite, for now"]).success().stderr_has("answered task db");
    let shown = env.agent(&db, &["show"]).success();
    // The answer comes first, right after the task's name and state.
    let lines: Vec<&str> = shown.stdout.lines().collect();
    assert!(lines[2].starts_with("ANSWER (") && lines[2].ends_with("): SQLite, for now"), "{shown:#?}");
    assert!(!shown.stdout.contains("(open)"), "{shown:#?}");
    let json = env.agent(&db, &["show", "--json"]).success().json();
    assert_eq!(json["answer"]["text"], "SQLite, for now");
    assert_eq!(json["question"]["text"], "Postgres or SQLite?");
    let listed = row(&env, &repo, "db");
    assert_eq!(listed["answer"]["text"], "SQLite, for now");

    // A new question clears the old answer.
    env.agent(&db, &["ask", "Which index?"]).success();
    assert_eq!(row(&env, &repo, "db")["answer"], Value::Null);
    env.agent(&repo, &["answer", "nosuch", "x"]).code(2);
}

#[test]
fn notify_gets_the_change_in_its_environment_and_its_failure_is_only_a_warning() {
    let env = Env::new();
    let repo = setup(&env);
    let db = agents_dir(&repo).join("db");
    let log = env.path().join("notified");
    let command = format!(
        "printf '%s|%s|%s|%s|%s|%s\\n' \"$GIT_AGENT_TASK\" \"$GIT_AGENT_EVENT\" \"$GIT_AGENT_STATUS_OLD\" \
         \"$GIT_AGENT_STATUS\" \"$GIT_AGENT_MESSAGE\" \"$(pwd)\" >> {}",
        log.display()
    );
    env.git(&repo, &["config", "agent.notify", &command]);
    env.agent(&db, &["report", "working", "-m", "tests"]).success();
    // The same status word again (another message) is no change of status: no notification.
    env.agent(&db, &["report", "working", "-m", "more tests"]).success();
    env.agent(&db, &["ask", "May I drop the table?"]).success();
    env.agent(&repo, &["answer", "db", "yes"]).success();
    let db_dir = db.display().to_string();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!(
            "db|report||working|tests|{db_dir}\ndb|ask|working|blocked|May I drop the table?|{db_dir}\n\
             db|answer|blocked|blocked|yes|{db_dir}\n"
        )
    );

    env.git(&repo, &["config", "agent.notify", "echo broken >&2; exit 7"]);
    env.agent(&db, &["report", "waiting"])
        .success()
        .stderr_has("agent.notify (set in")
        .stderr_has("exit status 7): broken");
    assert_eq!(row(&env, &repo, "db")["status"]["status"], "waiting", "the report is recorded all the same");
}

#[test]
fn notify_hears_when_an_agent_exits() {
    let env = Env::new();
    let repo = setup(&env);
    let log = env.path().join("notified");
    let command = format!(
        "printf '%s|%s|%s\\n' \"$GIT_AGENT_TASK\" \"$GIT_AGENT_EVENT\" \"$GIT_AGENT_MESSAGE\" >> {}",
        log.display()
    );
    env.git(&repo, &["config", "agent.notify", &command]);
    env.agent(&repo, &["spawn", "quick", "--", "sh", "-c", "exit 3"]).code(1);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "quick|agent-exit|the agent exited with status 3\n");
}

#[test]
fn a_running_agent_that_changes_nothing_is_idle() {
    let env = Env::new();
    let repo = setup(&env);
    let db = agents_dir(&repo).join("db");
    // The claim lock of a running agent, as spawn writes it, owned by this (live) test process.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".into());
    let claims = repo.join(".git/agent-claims");
    std::fs::create_dir_all(&claims).unwrap();
    let lock = claims.join("db.lock");
    std::fs::write(&lock, format!("pid {}\nhost {}\nstart \npurpose agent\n", std::process::id(), host.trim()))
        .unwrap();

    // A file changed just now: busy, even with a short agent.idleAfter.
    write(&db.join("a.txt"), "changed\n");
    env.git(&repo, &["config", "agent.idleAfter", "1h"]);
    let busy = row(&env, &repo, "db");
    assert_eq!((busy["running"].as_bool(), busy["idle"].as_bool()), (Some(true), Some(false)), "{busy}");
    assert!(busy["last_activity_unix"].as_i64().is_some(), "{busy}");

    // Everything two hours old (the commits are of 2026-01-01): idle.
    let index = env.git(&db, &["rev-parse", "--git-path", "index"]);
    let index = db.join(index.trim());
    for path in [db.join("a.txt"), index] {
        let touched = env.command("touch", &db).args(["-d", "2 hours ago"]).arg(&path).status().unwrap();
        assert!(touched.success());
    }
    let idle = row(&env, &repo, "db");
    assert_eq!(idle["idle"], true, "{idle}");
    let list = env.agent(&repo, &["list"]).success();
    assert!(list.stdout.contains("agent running, idle for 2h"), "{list:#?}");
    // An untracked file written now is activity.
    write(&db.join("new.txt"), "new\n");
    assert_eq!(row(&env, &repo, "db")["idle"], false);
    std::fs::remove_file(db.join("new.txt")).unwrap();
    // With a longer agent.idleAfter it is not idle yet (180 minutes).
    env.git(&repo, &["config", "agent.idleAfter", "180"]);
    assert_eq!(row(&env, &repo, "db")["idle"], false);

    // An agent that is not running is never idle.
    env.git(&repo, &["config", "agent.idleAfter", "1s"]);
    std::fs::remove_file(&lock).unwrap();
    let stopped = row(&env, &repo, "db");
    assert_eq!((stopped["running"].as_bool(), stopped["idle"].as_bool()), (Some(false), Some(false)), "{stopped}");

    env.git(&repo, &["config", "agent.idleAfter", "soon"]);
    env.agent(&repo, &["list"]).code(2).stderr_has("invalid git config agent.idleAfter").stderr_has("15m");
}

#[test]
fn hooks_print_valid_configuration_that_reports_from_the_worktree() {
    let env = Env::new();
    let repo = setup(&env);
    let db = agents_dir(&repo).join("db");
    let claude = env.agent(&repo, &["hooks", "claude"]).success().json();
    let command = |event: &str| claude["hooks"][event][0]["hooks"][0]["command"].as_str().unwrap().to_owned();
    assert_eq!(claude["hooks"]["Stop"][0]["hooks"][0]["type"], "command");
    assert!(command("UserPromptSubmit").contains("git agent -q report working"), "{claude}");
    assert!(command("Stop").contains("git agent -q report waiting"), "{claude}");
    assert!(command("Notification").contains("git agent -q report waiting"), "{claude}");
    let pre_edit = &claude["hooks"]["PreToolUse"][0];
    assert_eq!(pre_edit["matcher"], "Edit|Write|MultiEdit|NotebookEdit", "{claude}");
    assert!(command("PreToolUse").contains("git agent check-edit --hook claude"), "{claude}");
    // As Claude Code runs it: the tool call on stdin, `sh -c` in the worktree; an edit outside
    // the worktree is denied.
    let input = serde_json::json!({"cwd": db, "tool_name": "Edit", "tool_input": {"file_path": repo.join("a.txt")}});
    let out = env.run_input(&db, "sh", &["-c", &command("PreToolUse")], &input.to_string()).success();
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "deny", "{out:#?}");
    // The hook's command works as Claude Code runs it: `sh -c` in the worktree.
    env.run(&db, "sh", &["-c", &command("UserPromptSubmit")]).success();
    assert_eq!(row(&env, &repo, "db")["status"]["status"], "working");
    // And never fails, even where there is no task.
    env.run(&repo, "sh", &["-c", &command("Stop")]).success();

    let codex = env.agent(&repo, &["hooks", "codex"]).success();
    let line = codex.stdout.lines().find(|l| !l.starts_with('#') && !l.trim().is_empty()).unwrap();
    let array = line.strip_prefix("notify = ").unwrap_or_else(|| panic!("{codex:#?}"));
    // A TOML array of basic strings without escapes other than JSON's reads as JSON.
    let argv: Vec<String> = serde_json::from_str(array).unwrap();
    assert!(argv.iter().any(|a| a.contains("git agent -q report waiting")), "{argv:?}");
    // Codex appends the turn's JSON as the last argument.
    let mut args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    args.push(r#"{"type":"agent-turn-complete","turn-id":"1"}"#);
    env.run(&db, &argv[0], &args).success();
    assert_eq!(row(&env, &repo, "db")["status"]["status"], "waiting");
    env.agent(&repo, &["hooks", "cursor"]).code(2);
}

#[test]
fn an_empty_or_huge_question_is_refused_and_records_nothing() {
    let env = Env::new();
    let repo = setup(&env);
    let db = agents_dir(&repo).join("db");
    let before = record_commits(&env, &repo, "db");
    env.agent(&db, &["ask", ""]).code(2).stderr_has("empty");
    env.agent(&db, &["ask", &"x".repeat(5000)]).code(2).stderr_has("more than 4096");
    env.agent(&db, &["report", "working", "-m", &"x".repeat(5000)]).code(2);
    assert_eq!(record_commits(&env, &repo, "db"), before);
}
