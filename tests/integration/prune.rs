//! `git agent-prune` (also `git agent prune`): integrated tasks are removed whole; every state
//! in which removal could lose work is refused (exit 3) and leaves the task untouched;
//! `--force` archives before removing, and the archive restores; damage is cleaned up; dry runs
//! write nothing; and races with an agent committing or a spawn of the same task lose nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Duration;

use crate::common::*;
use crate::spawn::{agents_dir, assert_consistent, canonical_repo, rev};

/// A repository whose `.gitignore` ignores build output, backup notes, `.env` and `nested/`.
fn setup(env: &Env) -> PathBuf {
    canonical_repo(
        env,
        "repo",
        &[("README.md", "hello\n"), ("a.txt", "a\n"), (".gitignore", "*.log\nnotes.txt.bak\n.env\nnested/\n")],
    )
}

/// Spawns `task` (extra spawn arguments in `args`) and returns its worktree.
fn spawn(env: &Env, repo: &Path, task: &str, args: &[&str]) -> PathBuf {
    let mut all = vec!["spawn", task];
    all.extend_from_slice(args);
    env.agent(repo, &all).success();
    let worktree = agents_dir(repo).join(task);
    assert!(worktree.join(".git").is_file(), "spawn did not create {}", worktree.display());
    worktree
}

/// Runs `git agent prune <args>` in `repo`.
fn prune(env: &Env, repo: &Path, args: &[&str]) -> Run {
    let mut all = vec!["prune"];
    all.extend_from_slice(args);
    env.agent(repo, &all)
}

/// Runs git, returning whether it succeeded (for commands expected to fail, like a conflicting
/// merge). A `cwd` that has gone (a worktree pruned during a race) is a failure too.
fn git_status(env: &Env, cwd: &Path, args: &[&str]) -> bool {
    env.command("git", cwd).args(args).output().is_ok_and(|out| out.status.success())
}

fn ref_exists(env: &Env, repo: &Path, name: &str) -> bool {
    git_status(env, repo, &["rev-parse", "--verify", "-q", name])
}

fn registered(env: &Env, repo: &Path, worktree: &Path) -> bool {
    let porcelain = env.git(repo, &["worktree", "list", "--porcelain"]);
    porcelain.lines().any(|l| l.strip_prefix("worktree ") == Some(worktree.to_str().unwrap()))
}

/// The task's worktree, its registration, its branch and its record all exist.
#[track_caller]
fn assert_whole(env: &Env, repo: &Path, task: &str) {
    let worktree = agents_dir(repo).join(task);
    assert!(worktree.join(".git").is_file(), "worktree of {task} is gone");
    assert!(registered(env, repo, &worktree), "registration of {task} is gone");
    assert!(ref_exists(env, repo, &format!("refs/heads/agent/{task}")), "branch of {task} is gone");
    assert!(ref_exists(env, repo, &format!("refs/agent/tasks/{task}")), "record of {task} is gone");
}

/// Nothing of the task is left: no directory, registration, branch or record.
#[track_caller]
fn assert_gone(env: &Env, repo: &Path, task: &str) {
    let worktree = agents_dir(repo).join(task);
    assert!(!worktree.exists(), "worktree directory of {task} is still there");
    assert!(!registered(env, repo, &worktree), "registration of {task} is still there");
    assert!(!ref_exists(env, repo, &format!("refs/heads/agent/{task}")), "branch of {task} is still there");
    assert!(!ref_exists(env, repo, &format!("refs/agent/tasks/{task}")), "record of {task} is still there");
}

