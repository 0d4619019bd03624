//! Records are untrusted input: hand-edited, fetched from a remote, or written by another
//! version. A hostile or broken record makes its own task corrupt, for every command, and
//! never makes a command act on what it names or stop working for the other tasks.

use std::path::{Path, PathBuf};

use crate::common::{Env, write, write_raw_record};

/// A repository with one real task, `good`, committed and done; returns (repo, good's worktree).
fn setup(env: &Env) -> (PathBuf, PathBuf) {
    let repo = env.repo("repo", &[("a.txt", "a\n")]);
    let worktree = PathBuf::from(env.agent(&repo, &["spawn", "-q", "good", "--no-agent"]).success().stdout.trim());
    env.commit(&worktree, &[("good.txt", "good work\n")], "good work");
    env.agent(&worktree, &["done", "-q"]).success();
    (repo, worktree)
}

fn base(env: &Env, repo: &Path) -> String {
    env.git(repo, &["rev-parse", "main"]).trim().to_owned()
}

/// A record for `name` that is valid except for what `edit` changes.
fn hostile(env: &Env, repo: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let root = repo.with_file_name("repo.agents");
    let mut record = serde_json::json!({
        "version": 1, "name": name, "branch": format!("refs/heads/agent/{name}"),
        "base_ref": "refs/heads/main", "base_commit": base(env, repo),
        "worktree": root.join(name), "created_ms": 1, "state": "done",
    });
    edit(&mut record);
    write_raw_record(env, repo, name, &record.to_string());
}

/// Every kind of hostile record the trust model names, next to the good task.
fn plant_hostile_records(env: &Env, repo: &Path, good_worktree: &Path) -> Vec<&'static str> {
    hostile(env, repo, "names-main", |r| r["branch"] = "refs/heads/main".into());
    hostile(env, repo, "names-root", |r| r["worktree"] = "/".into());
    hostile(env, repo, "names-other", |r| r["worktree"] = good_worktree.to_str().unwrap().into());
    hostile(env, repo, "names-main-worktree", |r| {
        r["worktree"] = repo.join("names-main-worktree").to_str().unwrap().into()
    });
    hostile(env, repo, "bad-base", |r| r["base_commit"] = "nothex".into());
    hostile(env, repo, "nul-brief", |r| r["brief"] = "a\u{0}b".into());
    hostile(env, repo, "deep", |r| {
        let mut deep = serde_json::Value::Null;
        for _ in 0..200 {
            deep = serde_json::json!([deep]);
        }
        r["future"] = deep;
    });
    write_raw_record(env, repo, "not-json", "{ this is not json");
    let mut huge = String::from("{\"version\":1,\"name\":\"huge\",\"brief\":\"");
    huge.push_str(&"x".repeat(2 << 20));
    huge.push_str("\"}");
    write_raw_record(env, repo, "huge", &huge);
    vec![
        "names-main",
        "names-root",
        "names-other",
        "names-main-worktree",
        "bad-base",
        "nul-brief",
        "deep",
        "not-json",
        "huge",
    ]
}

#[test]
fn list_reports_each_hostile_record_as_corrupt_and_lists_the_good_task() {
    let env = Env::new();
    let (repo, good) = setup(&env);
    let hostile = plant_hostile_records(&env, &repo, &good);
    let run = env.agent(&repo, &["list", "--json", "--no-dirty"]).success();
    let rows = run.json()["tasks"].as_array().unwrap().clone();
    for name in &hostile {
        let row = rows.iter().find(|r| r["name"] == *name).unwrap_or_else(|| panic!("{name} not listed: {rows:?}"));
        assert_eq!(row["state"], "corrupt", "{row}");
    }
    let good_row = rows.iter().find(|r| r["name"] == "good").unwrap();
    assert_eq!(good_row["state"], "done", "{good_row}");
}

#[test]
fn show_and_done_refuse_a_hostile_record_and_say_why() {
    let env = Env::new();
    let (repo, good) = setup(&env);
    plant_hostile_records(&env, &repo, &good);
    env.agent(&repo, &["show", "names-main"]).code(3).stderr_has("refs/heads/main");
    env.agent(&repo, &["show", "names-root"]).code(3).stderr_has("not named after the task");
    env.agent(&repo, &["done", "bad-base"]).code(3).stderr_has("not an object id");
    env.agent(&repo, &["show", "good"]).success();
}

#[test]
fn spawn_refuses_a_name_whose_record_is_hostile_and_creates_nothing() {
    let env = Env::new();
    let (repo, good) = setup(&env);
    plant_hostile_records(&env, &repo, &good);
    let before = env.snapshot(&repo);
    env.agent(&repo, &["spawn", "names-main", "--no-agent"]).code(3).stderr_has("corrupt");
    assert_eq!(env.snapshot(&repo), before);
}

