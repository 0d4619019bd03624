//! git agent-integrate under hostile or unlucky conditions: dry runs with rules, new work on
//! integrated tasks, a checked-out target edited meanwhile, planted configuration, missing
//! identities, and runs killed half-way.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::integrate::{integrate, integrate_json, statuses, step};
use crate::spawn::{agents_dir, canonical_repo, record, rev};

/// A finished task: spawned, one commit writing `files`, marked done; returns its worktree.
fn task(env: &Env, repo: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    env.agent(repo, &["spawn", name, "-q", "--no-agent"]).success();
    let wt = agents_dir(repo).join(name);
    env.commit(&wt, files, &format!("{name}: work"));
    env.agent(repo, &["done", name, "-q"]).success();
    wt
}

fn object_type(env: &Env, repo: &Path, id: &str) -> String {
    env.git(repo, &["cat-file", "-t", id]).trim().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Dry runs with resolution rules (defect 04)

#[test]
fn a_dry_run_with_a_rule_hands_a_tree_on_and_agrees_with_the_real_run() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("Cargo.lock", "x\ny\nz\n"), ("c.txt", "c\n")]);
    env.git(&repo, &["config", "agent.resolve.lock.path", "Cargo.lock"]);
    env.git(&repo, &["config", "agent.resolve.lock.run", "printf 'resolved\\n' > Cargo.lock"]);
    task(&env, &repo, "a", &[("Cargo.lock", "x-a\ny\nz\n")]);
    task(&env, &repo, "b", &[("Cargo.lock", "x-b\ny\nz\n")]);
    task(&env, &repo, "c", &[("c.txt", "c2\n")]);
    let refs = env.snapshot(&repo);

    let json = integrate_json(&env, &repo, &["--dry-run"], 0);
    assert_eq!(statuses(&json), ["would-merge", "would-resolve-by-rule", "would-merge"], "{json:#}");
    assert_eq!(step(&json, "b")["rule"], "lock");
    assert_eq!(env.snapshot(&repo), refs, "a dry run writes nothing");
    // Every id the dry run reports is what it says it is (it is not in the object database:
    // the dry run computed it in memory, so compare the real run's result instead).
    let real = integrate_json(&env, &repo, &[], 0);
    assert_eq!(statuses(&real), ["merged", "resolved-by-rule", "merged"], "{real:#}");
    for task in ["a", "b", "c"] {
        let tree = step(&real, task)["tree"].as_str().unwrap().to_owned();
        assert_eq!(object_type(&env, &repo, &tree), "tree", "{task}: {real:#}");
        assert_eq!(object_type(&env, &repo, step(&real, task)["commit"].as_str().unwrap()), "commit");
    }
    assert_eq!(env.git(&repo, &["show", "main:Cargo.lock"]), "resolved\n");
    assert_eq!(env.git(&repo, &["show", "main:c.txt"]), "c2\n");
    // Tasks not touching the rule's files get the same trees in the dry run and the real run.
    assert_eq!(step(&json, "a")["tree"], step(&real, "a")["tree"]);
}

// ---------------------------------------------------------------------------------------------
// New work on an integrated task (defect 05)

