//! `git agent join`: a worktree on this machine for a task spawned on another one. "Two
//! machines" are two clones, A and B, of one bare repository, each with its own worktree root:
//! A spawns, commits and `git agent sync`s; B syncs and joins.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::spawn::{agents_dir, record, rev};

/// Clone B of a repository whose clone A spawned `tasks`, committed `<task>.txt` on each and
/// synced; B synced too, and has the task branches if `branches` (else only the records).
struct Machines {
    env: Env,
    a: PathBuf,
    b: PathBuf,
    /// B's worktree root.
    root: PathBuf,
}

impl Machines {
    fn new(tasks: &[&str], branches: bool) -> Machines {
        let env = Env::new();
        let base = env.path().canonicalize().unwrap();
        let origin = env.repo("origin", &[("a.txt", "a\n")]);
        env.git(&base, &["clone", "-q", "--bare", origin.to_str().unwrap(), "bare.git"]);
        let (a, b) = (base.join("a"), base.join("b"));
        for clone in [&a, &b] {
            env.git(&base, &["clone", "-q", "bare.git", clone.to_str().unwrap()]);
        }
        for task in tasks {
            env.agent(&a, &["spawn", task, "--brief", &format!("do {task}")]).success();
            let worktree = agents_dir(&a).join(task);
            env.commit(&worktree, &[(&format!("{task}.txt"), &format!("{task} on A\n"))], task);
        }
        env.agent(&a, &["sync"]).success();
        let machines = Machines { env, a, root: agents_dir(&b), b };
        machines.sync();
        if !branches {
            for task in tasks {
                machines.env.git(&machines.b, &["branch", "-q", "-D", &format!("agent/{task}")]);
            }
        }
        machines
    }

    /// `git agent sync` in B.
    fn sync(&self) {
        self.env.agent(&self.b, &["sync"]).success();
    }

    /// `git agent join` in B, which must be refused with `code` and change nothing.
    #[track_caller]
    fn refused(&self, args: &[&str], code: i32, says: &str) -> Run {
        let before = self.env.snapshot(&self.b);
        let run = self.env.agent(&self.b, args).code(code).stderr_has(says);
        assert_eq!(self.env.snapshot(&self.b), before, "join {args:?} changed the repository");
        run
    }
}