/// Every file below `dir` (`.git` files and directories included, by content), to prove a
/// command did not touch a worktree.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, top: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                walk(&path, top, out);
            } else {
                out.insert(path.strip_prefix(top).unwrap().to_owned(), std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Runs prune with `args`, expects exit 3 with `why` in the output, and checks that the task
/// `task` is left whole: refs, registrations and its files exactly as before.
#[track_caller]
fn assert_refused(env: &Env, repo: &Path, task: &str, args: &[&str], why: &str) -> Run {
    let worktree = agents_dir(repo).join(task);
    let before = env.snapshot(repo);
    let files_before = files(&worktree);
    let run = prune(env, repo, args).code(3);
    assert!(run.stdout.contains(&format!("refused {task}")), "{task} should be refused:\n{run:#?}");
    assert!(run.stdout.contains(why), "the refusal should say {why:?}:\n{run:#?}");
    assert_eq!(env.snapshot(repo), before, "a refused prune changed refs or worktrees");
    assert_eq!(files(&worktree), files_before, "a refused prune changed the worktree's files");
    assert_whole(env, repo, task);
    run
}

/// Commits `files` in the task worktree `worktree` and merges its branch into main (a
/// `--no-ff` merge in the main worktree, as integration would).
fn commit_and_merge(env: &Env, repo: &Path, worktree: &Path, task: &str, files: &[(&str, &str)]) {
    env.commit(worktree, files, &format!("work on {task}"));
    env.git(repo, &["merge", "-q", "--no-ff", "-m", &format!("merge {task}"), &format!("agent/{task}")]);
}

/// A repository `nested/` (ignored by `setup`'s .gitignore) inside `worktree`, with one commit
/// of `n.txt` holding `content`; returns its path.
fn nested_repository(env: &Env, worktree: &Path, content: &str) -> PathBuf {
    let nested = worktree.join("nested");
    std::fs::create_dir(&nested).unwrap();
    env.git(&nested, &["init", "-q"]);
    env.commit(&nested, &[("n.txt", content)], "nested work");
    nested
}

/// A repository `other`, and a task `t` whose commit adds it as the submodule `sub`; returns
/// `other` and the task's worktree.
fn task_with_a_submodule(env: &Env, repo: &Path) -> (PathBuf, PathBuf) {
    let other = env.repo("other", &[("lib.txt", "library\n")]);
    let worktree = spawn(env, repo, "t", &[]);
    env.git(&worktree, &["-c", "protocol.file.allow=always", "submodule", "add", "-q", other.to_str().unwrap(), "sub"]);
    env.git(&worktree, &["commit", "-q", "-m", "add a submodule"]);
    (other, worktree)
}

/// A task `t` with an unmerged commit whose worktree is then deleted by hand, and a prune of
/// it (exit 0 or 3); returns the worktree's path, the branch's tip and the prune's outcome.
#[track_caller]
fn prune_a_hand_deleted_unmerged_task(env: &Env, repo: &Path) -> (PathBuf, String, Run) {
    let worktree = spawn(env, repo, "t", &[]);
    env.commit(&worktree, &[("t.txt", "unmerged\n")], "unmerged work");
    let tip = rev(env, repo, "agent/t");
    std::fs::remove_dir_all(&worktree).unwrap();
    let run = prune(env, repo, &["t"]);
    assert!(run.code == 0 || run.code == 3, "{run:#?}");
    (worktree, tip, run)
}

/// A worktree `stray` under the worktree root that no task owns, deleted by hand: a stale
/// registration. Returns its path.
fn stray_registration(env: &Env, repo: &Path) -> PathBuf {
    let stray = agents_dir(repo).join("stray");
    env.git(repo, &["worktree", "add", "-q", "--detach", stray.to_str().unwrap()]);
    std::fs::remove_dir_all(&stray).unwrap();
    stray
}

/// Starts `git agent spawn <task>`, kills it with SIGKILL at the pause point `point`, and
/// returns the worktree path it was creating.
pub fn interrupted_spawn(env: &Env, repo: &Path, task: &str, point: &str) -> PathBuf {
    interrupted_spawn_with(env, repo, task, point, &[])
}

/// [`interrupted_spawn`] with more arguments for spawn (`--base REV`).
pub fn interrupted_spawn_with(env: &Env, repo: &Path, task: &str, point: &str, args: &[&str]) -> PathBuf {
    // A directory of its own per task, the point's own name in the variable.
    let dir = PausePoint::new(env, &format!("{point}-{task}")).dir;
    let (key, value) = ("GIT_AGENT_TEST_PAUSE", format!("{point}:{}", dir.display()));
    let child = env
        .command("git", repo)
        .args(["agent", "spawn", task])
        .args(args)
        .env(key, value)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    kill_at(&dir, point, child);
    agents_dir(repo).join(task)
}

/// Waits until the process paused at `point` (in `dir`), kills it with SIGKILL, and reaps `child`.
pub fn kill_at(dir: &Path, point: &str, mut child: std::process::Child) {
    let reached = dir.join(format!("{point}.reached"));
    let started = std::time::Instant::now();
    while !reached.exists() || std::fs::read_to_string(&reached).unwrap_or_default().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "{point} never reached");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = std::fs::read_to_string(&reached).unwrap();
    let status = std::process::Command::new("kill").args(["-9", pid.trim()]).status().unwrap();
    assert!(status.success());
    child.wait().unwrap();
}

// 1. The default: integrated tasks are removed whole.

#[test]
fn default_prunes_an_integrated_task_and_names_ignored_files() {
    let env = Env::new();
    let repo = setup(&env);
    write(&repo.join(".env"), "SECRET=1\n");
    env.git(&repo, &["config", "agent.copy", ".env"]);
    let worktree = spawn(&env, &repo, "t", &[]);
    assert!(worktree.join(".env").is_file(), "spawn copies .env in");
    env.commit(&worktree, &[("t.txt", "task work\n")], "task work");
    let tip = rev(&env, &repo, "agent/t");
    write(&worktree.join("build.log"), "compiler output\n");
    env.agent(&worktree, &["done"]).success();
    env.agent(&repo, &["integrate"]).success();
    assert!(git_status(&env, &repo, &["merge-base", "--is-ancestor", &tip, "main"]), "integrate merged the task");

    // build.log is not build output by default: a plain prune refuses, naming it.
    let run = assert_refused(&env, &repo, "t", &[], "build.log");
    assert!(run.stdout.contains("did not put there"), "{run:#?}");
    env.git(&repo, &["config", "--add", "agent.disposable", "*.log"]);
    let run = prune(&env, &repo, &[]).success();
    assert!(run.stdout.contains("pruned t"), "{run:#?}");
    assert!(run.stdout.contains("build.log"), "the ignored build.log must be named:\n{run:#?}");
    assert!(!run.stdout.contains(".env"), "spawn copied .env in: it is not worth naming:\n{run:#?}");
    assert_gone(&env, &repo, "t");
    assert!(!env.git(&repo, &["worktree", "list"]).contains(worktree.to_str().unwrap()));
    assert!(git_status(&env, &repo, &["merge-base", "--is-ancestor", &tip, "main"]), "the work is still in main");
    assert!(repo.join("README.md").is_file() && repo.join(".env").is_file(), "the main worktree is untouched");
}

/// Ignored files git-agent did not put there (hand-made notes, a local `.env.local`) make a
/// plain prune refuse; build output matching the default `agent.disposable` goes; `--force`
/// archives the precious ones.
#[test]
fn hand_made_ignored_files_are_refused_build_output_goes_and_force_archives_them() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    commit_and_merge(&env, &repo, &worktree, "t", &[(".gitignore", "*.log\nnotes.txt.bak\n.env\nnested/\ntarget/\n")]);
    write(&worktree.join("target/debug/app"), "binary\n");
    write(&worktree.join("notes.txt.bak"), "hand-made notes\n");
    let run = assert_refused(&env, &repo, "t", &["t"], "notes.txt.bak");
    let reasons = run.stdout.lines().find(|l| l.contains("did not put there")).unwrap();
    assert!(!reasons.contains("target"), "build output is not a reason to refuse:\n{run:#?}");

    std::fs::remove_file(worktree.join("notes.txt.bak")).unwrap();
    let run = prune(&env, &repo, &["--dry-run", "t"]).success();
    assert!(run.stdout.contains("would-prune t") && run.stdout.contains("target"), "{run:#?}");

    write(&worktree.join("notes.txt.bak"), "hand-made notes\n");
    let run = prune(&env, &repo, &["--force", "t"]).success();
    assert_gone(&env, &repo, "t");
    let snapshot = env.git(&repo, &["for-each-ref", "--format=%(objectname)", "refs/agent/archive/t/*/worktree"]);
    assert!(!snapshot.trim().is_empty(), "the ignored notes are archived:\n{run:#?}");
    assert_eq!(env.git(&repo, &["show", &format!("{}:notes.txt.bak", snapshot.trim())]), "hand-made notes\n");
}

