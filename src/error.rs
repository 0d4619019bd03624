//! Errors that carry an exit code, and the one table that maps them.
//!
//! Commands return `anyhow::Result`. Where the caller (a script, the user) needs to tell
//! failures apart, the error chain contains a [`Fail`] whose [`Exit`] decides the exit code.
//! Anything else is an unexpected failure.

use std::fmt;

/// The exit codes shared by every `git-agent` binary. Documented in `git-agent(1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exit {
    /// 0: everything worked.
    Success = 0,
    /// 1: the command worked and found something: conflicts, a failed test, a failed agent.
    Found = 1,
    /// 2: bad input: a bad flag, task name, revision or plan. Nothing was changed.
    BadInput = 2,
    /// 3: refused because of the repository's state (exists already, dirty, unsupported).
    Refused = 3,
    /// 4: lost a race or a lock against a concurrent writer. Nothing was overwritten.
    Race = 4,
    /// 5: an unexpected failure (I/O, a damaged repository, a bug).
    Failed = 5,
    /// 130 (128 + SIGINT): interrupted by Ctrl-C; what was half done was undone.
    Interrupted = 130,
    /// 143 (128 + SIGTERM): terminated; what was half done was undone.
    Terminated = 143,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The table as printed in man pages and `git agent --help`.
    pub const TABLE: &'static [(i32, &'static str)] = &[
        (0, "success"),
        (1, "found something: conflicts, a failed test, or a failed agent or setup command"),
        (2, "bad input: a bad flag, task name, revision or plan; nothing was changed"),
        (3, "refused by the repository's state (exists already, dirty, unsupported repository); nothing was changed"),
        (4, "lost a race or a lock against a concurrent writer; nothing was overwritten"),
        (5, "an unexpected failure (I/O, a damaged repository)"),
        (
            130,
            "interrupted by SIGINT (Ctrl-C, once or more): spawn, join and integrate undid what they had started \
             (the target is unchanged, no scratch worktree or test process is left); prune and restack \
             stopped between two tasks and reported what they did",
        ),
        (143, "terminated by SIGTERM: as for 130"),
    ];
}

/// An error with an exit code and an optional hint saying how to fix it.
#[derive(Debug)]
pub struct Fail {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
}

impl Fail {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Fail { exit, message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

pub fn bad_input(message: impl Into<String>) -> Fail {
    Fail::new(Exit::BadInput, message)
}

pub fn refused(message: impl Into<String>) -> Fail {
    Fail::new(Exit::Refused, message)
}

pub fn race(message: impl Into<String>) -> Fail {
    Fail::new(Exit::Race, message)
}

/// The refusal of `--json` by a command whose output is no data (an editor, a manual page, a
/// guided tour, a directory change): exit 2, and the error object on stdout rather than text.
pub fn no_json_output(command: &str) -> Fail {
    bad_input(format!("git agent {command} has no JSON output"))
}

/// The exit code for an error: the outermost [`Fail`] in its chain decides, else [`Exit::Failed`].
pub fn exit_of(err: &anyhow::Error) -> Exit {
    err.chain().find_map(|cause| cause.downcast_ref::<Fail>()).map_or(Exit::Failed, |fail| fail.exit)
}

/// The hint of the outermost [`Fail`] in the chain, if any.
pub fn hint_of(err: &anyhow::Error) -> Option<&str> {
    err.chain().find_map(|cause| cause.downcast_ref::<Fail>()).and_then(|fail| fail.hint.as_deref())
}

/// What every command prints on stdout when it fails under `--json` (`git agent schema error`).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ErrorJson {
    pub error: ErrorBody,
}

/// A failure, as the text on stderr says it.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ErrorBody {
    /// The error itself (`error: ...` on stderr).
    pub message: String,
    /// What it was caused by, outermost first (`caused by: ...`).
    pub causes: Vec<String>,
    /// How to fix it, when there is a way (`hint: ...`).
    pub hint: Option<String>,
    /// The exit status of the process (see the exit-code table).
    pub exit: i32,
}

impl ErrorJson {
    /// The object for `err`, ending the process with `exit`.
    pub fn new(err: &anyhow::Error, exit: i32) -> Self {
        ErrorJson {
            error: ErrorBody {
                message: err.to_string(),
                causes: err.chain().skip(1).map(ToString::to_string).collect(),
                hint: hint_of(err).map(str::to_owned),
                exit,
            },
        }
    }
}
