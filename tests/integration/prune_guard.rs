//! The guarded path of prune (and spawn's undo): branches checked out anywhere or not made by
//! git-agent are never deleted, records are not trusted, worktrees are found by git's
//! registrations, removal does not race with writers, a running agent keeps its task, lock
//! files name their owner and recover from a killed one, and one bad task never stops the rest.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;
use crate::prune::{interrupted_spawn, kill_at};
use crate::spawn::{agents_dir, canonical_repo, record, rev};

pub(crate) fn setup(env: &Env) -> PathBuf {
    canonical_repo(env, "repo", &[("README.md", "hello\n"), (".gitignore", "*.log\n")])
}

pub(crate) fn spawn(env: &Env, repo: &Path, task: &str) -> PathBuf {
    env.agent(repo, &["spawn", task, "-q"]).success();
    agents_dir(repo).join(task)
}

pub(crate) fn ref_exists(env: &Env, repo: &Path, name: &str) -> bool {
    env.command("git", repo).args(["rev-parse", "--verify", "-q", name]).output().unwrap().status.success()
}

pub(crate) fn registered(env: &Env, repo: &Path, worktree: &Path) -> bool {
    env.git(repo, &["worktree", "list", "--porcelain"])
        .lines()
        .any(|l| l.strip_prefix("worktree ") == Some(worktree.to_str().unwrap()))
}

/// A task `t` with one commit, merged into main with --no-ff; returns its worktree.
pub(crate) fn merged_task(env: &Env, repo: &Path, task: &str) -> PathBuf {
    let worktree = spawn(env, repo, task);
    env.commit(&worktree, &[(&format!("{task}.txt"), "work\n")], &format!("work on {task}"));
    env.git(repo, &["merge", "-q", "--no-ff", "-m", "merge", &format!("agent/{task}")]);
    worktree
}

/// Starts `git agent <args>` paused at `point`; returns the child once it has reached it.
pub(crate) fn start_paused(env: &Env, repo: &Path, point: &PausePoint, args: &[&str]) -> std::process::Child {
    let (key, value) = point.env();
    let child = env
        .command("git", repo)
        .arg("agent")
        .args(args)
        .env(key, value)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    point.wait_reached();
    child
}

fn finish(point: &PausePoint, child: std::process::Child) -> Run {
    point.release();
    Run::from(child.wait_with_output().unwrap())
}

/// The directory prune moved the worktree to, next to it.
fn moved_aside(worktree: &Path) -> PathBuf {
    let name = worktree.file_name().unwrap().to_str().unwrap();
    std::fs::read_dir(worktree.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&format!(".prune-{name}-")))
        .expect("the worktree is moved aside")
}

// Defect 01: branches checked out anywhere, or not created by git-agent, are never deleted.

#[test]
fn prune_never_deletes_a_hand_made_agent_branch_checked_out_in_the_main_worktree() {
    let env = Env::new();
    let repo = setup(&env);
    env.git(&repo, &["checkout", "-q", "-b", "agent/mine"]);
    env.commit(&repo, &[("b.txt", "my work\n")], "my work");
    let tip = rev(&env, &repo, "agent/mine");
    let run = env.agent(&repo, &["prune"]).success();
    assert!(run.stderr.contains("agent/mine"), "the kept branch is reported:\n{run:#?}");
    assert_eq!(rev(&env, &repo, "refs/heads/agent/mine"), tip);
    env.git(&repo, &["checkout", "-q", "main"]);
    // Merged and checked out nowhere, but still not git-agent's: kept.
    env.git(&repo, &["merge", "-q", "--ff-only", "agent/mine"]);
    env.agent(&repo, &["prune"]).success().stderr_has("was not created by git-agent");
    assert!(ref_exists(&env, &repo, "refs/heads/agent/mine"));
}