#[test]
fn new_commits_on_an_integrated_task_are_integrated_with_every_strategy() {
    for strategy in ["merge", "squash", "rebase"] {
        let env = Env::new();
        let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n"), ("shared.txt", &numbered("s"))]);
        let wt = task(&env, &repo, "t", &[("t1.txt", "1\n"), ("shared.txt", &numbered("t"))]);
        integrate(&env, &repo, &["-q", "--strategy", strategy]).success();
        assert_eq!(record(&env, &repo, "t")["state"], "integrated");
        // The target edits what the task had changed: a task replayed from its fork point would conflict.
        env.commit(&repo, &[("shared.txt", &numbered("main"))], "main edits shared.txt");
        env.commit(&wt, &[("t2.txt", "2\n")], "more work");

        let json = integrate_json(&env, &repo, &["t", "--strategy", strategy], 0);
        assert_eq!(statuses(&json), ["merged"], "{strategy}: {json:#}");
        assert_eq!(env.git(&repo, &["show", "main:t2.txt"]), "2\n", "{strategy}");
        assert_eq!(env.git(&repo, &["show", "main:shared.txt"]), numbered("main"), "{strategy}: nothing reverted");
        assert_eq!(record(&env, &repo, "t")["integrated_tip"], rev(&env, &repo, "agent/t"), "{strategy}");
        // And once that is in, the task is integrated again: a rerun changes nothing.
        let main = rev(&env, &repo, "main");
        let json = integrate_json(&env, &repo, &["t", "--strategy", strategy], 0);
        assert_eq!(statuses(&json), ["already-integrated"], "{strategy}: {json:#}");
        assert_eq!(rev(&env, &repo, "main"), main, "{strategy}");
    }
}

#[test]
fn an_integrated_task_whose_record_lacks_the_tip_is_refused_when_it_has_new_work() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    let wt = task(&env, &repo, "t", &[("t1.txt", "1\n")]);
    integrate(&env, &repo, &["-q", "--strategy", "squash"]).success();
    // As an older git-agent wrote it: no integrated_tip.
    let mut old = record(&env, &repo, "t");
    old.as_object_mut().unwrap().remove("integrated_tip");
    write_raw_record(&env, &repo, "t", &old.to_string());
    // Nothing new: still recognised as integrated.
    assert_eq!(statuses(&integrate_json(&env, &repo, &["t", "--strategy", "squash"], 0)), ["already-integrated"]);
    env.commit(&wt, &[("t2.txt", "2\n")], "more work");
    let main = rev(&env, &repo, "main");
    integrate(&env, &repo, &["t", "--strategy", "squash"]).code(3).stderr_has("has changed since");
    assert_eq!(rev(&env, &repo, "main"), main);
}

// ---------------------------------------------------------------------------------------------
// The checked-out target follows like receive.denyCurrentBranch=updateInstead (defect 03)

/// `git agent-integrate <args>` started in the background, stopping at `pause`.
fn integrate_paused(env: &Env, repo: &Path, pause: &PausePoint, args: &[&str]) -> std::process::Child {
    let (key, value) = pause.env();
    env.command("git", repo)
        .arg("agent-integrate")
        .args(args)
        .env(key, value)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: std::process::Child) -> Run {
    Run::from(child.wait_with_output().unwrap())
}

/// A shell word for `path`.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display())
}

#[test]
fn an_edit_of_the_checked_out_target_during_the_tests_lands_nothing() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("f", "1\n2\n3\n")]);
    task(&env, &repo, "t", &[("f", "1\n2\n3\n4\n")]);
    let before = rev(&env, &repo, "main");
    // The test stands in for the user editing f in the main worktree while the tests run.
    let test = format!("echo 'user edit' >> {}", quoted(&repo.join("f")));
    let run = integrate(&env, &repo, &["--test", &test]).code(3).stderr_has("nothing was landed");
    assert_eq!(rev(&env, &repo, "main"), before, "{run:#?}");
    assert_eq!(env.git(&repo, &["diff", "--cached", "--name-only"]), "", "the index is where HEAD is");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), " M f\n");
    assert_eq!(std::fs::read_to_string(repo.join("f")).unwrap(), "1\n2\n3\nuser edit\n", "the edit is kept");
    assert_eq!(record(&env, &repo, "t")["state"], "done");
    // Once the user has committed their edit, the task lands and nothing is reverted.
    env.git(&repo, &["commit", "-qam", "user's own fix"]);
    env.git(&repo, &["config", "agent.resolve.f.path", "f"]);
    env.git(&repo, &["config", "agent.resolve.f.run", "printf '1\\n2\\n3\\n4\\nuser edit\\n' > f"]);
    integrate(&env, &repo, &[]).success();
    assert_eq!(env.git(&repo, &["show", "main:f"]), "1\n2\n3\n4\nuser edit\n");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn the_target_edited_during_the_tests_lands_nothing() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("f", "1\n2\n3\n"), ("g", "g\n")]);
    task(&env, &repo, "t", &[("f", "1\n2\n3\n4\n")]);
    let before = rev(&env, &repo, "main");
    let pause = PausePoint::new(&env, "integrate-test");
    let child = integrate_paused(&env, &repo, &pause, &["--test", "true"]);
    pause.wait_reached();
    // The user edits a file the integration does not even touch, and stages it.
    write(&repo.join("g"), "g edited\n");
    env.git(&repo, &["add", "g"]);
    pause.release();
    let run = finish(child).code(3).stderr_has("nothing was landed");
    assert_eq!(rev(&env, &repo, "main"), before, "{run:#?}");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "M  g\n", "the user's staged edit is as it was");
    assert_eq!(std::fs::read_to_string(repo.join("f")).unwrap(), "1\n2\n3\n");
    assert_eq!(record(&env, &repo, "t")["state"], "done");
}

