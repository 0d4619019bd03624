//! SIGINT and SIGTERM through real `git agent ...` dispatch, sent as a terminal sends them: to
//! the whole foreground process group (git and git-agent both get it, and git forwards it to
//! git-agent once more). Pause points decide the moment; each test checks that nothing is left
//! behind (refs, registrations, directories, claim locks, the test's processes) and the exit
//! status (130 for SIGINT, 143 for SIGTERM, as a shell reports it).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo, record, rev};

/// Starts `program args` in `cwd` as a terminal starts a foreground job: in a new process group
/// that it leads. `pause` makes git-agent stop at that pause point.
fn start_job(env: &Env, cwd: &Path, program: &str, args: &[&str], pause: &PausePoint) -> Child {
    let (key, value) = pause.env();
    env.command(program, cwd)
        .args(args)
        .env(key, value)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap()
}

/// `git agent <args>`, through git's dispatch.
fn start_git_agent(env: &Env, cwd: &Path, args: &[&str], pause: &PausePoint) -> Child {
    let mut all = vec!["agent"];
    all.extend_from_slice(args);
    start_job(env, cwd, "git", &all, pause)
}

/// Sends `signal` `times` times to the whole process group `job` leads (Ctrl-C, twice). Each
/// time, waits until every process of the group has taken the signal: two signals still pending
/// together would count as one.
fn signal_job(job: &Child, signal: Signal, times: usize) {
    let group = job.id() as i32;
    for _ in 0..times {
        rustix::process::kill_process_group(rustix::process::Pid::from_raw(group).unwrap(), signal).unwrap();
        wait_until("the signal was taken", || !alive(|stat| stat.group == group && pending(stat.pid, signal)));
    }
}

/// Whether `signal` is pending for process `pid` and will be taken as soon as it runs: not
/// blocked (git blocks it while its own handler waits for git-agent). From /proc/<pid>/status.
fn pending(pid: i32, signal: Signal) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return false };
    let bit = 1u64 << (signal.as_raw() - 1);
    let mask = |field: &str| {
        status
            .lines()
            .filter_map(|line| line.strip_prefix(field))
            .filter_map(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .fold(0, |all, mask| all | mask)
    };
    (mask("SigPnd:") | mask("ShdPnd:")) & bit != 0 && mask("SigBlk:") & bit == 0
}

/// Waits for the job and every process of its group; returns its status and output.
fn finish_job(job: Child) -> (ExitStatus, Run) {
    let group = job.id() as i32;
    let out = job.wait_with_output().unwrap();
    wait_until("every process of the job ended", || !alive(|stat| stat.group == group));
    (out.status, Run::from(out))
}

/// An exit status as a shell reports it: the code, or 128 + the signal that ended the process
/// (git itself re-raises a signal it forwarded, once its child has exited).
fn shell_status(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().expect("exited or signalled"))
}

/// The fields of /proc/<pid>/stat these tests look at.
struct Stat {
    pid: i32,
    group: i32,
    zombie: bool,
}

fn stat(entry: &Path) -> Option<Stat> {
    let text = std::fs::read_to_string(entry.join("stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    let (head, rest) = text.rsplit_once(')')?;
    let pid = head.split_whitespace().next()?.parse().ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat { pid, group: fields.get(2)?.parse().ok()?, zombie: fields.first() == Some(&"Z") })
}

/// Whether a live (not zombie) process matches.
fn alive(matches: impl Fn(&Stat) -> bool) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| stat(&entry.path()))
        .any(|stat| !stat.zombie && matches(&stat))
}

/// Polls `done` (a process that was killed takes a moment to go) for at most 20 seconds.
#[track_caller]
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The number a command wrote to `file`, once it has written it.
fn pid_in(file: &Path) -> i32 {
    wait_until(&format!("{} holds a pid", file.display()), || {
        std::fs::read_to_string(file).is_ok_and(|text| text.trim().parse::<i32>().is_ok())
    });
    std::fs::read_to_string(file).unwrap().trim().parse().unwrap()
}

/// Lock files git-agent left under the git directory (claims, the worktree lock).
fn lock_files(repo: &Path) -> Vec<PathBuf> {
    let mut locks = Vec::new();
    for dir in [repo.join(".git"), repo.join(".git/agent-claims")] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().ends_with(".lock") {
                locks.push(entry.path());
            }
        }
    }
    locks
}

/// What is in the worktree root: task worktrees (integrate's scratch slots under
/// `.integrate/` stay between runs and are left out).
fn worktree_root_entries(repo: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(agents_dir(repo))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".integrate")
        .collect();
    names.sort();
    names
}

