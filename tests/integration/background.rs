//! Agents in the background: `spawn --detach`, `run`, `logs`, `stop`, `--tmux`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::spawn::agents_dir;

/// Generous: the machine is shared. Never an assertion on how long something took.
const PATIENCE: Duration = Duration::from_secs(60);

/// Waits until `done` holds (at most [`PATIENCE`]); `what` names it in the failure.
#[track_caller]
pub(crate) fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < PATIENCE, "waited in vain for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `git agent <args>` and fails (instead of hanging) if it does not end in time: a
/// detached agent must not keep the command, or its output pipes, waiting.
#[track_caller]
pub(crate) fn bounded(env: &Env, cwd: &Path, args: &[&str]) -> Run {
    let mut child =
        env.command("git", cwd).arg("agent").args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let read = |stream: Box<dyn std::io::Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(std::io::read_to_string(stream).unwrap_or_default()));
        rx
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + PATIENCE;
    let mut collect = |rx: std::sync::mpsc::Receiver<String>| match rx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        Ok(text) => text,
        Err(_) => {
            let _ = child.kill();
            panic!("git agent {args:?} did not end (or left its output open)");
        }
    };
    let (stdout, stderr) = (collect(stdout), collect(stderr));
    let status = child.wait().unwrap();
    Run { code: status.code().unwrap_or(-1), stdout, stderr }
}

