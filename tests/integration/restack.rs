//! Stacked dependencies: `spawn --after` starts on the dependencies' work (one, none, several,
//! conflicting; `--from-base`, `agent.stack=false`, plans), and `git agent restack` moves
//! dependent tasks onto their dependencies' new work: all or nothing per task, refused when
//! dirty or running, a conflict reported and left alone, a concurrent commit a lost race.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo, record, rev};

fn setup(env: &Env) -> PathBuf {
    canonical_repo(env, "repo", &[("README.md", "hello\n"), ("shared.txt", &numbered("shared"))])
}

/// Spawns `task` (extra arguments after it), returning its worktree.
fn spawn(env: &Env, repo: &Path, task: &str, extra: &[&str]) -> (PathBuf, Run) {
    let mut args = vec!["spawn", task];
    args.extend_from_slice(extra);
    let run = env.agent(repo, &args).success();
    (agents_dir(repo).join(task), run)
}

fn parents(env: &Env, repo: &Path, rev: &str) -> Vec<String> {
    let line = env.git(repo, &["rev-list", "--parents", "-n", "1", rev]);
    line.split_whitespace().skip(1).map(str::to_owned).collect()
}

fn list_row(env: &Env, repo: &Path, task: &str) -> serde_json::Value {
    let json = env.agent(repo, &["list", "--json"]).success().json();
    json["tasks"].as_array().unwrap().iter().find(|t| t["name"] == task).unwrap().clone()
}

#[test]
fn a_dependent_starts_on_the_tip_of_the_dependency_with_commits() {
    let env = Env::new();
    let repo = setup(&env);
    let main = rev(&env, &repo, "main");
    let (db, _) = spawn(&env, &repo, "db", &["--scope", "db/"]);
    env.commit(&db, &[("db/schema.sql", "create table t;\n")], "db: schema");
    let db_tip = rev(&env, &repo, "agent/db");

    let (api, run) = spawn(&env, &repo, "api", &["--after", "db", "--scope", "api/"]);
    assert!(run.stderr.contains("stacked on db"), "{run:#?}");
    assert_eq!(rev(&env, &repo, "agent/api"), db_tip, "the branch starts at db's tip");
    assert!(api.join("db/schema.sql").is_file(), "the worktree has db's work");
    let json = record(&env, &repo, "api");
    assert_eq!(json["base_commit"], main, "the base is still the base branch's commit");
    assert_eq!(json["stack"]["onto"], db_tip.as_str());
    assert_eq!(json["stack"]["tips"], serde_json::json!({ "db": db_tip }));

    // Its own work only: db's commit and file are db's.
    env.commit(&api, &[("api/routes.rs", "// routes\n")], "api: routes");
    let row = list_row(&env, &repo, "api");
    assert_eq!(row["ahead"], 1, "{row:#}");
    assert_eq!(row["files_changed"], 1, "{row:#}");
    assert_eq!(row["inherited_commits"], 1, "{row:#}");
    assert_eq!(row["out_of_scope"], serde_json::json!([]), "{row:#}");
    assert_eq!(row["dependency_moved"], false, "{row:#}");
    // The conflict gate counts only its own changes against its scope too.
    let gate = env.agent(&repo, &["conflicts", "--json"]).success().json();
    assert_eq!(gate["hazards"], serde_json::json!([]), "{gate:#}");
}

