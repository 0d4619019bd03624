//! Child processes: the one place that starts programs.
//!
//! Every child gets a clean git environment (git's own `local_repo_env` list is removed, so a
//! `GIT_DIR` or `GIT_INDEX_FILE` that git-agent was started with cannot point the child's git
//! commands at the wrong repository), a timeout, and output kept in a bounded buffer. Commands
//! that do not share the terminal run in their own process group, which is killed as a whole
//! (a syscall, no `kill` binary) on timeout or interruption.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// git's `local_repo_env` (environment.c): the variables that select a repository, its
/// object store or its configuration. git removes them before it runs a command in another
/// repository; git-agent removes them from every child. `GIT_NAMESPACE` too: a namespace
/// would hide the refs git-agent wrote.
pub const REPOSITORY_ENV: &[&str] = &[
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
];

/// How long git-agent's own `git` subprocesses may take: generous, they touch one worktree.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(600);

/// How long `agent.setup` may take (dependency installs can be slow; a hung one must not hang
/// spawn forever).
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(3600);

/// How much of a command's output is kept for messages.
pub const OUTPUT_TAIL: usize = 4000;

/// Once the child has exited or its group was killed, how long the readers of its pipes may
/// take to drain what is left. A process that escaped the group (`setsid`) may hold the pipes
/// open for ever: its readers are abandoned after this.
const READER_GRACE: Duration = Duration::from_millis(200);

/// What a child does with its standard streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Shares the terminal: stdin, stdout, stderr and the foreground process group (an
    /// interactive agent, a dispatched sub-command). Ctrl-C reaches it directly.
    Terminal,
    /// As [`Capture::Terminal`], but its stdout goes to git-agent's stderr, which is the same
    /// terminal when there is one: git-agent's stdout keeps only its own data (`spawn --json`
    /// with a foreground agent).
    TerminalToStderr,
    /// stdin is empty, stdout and stderr go to git-agent's stderr (the output is status, not
    /// data); nothing is kept.
    Stderr,
    /// stdin is empty, stdout and stderr are kept together; the last `n` bytes are returned.
    Tail(usize),
    /// stdin is empty, stdout is the command's data and is kept up to `n` bytes (more is an
    /// error); the end of stderr is kept for messages.
    Stdout(usize),
}

/// A command to run.
#[derive(Debug, Clone)]
pub struct Run {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub dir: PathBuf,
    /// Variables set for the child, on top of the scrubbed environment.
    pub env: Vec<(OsString, OsString)>,
    /// `None` only for commands that share the terminal and run as long as the user wants.
    pub timeout: Option<Duration>,
    pub capture: Capture,
    /// Keep git's repository variables: only for git-agent's own sub-commands, which are
    /// git-agent itself and honour them as git does.
    pub keep_repository_env: bool,
    /// What git-agent's interruption (SIGINT, SIGTERM) does to the child.
    pub on_interrupt: OnInterrupt,
    /// Set by another thread when this child's work is no longer wanted (a parallel test of
    /// a step after one that failed): its process group is killed.
    pub cancel: Option<Arc<AtomicBool>>,
    /// With [`Capture::Tail`]: also copy the output to git-agent's stderr as it comes (a
    /// test followed with `--verbose`).
    pub echo: bool,
}

/// What happens to a running child when git-agent is interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInterrupt {
    /// Its process group is killed at once (a user's test, setup or rule command: it may run
    /// for minutes, and what it leaves is thrown away with the scratch or new worktree).
    Kill,
    /// It runs to its end (or its timeout): git-agent's own short `git` steps, which must not
    /// stop half-way (an index half updated); git-agent checks for the signal afterwards.
    Finish,
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signalled(i32),
    /// Its process group was killed after the timeout.
    TimedOut,
    /// git-agent was interrupted (SIGINT, SIGTERM) and killed the child's process group.
    Interrupted,
    /// Its work was no longer wanted ([`Run::cancel_when`]): its process group was killed.
    Cancelled,
}

