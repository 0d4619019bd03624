//! Child processes (src/process.rs): timeouts that kill the whole process group without a
//! `kill` binary (defect 18), bounded output capture (defect 20), timeouts that hold whatever
//! the child does with its pipes, rule commands with a timeout, a clean git environment for
//! children, and git-agent itself honouring GIT_DIR / GIT_WORK_TREE / -C like git (defect 19).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo};

/// A repository with one finished task `a`.
fn repo_with_task(env: &Env) -> PathBuf {
    let repo = canonical_repo(env, "repo", &[("README.md", "readme\n")]);
    env.agent(&repo, &["spawn", "a", "-q", "--no-agent"]).success();
    env.commit(&agents_dir(&repo).join("a"), &[("a.txt", "a\n")], "a: work");
    env.agent(&repo, &["done", "a", "-q"]).success();
    repo
}

fn integrate_json(env: &Env, repo: &Path, args: &[&str]) -> (i32, Value) {
    let run = env.run(repo, "git", &[&["agent-integrate", "--json"], args].concat());
    let json = run.json();
    (run.code, json)
}

fn test_of(json: &Value) -> &Value {
    &json["steps"][0]["test"]
}

/// Is process `pid` gone (or a zombie nobody has reaped yet)? Waits a little for the reaper.
fn is_gone(pid: &str) -> bool {
    let status = format!("/proc/{}/status", pid.trim());
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        match std::fs::read_to_string(&status) {
            Err(_) => return true,
            Ok(text) if text.lines().any(|l| l.starts_with("State:") && l.contains('Z')) => return true,
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}

fn kill(pid: &str) {
    if let Some(pid) = pid.trim().parse().ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

#[test]
fn a_timed_out_test_is_killed_with_its_group_without_a_kill_binary() {
    let env = Env::new();
    let repo = repo_with_task(&env);
    // Only what the test needs on PATH: no kill(1) (defect 18).
    let bin = env.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for program in ["git", "sh", "sleep", "echo"] {
        let found = which_program(program);
        std::os::unix::fs::symlink(found, bin.join(program)).unwrap();
    }
    for program in ["git-agent", "git-agent-integrate"] {
        std::os::unix::fs::symlink(bin_dir().join(program), bin.join(program)).unwrap();
    }
    assert!(!bin.join("kill").exists());
    let pid_file = env.path().join("sleeper.pid");
    let test = format!("sleep 30 & echo $! > {}; sleep 30", pid_file.display());
    let started = Instant::now();
    let run = env
        .command(&bin.join("git").to_string_lossy(), &repo)
        .env("PATH", &bin)
        .args(["agent-integrate", "--json", "--test", &test, "--test-timeout", "1"])
        .output()
        .unwrap();
    let run = Run::from(run);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}: {run:#?}", started.elapsed());
    assert_eq!(run.code, 1, "{run:#?}");
    let json = run.json();
    assert_eq!(test_of(&json)["timed_out"], true, "{json:#}");
    // The background sleep (same process group) is gone too.
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(is_gone(&pid), "the test's background process {pid} survived");
}

fn which_program(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{program} not on PATH"))
}

#[test]
fn a_tests_output_is_kept_in_a_bounded_buffer() {
    let env = Env::new();
    let repo = repo_with_task(&env);
    // 200 MB of output, then the peak memory of git-agent-integrate (the shell's parent), then
    // a marker. Buffering it all (defect 20) would make the peak exceed 200 MB.
    let test = "head -c 200000000 /dev/zero; grep VmHWM /proc/$PPID/status; echo END; exit 1";
    let (code, json) = integrate_json(&env, &repo, &["--test", test]);
    assert_eq!(code, 1, "{json:#}");
    let output = test_of(&json)["output"].as_str().unwrap().to_owned();
    assert!(output.len() <= 4000, "the output tail has {} bytes", output.len());
    assert!(output.ends_with("END\n"), "the tail is the end of the output: {output:?}");
    let peak_kb: u64 = output
        .lines()
        .find_map(|line| line.split_once("VmHWM:").map(|(_, rest)| rest))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {output:?}"));
    assert!(peak_kb < 100_000, "git-agent-integrate peaked at {peak_kb} kB while reading the test's output");
}

/// Runs integrate with `test` after a command that starts a process in a new session
/// (`setsid`: killing the test's process group does not reach it) which keeps the test's
/// stdout and stderr open for 30 s. Returns the exit code and the report; kills the process.
fn integrate_leaving_an_escaped_process(test: &str, extra: &[&str]) -> (i32, Value) {
    let env = Env::new();
    let repo = repo_with_task(&env);
    let pid_file = env.path().join("escaped.pid");
    let escape = format!("setsid sh -c 'echo $$ > {}; exec sleep 30' &", pid_file.display());
    let started = Instant::now();
    let (code, json) = integrate_json(&env, &repo, &[&["--test", &format!("{escape} {test}")], extra].concat());
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    kill(&std::fs::read_to_string(&pid_file).unwrap());
    (code, json)
}

#[test]
fn a_background_process_holding_the_output_does_not_stretch_the_timeout() {
    // A test that passes at once: integrate lands without waiting for the escaped process.
    let (code, json) = integrate_leaving_an_escaped_process("exit 0", &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(test_of(&json)["exit"], 0, "{json:#}");

    // A test that hangs: the timeout holds although the escaped process keeps the pipes.
    let (code, json) = integrate_leaving_an_escaped_process("sleep 30", &["--test-timeout", "1"]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(test_of(&json)["timed_out"], true, "{json:#}");
}

#[test]
fn a_resolve_rule_command_has_a_timeout() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("Cargo.lock", "v0\n")]);
    for name in ["a", "b"] {
        env.agent(&repo, &["spawn", name, "-q", "--no-agent"]).success();
        let wt = agents_dir(&repo).join(name);
        env.commit(&wt, &[("Cargo.lock", &format!("v{name}\n")), (&format!("{name}.txt"), "x\n")], "work");
        env.agent(&repo, &["done", name, "-q"]).success();
    }
    let before = env.git(&repo, &["rev-parse", "main"]);
    env.git(&repo, &["config", "agent.resolve.lock.path", "Cargo.lock"]);
    env.git(&repo, &["config", "agent.resolve.lock.run", "sleep 30; echo late > Cargo.lock"]);
    let started = Instant::now();
    let run = env.run(&repo, "git", &["agent-integrate", "--test-timeout", "1"]);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}: {run:#?}", started.elapsed());
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("agent.resolve.lock.run") && run.stderr.contains("timed out"), "{run:#?}");
    assert_eq!(env.git(&repo, &["rev-parse", "main"]), before);
}

