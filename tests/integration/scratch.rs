//! Integrate's slots (`git_agent::scratch`): created and prepared once, reused warm, never
//! shared, recovered after a kill, never confused with a user's worktree, pruned when stale.
//!
//! integrate does not take slots yet, so the slots are taken through the library, in a child
//! process: this test binary run again on its ignored test [`child`], with the hermetic
//! environment of [`Env::command`]. A child is a real process with its own pid, so lock owners,
//! concurrent takers and `kill -9` are real.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use crate::common::{Env, PausePoint, write};

/// Takes slots as the `SCRATCH_*` variables say and prints one `SCRATCH-RESULT <json>` line:
/// the events, the slots (index, path, port) and the test environment of the first slot, or
/// the error and its exit code. With `SCRATCH_HOLD=<file>` it holds the slots (writes
/// `<file>.taken`) until `<file>` exists.
#[test]
#[ignore = "run by the other tests of this file in a child process"]
fn child() {
    let Some(repo) = std::env::var_os("SCRATCH_REPO") else { return };
    let var = |name: &str| std::env::var(name).ok();
    let result = (|| -> anyhow::Result<serde_json::Value> {
        let repo = git_agent::git::open(Some(Path::new(&repo)))?;
        let settings = git_agent::settings::Settings::read(&repo)?;
        let prepare = git_agent::scratch::Prepare::from_settings(&repo, &settings)?;
        let root = git_agent::layout::worktree_root(&repo, settings.worktree_root.as_deref())?;
        let target = var("SCRATCH_TARGET").unwrap_or_else(|| "refs/heads/main".into());
        let start = git_agent::git::resolve_commit(&repo, &var("SCRATCH_START").unwrap_or_else(|| "HEAD".into()))?;
        let count = var("SCRATCH_COUNT").map_or(1, |c| c.parse().unwrap());
        let mut events = Vec::new();
        let mut slots =
            git_agent::scratch::take_slots(&repo, &root, &target, count, start, &prepare, &mut |e| events.push(e))?;
        if let Some(rev) = var("SCRATCH_CHECKOUT") {
            let commit = git_agent::git::resolve_commit(&repo, &rev)?;
            for slot in &mut slots {
                slot.checkout(commit)?;
            }
        }
        let env: Vec<(String, String)> = git_agent::scratch::test_env(&slots[0], 3, 8, "api", &target)
            .into_iter()
            .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
            .collect();
        let listed: Vec<serde_json::Value> = slots
            .iter()
            .map(|s| serde_json::json!({ "index": s.index(), "path": s.path(), "port": s.port() }))
            .collect();
        if let Some(hold) = var("SCRATCH_HOLD") {
            std::fs::write(format!("{hold}.taken"), "").unwrap();
            let started = std::time::Instant::now();
            while !Path::new(&hold).exists() && started.elapsed() < std::time::Duration::from_secs(60) {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        drop(slots);
        Ok(serde_json::json!({ "events": events, "slots": listed, "env": env }))
    })();
    let value = result.unwrap_or_else(
        |err| serde_json::json!({ "error": format!("{err:#}"), "exit": git_agent::error::exit_of(&err).code() }),
    );
    println!("SCRATCH-RESULT {value}");
}

/// The child process taking slots in `repo`, with `vars` set.
fn start_child(env: &Env, repo: &Path, vars: &[(&str, &str)]) -> Child {
    let mut command = env.command(std::env::current_exe().unwrap().to_str().unwrap(), repo);
    command
        .args(["--exact", "scratch::child", "--ignored", "--nocapture", "--test-threads=1", "-q"])
        .env("SCRATCH_REPO", repo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in vars {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

/// The child's result line.
fn result_of(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SCRATCH-RESULT "))
        .unwrap_or_else(|| panic!("the child printed no result:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(line).unwrap()
}

/// Takes slots in a child process and waits for it.
fn take(env: &Env, repo: &Path, vars: &[(&str, &str)]) -> serde_json::Value {
    let result = result_of(start_child(env, repo, vars));
    assert!(result.get("error").is_none(), "taking slots failed: {result:#}");
    result
}

fn event_names(result: &serde_json::Value) -> Vec<String> {
    result["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

fn slot_paths(result: &serde_json::Value) -> Vec<PathBuf> {
    result["slots"].as_array().unwrap().iter().map(|s| PathBuf::from(s["path"].as_str().unwrap())).collect()
}

fn wait_for(path: &Path) {
    let started = std::time::Instant::now();
    while !path.exists() {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "{} never appeared", path.display());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A repository whose slots copy `.env` and run a setup command that counts its runs in
/// `<env>/setup-runs` (agent.setup would fail: agent.testSetup must win).
fn prepared_repo(env: &Env) -> PathBuf {
    let repo = env.repo("shop", &[("app.txt", "v1\n"), (".gitignore", ".env\ntarget/\n")]);
    write(&repo.join(".env"), "SECRET=1\n");
    let runs = env.path().join("setup-runs");
    env.git(&repo, &["config", "agent.copy", ".env"]);
    env.git(&repo, &["config", "agent.setup", "exit 7"]);
    env.git(
        &repo,
        &["config", "agent.testSetup", &format!("echo \"$GIT_AGENT_TARGET $GIT_AGENT_SLOT\" >> {}", runs.display())],
    );
    repo
}

fn setup_runs(env: &Env) -> Vec<String> {
    std::fs::read_to_string(env.path().join("setup-runs")).unwrap_or_default().lines().map(str::to_owned).collect()
}

#[test]
fn a_slot_is_created_and_prepared_once_then_reused_warm() {
    let env = Env::new();
    let repo = prepared_repo(&env);
    let first = take(&env, &repo, &[]);
    assert_eq!(event_names(&first), ["created", "copied", "setup-starting", "setup-finished"], "{first:#}");
    let setup = &first["events"][2];
    assert_eq!(setup["key"], "agent.testSetup");
    assert!(setup["origin"].as_str().unwrap().ends_with(".git/config"), "{setup}");
    let slot = slot_paths(&first).remove(0);
    assert_eq!(slot, env.path().join("shop.agents/.integrate/main-0"));
    assert_eq!(std::fs::read_to_string(slot.join(".env")).unwrap(), "SECRET=1\n");
    assert_eq!(setup_runs(&env), ["main 0"]);
    let head = env.git(&repo, &["rev-parse", "HEAD"]);
    assert_eq!(env.git(&slot, &["rev-parse", "HEAD"]), head);
    let detached = env.command("git", &slot).args(["symbolic-ref", "-q", "HEAD"]).status().unwrap();
    assert!(!detached.success(), "the slot's HEAD is detached");
    let test_env: Vec<(String, String)> = serde_json::from_value(first["env"].clone()).unwrap();
    let get = |k: &str| test_env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!((get("GIT_AGENT_STEP"), get("GIT_AGENT_STEPS")), ("3".into(), "8".into()));
    assert_eq!(
        (get("GIT_AGENT_TASK"), get("GIT_AGENT_TARGET"), get("GIT_AGENT_SLOT")),
        ("api".into(), "main".into(), "0".into())
    );
    assert_eq!(get("GIT_AGENT_PORT"), first["slots"][0]["port"].to_string());

    // Build output stays, a test's edit of a tracked file does not, the new commit arrives.
    write(&slot.join("target/cache.bin"), "warm");
    write(&slot.join("app.txt"), "edited by a test\n");
    env.commit(&repo, &[("new.txt", "new\n")], "second");
    let second = take(&env, &repo, &[("SCRATCH_CHECKOUT", "main")]);
    assert_eq!(event_names(&second), Vec::<String>::new(), "reused warm: {second:#}");
    assert_eq!(slot_paths(&second), std::slice::from_ref(&slot));
    assert_eq!(setup_runs(&env), ["main 0"], "the setup ran once");
    assert_eq!(std::fs::read_to_string(slot.join("target/cache.bin")).unwrap(), "warm");
    assert_eq!(std::fs::read_to_string(slot.join("app.txt")).unwrap(), "v1\n");
    assert_eq!(std::fs::read_to_string(slot.join("new.txt")).unwrap(), "new\n");
    assert_eq!(env.git(&slot, &["rev-parse", "HEAD"]), env.git(&repo, &["rev-parse", "HEAD"]));
    assert_eq!(env.git(&slot, &["status", "--porcelain"]), "", "tracked files match the commit");

    // Another setup command: the slot is prepared again.
    env.git(
        &repo,
        &["config", "agent.testSetup", &format!("echo again >> {}", env.path().join("setup-runs").display())],
    );
    let third = take(&env, &repo, &[]);
    assert_eq!(event_names(&third), ["copied", "setup-starting", "setup-finished"], "{third:#}");
    assert_eq!(setup_runs(&env), ["main 0", "again"]);
}

#[test]
fn a_failing_setup_leaves_the_slot_unprepared_for_next_time() {
    let env = Env::new();
    let repo = env.repo("shop", &[("app.txt", "v1\n")]);
    env.git(&repo, &["config", "agent.setup", "echo broken; exit 3"]);
    let failed = result_of(start_child(&env, &repo, &[]));
    assert_eq!(failed["exit"], 1, "{failed:#}");
    assert!(failed["error"].as_str().unwrap().contains("agent.setup \"echo broken; exit 3\" failed"), "{failed:#}");
    assert!(failed["error"].as_str().unwrap().contains("broken"), "the output is in the error: {failed:#}");
    env.git(&repo, &["config", "agent.setup", "true"]);
    let fixed = take(&env, &repo, &[]);
    assert_eq!(event_names(&fixed), ["setup-starting", "setup-finished"], "{fixed:#}");
}

#[test]
fn concurrent_takers_never_share_a_slot() {
    let env = Env::new();
    let repo = prepared_repo(&env);
    // The first taker stops right after taking slot 0's lock, before it looks at the slot.
    let pause = PausePoint::new(&env, "scratch-slot-locked");
    let (key, value) = pause.env();
    let first = start_child(&env, &repo, &[(&key, &value)]);
    pause.wait_reached();
    let second = take(&env, &repo, &[("SCRATCH_COUNT", "2")]);
    pause.release();
    let first = result_of(first);
    assert!(first.get("error").is_none(), "{first:#}");
    assert_eq!(slot_paths(&first), [env.path().join("shop.agents/.integrate/main-0")]);
    let root = env.path().join("shop.agents/.integrate");
    assert_eq!(slot_paths(&second), [root.join("main-1"), root.join("main-2")], "slot 0 was held");
    let ports: Vec<u64> = second["slots"].as_array().unwrap().iter().map(|s| s["port"].as_u64().unwrap()).collect();
    assert_ne!(ports[0], ports[1]);
    let mut runs = setup_runs(&env);
    runs.sort();
    assert_eq!(runs, ["main 0", "main 1", "main 2"]);
    // Released: the lowest index is taken again, warm.
    let again = take(&env, &repo, &[]);
    assert_eq!(slot_paths(&again), [root.join("main-0")]);
    assert_eq!(event_names(&again), Vec::<String>::new());
}

/// The content of a slot lock file naming `pid` as its owner (the format of src/lock.rs).
fn lock_owned_by(pid: u32) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let start = git_agent::process::process_start(pid).unwrap();
    format!("pid {pid}\nhost {}\nstart {start}\npurpose integrate-slot\n", host.trim())
}

#[test]
fn a_slot_whose_owner_was_killed_is_recovered() {
    if !Path::new("/proc/self/stat").exists() {
        return; // a dead owner is provable only with /proc
    }
    let env = Env::new();
    let repo = prepared_repo(&env);
    let slot = slot_paths(&take(&env, &repo, &[])).remove(0);
    write(&slot.join("target/cache.bin"), "warm");

    // A lock whose owner is alive is not taken over: the taker moves to the next index.
    let mut owner = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let lock = repo.join(".git/agent-slots/main-0.lock");
    std::fs::write(&lock, lock_owned_by(owner.id())).unwrap();
    let while_alive = take(&env, &repo, &[]);
    assert_eq!(slot_paths(&while_alive), [env.path().join("shop.agents/.integrate/main-1")]);

    // kill -9: the lock is taken over, the slot checked and reused warm.
    owner.kill().unwrap();
    owner.wait().unwrap();
    let recovered = take(&env, &repo, &[]);
    assert_eq!(event_names(&recovered), ["recovered"], "{recovered:#}");
    assert_eq!(slot_paths(&recovered), std::slice::from_ref(&slot));
    assert_eq!(std::fs::read_to_string(slot.join("target/cache.bin")).unwrap(), "warm");
    assert!(!lock.exists(), "released when the taker was done");

    // A taker killed while it holds the slot (at the pause point): the next one recovers it.
    let pause = PausePoint::new(&env, "scratch-slot-locked");
    let (key, value) = pause.env();
    let mut killed = start_child(&env, &repo, &[(&key, &value)]);
    pause.wait_reached();
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert!(lock.exists(), "the killed taker left its lock");
    let after_kill = take(&env, &repo, &[]);
    assert_eq!(event_names(&after_kill), ["recovered"], "{after_kill:#}");
    assert_eq!(slot_paths(&after_kill), [slot]);
    assert_eq!(setup_runs(&env), ["main 0", "main 1"], "no setup ran again in slot 0");
}

#[test]
fn a_half_created_slot_is_created_again() {
    let env = Env::new();
    let repo = env.repo("shop", &[("app.txt", "v1\n")]);
    // What a taker killed inside `git worktree add` leaves: its intent file and a registration
    // without git-agent's marker.
    let slot = env.path().join("shop.agents/.integrate/main-0");
    std::fs::create_dir_all(repo.join(".git/agent-slots")).unwrap();
    std::fs::write(repo.join(".git/agent-slots/main-0.creating"), "").unwrap();
    env.git(&repo, &["worktree", "add", "-q", "--detach", slot.to_str().unwrap()]);
    let result = take(&env, &repo, &[]);
    assert_eq!(event_names(&result), ["removed-half-created", "created"], "{result:#}");
    assert!(!repo.join(".git/agent-slots/main-0.creating").exists());
    let marker = std::fs::read_to_string(repo.join(".git/worktrees/main-0/agent-slot")).unwrap();
    assert_eq!(marker, "target refs/heads/main\nindex 0\n");
}

#[test]
fn a_users_worktree_at_a_slot_path_is_refused_and_left_alone() {
    let env = Env::new();
    let repo = env.repo("shop", &[("app.txt", "v1\n")]);
    let root = env.path().join("shop.agents/.integrate");
    // On a branch, and detached: neither was created by git-agent.
    env.git(&repo, &["worktree", "add", "-q", "-b", "mine", root.join("main-0").to_str().unwrap()]);
    env.git(&repo, &["worktree", "add", "-q", "--detach", root.join("other-0").to_str().unwrap()]);
    // And a plain directory.
    write(&root.join("plain-0/notes.txt"), "mine\n");
    env.git(&repo, &["branch", "other"]);
    env.git(&repo, &["branch", "plain"]);
    for (dir, target) in
        [("main-0", "refs/heads/main"), ("other-0", "refs/heads/other"), ("plain-0", "refs/heads/plain")]
    {
        write(&root.join(dir).join("work.txt"), "uncommitted\n");
        let before = env.snapshot(&repo);
        let refused = result_of(start_child(&env, &repo, &[("SCRATCH_TARGET", target)]));
        assert_eq!(refused["exit"], 3, "{dir}: {refused:#}");
        let error = refused["error"].as_str().unwrap();
        assert!(error.contains("is not git-agent's integrate slot"), "{error}");
        assert_eq!(std::fs::read_to_string(root.join(dir).join("work.txt")).unwrap(), "uncommitted\n");
        assert_eq!(env.snapshot(&repo), before, "{dir}");
    }
    assert_eq!(std::fs::read_to_string(root.join("plain-0/notes.txt")).unwrap(), "mine\n");
    // prune leaves them alone too, --scratch included.
    let before = env.snapshot(&repo);
    env.agent(&repo, &["prune", "--scratch"]).success();
    assert_eq!(env.snapshot(&repo), before);
    assert!(root.join("other-0/work.txt").exists());
}

#[test]
fn prune_removes_slots_of_deleted_targets_and_keeps_held_ones() {
    let env = Env::new();
    let repo = env.repo("shop", &[("app.txt", "v1\n")]);
    env.git(&repo, &["branch", "feature/x"]);
    let root = env.path().join("shop.agents/.integrate");
    take(&env, &repo, &[("SCRATCH_TARGET", "refs/heads/feature/x"), ("SCRATCH_COUNT", "2")]);
    take(&env, &repo, &[]);
    // A running integrate holds feature slot 0.
    let hold = env.path().join("hold");
    let holder = start_child(
        &env,
        &repo,
        &[("SCRATCH_TARGET", "refs/heads/feature/x"), ("SCRATCH_HOLD", hold.to_str().unwrap())],
    );
    wait_for(&env.path().join("hold.taken"));
    env.git(&repo, &["branch", "-D", "feature/x"]);

    let dry = env.agent(&repo, &["prune", "--dry-run"]).success();
    assert!(
        dry.stdout.contains(&format!("would remove the integrate slot {}", root.join("feature%2Fx-1").display())),
        "{dry:#?}"
    );
    assert!(root.join("feature%2Fx-1").exists());

    let pruned = env.agent(&repo, &["prune"]).success();
    assert!(
        pruned.stdout.contains(&format!(
            "removed the integrate slot {} (branch feature/x is gone)",
            root.join("feature%2Fx-1").display()
        )),
        "{pruned:#?}"
    );
    assert!(pruned.stderr.contains("kept the integrate slot"), "{pruned:#?}");
    assert!(pruned.stderr.contains("in use by git-agent integrate-slot"), "{pruned:#?}");
    assert!(!root.join("feature%2Fx-1").exists());
    assert!(root.join("feature%2Fx-0").exists(), "held: kept");
    assert!(root.join("main-0").exists(), "its target exists: kept without --scratch");

    std::fs::write(&hold, "").unwrap();
    assert!(result_of(holder).get("error").is_none());
    env.agent(&repo, &["prune", "--scratch", "--all"]).code(2);
    let scratch = env.agent(&repo, &["prune", "--scratch"]).success();
    assert!(scratch.stdout.contains("(idle)"), "{scratch:#?}");
    assert!(!root.exists(), "every slot and the slots directory went");
    let worktrees = env.git(&repo, &["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 1, "{worktrees}");
    assert_eq!(std::fs::read_dir(repo.join(".git/agent-slots")).unwrap().count(), 0, "no lock file left");
}

#[test]
fn prune_forgets_a_slot_whose_directory_was_deleted() {
    let env = Env::new();
    let repo = env.repo("shop", &[("app.txt", "v1\n")]);
    let slot = slot_paths(&take(&env, &repo, &[])).remove(0);
    std::fs::remove_dir_all(&slot).unwrap();
    let pruned = env.agent(&repo, &["prune"]).success();
    assert!(pruned.stdout.contains("(its directory was deleted)"), "{pruned:#?}");
    assert!(!pruned.stderr.contains("registration is kept"), "{pruned:#?}");
    assert_eq!(env.git(&repo, &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1);
    // And the next take creates it again.
    let again = take(&env, &repo, &[]);
    assert_eq!(event_names(&again), ["created"]);
}

#[test]
fn a_slot_whose_setup_was_killed_is_prepared_again() {
    let env = Env::new();
    let repo = env.repo("shop", &[("app.txt", "v1\n")]);
    let runs = env.path().join("setup-runs");
    let stop = env.path().join("stop");
    // The first setup waits (for the test to kill its integrate); the orphaned shell ends
    // once `stop` exists.
    env.git(
        &repo,
        &[
            "config",
            "agent.setup",
            &format!(
                "echo run >> {runs}; if [ $(wc -l < {runs}) = 1 ]; then echo $$ > {pid}; \
                 while [ ! -e {stop} ]; do sleep 0.05; done; fi",
                runs = runs.display(),
                stop = stop.display(),
                pid = env.path().join("setup.pid").display()
            ),
        ],
    );
    let mut killed = start_child(&env, &repo, &[]);
    wait_for(&runs);
    killed.kill().unwrap();
    killed.wait().unwrap();
    std::fs::write(&stop, "").unwrap();
    // Until the orphaned setup has ended, the slot is still in use and would be skipped.
    let pid_file = env.path().join("setup.pid");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let orphan = loop {
        match std::fs::read_to_string(&pid_file).map(|text| text.trim().to_owned()) {
            Ok(pid) if !pid.is_empty() => break pid,
            _ => assert!(std::time::Instant::now() < deadline, "the setup never wrote its pid"),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    while Path::new(&format!("/proc/{orphan}")).exists() {
        assert!(std::time::Instant::now() < deadline, "the orphaned setup never ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let again = take(&env, &repo, &[]);
    assert_eq!(event_names(&again), ["recovered", "setup-starting", "setup-finished"], "{again:#}");
    assert_eq!(setup_runs(&env), ["run", "run"]);
}