impl Status {
    pub fn success(self) -> bool {
        self == Status::Exited(0)
    }

    /// The status as a shell reports it: the exit code, or 128 + the signal. `None` when the
    /// child did not end by itself.
    pub fn code(self) -> Option<i32> {
        match self {
            Status::Exited(code) => Some(code),
            Status::Signalled(signal) => Some(128 + signal),
            Status::TimedOut | Status::Interrupted | Status::Cancelled => None,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Exited(code) => write!(f, "exit status {code}"),
            Status::Signalled(signal) => write!(f, "killed by signal {signal}"),
            Status::TimedOut => f.write_str("timed out"),
            Status::Interrupted => f.write_str("interrupted"),
            Status::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// What a finished child left.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    /// With [`Capture::Stdout`]: what it wrote to stdout.
    pub stdout: Vec<u8>,
    /// The end of its output: stdout and stderr with [`Capture::Tail`], stderr with
    /// [`Capture::Stdout`], empty otherwise.
    pub output_tail: Vec<u8>,
}

impl Outcome {
    pub fn output_tail_lossy(&self) -> String {
        String::from_utf8_lossy(&self.output_tail).into_owned()
    }
}

impl Run {
    pub fn new(program: impl Into<OsString>, dir: &Path) -> Run {
        Run {
            program: program.into(),
            args: Vec::new(),
            dir: dir.to_owned(),
            env: Vec::new(),
            timeout: Some(GIT_TIMEOUT),
            capture: Capture::Tail(OUTPUT_TAIL),
            keep_repository_env: false,
            on_interrupt: OnInterrupt::Kill,
            cancel: None,
            echo: false,
        }
    }

    /// A command line the user wrote (test, setup, rule), run by `sh -c` in `dir`.
    pub fn shell(command_line: &str, dir: &Path) -> Run {
        Run::new("sh", dir).arg("-c").arg(command_line)
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Run {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Run {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Run {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn timeout(mut self, timeout: Option<Duration>) -> Run {
        self.timeout = timeout;
        self
    }

    pub fn capture(mut self, capture: Capture) -> Run {
        self.capture = capture;
        self
    }

    pub fn keep_repository_env(mut self) -> Run {
        self.keep_repository_env = true;
        self
    }

    pub fn on_interrupt(mut self, on_interrupt: OnInterrupt) -> Run {
        self.on_interrupt = on_interrupt;
        self
    }

    /// Kills the child's process group as soon as `flag` is set (from another thread).
    pub fn cancel_when(mut self, flag: Arc<AtomicBool>) -> Run {
        self.cancel = Some(flag);
        self
    }

    /// Copies the child's output to stderr as it comes, besides keeping its tail.
    pub fn echo(mut self, echo: bool) -> Run {
        self.echo = echo;
        self
    }

    /// Whether the child shares git-agent's terminal and foreground process group.
    fn shares_terminal(&self) -> bool {
        matches!(self.capture, Capture::Terminal | Capture::TerminalToStderr)
    }

    /// Runs the command to its end, its timeout, or git-agent's interruption, whichever comes
    /// first. Fails only when it cannot be started (or, with [`Capture::Stdout`], when its
    /// output is larger than allowed).
    pub fn run(&self) -> anyhow::Result<Outcome> {
        let mut command = self.command();
        let own_group = !self.shares_terminal();
        let mut child = command.spawn().with_context(|| format!("cannot run {}", self.program.to_string_lossy()))?;
        let (stdout, tail) = self.read_output(&mut child);
        let stop =
            if own_group && self.on_interrupt == OnInterrupt::Kill { Some(crate::interrupt::flag()) } else { None };
        let status = wait(&mut child, own_group, self.timeout, stop, self.cancel.as_deref())?;
        if !own_group {
            // It shared the terminal, so a Ctrl-C meanwhile reached it too: it was its to handle.
            crate::interrupt::forget_terminal_interrupt();
        }
        let stdout = stdout.map(|reader| reader.finish()).unwrap_or_default();
        let output_tail = tail.finish();
        if let Capture::Stdout(max) = self.capture
            && stdout.truncated
        {
            anyhow::bail!("{} wrote more than {max} bytes", self.program.to_string_lossy());
        }
        Ok(Outcome { status, stdout: stdout.bytes, output_tail: output_tail.bytes })
    }

    /// Starts the command and returns at once, for a child that outlives this call (a
    /// background agent's supervisor, the agent under it): no timeout, no capture. With
    /// `output`, stdin is empty and stdout and stderr go to that file; else all three are
    /// inherited. With `new_session` the child leads a session (and process group) of its own,
    /// without a terminal, so that the terminal's Ctrl-C or hang-up never reaches it; else it
    /// stays in git-agent's process group.
    pub fn start(&self, output: Option<&std::fs::File>, new_session: bool) -> anyhow::Result<std::process::Child> {
        let mut command = Run { capture: Capture::Terminal, ..self.clone() }.command();
        if let Some(file) = output {
            command.stdin(std::process::Stdio::null());
            command.stdout(file.try_clone()?).stderr(file.try_clone()?);
        }
        if new_session {
            use std::os::unix::process::CommandExt;
            // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
            unsafe {
                command.pre_exec(|| rustix::process::setsid().map(drop).map_err(std::io::Error::from));
            }
        }
        command.spawn().with_context(|| format!("cannot run {}", self.program.to_string_lossy()))
    }

    fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(&self.program);
        command.args(&self.args).current_dir(&self.dir);
        if !self.keep_repository_env {
            scrub_repository_env(&mut command);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        match self.capture {
            Capture::Terminal => {}
            Capture::TerminalToStderr => {
                command.stdout(std::io::stderr());
            }
            Capture::Stderr => {
                command.stdin(std::process::Stdio::null());
                command.stdout(std::io::stderr()).stderr(std::io::stderr());
            }
            Capture::Tail(_) | Capture::Stdout(_) => {
                command.stdin(std::process::Stdio::null());
                command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            }
        }
        if !self.shares_terminal() {
            // Its own group, so that it and everything it started can be killed together, and
            // the terminal's Ctrl-C reaches git-agent, which then decides (and kills it).
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        command
    }

    /// Starts the readers of the child's pipes: stdout's own buffer (with `Capture::Stdout`)
    /// and the shared tail.
    fn read_output(&self, child: &mut std::process::Child) -> (Option<Reader>, Reader) {
        let tail = Arc::new(Mutex::new(Bounded::tail(match self.capture {
            Capture::Tail(n) => n,
            _ => OUTPUT_TAIL,
        })));
        let mut tail_reader = Reader { buffer: tail.clone(), threads: Vec::new() };
        let mut stdout_reader = None;
        if let Some(out) = child.stdout.take() {
            match self.capture {
                Capture::Stdout(max) => {
                    let buffer = Arc::new(Mutex::new(Bounded::head(max)));
                    stdout_reader = Some(Reader {
                        buffer: buffer.clone(),
                        threads: vec![spawn_reader(Box::new(out), buffer, false)],
                    });
                }
                _ => tail_reader.threads.push(spawn_reader(Box::new(out), tail.clone(), self.echo)),
            }
        }
        if let Some(err) = child.stderr.take() {
            tail_reader.threads.push(spawn_reader(Box::new(err), tail, self.echo));
        }
        (stdout_reader, tail_reader)
    }
}

/// Removes git's repository-selecting variables (and the `GIT_CONFIG_KEY_<n>` /
/// `GIT_CONFIG_VALUE_<n>` pairs `GIT_CONFIG_COUNT` counts) from a command's environment.
fn scrub_repository_env(command: &mut std::process::Command) {
    for var in REPOSITORY_ENV {
        command.env_remove(var);
    }
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("GIT_CONFIG_KEY_") || key_text.starts_with("GIT_CONFIG_VALUE_") {
            command.env_remove(&key);
        }
    }
}

/// Waits for `child`, killing it (and its group) on timeout, or on interruption when `stop`
/// (the interrupt flag) is given. A child sharing the terminal gets a SIGTERM forwarded, as
/// git forwards it to its own children: nothing else would send it one.
fn wait(
    child: &mut std::process::Child,
    own_group: bool,
    timeout: Option<Duration>,
    stop: Option<&AtomicBool>,
    cancel: Option<&AtomicBool>,
) -> anyhow::Result<Status> {
    let started = Instant::now();
    let mut forwarded = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status_of(status));
        }
        let timed_out = timeout.is_some_and(|timeout| started.elapsed() > timeout);
        // A terminal's child got the same Ctrl-C from the terminal and decides itself.
        let stop = stop.is_some_and(|flag| flag.load(Ordering::SeqCst));
        if !own_group && !forwarded && crate::interrupt::is_terminated() {
            forwarded = true;
            if let Some(pid) = i32::try_from(child.id()).ok().and_then(rustix::process::Pid::from_raw) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
        }
        let cancelled = cancel.is_some_and(|flag| flag.load(Ordering::SeqCst));
        if timed_out || stop || cancelled {
            if own_group {
                kill_group(child.id());
            }
            let _ = child.kill();
            let _ = child.wait();
            return Ok(if stop {
                Status::Interrupted
            } else if cancelled {
                Status::Cancelled
            } else {
                Status::TimedOut
            });
        }
        // Quick commands finish in a millisecond or two: poll often at first, then back off.
        std::thread::sleep(if started.elapsed() < Duration::from_millis(50) {
            Duration::from_micros(500)
        } else {
            Duration::from_millis(10)
        });
    }
}

fn status_of(status: std::process::ExitStatus) -> Status {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Status::Exited(code),
        (None, Some(signal)) => Status::Signalled(signal),
        (None, None) => Status::Exited(1),
    }
}

/// The processes whose working directory is `dir` or below it (from `/proc/<pid>/cwd`; none
/// where there is no `/proc`). For a scratch slot whose integrate was killed: its tests,
/// each in its own process group, may still be running there.
pub fn processes_working_in(dir: &Path) -> Vec<u32> {
    let dir = crate::git::normalise_path(dir);
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&dir)))
        .collect();
    pids.sort_unstable();
    pids
}

