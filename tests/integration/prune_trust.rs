//! The remaining trust defects of issue 8 (F1..F13 of the hostile review): prune run from
//! inside a task's worktree, `--merged-into` a task branch, planted records for user branches,
//! kill -9 during prune and spawn, late files during a plain prune's deletion, liveness of
//! recorded pids, hints and exit codes, and what `--force` archives.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::prune::kill_at;
use crate::prune_guard::{merged_task, ref_exists, registered, setup, spawn};
use crate::spawn::{agents_dir, rev};

/// Every `*.lock` file below `dir`.
fn lock_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "lock") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

// F1: prune run from inside the worktree it would remove refuses that task, like
// `git worktree remove` of the current worktree, and prunes the others correctly.

#[test]
fn prune_from_inside_a_tasks_worktree_refuses_that_task_and_prunes_the_others() {
    let env = Env::new();
    let repo = setup(&env);
    let inside = merged_task(&env, &repo, "t");
    let other = merged_task(&env, &repo, "u");
    let run = env.agent(&inside, &["prune"]).code(3);
    assert!(run.stdout.contains("refused t") && run.stdout.contains("you are in"), "{run:#?}");
    assert!(run.stdout.contains("pruned u"), "{run:#?}");
    assert!(inside.join("t.txt").is_file() && registered(&env, &repo, &inside));
    assert!(ref_exists(&env, &repo, "refs/heads/agent/t") && ref_exists(&env, &repo, "refs/agent/tasks/t"));
    assert!(!other.exists() && !ref_exists(&env, &repo, "refs/heads/agent/u"));
    assert_eq!(lock_files(&repo.join(".git")), Vec::<PathBuf>::new(), "no lock file is left behind");
    // Named, with --force too: refused, nothing changed.
    let before = env.snapshot(&repo);
    env.agent(&inside, &["prune", "--force", "t"]).code(3).stdout_has("you are in");
    assert_eq!(env.snapshot(&repo), before);
    // From the main worktree it goes.
    env.agent(&repo, &["prune", "t"]).success();
    assert!(!inside.exists() && lock_files(&repo.join(".git")).is_empty());
}

// F2: `--merged-into` a task branch never counts work as merged into a branch that goes in the
// same run; integrate never takes a task's own branch as the target of that task.

#[test]
fn merged_into_a_task_branch_is_refused_and_loses_nothing() {
    let env = Env::new();
    let repo = setup(&env);
    let a = spawn(&env, &repo, "a");
    env.commit(&a, &[("a.txt", "a\n")], "a's work");
    let b = spawn(&env, &repo, "b");
    env.commit(&b, &[("b.txt", "b\n")], "b's work");
    env.git(&a, &["merge", "-q", "--no-ff", "-m", "take b", "agent/b"]);
    let tip_a = rev(&env, &repo, "agent/a");
    let before = env.snapshot(&repo);
    for spec in ["agent/a", "refs/heads/agent/a", "heads/agent/a", "agent/a~0", tip_a.as_str()] {
        let run = env.agent(&repo, &["prune", "--all", "--merged-into", spec]);
        assert!(run.code == 2 || run.code == 3, "--merged-into {spec}: {run:#?}");
        assert!(run.stderr.contains("task branch"), "--merged-into {spec}: {run:#?}");
        assert_eq!(env.snapshot(&repo), before, "--merged-into {spec} changed something");
    }
    assert!(a.join("b.txt").is_file() && b.join("b.txt").is_file());
    // A ref outside the task branches holding the same commits is fine.
    env.git(&repo, &["branch", "keep", "agent/a"]);
    env.agent(&repo, &["prune", "--all", "--merged-into", "keep"]).success();
    assert!(!ref_exists(&env, &repo, "refs/heads/agent/a") && !ref_exists(&env, &repo, "refs/heads/agent/b"));
}

