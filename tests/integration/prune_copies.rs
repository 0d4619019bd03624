//! Two ways plain `prune` lost work: an ignored file matching spawn's copy patterns
//! (`agent.copy`, `.worktreeinclude`, `agent.link`) counted as spawn's copy whatever it held,
//! and a task branch that was the last ref to its commits counted as merged into its base
//! commit. Only an identical copy goes without asking; the last ref to a commit is never
//! deleted without an archive.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::prune::interrupted_spawn_with;
use crate::prune_guard::{ref_exists, spawn};
use crate::spawn::{agents_dir, canonical_repo, rev};

/// A repository whose `.env*` files are ignored and copied into new worktrees; the main
/// worktree has a `.env`.
fn env_copying_repo(env: &Env) -> PathBuf {
    let repo = canonical_repo(env, "repo", &[(".gitignore", ".env*\n"), ("a.txt", "a\n")]);
    write(&repo.join(".env"), "SECRET=main\n");
    env.git(&repo, &["config", "agent.copy", ".env*"]);
    repo
}

/// The precious ignored files the refusal names.
fn precious(run: &Run) -> Vec<String> {
    let line = run.stdout.lines().find_map(|l| l.split_once("did not put there: ")).map_or("", |(_, names)| names);
    let names = line.split(" (agent.disposable").next().unwrap_or_default();
    names.split(", ").filter(|n| !n.is_empty()).map(str::to_owned).collect()
}

/// The only archive ref of `task` ending in `kind` (`worktree`, `branch`).
fn archive_ref(env: &Env, repo: &Path, task: &str, kind: &str) -> String {
    let pattern = format!("refs/agent/archive/{task}/*/{kind}");
    let refs = env.git(repo, &["for-each-ref", "--format=%(refname)", &pattern]);
    let mut lines = refs.lines();
    let (Some(only), None) = (lines.next(), lines.next()) else { panic!("one archive ref {pattern}: {refs:?}") };
    only.to_owned()
}

#[test]
fn a_hand_made_file_matching_agent_copy_is_refused_and_force_archives_it() {
    let env = Env::new();
    let repo = env_copying_repo(&env);
    let worktree = spawn(&env, &repo, "t");
    assert!(worktree.join(".env").is_file(), "spawn copies .env in");
    write(&worktree.join(".env.local"), "SECRET=handmade\n");

    let run = env.agent(&repo, &["prune", "t"]).code(3).stdout_has("refused t");
    assert_eq!(precious(&run), [".env.local"], "the unedited copy .env is spawn's:\n{run:#?}");
    assert_eq!(std::fs::read_to_string(worktree.join(".env.local")).unwrap(), "SECRET=handmade\n");
    assert!(ref_exists(&env, &repo, "agent/t"));

    env.agent(&repo, &["prune", "--force", "t"]).success().stdout_has("pruned t");
    assert!(!worktree.exists());
    let archived = archive_ref(&env, &repo, "t", "worktree");
    assert_eq!(env.git(&repo, &["show", &format!("{archived}:.env.local")]), "SECRET=handmade\n");
    assert_eq!(std::fs::read_to_string(repo.join(".env")).unwrap(), "SECRET=main\n", "the original stays");
}

#[test]
fn a_copy_the_agent_edited_is_refused_and_an_unedited_one_goes_quietly() {
    let env = Env::new();
    let repo = env_copying_repo(&env);
    let worktree = spawn(&env, &repo, "t");
    write(&worktree.join(".env"), "SECRET=edited\n");
    let run = env.agent(&repo, &["prune", "t"]).code(3);
    assert_eq!(precious(&run), [".env"], "{run:#?}");
    assert_eq!(std::fs::read_to_string(worktree.join(".env")).unwrap(), "SECRET=edited\n");

    // Same size, other bytes: the sizes alone do not make a copy.
    write(&worktree.join(".env"), "SECRET=mine\n");
    env.agent(&repo, &["prune", "t"]).code(3).stdout_has("did not put there: .env");

    write(&worktree.join(".env"), "SECRET=main\n");
    let run = env.agent(&repo, &["prune", "t"]).success().stdout_has("pruned t");
    assert!(!run.stdout.contains(".env"), "spawn's copy is not worth naming:\n{run:#?}");
    assert!(!worktree.exists() && !ref_exists(&env, &repo, "agent/t"));
}

#[test]
fn a_copied_directory_holding_a_hand_made_file_is_refused() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[(".gitignore", "secrets/\n"), ("a.txt", "a\n")]);
    write(&repo.join("secrets/key"), "main key\n");
    env.git(&repo, &["config", "agent.copy", "secrets"]);
    let worktree = spawn(&env, &repo, "t");
    assert!(worktree.join("secrets/key").is_file(), "spawn copies the directory in");
    write(&worktree.join("secrets/new-key"), "made by the agent\n");
    env.agent(&repo, &["prune", "t"]).code(3).stdout_has("did not put there: secrets");
    assert!(worktree.join("secrets/new-key").is_file());

    std::fs::remove_file(worktree.join("secrets/new-key")).unwrap();
    env.agent(&repo, &["prune", "t"]).success().stdout_has("pruned t");
    assert!(!worktree.exists());
}

