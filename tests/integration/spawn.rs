//! `git agent spawn`: branch, worktree and record; bad input; repository states; copy and
//! setup; the agent; concurrency; `done` and `show` from inside a task's worktree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::*;

/// The default worktree root of `repo`: the sibling folder `<repo>.agents`.
pub fn agents_dir(repo: &Path) -> PathBuf {
    let mut name = repo.file_name().unwrap().to_owned();
    name.push(".agents");
    repo.with_file_name(name)
}

/// A task's current record, as stored: `git show refs/agent/tasks/<task>:task.json`.
pub fn record(env: &Env, repo: &Path, task: &str) -> serde_json::Value {
    let text = env.git(repo, &["show", &format!("refs/agent/tasks/{task}:task.json")]);
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("task.json of {task} is not JSON ({err}):\n{text}"))
}

/// The commit a revision names.
pub fn rev(env: &Env, repo: &Path, rev: &str) -> String {
    env.git(repo, &["rev-parse", "--verify", rev]).trim().to_owned()
}

/// A test environment whose root is canonical, so paths compare with what the product prints.
pub fn canonical_repo(env: &Env, name: &str, files: &[(&str, &str)]) -> PathBuf {
    env.repo(name, files).canonicalize().unwrap()
}

/// Is there a file named `name` anywhere under `dir`?
pub fn file_named_anywhere(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if entry.file_name() == name {
            return Some(path);
        }
        if entry.file_type().is_ok_and(|t| t.is_dir())
            && let Some(found) = file_named_anywhere(&path, name)
        {
            return Some(found);
        }
    }
    None
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// Every task record has its branch and its worktree, and every agent branch and agent worktree
/// has its record. Returns the task names.
pub fn assert_consistent(env: &Env, repo: &Path) -> BTreeSet<String> {
    let records = lines(&env.git(repo, &["for-each-ref", "--format=%(refname:lstrip=3)", "refs/agent/tasks/"]));
    let branches = lines(&env.git(repo, &["for-each-ref", "--format=%(refname:lstrip=3)", "refs/heads/agent/"]));
    assert_eq!(records, branches, "records and agent branches differ");

    let porcelain = env.git(repo, &["worktree", "list", "--porcelain"]);
    let root = agents_dir(repo);
    let mut worktrees = BTreeSet::new();
    for block in porcelain.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let path = block.lines().find_map(|l| l.strip_prefix("worktree ")).unwrap();
        let path = Path::new(path);
        if path == repo {
            continue;
        }
        assert_eq!(path.parent(), Some(root.as_path()), "unexpected worktree {block}");
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let branch = block.lines().find_map(|l| l.strip_prefix("branch ")).unwrap_or("(none)");
        assert_eq!(branch, format!("refs/heads/agent/{name}"), "worktree {name} has the wrong branch");
        assert!(path.join(".git").is_file(), "worktree {name} is not checked out");
        worktrees.insert(name);
    }
    assert_eq!(records, worktrees, "records and registered worktrees differ");

    let dirs: BTreeSet<String> = match std::fs::read_dir(&root) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect(),
        Err(_) => BTreeSet::new(),
    };
    assert_eq!(records, dirs, "records and directories under {} differ", root.display());

    for name in &records {
        let record = record(env, repo, name);
        assert_eq!(record["name"], name.as_str());
        assert_eq!(record["branch"], format!("refs/heads/agent/{name}"));
        // The worktree is this machine's business: format 2 keeps it out of the synced record.
        assert_eq!(record["version"], 2);
        assert!(record.get("worktree").is_none(), "{record}");
        assert!(root.join(name).join(".git").is_file());
    }
    records
}

