//! Agents in the background: `git agent spawn --detach` / `--tmux`, `run`, `logs`, `stop`,
//! `attach`.
//!
//! A background agent runs under a small supervisor: git-agent itself, started again as the
//! hidden sub-command `__supervise`, in a session of its own (detached) or as a tmux window's
//! command. The supervisor holds the task's claim (purpose `agent`, so `list` shows the task as
//! running and prune leaves it alone), starts the agent as its child in its own process group,
//! records `agent-start`, waits, records `agent-exit` with the status, and releases the claim.
//! It survives SIGINT, SIGTERM and SIGHUP (they are the agent's): `stop` signals the whole group
//! and the supervisor records how the agent ended. What only this machine knows (the
//! supervisor's pid and process group, the log, the tmux window) is in the run file
//! ([`crate::layout::agent_run_file`]), never in the record.

use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use super::Context;
use crate::error::{Exit, Fail, bad_input, race, refused};
use crate::layout;
use crate::state::{self, TaskRecord};

/// How an agent runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    /// Sharing the terminal of the command that started it.
    Foreground,
    /// In a session of its own, output to its log file.
    Detached,
    /// In a tmux window named after the task.
    Tmux,
}

impl How {
    pub fn as_str(self) -> &'static str {
        match self {
            How::Foreground => "foreground",
            How::Detached => "detached",
            How::Tmux => "tmux",
        }
    }

    pub fn parse(text: &str) -> Option<How> {
        [How::Foreground, How::Detached, How::Tmux].into_iter().find(|how| how.as_str() == text)
    }
}

/// How long a starting supervisor may take to say it runs the agent.
const START_PATIENCE: Duration = Duration::from_secs(60);
/// How long `stop` waits for the supervisor to record the exit once the agent is gone.
const RECORD_PATIENCE: Duration = Duration::from_secs(60);

/// What a background start did, for the report.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Started {
    pub task: String,
    pub how: How,
    pub command: Vec<String>,
    /// The supervisor's pid.
    pub pid: u32,
    /// Where the agent's output goes (detached).
    pub log: Option<PathBuf>,
    /// The tmux window (`session:@id`).
    pub window: Option<String>,
}

/// The machine-local facts of a background run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFacts {
    /// The supervisor, and when it started (to tell a reused pid apart).
    pub pid: u32,
    pub start: Option<u64>,
    /// The agent's process group (the supervisor's).
    pub pgid: u32,
    pub agent: u32,
    pub how: String,
    pub log: Option<PathBuf>,
    pub window: Option<String>,
}

impl RunFacts {
    fn to_text(&self) -> String {
        let mut text = format!(
            "pid {}\nstart {}\npgid {}\nagent {}\nhow {}\n",
            self.pid,
            self.start.map(|s| s.to_string()).unwrap_or_default(),
            self.pgid,
            self.agent,
            self.how
        );
        if let Some(log) = &self.log {
            text.push_str(&format!("log {}\n", log.display()));
        }
        if let Some(window) = &self.window {
            text.push_str(&format!("window {window}\n"));
        }
        text
    }

    fn parse(text: &str) -> Option<RunFacts> {
        let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' '));
        Some(RunFacts {
            pid: field("pid")?.parse().ok()?,
            start: field("start").and_then(|s| s.parse().ok()),
            pgid: field("pgid")?.parse().ok()?,
            agent: field("agent")?.parse().ok()?,
            how: field("how")?.to_owned(),
            log: field("log").map(PathBuf::from),
            window: field("window").map(str::to_owned),
        })
    }

    /// The facts of `task`'s last background run here, if any.
    pub fn read(repo: &gix::Repository, task: &str) -> Option<RunFacts> {
        RunFacts::parse(&std::fs::read_to_string(layout::agent_run_file(&common_dir(repo), task)).ok()?)
    }

    fn write(&self, repo: &gix::Repository, task: &str) -> anyhow::Result<()> {
        write_whole(&layout::agent_run_file(&common_dir(repo), task), &self.to_text())
    }
}

/// The git common dir, absolute: its paths are handed to the supervisor, which runs elsewhere,
/// and shown to the user.
fn common_dir(repo: &gix::Repository) -> PathBuf {
    crate::git::normalise_path(repo.common_dir())
}

