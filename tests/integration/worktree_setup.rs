//! Worktrees people can use at once: `.worktreeinclude` copies (reflinked where possible),
//! `agent.link` links, `GIT_AGENT_PORT`, and getting there: `setup --shell`'s `git agent cd`,
//! `git agent open`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::background::{bounded, wait_until};
use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo};

/// The files below `dir` (relative, `.git` left out), links included as themselves.
fn files_below(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap().flatten() {
            if entry.file_name() == ".git" {
                continue;
            }
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().to_str().unwrap().to_owned());
            }
        }
    }
    found
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

#[test]
fn worktreeinclude_copies_what_it_matches_and_git_ignores_as_git_would_select_it() {
    let env = Env::new();
    let repo = canonical_repo(
        &env,
        "repo",
        &[
            (".gitignore", ".env*\n.idea/\ncache/\nsecret.key\n"),
            (
                ".worktreeinclude",
                "# copied into every worktree\n.env*\n!.env.example\n.idea/\ncache/keep.txt\nnotes.txt\nconfig.json\n",
            ),
            ("config.json", "{\"tracked\": true}\n"),
            ("src/a.txt", "a\n"),
        ],
    );
    write(&repo.join(".env"), "KEY=1\n");
    write(&repo.join(".env.local"), "LOCAL=1\n");
    write(&repo.join(".env.example"), "negated: not copied\n");
    write(&repo.join("src/.env"), "nested=1\n");
    write(&repo.join(".idea/workspace.xml"), "<ws/>\n");
    write(&repo.join("cache/keep.txt"), "kept\n");
    write(&repo.join("cache/drop.txt"), "ignored, not included\n");
    write(&repo.join("notes.txt"), "untracked, not ignored: not copied\n");
    write(&repo.join("secret.key"), "ignored, not included\n");
    write(&repo.join("config.json"), "{\"changed in main\": true}\n");

    let run = env.agent(&repo, &["spawn", "t", "--json"]).success();
    let spawned = &run.json()["spawned"][0];
    let worktree = agents_dir(&repo).join("t");

    // git's own answer: untracked files the include patterns match, that .gitignore ignores.
    let matched = env.git(&repo, &["ls-files", "--others", "--ignored", "--exclude-from=.worktreeinclude"]);
    let ignored = env.git(&repo, &["ls-files", "--others", "--ignored", "--exclude-standard"]);
    let expected: BTreeSet<String> = lines(&matched).intersection(&lines(&ignored)).cloned().collect();
    let tracked = lines(&env.git(&worktree, &["ls-files"]));
    let copied: BTreeSet<String> = files_below(&worktree).difference(&tracked).cloned().collect();
    assert_eq!(copied, expected);
    assert_eq!(
        copied,
        [".env", ".env.local", ".idea/workspace.xml", "cache/keep.txt", "src/.env"].map(String::from).into()
    );
    assert_eq!(std::fs::read_to_string(worktree.join("src/.env")).unwrap(), "nested=1\n");
    // Tracked files come from the branch, never from the main worktree.
    assert_eq!(std::fs::read_to_string(worktree.join("config.json")).unwrap(), "{\"tracked\": true}\n");

    // Every copied byte is accounted for, written or cloned (reflinked) as the file system allows.
    let total: u64 = expected.iter().map(|f| std::fs::metadata(repo.join(f)).unwrap().len()).sum();
    let bytes = &spawned["bytes"];
    assert_eq!(bytes["written"].as_u64().unwrap() + bytes["cloned"].as_u64().unwrap(), total, "{spawned:#}");
    let names: Vec<&str> = spawned["copied"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names, [".env", ".env.local", ".idea", "cache/keep.txt", "src/.env"]);
    let text = env.agent(&repo, &["spawn", "u"]).success();
    assert!(text.stderr.contains("copied 5 file(s) (") && text.stderr.contains(" written, "), "{text:#?}");

    // The copies are spawn's: prune removes the task without calling them precious; a file
    // the agent made beside them in an ignored directory is not spawn's.
    write(&worktree.join("cache/made-by-the-agent.txt"), "mine\n");
    env.agent(&repo, &["prune", "t"]).code(3).stdout_has("ignored files git-agent did not put there: cache");
    std::fs::remove_file(worktree.join("cache/made-by-the-agent.txt")).unwrap();
    env.agent(&repo, &["prune", "t"]).success();
    assert!(!worktree.exists());
    assert!(repo.join(".env").exists() && repo.join("cache/keep.txt").exists());
}

#[test]
fn without_a_worktreeinclude_only_agent_copy_copies() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[(".gitignore", ".env\n"), ("a.txt", "a\n")]);
    write(&repo.join(".env"), "KEY=1\n");
    let run = env.agent(&repo, &["spawn", "t", "--json"]).success();
    assert_eq!(run.json()["spawned"][0]["copied"], serde_json::json!([]));
    assert!(!agents_dir(&repo).join("t/.env").exists());
}