/// Ignored files larger than the archive bound are listed; --force alone refuses them,
/// --discard-ignored deletes them.
#[test]
fn ignored_files_too_large_to_archive_need_discard_ignored() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    let big = worktree.join("huge.log");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(17 << 20).unwrap();
    let run = assert_refused(&env, &repo, "t", &["--force", "t"], "too large to archive");
    assert!(run.stdout.contains("huge.log"), "{run:#?}");
    prune(&env, &repo, &["--force", "--discard-ignored", "t"]).success();
    assert_gone(&env, &repo, "t");
}

#[test]
fn a_branch_merged_by_hand_counts_as_integrated_and_the_dash_form_works() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    commit_and_merge(&env, &repo, &worktree, "t", &[("t.txt", "x\n")]);
    let run = env.run(&repo, "git", &["agent-prune"]).success();
    assert!(run.stdout.contains("pruned t"), "{run:#?}");
    assert_gone(&env, &repo, "t");
}

// 2. Refusals: exit 3, the task left whole.

#[test]
fn refuses_an_uncommitted_change_to_a_tracked_file() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    write(&worktree.join("a.txt"), "edited\n");
    assert_refused(&env, &repo, "t", &["t"], "uncommitted changes");
    assert_refused(&env, &repo, "t", &["--all"], "uncommitted changes");
    // A staged change counts too.
    env.git(&worktree, &["add", "a.txt"]);
    assert_refused(&env, &repo, "t", &["t"], "uncommitted changes");
}

#[test]
fn refuses_an_untracked_file() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    write(&worktree.join("src/new.rs"), "fn main() {}\n");
    assert_refused(&env, &repo, "t", &["t"], "untracked files");
}

#[test]
fn refuses_an_untracked_file_even_when_status_hides_untracked_files() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    env.git(&repo, &["config", "status.showUntrackedFiles", "no"]);
    write(&worktree.join("new.txt"), "new\n");
    assert_eq!(env.git(&worktree, &["status", "--porcelain"]), "", "git status hides it");
    assert_refused(&env, &repo, "t", &["t"], "untracked files");
}

#[test]
fn refuses_a_branch_with_commits_not_in_main() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    env.commit(&worktree, &[("t.txt", "unmerged\n")], "unmerged work");
    assert_refused(&env, &repo, "t", &["t"], "1 commit(s) that are not in the target");
    assert_refused(&env, &repo, "t", &["--all"], "1 commit(s) that are not in the target");
    // Merged into another branch only: still not in the target.
    env.git(&repo, &["branch", "other", "agent/t"]);
    assert_refused(&env, &repo, "t", &["t"], "not in the target");
    // ... unless that branch is what "merged" means.
    let run = prune(&env, &repo, &["t", "--into", "other"]).success();
    assert!(run.stdout.contains("pruned t"), "{run:#?}");
    assert_gone(&env, &repo, "t");
}

#[test]
fn refuses_a_locked_worktree() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    env.git(&repo, &["worktree", "lock", "--reason", "on a USB stick", worktree.to_str().unwrap()]);
    let run = assert_refused(&env, &repo, "t", &["t"], "locked");
    assert!(run.stdout.contains("on a USB stick"), "the lock's reason is shown:\n{run:#?}");
    assert_refused(&env, &repo, "t", &["--all"], "locked");
}

/// A branch `side` off main that changes a.txt, and a task `t` whose commit changes a.txt too.
fn conflicting_task(env: &Env, repo: &Path) -> PathBuf {
    env.git(repo, &["branch", "side"]);
    let worktree = spawn(env, repo, "t", &[]);
    env.commit(&worktree, &[("a.txt", "task\n")], "task changes a");
    let side = repo.parent().unwrap().join("side-wt");
    env.git(repo, &["worktree", "add", "-q", side.to_str().unwrap(), "side"]);
    env.commit(&side, &[("a.txt", "side\n")], "side changes a");
    env.git(repo, &["worktree", "remove", side.to_str().unwrap()]);
    worktree
}

#[test]
fn refuses_a_merge_in_progress() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = conflicting_task(&env, &repo);
    assert!(!git_status(&env, &worktree, &["merge", "side"]), "the merge should stop on a conflict");
    assert_refused(&env, &repo, "t", &["t"], "a merge is in progress");
}