#[test]
fn integrate_into_the_branch_of_a_task_being_integrated_is_refused() {
    let env = Env::new();
    let repo = setup(&env);
    let a = spawn(&env, &repo, "a");
    env.commit(&a, &[("a.txt", "a\n")], "a's work");
    env.agent(&a, &["done"]).success();
    let before = env.snapshot(&repo);
    let run = env.agent(&repo, &["integrate", "--into", "agent/a", "a"]);
    assert!(run.code == 2 || run.code == 3, "{run:#?}");
    assert!(run.stderr.contains("own branch"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before);
}

// F3: a record is no proof that git-agent made a branch: a planted record for the user's own
// `agent/foo` never lets prune delete it; --force archives and removes only the record.

#[test]
fn a_planted_record_for_a_users_branch_never_deletes_the_branch() {
    let env = Env::new();
    let repo = setup(&env);
    env.git(&repo, &["branch", "agent/foo"]);
    let base = rev(&env, &repo, "main");
    let worktree = agents_dir(&repo).join("foo");
    write_raw_record(
        &env,
        &repo,
        "foo",
        &format!(
            r#"{{"version":1,"name":"foo","branch":"refs/heads/agent/foo","base_ref":"refs/heads/main","base_commit":"{base}","worktree":"{}","created_ms":1,"state":"integrated"}}"#,
            worktree.display()
        ),
    );
    let before = env.snapshot(&repo);
    let run = env.agent(&repo, &["prune"]).code(3);
    assert!(run.stdout.contains("not created by git-agent"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before);
    let run = env.agent(&repo, &["prune", "--force", "foo"]).success();
    assert_eq!(rev(&env, &repo, "refs/heads/agent/foo"), base, "the user's branch is kept:\n{run:#?}");
    assert!(!ref_exists(&env, &repo, "refs/agent/tasks/foo"), "the record goes");
    let archived = env.git(&repo, &["for-each-ref", "--format=%(refname)", "refs/agent/archive/foo/"]);
    assert!(archived.contains("/record"), "the record is archived:\n{archived}");
    // A task made by spawn keeps working, also with core.logAllRefUpdates off.
    env.git(&repo, &["config", "core.logAllRefUpdates", "false"]);
    let t = merged_task(&env, &repo, "t");
    env.agent(&repo, &["prune"]).success().stdout_has("pruned t");
    assert!(!t.exists() && !ref_exists(&env, &repo, "refs/heads/agent/t"));
}

// F11: a recorded pid that is a zombie (exited, not reaped) or now another process is dead.

fn is_zombie(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'))
}

#[test]
fn a_worktree_moved_aside_by_a_prune_that_is_now_a_zombie_is_put_back() {
    if !Path::new("/proc/self/stat").exists() {
        return;
    }
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t");
    write(&worktree.join("precious.txt"), "uncommitted\n");
    let point = PausePoint::new(&env, "prune-moved-aside");
    let (key, value) = point.env();
    // Started directly, not through git: once killed it stays a zombie of this test until reaped.
    let mut child = env.command("git-agent-prune", &repo).args(["--force", "t"]).env(key, value).spawn().unwrap();
    point.wait_reached();
    let pid = std::fs::read_to_string(point.dir.join("prune-moved-aside.reached")).unwrap();
    std::process::Command::new("kill").args(["-9", pid.trim()]).status().unwrap();
    let started = std::time::Instant::now();
    while !is_zombie(pid.trim()) {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "never a zombie");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let run = env.agent(&repo, &["prune", "t"]);
    child.wait().unwrap();
    assert!(run.stderr.contains("put back"), "{run:#?}");
    assert_eq!(std::fs::read_to_string(worktree.join("precious.txt")).unwrap(), "uncommitted\n");
}

#[test]
fn a_lock_whose_pid_now_belongs_to_another_process_is_recovered() {
    let env = Env::new();
    let repo = setup(&env);
    // This test process is alive, but started at another time than the lock says.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    std::fs::write(
        repo.join(".git/agent-worktrees.lock"),
        format!("pid {}\nhost {}\nstart 1\npurpose worktree-add\n", std::process::id(), host.trim()),
    )
    .unwrap();
    let started = std::time::Instant::now();
    spawn(&env, &repo, "t");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

// F13: --force archives everything it removes: the staged version of a file too; removal never
// follows a link out of the worktree.

#[test]
fn force_archives_the_staged_version_and_never_follows_links_out() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t");
    write(&worktree.join("README.md"), "staged\n");
    env.git(&worktree, &["add", "README.md"]);
    write(&worktree.join("README.md"), "on disk\n");
    let outside = env.path().join("outside");
    write(&outside.join("keep.txt"), "not the task's\n");
    std::os::unix::fs::symlink(&outside, worktree.join("link")).unwrap();
    env.agent(&repo, &["prune", "--force", "t"]).success();
    assert!(!worktree.exists());
    assert_eq!(std::fs::read_to_string(outside.join("keep.txt")).unwrap(), "not the task's\n");
    let archived = env.git(&repo, &["for-each-ref", "--format=%(refname)", "refs/agent/archive/t/"]);
    let contents: Vec<String> = archived
        .lines()
        .filter_map(|name| {
            let out = env.command("git", &repo).args(["show", &format!("{name}:README.md")]).output().unwrap();
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        })
        .collect();
    assert!(contents.iter().any(|c| c == "staged\n"), "the staged version is archived:\n{archived}\n{contents:?}");
    assert!(contents.iter().any(|c| c == "on disk\n"), "the worktree version is archived:\n{archived}");
}

// F5: a file written while a plain prune is deleting the worktree's files stops the removal of
// that task: the worktree is put back, registered, with the late file; a later prune sees what
// is left and refuses it until it is clean, then removes it.

#[test]
fn a_file_written_while_plain_prune_deletes_the_files_stops_that_task() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = merged_task(&env, &repo, "t");
    env.commit(&worktree, &[("sub/a.txt", "a\n"), ("sub/b.txt", "b\n")], "more files");
    env.git(&repo, &["merge", "-q", "--no-ff", "-m", "merge again", "agent/t"]);
    let point = PausePoint::new(&env, "prune-deleting");
    let (key, value) = point.env();
    let child = env
        .command("git", &repo)
        .args(["agent", "prune", "t"])
        .env(key, value)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    point.wait_reached();
    let aside = std::fs::read_dir(worktree.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(".prune-t-"))
        .expect("moved aside");
    write(&aside.join("late.txt"), "written while deleting\n");
    point.release();
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(run.stdout.contains("put back"), "{run:#?}");
    assert_eq!(std::fs::read_to_string(worktree.join("late.txt")).unwrap(), "written while deleting\n");
    assert!(registered(&env, &repo, &worktree));
    assert!(ref_exists(&env, &repo, "refs/heads/agent/t") && ref_exists(&env, &repo, "refs/agent/tasks/t"));
    assert!(lock_files(&repo.join(".git")).is_empty(), "no lock is left: {:?}", lock_files(&repo.join(".git")));
    // What is left is a worktree with a late file and some files deleted: refused, not lost.
    env.agent(&repo, &["prune", "t"]).code(3).stdout_has("uncommitted");
    std::fs::remove_file(worktree.join("late.txt")).unwrap();
    env.git(&worktree, &["checkout", "-q", "--", "."]);
    env.agent(&repo, &["prune", "t"]).success();
    assert!(!worktree.exists());
}