#[test]
fn spawn_creates_branch_worktree_and_record() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "hello\n"), ("src/lib.rs", "// lib\n")]);
    let main = rev(&env, &repo, "main");
    let run = env
        .agent(
            &repo,
            &[
                "spawn",
                "db",
                "--scope",
                "src/db",
                "--scope",
                "migrations/",
                "--brief",
                "Add the table",
                "--acceptance",
                "migration applies",
                "--acceptance",
                "tests pass",
            ],
        )
        .success();
    let worktree = agents_dir(&repo).join("db");
    assert_eq!(run.stdout, format!("{}\n", worktree.display()), "stdout is the worktree path");

    assert_eq!(rev(&env, &repo, "refs/heads/agent/db"), main, "branch starts at main");
    assert_eq!(std::fs::read_to_string(worktree.join("README.md")).unwrap(), "hello\n");
    assert_eq!(env.git(&worktree, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/agent/db");
    assert_eq!(env.git(&worktree, &["status", "--porcelain"]), "", "new worktree is clean");

    let record = record(&env, &repo, "db");
    assert_eq!(record["version"], 2);
    assert_eq!(record["clock"], 1);
    let ops: serde_json::Value =
        serde_json::from_str(&env.git(&repo, &["show", "refs/agent/tasks/db:ops.json"])).unwrap();
    assert_eq!(ops[0]["op"], "spawned", "{ops}");
    assert_eq!(ops[0]["clock"], 1);
    assert_eq!(ops[0]["record"]["brief"], record["brief"]);
    assert_eq!(record["name"], "db");
    assert_eq!(record["branch"], "refs/heads/agent/db");
    assert_eq!(record["base_ref"], "refs/heads/main");
    assert_eq!(record["base_commit"], main.as_str());
    assert!(record.get("worktree").is_none());
    assert_eq!(record["scope"], serde_json::json!(["src/db", "migrations/"]));
    assert_eq!(record["after"], serde_json::json!([]));
    assert_eq!(record["brief"], "Add the table");
    assert_eq!(record["acceptance"], serde_json::json!(["migration applies", "tests pass"]));
    assert_eq!(record["state"], "active");
    assert!(record["agent_exit"].is_null());

    // A dependent task records its dependency.
    env.agent(&repo, &["spawn", "api", "--after", "db", "-q"]).success();
    assert_eq!(self::record(&env, &repo, "api")["after"], serde_json::json!(["db"]));
    assert_eq!(env.git(&repo, &["log", "refs/agent/tasks/db", "--format=%s"]), "spawn db\n");
    assert_consistent(&env, &repo);
}

#[test]
fn spawn_with_base_branch_and_base_commit() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let initial = rev(&env, &repo, "main");
    env.git(&repo, &["checkout", "-q", "-b", "feature"]);
    env.commit(&repo, &[("feature.txt", "f\n")], "feature");
    let feature = rev(&env, &repo, "feature");
    env.git(&repo, &["checkout", "-q", "main"]);
    env.commit(&repo, &[("main.txt", "m\n")], "main moves");
    let main = rev(&env, &repo, "main");

    env.agent(&repo, &["spawn", "on-branch", "--base", "feature"]).success();
    assert_eq!(rev(&env, &repo, "agent/on-branch"), feature);
    let record = record(&env, &repo, "on-branch");
    assert_eq!(record["base_ref"], "refs/heads/feature");
    assert_eq!(record["base_commit"], feature.as_str());
    assert!(agents_dir(&repo).join("on-branch/feature.txt").is_file());
    assert!(!agents_dir(&repo).join("on-branch/main.txt").exists());

    env.agent(&repo, &["spawn", "on-commit", "--base", &initial]).success();
    assert_eq!(rev(&env, &repo, "agent/on-commit"), initial);
    let record = self::record(&env, &repo, "on-commit");
    assert!(record["base_ref"].is_null(), "a commit is not a branch: {record}");
    assert_eq!(record["base_commit"], initial.as_str());

    // Abbreviated commit ids and `main~1` style revisions resolve too.
    env.agent(&repo, &["spawn", "on-rev", "--base", "main~1"]).success();
    assert_eq!(rev(&env, &repo, "agent/on-rev"), initial);

    env.agent(&repo, &["spawn", "default"]).success();
    assert_eq!(rev(&env, &repo, "agent/default"), main);
    assert_consistent(&env, &repo);
}