/// The start time of process `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`,
/// after the parenthesised command name, which may hold spaces); `None` for no such process, a
/// zombie (it has exited, only not been reaped) or a system without `/proc`.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Can the process recorded as (`pid`, `start`) still be running? The one liveness test for
/// every recorded pid (lock owners, scratch worktrees, worktrees moved aside). With `/proc`: a
/// missing process or a zombie is dead, and so is a pid now used by a process that started at
/// another time than the one recorded (pid reuse). Without `/proc`: `kill(pid, 0)`, which
/// cannot tell a reused pid, so such a pid may be alive.
pub fn process_may_be_alive(pid: u32, start: Option<u64>) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if std::path::Path::new("/proc/self/stat").exists() {
        return match process_start(pid) {
            None => false,
            Some(now) => start.is_none_or(|recorded| recorded == now),
        };
    }
    match i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) {
        Some(pid) => rustix::process::test_kill_process(pid).is_ok_or_permission_denied(),
        None => false,
    }
}

trait KillResult {
    fn is_ok_or_permission_denied(&self) -> bool;
}

impl KillResult for rustix::io::Result<()> {
    fn is_ok_or_permission_denied(&self) -> bool {
        matches!(self, Ok(()) | Err(rustix::io::Errno::PERM))
    }
}

/// Kills the process group `pgid` (a child started with `process_group(0)` leads its own).
pub fn kill_group(pgid: u32) {
    signal_group(pgid, rustix::process::Signal::KILL);
}