#[test]
fn an_interrupted_spawns_branch_checked_out_elsewhere_is_kept() {
    let env = Env::new();
    let repo = setup(&env);
    interrupted_spawn(&env, &repo, "x", "spawn-branch-created");
    let other = env.path().join("other-wt");
    env.git(&repo, &["worktree", "add", "-q", other.to_str().unwrap(), "agent/x"]);
    let run = env.agent(&repo, &["prune"]).success();
    assert!(run.stderr.contains("checked out in"), "{run:#?}");
    assert!(ref_exists(&env, &repo, "refs/heads/agent/x"));
    assert!(other.join("README.md").is_file());
}

// Defect 02: a record naming another branch is refused, with and without --force.

#[test]
fn a_record_naming_main_never_deletes_main() {
    let env = Env::new();
    let repo = setup(&env);
    env.commit(&repo, &[("second.txt", "2\n")], "second");
    let base = rev(&env, &repo, "HEAD~1");
    let main = rev(&env, &repo, "main");
    write_raw_record(
        &env,
        &repo,
        "x",
        &format!(
            r#"{{"version":1,"name":"x","branch":"refs/heads/main","base_ref":"refs/heads/main","base_commit":"{base}","worktree":"/nonexistent/x","created_ms":1,"state":"integrated"}}"#
        ),
    );
    for args in [&["prune"][..], &["prune", "x"], &["prune", "--force", "x"], &["prune", "--all", "--force"]] {
        let run = env.agent(&repo, args);
        // Named, the corrupt task is refused; otherwise it is skipped, and said so.
        if args.contains(&"x") {
            assert_ne!(run.code, 0, "{args:?}: {run:#?}");
        } else {
            assert!(run.stdout.contains("corrupt"), "{args:?}: {run:#?}");
        }
        assert_eq!(rev(&env, &repo, "refs/heads/main"), main, "{args:?} deleted or moved main:\n{run:#?}");
    }
    assert!(repo.join("second.txt").is_file());
}

#[test]
fn a_record_naming_another_tasks_worktree_or_the_root_never_removes_it() {
    let env = Env::new();
    let repo = setup(&env);
    let victim = spawn(&env, &repo, "victim");
    env.git(&victim, &["checkout", "-q", "--detach"]);
    let base = rev(&env, &repo, "main");
    for (name, worktree) in [("thief", victim.to_str().unwrap()), ("root", "/")] {
        write_raw_record(
            &env,
            &repo,
            name,
            &format!(
                r#"{{"version":1,"name":"{name}","branch":"refs/heads/agent/{name}","base_ref":"refs/heads/main","base_commit":"{base}","worktree":"{worktree}","created_ms":1,"state":"integrated"}}"#
            ),
        );
    }
    for args in [
        &["prune"][..],
        &["prune", "--force", "thief"],
        &["prune", "--force", "root"],
        &["prune", "--force", "thief", "root"],
    ] {
        env.agent(&repo, args);
        assert!(victim.join("README.md").is_file(), "{args:?} removed another task's worktree");
        assert!(registered(&env, &repo, &victim));
    }
}

// Defect 06: squash and rebase integration count as integrated.

#[test]
fn after_squash_or_rebase_integration_prune_removes_the_task_without_force() {
    for strategy in ["squash", "rebase"] {
        let env = Env::new();
        let repo = setup(&env);
        env.commit(&repo, &[("main.txt", "main moved on\n")], "main moves");
        let worktree = spawn(&env, &repo, "t");
        env.commit(&worktree, &[("t1.txt", "1\n")], "t1");
        env.commit(&worktree, &[("t2.txt", "2\n")], "t2");
        env.agent(&worktree, &["done"]).success();
        env.agent(&repo, &["integrate", "--strategy", strategy]).success();
        let run = env.agent(&repo, &["prune"]).success();
        assert!(run.stdout.contains("pruned t"), "{strategy}: {run:#?}");
        assert!(!ref_exists(&env, &repo, "refs/heads/agent/t") && !worktree.exists(), "{strategy}");
    }
}

#[test]
fn a_commit_after_squash_integration_is_not_integrated() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t");
    env.commit(&worktree, &[("t1.txt", "1\n")], "t1");
    env.agent(&worktree, &["done"]).success();
    env.agent(&repo, &["integrate", "--strategy", "squash"]).success();
    env.commit(&worktree, &[("t1.txt", "changed after\n")], "after integration");
    env.agent(&repo, &["prune", "t"]).code(3).stdout_has("not in the target");
    assert!(worktree.is_dir());
}