#[test]
fn refuses_a_rebase_in_progress() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    // An interactive rebase stopped at a `break`: the worktree is clean, HEAD is on main's tip.
    let out = env
        .command("git", &worktree)
        .env("GIT_SEQUENCE_EDITOR", "echo break >")
        .args(["rebase", "-i", "HEAD"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(env.git(&worktree, &["status"]).contains("rebase in progress"));
    let run = assert_refused(&env, &repo, "t", &["t"], "a rebase is in progress");
    assert!(!run.stdout.contains("uncommitted"), "the worktree is clean; only the rebase counts:\n{run:#?}");
}

#[test]
fn refuses_a_conflicting_rebase_in_progress() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = conflicting_task(&env, &repo);
    assert!(!git_status(&env, &worktree, &["rebase", "side"]), "the rebase should stop on a conflict");
    assert_refused(&env, &repo, "t", &["t"], "a rebase is in progress");
}

#[test]
fn refuses_a_cherry_pick_in_progress() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = conflicting_task(&env, &repo);
    assert!(!git_status(&env, &worktree, &["cherry-pick", "side"]), "the cherry-pick should stop on a conflict");
    assert_refused(&env, &repo, "t", &["t"], "a cherry-pick is in progress");
}

#[test]
fn refuses_a_bisect_in_progress() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    env.git(&worktree, &["bisect", "start"]);
    let run = assert_refused(&env, &repo, "t", &["t"], "a bisect is in progress");
    assert!(!run.stdout.contains("uncommitted"), "{run:#?}");
    // It is also refused when pruning by default: the task's tip is in main.
    assert_refused(&env, &repo, "t", &["--all"], "a bisect is in progress");
}

#[test]
fn refuses_a_detached_head_with_commits_on_no_branch() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    env.git(&worktree, &["checkout", "-q", "--detach"]);
    env.commit(&worktree, &[("detached.txt", "on no branch\n")], "detached work");
    let head = rev(&env, &worktree, "HEAD");
    let run = assert_refused(&env, &repo, "t", &["t"], "detached");
    assert!(run.stdout.contains(&head[..7]), "the commit is named:\n{run:#?}");
    assert_refused(&env, &repo, "t", &["--all"], "detached");

    // A detached HEAD on a commit that a branch has is fine.
    env.git(&worktree, &["checkout", "-q", "--detach", "main"]);
    env.git(&repo, &["branch", "keep", &head]);
    prune(&env, &repo, &["t"]).success();
    assert_gone(&env, &repo, "t");
    assert_eq!(rev(&env, &repo, "keep"), head);
}

#[test]
fn refuses_a_nested_repository() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    nested_repository(&env, &worktree, "work in a nested repository\n");
    assert_eq!(env.git(&worktree, &["status", "--porcelain"]), "", "nested/ is ignored, not untracked");
    let run = assert_refused(&env, &repo, "t", &["t"], "nested repository");
    assert!(!run.stdout.contains("uncommitted"), "only the nested repository counts:\n{run:#?}");
    assert_refused(&env, &repo, "t", &["--all"], "nested repository");
}

#[test]
fn refuses_an_initialised_submodule() {
    let env = Env::new();
    let repo = setup(&env);
    task_with_a_submodule(&env, &repo);
    // Integrated, so that the submodule is the only thing that could be lost.
    env.git(&repo, &["merge", "-q", "--no-ff", "-m", "merge t", "agent/t"]);
    let run = assert_refused(&env, &repo, "t", &["t"], "submodule");
    assert!(!run.stdout.contains("not in the target"), "{run:#?}");
    assert_refused(&env, &repo, "t", &["--all"], "submodule");
}

// 3. --force archives first, and the archive restores.

#[test]
fn force_archives_commits_edits_and_untracked_files_and_the_archive_restores() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    env.commit(&worktree, &[("committed.txt", "committed, never merged\n")], "unmerged work");
    let tip = rev(&env, &repo, "agent/t");
    let record = rev(&env, &repo, "refs/agent/tasks/t");
    write(&worktree.join("a.txt"), "edited, not committed\n");
    write(&worktree.join("untracked.txt"), "never added\n");

    let run = prune(&env, &repo, &["--force", "t"]).success();
    assert!(run.stdout.contains("pruned t"), "{run:#?}");
    assert!(run.stdout.contains("refs/agent/archive/t/"), "the archive refs are named:\n{run:#?}");
    assert_gone(&env, &repo, "t");

    let archived = env.git(&repo, &["for-each-ref", "--format=%(refname) %(objectname)", "refs/agent/archive"]);
    let archived: BTreeMap<String, String> = archived
        .lines()
        .map(|l| {
            let (name, id) = l.split_once(' ').unwrap();
            (name.to_owned(), id.to_owned())
        })
        .collect();
    let suffix = |s: &str| {
        let (n, id) =
            archived.iter().find(|(n, _)| n.ends_with(s)).unwrap_or_else(|| panic!("no {s} in {archived:#?}"));
        (n.clone(), id.clone())
    };
    let (branch_ref, branch) = suffix("/branch");
    let (worktree_ref, snapshot) = suffix("/worktree");
    let (record_ref, archived_record) = suffix("/record");
    for name in [&branch_ref, &worktree_ref, &record_ref] {
        assert!(name.starts_with("refs/agent/archive/t/"), "{name}");
        assert!(run.stdout.contains(name.as_str()), "{name} is named in the output:\n{run:#?}");
    }
    let stamp = branch_ref.trim_start_matches("refs/agent/archive/t/").trim_end_matches("/branch");
    assert_eq!(worktree_ref, format!("refs/agent/archive/t/{stamp}/worktree"));
    assert_eq!(branch, tip, "/branch is the old tip");
    assert_eq!(archived_record, record, "/record is the old record");
    assert!(git_status(&env, &repo, &["merge-base", "--is-ancestor", &tip, &snapshot]), "the snapshot sits on the tip");
    assert_eq!(env.git(&repo, &["show", &format!("{snapshot}:a.txt")]), "edited, not committed\n");
    assert_eq!(env.git(&repo, &["show", &format!("{snapshot}:untracked.txt")]), "never added\n");
    assert_eq!(env.git(&repo, &["show", &format!("{snapshot}:committed.txt")]), "committed, never merged\n");

    let restore = format!("restore with: git agent spawn t-restored --base {worktree_ref}");
    assert!(run.stdout.contains(&restore), "the restore command is printed:\n{run:#?}");
    let restored = spawn(&env, &repo, "t-restored", &["--base", &worktree_ref]);
    assert_eq!(std::fs::read_to_string(restored.join("a.txt")).unwrap(), "edited, not committed\n");
    assert_eq!(std::fs::read_to_string(restored.join("untracked.txt")).unwrap(), "never added\n");
    assert_eq!(std::fs::read_to_string(restored.join("committed.txt")).unwrap(), "committed, never merged\n");
}