#[test]
fn spawn_honours_agent_config() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.git(&repo, &["branch", "develop"]);
    env.commit(&repo, &[("main-only.txt", "m\n")], "main moves");
    let develop = rev(&env, &repo, "develop");
    env.git(&repo, &["config", "agent.base", "develop"]);
    env.git(&repo, &["config", "agent.worktreeRoot", "../trees"]);
    env.git(&repo, &["config", "agent.branchPrefix", "bot/"]);

    let run = env.agent(&repo, &["spawn", "x"]).success();
    let worktree = env.path().canonicalize().unwrap().join("trees/x");
    assert_eq!(run.stdout.trim_end(), worktree.to_str().unwrap());
    assert!(worktree.join("a.txt").is_file());
    assert!(!worktree.join("main-only.txt").exists(), "agent.base chose develop");
    assert_eq!(rev(&env, &repo, "refs/heads/bot/x"), develop);
    assert!(env.git(&repo, &["for-each-ref", "refs/heads/agent/"]).is_empty(), "no agent/ branch");
    assert!(!agents_dir(&repo).exists(), "the default root is not used");
    let record = record(&env, &repo, "x");
    assert_eq!(record["branch"], "refs/heads/bot/x");
    assert_eq!(record["base_ref"], "refs/heads/develop");
    assert!(record.get("worktree").is_none(), "the worktree is not in the synced record");
    assert_eq!(env.git(&worktree, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/bot/x");
}

/// Runs a spawn that must be refused with `code`, and checks that it created nothing.
#[track_caller]
fn assert_creates_nothing(env: &Env, repo: &Path, args: &[&str], code: i32) -> Run {
    let before = env.snapshot(repo);
    let root_existed = agents_dir(repo).exists();
    let run = env.agent(repo, args);
    assert_eq!(run.code, code, "spawn {args:?}: expected exit {code}:\n{run:#?}");
    assert!(run.stderr.contains("error"), "spawn {args:?} says why:\n{run:#?}");
    assert_eq!(env.snapshot(repo), before, "spawn {args:?} changed the repository");
    if !root_existed {
        assert!(!agents_dir(repo).exists(), "spawn {args:?} created the worktree root");
    }
    assert_eq!(
        env.git(repo, &["status", "--porcelain", "--ignored"]),
        "",
        "spawn {args:?} wrote into the main worktree"
    );
    run
}

#[test]
fn bad_task_names_are_rejected_and_create_nothing() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let too_long = "x".repeat(65);
    let bad = [
        "",
        "-x",
        "a/b",
        "a\\b",
        "..",
        "a..b",
        "x.lock",
        "a b",
        "a\tb",
        "a\nb",
        "a;b",
        "$(touch pwned)",
        "`x`",
        "a*b",
        "ünï",
        too_long.as_str(),
        "HEAD",
        "x.",
        ".hidden",
        "a:b",
        "a~1",
        "@",
    ];
    for name in bad {
        let run = assert_creates_nothing(&env, &repo, &["spawn", name], 2);
        if name != "-x" {
            // "-x" is caught by the argument parser; the others by the name check, which says so.
            assert!(run.stderr.contains("invalid task name"), "{name:?}:\n{run:#?}");
        }
        assert_creates_nothing(&env, &repo, &["spawn", "ok", "--after", name], 2);
        assert_creates_nothing(&env, &repo, &["spawn", "ok", "--check", "--after", name], 2);
    }
    // The name `-x` given after `--`-less option parsing must not become an option either.
    assert_creates_nothing(&env, &repo, &["spawn", "--base", "main", "-x"], 2);
    assert!(file_named_anywhere(env.path(), "pwned").is_none(), "a task name was executed");
    // 64 characters is the limit, and it works.
    let longest = "y".repeat(64);
    env.agent(&repo, &["spawn", &longest]).success();
    assert!(agents_dir(&repo).join(&longest).is_dir());
}

#[test]
fn bad_revisions_and_dependencies_are_bad_input() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let run = assert_creates_nothing(&env, &repo, &["spawn", "t", "--base", "no-such-branch"], 2);
    assert!(run.stderr.contains("no-such-branch"), "{run:#?}");
    assert_creates_nothing(&env, &repo, &["spawn", "t", "--base", "--all"], 2);
    let tree = rev(&env, &repo, "main^{tree}");
    assert_creates_nothing(&env, &repo, &["spawn", "t", "--base", &tree], 2);
    let run = assert_creates_nothing(&env, &repo, &["spawn", "t", "--after", "ghost"], 2);
    assert!(run.stderr.contains("ghost"), "{run:#?}");
    assert_creates_nothing(&env, &repo, &["spawn", "t", "--after", "t"], 2);
    assert_creates_nothing(&env, &repo, &["spawn", "t", "--brief-file", "/nonexistent/brief.md"], 2);
}

#[test]
fn existing_task_branch_or_directory_is_refused() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    let run = assert_creates_nothing(&env, &repo, &["spawn", "t"], 3);
    assert!(run.stderr.contains("exists already"), "{run:#?}");

    env.git(&repo, &["branch", "agent/x"]);
    let run = assert_creates_nothing(&env, &repo, &["spawn", "x"], 3);
    assert!(run.stderr.contains("agent/x"), "{run:#?}");
    assert!(!agents_dir(&repo).join("x").exists());

    let occupied = agents_dir(&repo).join("y");
    write(&occupied.join("keep.txt"), "precious\n");
    write(&occupied.join("sub/deep.txt"), "deep\n");
    let run = assert_creates_nothing(&env, &repo, &["spawn", "y"], 3);
    assert!(run.stderr.contains("not empty"), "{run:#?}");
    assert_eq!(std::fs::read_to_string(occupied.join("keep.txt")).unwrap(), "precious\n");
    assert_eq!(std::fs::read_to_string(occupied.join("sub/deep.txt")).unwrap(), "deep\n");
    assert_eq!(std::fs::read_dir(&occupied).unwrap().count(), 2);
    assert!(env.git(&repo, &["for-each-ref", "refs/heads/agent/y", "refs/agent/tasks/y"]).is_empty());

    // A file where the worktree would go is refused too.
    write(&agents_dir(&repo).join("z"), "a file\n");
    assert_creates_nothing(&env, &repo, &["spawn", "z"], 3);
    assert_eq!(std::fs::read_to_string(agents_dir(&repo).join("z")).unwrap(), "a file\n");

    // An empty directory is fine to use.
    std::fs::create_dir(agents_dir(&repo).join("empty")).unwrap();
    env.agent(&repo, &["spawn", "empty"]).success();
    assert!(agents_dir(&repo).join("empty/a.txt").is_file());
}