// Item 4 and defect 13: worktrees are found by git's registrations.

#[test]
fn a_moved_worktree_is_found_by_its_registration() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = merged_task(&env, &repo, "t");
    let moved = env.path().join("moved-t");
    env.git(&repo, &["worktree", "move", worktree.to_str().unwrap(), moved.to_str().unwrap()]);
    write(&moved.join("uncommitted.txt"), "work\n");
    let run = env.agent(&repo, &["prune", "t"]).code(3);
    assert!(run.stdout.contains("uncommitted"), "{run:#?}");
    assert!(moved.join("uncommitted.txt").is_file() && ref_exists(&env, &repo, "refs/heads/agent/t"));
    std::fs::remove_file(moved.join("uncommitted.txt")).unwrap();
    env.agent(&repo, &["prune", "t"]).success();
    assert!(!moved.exists() && !ref_exists(&env, &repo, "refs/heads/agent/t"));
}

#[test]
fn a_changed_worktree_root_still_finds_the_worktree() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = merged_task(&env, &repo, "t");
    env.git(&repo, &["config", "agent.worktreeRoot", env.path().join("elsewhere").to_str().unwrap()]);
    write(&worktree.join("uncommitted.txt"), "work\n");
    env.agent(&repo, &["prune", "t"]).code(3).stdout_has("uncommitted");
    assert!(worktree.join("uncommitted.txt").is_file());
}

#[test]
fn a_missing_but_locked_worktree_is_kept_without_force() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = merged_task(&env, &repo, "t");
    env.git(&repo, &["worktree", "lock", "--reason", "on a USB stick", worktree.to_str().unwrap()]);
    std::fs::rename(&worktree, env.path().join("usb")).unwrap();
    let before = env.snapshot(&repo);
    env.agent(&repo, &["prune", "t"]).code(3).stdout_has("missing but locked");
    env.agent(&repo, &["prune"]).code(3);
    assert_eq!(env.snapshot(&repo), before);
    env.agent(&repo, &["prune", "--force", "t"]).success();
    assert!(!ref_exists(&env, &repo, "refs/agent/tasks/t"));
}

#[test]
fn a_hand_deleted_worktree_detached_on_its_own_commits_is_refused_then_archived() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t");
    env.git(&worktree, &["checkout", "-q", "--detach"]);
    env.commit(&worktree, &[("x.txt", "detached work\n")], "detached work");
    let head = rev(&env, &worktree, "HEAD");
    std::fs::remove_dir_all(&worktree).unwrap();
    let before = env.snapshot(&repo);
    let run = env.agent(&repo, &["prune", "t"]).code(3);
    assert!(run.stdout.contains(&head[..7]), "the commit is named:\n{run:#?}");
    env.agent(&repo, &["prune"]).success();
    assert_eq!(env.snapshot(&repo), before, "the registration (the only reference to {head}) is kept");
    env.agent(&repo, &["prune", "--force", "t"]).success();
    let archived = env.git(&repo, &["for-each-ref", "--format=%(objectname)", "refs/agent/archive/t/*/head"]);
    assert_eq!(archived.trim(), head);
}

// Defect 07 and its plain sibling; race tests with pause points between check and action.

#[test]
fn a_file_written_while_force_prune_removes_the_worktree_is_kept() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t");
    write(&worktree.join("early.txt"), "before the snapshot\n");
    let point = PausePoint::new(&env, "prune-before-delete");
    let child = start_paused(&env, &repo, &point, &["prune", "--force", "t"]);
    // An agent whose current directory is inside the worktree keeps writing there.
    write(&moved_aside(&worktree).join("late.txt"), "after the snapshot\n");
    let run = finish(&point, child).code(4);
    assert!(run.stderr.contains("put back") || run.stdout.contains("put back"), "{run:#?}");
    assert_eq!(std::fs::read_to_string(worktree.join("late.txt")).unwrap(), "after the snapshot\n");
    assert!(worktree.join("early.txt").is_file() && ref_exists(&env, &repo, "refs/agent/tasks/t"));
    assert!(registered(&env, &repo, &worktree));
    // Once nothing writes any more, it goes, and the late file is in the archive.
    env.agent(&repo, &["prune", "--force", "t"]).success();
    let snapshots = env.git(&repo, &["for-each-ref", "--format=%(objectname)", "refs/agent/archive/t/*/worktree"]);
    assert!(snapshots.lines().any(|id| {
        env.command("git", &repo).args(["cat-file", "-e", &format!("{id}:late.txt")]).status().unwrap().success()
    }));
}