#[test]
fn force_archives_a_detached_head() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    env.git(&worktree, &["checkout", "-q", "--detach"]);
    env.commit(&worktree, &[("d.txt", "detached\n")], "detached work");
    let head = rev(&env, &worktree, "HEAD");
    let run = prune(&env, &repo, &["--force", "t"]).success();
    assert_gone(&env, &repo, "t");
    let heads = env.git(&repo, &["for-each-ref", "--format=%(refname) %(objectname)", "refs/agent/archive/t/"]);
    let line = heads.lines().find(|l| l.split(' ').next().unwrap().ends_with("/head")).unwrap_or_else(|| {
        panic!("no /head archived:\n{heads}\n{run:#?}");
    });
    assert!(line.ends_with(&head), "/head is the detached commit: {line}");
}

#[test]
fn force_removes_a_locked_worktree_after_archiving() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    env.git(&repo, &["worktree", "lock", worktree.to_str().unwrap()]);
    prune(&env, &repo, &["--force", "t"]).success();
    assert_gone(&env, &repo, "t");
    assert!(!env.git(&repo, &["for-each-ref", "refs/agent/archive/t/"]).is_empty(), "the record is archived");
}

#[test]
fn force_saves_the_commits_of_a_nested_repository() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    let nested = nested_repository(&env, &worktree, "precious nested work\n");
    let commit = rev(&env, &nested, "HEAD");
    let run = prune(&env, &repo, &["--force", "t"]);
    // Either it is still there, or it was saved somewhere the archive leads to.
    let kept = git_status(&env, &nested, &["cat-file", "-e", &commit]);
    let archived = env.git(&repo, &["for-each-ref", "--format=%(refname)", "refs/agent/archive/t/"]);
    let saved = archived.lines().any(|r| {
        let out = env.command("git", &repo).args(["grep", "-q", "precious nested work", r]).output().unwrap();
        out.status.success() || git_status(&env, &repo, &["merge-base", "--is-ancestor", &commit, r])
    });
    assert!(kept || saved, "the nested repository's commit {commit} is gone and not archived:\n{run:#?}");
}

#[test]
fn force_saves_commits_made_inside_a_submodule() {
    let env = Env::new();
    let repo = setup(&env);
    let (other, worktree) = task_with_a_submodule(&env, &repo);
    env.commit(&worktree.join("sub"), &[("p.txt", "precious submodule work\n")], "work inside the submodule");
    let commit = rev(&env, &worktree.join("sub"), "HEAD");
    let run = prune(&env, &repo, &["--force", "t"]);
    let in_other = git_status(&env, &other, &["cat-file", "-e", &commit]);
    let in_repo = git_status(&env, &repo, &["cat-file", "-e", &commit]);
    let sub_left =
        worktree.join("sub").exists() && git_status(&env, &worktree.join("sub"), &["cat-file", "-e", &commit]);
    assert!(in_other || in_repo || sub_left, "the submodule commit {commit} is gone and not archived:\n{run:#?}");
}

#[test]
fn refuses_a_worktree_path_that_is_a_link_and_force_never_deletes_through_it() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    let elsewhere = env.path().join("elsewhere");
    std::fs::rename(&worktree, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &worktree).unwrap();
    write(&elsewhere.join("outside.txt"), "not under the worktree root\n");
    let before = env.snapshot(&repo);
    let files_before = files(&elsewhere);
    let run = prune(&env, &repo, &["t"]).code(3);
    assert!(run.stdout.contains("is a link"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before);
    assert_eq!(files(&elsewhere), files_before);

    prune(&env, &repo, &["--force", "t"]).success();
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("outside.txt")).unwrap(),
        "not under the worktree root\n",
        "--force followed the link out of the worktree root"
    );
}

// 4. Cleanup after damage.

#[test]
fn a_hand_deleted_worktree_of_a_merged_task_is_cleaned_up_completely() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    commit_and_merge(&env, &repo, &worktree, "t", &[("t.txt", "merged\n")]);
    std::fs::remove_dir_all(&worktree).unwrap();
    assert!(registered(&env, &repo, &worktree));
    prune(&env, &repo, &["t"]).success();
    assert_gone(&env, &repo, "t");
}

#[test]
fn a_hand_deleted_worktree_keeps_its_unmerged_branch() {
    let env = Env::new();
    let repo = setup(&env);
    let (worktree, tip, _) = prune_a_hand_deleted_unmerged_task(&env, &repo);
    assert_eq!(rev(&env, &repo, "refs/heads/agent/t"), tip, "the unmerged branch survives");
    assert!(!worktree.exists());
}