// F4: kill -9 while prune deletes files leaves no ref lock, and a state the next prune repairs.

#[test]
fn kill_9_of_prune_while_deleting_files_leaves_no_lock_and_is_recovered() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = merged_task(&env, &repo, "t");
    env.commit(&worktree, &[("sub/a.txt", "a\n"), ("sub/b.txt", "b\n")], "more files");
    env.git(&repo, &["merge", "-q", "--no-ff", "-m", "merge again", "agent/t"]);
    let dir = PausePoint::new(&env, "prune-deleting").dir;
    let child = env
        .command("git", &repo)
        .args(["agent", "prune", "t"])
        .env("GIT_AGENT_TEST_PAUSE", format!("prune-deleting:{}", dir.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    kill_at(&dir, "prune-deleting", child);
    let locks: Vec<PathBuf> =
        lock_files(&repo.join(".git")).into_iter().filter(|p| !p.starts_with(repo.join(".git/agent-claims"))).collect();
    assert!(locks.is_empty(), "no ref lock is left by kill -9: {locks:?}");
    // The next prune puts the half-deleted worktree back (it still has its .git file), sees
    // the deleted files, and refuses; --force archives what is left and completes.
    let run = env.agent(&repo, &["prune", "t"]).code(3);
    assert!(run.stderr.contains("put back"), "{run:#?}");
    assert!(registered(&env, &repo, &worktree) && ref_exists(&env, &repo, "refs/heads/agent/t"));
    env.agent(&repo, &["prune", "--force", "t"]).success();
    assert!(!worktree.exists() && !ref_exists(&env, &repo, "refs/heads/agent/t"));
    assert!(lock_files(&repo.join(".git")).is_empty());
}

// F12 (b): a lock file naming no owner is the same exit status (3, refused) everywhere.

#[test]
fn an_ownerless_claim_is_refused_with_one_exit_status_everywhere() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = merged_task(&env, &repo, "t");
    std::fs::write(repo.join(".git/agent-claims/t.lock"), "").unwrap();
    env.agent(&repo, &["prune", "t"]).code(3);
    env.agent(&repo, &["spawn", "t"]).code(3);
    std::fs::write(repo.join(".git/agent-claims/u.lock"), "").unwrap();
    env.agent(&repo, &["spawn", "u"]).code(3).stderr_has("names no owner");
    assert!(worktree.is_dir());
}