#[test]
fn agent_link_shares_the_main_worktrees_directory_and_prune_removes_only_the_link() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[(".gitignore", "/node_modules\n.venv\n"), ("src/a.txt", "a\n")]);
    write(&repo.join("node_modules/pkg/index.js"), "module.exports = 1;\n");
    env.git(&repo, &["config", "--add", "agent.link", "node_modules"]);
    env.git(&repo, &["config", "--add", "agent.link", ".venv/"]);
    let run = env.agent(&repo, &["spawn", "t", "--json"]).success();
    let spawned = &run.json()["spawned"][0];
    assert_eq!(spawned["linked"], serde_json::json!(["node_modules"]));
    assert!(run.stderr.contains("the main worktree has no .venv"), "{run:#?}");
    let worktree = agents_dir(&repo).join("t");
    let link = worktree.join("node_modules");
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), repo.join("node_modules"));
    assert_eq!(std::fs::read_to_string(link.join("pkg/index.js")).unwrap(), "module.exports = 1;\n");
    // git agrees the link is ignored: the task's worktree is clean.
    assert_eq!(env.git(&worktree, &["status", "--porcelain"]), "");

    env.agent(&repo, &["prune", "t", "--force"]).success();
    assert!(!worktree.exists());
    let survives = |when: &str| {
        assert_eq!(
            std::fs::read_to_string(repo.join("node_modules/pkg/index.js")).unwrap(),
            "module.exports = 1;\n",
            "the main worktree's directory survives {when}"
        )
    };
    survives("prune --force");

    // A spawn rolled back (its setup fails) removes its link, not what the link points to.
    env.git(&repo, &["config", "agent.setup", "exit 7"]);
    env.agent(&repo, &["spawn", "u"]).code(1).stderr_has("rolled back");
    assert!(agents_dir(&repo).join("u").symlink_metadata().is_err());
    survives("a rolled-back spawn");
}

#[test]
fn a_link_git_does_not_ignore_is_warned_about_and_a_tracked_one_refused() {
    let env = Env::new();
    // `node_modules/` matches directories only, and a link is not one: git shows it untracked.
    let repo = canonical_repo(&env, "repo", &[(".gitignore", "node_modules/\n"), ("src/a.txt", "a\n")]);
    write(&repo.join("node_modules/x.js"), "x\n");
    env.git(&repo, &["config", "agent.link", "node_modules"]);
    env.agent(&repo, &["spawn", "t"]).success().stderr_has("the link node_modules is not ignored by git");
    assert_eq!(env.git(&agents_dir(&repo).join("t"), &["status", "--porcelain"]), "?? node_modules\n");

    env.git(&repo, &["config", "agent.link", "src"]);
    let before = env.snapshot(&repo);
    env.agent(&repo, &["spawn", "u"]).code(2).stderr_has("agent.link \"src\" is tracked").stderr_has("hint:");
    assert_eq!(env.snapshot(&repo), before, "nothing was created");
    // Tracked on a dependency's branch, where a stacked task starts: refused too.
    env.git(&repo, &["config", "agent.link", "vendor"]);
    let t = agents_dir(&repo).join("t");
    write(&t.join("vendor/lib.js"), "lib\n");
    env.git(&t, &["add", "vendor"]);
    env.git(&t, &["commit", "-q", "-m", "vendor a library"]);
    env.agent(&repo, &["spawn", "u", "--after", "t"]).code(2).stderr_has("agent.link \"vendor\" is tracked");
    env.agent(&repo, &["spawn", "u", "--after", "t", "--from-base", "--no-setup"]).success();
    env.git(&repo, &["config", "agent.link", "../outside"]);
    env.agent(&repo, &["spawn", "w"]).code(2).stderr_has("not a relative path inside the worktree");
}

/// `GIT_AGENT_PORT` as specified: 32-bit FNV-1a of the name, into the range.
fn expected_port(name: &str, first: u32, last: u32) -> u32 {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    first + hash % (last - first + 1)
}

#[test]
fn every_task_gets_a_stable_port_in_agent_port_range() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.git(&repo, &["config", "agent.setup", "echo $GIT_AGENT_PORT > ../$GIT_AGENT_TASK.setup-port"]);
    let record_port = "echo $GIT_AGENT_PORT > ../$GIT_AGENT_TASK.port";
    let (alpha, beta) = (expected_port("alpha", 4100, 4999), expected_port("beta", 4100, 4999));
    assert_ne!(alpha, beta, "the test needs two names with different ports");
    for task in ["alpha", "beta"] {
        env.agent(&repo, &["spawn", task, "--", "sh", "-c", record_port]).success();
    }
    let read = |file: &str| std::fs::read_to_string(agents_dir(&repo).join(file)).unwrap().trim().to_owned();
    assert_eq!(read("alpha.port"), alpha.to_string());
    assert_eq!(read("alpha.setup-port"), alpha.to_string());
    assert_eq!(read("beta.port"), beta.to_string());
    let show = env.agent(&repo, &["show", "alpha", "--json"]).success().json();
    assert_eq!(show["port"], alpha);
    env.agent(&repo, &["show", "alpha"]).success().stdout_has(&format!("port {alpha}\n"));

    // A background agent gets the same port.
    bounded(&env, &repo, &["run", "beta", "--detach", "--", "sh", "-c", "echo $GIT_AGENT_PORT > ../beta.bg-port"])
        .success();
    wait_until("the background agent's exit", || {
        env.agent(&repo, &["show", "beta", "--json"]).success().json()["agent_exit"] == 0
    });
    assert_eq!(read("beta.bg-port"), beta.to_string());

    env.git(&repo, &["config", "agent.portRange", "5000-5009"]);
    env.agent(&repo, &["spawn", "gamma", "--", "sh", "-c", record_port]).success();
    assert_eq!(read("gamma.port"), expected_port("gamma", 5000, 5009).to_string());
    env.git(&repo, &["config", "agent.portRange", "5009-5000"]);
    env.agent(&repo, &["show", "alpha"]).code(2).stderr_has("agent.portRange");
}