#[test]
fn a_file_edited_after_the_last_check_makes_the_worktree_refuse_to_follow() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("f", "1\n2\n3\n")]);
    task(&env, &repo, "t", &[("f", "1\n2\n3\n4\n")]);
    let before = rev(&env, &repo, "main");
    let pause = PausePoint::new(&env, "integrate-worktree-update");
    let child = integrate_paused(&env, &repo, &pause, &[]);
    pause.wait_reached();
    // Checked clean a moment ago; edited now, between the check and the checkout.
    write(&repo.join("f"), "1\n2\n3\nedited meanwhile\n");
    pause.release();
    let run = finish(child).code(3);
    assert_eq!(rev(&env, &repo, "main"), before, "{run:#?}");
    assert_eq!(std::fs::read_to_string(repo.join("f")).unwrap(), "1\n2\n3\nedited meanwhile\n");
    assert_eq!(env.git(&repo, &["diff", "--cached", "--name-only"]), "");
    assert_eq!(record(&env, &repo, "t")["state"], "done");
    assert!(!repo.join(".git/index.lock").exists());
}

#[test]
fn a_target_moved_after_the_worktree_followed_is_undone_and_exits_4() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("f", "1\n")]);
    task(&env, &repo, "t", &[("t.txt", "t\n")]);
    let pause = PausePoint::new(&env, "integrate-ref-update");
    let child = integrate_paused(&env, &repo, &pause, &[]);
    pause.wait_reached();
    assert_eq!(std::fs::read_to_string(repo.join("t.txt")).unwrap(), "t\n", "the worktree followed first");
    // Someone moves main (same tree, another commit) before the ref transaction.
    let sneaky = env.git(&repo, &["commit-tree", "-p", "main", "-m", "sneaky", "main^{tree}"]).trim().to_owned();
    env.git(&repo, &["update-ref", "refs/heads/main", &sneaky]);
    pause.release();
    let run = finish(child).code(4);
    assert_eq!(rev(&env, &repo, "main"), sneaky, "{run:#?}");
    assert!(!repo.join("t.txt").exists(), "the worktree update was undone");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    assert_eq!(record(&env, &repo, "t")["state"], "done", "no record says integrated");
    assert!(
        env.command("git", &repo)
            .args(["rev-parse", "-q", "--verify", "refs/notes/agent"])
            .output()
            .unwrap()
            .stdout
            .is_empty()
    );
}