/// The live processes of process group `pgid` (from `/proc`; none where there is none).
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            let Some(end) = stat.rfind(')') else { return false };
            let mut fields = stat[end + 1..].split_whitespace();
            let state = fields.next();
            !matches!(state, Some("Z" | "X")) && fields.nth(1).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// Sends `signal` to process `pid` (ignoring a process that is gone).
pub fn signal_process(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Sends `signal` to the process group `pgid` (ignoring a group that is gone).
pub fn signal_group(pgid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pgid).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// A buffer that keeps either the first or the last `max` bytes of what is written to it.
#[derive(Debug)]
struct Bounded {
    bytes: Vec<u8>,
    max: usize,
    keep_end: bool,
    truncated: bool,
}

impl Bounded {
    fn tail(max: usize) -> Bounded {
        Bounded { bytes: Vec::new(), max, keep_end: true, truncated: false }
    }

    fn head(max: usize) -> Bounded {
        Bounded { bytes: Vec::new(), max, keep_end: false, truncated: false }
    }

    fn push(&mut self, chunk: &[u8]) {
        if self.keep_end {
            self.bytes.extend_from_slice(chunk);
            // Drop the front in large steps, so that the copying stays linear.
            if self.bytes.len() > 2 * self.max.max(4096) {
                let excess = self.bytes.len() - self.max;
                self.bytes.drain(..excess);
                self.truncated = true;
            }
        } else {
            let room = self.max.saturating_sub(self.bytes.len());
            self.bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            self.truncated |= chunk.len() > room;
        }
    }

    fn snapshot(&self) -> Captured {
        let start = if self.keep_end { self.bytes.len().saturating_sub(self.max) } else { 0 };
        Captured { bytes: self.bytes[start..].to_vec(), truncated: self.truncated || start > 0 }
    }
}

#[derive(Debug, Default)]
struct Captured {
    bytes: Vec<u8>,
    truncated: bool,
}

/// The threads reading a child's pipes into one buffer.
struct Reader {
    buffer: Arc<Mutex<Bounded>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Reader {
    /// What was read, once the pipes are closed or the grace period is over, whichever comes
    /// first: readers still blocked on a pipe that an escaped process holds open are left
    /// behind (they end when that process does, or with git-agent).
    fn finish(self) -> Captured {
        let deadline = Instant::now() + READER_GRACE;
        while Instant::now() < deadline && !self.threads.iter().all(|t| t.is_finished()) {
            std::thread::sleep(Duration::from_millis(1));
        }
        for thread in self.threads.into_iter().filter(|t| t.is_finished()) {
            let _ = thread.join();
        }
        self.buffer.lock().map(|b| b.snapshot()).unwrap_or_default()
    }
}

fn spawn_reader(
    mut stream: Box<dyn Read + Send>,
    buffer: Arc<Mutex<Bounded>>,
    echo: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => match buffer.lock() {
                    Ok(mut buffer) if echo => {
                        buffer.push(&chunk[..n]);
                        // Best effort: a closed stderr must not stop the capture.
                        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), &chunk[..n]);
                    }
                    Ok(mut buffer) => buffer.push(&chunk[..n]),
                    Err(_) => break,
                },
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// git itself

/// Whether git-agent's own `git` subprocesses run the repository's hooks: only if the user
/// opted in with `agent.runHooks` (set once per process by [`set_run_hooks`]).
static RUN_HOOKS: AtomicBool = AtomicBool::new(false);

/// Records the `agent.runHooks` setting of the repository this process works on.
pub fn set_run_hooks(run: bool) {
    RUN_HOOKS.store(run, Ordering::Relaxed);
}

/// The git sub-commands git-agent runs. All are builtins, so no alias can stand in for them
/// (git never lets an alias shadow a builtin), and none of them runs a diff porcelain, the only
/// reader of `diff.external` (git has no value of `diff.external` that means "none").
const GIT_SUBCOMMANDS: &[&str] = &[
    "read-tree",
    "update-ref",
    "checkout",
    "worktree",
    "rev-parse",
    "status",
    "cherry",
    "update-index",
    "push",
    "fetch",
    "notes",
];

/// A `git` command in `dir` as git-agent runs it: stable locale, none of the caller's
/// repository-selecting variables, and nothing the repository configured that would run a
/// program: no hooks (unless `agent.runHooks`), no fsmonitor, no ssh command.
/// Callers pass revisions as object ids and paths after `--`, never user text as options.
pub fn git(dir: &Path, args: &[&str]) -> anyhow::Result<Run> {
    let Some(subcommand) = args.first() else { anyhow::bail!("no git sub-command given") };
    if !GIT_SUBCOMMANDS.contains(subcommand) {
        anyhow::bail!("git-agent does not run `git {subcommand}`");
    }
    // A git step is short and must not stop half-way: git-agent checks for a signal after it.
    let mut run =
        Run::new("git", dir).env("LC_ALL", "C").capture(Capture::Stdout(16 << 20)).on_interrupt(OnInterrupt::Finish);
    if !RUN_HOOKS.load(Ordering::Relaxed) {
        run = run.args(["-c", "core.hooksPath=/dev/null"]);
    }
    Ok(run.args(["-c", "core.fsmonitor=false", "-c", "core.sshCommand=ssh"]).args(args.iter().copied()))
}

/// Runs `git` in `dir` and returns its stdout; fails with its stderr when it does.
pub fn run_git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let outcome = git(dir, args)?.run().with_context(|| format!("cannot run git {}", args.join(" ")))?;
    if !outcome.status.success() {
        anyhow::bail!("git {} failed ({}): {}", args.join(" "), outcome.status, outcome.output_tail_lossy().trim());
    }
    Ok(String::from_utf8_lossy(&outcome.stdout).into_owned())
}