#[test]
fn children_never_see_the_callers_repository_variables() {
    let env = Env::new();
    let repo = repo_with_task(&env);
    // Variables that would point a child's git at an index or configuration (here the
    // repository's own, so that git-agent itself is not disturbed).
    let run = env
        .command("git", &repo)
        .args(["agent-integrate", "--json", "--test", "env | grep ^GIT_ | sort; exit 1"])
        .env("GIT_INDEX_FILE", repo.join(".git/index"))
        .env("GIT_OBJECT_DIRECTORY", repo.join(".git/objects"))
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "core.bogus")
        .env("GIT_CONFIG_VALUE_0", "1")
        .env("GIT_CONFIG_PARAMETERS", "'core.bogus'='1'")
        .output()
        .unwrap();
    let run = Run::from(run);
    assert_eq!(run.code, 1, "{run:#?}");
    let json = run.json();
    let output = test_of(&json)["output"].as_str().unwrap().to_owned();
    for var in [
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_KEY_0",
        "GIT_CONFIG_VALUE_0",
        "GIT_CONFIG_PARAMETERS",
    ] {
        assert!(!output.contains(&format!("{var}=")), "{var} reached the test: {output}");
    }
}

#[test]
fn git_dir_and_git_work_tree_name_the_repository_like_git() {
    let env = Env::new();
    let a = canonical_repo(&env, "a", &[("a.txt", "a\n")]);
    let b = canonical_repo(&env, "b", &[("b.txt", "b\n")]);
    let tasks = |repo: &Path| env.git(repo, &["for-each-ref", "--format=%(refname)", "refs/agent/tasks/"]);

    // From b's directory, GIT_DIR names a (defect 19).
    let run = env
        .command("git", &b)
        .args(["agent", "spawn", "in-a", "-q", "--no-agent"])
        .env("GIT_DIR", a.join(".git"))
        .output();
    Run::from(run.unwrap()).success();
    assert_eq!(tasks(&a), "refs/agent/tasks/in-a\n");
    assert_eq!(tasks(&b), "");
    let run = env.command("git", &b).args(["agent", "list", "--json"]).env("GIT_DIR", a.join(".git")).output();
    Run::from(run.unwrap()).success().stdout_has("in-a");

    // -C applies first: a relative GIT_DIR is relative to it.
    let run = env
        .command("git", &b)
        .args(["agent", "-C", a.to_str().unwrap(), "spawn", "relative", "-q", "--no-agent"])
        .env("GIT_DIR", ".git")
        .env("GIT_WORK_TREE", ".")
        .output();
    Run::from(run.unwrap()).success();
    assert_eq!(tasks(&a), "refs/agent/tasks/in-a\nrefs/agent/tasks/relative\n");
    assert_eq!(tasks(&b), "");
}