#[test]
fn a_dependency_without_commits_leaves_the_task_on_the_base_but_stackable() {
    let env = Env::new();
    let repo = setup(&env);
    let main = rev(&env, &repo, "main");
    spawn(&env, &repo, "db", &[]);
    let (_, run) = spawn(&env, &repo, "api", &["--after", "db"]);
    assert!(!run.stderr.contains("stacked"), "{run:#?}");
    assert_eq!(rev(&env, &repo, "agent/api"), main);
    let json = record(&env, &repo, "api");
    assert_eq!(json["stack"], serde_json::json!({ "onto": main, "tips": {} }), "stacked, on nothing yet");
    assert_eq!(list_row(&env, &repo, "api")["dependency_moved"], false);
    // Nothing to do yet.
    env.agent(&repo, &["restack"]).success().stderr_has("nothing to restack");
    env.agent(&repo, &["restack", "api"]).success().stdout_has("up-to-date api");
    env.agent(&repo, &["restack", "db"]).success().stdout_has("up-to-date db: it has no dependencies");
    env.agent(&repo, &["restack", "nosuch"]).code(2).stderr_has("no task named \"nosuch\"");
    env.agent(&repo, &["restack", "../x"]).code(2);
}

#[test]
fn several_dependencies_with_commits_start_on_their_merge() {
    let env = Env::new();
    let repo = setup(&env);
    let (db, _) = spawn(&env, &repo, "db", &["--scope", "db/"]);
    let (ui, _) = spawn(&env, &repo, "ui", &["--scope", "ui/"]);
    env.commit(&db, &[("db/schema.sql", "create table t;\n")], "db: schema");
    env.commit(&ui, &[("ui/app.js", "app()\n")], "ui: app");
    let (db_tip, ui_tip) = (rev(&env, &repo, "agent/db"), rev(&env, &repo, "agent/ui"));

    let (web, run) = spawn(&env, &repo, "web", &["--after", "db", "--after", "ui", "--scope", "web/"]);
    assert!(run.stderr.contains("stacked on db and ui"), "{run:#?}");
    let start = rev(&env, &repo, "agent/web");
    assert_eq!(parents(&env, &repo, &start), [db_tip.clone(), ui_tip.clone()], "a merge of the two tips");
    assert!(web.join("db/schema.sql").is_file() && web.join("ui/app.js").is_file());
    let json = record(&env, &repo, "web");
    assert_eq!(json["stack"]["onto"], start.as_str());
    assert_eq!(json["stack"]["tips"], serde_json::json!({ "db": db_tip, "ui": ui_tip }));
    // The merge is by the user, as git merge would make it.
    assert_eq!(env.git(&repo, &["log", "-1", "--format=%cn <%ce>", &start]).trim(), "Test <test@example.com>");
    let row = list_row(&env, &repo, "web");
    assert_eq!((row["ahead"].clone(), row["files_changed"].clone()), (0.into(), 0.into()), "{row:#}");
    assert_eq!(row["inherited_commits"], 3, "both commits and their merge: {row:#}");
    // Scoped to web/, it has changed nothing outside: db's and ui's files are theirs.
    let gate = env.agent(&repo, &["conflicts", "--json"]).success().json();
    assert_eq!(gate["hazards"], serde_json::json!([]), "{gate:#}");

    // A dependency whose work another one holds already adds nothing: no merge.
    let (api, _) = spawn(&env, &repo, "api", &["--after", "db"]);
    env.commit(&api, &[("api/routes.rs", "// routes\n")], "api: routes");
    spawn(&env, &repo, "docs", &["--after", "db", "--after", "api"]);
    assert_eq!(rev(&env, &repo, "agent/docs"), rev(&env, &repo, "agent/api"));
    assert_eq!(
        record(&env, &repo, "docs")["stack"]["tips"],
        serde_json::json!({ "api": rev(&env, &repo, "agent/api") })
    );
}