#[test]
fn a_fast_forward_of_the_checked_out_target_never_overwrites_an_ignored_file() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[(".gitignore", "*.env\n")]);
    env.agent(&repo, &["spawn", "t", "-q", "--no-agent"]).success();
    let wt = agents_dir(&repo).join("t");
    write(&wt.join("config.env"), "from the task\n");
    env.git(&wt, &["add", "-f", "config.env"]);
    env.git(&wt, &["commit", "-qm", "t: a config file"]);
    env.agent(&repo, &["done", "t", "-q"]).success();
    write(&repo.join("config.env"), "the user's secrets\n");
    let before = rev(&env, &repo, "main");
    integrate(&env, &repo, &[]).code(3).stderr_has("config.env");
    assert_eq!(rev(&env, &repo, "main"), before);
    assert_eq!(std::fs::read_to_string(repo.join("config.env")).unwrap(), "the user's secrets\n");
    assert_eq!(record(&env, &repo, "t")["state"], "done");
    // An ignored file where the new commit makes a directory is in the way too.
    std::fs::remove_file(repo.join("config.env")).unwrap();
    write(&repo.join("notes.env"), "the user's notes\n");
    env.agent(&repo, &["spawn", "u", "-q", "--no-agent"]).success();
    let wt = agents_dir(&repo).join("u");
    write(&wt.join("notes.env/a.txt"), "a\n");
    env.git(&wt, &["add", "-f", "notes.env/a.txt"]);
    env.git(&wt, &["commit", "-qm", "u: a directory"]);
    env.agent(&repo, &["done", "u", "-q"]).success();
    integrate(&env, &repo, &["u"]).code(3).stderr_has("notes.env");
    assert_eq!(std::fs::read_to_string(repo.join("notes.env")).unwrap(), "the user's notes\n");
}

#[test]
fn a_tracked_file_replaced_by_a_directory_follows_into_the_checked_out_target() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("x", "a file\n")]);
    env.agent(&repo, &["spawn", "t", "-q", "--no-agent"]).success();
    let wt = agents_dir(&repo).join("t");
    env.git(&wt, &["rm", "-q", "x"]);
    env.commit(&wt, &[("x/y", "now a directory\n")], "x becomes a directory");
    env.agent(&repo, &["done", "t", "-q"]).success();
    integrate(&env, &repo, &[]).success();
    assert_eq!(std::fs::read_to_string(repo.join("x/y")).unwrap(), "now a directory\n");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
}

// ---------------------------------------------------------------------------------------------
// One transaction for the target, the records and the notes

#[test]
fn a_record_changed_during_the_run_keeps_the_target_where_it_was() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "t", &[("t.txt", "t\n")]);
    let before = rev(&env, &repo, "main");
    // The test rewrites the record (as a concurrent `git agent done` would).
    let test = format!(
        "cd {} && env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE sh -c \
         'git update-ref refs/agent/tasks/t $(git commit-tree -p refs/agent/tasks/t -m again refs/agent/tasks/t^{{tree}})'",
        quoted(&repo)
    );
    let run = integrate(&env, &repo, &["--test", &test])
        .code(4)
        .stderr_has("nothing was landed: cannot update refs/agent/tasks/t");
    assert_eq!(rev(&env, &repo, "main"), before, "{run:#?}");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    assert!(!repo.join("t.txt").exists(), "the worktree was taken back");
    assert_eq!(record(&env, &repo, "t")["state"], "done");
}

#[test]
fn an_integrate_killed_before_its_ref_transaction_moved_no_ref() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "t", &[("t.txt", "t\n")]);
    let refs = env.git(&repo, &["for-each-ref", "--format=%(refname) %(objectname)"]);
    let pause = PausePoint::new(&env, "integrate-ref-update");
    let child = integrate_paused(&env, &repo, &pause, &["--test", "true"]);
    pause.wait_reached();
    let pid = std::fs::read_to_string(pause.dir.join("integrate-ref-update.reached")).unwrap();
    assert!(std::process::Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    finish(child);
    // Target, record and notes: all as they were, none moved without the others.
    assert_eq!(env.git(&repo, &["for-each-ref", "--format=%(refname) %(objectname)"]), refs);
    assert!(!repo.join(".git/index.lock").exists(), "the index was written before the transaction");
    // The worktree had followed: the integration shows as staged changes, nothing is lost,
    // and the next integrate refuses until the user decides.
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "A  t.txt\n");
    integrate(&env, &repo, &[]).code(3);
}