#[test]
fn detached_head_needs_a_base() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.git(&repo, &["checkout", "-q", "--detach"]);
    let run = assert_creates_nothing(&env, &repo, &["spawn", "t"], 2);
    assert!(run.stderr.contains("detached"), "{run:#?}");
    assert!(run.stderr.contains("hint:") && run.stderr.contains("--base"), "{run:#?}");
    env.agent(&repo, &["spawn", "t", "--base", "main"]).success();
    assert_eq!(record(&env, &repo, "t")["base_ref"], "refs/heads/main");
}

#[test]
fn bare_repository_needs_a_worktree_root() {
    let env = Env::new();
    let bare = env.path().canonicalize().unwrap().join("bare.git");
    env.git(env.path(), &["init", "-q", "--bare", bare.to_str().unwrap()]);
    let source = canonical_repo(&env, "source", &[("a.txt", "a\n")]);
    env.git(&source, &["push", "-q", bare.to_str().unwrap(), "main"]);

    let before = env.snapshot(&bare);
    let run = env.agent(&bare, &["spawn", "t"]).code(3).stderr_has("bare");
    assert!(run.stderr.contains("agent.worktreeRoot"), "{run:#?}");
    assert_eq!(env.snapshot(&bare), before);

    let root = env.path().canonicalize().unwrap().join("bare-trees");
    env.git(&bare, &["config", "agent.worktreeRoot", root.to_str().unwrap()]);
    let run = env.agent(&bare, &["spawn", "t"]).success();
    assert_eq!(run.stdout.trim_end(), root.join("t").to_str().unwrap());
    assert_eq!(std::fs::read_to_string(root.join("t/a.txt")).unwrap(), "a\n");
    assert_eq!(env.git(&root.join("t"), &["symbolic-ref", "HEAD"]).trim(), "refs/heads/agent/t");
    assert_eq!(record(&env, &bare, "t")["base_ref"], "refs/heads/main");
    env.agent(&root.join("t"), &["list", "--json"]).success();
}

#[test]
fn reftable_repository_is_refused() {
    let env = Env::new();
    let repo = env.path().join("rt");
    std::fs::create_dir(&repo).unwrap();
    env.git(&repo, &["init", "-q", "--ref-format=reftable"]);
    env.commit(&repo, &[("a.txt", "a\n")], "initial");
    let before = env.snapshot(&repo);
    env.agent(&repo, &["spawn", "t"]).code(3).stderr_has("reftable");
    assert_eq!(env.snapshot(&repo), before);
    assert!(!agents_dir(&repo).exists());
}

#[test]
fn agent_copy_copies_untracked_env_files_but_never_over_tracked_ones() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[(".gitignore", ".env\n.env.local\nbuild/\n"), ("a.txt", "a\n")]);
    env.git(&repo, &["checkout", "-q", "-b", "shared"]);
    env.commit(&repo, &[(".env.shared", "from the branch\n")], "track .env.shared");
    env.git(&repo, &["checkout", "-q", "main"]);
    write(&repo.join(".env"), "SECRET=1\n");
    write(&repo.join(".env.local"), "LOCAL=1\n");
    write(&repo.join(".env.untracked"), "UNTRACKED=1\n");
    write(&repo.join(".env.shared"), "from the main worktree\n");
    write(&repo.join("build/out.bin"), "not copied\n");
    write(&repo.join("notes.txt"), "not copied\n");
    env.git(&repo, &["config", "--add", "agent.copy", ".env*"]);

    env.agent(&repo, &["spawn", "t"]).success().stderr_has("copied");
    let wt = agents_dir(&repo).join("t");
    assert_eq!(std::fs::read_to_string(wt.join(".env")).unwrap(), "SECRET=1\n");
    assert_eq!(std::fs::read_to_string(wt.join(".env.local")).unwrap(), "LOCAL=1\n");
    assert_eq!(std::fs::read_to_string(wt.join(".env.untracked")).unwrap(), "UNTRACKED=1\n");
    assert!(!wt.join("build").exists(), "only agent.copy matches are copied");
    assert!(!wt.join("notes.txt").exists(), "only agent.copy matches are copied");

    // On a base that tracks .env.shared, the branch's version wins over the untracked copy.
    env.agent(&repo, &["spawn", "s", "--base", "shared"]).success();
    let ws = agents_dir(&repo).join("s");
    assert_eq!(std::fs::read_to_string(ws.join(".env.shared")).unwrap(), "from the branch\n");
    assert_eq!(std::fs::read_to_string(ws.join(".env")).unwrap(), "SECRET=1\n");
    assert_eq!(
        env.git(&ws, &["status", "--porcelain", "--untracked-files=no"]),
        "",
        "tracked files keep the branch's content"
    );
    // The main worktree's files are untouched.
    assert_eq!(std::fs::read_to_string(repo.join(".env.shared")).unwrap(), "from the main worktree\n");
}