/// A spawned task with one commit, marked done.
fn done_task(env: &Env, repo: &Path, name: &str) -> PathBuf {
    env.agent(repo, &["spawn", name, "-q"]).success();
    let worktree = agents_dir(repo).join(name);
    env.commit(&worktree, &[(&format!("{name}.txt"), "work\n")], &format!("{name}: work"));
    env.agent(repo, &["done", name, "-q"]).success();
    worktree
}

#[test]
fn sigint_twice_after_spawn_made_the_branch_and_worktree_rolls_it_all_back() {
    let env = Env::new();
    let files: Vec<(String, String)> = (0..500).map(|i| (format!("d{}/f{i}.txt", i % 20), format!("{i}\n"))).collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
    let repo = canonical_repo(&env, "repo", &files);
    let before = env.snapshot(&repo);
    let worktree = agents_dir(&repo).join("t");
    let pause = PausePoint::new(&env, "spawn-worktree-added");
    let job = start_git_agent(&env, &repo, &["spawn", "t", "--no-agent"], &pause);
    pause.wait_reached();
    assert!(worktree.join("d0/f0.txt").is_file(), "the pause point comes after the checkout");
    signal_job(&job, Signal::INT, 2);
    pause.release();
    let (status, run) = finish_job(job);
    assert_eq!(shell_status(status), 130, "{run:#?}");
    assert!(run.stderr.contains("interrupted by SIGINT") && run.stderr.contains("rolled back"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before, "no branch, record or registration is left");
    assert!(!worktree.exists(), "the worktree {} is left", worktree.display());
    assert_eq!(lock_files(&repo), Vec::<PathBuf>::new(), "the claim is released");
    // And the same task can be spawned again at once.
    env.agent(&repo, &["spawn", "t", "-q", "--no-agent"]).success();
}

#[test]
fn sigterm_before_spawn_checks_out_leaves_nothing() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let before = env.snapshot(&repo);
    let pause = PausePoint::new(&env, "spawn-branch-created");
    let job = start_git_agent(&env, &repo, &["spawn", "t", "--no-agent"], &pause);
    pause.wait_reached();
    assert_ne!(env.snapshot(&repo), before, "the branch exists at the pause point");
    signal_job(&job, Signal::TERM, 1);
    pause.release();
    let (status, run) = finish_job(job);
    assert_eq!(shell_status(status), 143, "{run:#?}");
    assert!(run.stderr.contains("interrupted by SIGTERM"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before);
    assert!(!agents_dir(&repo).join("t").exists());
    assert_eq!(lock_files(&repo), Vec::<PathBuf>::new());
}

#[test]
fn sigterm_during_agent_setup_kills_its_processes_and_rolls_back() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let pid_file = env.path().join("setup-child.pid");
    env.git(&repo, &["config", "agent.setup", &format!("sleep 300 & echo $! > '{}'; wait", pid_file.display())]);
    let before = env.snapshot(&repo);
    // No pause point is reached: the setup's pid file says when it runs.
    let pause = PausePoint::new(&env, "none");
    let job = start_git_agent(&env, &repo, &["spawn", "t", "--no-agent"], &pause);
    let setup_child = pid_in(&pid_file);
    signal_job(&job, Signal::TERM, 2);
    let (status, run) = finish_job(job);
    assert_eq!(shell_status(status), 143, "{run:#?}");
    wait_until("the setup's own child is gone", || !alive(|stat| stat.pid == setup_child));
    assert_eq!(env.snapshot(&repo), before, "{run:#?}");
    assert!(!agents_dir(&repo).join("t").exists());
    assert_eq!(lock_files(&repo), Vec::<PathBuf>::new());
}

#[test]
fn sigint_twice_during_the_integration_test_kills_it_and_lands_nothing() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    done_task(&env, &repo, "a");
    done_task(&env, &repo, "b");
    let main_before = rev(&env, &repo, "main");
    let before = env.snapshot(&repo);
    let root_before = worktree_root_entries(&repo);
    let pid_file = env.path().join("test-child.pid");
    let test = format!("sleep 300 & echo $! > '{}'; wait", pid_file.display());
    // The second Ctrl-C comes while integrate cleans up after the first.
    let pause = PausePoint::new(&env, "interrupt-noticed");
    let job = start_git_agent(&env, &repo, &["integrate", "--test", &test], &pause);
    let test_child = pid_in(&pid_file);
    assert!(agents_dir(&repo).join(".integrate/main-0").is_dir(), "the test runs in a scratch slot");
    signal_job(&job, Signal::INT, 1);
    pause.wait_reached();
    signal_job(&job, Signal::INT, 1);
    pause.release();
    let (status, run) = finish_job(job);
    assert_eq!(shell_status(status), 130, "{run:#?}");
    assert!(run.stderr.contains("interrupted by SIGINT; the target is unchanged"), "{run:#?}");
    wait_until("the test's own child is gone", || !alive(|stat| stat.pid == test_child));
    assert_eq!(rev(&env, &repo, "main"), main_before);
    assert_eq!(env.snapshot(&repo), before, "no ref moved, no notes were written, no worktree is registered");
    assert_eq!(worktree_root_entries(&repo), root_before, "nothing but the slot was made");
    assert_eq!(held_slots(&repo), Vec::<PathBuf>::new(), "the slot is released");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    assert_eq!(lock_files(&repo), Vec::<PathBuf>::new());
}