// F12 (c): after `git worktree move`, list and show find the worktree by git's registration.

#[test]
fn list_and_show_find_a_moved_worktree() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t");
    let moved = env.path().join("moved-t");
    env.git(&repo, &["worktree", "move", worktree.to_str().unwrap(), moved.to_str().unwrap()]);
    let list = env.agent(&repo, &["list"]).success();
    assert!(!list.stdout.contains("worktree missing") && !list.stderr.contains("worktree missing"), "{list:#?}");
    let json = env.agent(&repo, &["list", "--json"]).success().json();
    assert_eq!(json["tasks"][0]["worktree_missing"], false, "{json:#}");
    assert_eq!(json["tasks"][0]["worktree"], moved.to_str().unwrap(), "{json:#}");
    env.agent(&repo, &["show", "t"]).success().stdout_has(moved.to_str().unwrap());
}

// F6: a spawn killed in the middle of its checkout (registration locked "initializing", no
// index yet, some files written) never blocks the task name: prune removes it, spawn works.

#[test]
fn kill_9_of_spawn_in_the_middle_of_its_checkout_is_cleaned_up() {
    let env = Env::new();
    let repo = setup(&env);
    env.commit(&repo, &[("src/a.txt", "a\n"), ("src/b.txt", "b\n")], "more");
    let worktree = crate::prune::interrupted_spawn(&env, &repo, "t", "spawn-worktree-added");
    // What gix leaves when killed during the checkout: locked, no index, some files missing.
    let admin = repo.join(".git/worktrees/t");
    std::fs::write(admin.join("locked"), "initializing\n").unwrap();
    std::fs::remove_file(admin.join("index")).unwrap();
    std::fs::remove_file(worktree.join("src/b.txt")).unwrap();
    let run = env.agent(&repo, &["prune"]).success();
    assert!(run.stdout.contains("interrupted spawn"), "{run:#?}");
    assert!(!worktree.exists() && !admin.exists() && !ref_exists(&env, &repo, "refs/heads/agent/t"));
    spawn(&env, &repo, "t");
}