#[test]
fn dependencies_that_conflict_refuse_the_stack_and_from_base_still_works() {
    let env = Env::new();
    let repo = setup(&env);
    let (db, _) = spawn(&env, &repo, "db", &[]);
    let (ui, _) = spawn(&env, &repo, "ui", &[]);
    env.commit(&db, &[("shared.txt", &numbered("db"))], "db: shared");
    env.commit(&ui, &[("shared.txt", &numbered("ui"))], "ui: shared");
    let before = env.snapshot(&repo);
    let run = env.agent(&repo, &["spawn", "web", "--after", "db", "--after", "ui"]).code(3);
    assert!(run.stderr.contains("cannot be stacked on agent/db and agent/ui"), "{run:#?}");
    assert!(run.stderr.contains("shared.txt") && run.stderr.contains("--from-base"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before, "nothing was created");
    env.agent(&repo, &["spawn", "web", "--after", "db", "--after", "ui", "--check"]).code(3);

    spawn(&env, &repo, "web", &["--after", "db", "--after", "ui", "--from-base"]);
    assert_eq!(rev(&env, &repo, "agent/web"), rev(&env, &repo, "main"));
    assert!(record(&env, &repo, "web").get("stack").is_none(), "from the base: no stack field");
}

#[test]
fn from_base_and_agent_stack_false_keep_the_base() {
    let env = Env::new();
    let repo = setup(&env);
    let main = rev(&env, &repo, "main");
    let (db, _) = spawn(&env, &repo, "db", &[]);
    env.commit(&db, &[("db/schema.sql", "x\n")], "db: schema");
    let db_tip = rev(&env, &repo, "agent/db");

    spawn(&env, &repo, "a", &["--after", "db", "--from-base"]);
    assert_eq!(rev(&env, &repo, "agent/a"), main);
    assert!(record(&env, &repo, "a").get("stack").is_none());

    env.git(&repo, &["config", "agent.stack", "false"]);
    spawn(&env, &repo, "b", &["--after", "db"]);
    assert_eq!(rev(&env, &repo, "agent/b"), main, "agent.stack=false: from the base by default");
    assert!(record(&env, &repo, "b").get("stack").is_none());
    spawn(&env, &repo, "c", &["--after", "db", "--stack"]);
    assert_eq!(rev(&env, &repo, "agent/c"), db_tip, "--stack overrides agent.stack=false");
    // Not stacked, so list does not call for a restack, whatever db does.
    env.commit(&db, &[("db/more.sql", "y\n")], "db: more");
    assert_eq!(list_row(&env, &repo, "b")["dependency_moved"], false);
    assert_eq!(list_row(&env, &repo, "c")["dependency_moved"], true);

    env.git(&repo, &["config", "agent.stack", "sometimes"]);
    let run = env.agent(&repo, &["spawn", "d", "--after", "db"]).code(2);
    assert!(run.stderr.contains("agent.stack") && run.stderr.contains(".git/config"), "{run:#?}");
    env.agent(&repo, &["spawn", "e", "--from-base", "--stack"]).code(2);
}

#[test]
fn a_plan_stacks_its_tasks_in_dependency_order() {
    let env = Env::new();
    let repo = setup(&env);
    let main = rev(&env, &repo, "main");
    let (db, _) = spawn(&env, &repo, "db", &["--scope", "db/"]);
    env.commit(&db, &[("db/schema.sql", "x\n")], "db: schema");
    let db_tip = rev(&env, &repo, "agent/db");
    let plan = env.path().join("plan.json");
    write(
        &plan,
        r#"{"tasks":[
            {"name":"web","after":["api"],"scope":["web/"],"acceptance":["x"]},
            {"name":"api","after":["db"],"scope":["api/"],"acceptance":["x"]},
            {"name":"cli","after":["fresh"],"scope":["cli/"],"acceptance":["x"]},
            {"name":"fresh","scope":["fresh/"],"acceptance":["x"]}]}"#,
    );
    env.agent(&repo, &["spawn", "--plan", plan.to_str().unwrap()]).success();
    assert_eq!(rev(&env, &repo, "agent/api"), db_tip, "api on db's work");
    assert_eq!(rev(&env, &repo, "agent/web"), db_tip, "web on api's, which is db's so far");
    assert_eq!(record(&env, &repo, "web")["stack"]["tips"], serde_json::json!({ "api": db_tip }));
    assert_eq!(rev(&env, &repo, "agent/cli"), main, "fresh has no commits yet");
    assert_eq!(record(&env, &repo, "cli")["stack"]["tips"], serde_json::json!({}));

    // Once fresh has work, restack puts cli on it: the plan's dependents follow.
    env.commit(&agents_dir(&repo).join("fresh"), &[("fresh/f.txt", "f\n")], "fresh: f");
    assert_eq!(list_row(&env, &repo, "cli")["dependency_moved"], true);
    env.agent(&repo, &["restack"]).success().stdout_has("restacked cli");
    assert_eq!(rev(&env, &repo, "agent/cli"), rev(&env, &repo, "agent/fresh"));
    assert!(agents_dir(&repo).join("cli/fresh/f.txt").is_file());
}