#[test]
fn agent_setup_runs_in_the_new_worktree() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.git(&repo, &["config", "agent.setup", "echo ok > setup-ran; echo \"$GIT_AGENT_TASK\" >> setup-ran"]);
    env.agent(&repo, &["spawn", "t"]).success();
    let wt = agents_dir(&repo).join("t");
    assert_eq!(std::fs::read_to_string(wt.join("setup-ran")).unwrap(), "ok\nt\n");
    assert!(!repo.join("setup-ran").exists(), "setup ran in the main worktree");

    env.agent(&repo, &["spawn", "u", "--no-setup"]).success();
    assert!(!agents_dir(&repo).join("u/setup-ran").exists(), "--no-setup skips agent.setup");
}

#[test]
fn failing_agent_setup_rolls_everything_back() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "first"]).success();
    env.git(&repo, &["config", "agent.setup", "touch half-done; exit 7"]);
    let before = env.snapshot(&repo);
    let run = env.agent(&repo, &["spawn", "t"]).code(1).stderr_has("rolled back");
    assert!(run.stderr.contains("agent.setup"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before, "a failed spawn leaves no trace");
    assert!(!agents_dir(&repo).join("t").exists(), "the worktree directory was removed");
    assert!(!repo.join(".git/worktrees/t").exists(), "the worktree administration was removed");
    assert_consistent(&env, &repo);

    // The name is free again.
    env.git(&repo, &["config", "--unset", "agent.setup"]);
    env.agent(&repo, &["spawn", "t"]).success();
    assert_consistent(&env, &repo);
}

#[test]
fn the_agent_runs_in_the_worktree_and_its_exit_is_recorded() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let script = "echo \"$GIT_AGENT_TASK:$GIT_AGENT_BRIEF:$GIT_AGENT_BRANCH:$GIT_AGENT_WORKTREE\" > out.txt; \
                  echo {brief} >> out.txt; exit 3";
    let run = env.agent(&repo, &["spawn", "t", "--brief", "b r", "--", "sh", "-c", script]).code(1);
    assert!(run.stderr.contains('3'), "the agent's status is reported:\n{run:#?}");
    let wt = agents_dir(&repo).join("t");
    let out = std::fs::read_to_string(wt.join("out.txt")).unwrap();
    assert_eq!(out, format!("t:b r:agent/t:{}\nb r\n", wt.display()));
    assert!(!repo.join("out.txt").exists(), "the agent ran in the main worktree");

    let record = record(&env, &repo, "t");
    assert_eq!(record["agent_exit"], 3);
    assert_eq!(record["state"], "active");
    assert_eq!(record["command"], serde_json::json!(["sh", "-c", script]), "the command is recorded unexpanded");
    assert_eq!(rev(&env, &repo, "agent/t"), rev(&env, &repo, "main"), "the branch is kept");
    assert!(wt.join("a.txt").is_file(), "the worktree is kept");
    assert_eq!(env.git(&repo, &["log", "refs/agent/tasks/t", "--format=%s"]), "agent-exit t\nagent-start t\nspawn t\n");
    assert_consistent(&env, &repo);

    // A successful agent: exit 0, agent_exit 0.
    env.agent(&repo, &["spawn", "ok", "--", "true"]).success();
    assert_eq!(self::record(&env, &repo, "ok")["agent_exit"], 0);

    // An agent that cannot be started: recorded as 127, spawn reports failure, task kept.
    env.agent(&repo, &["spawn", "missing", "--", "no-such-agent-program"]).code(1);
    assert_eq!(self::record(&env, &repo, "missing")["agent_exit"], 127);
    assert_consistent(&env, &repo);
}

#[test]
fn briefs_are_never_executed() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let brief = "$(touch pwned) `touch pwned` ; touch pwned && touch pwned | touch pwned '\"";
    let script = "printf '%s' \"$GIT_AGENT_BRIEF\" > env.txt; printf '%s' \"$1\" > arg.txt";
    env.git(&repo, &["config", "agent.setup", "printf '%s' \"$GIT_AGENT_BRIEF\" > setup.txt"]);
    env.agent(&repo, &["spawn", "t", "--brief", brief, "--", "sh", "-c", script, "sh", "{brief}"]).success();
    let wt = agents_dir(&repo).join("t");
    assert_eq!(std::fs::read_to_string(wt.join("env.txt")).unwrap(), brief);
    assert_eq!(std::fs::read_to_string(wt.join("arg.txt")).unwrap(), brief);
    assert_eq!(std::fs::read_to_string(wt.join("setup.txt")).unwrap(), brief);
    assert_eq!(record(&env, &repo, "t")["brief"], brief);

    // The same through agent.command, which is split without a shell.
    env.git(&repo, &["config", "agent.command", "touch {brief}"]);
    env.agent(&repo, &["spawn", "u", "--brief", "$(touch pwned)"]).success();
    assert!(agents_dir(&repo).join("u/$(touch pwned)").is_file(), "the brief is one literal argument");

    // And from a brief file.
    write(&env.path().join("brief.md"), "$(touch pwned)\n");
    let brief_file = env.path().join("brief.md");
    env.agent(&repo, &["spawn", "v", "--no-agent", "--brief-file", brief_file.to_str().unwrap()]).success();
    assert_eq!(self::record(&env, &repo, "v")["brief"], "$(touch pwned)\n");

    assert!(file_named_anywhere(env.path(), "pwned").is_none(), "the brief was executed");
}

