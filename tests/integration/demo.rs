//! `git agent demo`: the main job for a newcomer runs end to end, through git's dispatch.

use crate::common::*;

#[test]
fn the_demo_runs_the_whole_workflow_and_leaves_the_repository() {
    let env = Env::new();
    // -C moves where the demo starts, and without a DIR it names its own folder there.
    let parent = env.path().join("parent");
    std::fs::create_dir(&parent).unwrap();
    let dir = parent.join("git-agent-demo");
    let run = env.agent(env.path(), &["-C", parent.to_str().unwrap(), "demo"]).success();
    // It shows the plan it spawns from, and where that file is.
    assert!(run.stdout.contains("the plan, in .git/plan.json"), "{}", run.stdout);
    assert!(run.stdout.contains(r#""name": "frontend""#), "{}", run.stdout);
    // Every step shows the command it ran.
    for command in [
        "$ git agent spawn --plan",
        "$ git agent list",
        "$ git agent report working",
        "$ git agent checkpoint db",
        "$ git agent cost add",
        "$ git agent cost --by model",
        "$ git agent conflicts",
        "$ git agent integrate --test",
        "$ git agent prune",
    ] {
        assert!(run.stdout.contains(command), "{command:?} not shown:\n{}", run.stdout);
    }
    assert!(run.stdout.contains(&format!("The repository is in {}", dir.canonicalize().unwrap().display())));
    // The status, checkpoint and cost show up where the orchestrator looks.
    assert!(run.stdout.contains("working"), "{}", run.stdout);
    assert!(run.stdout.contains("an index on user_id"), "{}", run.stdout);
    assert!(run.stdout.contains("claude-haiku-4-5"), "{}", run.stdout);
    // The planted conflict was found, then resolved.
    assert!(run.stdout.contains("theme x i18n") || run.stdout.contains("i18n x theme"), "{}", run.stdout);
    // Everything landed in dependency order, and the tasks are gone.
    let log = env.git(&dir, &["log", "--first-parent", "--format=%s", "main"]);
    let merges: Vec<&str> = log.lines().filter(|l| l.starts_with("Merge task")).collect();
    assert_eq!(
        merges,
        [
            "Merge task i18n (agent/i18n)",
            "Merge task theme (agent/theme)",
            "Merge task tests (agent/tests)",
            "Merge task frontend (agent/frontend)",
            "Merge task api (agent/api)",
            "Merge task db (agent/db)",
        ]
    );
    for file in ["db/schema.sql", "api/activity.sh", "web/dashboard.html", "tests/dashboard.sh"] {
        assert!(dir.join(file).is_file(), "{file} is not in the main worktree");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("settings.conf")).unwrap(),
        "title = {dashboard.title}\ntheme = dark\nlanguage = en\n"
    );
    assert_eq!(env.git(&dir, &["for-each-ref", "refs/agent/tasks"]), "");
    assert_eq!(env.git(&dir, &["status", "--porcelain"]), "");
    // The main worktree, and integrate's warm scratch slot (released).
    let worktrees = env.git(&dir, &["worktree", "list", "--porcelain"]);
    assert_eq!(without_slots(&worktrees).matches("worktree ").count(), 1, "{worktrees}");
    assert_eq!(held_slots(&dir), Vec::<std::path::PathBuf>::new());
    // Nothing is left beside it: no empty worktree folder, no scratch slot.
    let left: Vec<_> = std::fs::read_dir(&parent).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["git-agent-demo"]);
}

#[test]
fn the_demo_refuses_to_nest_its_repository_in_another_unless_given_a_directory() {
    let env = Env::new();
    let outer = env.repo("outer", &[("a.txt", "a\n")]);
    let sub = outer.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let before = env.snapshot(&outer);
    let run = env.agent(&sub, &["demo"]).code(3).stderr_has("inside the git repository");
    assert!(run.stderr.contains("git agent demo /"), "{}", run.stderr);
    env.agent(env.path(), &["-C", outer.to_str().unwrap(), "demo"]).code(3).stderr_has("inside the git repository");
    assert!(!sub.join("git-agent-demo").exists() && !outer.join("git-agent-demo").exists());
    assert_eq!(env.snapshot(&outer), before);
}

#[test]
fn the_demo_refuses_a_directory_that_is_not_empty() {
    let env = Env::new();
    let dir = env.path().join("full");
    write(&dir.join("keep.txt"), "mine\n");
    env.agent(env.path(), &["demo", dir.to_str().unwrap()]).code(3).stderr_has("not empty");
    assert_eq!(std::fs::read_to_string(dir.join("keep.txt")).unwrap(), "mine\n");
    // A file, even an empty one, is no directory.
    let file = env.path().join("afile");
    write(&file, "");
    env.agent(env.path(), &["demo", file.to_str().unwrap()]).code(3).stderr_has("is not a directory");
}