#[test]
fn a_file_written_while_plain_prune_removes_the_worktree_is_kept() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = merged_task(&env, &repo, "t");
    let point = PausePoint::new(&env, "prune-before-delete");
    let child = start_paused(&env, &repo, &point, &["prune", "t"]);
    write(&moved_aside(&worktree).join("late.txt"), "written meanwhile\n");
    finish(&point, child).code(4);
    assert_eq!(std::fs::read_to_string(worktree.join("late.txt")).unwrap(), "written meanwhile\n");
    assert!(registered(&env, &repo, &worktree) && ref_exists(&env, &repo, "refs/heads/agent/t"));
}

#[test]
fn an_agent_commit_between_check_and_removal_stops_the_prune() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = merged_task(&env, &repo, "t");
    let point = PausePoint::new(&env, "prune-before-remove");
    let child = start_paused(&env, &repo, &point, &["prune", "t"]);
    env.commit(&worktree, &[("more.txt", "more\n")], "the agent commits meanwhile");
    let tip = rev(&env, &repo, "agent/t");
    let run = finish(&point, child);
    assert_eq!(run.code, 4, "{run:#?}");
    assert_eq!(rev(&env, &repo, "refs/heads/agent/t"), tip);
    assert!(worktree.join("more.txt").is_file() && registered(&env, &repo, &worktree));
}

#[test]
fn a_spawn_of_the_same_name_while_prune_works_waits_its_turn() {
    let env = Env::new();
    let repo = setup(&env);
    merged_task(&env, &repo, "t");
    let point = PausePoint::new(&env, "prune-moved-aside");
    let child = start_paused(&env, &repo, &point, &["prune", "t"]);
    let spawn = env.agent(&repo, &["spawn", "t"]);
    assert!(spawn.code == 3 || spawn.code == 4, "{spawn:#?}");
    finish(&point, child).success();
    assert!(!ref_exists(&env, &repo, "refs/agent/tasks/t"));
    spawn_ok(&env, &repo, "t");
}

fn spawn_ok(env: &Env, repo: &Path, task: &str) -> PathBuf {
    let worktree = spawn(env, repo, task);
    assert!(worktree.join("README.md").is_file() && ref_exists(env, repo, &format!("refs/agent/tasks/{task}")));
    worktree
}

// Defect 14: a running agent is part of its task.