#[test]
fn join_checks_out_a_task_from_another_machine() {
    let m = Machines::new(&["db", "ui"], true);
    let env = &m.env;
    let (record_before, tip) = (rev(env, &m.b, "refs/agent/tasks/db"), rev(env, &m.a, "agent/db"));

    let run = env.agent(&m.b, &["join", "db"]).success().stderr_has("joined task db: branch agent/db");
    let worktree = m.root.join("db");
    assert_eq!(run.stdout, format!("{}\n", worktree.display()), "the worktree path is the data");
    assert_eq!(env.git(&worktree, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/agent/db");
    assert_eq!(std::fs::read_to_string(worktree.join("db.txt")).unwrap(), "db on A\n");
    assert_eq!(rev(env, &m.b, "agent/db"), tip, "join never moves the branch");
    assert_eq!(rev(env, &m.b, "refs/agent/tasks/db"), record_before, "join never writes the record");

    let list = env.agent(&m.b, &["list", "--json"]).success().json();
    let row = list["tasks"].as_array().unwrap().iter().find(|t| t["name"] == "db").unwrap().clone();
    assert_eq!(row["worktree"], worktree.to_str().unwrap());
    assert_eq!(row["dirty"], false, "{row:#}");

    // The agent works there and reports back.
    env.commit(&worktree, &[("db.txt", "db on B\n")], "more db");
    env.agent(&worktree, &["done"]).success().stderr_has("task db is done");
    assert_eq!(record(env, &m.b, "db")["state"], "done");
    m.sync();
    // A's branch is checked out in A's worktree: sync fetches B's commit but leaves the branch
    // to be fast-forwarded there (and says so, exit 1).
    env.agent(&m.a, &["sync"]).code(1).stderr_has("git merge --ff-only");
    assert_eq!(record(env, &m.a, "db")["state"], "done", "sync reports back to A");
    let head = rev(env, &worktree, "HEAD");
    assert_eq!(rev(env, &m.a, &format!("{head}^{{commit}}")), head, "B's commit reached A");

    let json = env.agent(&m.b, &["join", "ui", "--json"]).success().json();
    assert_eq!(json["version"], 1);
    assert_eq!(json["task"], "ui");
    assert_eq!(json["branch"], "agent/ui");
    assert_eq!(json["worktree"], m.root.join("ui").to_str().unwrap());
}

#[test]
fn a_task_that_is_not_here_is_bad_input() {
    let m = Machines::new(&[], true);
    m.refused(&["join", "db"], 2, "no task named \"db\" here").stderr_has("git agent sync");
    m.refused(&["join", "-x"], 2, "error");
}

#[test]
fn a_corrupt_record_is_refused() {
    let m = Machines::new(&[], true);
    write_raw_record(&m.env, &m.b, "db", "{ not json");
    m.refused(&["join", "db"], 3, "corrupt");
}

#[test]
fn an_integrated_task_is_refused() {
    let m = Machines::new(&["db"], true);
    let mut json = record(&m.env, &m.b, "db");
    json["state"] = "integrated".into();
    write_raw_record(&m.env, &m.b, "db", &json.to_string());
    m.refused(&["join", "db"], 3, "task \"db\" is integrated already");
    assert!(!m.root.join("db").exists());
}

#[test]
fn a_task_whose_branch_was_not_fetched_is_refused() {
    let m = Machines::new(&["db"], false);
    m.refused(&["join", "db"], 3, "task \"db\" has no branch agent/db here").stderr_has("git agent sync");
    assert!(!m.root.join("db").exists());
    m.sync();
    m.env.agent(&m.b, &["join", "db"]).success();
}

#[test]
fn a_second_join_is_refused_and_names_the_worktree() {
    let m = Machines::new(&["db"], true);
    let worktree = m.root.join("db");
    m.env.agent(&m.b, &["join", "db"]).success();
    m.refused(
        &["join", "db"],
        3,
        &format!("task \"db\" has a worktree on this machine already: {}", worktree.display()),
    );
    assert_eq!(m.env.git(&worktree, &["status", "--porcelain"]), "", "the worktree is untouched");
}

#[test]
fn a_worktree_moved_elsewhere_or_gone_still_counts() {
    let m = Machines::new(&["db"], true);
    let env = &m.env;
    env.agent(&m.b, &["join", "db"]).success();
    let moved = m.root.with_file_name("moved-db");
    env.git(&m.b, &["worktree", "move", m.root.join("db").to_str().unwrap(), moved.to_str().unwrap()]);
    m.refused(&["join", "db"], 3, &format!("has a worktree on this machine already: {}", moved.display()));

    std::fs::remove_dir_all(&moved).unwrap();
    m.refused(&["join", "db"], 3, "has a worktree on this machine already").stderr_has("git worktree prune");
    env.git(&m.b, &["worktree", "prune"]);
    env.agent(&m.b, &["join", "db"]).success();
}

#[test]
fn a_branch_checked_out_elsewhere_is_refused() {
    let m = Machines::new(&["db"], true);
    m.env.git(&m.b, &["switch", "-q", "agent/db"]);
    m.refused(&["join", "db"], 3, &format!("branch agent/db of task \"db\" is checked out in {}", m.b.display()));
    assert!(!m.root.join("db").exists());
}

#[test]
fn a_non_empty_directory_in_the_way_is_refused() {
    let m = Machines::new(&["db"], true);
    write(&m.root.join("db/notes.txt"), "mine\n");
    m.refused(&["join", "db"], 3, "exists and is not empty");
    assert_eq!(std::fs::read_to_string(m.root.join("db/notes.txt")).unwrap(), "mine\n");
    assert!(!m.root.join("db/.git").exists());

    // An empty directory is fine.
    std::fs::remove_file(m.root.join("db/notes.txt")).unwrap();
    m.env.agent(&m.b, &["join", "db"]).success();
}

#[test]
fn a_bare_repository_needs_a_worktree_root() {
    let m = Machines::new(&["db"], true);
    let bare = m.b.with_file_name("bare.git");
    let before = m.env.snapshot(&bare);
    m.env.agent(&bare, &["join", "db"]).code(3).stderr_has("agent.worktreeRoot is not set");
    assert_eq!(m.env.snapshot(&bare), before);
}

#[test]
fn join_copies_and_sets_up_like_spawn_and_rolls_back_a_failed_setup() {
    let m = Machines::new(&["db"], true);
    let env = &m.env;
    let worktree = m.root.join("db");
    write(&m.b.join(".env"), "SECRET=b\n");
    env.git(&m.b, &["config", "agent.copy", ".env"]);
    env.git(&m.b, &["config", "agent.setup", "touch half-done; exit 7"]);
    let before = env.snapshot(&m.b);
    let run = env.agent(&m.b, &["join", "db"]).code(1).stderr_has("rolled back");
    assert!(run.stderr.contains("agent.setup"), "{run:#?}");
    assert_eq!(env.snapshot(&m.b), before, "a failed join leaves no trace");
    assert!(!worktree.exists(), "the worktree directory was removed");
    assert!(!m.b.join(".git/worktrees/db").exists(), "the worktree administration was removed");

    env.git(&m.b, &["config", "agent.setup", "echo \"$GIT_AGENT_TASK $GIT_AGENT_WORKTREE\" > setup-ran"]);
    let json = env.agent(&m.b, &["join", "db", "--json"]).success().json();
    assert_eq!(json["copied"], serde_json::json!([".env"]));
    assert_eq!(std::fs::read_to_string(worktree.join(".env")).unwrap(), "SECRET=b\n");
    let ran = std::fs::read_to_string(worktree.join("setup-ran")).unwrap();
    assert_eq!(ran, format!("db {}\n", worktree.display()), "setup runs in the new worktree, told where it is");
}

#[test]
fn no_setup_skips_agent_setup() {
    let m = Machines::new(&["db"], true);
    m.env.git(&m.b, &["config", "agent.setup", "touch setup-ran"]);
    m.env.agent(&m.b, &["join", "db", "--no-setup"]).success();
    assert!(m.root.join("db/db.txt").exists());
    assert!(!m.root.join("db/setup-ran").exists());
}

#[test]
fn an_interrupted_join_is_rolled_back() {
    let m = Machines::new(&["db"], true);
    let env = &m.env;
    env.git(&m.b, &["config", "agent.setup", "touch setup-started; sleep 2"]);
    let before = env.snapshot(&m.b);
    let worktree = m.root.join("db");
    let child = env
        .command("git-agent", &m.b)
        .args(["join", "db"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&worktree.join("setup-started"));
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 130, "{run:#?}");
    assert!(run.stderr.contains("interrupted") && run.stderr.contains("rolled back"), "{run:#?}");
    assert_eq!(env.snapshot(&m.b), before, "an interrupted join leaves nothing behind");
    assert!(!worktree.exists());
}

fn wait_for(path: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !path.exists() {
        assert!(std::time::Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn of_two_joins_at_once_one_wins_and_the_other_changes_nothing() {
    let m = Machines::new(&["db"], true);
    let env = &m.env;
    let pause = PausePoint::new(env, "join-worktree-added");
    let (key, value) = pause.env();
    let first = env
        .command("git", &m.b)
        .args(["agent", "join", "db"])
        .env(key, value)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    pause.wait_reached();
    let second = env.agent(&m.b, &["join", "db"]).code(4).stderr_has("task \"db\"");
    assert!(second.stderr.contains("locked by git-agent join"), "the holder is named: {second:#?}");
    pause.release();
    let first = Run::from(first.wait_with_output().unwrap());
    assert_eq!(first.code, 0, "{first:#?}");
    assert_eq!(env.git(&m.root.join("db"), &["symbolic-ref", "HEAD"]).trim(), "refs/heads/agent/db");
}