/// Exit 3 means nothing was changed: a refused task keeps even the registration of its
/// hand-deleted worktree.
#[test]
fn a_refused_hand_deleted_worktree_keeps_its_registration() {
    let env = Env::new();
    let repo = setup(&env);
    let (worktree, tip, run) = prune_a_hand_deleted_unmerged_task(&env, &repo);
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(registered(&env, &repo, &worktree), "a refused prune changed nothing:\n{run:#?}");
    assert_eq!(rev(&env, &repo, "refs/heads/agent/t"), tip, "the unmerged branch survives");
    // --force archives the branch and then removes the registration too.
    prune(&env, &repo, &["--force", "t"]).success();
    assert!(!registered(&env, &repo, &worktree));
    let archived = env.git(&repo, &["for-each-ref", "--format=%(objectname)", "refs/agent/archive/t/*/branch"]);
    assert_eq!(archived.trim(), tip);
}

#[test]
fn stale_registrations_and_interrupted_spawns_are_cleaned_up_other_branches_kept() {
    let env = Env::new();
    let repo = setup(&env);
    let stray = stray_registration(&env, &repo);
    let left = interrupted_spawn(&env, &repo, "left", "spawn-worktree-added");
    // Branches git-agent did not create, one merged, one with a commit of its own: never deleted.
    env.git(&repo, &["branch", "agent/by-hand"]);
    let side = repo.parent().unwrap().join("side-wt");
    env.git(&repo, &["worktree", "add", "-q", "-b", "agent/orphan-work", side.to_str().unwrap()]);
    env.commit(&side, &[("w.txt", "work\n")], "orphan work");
    env.git(&repo, &["worktree", "remove", side.to_str().unwrap()]);
    let work = rev(&env, &repo, "agent/orphan-work");

    let run = prune(&env, &repo, &[]).success();
    assert!(run.stdout.contains("stale worktree registration"), "{run:#?}");
    assert!(run.stdout.contains("agent/left"), "{run:#?}");
    assert!(run.stderr.contains("agent/orphan-work") && run.stderr.contains("agent/by-hand"), "{run:#?}");
    assert!(!registered(&env, &repo, &stray));
    assert!(!ref_exists(&env, &repo, "refs/heads/agent/left") && !left.exists(), "{run:#?}");
    assert!(ref_exists(&env, &repo, "refs/heads/agent/by-hand"), "a hand-made branch is kept");
    assert_eq!(rev(&env, &repo, "refs/heads/agent/orphan-work"), work, "a branch with unmerged work is kept");
}

// 5. Dry runs.

#[test]
fn dry_run_writes_nothing_and_says_what_it_would_do() {
    let env = Env::new();
    let repo = setup(&env);
    let done = spawn(&env, &repo, "done", &[]);
    commit_and_merge(&env, &repo, &done, "done", &[("done.txt", "merged\n")]);
    write(&done.join("build.log"), "output\n");
    env.git(&repo, &["config", "agent.disposable", "*.log"]);
    let dirty = spawn(&env, &repo, "dirty", &[]);
    env.commit(&dirty, &[("dirty.txt", "unmerged\n")], "unmerged");
    write(&dirty.join("a.txt"), "edited\n");

    let before = env.snapshot(&repo);
    let files_before = (files(&done), files(&dirty));

    let run = prune(&env, &repo, &["--dry-run"]).success();
    assert!(run.stdout.contains("would-prune done"), "{run:#?}");
    assert!(run.stdout.contains("would remove ignored build output") && run.stdout.contains("build.log"), "{run:#?}");
    assert!(!run.stdout.contains("dirty"), "dirty is not integrated, so not considered:\n{run:#?}");

    let run = prune(&env, &repo, &["--dry-run", "--all"]).code(3);
    assert!(run.stdout.contains("would-prune done"), "{run:#?}");
    assert!(run.stdout.contains("would-refuse dirty"), "{run:#?}");
    assert!(run.stdout.contains("uncommitted changes"), "{run:#?}");

    let run = prune(&env, &repo, &["--dry-run", "--all", "--force", "--json"]).success();
    let json = run.json();
    assert_eq!(json["dry_run"], true);
    let tasks = json["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{json:#}");
    for task in tasks {
        assert_eq!(task["action"], "would-prune", "{json:#}");
        assert_eq!(task["archived"], serde_json::json!([]), "a dry run archives nothing: {json:#}");
        assert_eq!(task["removed"], serde_json::json!({"worktree": false, "branch": false, "record": false}));
    }

    assert_eq!(env.snapshot(&repo), before, "a dry run changed refs or worktrees");
    assert_eq!((files(&done), files(&dirty)), files_before, "a dry run changed files");
    assert!(env.git(&repo, &["for-each-ref", "refs/agent/archive"]).is_empty(), "a dry run archives nothing");
    assert_whole(&env, &repo, "done");
    assert_whole(&env, &repo, "dirty");
}

#[test]
fn dry_run_leaves_damage_alone() {
    let env = Env::new();
    let repo = setup(&env);
    stray_registration(&env, &repo);
    interrupted_spawn(&env, &repo, "orphan", "spawn-worktree-added");
    let before = env.snapshot(&repo);
    let admin = files(&repo.join(".git/worktrees"));
    let run = prune(&env, &repo, &["--dry-run"]).success();
    assert!(run.stdout.contains("stray") && run.stdout.contains("agent/orphan"), "{run:#?}");
    assert_eq!(env.snapshot(&repo), before);
    assert_eq!(files(&repo.join(".git/worktrees")), admin, "a dry run removed a registration");
}

#[test]
fn dry_run_says_would_for_damage_cleanup() {
    let env = Env::new();
    let repo = setup(&env);
    stray_registration(&env, &repo);
    interrupted_spawn(&env, &repo, "orphan", "spawn-branch-created");
    let run = prune(&env, &repo, &["--dry-run"]).success();
    assert!(!run.stdout.contains("removed"), "nothing was removed in a dry run:\n{run:#?}");
    assert!(run.stdout.contains("would remove"), "{run:#?}");
}