#[test]
fn a_running_agent_keeps_its_task_and_list_shows_it() {
    let env = Env::new();
    let repo = setup(&env);
    let go = env.path().join("go");
    let script = format!(
        "touch started; while [ ! -f {go} ]; do sleep 0.02; done; git agent done -q; echo out > result.txt",
        go = go.display()
    );
    let child = env
        .command("git", &repo)
        .args(["agent", "spawn", "t", "--", "sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let worktree = agents_dir(&repo).join("t");
    let started = std::time::Instant::now();
    while !worktree.join("started").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the agent never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let run = env.agent(&repo, &["prune", "--all", "--force"]);
    assert!(worktree.join("started").is_file(), "prune removed the worktree under a running agent:\n{run:#?}");
    assert!(run.code == 0 && run.stdout.contains("skipped t"), "{run:#?}");
    let run = env.agent(&repo, &["prune", "--force", "t"]).code(3);
    assert!(run.stdout.contains("agent is running"), "{run:#?}");
    let list = env.agent(&repo, &["list", "--json"]).success().json();
    assert_eq!(list["tasks"][0]["running"], true, "{list:#}");
    env.agent(&repo, &["list"]).success().stdout_has("running");

    std::fs::write(&go, "").unwrap();
    let spawned = Run::from(child.wait_with_output().unwrap());
    assert_eq!(spawned.code, 0, "`git agent done` by the agent itself works:\n{spawned:#?}");
    assert!(worktree.join("result.txt").is_file());
    let json = record(&env, &repo, "t");
    assert_eq!(json["agent_exit"], 0);
    assert_eq!(json["state"], "done");
    assert_eq!(env.agent(&repo, &["list", "--json"]).success().json()["tasks"][0]["running"], false);
}

// Item 7 and 8: locks name their owner; kill -9 at any point is recovered.

#[test]
fn a_claim_left_by_a_killed_spawn_is_recovered_and_a_live_one_is_named() {
    let env = Env::new();
    let repo = setup(&env);
    for point in ["spawn-branch-created", "spawn-worktree-added"] {
        interrupted_spawn(&env, &repo, "t", point);
        assert!(repo.join(".git/agent-claims/t.lock").is_file(), "{point}: the killed spawn left its claim");
        // A new spawn of the same name recovers the lock, the branch and the worktree.
        spawn_ok(&env, &repo, "t");
        env.agent(&repo, &["prune", "--force", "t"]).success();
    }
    assert!(!repo.join(".git/agent-claims/t.lock").exists());
    assert!(!repo.join(".git/agent-worktrees.lock").exists());

    let point = PausePoint::new(&env, "spawn-worktree-added");
    let child = start_paused(&env, &repo, &point, &["spawn", "u"]);
    let pid = std::fs::read_to_string(point.dir.join("spawn-worktree-added.reached")).unwrap();
    let run = env.agent(&repo, &["spawn", "u"]);
    assert!(run.code == 3 || run.code == 4, "{run:#?}");
    let run = env.agent(&repo, &["prune", "--all"]);
    assert!(run.stderr.contains(pid.trim()) || run.stdout.contains(pid.trim()), "the holder is named:\n{run:#?}");
    finish(&point, child).success();
}

#[test]
fn a_stale_worktree_lock_of_a_killed_process_does_not_block_spawn() {
    let env = Env::new();
    let repo = setup(&env);
    // What a spawn killed while registering its worktree leaves: the lock, naming a dead pid.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    std::fs::write(
        repo.join(".git/agent-worktrees.lock"),
        format!("pid {}\nhost {}\nstart 1\npurpose worktree-add\n", u32::MAX - 1, host.trim()),
    )
    .unwrap();
    let started = std::time::Instant::now();
    spawn_ok(&env, &repo, "t");
    assert!(started.elapsed() < Duration::from_secs(30));
    // A lock naming no owner is never deleted: it is named in the error.
    std::fs::write(repo.join(".git/agent-worktrees.lock"), "").unwrap();
    env.agent(&repo, &["spawn", "u"]).code(3).stderr_has("agent-worktrees.lock");
    assert!(repo.join(".git/agent-worktrees.lock").exists());
}

#[test]
fn kill_9_of_spawn_with_a_locked_half_made_worktree_is_cleaned_up_by_prune() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = interrupted_spawn(&env, &repo, "t", "spawn-worktree-added");
    // Killed during checkout, gix leaves the registration locked as "initializing".
    let admin = repo.join(".git/worktrees/t");
    std::fs::write(admin.join("locked"), "initializing\n").unwrap();
    let run = env.agent(&repo, &["prune"]).success();
    assert!(run.stdout.contains("interrupted spawn"), "{run:#?}");
    assert!(!worktree.exists() && !admin.exists() && !ref_exists(&env, &repo, "refs/heads/agent/t"));
    spawn_ok(&env, &repo, "t");
}