/// db with one commit, api stacked on it with a commit of its own, web stacked on api; then
/// db gets a second commit.
fn moved_stack(env: &Env) -> (PathBuf, PathBuf, PathBuf) {
    let repo = setup(env);
    let (db, _) = spawn(env, &repo, "db", &["--scope", "db/"]);
    env.commit(&db, &[("db/schema.sql", "create table t;\n")], "db: schema");
    let (api, _) = spawn(env, &repo, "api", &["--after", "db", "--scope", "api/"]);
    env.commit(&api, &[("api/routes.rs", "// routes\n")], "api: routes");
    let (web, _) = spawn(env, &repo, "web", &["--after", "api", "--scope", "web/"]);
    env.commit(&web, &[("web/page.html", "<p>\n")], "web: page");
    env.commit(&db, &[("db/index.sql", "create index i;\n")], "db: index");
    (repo, api, web)
}

#[test]
fn restack_moves_a_stack_onto_the_new_work_and_updates_the_worktrees() {
    let env = Env::new();
    let (repo, api, web) = moved_stack(&env);
    let old_api = rev(&env, &repo, "agent/api");
    let db_tip = rev(&env, &repo, "agent/db");

    let row = list_row(&env, &repo, "api");
    assert_eq!(row["dependency_moved"], true, "{row:#}");
    assert_eq!(list_row(&env, &repo, "web")["dependency_moved"], false, "api has not moved yet");
    let table = env.agent(&repo, &["list"]).success().stdout;
    let api_line = table.lines().find(|l| l.starts_with("api")).unwrap();
    assert!(api_line.contains("dependency moved"), "{table}");

    // A dry run says what would happen and writes nothing, not even objects.
    let before = (env.snapshot(&repo), env.git(&repo, &["count-objects"]));
    let run = env.agent(&repo, &["restack", "--dry-run"]).success();
    assert!(run.stdout.contains("would-restack api: 1 commit(s) onto db"), "{run:#?}");
    assert_eq!((env.snapshot(&repo), env.git(&repo, &["count-objects"])), before);
    assert!(!api.join("db/index.sql").exists());

    let run = env.agent(&repo, &["restack"]).success();
    assert!(run.stdout.contains("restacked api: 1 commit(s) onto db"), "{run:#?}");
    assert!(run.stdout.contains("restacked web: 1 commit(s) onto api"), "web follows api in the same run:\n{run:#?}");
    let new_api = rev(&env, &repo, "agent/api");
    assert_eq!(parents(&env, &repo, &new_api), [db_tip.as_str()], "api's commit on db's new tip");
    assert_eq!(env.git(&repo, &["log", "-1", "--format=%s %an", &new_api]).trim(), "api: routes Test");
    assert_eq!(parents(&env, &repo, "agent/web"), [new_api.as_str()]);
    // The worktrees followed, as a fast-forward would: files, index and HEAD.
    for (dir, file) in [(&api, "db/index.sql"), (&web, "db/index.sql"), (&web, "api/routes.rs")] {
        assert!(dir.join(file).is_file(), "{} lacks {file}", dir.display());
    }
    assert_eq!(env.git(&api, &["status", "--porcelain"]), "", "api's worktree is clean");
    assert_eq!(env.git(&web, &["status", "--porcelain"]), "");
    assert_eq!(rev(&env, &api, "HEAD"), new_api);
    // The old tip stays reachable through the reflog, which says what happened.
    let reflog = env.git(&repo, &["reflog", "--format=%H %gs", "agent/api"]);
    let first = reflog.lines().next().unwrap();
    let short_db = &db_tip[..7];
    assert_eq!(first, format!("{new_api} git-agent restack: onto agent/db {short_db}"), "{reflog}");
    assert!(reflog.lines().any(|l| l.starts_with(&old_api)), "{reflog}");
    // The record says where it is now, in a new event.
    let json = record(&env, &repo, "api");
    assert_eq!(json["stack"]["onto"], db_tip.as_str());
    assert_eq!(json["stack"]["tips"], serde_json::json!({ "db": db_tip }));
    assert_eq!(env.git(&repo, &["log", "-1", "--format=%s", "refs/agent/tasks/api"]).trim(), "restack api");
    assert_eq!(list_row(&env, &repo, "api")["dependency_moved"], false);
    assert_eq!(list_row(&env, &repo, "api")["ahead"], 1);

    env.agent(&repo, &["restack"]).success().stderr_has("nothing to restack");
    let json = env.agent(&repo, &["restack", "api", "--json"]).success().json();
    assert_eq!(json["tasks"][0]["status"], "up-to-date", "{json:#}");
    // A restacked branch is still one spawn created (its first reflog entry): prune's guard
    // lets it go after archiving.
    env.agent(&repo, &["prune", "--force", "web"]).success();
    assert!(env.git(&repo, &["branch", "--list", "agent/web"]).is_empty());
}