#[test]
fn agent_command_config_and_no_agent() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.git(&repo, &["config", "agent.command", "sh -c 'echo \"$GIT_AGENT_TASK\" > agent-ran'"]);
    env.agent(&repo, &["spawn", "t"]).success();
    let wt = agents_dir(&repo).join("t");
    assert_eq!(std::fs::read_to_string(wt.join("agent-ran")).unwrap(), "t\n");
    let record = record(&env, &repo, "t");
    assert_eq!(record["agent_exit"], 0);
    assert_eq!(record["command"], serde_json::json!(["sh", "-c", "echo \"$GIT_AGENT_TASK\" > agent-ran"]));
    assert_eq!(env.git(&repo, &["log", "refs/agent/tasks/t", "--format=%s"]), "agent-exit t\nagent-start t\nspawn t\n");

    env.agent(&repo, &["spawn", "n", "--no-agent"]).success();
    assert!(!agents_dir(&repo).join("n/agent-ran").exists(), "--no-agent skips agent.command");
    assert!(self::record(&env, &repo, "n")["agent_exit"].is_null());
    assert_eq!(env.git(&repo, &["log", "refs/agent/tasks/n", "--format=%s"]), "spawn n\n");

    // `-- COMMAND` wins over agent.command.
    env.agent(&repo, &["spawn", "c", "--", "touch", "explicit"]).success();
    assert!(agents_dir(&repo).join("c/explicit").is_file());
    assert!(!agents_dir(&repo).join("c/agent-ran").exists());

    // A broken agent.command is bad input, and is noticed before the agent runs.
    env.git(&repo, &["config", "agent.command", "sh -c 'unterminated"]);
    let run = env.agent(&repo, &["spawn", "broken"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("agent.command"), "{run:#?}");
}

#[test]
fn spawn_from_an_agent_worktree() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n"), ("sub/dir/b.txt", "b\n")]);
    env.agent(&repo, &["spawn", "a"]).success();
    let wa = agents_dir(&repo).join("a");
    // Move the task branch so that spawning from it would be noticed.
    env.commit(&wa, &[("only-on-a.txt", "x\n")], "work on a");

    // From the base, not stacked on a (stacking is tested in restack.rs): what is checked
    // here is that the base is the main worktree's branch, not the current worktree's.
    let run = env.agent(&wa, &["spawn", "b", "--after", "a", "--from-base"]).success();
    assert_eq!(run.stdout.trim_end(), agents_dir(&repo).join("b").to_str().unwrap());
    let record_b = record(&env, &repo, "b");
    assert_eq!(record_b["base_ref"], "refs/heads/main", "the default base is the main worktree's branch");
    assert_eq!(record_b["after"], serde_json::json!(["a"]));
    assert!(!agents_dir(&repo).join("b/only-on-a.txt").exists());
    assert!(!wa.join("b").exists() && !agents_dir(&wa).exists(), "no nested worktree root");

    // From a subdirectory of an agent worktree too.
    let run = env.agent(&agents_dir(&repo).join("b/sub/dir"), &["spawn", "c"]).success();
    assert_eq!(run.stdout.trim_end(), agents_dir(&repo).join("c").to_str().unwrap());

    // Tasks are visible from everywhere.
    for cwd in [repo.clone(), wa.clone(), repo.join("sub/dir"), agents_dir(&repo).join("c/sub")] {
        let json = env.agent(&cwd, &["list", "--json"]).success().json();
        let names: BTreeSet<&str> =
            json["tasks"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, BTreeSet::from(["a", "b", "c"]), "from {}", cwd.display());
    }
    let table = env.agent(&wa, &["list"]).success().stdout;
    for name in ["a", "b", "c"] {
        // (`a*`: the task whose worktree we are in.)
        assert!(
            table.lines().any(|l| l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}* "))),
            "{table}"
        );
    }
    assert_eq!(assert_consistent(&env, &repo).len(), 3);
}

#[test]