// 6. Races.

/// One run of `git-agent-prune` during a race: exit code, output, and whether the task's
/// worktree still existed right after it (only prune removes it, so a run that found it
/// there and left it gone removed it).
struct PruneRun {
    code: i32,
    output: String,
    worktree_before: bool,
    worktree_after: bool,
}

/// One round of the commit race on task `task`.
struct CommitRound {
    task: String,
    worktree: PathBuf,
    committed: Vec<String>,
    runs: Vec<PruneRun>,
}

/// Rounds of: an agent commits in its worktree and, after each commit, "integrates" it by
/// moving the target branch to it, so the task becomes prunable again; meanwhile
/// `git-agent-prune <task>` runs again and again, starting a little later each round.
fn commit_race(env: &Env, repo: &Path, rounds: u64) -> Vec<CommitRound> {
    env.git(repo, &["branch", "target"]);
    let mut out = Vec::new();
    for round in 0..rounds {
        let task = format!("t{round}");
        let worktree = spawn(env, repo, &task, &["--base", "target"]);
        let branch = format!("refs/heads/agent/{task}");
        let committed = Mutex::new(Vec::<String>::new());
        let agent_done = AtomicBool::new(false);
        let runs = Mutex::new(Vec::<PruneRun>::new());
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..12 {
                    let message = format!("{task} commit {i}");
                    if std::fs::write(worktree.join(format!("{task}-{i}.txt")), format!("{i}\n")).is_err() {
                        break;
                    }
                    let ok = git_status(env, &worktree, &["add", "-A"])
                        && git_status(env, &worktree, &["commit", "-q", "-m", &message]);
                    if ok {
                        committed.lock().unwrap().push(message);
                        let out = env.command("git", repo).args(["rev-parse", &branch]).output().unwrap();
                        if out.status.success() {
                            let id = String::from_utf8(out.stdout).unwrap();
                            git_status(env, repo, &["update-ref", "refs/heads/target", id.trim()]);
                        }
                    } else if !worktree.exists() {
                        break;
                    }
                }
                agent_done.store(true, Ordering::SeqCst);
            });
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(round * 4));
                while !agent_done.load(Ordering::SeqCst) {
                    let worktree_before = worktree.exists();
                    let run = env.run(repo, "git-agent-prune", &[&task]);
                    let worktree_after = worktree.exists();
                    let stop = run.code == 0 || run.code == 2;
                    let output = format!("{}{}", run.stdout, run.stderr);
                    runs.lock().unwrap().push(PruneRun { code: run.code, output, worktree_before, worktree_after });
                    if stop {
                        break;
                    }
                }
            });
        });
        out.push(CommitRound {
            task,
            worktree,
            committed: committed.into_inner().unwrap(),
            runs: runs.into_inner().unwrap(),
        });
    }
    out
}

/// Pruning while the agent commits never loses a commit: every commit the agent made is still
/// reachable, and if the worktree went, its last commit is on a branch.
#[test]
fn pruning_while_the_agent_commits_never_loses_a_commit() {
    let env = Env::new();
    let repo = setup(&env);
    let rounds = commit_race(&env, &repo, 8);
    let reachable = env.git(&repo, &["log", "--all", "--format=%H %s"]);
    let hash_of = |message: &str| {
        reachable.lines().find(|l| l.ends_with(message)).map(|l| l.split(' ').next().unwrap().to_owned())
    };
    let mut summary = Vec::new();
    for round in &rounds {
        let task = &round.task;
        for run in &round.runs {
            assert!(
                [0, 3, 4].contains(&run.code),
                "{task}: prune exited {} during the race:\n{}",
                run.code,
                run.output
            );
        }
        for message in &round.committed {
            assert!(hash_of(message).is_some(), "{task}: the commit {message:?} is lost");
        }
        if !round.worktree.exists()
            && let Some(last) = round.committed.last()
        {
            let hash = hash_of(last).unwrap();
            let holders = env.git(&repo, &["for-each-ref", "--contains", &hash, "refs/heads"]);
            assert!(!holders.is_empty(), "{task}: the worktree is gone and {last:?} is on no branch");
        }
        let exits: Vec<i32> = round.runs.iter().map(|r| r.code).collect();
        summary.push(format!("{task}: {} commit(s), prune exits {exits:?}", round.committed.len()));
    }
    // Not an assertion: how the rounds interleaved, for whoever reads the log.
    eprintln!("{}", summary.join("\n"));
}

/// The same race, checking the exit-status contract: a prune that does not succeed (here: it
/// lost the race to a commit) has changed nothing, so the task is left whole. Probabilistic:
/// it passes when no round happens to hit the window.
#[test]
fn a_prune_that_loses_the_race_to_a_commit_leaves_the_task_whole() {
    let env = Env::new();
    let repo = setup(&env);
    for round in commit_race(&env, &repo, 8) {
        for run in &round.runs {
            if run.code != 0 && run.worktree_before {
                assert!(
                    run.worktree_after,
                    "{}: prune exited {} but removed the worktree {}:\n{}",
                    round.task,
                    run.code,
                    round.worktree.display(),
                    run.output
                );
            }
        }
        let whole = ref_exists(&env, &repo, &format!("refs/agent/tasks/{}", round.task));
        if whole {
            assert_whole(&env, &repo, &round.task);
        } else {
            assert_gone(&env, &repo, &round.task);
        }
    }
}