#[test]
fn a_dirty_worktree_is_refused_and_nothing_changes() {
    let env = Env::new();
    let (repo, api, _) = moved_stack(&env);
    for (file, content) in [("notes.txt", "untracked\n"), ("api/routes.rs", "// edited\n")] {
        let original = std::fs::read_to_string(api.join(file)).ok();
        write(&api.join(file), content);
        let before = env.snapshot(&repo);
        let run = env.agent(&repo, &["restack", "api"]).code(3);
        assert!(run.stdout.contains("refused api") && run.stdout.contains("uncommitted changes"), "{run:#?}");
        assert!(run.stderr.contains("hint: commit or stash them"), "{run:#?}");
        assert_eq!(env.snapshot(&repo), before, "{file}: nothing moved");
        assert_eq!(std::fs::read_to_string(api.join(file)).unwrap(), content, "the change is kept");
        match original {
            Some(text) => write(&api.join(file), &text),
            None => std::fs::remove_file(api.join(file)).unwrap(),
        }
    }
    // Without a name too; and web, whose dependency api did not move, is untouched.
    write(&api.join("notes.txt"), "untracked\n");
    let before = env.snapshot(&repo);
    let run = env.agent(&repo, &["restack"]).code(3);
    assert!(!run.stdout.contains("web"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before);
}

#[test]
fn a_conflict_leaves_the_task_as_it_was_and_the_others_go_on() {
    let env = Env::new();
    let repo = setup(&env);
    let (db, _) = spawn(&env, &repo, "db", &[]);
    env.commit(&db, &[("db/schema.sql", "x\n")], "db: schema");
    let (api, _) = spawn(&env, &repo, "api", &["--after", "db"]);
    env.commit(&api, &[("shared.txt", &numbered("api"))], "api: shared");
    let (ui, _) = spawn(&env, &repo, "ui", &["--after", "db"]);
    env.commit(&ui, &[("ui/app.js", "app()\n")], "ui: app");
    env.commit(&db, &[("shared.txt", &numbered("db"))], "db: shared");
    let api_tip = rev(&env, &repo, "agent/api");
    let api_record = rev(&env, &repo, "refs/agent/tasks/api");

    let run = env.agent(&repo, &["restack"]).code(1);
    assert!(run.stdout.contains("conflict api:") && run.stdout.contains("shared.txt (content)"), "{run:#?}");
    assert!(run.stdout.contains("restacked ui"), "ui goes on:\n{run:#?}");
    assert_eq!(rev(&env, &repo, "agent/api"), api_tip, "api is untouched");
    assert_eq!(rev(&env, &repo, "refs/agent/tasks/api"), api_record);
    assert_eq!(std::fs::read_to_string(api.join("shared.txt")).unwrap(), numbered("api"));
    assert_eq!(env.git(&api, &["status", "--porcelain"]), "");
    assert_eq!(parents(&env, &repo, "agent/ui"), [rev(&env, &repo, "agent/db")]);
    env.agent(&repo, &["restack", "--dry-run"]).code(1).stdout_has("conflict api:");
    let json = env.agent(&repo, &["restack", "--json"]).code(1).json();
    assert_eq!(json["tasks"][0]["status"], "conflict", "{json:#}");
    assert_eq!(json["tasks"][0]["conflicts"][0]["path"], "shared.txt", "{json:#}");
}

#[test]
fn a_task_whose_agent_is_running_is_refused() {
    let env = Env::new();
    let repo = setup(&env);
    let (db, _) = spawn(&env, &repo, "db", &[]);
    env.commit(&db, &[("db/schema.sql", "x\n")], "db: schema");
    let go = env.path().join("go");
    let script = format!("touch started; while [ ! -f {go} ]; do sleep 0.02; done", go = go.display());
    let child = env
        .command("git", &repo)
        .args(["agent", "spawn", "api", "--after", "db", "--", "sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let api = agents_dir(&repo).join("api");
    let started = std::time::Instant::now();
    while !api.join("started").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the agent never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    env.commit(&db, &[("db/more.sql", "y\n")], "db: more");
    let before = env.snapshot(&repo);
    let run = env.agent(&repo, &["restack", "api"]).code(3);
    assert!(run.stdout.contains("its agent is running"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before);
    std::fs::write(&go, "").unwrap();
    let spawned = Run::from(child.wait_with_output().unwrap());
    assert_eq!(spawned.code, 0, "{spawned:#?}");
    // Once it exited (and its file is gone), restack goes ahead.
    std::fs::remove_file(api.join("started")).unwrap();
    env.agent(&repo, &["restack", "api"]).success().stdout_has("restacked api");
}

#[test]
fn a_commit_during_restack_is_a_lost_race_and_nothing_is_lost() {
    let env = Env::new();
    let (repo, api, _) = moved_stack(&env);
    let record_before = rev(&env, &repo, "refs/agent/tasks/api");
    let point = PausePoint::new(&env, "restack-before-update");
    let child = crate::prune_guard::start_paused(&env, &repo, &point, &["restack", "api"]);
    // The agent commits between restack's checks and its compare-and-swap.
    env.commit(&api, &[("api/late.rs", "// late\n")], "api: late");
    let late = rev(&env, &repo, "agent/api");
    point.release();
    let run = Run::from(child.wait_with_output().unwrap()).code(4);
    assert!(run.stdout.contains("lost-race api") && run.stdout.contains("moved during the run"), "{run:#?}");
    assert_eq!(rev(&env, &repo, "agent/api"), late, "the agent's commit stays the tip");
    assert_eq!(rev(&env, &repo, "refs/agent/tasks/api"), record_before, "the record is unchanged");
    assert!(api.join("api/late.rs").is_file() && !api.join("db/index.sql").exists());
    assert_eq!(env.git(&api, &["status", "--porcelain"]), "", "the worktree is as the agent left it");
    // A second run does it, the late commit included.
    env.agent(&repo, &["restack", "api"]).success().stdout_has("restacked api: 2 commit(s)");
    assert!(api.join("api/late.rs").is_file() && api.join("db/index.sql").is_file());
}

#[test]
fn a_branch_that_is_not_checked_out_moves_alone_and_a_from_base_task_can_be_named() {
    let env = Env::new();
    let repo = setup(&env);
    let (db, _) = spawn(&env, &repo, "db", &[]);
    env.commit(&db, &[("db/schema.sql", "x\n")], "db: schema");
    let (api, _) = spawn(&env, &repo, "api", &["--after", "db", "--from-base"]);
    env.commit(&api, &[("api/routes.rs", "// routes\n")], "api: routes");
    // From the base: not restacked by default, nor flagged.
    env.agent(&repo, &["restack"]).success().stderr_has("nothing to restack");
    assert_eq!(list_row(&env, &repo, "api")["dependency_moved"], false);
    // Detached: only the branch moves; the worktree stays where it is.
    env.git(&api, &["checkout", "-q", "--detach"]);
    let head = rev(&env, &api, "HEAD");
    env.agent(&repo, &["restack", "api"]).success().stdout_has("restacked api: 1 commit(s) onto db");
    assert_eq!(parents(&env, &repo, "agent/api"), [rev(&env, &repo, "agent/db")]);
    assert_eq!(rev(&env, &api, "HEAD"), head);
    assert!(record(&env, &repo, "api")["stack"].is_object(), "named once, stacked from now on");
}

#[test]
fn a_stacked_task_without_work_of_its_own_is_not_pruned_with_its_dependency() {
    let env = Env::new();
    let repo = setup(&env);
    let (db, _) = spawn(&env, &repo, "db", &[]);
    env.commit(&db, &[("db/schema.sql", "x\n")], "db: schema");
    spawn(&env, &repo, "api", &["--after", "db"]);
    env.agent(&repo, &["done", "db"]).success();
    env.agent(&repo, &["integrate", "db"]).success();
    // api's tip (db's) is in main now, but api has done nothing yet: it is fresh, not integrated.
    let run = env.agent(&repo, &["prune"]).success();
    assert!(run.stdout.contains("db") && !run.stdout.contains("api"), "{run:#?}");
    assert!(agents_dir(&repo).join("api").is_dir());
    assert_eq!(list_row(&env, &repo, "api")["state"], "active");
}

#[test]
fn a_task_on_several_dependencies_is_restacked_onto_a_new_merge_of_their_tips() {
    let env = Env::new();
    let repo = setup(&env);
    let (db, _) = spawn(&env, &repo, "db", &["--scope", "db/"]);
    let (ui, _) = spawn(&env, &repo, "ui", &["--scope", "ui/"]);
    env.commit(&db, &[("db/schema.sql", "x\n")], "db: schema");
    env.commit(&ui, &[("ui/app.js", "app()\n")], "ui: app");
    let (web, _) = spawn(&env, &repo, "web", &["--after", "db", "--after", "ui", "--scope", "web/"]);
    let old_start = rev(&env, &repo, "agent/web");
    env.commit(&web, &[("web/page.html", "<p>\n")], "web: page");
    env.commit(&db, &[("db/index.sql", "y\n")], "db: index");
    let (db_tip, ui_tip) = (rev(&env, &repo, "agent/db"), rev(&env, &repo, "agent/ui"));
    assert_eq!(list_row(&env, &repo, "web")["dependency_moved"], true);

    env.agent(&repo, &["restack"]).success().stdout_has("restacked web: 1 commit(s) onto db and ui");
    let start = parents(&env, &repo, "agent/web");
    assert_eq!(start.len(), 1);
    assert_ne!(start[0], old_start, "a new merge");
    assert_eq!(parents(&env, &repo, &start[0]), [db_tip.clone(), ui_tip.clone()]);
    for file in ["db/index.sql", "ui/app.js", "web/page.html"] {
        assert!(web.join(file).is_file(), "{file}");
    }
    let json = record(&env, &repo, "web");
    assert_eq!(json["stack"]["onto"], start[0].as_str());
    assert_eq!(json["stack"]["tips"], serde_json::json!({ "db": db_tip, "ui": ui_tip }));
    let row = list_row(&env, &repo, "web");
    assert_eq!((row["ahead"].clone(), row["files_changed"].clone()), (1.into(), 1.into()), "{row:#}");
    let gate = env.agent(&repo, &["conflicts", "--json"]).success().json();
    assert_eq!(gate["hazards"], serde_json::json!([]), "{gate:#}");
}

#[test]
fn a_task_with_a_merge_commit_of_its_own_is_refused_and_keeps_what_the_merge_changed() {
    // Restack replays commits and leaves merges out: a change made inside the agent's merge
    // (here the file `glue`) would be dropped. The task is refused, untouched.
    let env = Env::new();
    let repo = setup(&env);
    let (db, _) = spawn(&env, &repo, "db", &[]);
    env.commit(&db, &[("db.txt", "d1\n")], "db: d1");
    let (api, _) = spawn(&env, &repo, "api", &["--after", "db"]);
    env.git(&api, &["checkout", "-q", "-b", "side"]);
    env.commit(&api, &[("s.txt", "s\n")], "side");
    env.git(&api, &["checkout", "-q", "agent/api"]);
    env.commit(&api, &[("api.txt", "api\n")], "api: work");
    env.git(&api, &["merge", "-q", "--no-ff", "--no-commit", "side"]);
    write(&api.join("glue"), "glue\n");
    env.git(&api, &["add", "glue"]);
    env.git(&api, &["commit", "-q", "-m", "merge side with glue"]);
    env.git(&api, &["branch", "-q", "-D", "side"]);
    env.commit(&db, &[("db.txt", "d1\nd2\n")], "db: d2");
    let tip = rev(&env, &repo, "agent/api");

    let run = env.agent(&repo, &["restack"]).code(3);
    assert!(
        run.stdout.contains("merge commit of its own") || run.stderr.contains("merge commit of its own"),
        "{run:#?}"
    );
    assert_eq!(rev(&env, &repo, "agent/api"), tip, "the branch is untouched");
    assert!(api.join("glue").is_file());
    assert_eq!(env.git(&repo, &["show", "agent/api:glue"]), "glue\n");
}

#[test]
fn a_task_stacked_on_a_pruned_dependency_is_refused_and_keeps_its_work() {
    let env = Env::new();
    let repo = setup(&env);
    let (db, _) = spawn(&env, &repo, "db", &[]);
    env.commit(&db, &[("db.txt", "d1\n")], "db: d1");
    let (ui, _) = spawn(&env, &repo, "ui", &[]);
    env.commit(&ui, &[("ui.txt", "u1\n")], "ui: u1");
    let (api, _) = spawn(&env, &repo, "api", &["--after", "db", "--after", "ui"]);
    env.commit(&api, &[("api.txt", "api\n")], "api: work");
    env.agent(&repo, &["done", "ui", "-q"]).success();
    env.agent(&repo, &["integrate", "ui", "-q"]).success();
    env.agent(&repo, &["prune", "-q"]).success();
    env.commit(&db, &[("db.txt", "d1\nd2\n")], "db: d2");
    let tip = rev(&env, &repo, "agent/api");
    let run = env.agent(&repo, &["restack"]).code(3);
    assert!(format!("{}{}", run.stdout, run.stderr).contains("dependency ui was pruned"), "{run:#?}");
    assert_eq!(rev(&env, &repo, "agent/api"), tip);
    assert!(api.join("ui.txt").is_file(), "ui's work stays in the worktree");
}

#[test]
fn a_dependency_named_twice_is_recorded_once() {
    let env = Env::new();
    let repo = setup(&env);
    let (db, _) = spawn(&env, &repo, "db", &[]);
    env.commit(&db, &[("db.txt", "d1\n")], "db: d1");
    spawn(&env, &repo, "api", &["--after", "db", "--after", "db"]);
    assert_eq!(record(&env, &repo, "api")["after"], serde_json::json!(["db"]));
}