#[test]
fn kill_9_of_prune_after_moving_the_worktree_aside_is_repaired() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t");
    write(&worktree.join("precious.txt"), "uncommitted\n");
    let dir = PausePoint::new(&env, "prune-moved-aside").dir;
    let child = env
        .command("git", &repo)
        .args(["agent", "prune", "--force", "t"])
        .env("GIT_AGENT_TEST_PAUSE", format!("prune-moved-aside:{}", dir.display()))
        .spawn()
        .unwrap();
    kill_at(&dir, "prune-moved-aside", child);
    assert!(!worktree.exists());
    let run = env.agent(&repo, &["prune", "t"]).code(3);
    assert!(run.stderr.contains("put back"), "{run:#?}");
    assert_eq!(std::fs::read_to_string(worktree.join("precious.txt")).unwrap(), "uncommitted\n");
}

// Defect 15: one bad task never stops prune for the others.

#[test]
fn one_bad_record_or_worktree_never_stops_prune_for_the_others() {
    let env = Env::new();
    let repo = setup(&env);
    merged_task(&env, &repo, "good");
    let broken = merged_task(&env, &repo, "broken");
    std::fs::remove_file(broken.join(".git")).unwrap();
    write_raw_record(
        &env,
        &repo,
        "bad",
        r#"{"version":1,"name":"bad","branch":"refs/heads/agent/bad","base_ref":null,"base_commit":"nothex","worktree":"/nonexistent","created_ms":1,"state":"active"}"#,
    );
    write_raw_record(
        &env,
        &repo,
        "nul",
        r#"{"version":1,"name":"nul","branch":"refs/heads/agent/nul","base_ref":"refs/heads/main","base_commit":"0000000000000000000000000000000000000000","worktree":"/tmp/a\u0000b","created_ms":1,"state":"integrated"}"#,
    );
    let run = env.agent(&repo, &["prune", "good"]).success();
    assert!(run.stdout.contains("pruned good"), "{run:#?}");
    let broken_tip = rev(&env, &repo, "agent/broken");
    let merged_again = merged_task(&env, &repo, "good2");
    let run = env.agent(&repo, &["prune", "--all", "--json"]);
    assert_ne!(run.code, 0, "{run:#?}");
    let json = run.json();
    let action =
        |task: &str| json["tasks"].as_array().unwrap().iter().find(|t| t["task"] == task).map(|t| t["action"].clone());
    assert_eq!(action("good2"), Some("pruned".into()), "{json:#}");
    assert!(!merged_again.exists());
    assert!(action("bad").is_some() && action("nul").is_some() && action("broken").is_some(), "{json:#}");
    assert_eq!(rev(&env, &repo, "refs/heads/agent/broken"), broken_tip, "a broken worktree's task is kept");
    assert!(broken.join("broken.txt").is_file());
}

#[test]
fn a_read_only_git_directory_is_reported_as_such() {
    let env = Env::new();
    let repo = setup(&env);
    let git_dir = repo.join(".git");
    let mode = |m: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&git_dir, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(0o555);
    // Root writes anyway: then there is nothing to test here.
    let writable = std::fs::write(git_dir.join("probe"), "").is_ok();
    let run = env.agent(&repo, &["spawn", "t"]);
    mode(0o755);
    if writable {
        return;
    }
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(run.stderr.contains("read-only"), "{run:#?}");
}

/// Spawn's undo goes through the guard: a branch someone checked out meanwhile is kept.
#[test]
fn spawn_undo_keeps_a_branch_checked_out_elsewhere_meanwhile() {
    let env = Env::new();
    let repo = setup(&env);
    env.git(&repo, &["config", "agent.setup", "exit 1"]);
    let point = PausePoint::new(&env, "spawn-worktree-added");
    let child = start_paused(&env, &repo, &point, &["spawn", "t"]);
    let other = env.path().join("other");
    env.git(&repo, &["worktree", "add", "-q", "-f", other.to_str().unwrap(), "agent/t"]);
    let run = finish(&point, child);
    assert_eq!(run.code, 1, "the failing setup is reported:\n{run:#?}");
    assert!(run.stderr.contains("kept branch agent/t"), "{run:#?}");
    assert!(ref_exists(&env, &repo, "refs/heads/agent/t") && other.join("README.md").is_file());
    assert!(!agents_dir(&repo).join("t").exists(), "the spawn's own worktree is removed");
}
