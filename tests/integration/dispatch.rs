//! The umbrella: git's dispatch to `git-agent`, built-ins, external sub-commands, did-you-mean,
//! global flags and exit codes.

use crate::common::*;

#[test]
fn git_agent_alone_prints_the_workflow_and_commands() {
    let env = Env::new();
    let run = env.agent(env.path(), &[]).success();
    for needle in ["Workflow:", "spawn", "list", "show", "done", "setup"] {
        assert!(run.stdout.contains(needle), "{needle} missing:\n{}", run.stdout);
    }
}

#[test]
fn unknown_subcommand_suggests_the_nearest_and_exits_2() {
    let env = Env::new();
    env.agent(env.path(), &["spwan", "x"]).code(2).stderr_has("did you mean `git agent spawn`");
    env.agent(env.path(), &["frobnicate"]).code(2).stderr_has("not a git agent command");
    // A sub-command name must never become a path.
    env.agent(env.path(), &["../../bin/sh"]).code(2);
}

#[test]
fn external_subcommands_run_from_path_with_arguments_and_exit_status() {
    let env = Env::new();
    let bin = env.path().join("extra-bin");
    let script = bin.join("git-agent-hello");
    write(&script, "#!/bin/sh\necho \"hello $*\"\nexit 7\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = env
        .command("git", env.path())
        .args(["agent", "hello", "a", "b c"])
        .env("PATH", format!("{}:{path}", bin_dir().display()))
        .output()
        .unwrap();
    let run = Run::from(out).code(7);
    assert!(run.stdout.contains("hello --color=auto a b c"), "{run:#?}");
    // It is listed by `git agent` alone.
    let out = env
        .command("git", env.path())
        .args(["agent"])
        .env("PATH", format!("{}:{path}", bin_dir().display()))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello"));
}

#[test]
fn spawn_binary_works_directly_and_through_git() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", "a\n")]);
    env.run(&repo, "git-agent-spawn", &["direct", "-q"]).success();
    env.run(&repo, "git", &["agent-spawn", "through-git", "-q"]).success();
    env.agent(&repo, &["spawn", "umbrella", "-q"]).success();
    let tasks = env.git(&repo, &["for-each-ref", "--format=%(refname)", "refs/agent/tasks"]);
    assert_eq!(tasks, "refs/agent/tasks/direct\nrefs/agent/tasks/through-git\nrefs/agent/tasks/umbrella\n");
    env.run(&repo, "git-agent-spawn", &["--version"]).success().stdout_has("git-agent-spawn");
}

#[test]
fn dash_c_works_like_git() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", "a\n")]);
    env.agent(env.path(), &["-C", "repo", "spawn", "x", "-q"]).success();
    let run = env.agent(env.path(), &["-C", repo.to_str().unwrap(), "list", "--json"]).success();
    assert_eq!(run.json()["tasks"][0]["name"], "x");
    env.run(env.path(), "git", &["-C", "repo", "agent", "list"]).success().stdout_has("x");
}

#[test]
fn outside_a_repository_is_refused_with_exit_3() {
    let env = Env::new();
    let empty = env.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out =
        env.command("git-agent", &empty).args(["list"]).env("GIT_CEILING_DIRECTORIES", env.path()).output().unwrap();
    let run = Run::from(out).code(3).stderr_has("not in a git repository");
    assert!(run.stderr.contains("hint:"), "{run:#?}");
}

#[test]
fn color_is_chosen_by_flag_and_no_color() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "x", "-q"]).success();
    let plain = env.agent(&repo, &["list"]).success();
    assert!(!plain.stdout.contains('\u{1b}'), "no colour when piped");
    let forced = env.agent(&repo, &["--color", "always", "list"]).success();
    assert!(forced.stdout.contains('\u{1b}'), "colour forced");
    env.agent(&repo, &["--color", "never", "list"]).success();
}

#[test]
fn quiet_silences_status_but_not_data_or_errors() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", "a\n")]);
    let run = env.agent(&repo, &["spawn", "x", "-q"]).success();
    assert!(run.stderr.is_empty(), "{run:#?}");
    assert!(run.stdout.trim_end().ends_with("x"), "worktree path on stdout: {run:#?}");
    env.agent(&repo, &["spawn", "x", "-q"]).code(3).stderr_has("exists already");
}
