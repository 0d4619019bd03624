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

/// The hooks git knows (githooks(5)).
const HOOKS: &[&str] = &[
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "pre-receive",
    "update",
    "proc-receive",
    "post-receive",
    "post-update",
    "reference-transaction",
    "push-to-checkout",
    "pre-auto-gc",
    "post-rewrite",
    "sendemail-validate",
    "fsmonitor-watchman",
    "p4-changelist",
    "p4-prepare-changelist",
    "p4-post-changelist",
    "p4-pre-submit",
    "post-index-change",
];

/// Plants, in the shared `.git/config`, `.git/info/attributes` and hooks, every program a
/// repository can configure; each one creates a file in the returned marker directory.
fn plant_everything(env: &Env, repo: &Path) -> std::path::PathBuf {
    let markers = env.path().join("markers");
    std::fs::create_dir_all(&markers).unwrap();
    let mark = |what: &str| format!("touch {}/{what}", markers.display());
    let git_dir = repo.join(".git");
    let hooks_path = env.path().join("planted-hooks");
    for (dir, tag) in [(git_dir.join("hooks"), "hook"), (hooks_path.clone(), "hooks-path")] {
        std::fs::create_dir_all(&dir).unwrap();
        for hook in HOOKS {
            let file = dir.join(hook);
            std::fs::write(
                &file,
                format!("#!/bin/sh\n{}\ncat >/dev/null 2>&1\nexit 0\n", mark(&format!("{tag}-{hook}"))),
            )
            .unwrap();
            std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&file).unwrap().permissions(), 0o755);
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
    }
    write(&git_dir.join("info/attributes"), "* filter=plant merge=plant diff=plant\n");
    let config = [
        ("filter.plant.clean", format!("{}; cat", mark("filter-clean"))),
        ("filter.plant.smudge", format!("{}; cat", mark("filter-smudge"))),
        ("filter.plant.process", mark("filter-process")),
        ("merge.plant.driver", format!("{}; false", mark("merge-driver"))),
        ("diff.plant.command", mark("diff-driver")),
        ("diff.external", mark("diff-external")),
        ("core.fsmonitor", mark("fsmonitor")),
        ("core.sshCommand", mark("ssh-command")),
    ];
    for (key, value) in &config {
        env.git(repo, &["config", key, value]);
    }
    env.git(repo, &["config", "core.hooksPath", hooks_path.to_str().unwrap()]);
    markers
}

fn markers_in(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    found.sort();
    found
}

#[test]
fn read_only_commands_and_prune_run_nothing_the_repository_configured() {
    let env = Env::new();
    let shared = crate::common::numbered("shared");
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n"), ("shared.txt", &shared)]);
    // Two tasks that change the same file (a real merge in conflicts), one with a modified
    // tracked file and an untracked one (status must hash it), and prune looks at them all.
    for name in ["a", "b"] {
        env.agent(&repo, &["spawn", name, "-q", "--no-agent"]).success();
        let wt = agents_dir(&repo).join(name);
        env.commit(&wt, &[("shared.txt", &shared.replace("line 2", &format!("line 2 {name}")))], "work");
        env.agent(&repo, &["done", name, "-q"]).success();
    }
    // Same size, new time: only hashing the file (through its clean filter) can tell.
    write(&agents_dir(&repo).join("a/README.md"), "README\n");
    write(&agents_dir(&repo).join("a/new.txt"), "new\n");
    let markers = plant_everything(&env, &repo);

    for args in [
        &["list"][..],
        &["list", "--json"],
        &["show", "a"],
        &["show", "a", "--json"],
        &["conflicts"],
        &["conflicts", "--json"],
        &["agent-conflicts"],
        &["prune", "a"],
        &["prune"],
    ] {
        let run = if args[0].starts_with("agent-") { env.run(&repo, "git", args) } else { env.agent(&repo, args) };
        assert!(run.code <= 3, "`git agent {}` failed: {run:#?}", args.join(" "));
        assert_eq!(markers_in(&markers), Vec::<String>::new(), "`git agent {}` ran planted programs", args.join(" "));
    }

    // spawn and integrate run the commands the user configured (agent.setup, agent.test), and
    // check files out like `git worktree add` does, so filter drivers run there as in git
    // (LFS needs its smudge filter), as do the merge drivers a merge runs. Nothing else: no
    // hook (gix runs none, git-agent's own git runs with core.hooksPath=/dev/null), no
    // fsmonitor, no ssh command, no external diff.
    // (The planted process filter is broken on purpose, so they may fail, as git would.)
    env.agent(&repo, &["spawn", "c", "-q", "--no-agent"]);
    env.run(&repo, "git", &["agent-integrate", "--test", "true"]);
    let unexpected: Vec<String> =
        markers_in(&markers).into_iter().filter(|m| !m.starts_with("filter-") && m != "merge-driver").collect();
    assert_eq!(unexpected, Vec::<String>::new(), "spawn or integrate ran planted programs");
    for marker in markers_in(&markers) {
        std::fs::remove_file(markers.join(marker)).unwrap();
    }

    // The planted programs are real: git runs them.
    let wt = agents_dir(&repo).join("a");
    let _ = env.command("git", &wt).args(["status", "--porcelain"]).output().unwrap();
    let _ = env.command("git", &wt).args(["diff"]).output().unwrap();
    let _ = env.command("git", &repo).args(["merge-tree", "--write-tree", "agent/a", "agent/b"]).output().unwrap();
    let _ = env.command("git", &repo).args(["update-ref", "refs/planted", "HEAD"]).output().unwrap();
    let found = markers_in(&markers);
    for expected in ["fsmonitor", "filter-process", "merge-driver", "hooks-path-reference-transaction"] {
        assert!(found.iter().any(|m| m == expected), "git did not run the planted {expected}: {found:?}");
    }
}