/// Writes `path` whole (beside it, then renamed), creating its directory.
fn write_whole(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&temp, text).with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// The agent command for `run`: the one given, else the task's (from its plan or spawn), else
/// `agent.command`.
pub fn run_command(ctx: &Context, record: &TaskRecord, given: &[String]) -> anyhow::Result<Vec<String>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    if !record.command.is_empty() {
        return Ok(record.command.clone());
    }
    crate::ops::spawn::agent_command(ctx, &[], false)?.ok_or_else(|| {
        bad_input(format!("no agent command for task {:?}", record.name))
            .hint("give one after `--`, or set git config agent.command")
            .into()
    })
}

/// The task's worktree here, refused when there is none (a task from another machine).
pub fn worktree_of(ctx: &Context, record: &TaskRecord) -> anyhow::Result<PathBuf> {
    let worktree = crate::ops::prune::worktree_path(&ctx.repo, record);
    if !worktree.is_dir() {
        return Err(refused(format!("task {:?} has no worktree here ({})", record.name, worktree.display()))
            .hint(format!("git agent join {} makes one", record.name))
            .into());
    }
    Ok(worktree)
}

/// Refuses (lost race, exit 4) when something holds the task's claim: a running agent, a spawn,
/// a prune.
pub fn check_not_claimed(ctx: &Context, task: &str) -> anyhow::Result<()> {
    match crate::lock::task_holder(&ctx.repo, task) {
        None => Ok(()),
        Some(owner) => Err(race(format!("task {task:?} is claimed by {}", owner.describe()))
            .hint(if owner.purpose == "agent" {
                format!("its agent is running; `git agent stop {task}` ends it")
            } else {
                "wait until it has finished".to_owned()
            })
            .into()),
    }
}

/// The program to start as the supervisor: the `git-agent` binary (this one, or the one beside
/// `git-agent-spawn`).
fn supervisor_program() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the git-agent binary")?;
    let umbrella = exe.with_file_name(format!("git-agent{}", std::env::consts::EXE_SUFFIX));
    if umbrella.is_file() { Ok(umbrella) } else { Ok(exe) }
}

/// Starts `command` for `task` in the background (`how`: detached or tmux) under a supervisor,
/// and returns once the supervisor holds the task's claim and the agent runs.
pub fn launch(ctx: &Context, task: &str, worktree: &Path, command: &[String], how: How) -> anyhow::Result<Started> {
    check_not_claimed(ctx, task)?;
    let common = &common_dir(&ctx.repo);
    let ready = layout::agent_ready_file(common, task);
    if let Some(dir) = ready.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let _ = std::fs::remove_file(&ready);
    let mut argv: Vec<std::ffi::OsString> = vec![supervisor_program()?.into()];
    argv.extend([crate::cli::SUPERVISE.into(), task.into(), "--how".into(), how.as_str().into(), "--ready".into()]);
    argv.push(ready.clone().into());
    argv.push("--".into());
    argv.extend(command.iter().map(Into::into));
    let mut log = None;
    let mut window = None;
    let mut child = None;
    match how {
        How::Detached => {
            let path = layout::agent_log(common, task);
            let file = open_log(&path)?;
            let run = crate::process::Run::new(&argv[0], worktree).args(&argv[1..]);
            child = Some(run.start(Some(&file), true)?);
            log = Some(path);
        }
        How::Tmux => window = Some(tmux_window(task, worktree, &argv)?),
        How::Foreground => unreachable!("a foreground agent has no supervisor"),
    }
    let answer = wait_ready(&ready, child.as_mut());
    let _ = std::fs::remove_file(&ready);
    let pid = answer?;
    let started = Started { task: task.to_owned(), how, command: command.to_vec(), pid, log, window };
    note_window(ctx, &started);
    Ok(started)
}

fn open_log(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    open_plain_file(path, &mut options)
}

/// Opens a log: never through a symbolic link, and only a plain file with one name. The
/// git directory is writable by every agent, and a link planted there must not make git-agent
/// append an agent's output to, or print, a file elsewhere (or block on a FIFO).
fn open_plain_file(path: &Path, options: &mut std::fs::OpenOptions) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let file = options
        .custom_flags(flags.bits() as i32)
        .open(path)
        .with_context(|| format!("cannot open the log {} (it must be a plain file)", path.display()))?;
    let meta = file.metadata().with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() || meta.nlink() != 1 {
        return Err(refused(format!("{} is not a plain file of git-agent's: not used", path.display()))
            .hint(format!("remove it: rm {}", path.display()))
            .into());
    }
    Ok(file)
}

