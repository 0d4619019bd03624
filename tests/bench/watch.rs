//! Benchmark for `git agent watch` sitting idle: the CPU it uses while nothing changes, which
//! should be near zero (it blocks on file-system events and keys, and regathers only every 30 s).
//! The baseline is what people run today, `watch -n2 git agent list`, measured the same way
//! when `watch` is installed.
//!
//! In a repository of 6,000 files with 8 tasks (half with commits, one with an uncommitted
//! edit), each side runs in a tmux pane of its own (private socket), and after its first frame
//! sits for IDLE seconds; its CPU is the growth of utime + stime + cutime + cstime in
//! /proc/<pid>/stat (children reaped by it included: `watch` runs `git agent list` as one).
//!
//! It also times one frame gathered from scratch (`watch --once`) against `git agent list`.
//!
//! Run: `cargo bench --bench watch` (release build; needs tmux). The repository goes to
//! /dev/shm when it exists (set GIT_AGENT_BENCH_DIR to choose), and GIT_AGENT_BENCH_KEEP=1
//! keeps it.

#[path = "support.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{agent, bench_dir, body, command, file_path, finish, git, make_repo, median, ms, run, time, verdict};

const TASKS: usize = 8;
/// How long each side sits idle.
const IDLE: Duration = Duration::from_secs(10);
/// The goal: idle means idle.
const GOAL_PERCENT: f64 = 1.0;
/// Runs of `watch --once` and `list` timed, for the cost of one refresh.
const ROUNDS: usize = 5;

fn main() {
    let started = Instant::now();
    let dir = bench_dir("git-agent-bench-watch");
    let home = dir.path();
    let repo = home.join("repo");
    make_repo(home, &repo, None);
    for i in 0..TASKS {
        let task = format!("t{i}");
        agent(home, &repo, &["spawn", &task, "-q"]);
        let worktree = home.join(format!("repo.agents/{task}"));
        if i % 2 == 0 {
            std::fs::write(worktree.join(file_path(i)), body(i, &[(1, "committed")])).unwrap();
            git(home, &worktree, &["commit", "-q", "-am", "work"]);
        }
        if i == 1 {
            std::fs::write(worktree.join(file_path(i)), body(i, &[(2, "uncommitted")])).unwrap();
        }
    }
    let tmux = Tmux { socket: format!("git-agent-bench-watch-{}", std::process::id()), home: home.to_owned() };
    println!("repository: {} files, {TASKS} tasks; each side idle for {} s", support::FILES, IDLE.as_secs());

    let ours = tmux.idle_cpu(&repo, "ours", "exec git-agent watch", "recent events");
    println!("git agent watch:            {ours:6.2} % of one core");
    if which("watch") {
        let theirs = tmux.idle_cpu(&repo, "baseline", "exec watch -n2 git agent list", "TASK");
        println!("watch -n2 git agent list:   {theirs:6.2} % of one core");
        println!("ratio: {:.1}x less CPU than the baseline", theirs / ours.max(0.01));
    } else {
        println!("watch(1) is not installed: no baseline");
    }
    println!("goal: under {GOAL_PERCENT} % idle: {}", verdict(ours < GOAL_PERCENT));
    // What one refresh costs: a whole frame gathered from scratch (the radar's merges
    // included), against `list` alone.
    let frame = median((0..ROUNDS).map(|_| time(|| agent(home, &repo, &["watch", "--once"]))).collect());
    let list = median((0..ROUNDS).map(|_| time(|| agent(home, &repo, &["list"]))).collect());
    println!("one frame from scratch (watch --once): {:.0} ms; git agent list: {:.0} ms", ms(frame), ms(list));
    drop(tmux);
    finish(dir, started);
}

fn which(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// A tmux server of the benchmark's own, killed at the end.
struct Tmux {
    socket: String,
    home: std::path::PathBuf,
}

impl Tmux {
    fn tmux(&self, args: &[&str]) -> String {
        let mut tmux = command(&self.home, "tmux", &self.home);
        tmux.args(["-L", &self.socket, "-f", "/dev/null"]).args(args);
        run(tmux)
    }

    /// Starts `command` in a new session, waits until the pane shows `ready`, then measures the
    /// pane process's CPU over [`IDLE`]: percent of one core.
    fn idle_cpu(&self, repo: &Path, session: &str, command: &str, ready: &str) -> f64 {
        let repo = repo.to_str().unwrap();
        self.tmux(&["new-session", "-d", "-s", session, "-x", "160", "-y", "50", "-c", repo, command]);
        let pid: u32 = self.tmux(&["display", "-p", "-t", session, "#{pane_pid}"]).trim().parse().unwrap();
        let waiting = Instant::now();
        while !self.tmux(&["capture-pane", "-p", "-t", session]).contains(ready) {
            assert!(waiting.elapsed() < Duration::from_secs(120), "{command}: no frame after 2 minutes");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Past the first frame (and the baseline's first run), as someone glancing at it later.
        std::thread::sleep(Duration::from_secs(1));
        let before = cpu_ticks(pid);
        let clock = Instant::now();
        std::thread::sleep(IDLE);
        let used = cpu_ticks(pid) - before;
        let elapsed = clock.elapsed().as_secs_f64();
        self.tmux(&["kill-session", "-t", session]);
        100.0 * used as f64 / ticks_per_second() / elapsed
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// utime + stime + cutime + cstime of `pid`, in clock ticks (fields 14 to 17 of
/// /proc/<pid>/stat, counted after the command name, which may hold spaces).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    // After the name come state (field 3), ...; utime is field 14: index 11 here.
    after_name.split_whitespace().skip(11).take(4).map(|n| n.parse::<u64>().unwrap()).sum()
}

fn ticks_per_second() -> f64 {
    let out = std::process::Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(100.0)
}