/// Runs `script` in `shell` (no rc files) in `cwd`, with the test's environment.
pub(crate) fn shell(env: &Env, cwd: &Path, shell: &str, script: &str) -> Run {
    let args: &[&str] = match shell {
        "bash" => &["--norc", "--noprofile", "-c"],
        "zsh" => &["-f", "-c"],
        "fish" => &["--no-config", "-c"],
        _ => unreachable!(),
    };
    let out = env.command(shell, cwd).args(args).arg(script).output().unwrap_or_else(|err| {
        panic!("{shell} is needed for this test ({err}); .ci/run installs it (apt-get install {shell})")
    });
    Run::from(out)
}

#[test]
fn the_shell_function_makes_git_agent_cd_change_directory_in_bash_zsh_and_fish() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "db", "-q"]).success();
    let worktree = agents_dir(&repo).join("db");
    for name in ["bash", "zsh", "fish"] {
        let (load, status) = match name {
            "fish" => ("git agent setup --shell fish | source", "$status"),
            _ => (&*format!("eval \"$(git agent setup --shell {name})\""), "$?"),
        };
        let script = format!(
            "{load}\ngit agent cd db\npwd\ngit agent list >/dev/null && echo listed\ngit agent cd nope\necho status {status}\npwd\ngit --version >/dev/null && echo git-works\ncd /\ngit -C {repo} agent cd db\npwd\ngit -C {repo} status --short && echo plain-C\n",
            repo = repo.display()
        );
        let run = shell(&env, &repo, name, &script);
        let expected = format!("{w}\nlisted\nstatus 2\n{w}\ngit-works\n{w}\nplain-C\n", w = worktree.display());
        assert_eq!(run.stdout, expected, "{name}: {run:#?}");
        assert!(run.stderr.contains("nope"), "{name}: the unknown task is named: {run:#?}");
    }
    // Without the function, git-agent says how to load it.
    env.agent(&repo, &["cd", "db"]).code(2).stderr_has("git agent setup --shell bash");
}

/// An editor that writes its directory and arguments to `record`.
fn recording_editor(env: &Env, name: &str) -> (PathBuf, PathBuf) {
    let script = env.path().join(name);
    let record = env.path().join(format!("{name}.record"));
    write(
        &script,
        &format!("#!/bin/sh\npwd > {r}\nfor a in \"$@\"; do echo \"$a\" >> {r}; done\n", r = record.display()),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (script, record)
}

fn open(env: &Env, cwd: &Path, args: &[&str], vars: &[(&str, &Path)]) -> Run {
    let mut command = env.command("git", cwd);
    command.arg("agent").arg("open").args(args);
    for (key, value) in vars {
        command.env(key, value);
    }
    Run::from(command.output().unwrap())
}

#[test]
fn open_runs_agent_open_or_visual_or_editor_in_the_worktree() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("src/a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "db", "-q"]).success();
    let worktree = agents_dir(&repo).join("db");
    let (editor, editor_record) = recording_editor(&env, "editor");
    let (visual, visual_record) = recording_editor(&env, "visual");
    let (configured, configured_record) = recording_editor(&env, "configured");
    let expected = format!("{w}\n{w}\n", w = worktree.display());

    open(&env, &repo, &["db"], &[("EDITOR", &editor)]).success().stderr_has("with ").stderr_has("$EDITOR");
    assert_eq!(std::fs::read_to_string(&editor_record).unwrap(), expected);
    open(&env, &worktree.join("src"), &[], &[("EDITOR", &editor), ("VISUAL", &visual)]).success();
    assert_eq!(std::fs::read_to_string(&visual_record).unwrap(), expected, "VISUAL first, and the current task");
    env.git(&repo, &["config", "agent.open", configured.to_str().unwrap()]);
    open(&env, &repo, &["db"], &[("VISUAL", &visual)]).success().stderr_has("agent.open from ");
    assert_eq!(std::fs::read_to_string(&configured_record).unwrap(), expected);

    env.git(&repo, &["config", "--unset", "agent.open"]);
    open(&env, &repo, &["db"], &[]).code(2).stderr_has("no editor").stderr_has("agent.open");
    open(&env, &repo, &["db"], &[("EDITOR", Path::new("false"))]).code(1).stderr_has("failed");
    open(&env, &repo, &["nope"], &[("EDITOR", &editor)]).code(2);
}