#[test]
fn landing_writes_target_records_and_notes_together_and_git_notes_reads_them() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "a", &[("a.txt", "a\n")]);
    task(&env, &repo, "b", &[("b.txt", "b\n")]);
    // An earlier note by git itself is kept.
    env.git(&repo, &["notes", "--ref", "agent", "add", "-m", "by hand", "main"]);
    let json = integrate_json(&env, &repo, &["--test", "true"], 0);
    let main = rev(&env, &repo, "main");
    for task in ["a", "b"] {
        assert_eq!(record(&env, &repo, task)["state"], "integrated");
        let commit = step(&json, task)["commit"].as_str().unwrap().to_owned();
        let note: Value = serde_json::from_str(&env.git(&repo, &["notes", "--ref", "agent", "show", &commit])).unwrap();
        assert_eq!(note["task"], task);
        assert_eq!(note["status"], "merged");
    }
    assert_eq!(env.git(&repo, &["notes", "--ref", "agent", "show", "main~2"]), "by hand\n");
    // One reflog entry each: the target, each record and the notes moved once.
    let reflog = |r: &str| env.git(&repo, &["reflog", "show", "--format=%gs", r]).lines().count();
    assert_eq!(reflog("refs/notes/agent"), 2, "the hand-made note and this run");
    assert_eq!(rev(&env, &repo, "main"), main);
    // git can add to what git-agent wrote.
    env.git(&repo, &["notes", "--ref", "agent", "add", "-f", "-m", "later", "main~1"]);
    assert_eq!(env.git(&repo, &["notes", "--ref", "agent", "show", "main~1"]), "later\n");
}

// ---------------------------------------------------------------------------------------------
// Hostile tests and branch names

#[test]
fn a_test_that_moves_the_target_and_fails_is_reported_as_it_is() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    env.commit(&repo, &[("second.txt", "2\n")], "second");
    task(&env, &repo, "a", &[("a.txt", "a\n")]);
    task(&env, &repo, "b", &[("b.txt", "b\n")]);
    let parent = rev(&env, &repo, "main~1");
    let test = format!(
        "cd {} && env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE git reset -q --hard HEAD~1 && false",
        quoted(&repo)
    );
    let run = integrate(&env, &repo, &["--test", &test]).code(1);
    assert!(!run.stdout.contains("main unchanged"), "{run:#?}");
    assert!(run.stdout.contains("main was moved during the run, not by this run"), "{run:#?}");
    let json = integrate_json(&env, &repo, &["--test", "false"], 1);
    assert_eq!(json["target"]["moved_by_others"], false, "{json:#}");
    assert_eq!(rev(&env, &repo, "main"), parent);
    // With --keep-going a later task would land: the landing loses the compare-and-swap.
    env.commit(&repo, &[("third.txt", "3\n")], "third");
    let marker = env.path().join("reset-once");
    let test = format!(
        "if ! test -e {marker}; then touch {marker}; cd {repo} && env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE \
         git reset -q --hard HEAD~1; false; fi",
        marker = quoted(&marker),
        repo = quoted(&repo)
    );
    let before = rev(&env, &repo, "main");
    let run = integrate(&env, &repo, &["--keep-going", "--test", &test])
        .code(4)
        .stderr_has("nothing was landed: refs/heads/main moved during the run, not by this run");
    assert_eq!(rev(&env, &repo, "main"), rev(&env, &repo, &format!("{before}~1")), "{run:#?}");
    assert_eq!(record(&env, &repo, "b")["state"], "done");
}

// ---------------------------------------------------------------------------------------------
// Identity

/// Takes the user's identity away (the hermetic global config keeps the rest).
fn forget_identity(env: &Env) {
    std::fs::write(
        env.path().join("home/.gitconfig"),
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n[core]\n\tautocrlf = false\n",
    )
    .unwrap();
}

