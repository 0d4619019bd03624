//! The small things newcomers hit: archives listed and dropped, an empty repository, one name
//! for the target flag across commands, no empty worktree folder left behind.

use std::path::Path;

use crate::common::*;

/// A task with an uncommitted file, pruned with --force: one archive of it.
fn archived_task(env: &Env, repo: &Path, task: &str) {
    env.agent(repo, &["spawn", task]).success();
    let worktree = Path::new(&env.agent(repo, &["path", task]).success().stdout.trim().to_owned()).to_path_buf();
    write(&worktree.join("notes.txt"), "unsaved\n");
    env.agent(repo, &["prune", "--force", task]).success();
}

fn archive_refs(env: &Env, repo: &Path) -> Vec<String> {
    env.git(repo, &["for-each-ref", "--format=%(refname)", "refs/agent/archive"]).lines().map(str::to_owned).collect()
}

#[test]
fn archive_list_shows_each_archive_with_its_date_and_the_command_that_restores_it() {
    let env = Env::new();
    let repo = env.repo("r", &[("a.txt", "a\n")]);
    env.agent(&repo, &["archive"]).success().stderr_has("no archives");
    archived_task(&env, &repo, "t");
    let refs = archive_refs(&env, &repo);
    let worktree_ref = refs.iter().find(|r| r.ends_with("/worktree")).expect("a worktree part").clone();

    let text = env.agent(&repo, &["archive", "list"]).success().stdout;
    assert!(text.starts_with("t 20"), "{text}");
    assert!(text.contains("UTC ("), "{text}");
    assert!(text.contains(&format!("restore: git agent spawn t-restored --base {worktree_ref}")), "{text}");
    // The default action is list (compared after the date and age, which move on meanwhile).
    let after_age = |text: &str| text.split_once(')').map(|(_, rest)| rest.to_owned());
    assert_eq!(after_age(&env.agent(&repo, &["archive"]).success().stdout), after_age(&text));

    let json = env.agent(&repo, &["archive", "list", "--json"]).success().json();
    let archive = &json["archives"][0];
    assert_eq!(archive["task"], "t");
    assert_eq!(archive["restore_from"], worktree_ref.as_str());
    let parts: Vec<&str> = archive["parts"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(parts, ["branch", "record", "worktree"]);
    // Each part's commit is what the ref says.
    for part in archive["parts"].as_array().unwrap() {
        let at = env.git(&repo, &["rev-parse", part["ref"].as_str().unwrap()]);
        assert_eq!(at.trim(), part["commit"].as_str().unwrap());
    }
    // The restore command it prints works, and brings the unsaved file back.
    env.agent(&repo, &["spawn", "t-restored", "--base", &worktree_ref]).success();
    let restored = env.agent(&repo, &["path", "t-restored"]).success().stdout;
    assert_eq!(std::fs::read_to_string(Path::new(restored.trim()).join("notes.txt")).unwrap(), "unsaved\n");
}

#[test]
fn archive_drop_needs_a_selection_and_drops_only_what_it_selects() {
    let env = Env::new();
    let repo = env.repo("r", &[("a.txt", "a\n")]);
    archived_task(&env, &repo, "new");
    let head = env.git(&repo, &["rev-parse", "HEAD"]);
    // An archive from 2001, and a ref under the prefix that is no archive (someone else's).
    env.git(&repo, &["update-ref", "refs/agent/archive/old/1000000000000/branch", head.trim()]);
    env.git(&repo, &["update-ref", "refs/agent/archive/not-an-archive", head.trim()]);
    let before = archive_refs(&env, &repo);

    env.agent(&repo, &["archive", "drop"]).code(2);
    env.agent(&repo, &["archive", "drop", "--older-than", "soon"]).code(2).stderr_has("neither an age nor a date");
    env.agent(&repo, &["archive", "drop", "-bad-"]).code(2);
    assert_eq!(archive_refs(&env, &repo), before);

    let dry = env.agent(&repo, &["archive", "drop", "--older-than", "30d", "--dry-run"]).success();
    assert!(dry.stdout.starts_with("would drop old 2001-09-09"), "{}", dry.stdout);
    assert_eq!(archive_refs(&env, &repo), before);

    // A git date works as well as an age; only the 2001 archive is older.
    let run = env.agent(&repo, &["archive", "drop", "--older-than", "2.weeks.ago", "--json"]).success().json();
    assert_eq!(run["dry_run"], false);
    assert_eq!(run["archives"].as_array().unwrap().len(), 1);
    assert_eq!(run["archives"][0]["task"], "old");
    let after = archive_refs(&env, &repo);
    assert!(after.iter().all(|r| !r.contains("/old/")), "{after:?}");
    assert!(after.iter().any(|r| r.contains("/new/")), "{after:?}");

    // By task name; the foreign ref stays through everything, --all included.
    env.agent(&repo, &["archive", "drop", "new"]).success().stdout_has("dropped new");
    env.agent(&repo, &["archive", "drop", "--all"]).success();
    assert_eq!(archive_refs(&env, &repo), ["refs/agent/archive/not-an-archive"]);
}

#[test]
fn an_empty_repository_says_it_has_no_commits_yet() {
    let env = Env::new();
    let repo = env.path().join("empty");
    std::fs::create_dir(&repo).unwrap();
    env.git(&repo, &["init", "-q"]);
    for args in [
        &["spawn", "t"][..],
        &["spawn", "t", "--base", "HEAD"],
        &["prune", "--into", "main"],
        &["conflicts", "--into", "main"],
    ] {
        let run = env.agent(&repo, args);
        if args[0] == "conflicts" {
            // No tasks: nothing to check, whatever the target.
            run.success();
            continue;
        }
        run.code(2).stderr_has("this repository has no commits yet").stderr_has("git commit --allow-empty");
    }
    assert_eq!(env.git(&repo, &["for-each-ref"]), "");
    assert!(!env.path().join("empty.agents").exists());
    // A branch elsewhere is a commit to start from: the plain message again.
    env.git(&repo, &["commit", "-q", "--allow-empty", "-m", "first"]);
    env.git(&repo, &["checkout", "-q", "--orphan", "fresh"]);
    env.agent(&repo, &["spawn", "t"]).code(2).stderr_has("revision \"fresh\" not found");
}

#[test]
fn the_target_flag_is_into_everywhere_and_the_old_names_still_work() {
    let env = Env::new();
    let repo = env.repo("r", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    let into = env.agent(&repo, &["conflicts", "--into", "main", "--json"]).success().json();
    let target = env.agent(&repo, &["conflicts", "--target", "main", "--json"]).success().json();
    assert_eq!(into, target);
    env.agent(&repo, &["conflicts", "--into", "nosuch"]).code(2).stderr_has("nosuch");
    for flag in ["--into", "--merged-into"] {
        let run = env.agent(&repo, &["prune", "--dry-run", "--all", flag, "main"]).success();
        assert!(run.stdout.contains("t"), "{flag}: {}", run.stdout);
    }
    for command in ["conflicts", "prune", "integrate"] {
        let help = env.agent(&repo, &[command, "--help"]).success().stdout;
        assert!(help.contains("--into <"), "{command}: {help}");
    }
}

#[test]
fn pruning_the_last_task_removes_the_empty_default_worktree_folder_but_not_a_configured_one() {
    let env = Env::new();
    let repo = env.repo("r", &[("a.txt", "a\n")]);
    let root = env.path().join("r.agents");
    env.agent(&repo, &["spawn", "a"]).success();
    env.agent(&repo, &["spawn", "b"]).success();
    // Named tasks are the only ones considered, --all or not.
    env.agent(&repo, &["prune", "--all", "a"]).success();
    assert!(root.join("b").is_dir(), "b's worktree stays, and the folder with it");
    env.agent(&repo, &["prune", "--all", "--dry-run"]).success();
    assert!(root.is_dir(), "a dry run removes nothing");
    env.agent(&repo, &["prune", "--all"]).success();
    assert!(!root.exists(), "the empty default folder goes with the last task");

    // A failed spawn does not leave the folder it created either.
    env.agent(&repo, &["spawn", "c", "--base", "nosuch"]).code(2);
    env.git(&repo, &["config", "agent.setup", "exit 7"]);
    env.agent(&repo, &["spawn", "c"]).code(1);
    assert!(!root.exists(), "a rolled-back spawn leaves no empty folder");

    // A folder the user configured is theirs: it stays, empty.
    let mine = env.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    env.git(&repo, &["config", "--unset", "agent.setup"]);
    env.git(&repo, &["config", "agent.worktreeRoot", mine.to_str().unwrap()]);
    env.agent(&repo, &["spawn", "d"]).success();
    env.agent(&repo, &["prune", "--all"]).success();
    assert!(mine.is_dir() && std::fs::read_dir(&mine).unwrap().next().is_none());
}

#[test]
fn show_never_sends_a_records_control_characters_to_the_terminal() {
    let env = Env::new();
    let repo = env.repo("r", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t", "--brief", "line one\nline two \u{1b}[2J"]).success();
    env.agent(&repo, &["ask", "--task", "t", "which \u{1b}[31mcolour\u{9b}?"]).success();
    // An agent's message that would retitle the terminal and clear the screen.
    env.agent(&repo, &["report", "working", "t", "--message", "busy \u{1b}]0;pwned\u{7}\u{1b}[2J\rX"]).success();
    let run = env.agent(&repo, &["show", "t", "--color", "never"]).success();
    assert!(!run.stdout.chars().any(|c| c.is_control() && c != '\n'), "{:?}", run.stdout);
    assert!(run.stdout.contains(r"busy \u{1b}]0;pwned\u{7}\u{1b}[2J\u{d}X"), "{}", run.stdout);
    assert!(run.stdout.contains(r"which \u{1b}[31mcolour\u{9b}?"), "{}", run.stdout);
    assert!(run.stdout.contains("  line one\n  line two \\u{1b}[2J\n"), "{}", run.stdout);
    // JSON carries the text as it is (JSON escapes it).
    let json = env.agent(&repo, &["show", "t", "--json"]).success().json();
    assert_eq!(json["status"]["message"], "busy \u{1b}]0;pwned\u{7}\u{1b}[2J\rX");
}

#[test]
fn git_dash_c_settings_reach_git_agent_as_they_reach_git() {
    let env = Env::new();
    let repo = env.repo("r", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t"]).success();
    // `git -c` hands its settings over in GIT_CONFIG_PARAMETERS.
    let run = env.run(&repo, "git", &["-c", "agent.base=nosuch", "agent", "spawn", "q", "--check"]);
    run.code(2).stderr_has("nosuch");
    let run = env.run(&repo, "git", &["-c", "agent.base=main", "-c", "agent.branchPrefix=x/", "agent", "spawn", "q"]);
    run.success();
    assert_eq!(env.git(&repo, &["for-each-ref", "--format=%(refname)", "refs/heads/x/"]).trim(), "refs/heads/x/q");
    // Colour, on a pipe, as `git -c color.ui=always branch` would.
    let coloured = env.run(&repo, "git", &["-c", "color.ui=always", "agent", "list"]).success();
    assert!(coloured.stdout.contains('\u{1b}'), "{:?}", coloured.stdout);
    let branch = env.run(&repo, "git", &["-c", "color.ui=always", "branch"]).success();
    assert!(branch.stdout.contains('\u{1b}'), "git colours too: {:?}", branch.stdout);
    let plain = env.run(&repo, "git", &["agent", "list"]).success();
    assert!(!plain.stdout.contains('\u{1b}'), "{:?}", plain.stdout);
    // A value with a quote and a space survives git's quoting.
    let run = env.run(&repo, "git", &["-c", "agent.base=it's main", "agent", "spawn", "z", "--check"]);
    run.code(2).stderr_has("it's main");
}

#[test]
fn link_and_copy_settings_that_leave_the_worktree_or_enter_git_are_bad_input() {
    let env = Env::new();
    let repo = env.repo("r", &[("a.txt", "a\n")]);
    let before = env.snapshot(&repo);
    for (key, value, says) in [
        ("agent.link", ".git/hooks", "inside .git"),
        ("agent.link", ".git", "inside .git"),
        ("agent.link", "", "not a relative path"),
        ("agent.link", "../elsewhere", "not a relative path"),
        ("agent.copy", "../*", "leaves the worktree"),
        ("agent.copy", ":/sub/../../x", "leaves the worktree"),
    ] {
        env.git(&repo, &["config", key, value]);
        let run = env.agent(&repo, &["spawn", "t"]).code(2);
        assert!(run.stderr.contains(key) && run.stderr.contains(says), "{key}={value:?}: {run:?}");
        env.git(&repo, &["config", "--unset-all", key]);
        assert_eq!(env.snapshot(&repo), before, "{key}={value:?} changed something");
    }
    assert!(!env.path().join("r.agents").exists());
}

/// The colour decision and the command find the repository once: with GIT_DIR set, a relative
/// -C was changed into twice ("not in a git repository: inner").
#[test]
fn a_relative_dash_c_with_git_dir_set_is_changed_into_once() {
    let env = Env::new();
    let outer = env.repo("outer", &[("a.txt", "a\n")]);
    let inner = outer.join("inner");
    std::fs::create_dir(&inner).unwrap();
    env.git(&inner, &["init", "-q"]);
    env.git(&inner, &["commit", "-q", "--allow-empty", "-m", "inner"]);
    env.git(&inner, &["config", "agent.base", "nosuch-inner"]);
    // GIT_DIR=.git is read in `inner` (as git reads it after -C): its configuration counts.
    let out = env
        .command("git-agent", &outer)
        .args(["-C", "inner", "spawn", "t", "--check"])
        .env("GIT_DIR", ".git")
        .output()
        .unwrap();
    let run = Run::from(out);
    run.code(2).stderr_has("nosuch-inner");
}