/// Waits for the supervisor's answer: its pid once the agent runs, or its error.
fn wait_ready(ready: &Path, mut child: Option<&mut std::process::Child>) -> anyhow::Result<u32> {
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(ready) {
            return parse_ready(&text);
        }
        let exited = child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = exited {
            // It may have answered just before exiting.
            if let Ok(text) = std::fs::read_to_string(ready) {
                return parse_ready(&text);
            }
            anyhow::bail!("the agent's supervisor exited at once ({status}); its log may say why");
        }
        if started.elapsed() > START_PATIENCE {
            anyhow::bail!("the agent's supervisor did not start within {} s", START_PATIENCE.as_secs());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `ok <pid>`, or `error <exit code>` and the message on the following lines.
fn parse_ready(text: &str) -> anyhow::Result<u32> {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    if let Some(pid) = first.strip_prefix("ok ") {
        return pid.trim().parse().context("the supervisor's answer is garbled");
    }
    let code: i32 = first.strip_prefix("error ").and_then(|c| c.trim().parse().ok()).unwrap_or(5);
    let exit = [Exit::Found, Exit::BadInput, Exit::Refused, Exit::Race].into_iter().find(|e| e.code() == code);
    Err(Fail::new(exit.unwrap_or(Exit::Failed), rest.trim_end().to_owned()).into())
}

/// `tmux` on the user's server, or on the test's (see [`layout::TMUX_SOCKET_ENV`]).
fn tmux(dir: &Path) -> crate::process::Run {
    let run = crate::process::Run::new("tmux", dir);
    match std::env::var_os(layout::TMUX_SOCKET_ENV) {
        Some(socket) => run.arg("-L").arg(socket),
        None => run,
    }
}

/// Inside tmux (and not on a test's own server): windows go to the current session.
fn inside_tmux() -> bool {
    std::env::var_os("TMUX").is_some() && std::env::var_os(layout::TMUX_SOCKET_ENV).is_none()
}

/// Opens a window named `task` running `argv` in `worktree`: in the current tmux session, else
/// in the detached session [`layout::TMUX_SESSION`] (created if missing). Returns the window as
/// `session:@id`.
fn tmux_window(task: &str, worktree: &Path, argv: &[std::ffi::OsString]) -> anyhow::Result<String> {
    let format = "#{session_name}:#{window_id}";
    let window = |target: Option<&str>| {
        let mut run = tmux(worktree).args(["new-window", "-d", "-P", "-F", format, "-n", task, "-c"]).arg(worktree);
        if let Some(target) = target {
            run = run.args(["-t", target]);
        }
        run.arg("--").args(argv.iter().cloned())
    };
    let session = format!("={}:", layout::TMUX_SESSION);
    let mut attempts = Vec::new();
    if inside_tmux() {
        attempts.push(window(None));
    } else {
        let exists = tmux(worktree).args(["has-session", "-t", &format!("={}", layout::TMUX_SESSION)]).run()?;
        if !exists.status.success() {
            attempts.push(
                tmux(worktree)
                    .args(["new-session", "-d", "-P", "-F", format, "-s", layout::TMUX_SESSION, "-n", task, "-c"])
                    .arg(worktree)
                    .arg("--")
                    .args(argv.iter().cloned()),
            );
        }
        // Also when another spawn created the session meanwhile.
        attempts.push(window(Some(&session)));
    }
    let mut last = String::new();
    for attempt in attempts {
        let outcome = attempt.capture(crate::process::Capture::Stdout(4096)).run()?;
        if outcome.status.success() {
            return Ok(String::from_utf8_lossy(&outcome.stdout).trim().to_owned());
        }
        last = outcome.output_tail_lossy();
    }
    Err(refused(format!("cannot open a tmux window for task {task:?}: {}", last.trim()))
        .hint("check that tmux runs, or start the agent with --detach")
        .into())
}

/// The hidden `__supervise`: holds the claim, runs the agent, records its start and exit.
/// Answers the starting command in `ready`. Returns the agent's exit status.
pub fn supervise(ctx: &Context, task: &str, how: How, ready: &Path, command: &[String]) -> anyhow::Result<i32> {
    // SIGINT, SIGTERM (stop, a Ctrl-C in a tmux window) and SIGHUP (a closed window) are for the
    // agent: the supervisor stays to record how it ended.
    crate::interrupt::install();
    let hang_up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGHUP, hang_up);
    let started = start_supervised(ctx, task, how, command);
    let (claim, mut child, record) = match started {
        Ok(started) => started,
        Err(err) => {
            answer_error(ready, &err);
            return Err(err);
        }
    };
    write_whole(ready, &format!("ok {}\n", std::process::id()))?;
    let status = child.wait().context("cannot wait for the agent")?;
    let exit = {
        use std::os::unix::process::ExitStatusExt;
        status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
    };
    eprintln!("git-agent: the agent of task {task} exited with status {exit}");
    if let Some(warning) = crate::ops::status::agent_exited(&ctx.repo, &ctx.settings, &record.name, exit, command)? {
        eprintln!("git-agent: {warning}");
    }
    drop(claim);
    Ok(exit)
}

/// Tells the command that started the supervisor why it could not start the agent.
pub fn answer_error(ready: &Path, err: &anyhow::Error) {
    let _ = write_whole(ready, &format!("error {}\n{err:#}\n", crate::error::exit_of(err).code()));
}

fn start_supervised(
    ctx: &Context,
    task: &str,
    how: How,
    command: &[String],
) -> anyhow::Result<(crate::lock::Lock, std::process::Child, TaskRecord)> {
    let claim = crate::lock::claim_task(&ctx.repo, task, "agent")?;
    let (_, record) = ctx.task(task)?;
    let worktree = worktree_of(ctx, &record)?;
    if command.is_empty() {
        return Err(bad_input("no agent command given").into());
    }
    let args: Vec<String> = command.iter().map(|arg| arg.replace("{brief}", &record.brief)).collect();
    let agent = crate::process::Run::new(&args[0], &worktree).args(&args[1..]).timeout(None);
    // Its streams are the supervisor's: the log (detached) or the tmux window's terminal.
    let mut child = crate::ops::spawn::agent_env(agent, &ctx.settings, &record, &worktree)
        .start(None, false)
        .map_err(|err| bad_input(format!("cannot start the agent {:?}: {err:#}", args[0])))?;
    if let Err(err) = note_start(ctx, task, how, command, child.id()) {
        // Not recorded, not supervised: it must not run.
        let _ = child.kill();
        let _ = child.wait();
        return Err(err);
    }
    Ok((claim, child, record))
}

/// Writes the run facts and records the start of the agent `agent` (a pid).
fn note_start(ctx: &Context, task: &str, how: How, command: &[String], agent: u32) -> anyhow::Result<()> {
    let facts = RunFacts {
        pid: std::process::id(),
        start: crate::process::process_start(std::process::id()),
        pgid: rustix::process::getpgrp().as_raw_pid() as u32,
        agent,
        how: how.as_str().to_owned(),
        log: (how == How::Detached).then(|| layout::agent_log(&common_dir(&ctx.repo), task)),
        window: None,
    };
    facts.write(&ctx.repo, task)?;
    state::update_record(&ctx.repo, task, |_| {
        Ok(state::Change::AgentStarted { command: command.to_vec(), how: how.as_str().to_owned() })
    })?;
    Ok(())
}

/// The running background agent of `task`: its run facts, checked against the claim's holder.
fn running(ctx: &Context, task: &str) -> anyhow::Result<RunFacts> {
    let holder = crate::lock::task_holder(&ctx.repo, task).filter(|owner| owner.purpose == "agent");
    let Some(holder) = holder else {
        return Err(refused(format!("task {task:?} has no running agent"))
            .hint(format!("`git agent run {task} --detach` starts one"))
            .into());
    };
    match RunFacts::read(&ctx.repo, task) {
        Some(facts) if facts.pid == holder.pid && facts.start == holder.start => Ok(facts),
        _ => Err(refused(format!(
            "the agent of task {task:?} runs in the foreground of {} and is not git-agent's to stop",
            holder.describe()
        ))
        .hint("end it where it runs")
        .into()),
    }
}

/// What `stop` did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Stopped {
    pub task: String,
    /// The group had to be killed (SIGKILL) after the grace period.
    pub killed: bool,
    /// The exit status recorded, if the supervisor recorded one in time.
    pub exit: Option<i32>,
}