#[test]
fn a_file_written_after_spawn_matching_worktreeinclude_is_refused() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[(".gitignore", "*.log\n"), (".worktreeinclude", "*.log\n")]);
    write(&repo.join("main.log"), "copied\n");
    let worktree = spawn(&env, &repo, "t");
    assert!(worktree.join("main.log").is_file(), "spawn copies what .worktreeinclude names");
    write(&worktree.join("notes.log"), "the agent's notes\n");

    let run = env.agent(&repo, &["prune", "t"]).code(3);
    assert_eq!(precious(&run), ["notes.log"], "{run:#?}");
    assert!(worktree.join("notes.log").is_file());

    std::fs::remove_file(worktree.join("notes.log")).unwrap();
    let run = env.agent(&repo, &["prune", "t"]).success();
    assert!(!run.stdout.contains("main.log"), "spawn's copy is not worth naming:\n{run:#?}");
    assert!(!worktree.exists());
}

#[test]
fn a_link_at_an_agent_link_path_to_elsewhere_is_not_spawns() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[(".gitignore", "/node_modules\n"), ("a.txt", "a\n")]);
    write(&repo.join("node_modules/pkg/index.js"), "1\n");
    env.git(&repo, &["config", "agent.link", "node_modules"]);
    let worktree = spawn(&env, &repo, "t");
    let link = worktree.join("node_modules");
    let elsewhere = env.path().join("elsewhere");
    write(&elsewhere.join("x"), "x\n");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    env.agent(&repo, &["prune", "t"]).code(3).stdout_has("did not put there: node_modules");

    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(repo.join("node_modules"), &link).unwrap();
    env.agent(&repo, &["prune", "t"]).success().stdout_has("pruned t");
    assert!(!worktree.exists() && repo.join("node_modules/pkg/index.js").is_file());
}

/// Task `t` with ignored work, pruned with --force (archived); `r` spawned from that archive,
/// which is then dropped: agent/r is the only ref to the archived commit. Returns the commit.
fn task_on_a_dropped_archive(env: &Env, repo: &Path) -> String {
    let worktree = spawn(env, repo, "t");
    write(&worktree.join("notes.txt"), "WORK\n");
    env.agent(repo, &["prune", "--force", "t"]).success();
    let archived = archive_ref(env, repo, "t", "worktree");
    env.agent(repo, &["spawn", "r", "-q", "--base", &archived]).success();
    env.agent(repo, &["archive", "drop", "t"]).success();
    rev(env, repo, "agent/r")
}

#[test]
fn a_task_branch_that_is_the_last_ref_to_its_commit_is_refused_and_force_archives_it() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let commit = task_on_a_dropped_archive(&env, &repo);
    assert_eq!(env.git(&repo, &["for-each-ref", "--contains", &commit, "--format=%(refname)"]), "refs/heads/agent/r\n");

    let run = env.agent(&repo, &["prune", "r"]).code(3).stdout_has("refused r");
    assert!(run.stdout.contains("branch agent/r has commits no other branch or tag has"), "{run:#?}");
    assert_eq!(rev(&env, &repo, "agent/r"), commit, "the branch stays");
    assert!(agents_dir(&repo).join("r").exists());
    env.agent(&repo, &["prune", "--dry-run", "r"]).code(3).stdout_has("would-refuse r");

    env.agent(&repo, &["prune", "--force", "r"]).success().stdout_has("pruned r");
    assert!(!ref_exists(&env, &repo, "agent/r"));
    assert_eq!(rev(&env, &repo, &archive_ref(&env, &repo, "r", "branch")), commit, "the archive keeps the commit");
}

#[test]
fn a_task_from_a_commit_another_ref_keeps_prunes_quietly() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    spawn(&env, &repo, "fresh");
    env.agent(&repo, &["prune", "fresh"]).success().stdout_has("pruned fresh");
    // A commit, not a branch, as the base: the fallback target is the base commit, which main keeps.
    let main = rev(&env, &repo, "main");
    env.agent(&repo, &["spawn", "detached", "-q", "--base", &main]).success();
    env.agent(&repo, &["prune", "detached"]).success().stdout_has("pruned detached");
    // A tag keeps it too.
    env.commit(&repo, &[("b.txt", "b\n")], "b");
    env.git(&repo, &["tag", "v1", "main"]);
    env.git(&repo, &["reset", "-q", "--hard", "HEAD~1"]);
    env.agent(&repo, &["spawn", "tagged", "-q", "--base", "v1"]).success();
    env.agent(&repo, &["prune", "tagged"]).success().stdout_has("pruned tagged");
    assert!(!ref_exists(&env, &repo, "agent/tagged"));
}

#[test]
fn an_interrupted_spawns_branch_that_is_the_last_ref_to_its_commit_is_kept() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let worktree = spawn(&env, &repo, "t");
    write(&worktree.join("notes.txt"), "WORK\n");
    env.agent(&repo, &["prune", "--force", "t"]).success();
    let archived = archive_ref(&env, &repo, "t", "worktree");
    let commit = rev(&env, &repo, &archived);
    interrupted_spawn_with(&env, &repo, "o", "spawn-branch-created", &["--base", &archived]);
    env.agent(&repo, &["archive", "drop", "t"]).success();

    let run = env.agent(&repo, &["prune"]).success();
    assert!(
        run.stderr.contains("agent/o has no task record; kept: it has commits no other branch or tag has"),
        "{run:#?}"
    );
    assert_eq!(rev(&env, &repo, "agent/o"), commit);
}
