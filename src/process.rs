//! Child processes: the one place that starts programs, with a clean git environment.

use std::path::Path;

use anyhow::Context as _;

/// An exit status as a shell reports it: the code, or 128 + the signal that ended the process.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(1)
}

/// A `std::process::Command` for a user's program (agent, setup, test), run in `dir`, without
/// git's environment variables leaking in: `GIT_DIR` and friends would point the child's own
/// git commands at the wrong repository.
pub fn user_command(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(program);
    command.current_dir(dir);
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_PREFIX",
        "GIT_COMMON_DIR",
        "GIT_OBJECT_DIRECTORY",
        "GIT_NAMESPACE",
    ] {
        command.env_remove(var);
    }
    command
}

/// The one way git-agent runs `git` itself (where gix has no equivalent): in `dir`, with a
/// stable locale, no fsmonitor, and none of the caller's repository-selecting variables.
/// Callers pass revisions as object ids and paths after `--`, never user text as options.
pub fn git_command(dir: &Path) -> std::process::Command {
    let mut command = user_command("git", dir);
    command.env("LC_ALL", "C").args(["-c", "core.fsmonitor=false"]);
    command
}

/// Runs `git` in `dir` and fails with its stderr when it does.
pub fn run_git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = git_command(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run git {}", args.join(" ")))?;
    if !output.status.success() {
        anyhow::bail!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