/// Stops `task`'s background agent: SIGTERM to its process group, SIGKILL to what is left of
/// it after `grace`; then waits for the supervisor to record the exit.
pub fn stop(ctx: &Context, task: &str, grace: Duration) -> anyhow::Result<Stopped> {
    ctx.task(task)?;
    let facts = running(ctx, task)?;
    // The group is the supervisor's: the file's word for it is checked, so that a planted run file cannot aim the signals at another process group.
    let group = rustix::process::Pid::from_raw(facts.pid as i32)
        .and_then(|pid| rustix::process::getpgid(Some(pid)).ok())
        .map(|pgid| pgid.as_raw_nonzero().get() as u32);
    if group != Some(facts.pgid) {
        return Err(refused(format!(
            "the run file of task {task:?} names process group {}, not its supervisor's ({})",
            facts.pgid,
            group.map_or("gone".to_owned(), |g| g.to_string())
        ))
        .hint("nothing was signalled; end the agent by hand (its supervisor's pid is in the claim lock)")
        .into());
    }
    let supervisor_alive = || crate::process::process_may_be_alive(facts.pid, facts.start);
    // The agent and whatever it started, not the supervisor (which records the exit).
    let agents = || crate::process::group_members(facts.pgid).into_iter().filter(|pid| *pid != facts.pid);
    crate::process::signal_group(facts.pgid, rustix::process::Signal::TERM);
    let started = Instant::now();
    while agents().next().is_some() && supervisor_alive() && started.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut killed = false;
    for pid in agents() {
        killed = true;
        crate::process::signal_process(pid, rustix::process::Signal::KILL);
    }
    let started = Instant::now();
    while supervisor_alive() && started.elapsed() < RECORD_PATIENCE {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, record) = ctx.task(task)?;
    Ok(Stopped { task: task.to_owned(), killed, exit: record.agent_exit })
}