/// Rounds of: an integrated task `t` exists; `git agent prune t` starts, and `git agent spawn t`
/// is tried again and again until it wins or the prune has finished. Afterwards `t` exists
/// completely (record, branch, worktree) or not at all.
#[test]
fn pruning_while_a_spawn_of_the_same_task_runs_never_leaves_half_a_task() {
    let env = Env::new();
    let repo = setup(&env);
    let mut spawned_new = 0;
    for round in 0..10 {
        if !ref_exists(&env, &repo, "refs/agent/tasks/t") {
            let worktree = spawn(&env, &repo, "t", &[]);
            commit_and_merge(&env, &repo, &worktree, "t", &[(&format!("r{round}.txt"), "work\n")]);
        }
        let prune_done = AtomicBool::new(false);
        let barrier = Barrier::new(2);
        let (pruned, spawns) = std::thread::scope(|s| {
            let pruner = s.spawn(|| {
                barrier.wait();
                let run = prune(&env, &repo, &["t"]);
                prune_done.store(true, Ordering::SeqCst);
                run
            });
            let spawner = s.spawn(|| {
                barrier.wait();
                let mut spawns = Vec::new();
                while !prune_done.load(Ordering::SeqCst) {
                    let run = env.agent(&repo, &["spawn", "t"]);
                    let won = run.code == 0;
                    spawns.push(run);
                    if won {
                        break;
                    }
                }
                spawns
            });
            (pruner.join().unwrap(), spawner.join().unwrap())
        });
        assert!([0, 3, 4].contains(&pruned.code), "round {round}: {pruned:#?}");
        for run in &spawns {
            assert!([0, 3, 4].contains(&run.code), "round {round}: {run:#?}");
        }
        let tasks = assert_consistent(&env, &repo);
        if spawns.last().is_some_and(|r| r.code == 0) {
            spawned_new += 1;
            assert!(tasks.contains("t"), "round {round}: the new t was removed\n{pruned:#?}\n{spawns:#?}");
            assert_whole(&env, &repo, "t");
        }
    }
    // Not an assertion: how often a spawn got in while the prune ran.
    eprintln!("a concurrent spawn of t succeeded in {spawned_new} of 10 rounds");
}

/// Rounds of: `git agent prune` (no names: it also cleans up branches no record owns) and a
/// spawn of a new task, started a little later each round. The new task is never cut in half.
/// Probabilistic: the window (the spawn has created its branch but not yet registered its
/// worktree) is hit in a few percent of rounds.
#[test]
fn default_prune_never_cuts_a_spawn_in_progress_in_half() {
    let env = Env::new();
    let repo = setup(&env);
    for round in 0..80u64 {
        let task = format!("n{round}");
        let barrier = Barrier::new(2);
        let (pruned, spawned) = std::thread::scope(|s| {
            let pruner = s.spawn(|| {
                barrier.wait();
                prune(&env, &repo, &[])
            });
            let spawner = s.spawn(|| {
                barrier.wait();
                std::thread::sleep(Duration::from_millis(round % 16));
                env.agent(&repo, &["spawn", &task])
            });
            (pruner.join().unwrap(), spawner.join().unwrap())
        });
        assert!([0, 3, 4].contains(&pruned.code), "round {round}: {pruned:#?}");
        assert!([0, 3, 4].contains(&spawned.code), "round {round}: {spawned:#?}");
        if ref_exists(&env, &repo, &format!("refs/agent/tasks/{task}")) {
            assert!(
                ref_exists(&env, &repo, &format!("refs/heads/agent/{task}")),
                "round {round}: {task} has a record but its branch was deleted\n{pruned:#?}\n{spawned:#?}"
            );
        }
        assert_consistent(&env, &repo);
    }
}

// 7. Bad input and nothing to do.

#[test]
fn an_unknown_or_invalid_task_is_bad_input_and_changes_nothing() {
    let env = Env::new();
    let repo = setup(&env);
    let worktree = spawn(&env, &repo, "t", &[]);
    commit_and_merge(&env, &repo, &worktree, "t", &[("t.txt", "merged\n")]);
    let before = env.snapshot(&repo);
    prune(&env, &repo, &["nosuch"]).code(2).stderr_has("no task named \"nosuch\"");
    // Naming an unknown task next to a prunable one removes neither.
    prune(&env, &repo, &["t", "nosuch"]).code(2);
    prune(&env, &repo, &["bad..name"]).code(2);
    prune(&env, &repo, &["--merged-into", "no-such-rev", "t"]).code(2);
    assert_eq!(env.snapshot(&repo), before);
    assert_whole(&env, &repo, "t");
}

#[test]
fn nothing_integrated_is_a_friendly_success() {
    let env = Env::new();
    let repo = setup(&env);
    let run = prune(&env, &repo, &[]).success();
    assert!(run.stderr.contains("nothing to prune"), "{run:#?}");
    assert_eq!(run.stdout, "");

    let worktree = spawn(&env, &repo, "t", &[]);
    env.commit(&worktree, &[("t.txt", "unmerged\n")], "unmerged");
    let before = env.snapshot(&repo);
    let run = prune(&env, &repo, &[]).success();
    assert!(run.stderr.contains("nothing to prune"), "{run:#?}");
    assert_eq!(run.stdout, "", "{run:#?}");
    assert_eq!(env.snapshot(&repo), before);
    assert_whole(&env, &repo, "t");
}

#[test]
fn default_prune_leaves_a_freshly_spawned_task_alone() {
    let env = Env::new();
    let repo = setup(&env);
    spawn(&env, &repo, "fresh", &[]);
    let run = prune(&env, &repo, &[]).success();
    assert!(!run.stdout.contains("pruned fresh"), "an agent may be starting in it right now:\n{run:#?}");
    assert!(run.stderr.contains("nothing to prune"), "{run:#?}");
    assert_whole(&env, &repo, "fresh");
}