#[test]
fn without_an_identity_integrate_refuses_like_git_unless_agent_identity_is_set() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "t", &[("t.txt", "t\n")]);
    forget_identity(&env);
    let before = rev(&env, &repo, "main");
    let run = integrate(&env, &repo, &[]).code(3).stderr_has("identity unknown").stderr_has("agent.identity");
    assert_eq!(rev(&env, &repo, "main"), before, "{run:#?}");
    assert_eq!(record(&env, &repo, "t")["state"], "done");
    // A dry run writes no commit anywhere: it works.
    integrate(&env, &repo, &["--dry-run"]).success();
    env.git(&repo, &["config", "agent.identity", "Integration Bot <bot@example.com>"]);
    integrate(&env, &repo, &[]).success();
    assert_eq!(
        env.git(&repo, &["log", "-1", "--format=%an <%ae> / %cn <%ce>", "main"]).trim(),
        "Integration Bot <bot@example.com> / Integration Bot <bot@example.com>"
    );
}

#[test]
fn the_users_identity_is_used_when_there_is_one() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "t", &[("t.txt", "t\n")]);
    integrate(&env, &repo, &["-q"]).success();
    assert_eq!(env.git(&repo, &["log", "-1", "--format=%cn <%ce>", "main"]).trim(), "Test <test@example.com>");
}

// ---------------------------------------------------------------------------------------------
// Settings: validated once, before anything is created

#[test]
fn invalid_agent_settings_name_the_key_and_the_file_before_anything_is_created() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    let config = repo.join(".git/config");
    for (key, value, says) in [
        ("agent.testTimeout", "abc", "not a number of seconds"),
        ("agent.command", "claude 'unclosed", "cannot be split"),
        ("agent.runHooks", "maybe", "not a boolean"),
        ("agent.identity", "just a name", "Name <email>"),
        ("agent.branchPrefix", "bad..prefix/", "valid branch names"),
    ] {
        env.git(&repo, &["config", key, value]);
        let before = env.snapshot(&repo);
        for args in [&["spawn", "t", "--no-agent"][..], &["list"], &["integrate"], &["prune"]] {
            let run = env.agent(&repo, args).code(2).stderr_has(key).stderr_has(says);
            assert!(run.stderr.contains(&config.display().to_string()), "{key} {args:?}: {run:#?}");
        }
        assert_eq!(env.snapshot(&repo), before, "{key}: nothing was created");
        assert!(!agents_dir(&repo).join("t").exists(), "{key}");
        env.git(&repo, &["config", "--unset", key]);
    }
    // A rule needs both halves.
    env.git(&repo, &["config", "agent.resolve.lock.path", "Cargo.lock"]);
    env.agent(&repo, &["integrate"]).code(2).stderr_has("agent.resolve.lock.run is missing");
}

// ---------------------------------------------------------------------------------------------
// Commands from configuration: shown before they run, never from a task's own worktree config

#[test]
fn configured_commands_are_printed_with_their_file_before_they_run() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "t", &[("t.txt", "t\n")]);
    env.git(&repo, &["config", "agent.test", "true"]);
    env.git(&repo, &["config", "agent.resolve.lock.path", "Cargo.lock"]);
    env.git(&repo, &["config", "agent.resolve.lock.run", "cargo generate-lockfile"]);
    let config = repo.join(".git/config").display().to_string();
    let run = integrate(&env, &repo, &[]).success();
    let run = run.stderr_has(&format!("running agent.test from {config} after every merge: true"));
    run.stderr_has(&format!("running agent.resolve.lock.run from {config} on conflicts confined to Cargo.lock"));
    integrate(&env, &repo, &["t", "--test", "true"]).success().stderr_has("running --test after every merge: true");
}