/// Whether `task`'s agent is running now (anywhere on this machine).
fn is_running(ctx: &Context, task: &str) -> bool {
    crate::lock::task_holder(&ctx.repo, task).is_some_and(|owner| owner.purpose == "agent")
}

/// Writes `task`'s log to `out`; with `follow`, also what is appended, until its run ends.
pub fn logs(
    ctx: &Context,
    task: &str,
    follow: bool,
    out: &mut dyn FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    ctx.task(task)?;
    let path = layout::agent_log(&common_dir(&ctx.repo), task);
    let mut file = match open_plain_file(&path, std::fs::OpenOptions::new().read(true)) {
        Ok(file) => file,
        Err(err) if err.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) => {
            return Err(refused(format!("task {task:?} has no log: its agent never ran detached here"))
                .hint(format!("`git agent run {task} --detach` starts it in the background"))
                .into());
        }
        Err(err) => return Err(err),
    };
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Whether it runs is looked at before reading: what it wrote before it ended is read.
        let running = follow && is_running(ctx, task);
        loop {
            let n = file.read(&mut chunk).with_context(|| format!("cannot read {}", path.display()))?;
            if n == 0 {
                break;
            }
            out(&chunk[..n])?;
        }
        if !running || crate::interrupt::is_interrupted() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
        // A log truncated meanwhile (by the user) is read from its start.
        let position = file.stream_position()?;
        if file.metadata()?.len() < position {
            file.rewind()?;
        }
    }
}

/// The commands that bring the user to `task`'s tmux window.
pub fn attach(ctx: &Context, task: &str) -> anyhow::Result<Vec<crate::process::Run>> {
    ctx.task(task)?;
    let facts = running(ctx, task)?;
    let Some(window) = facts.window.filter(|_| facts.how == How::Tmux.as_str()) else {
        return Err(refused(format!("the agent of task {task:?} does not run in tmux ({})", facts.how))
            .hint(format!("`git agent logs -f {task}` follows its output"))
            .into());
    };
    let dir = ctx.repo.workdir().unwrap_or(ctx.repo.git_dir()).to_owned();
    let enter = if inside_tmux() { "switch-client" } else { "attach-session" };
    Ok(vec![
        tmux(&dir).args(["select-window", "-t", &window]),
        tmux(&dir).args([enter, "-t", &window]).capture(crate::process::Capture::Terminal).timeout(None),
    ])
}

/// Notes the tmux window in the run file (the supervisor cannot know it).
fn note_window(ctx: &Context, started: &Started) {
    if let (Some(window), Some(mut facts)) = (&started.window, RunFacts::read(&ctx.repo, &started.task))
        && facts.pid == started.pid
    {
        facts.window = Some(window.clone());
        let _ = facts.write(&ctx.repo, &started.task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_facts_round_trip() {
        let facts = RunFacts {
            pid: 12,
            start: Some(34),
            pgid: 12,
            agent: 13,
            how: "tmux".into(),
            log: Some("/x/y.log".into()),
            window: Some("git-agent:@3".into()),
        };
        assert_eq!(RunFacts::parse(&facts.to_text()), Some(facts));
        assert_eq!(RunFacts::parse("pid x\n"), None);
    }

    #[test]
    fn a_supervisor_answer_keeps_its_exit_code() {
        assert_eq!(parse_ready("ok 42\n").unwrap(), 42);
        let err = parse_ready("error 4\ntask \"a\" is locked\n").unwrap_err();
        assert_eq!(crate::error::exit_of(&err), Exit::Race);
        assert!(format!("{err:#}").contains("locked"));
    }
}