#[test]
fn ctrl_c_twice_in_the_agent_is_the_agents_and_its_exit_is_recorded() {
    // The agent shares the terminal: Ctrl-C is its to handle. spawn survives both signals (and
    // git's forwarded one), records how the agent ended, and keeps the task.
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let pid_file = env.path().join("agent.pid");
    let agent = format!("echo $$ > '{}'; exec sleep 300", pid_file.display());
    let pause = PausePoint::new(&env, "none");
    let job = start_git_agent(&env, &repo, &["spawn", "t", "--", "sh", "-c", &agent], &pause);
    let agent_pid = pid_in(&pid_file);
    signal_job(&job, Signal::INT, 2);
    let (status, run) = finish_job(job);
    assert!(!alive(|stat| stat.pid == agent_pid));
    assert_eq!(shell_status(status), 130, "{run:#?}");
    assert_eq!(record(&env, &repo, "t")["agent_exit"], 130, "{run:#?}");
    assert!(agents_dir(&repo).join("t/.git").is_file(), "the task is kept");
    assert_eq!(lock_files(&repo), Vec::<PathBuf>::new());
}

/// Two integrated tasks `a` and `b`.
fn two_integrated_tasks(env: &Env) -> PathBuf {
    let repo = canonical_repo(env, "repo", &[("README.md", "readme\n")]);
    done_task(env, &repo, "a");
    done_task(env, &repo, "b");
    env.agent(&repo, &["integrate", "-q"]).success();
    repo
}

#[test]
fn sigterm_during_prune_stops_between_two_tasks() {
    let env = Env::new();
    let repo = two_integrated_tasks(&env);
    let pause = PausePoint::new(&env, "prune-task-done");
    let job = start_git_agent(&env, &repo, &["prune"], &pause);
    pause.wait_reached();
    signal_job(&job, Signal::TERM, 1);
    pause.release();
    let (status, run) = finish_job(job);
    assert_eq!(shell_status(status), 143, "{run:#?}");
    assert!(run.stdout.contains("pruned a") && !run.stdout.contains("pruned b"), "only a is reported: {run:#?}");
    assert!(run.stderr.contains("interrupted: stopped between two tasks"), "{run:#?}");
    assert!(!agents_dir(&repo).join("a").exists());
    assert!(env.git(&repo, &["for-each-ref", "refs/heads/agent/a", "refs/agent/tasks/a"]).is_empty());
    assert!(agents_dir(&repo).join("b/.git").is_file(), "b was not touched");
    assert_eq!(
        env.git(&repo, &["for-each-ref", "--format=%(refname)", "refs/heads/agent/b", "refs/agent/tasks/b"])
            .lines()
            .count(),
        2
    );
    assert_eq!(lock_files(&repo), Vec::<PathBuf>::new());
    // The next prune finishes the job.
    env.agent(&repo, &["prune"]).success().stdout_has("pruned b");
}

#[test]
fn git_agent_itself_exits_130_after_sigint_twice() {
    // Through git, git re-raises the signal itself; run directly, the code is git-agent's own.
    let env = Env::new();
    let repo = two_integrated_tasks(&env);
    let pause = PausePoint::new(&env, "prune-task-done");
    let program = bin_dir().join("git-agent-prune");
    let job = start_job(&env, &repo, &program.to_string_lossy(), &["--json"], &pause);
    pause.wait_reached();
    signal_job(&job, Signal::INT, 2);
    pause.release();
    let (status, run) = finish_job(job);
    assert_eq!(status.code(), Some(130), "exits (is not killed) with 130: {run:#?}");
    let tasks = run.json()["tasks"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 1, "{run:#?}");
    assert_eq!(tasks[0]["task"], "a");
    assert_eq!(tasks[0]["action"], "pruned");
}