#[test]
fn integrate_runs_no_command_from_a_task_worktrees_own_config() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    let wt = task(&env, &repo, "t", &[("t.txt", "t\n")]);
    let marker = env.path().join("planted-ran");
    env.git(&repo, &["config", "extensions.worktreeConfig", "true"]);
    env.git(&wt, &["config", "--worktree", "agent.test", &format!("touch {}", quoted(&marker))]);
    let before = rev(&env, &repo, "main");
    let run = integrate(&env, &wt, &[]).code(3).stderr_has("config.worktree").stderr_has("runs no command");
    assert!(!marker.exists(), "{run:#?}");
    assert_eq!(rev(&env, &repo, "main"), before);
    // Rules too.
    env.git(&wt, &["config", "--worktree", "--unset", "agent.test"]);
    env.git(&wt, &["config", "--worktree", "agent.resolve.x.path", "*"]);
    env.git(&wt, &["config", "--worktree", "agent.resolve.x.run", &format!("touch {}", quoted(&marker))]);
    integrate(&env, &wt, &[]).code(3).stderr_has("agent.resolve.x.run");
    // The main worktree's own config.worktree is the user's.
    env.git(&repo, &["config", "--worktree", "agent.test", "true"]);
    integrate(&env, &repo, &[]).success().stderr_has("config.worktree after every merge: true");
    assert!(!marker.exists());
}

// ---------------------------------------------------------------------------------------------
// Bad branch names

#[test]
fn branch_names_git_refuses_are_bad_input() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "t", &[("t.txt", "t\n")]);
    let before = env.snapshot(&repo);
    for name in ["HEAD", "@", "-x", "refs/heads/HEAD", "a..b", "x@{1}", "a b", "x.lock", "agent/t", "agent/new"] {
        let arg = format!("--branch={name}");
        integrate(&env, &repo, &[&arg]).code(2);
        assert_eq!(env.snapshot(&repo), before, "{name}: nothing was written");
    }
    integrate(&env, &repo, &["--branch", "integration/today"]).success();
    assert_eq!(env.git(&repo, &["show", "integration/today:t.txt"]), "t\n");
}

// ---------------------------------------------------------------------------------------------
// A killed integrate

/// The scratch slot of the first integrate into main.
fn main_slot(repo: &std::path::Path) -> std::path::PathBuf {
    agents_dir(repo).join(".integrate/main-0")
}

#[test]
fn the_scratch_slot_of_a_killed_integrate_is_taken_over_by_the_next_one() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "t", &[("t.txt", "t\n")]);
    let before = rev(&env, &repo, "main");
    let pause = PausePoint::new(&env, "integrate-test");
    let child = integrate_paused(&env, &repo, &pause, &["--test", "true"]);
    pause.wait_reached();
    let pid = std::fs::read_to_string(pause.dir.join("integrate-test.reached")).unwrap();
    let slot = main_slot(&repo);
    assert!(slot.is_dir());
    assert!(std::process::Command::new("kill").args(["-KILL", pid.trim()]).status().unwrap().success());
    finish(child);
    assert_eq!(held_slots(&repo).len(), 1, "the lock of the killed integrate is left behind");
    assert_eq!(rev(&env, &repo, "main"), before);

    let run = integrate(&env, &repo, &["--test", "true"]).success();
    run.stderr_has(&format!("took over integrate slot 0 ({})", slot.display()));
    assert!(slot.is_dir(), "the slot is reused");
    assert_eq!(held_slots(&repo), Vec::<std::path::PathBuf>::new());
    assert_eq!(env.git(&repo, &["show", "main:t.txt"]), "t\n");
}

#[test]
fn the_scratch_slot_of_a_killed_integrate_is_removed_by_prune_scratch() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "t", &[("t.txt", "t\n")]);
    let pause = PausePoint::new(&env, "integrate-test");
    let child = integrate_paused(&env, &repo, &pause, &["--test", "true"]);
    pause.wait_reached();
    let pid = std::fs::read_to_string(pause.dir.join("integrate-test.reached")).unwrap();
    assert!(std::process::Command::new("kill").args(["-KILL", pid.trim()]).status().unwrap().success());
    finish(child);
    let slot = main_slot(&repo);
    assert!(slot.is_dir(), "left behind by kill -9");
    env.agent(&repo, &["prune", "--scratch"]).success();
    assert!(!slot.exists());
    assert!(!env.git(&repo, &["worktree", "list"]).contains(".integrate"));
    // The task itself was not integrated, so it stays.
    assert!(agents_dir(&repo).join("t").is_dir());
}

