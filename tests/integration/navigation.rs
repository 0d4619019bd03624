//! Getting back into a task's worktree: `git agent path`.

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo};

#[test]
fn path_prints_the_worktree_and_follows_git_worktree_move() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("src/a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "db", "-q"]).success();
    let worktree = agents_dir(&repo).join("db");
    let printed = env.agent(&repo, &["path", "db"]).success().stdout;
    assert_eq!(printed, format!("{}\n", worktree.display()));
    // Without a task: the worktree we stand in, from any directory of it.
    let inside = env.agent(&worktree.join("src"), &["path"]).success().stdout;
    assert_eq!(inside, printed);
    let json = env.agent(&repo, &["path", "db", "--json"]).success().json();
    assert_eq!(json["worktree"], worktree.to_str().unwrap());

    let moved = repo.with_file_name("elsewhere");
    env.git(&repo, &["worktree", "move", worktree.to_str().unwrap(), moved.to_str().unwrap()]);
    assert_eq!(env.agent(&repo, &["path", "db"]).success().stdout, format!("{}\n", moved.display()));
}

#[test]
fn path_refuses_what_it_cannot_answer() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "db", "-q"]).success();
    env.agent(&repo, &["path", "../db"]).code(2).stderr_has("invalid task name");
    env.agent(&repo, &["path", "nope"]).code(2);
    env.agent(&repo, &["path"]).code(2);
    std::fs::remove_dir_all(agents_dir(&repo).join("db")).unwrap();
    env.agent(&repo, &["path", "db"]).code(3).stderr_has("git agent join db");
}