fn spawn_from_a_subdirectory_of_the_main_worktree() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n"), ("sub/dir/b.txt", "b\n")]);
    let run = env.agent(&repo.join("sub/dir"), &["spawn", "c"]).success();
    assert_eq!(run.stdout.trim_end(), agents_dir(&repo).join("c").to_str().unwrap());
    assert!(!repo.join("sub/dir.agents").exists() && !repo.join("sub/dir/c").exists());
    assert_eq!(record(&env, &repo, "c")["base_ref"], "refs/heads/main");
    env.agent(&repo.join("sub"), &["spawn", "d", "--check"]).success();
    env.agent(&repo.join("sub/dir"), &["-C", "..", "spawn", "e", "--check"]).success();
    let json = env.agent(&repo.join("sub/dir"), &["list", "--json"]).success().json();
    assert_eq!(json["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(assert_consistent(&env, &repo).len(), 1);
}

fn start_spawn(env: &Env, repo: &Path, name: &str) -> std::process::Child {
    env.command("git", repo)
        .args(["agent", "spawn", name, "-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]

fn sixteen_concurrent_spawns_leave_a_consistent_state() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n"), ("src/lib.rs", "// lib\n")]);
    let mut succeeded = BTreeSet::new();
    // A few rounds, each 16 spawns at once, so that a race has a fair chance to show.
    for round in 0..3 {
        let names: Vec<String> = (0..16).map(|i| format!("r{round}t{i}")).collect();
        let children: Vec<_> = names.iter().map(|name| start_spawn(&env, &repo, name)).collect();
        let runs: Vec<(String, Run)> =
            names.iter().cloned().zip(children).map(|(n, c)| (n, Run::from(c.wait_with_output().unwrap()))).collect();
        for (name, run) in &runs {
            assert!(!run.stderr.contains("panicked"), "{run:#?}");
            if run.code == 0 {
                assert_eq!(run.stdout.trim_end(), agents_dir(&repo).join(name).to_str().unwrap());
                succeeded.insert(name.clone());
            }
        }
        // Whatever happened, the state must be consistent: no half-created task.
        let tasks = assert_consistent(&env, &repo);
        assert_eq!(tasks, succeeded, "round {round}: exactly the successful spawns exist");
        for (name, run) in &runs {
            assert!(
                run.code == 0 || run.code == 4,
                "round {round}: spawn {name} must succeed or lose cleanly: {run:#?}"
            );
        }
    }
    assert!(succeeded.len() >= 24, "most concurrent spawns of different names should succeed: {succeeded:?}");
    let json = env.agent(&repo, &["list", "--json"]).success().json();
    assert_eq!(json["tasks"].as_array().unwrap().len(), succeeded.len());
    for task in json["tasks"].as_array().unwrap() {
        assert_eq!(task["state"], "active", "{task}");
        assert_eq!(task["dirty"], false, "{task}");
        assert!(task["problems"].as_array().unwrap().is_empty(), "{task}");
    }
    env.git(&repo, &["fsck", "--no-progress"]);
}

#[test]

fn concurrent_spawns_of_one_name_have_exactly_one_winner() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    for round in 0..5 {
        let name = format!("same{round}");
        let first = start_spawn(&env, &repo, &name);
        let second = start_spawn(&env, &repo, &name);
        let runs = [Run::from(first.wait_with_output().unwrap()), Run::from(second.wait_with_output().unwrap())];
        let winners = runs.iter().filter(|r| r.code == 0).count();
        assert_eq!(winners, 1, "round {round}: exactly one spawn wins: {runs:#?}");
        let loser = runs.iter().find(|r| r.code != 0).unwrap();
        assert!(
            loser.code == 3 || loser.code == 4,
            "round {round}: the loser is refused or loses the race: {loser:#?}"
        );
        assert!(!loser.stderr.contains("panicked"), "{loser:#?}");
        let winner = runs.iter().find(|r| r.code == 0).unwrap();
        assert_eq!(winner.stdout.trim_end(), agents_dir(&repo).join(&name).to_str().unwrap());
        let tasks = assert_consistent(&env, &repo);
        assert_eq!(tasks.len(), round + 1);
        assert!(agents_dir(&repo).join(&name).join("a.txt").is_file(), "the winner's worktree is intact");
        assert_eq!(env.git(&agents_dir(&repo).join(&name), &["status", "--porcelain"]), "");
    }
}

#[test]
fn done_and_show_infer_the_task_from_the_worktree() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n"), ("src/x/y.txt", "y\n")]);
    env.agent(
        &repo,
        &["spawn", "t", "--brief", "Build the thing\nsecond line", "--scope", "src/x", "--acceptance", "it builds"],
    )
    .success();
    env.agent(&repo, &["spawn", "other", "--scope", "docs"]).success();
    let wt = agents_dir(&repo).join("t");

    for cwd in [wt.clone(), wt.join("src/x")] {
        let run = env.agent(&cwd, &["show"]).success();
        assert!(run.stdout.contains("task t\n"), "{run:#?}");
        assert!(run.stdout.contains("Build the thing") && run.stdout.contains("second line"), "{run:#?}");
        assert!(run.stdout.contains("src/x"), "scope shown: {run:#?}");
        assert!(run.stdout.contains("it builds"), "acceptance shown: {run:#?}");
        assert!(!run.stdout.contains("docs"), "another task's scope: {run:#?}");
    }
    let json = env.agent(&wt, &["show", "--json"]).success().json();
    assert_eq!(json["name"], "t");
    assert_eq!(json["brief"], "Build the thing\nsecond line");
    assert_eq!(json["scope"], serde_json::json!(["src/x"]));
    assert_eq!(json["acceptance"], serde_json::json!(["it builds"]));
    assert_eq!(json["state"], "active");
    // By name, from anywhere.
    assert_eq!(env.agent(&repo, &["show", "other", "--json"]).success().json()["name"], "other");
    // In the main worktree there is no task to infer.
    env.agent(&repo, &["show"]).code(2);
    env.agent(&repo, &["done"]).code(2);
    env.agent(&repo, &["show", "ghost"]).code(2);

    env.agent(&wt.join("src/x"), &["done"]).success();
    assert_eq!(record(&env, &repo, "t")["state"], "done");
    assert_eq!(record(&env, &repo, "other")["state"], "active", "only the current task");
    env.agent(&wt, &["done"]).success();
    assert_eq!(record(&env, &repo, "t")["state"], "done");
    assert_eq!(
        env.git(&repo, &["log", "refs/agent/tasks/t", "--format=%s"]),
        "done t\nspawn t\n",
        "done twice is one event"
    );
    assert_eq!(env.agent(&wt, &["show", "--json"]).success().json()["state"], "done");
    let json = env.agent(&repo, &["done", "other", "--json"]).success().json();
    assert_eq!(json["task"], "other");
    assert_eq!(json["state"], "done");
}

#[test]
fn an_interrupted_spawn_is_rolled_back() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.git(&repo, &["config", "agent.setup", "touch setup-started; sleep 2"]);
    let before = env.snapshot(&repo);
    let worktree = agents_dir(&repo).join("t");
    let child = env
        .command("git-agent", &repo)
        .args(["spawn", "t"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !worktree.join("setup-started").exists() {
        assert!(std::time::Instant::now() < deadline, "setup never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 130, "{run:#?}");
    assert!(run.stderr.contains("interrupted") && run.stderr.contains("rolled back"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before, "an interrupted spawn leaves nothing behind");
    assert!(!worktree.exists());
}

#[test]
fn sha256_repository_is_refused() {
    let env = Env::new();
    let repo = env.path().join("s256");
    std::fs::create_dir(&repo).unwrap();
    env.git(&repo, &["init", "-q", "--object-format=sha256"]);
    env.commit(&repo, &[("a.txt", "a\n")], "initial");
    let before = env.snapshot(&repo);
    env.agent(&repo, &["spawn", "t"]).code(3).stderr_has("sha256").stderr_has("SHA-1");
    assert_eq!(env.snapshot(&repo), before);
    assert!(!agents_dir(&repo).exists());
}

/// Packed refs (after `git gc`, or in any clone) and no configured identity: the whole
/// lifecycle still works; ref writes must not trip over each other's packed-refs lock.
#[test]
fn the_lifecycle_works_with_packed_refs_and_no_identity() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.git(&repo, &["gc", "-q"]);
    assert!(repo.join(".git/packed-refs").is_file());
    let anonymous = |args: &[&str], cwd: &std::path::Path| {
        let out = env
            .command("git", cwd)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env_remove("GIT_AUTHOR_NAME")
            .output()
            .unwrap();
        Run::from(out)
    };
    anonymous(&["agent", "spawn", "t", "-q"], &repo).success();
    let worktree = agents_dir(&repo).join("t");
    write(&worktree.join("t.txt"), "t\n");
    env.git(&worktree, &["add", "-A"]);
    env.git(&worktree, &["commit", "-q", "-m", "t"]);
    // The fixed test dates make every reflog entry months old: gc would expire spawn's entry,
    // the proof that git-agent made the branch (then prune refuses to delete it).
    env.git(&repo, &["-c", "gc.reflogExpire=never", "-c", "gc.reflogExpireUnreachable=never", "gc", "-q"]);
    anonymous(&["agent", "done", "t"], &repo).success();
    anonymous(&["agent", "conflicts"], &repo).success();
    // Records and reflogs fall back to git-agent's identity; commits on main need a real one.
    anonymous(&["agent", "integrate"], &repo).code(3).stderr_has("identity unknown");
    env.git(&repo, &["config", "agent.identity", "Bot <bot@example.com>"]);
    anonymous(&["agent", "integrate"], &repo).success();
    anonymous(&["agent", "prune"], &repo).success().stdout_has("pruned t");
    assert_eq!(env.git(&repo, &["for-each-ref", "refs/agent/tasks", "refs/heads/agent"]), "");
    assert!(repo.join("t.txt").is_file());
}