#[test]
fn conflicts_checks_the_good_tasks_and_reports_the_hostile_ones() {
    let env = Env::new();
    let (repo, good) = setup(&env);
    let hostile = plant_hostile_records(&env, &repo, &good);
    let other = PathBuf::from(env.agent(&repo, &["spawn", "-q", "other", "--no-agent"]).success().stdout.trim());
    env.commit(&other, &[("other.txt", "other\n")], "other work");
    let run = env.agent(&repo, &["conflicts", "--json"]);
    assert!(run.code == 0 || run.code == 1, "{run:#?}");
    let text = run.stdout.clone();
    for name in &hostile {
        assert!(text.contains(name), "{name} should be reported: {text}");
    }
    assert!(text.contains("\"good\"") && text.contains("\"other\""), "{text}");
}

#[test]
fn integrate_lands_the_good_task_and_refuses_a_named_hostile_one() {
    let env = Env::new();
    let (repo, good) = setup(&env);
    plant_hostile_records(&env, &repo, &good);
    let before = base(&env, &repo);
    env.agent(&repo, &["integrate", "names-main"]).code(3).stderr_has("corrupt");
    assert_eq!(base(&env, &repo), before, "a refused run changes nothing");
    // Hostile records marked done are not picked up; the good task lands.
    let run = env.agent(&repo, &["integrate", "--json"]).success();
    let steps: Vec<String> =
        run.json()["steps"].as_array().unwrap().iter().map(|s| s["task"].as_str().unwrap().to_owned()).collect();
    assert_eq!(steps, ["good"]);
    assert_eq!(env.git(&repo, &["show", "main:good.txt"]), "good work\n");
}

#[test]
fn prune_never_acts_on_a_hostile_record_even_with_force() {
    let env = Env::new();
    let (repo, good) = setup(&env);
    plant_hostile_records(&env, &repo, &good);
    // A branch of the name a hostile record would own, with work on it, and a file in a
    // directory named like a hostile worktree.
    let main_tip = base(&env, &repo);
    let root = repo.with_file_name("repo.agents");
    write(&root.join("keep/precious.txt"), "mine\n");
    for args in
        [&["prune"][..], &["prune", "--all"], &["prune", "--all", "--force"], &["prune", "names-main", "--force"]]
    {
        let run = env.agent(&repo, args);
        assert!(run.code != 5, "prune must not fail as a whole on a hostile record: {run:#?}");
        assert_eq!(env.git(&repo, &["rev-parse", "refs/heads/main"]).trim(), main_tip, "main moved or was deleted");
        assert!(good.join("good.txt").exists() || env.git(&repo, &["branch", "--list", "agent/good"]).is_empty());
        assert!(root.join("keep/precious.txt").exists());
        assert!(repo.join("a.txt").exists(), "the main worktree was touched");
    }
    // Every hostile record is still there: nothing acted on it, not even to delete it.
    let records = env.git(&repo, &["for-each-ref", "--format=%(refname)", "refs/agent/tasks/"]);
    for name in ["names-main", "names-root", "names-other", "bad-base", "not-json", "huge"] {
        assert!(records.contains(&format!("refs/agent/tasks/{name}")), "{name} gone:\n{records}");
    }
}

#[test]
fn prune_of_a_good_task_works_beside_a_record_with_a_bad_base_commit() {
    // Defect 15: one record with a non-hex base commit made `prune <other task>` fail.
    let env = Env::new();
    let (repo, good) = setup(&env);
    plant_hostile_records(&env, &repo, &good);
    env.git(&repo, &["merge", "-q", "--ff-only", "agent/good"]);
    env.agent(&repo, &["prune", "good"]).success();
    assert!(!good.exists());
}

#[test]
fn an_agent_that_marks_itself_done_gets_its_exit_status_recorded_too() {
    // The documented workflow: the agent runs `git agent done` itself; its spawn then records
    // the exit status on top of the newer record instead of losing the race (exit 4).
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "-q", "selfdone", "--", "sh", "-c", "git agent done -q && exit 7"]).code(1);
    let show = env.agent(&repo, &["show", "selfdone", "--json"]).success().json();
    assert_eq!(show["state"], "done", "{show}");
    assert_eq!(show["agent_exit"], 7, "{show}");
}

#[test]
fn a_worktree_root_inside_the_main_worktree_is_refused() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", "a\n")]);
    env.git(&repo, &["config", "agent.worktreeRoot", "agents"]);
    let before = env.snapshot(&repo);
    env.agent(&repo, &["spawn", "nested", "--no-agent"]).code(3).stderr_has("inside the main worktree");
    assert_eq!(env.snapshot(&repo), before);
    assert!(!repo.join("agents").exists());
}

#[test]
fn names_reserved_on_windows_are_refused_before_anything_is_created() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", "a\n")]);
    let before = env.snapshot(&repo);
    for name in ["con", "NUL", "aux.x", "com1", "lpt9"] {
        env.agent(&repo, &["spawn", name, "--no-agent"]).code(2).stderr_has("Windows");
    }
    assert_eq!(env.snapshot(&repo), before);
}
