//! Trust: a repository git refuses as "dubious ownership" is refused before anything it
//! configured could run; planted configuration (hooks, filter and merge drivers, fsmonitor,
//! external diff, ssh command) runs in no read-only command and in prune.

use std::path::Path;

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo};

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

fn chown_recursively(path: &Path, uid: u32) {
    let status = std::process::Command::new("chown").args(["-R", &uid.to_string()]).arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn a_repository_of_another_owner_is_refused_before_its_commands_run() {
    if !is_root() {
        eprintln!("skipped: changing a repository's owner needs root");
        return;
    }
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    env.agent(&repo, &["spawn", "a", "-q", "--no-agent"]).success();
    env.commit(&agents_dir(&repo).join("a"), &[("a.txt", "a\n")], "a: work");
    env.agent(&repo, &["done", "a", "-q"]).success();
    let marker = env.path().join("marker");
    let plant = format!("touch {}", marker.display());
    for key in ["agent.setup", "agent.test", "agent.command"] {
        env.git(&repo, &["config", key, &plant]);
    }
    chown_recursively(&repo, 65534);
    chown_recursively(&agents_dir(&repo), 65534);

    for args in [
        &["spawn", "b", "-q"][..],
        &["integrate"],
        &["list"],
        &["conflicts"],
        &["show", "a"],
        &["prune", "a", "--force"],
    ] {
        let run = env.agent(&repo, args).code(3).stderr_has("dubious ownership");
        assert!(run.stderr.contains("git config --global --add safe.directory"), "{run:#?}");
        assert!(!marker.exists(), "`git agent {}` ran a command of a foreign repository", args.join(" "));
    }
    // From a task's worktree too.
    env.agent(&agents_dir(&repo).join("a"), &["list"]).code(3).stderr_has("safe.directory");

    // Listed in safe.directory, it is trusted as git trusts it.
    let run = env.command("git", &repo).args(["config", "--global", "--add", "safe.directory", "*"]).output();
    Run::from(run.unwrap()).success();
    env.agent(&repo, &["list"]).success();
}