/// An exit status as a shell reports it: the code, or 128 + the signal that ended the process.
pub fn exit_code(status: Status) -> i32 {
    status.code().unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut tail = Bounded::tail(5);
        for _ in 0..10_000 {
            tail.push(b"abcdefgh");
        }
        tail.push(b"12345");
        let captured = tail.snapshot();
        assert_eq!(captured.bytes, b"12345");
        assert!(captured.truncated);
        assert!(tail.bytes.len() <= 2 * 4096 + 8);
    }

    #[test]
    fn head_keeps_the_first_bytes() {
        let mut head = Bounded::head(3);
        head.push(b"ab");
        head.push(b"cd");
        let captured = head.snapshot();
        assert_eq!(captured.bytes, b"abc");
        assert!(captured.truncated);
    }

    #[test]
    fn refuses_git_subcommands_outside_the_list() {
        assert!(git(Path::new("."), &["diff"]).is_err());
        assert!(git(Path::new("."), &["my-alias"]).is_err());
        assert!(git(Path::new("."), &["read-tree", "HEAD"]).is_ok());
    }

    #[test]
    fn git_runs_without_hooks_unless_agent_run_hooks() {
        let has_hooks_off = || {
            git(Path::new("."), &["read-tree", "HEAD"]).unwrap().args.iter().any(|a| a == "core.hooksPath=/dev/null")
        };
        assert!(has_hooks_off());
        set_run_hooks(true);
        assert!(!has_hooks_off());
        set_run_hooks(false);
        assert!(has_hooks_off());
        let args = git(Path::new("."), &["read-tree", "HEAD"]).unwrap().args;
        for setting in ["core.fsmonitor=false", "core.sshCommand=ssh"] {
            assert!(args.iter().any(|a| a == setting), "{setting} missing from {args:?}");
        }
    }

    #[test]
    fn child_environment_has_no_repository_variables() {
        let run = Run::new("sh", Path::new("."));
        let command = run.command();
        let removed: Vec<_> = command.get_envs().filter(|(_, v)| v.is_none()).map(|(k, _)| k.to_owned()).collect();
        for var in REPOSITORY_ENV {
            assert!(removed.iter().any(|k| k == var), "{var} is not removed");
        }
    }
}