#[test]
fn a_file_only_touched_in_the_checked_out_target_does_not_stop_the_landing() {
    // Editors and formatters rewrite files unchanged: git's updateInstead refreshes the index
    // first, and so does integrate.
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a", "1\n")]);
    task(&env, &repo, "t", &[("a", "1\n2\n")]);
    let file = std::fs::File::options().append(true).open(repo.join("a")).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
    integrate(&env, &repo, &[]).success();
    assert_eq!(std::fs::read_to_string(repo.join("a")).unwrap(), "1\n2\n");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn one_odd_done_task_is_left_out_and_the_others_land() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "good", &[("g.txt", "g\n")]);
    let base = rev(&env, &repo, "main");
    let root = agents_dir(&repo);
    let done = |name: &str, extra: serde_json::Value| {
        let mut record = serde_json::json!({"version":1,"name":name,"branch":format!("refs/heads/agent/{name}"),
            "base_ref":"refs/heads/main","base_commit":base,"worktree":root.join(name),"created_ms":2,"state":"done"});
        for (k, v) in extra.as_object().unwrap() {
            record[k] = v.clone();
        }
        write_raw_record(&env, &repo, name, &record.to_string());
    };
    // Spawned from another task's branch, with no branch of its own; a cycle; a missing dependency.
    done("stacked", serde_json::json!({"base_ref": "refs/heads/agent/good"}));
    for (name, dep) in [("c1", "c2"), ("c2", "c1")] {
        env.git(&repo, &["branch", &format!("agent/{name}"), "main"]);
        env.commit(&repo, &[(&format!("{name}.txt"), "x\n")], name);
        env.git(&repo, &["branch", "-f", &format!("agent/{name}"), "HEAD"]);
        env.git(&repo, &["reset", "-q", "--hard", &base]);
        done(name, serde_json::json!({"after": [dep]}));
    }
    done("orphan", serde_json::json!({"after": ["nobody"]}));
    env.git(&repo, &["branch", "agent/orphan", "main"]);
    let json = integrate_json(&env, &repo, &[], 0);
    assert_eq!(statuses(&json), ["merged"], "{json:#}");
    let left: Vec<&str> = json["left_out"].as_array().unwrap().iter().map(|l| l["task"].as_str().unwrap()).collect();
    for name in ["stacked", "c1", "c2", "orphan"] {
        assert!(left.contains(&name), "{name} should be left out: {json:#}");
    }
    assert_eq!(env.git(&repo, &["show", "main:g.txt"]), "g\n");
    // Named, the same task is an error: the user asked for it.
    integrate(&env, &repo, &["orphan"]).code(2);
}

#[test]
fn a_test_command_included_from_a_task_worktree_is_refused() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    let wt = task(&env, &repo, "t", &[("t.txt", "t\n")]);
    let marker = env.path().join("planted-test-ran");
    write(&wt.join("evil.cfg"), &format!("[agent]\n\ttest = touch {}\n", quoted(&marker)));
    env.git(&repo, &["config", "include.path", wt.join("evil.cfg").to_str().unwrap()]);
    let before = rev(&env, &repo, "main");
    integrate(&env, &repo, &[]).code(3).stderr_has("inside the linked worktree");
    assert!(!marker.exists(), "the planted test ran");
    assert_eq!(rev(&env, &repo, "main"), before);
}

#[test]
fn filter_drivers_the_scratch_checkout_may_run_are_printed_first() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "readme\n")]);
    task(&env, &repo, "t", &[("t.txt", "t\n")]);
    env.git(&repo, &["config", "filter.lfs-like.smudge", "cat"]);
    integrate(&env, &repo, &["--test", "true"])
        .success()
        .stderr_has("the scratch checkout may run filter.lfs-like.smudge from")
        .stderr_has(": cat");
}