/// Kills whatever a failed test left running in its directory (agents, their supervisors).
struct Reaper(PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in git_agent::process::processes_working_in(&self.0) {
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// A test environment whose processes are killed at its end.
fn new_env() -> (Env, Reaper) {
    let env = Env::new();
    let reaper = Reaper(env.path().to_owned());
    (env, reaper)
}

fn setup(env: &Env) -> PathBuf {
    env.repo("repo", &[("README.md", "hello\n")])
}

fn show(env: &Env, repo: &Path, task: &str) -> serde_json::Value {
    env.agent(repo, &["show", task, "--json"]).success().json()
}

fn running(env: &Env, repo: &Path, task: &str) -> bool {
    let list = env.agent(repo, &["list", "--json"]).success().json();
    let row = list["tasks"].as_array().unwrap().iter().find(|t| t["name"] == task).cloned().unwrap();
    row["running"].as_bool().unwrap()
}

/// The `how` of every agent-start operation in the task's record history.
fn starts(env: &Env, repo: &Path, task: &str) -> Vec<String> {
    let log = env.git(repo, &["log", "--format=%H", &format!("refs/agent/tasks/{task}")]);
    let mut hows = Vec::new();
    for commit in log.lines() {
        let Ok(out) = env.command("git", repo).args(["show", &format!("{commit}:ops.json")]).output() else {
            continue;
        };
        let Ok(ops) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else { continue };
        let list = ops.as_array().cloned().or_else(|| ops["ops"].as_array().cloned()).unwrap_or_default();
        for op in list {
            if op["op"] == "agent-started" || op["op"] == "agent-start" {
                hows.push(op["how"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    hows
}

/// An agent that says hello, waits for the file `go`, says bye and exits 3.
fn waiting_agent(go: &Path) -> String {
    format!(
        "echo hello from $GIT_AGENT_TASK on $GIT_AGENT_BRANCH; while [ ! -f {go} ]; do sleep 0.05; done; echo bye; exit 3",
        go = go.display()
    )
}

#[test]
fn a_detached_agent_runs_in_the_background_and_its_exit_is_recorded() {
    let (env, _reaper) = new_env();
    let repo = setup(&env);
    let go = env.path().join("go");
    let script = waiting_agent(&go);
    let run = bounded(&env, &repo, &["spawn", "t", "--detach", "--", "sh", "-c", &script]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("agent/logs/t.log") || run.stdout.contains("agent/logs/t.log"), "{run:#?}");
    assert!(running(&env, &repo, "t"), "list shows the detached agent running");
    env.agent(&repo, &["list"]).success().stdout_has("agent running");
    wait_until("the agent's first line in its log", || {
        env.agent(&repo, &["logs", "t"]).success().stdout.contains("hello from t on agent/t")
    });
    assert!(show(&env, &repo, "t")["agent_exit"].is_null());

    // One agent per task: the claim's holder is named.
    env.agent(&repo, &["run", "t", "--detach", "--", "true"]).code(4).stderr_has("git-agent agent (pid");
    env.agent(&repo, &["run", "t", "--", "true"]).code(4).stderr_has("git-agent agent (pid");

    std::fs::write(&go, "").unwrap();
    wait_until("the exit status in the record", || show(&env, &repo, "t")["agent_exit"] == 3);
    wait_until("the claim to go", || !running(&env, &repo, "t"));
    let logs = env.agent(&repo, &["logs", "t"]).success();
    assert!(logs.stdout.contains("hello from t") && logs.stdout.contains("bye"), "{logs:#?}");
    // The run is over: -f prints the log and ends.
    bounded(&env, &repo, &["logs", "-f", "t"]).success().stdout_has("bye");
    assert_eq!(starts(&env, &repo, "t"), vec!["detached".to_owned()]);
    env.agent(&repo, &["list"]).success().stdout_has("agent exited 3");
    env.agent(&repo, &["stop", "t"]).code(3).stderr_has("no running agent");
}

#[test]
fn logs_follow_the_agent_until_it_exits() {
    let (env, _reaper) = new_env();
    let repo = setup(&env);
    let go = env.path().join("go");
    bounded(&env, &repo, &["spawn", "t", "--detach", "--", "sh", "-c", &waiting_agent(&go)]).success();
    let follower = env
        .command("git", &repo)
        .args(["agent", "logs", "-f", "t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(&go, "").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(follower.wait_with_output().unwrap()));
    let out = Run::from(rx.recv_timeout(PATIENCE).expect("logs -f did not end when the agent did"));
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(out.stdout.contains("hello from t") && out.stdout.contains("bye"), "{out:#?}");
}

/// An agent that starts a child (its pid in `child.pid`) and waits for it.
fn agent_with_child(trap_term: bool) -> String {
    let trap = if trap_term { "trap '' TERM; " } else { "" };
    format!("{trap}sleep 1000 & echo $! > child.pid; echo started; wait")
}

fn child_pid(worktree: &Path) -> u32 {
    let file = worktree.join("child.pid");
    wait_until("the agent's child", || std::fs::read_to_string(&file).is_ok_and(|t| t.ends_with('\n')));
    std::fs::read_to_string(&file).unwrap().trim().parse().unwrap()
}

/// Gone, or a zombie nobody reaped yet.
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat[stat.rfind(')').unwrap() + 1..].split_whitespace().next() == Some("Z"),
    }
}

#[test]
fn stop_ends_the_agents_whole_process_group_and_records_it() {
    let (env, _reaper) = new_env();
    let repo = setup(&env);
    bounded(&env, &repo, &["spawn", "t", "--detach", "--", "sh", "-c", &agent_with_child(false)]).success();
    let child = child_pid(&agents_dir(&repo).join("t"));
    assert!(!is_dead(child));
    let stop = bounded(&env, &repo, &["stop", "t"]);
    assert_eq!(stop.code, 0, "{stop:#?}");
    assert!(stop.stderr.contains("exit status 143 recorded"), "{stop:#?}");
    assert_eq!(show(&env, &repo, "t")["agent_exit"], 143);
    wait_until("the agent's child to die with it", || is_dead(child));
    assert!(!running(&env, &repo, "t"));
    env.agent(&repo, &["stop", "t"]).code(3).stderr_has("no running agent");
}

#[test]
fn a_planted_run_file_never_aims_stop_at_another_process_group() {
    let (env, _reaper) = new_env();
    let repo = setup(&env);
    bounded(&env, &repo, &["spawn", "t", "--detach", "--", "sh", "-c", &agent_with_child(false)]).success();
    let child = child_pid(&agents_dir(&repo).join("t"));
    // Another process group, alive, that an agent would like stopped.
    let mut victim = std::process::Command::new("setsid").args(["sleep", "60"]).spawn().unwrap();
    let victim_pid = victim.id();
    let runs = repo.join(".git/agent/runs/t");
    let text = std::fs::read_to_string(&runs).unwrap();
    let planted: String = text
        .lines()
        .map(|l| if l.starts_with("pgid ") { format!("pgid {victim_pid}\n") } else { format!("{l}\n") })
        .collect();
    std::fs::write(&runs, planted).unwrap();
    bounded(&env, &repo, &["stop", "t"]).code(3).stderr_has("not its supervisor's");
    assert!(!is_dead(victim_pid), "the other group was signalled");
    assert!(!is_dead(child), "nothing was signalled");
    victim.kill().unwrap();
    victim.wait().unwrap();
    std::fs::write(&runs, text).unwrap();
    bounded(&env, &repo, &["stop", "t"]).success();
}

#[test]
fn a_log_planted_as_a_link_is_neither_read_nor_written() {
    let (env, _reaper) = new_env();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "t", "--no-agent"]).success();
    let victim = env.path().join("victim.txt");
    std::fs::write(&victim, "secret\n").unwrap();
    let logs = repo.join(".git/agent/logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::os::unix::fs::symlink(&victim, logs.join("t.log")).unwrap();
    let read = env.agent(&repo, &["logs", "t"]);
    assert_ne!(read.code, 0, "{read:#?}");
    assert!(!read.stdout.contains("secret"), "{read:#?}");
    let run = bounded(&env, &repo, &["run", "t", "--detach", "--", "sh", "-c", "echo PWNED"]);
    assert_ne!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret\n", "nothing appended through the link");
}

#[test]
fn stop_kills_an_agent_that_ignores_sigterm_after_the_grace_period() {
    let (env, _reaper) = new_env();
    let repo = setup(&env);
    bounded(&env, &repo, &["spawn", "t", "--detach", "--", "sh", "-c", &agent_with_child(true)]).success();
    let child = child_pid(&agents_dir(&repo).join("t"));
    let stop = bounded(&env, &repo, &["stop", "t", "--grace", "0", "--json"]);
    assert_eq!(stop.code, 0, "{stop:#?}");
    let json = stop.json();
    assert_eq!(json["stopped"]["killed"], true, "{json:#}");
    assert_eq!(json["stopped"]["exit"], 137, "{json:#}");
    wait_until("the agent's child to die with it", || is_dead(child));
}

#[test]
fn run_starts_the_agent_of_a_task_from_a_plan() {
    let (env, _reaper) = new_env();
    let repo = setup(&env);
    let plan = env.path().join("plan.json");
    write(
        &plan,
        r#"{"version": 1, "tasks": [{"name": "db", "brief": "Add the table", "scope": ["db/"],
            "command": ["sh", "-c", "echo brief=$GIT_AGENT_BRIEF arg={brief} in $GIT_AGENT_WORKTREE; exit 0"]}]}"#,
    );
    env.agent(&repo, &["spawn", "--plan", plan.to_str().unwrap()]).success();
    bounded(&env, &repo, &["run", "db", "--detach"]).success();
    wait_until("the exit status in the record", || show(&env, &repo, "db")["agent_exit"] == 0);
    wait_until("the claim to go", || !running(&env, &repo, "db"));
    let worktree = agents_dir(&repo).join("db");
    let logs = env.agent(&repo, &["logs", "db"]).success();
    let expected = format!("brief=Add the table arg=Add the table in {}", worktree.display());
    // The worktree path may be reported through a symlinked temporary directory.
    assert!(logs.stdout.contains("brief=Add the table arg=Add the table in /"), "{logs:#?}\n{expected}");

    // In the foreground, from the task's own worktree, with a command given.
    env.command("git", &worktree).args(["agent", "run", "--", "sh", "-c", "exit 6"]).output().unwrap();
    assert_eq!(show(&env, &repo, "db")["agent_exit"], 6);
    assert_eq!(starts(&env, &repo, "db"), vec!["foreground".to_owned(), "detached".to_owned()]);
}

#[test]
fn background_commands_refuse_what_they_cannot_do() {
    let (env, _reaper) = new_env();
    let repo = setup(&env);
    env.agent(&repo, &["spawn", "idle"]).success();
    for args in
        [&["stop", "nope"][..], &["logs", "nope"], &["attach", "nope"], &["run", "nope", "--detach", "--", "true"]]
    {
        env.agent(&repo, args).code(2).stderr_has("no task named");
    }
    env.agent(&repo, &["stop", "idle"]).code(3).stderr_has("no running agent");
    env.agent(&repo, &["attach", "idle"]).code(3).stderr_has("no running agent");
    env.agent(&repo, &["logs", "idle"]).code(3).stderr_has("has no log");
    env.agent(&repo, &["run", "idle", "--detach"]).code(2).stderr_has("no agent command");
    // A spawn that cannot start its agent keeps the task and says so.
    let run = env.agent(&repo, &["spawn", "bad", "--detach", "--", "/no/such/agent"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("was spawned (kept)") && run.stderr.contains("/no/such/agent"), "{run:#?}");
    assert!(!running(&env, &repo, "bad"));
}

#[test]
fn a_ctrl_c_in_the_orchestrators_terminal_does_not_reach_a_detached_agent() {
    let (env, _reaper) = new_env();
    let repo = setup(&env);
    let (ping, pong) = (env.path().join("ping"), env.path().join("pong"));
    let agent = format!(
        "while [ ! -f {ping} ]; do sleep 0.05; done; touch {pong}; sleep 1000",
        ping = ping.display(),
        pong = pong.display()
    );
    let spawned = env.path().join("spawned");
    // The orchestrator's terminal: a process group of its own, which gets the Ctrl-C.
    let script = format!(
        "git agent spawn -q t --detach -- sh -c '{agent}' && touch {spawned}; sleep 1000",
        spawned = spawned.display()
    );
    let mut terminal = {
        use std::os::unix::process::CommandExt;
        env.command("sh", &repo)
            .args(["-c", &script])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    wait_until("the spawn", || spawned.exists());
    let group = format!("-{}", terminal.id());
    assert!(env.command("kill", &repo).args(["-INT", "--", &group]).status().unwrap().success());
    terminal.wait().unwrap();
    std::fs::write(&ping, "").unwrap();
    wait_until("the agent to answer after the Ctrl-C", || pong.exists());
    assert!(running(&env, &repo, "t"));
    bounded(&env, &repo, &["stop", "t"]).success();
    assert_eq!(show(&env, &repo, "t")["agent_exit"], 143);
}

/// A tmux server of the test's own, killed at the end.
pub(crate) struct TmuxServer {
    pub(crate) socket: String,
}

impl TmuxServer {
    pub(crate) fn new(env: &Env) -> TmuxServer {
        let name = env.path().file_name().unwrap().to_string_lossy().into_owned();
        TmuxServer { socket: format!("git-agent-test-{name}") }
    }

    fn windows(&self, env: &Env) -> String {
        let out = env
            .command("tmux", env.path())
            .args(["-L", &self.socket, "list-windows", "-a", "-F", "#{session_name} #{window_name}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn a_tmux_agent_gets_a_window_named_after_its_task_and_its_exit_is_recorded() {
    if std::process::Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let (env, _reaper) = new_env();
    let repo = setup(&env);
    let tmux = TmuxServer::new(&env);
    let go = env.path().join("go");
    let agent = format!("while [ ! -f {go} ]; do sleep 0.05; done; exit 5", go = go.display());
    let mut spawn = env.command("git", &repo);
    spawn.env("GIT_AGENT_TMUX_SOCKET", &tmux.socket).args(["agent", "spawn", "t", "--tmux", "--", "sh", "-c", &agent]);
    let run = Run::from(spawn.output().unwrap());
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(tmux.windows(&env).lines().any(|l| l == "git-agent t"), "{}", tmux.windows(&env));
    assert!(running(&env, &repo, "t"));
    // agent.terminal=tmux: `run` puts the next agent in a window of the same session.
    env.git(&repo, &["config", "agent.terminal", "tmux"]);
    env.agent(&repo, &["spawn", "u"]).success();
    let mut run = env.command("git", &repo);
    run.env("GIT_AGENT_TMUX_SOCKET", &tmux.socket).args(["agent", "run", "u", "--", "sh", "-c", &agent]);
    let run = Run::from(run.output().unwrap());
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(tmux.windows(&env).lines().any(|l| l == "git-agent u"), "{}", tmux.windows(&env));
    // Its output is in its window, not in a log.
    env.agent(&repo, &["logs", "t"]).code(3);

    std::fs::write(&go, "").unwrap();
    wait_until("the exit status in the record", || show(&env, &repo, "t")["agent_exit"] == 5);
    wait_until("the exit status of u", || show(&env, &repo, "u")["agent_exit"] == 5);
    wait_until("the windows to close", || !tmux.windows(&env).contains("git-agent t"));
    assert_eq!(starts(&env, &repo, "t"), vec!["tmux".to_owned()]);
}
