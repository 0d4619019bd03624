//! Dynamic shell completion through the shells' own machinery: bash-completion with git's
//! completion, an interactive zsh (compinit, zsh's `_git`) in tmux, and fish's `complete -C`,
//! each with the files `git agent setup` installed and the build directory on PATH.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

const TASKS: [&str; 3] = ["feature-a", "feature-b", "fix-c"];

/// A repository with three tasks, a second branch, a tag, a remote with a remote branch, and
/// the completion files installed into the test's HOME.
fn fixture() -> (Env, PathBuf) {
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", "a\n")]);
    for task in TASKS {
        env.agent(&repo, &["spawn", task, "-q"]).success();
    }
    env.git(&repo, &["branch", "maintenance"]);
    env.git(&repo, &["tag", "v1"]);
    env.git(&repo, &["remote", "add", "origin", "../elsewhere"]);
    env.git(&repo, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    let prefix = env.path().join("prefix");
    env.agent(&repo, &["setup", "--man-prefix", prefix.to_str().unwrap()]).success();
    (env, repo)
}

fn require(path: &str, what: &str) {
    assert!(Path::new(path).is_file(), "{path} is needed for this test: install {what} (.ci/run does)");
}

/// Completes `line` (the cursor at its end) in `cwd` as bash does: bash-completion loads the
/// completion of the line's command (git's, or the installed git-agent*), and its function
/// is called with COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT set. Returns COMPREPLY.
fn bash(env: &Env, cwd: &Path, line: &str) -> Vec<String> {
    bash_run(env.command("bash", cwd), line)
}

const BASH_COMPLETE: &str = r#"
source /usr/share/bash-completion/bash_completion
COMP_LINE=$1
COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
command=${COMP_WORDS[0]}
__load_completion "$command" || { echo "no completion for $command" >&2; exit 1; }
spec=$(complete -p "$command")
function=${spec##*-F }
"${function%% *}" "$command" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;

/// Completes `line` in `bash` (a command to run bash with), asserting that nothing reached
/// stderr.
fn bash_run(mut bash: std::process::Command, line: &str) -> Vec<String> {
    require("/usr/share/bash-completion/bash_completion", "bash-completion");
    let out = bash.args(["--norc", "-c", BASH_COMPLETE, "bash", line]).output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{line:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().split_whitespace().map(str::to_owned).collect()
}

/// The candidates that are not options.
fn values(candidates: Vec<String>) -> Vec<String> {
    candidates.into_iter().filter(|c| !c.starts_with('-')).collect()
}

#[test]
fn bash_completes_task_names_revisions_and_remotes_through_git_and_directly() {
    let (env, repo) = fixture();
    let cases: &[(&str, &[&str])] = &[
        ("git agent show f", &TASKS),
        ("git agent show fe", &["feature-a", "feature-b"]),
        ("git-agent show fi", &["fix-c"]),
        ("git agent done fi", &["fix-c"]),
        ("git agent spawn x --after fe", &["feature-a", "feature-b"]),
        ("git agent spawn x --base ma", &["main", "maintenance"]),
        ("git agent spawn x --base o", &["origin/main"]),
        ("git agent conflicts --target v", &["v1"]),
        ("git agent conflicts --into v", &["v1"]),
        ("git agent prune --into ma", &["main", "maintenance"]),
        ("git agent prune --merged-into ma", &["main", "maintenance"]),
        ("git agent integrate --into ma", &["main", "maintenance"]),
        ("git agent sync o", &["origin"]),
        // The binaries of their own, through git and directly.
        ("git agent-spawn x --after fi", &["fix-c"]),
        ("git agent-prune fe", &["feature-a", "feature-b"]),
        ("git-agent-integrate fi", &["fix-c"]),
        ("git-agent-conflicts --target ma", &["main", "maintenance"]),
        // spawn's TASK names a new task: no existing name is offered.
        ("git agent spawn fe", &[]),
        // Subcommands and options still come from the clap definitions.
        ("git agent sp", &["spawn"]),
        ("git-agent li", &["list"]),
        ("git agent spawn --pl", &["--plan"]),
    ];
    for (line, expected) in cases {
        assert_eq!(bash(&env, &repo, line), *expected, "completing {line:?}");
    }
    // Every other command that takes a task.
    for command in [
        "path",
        "open",
        "cd",
        "join",
        "restack",
        "run",
        "logs",
        "stop",
        "attach",
        "checkpoint",
        "handoff",
        "approve",
        "reject",
        "cost add",
        "report working",
        "ask x --task",
        "answer",
        "propose --task",
        "check-edit --task",
        "converge x --pick",
    ] {
        let line = format!("git agent {command} fi");
        assert_eq!(bash(&env, &repo, &line), ["fix-c"], "completing {line:?}");
    }
}

#[test]
fn bash_offers_the_revisions_and_tasks_git_lists() {
    let (env, repo) = fixture();
    let mut refs: Vec<String> = env
        .git(&repo, &["for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/tags", "refs/remotes"])
        .lines()
        .map(str::to_owned)
        .collect();
    refs.push("HEAD".into());
    refs.sort();
    let mut offered = values(bash(&env, &repo, "git agent spawn x --base "));
    offered.sort();
    assert_eq!(offered, refs);

    let tasks: Vec<String> = env
        .git(&repo, &["for-each-ref", "--format=%(refname)", "refs/agent/tasks"])
        .lines()
        .map(|name| name.trim_start_matches("refs/agent/tasks/").to_owned())
        .collect();
    assert_eq!(values(bash(&env, &repo, "git agent show ")), tasks);
}

#[test]
fn outside_a_repository_completion_offers_no_values_and_prints_nothing() {
    let (env, _repo) = fixture();
    let elsewhere = env.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    // `bash` asserts that nothing reached stderr.
    assert_eq!(values(bash(&env, &elsewhere, "git-agent show ")), Vec::<String>::new());
    assert_eq!(bash(&env, &elsewhere, "git-agent spawn x --base m"), Vec::<String>::new());
    // A broken repository (its .git names a directory that is not there) is no repository.
    let broken = env.path().join("broken");
    write(&broken.join(".git"), "gitdir: /nonexistent\n");
    assert_eq!(values(bash(&env, &broken, "git agent show ")), Vec::<String>::new());
    // Without git-agent on PATH the shell cannot ask it: no candidates, and no error either.
    let mut without = env.command("bash", &elsewhere);
    without.env("PATH", "/usr/bin:/bin");
    assert_eq!(bash_run(without, "git-agent show "), Vec::<String>::new());
    // `-C` points completion at the repository, as it points the command.
    assert_eq!(bash(&env, &elsewhere, "git-agent -C ../repo show fi"), ["fix-c"]);
}

/// Completes `line` with fish's `complete -C`, its configuration (and so the installed
/// completions) read from the test's HOME. Returns the candidates without descriptions.
fn fish(env: &Env, cwd: &Path, line: &str) -> Vec<String> {
    let command = format!("complete -C {}", fish_quote(line));
    let out = env.command("fish", cwd).args(["-c", &command]).output().expect("fish is needed for this test");
    assert!(out.status.success() && out.stderr.is_empty(), "{line:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().map(|l| l.split('\t').next().unwrap().to_owned()).filter(|c| !c.starts_with('-')).collect()
}

fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[test]
fn fish_completes_task_names_and_revisions_through_git_and_directly() {
    let (env, repo) = fixture();
    let cases: &[(&str, &[&str])] = &[
        ("git-agent show f", &TASKS),
        ("git agent show fe", &["feature-a", "feature-b"]),
        ("git agent spawn x --base ma", &["main", "maintenance"]),
        ("git agent spawn x --after fi", &["fix-c"]),
        ("git agent-spawn x --after fi", &["fix-c"]),
        ("git-agent-prune fe", &["feature-a", "feature-b"]),
        ("git agent sync o", &["origin"]),
    ];
    for (line, expected) in cases {
        assert_eq!(fish(&env, &repo, line), *expected, "completing {line:?}");
    }
    let elsewhere = env.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    assert_eq!(fish(&env, &elsewhere, "git agent show "), Vec::<String>::new());
    assert_eq!(fish(&env, &elsewhere, "git -C ../repo agent show fi"), ["fix-c"]);
    assert_eq!(fish(&env, &elsewhere, "git -C ../repo agent-prune fe"), ["feature-a", "feature-b"]);
}

/// An interactive shell in a tmux server of the test's own (killed at the end): what a user
/// types, bash splitting `--base=ma` at `=` and zsh autoloading `_git-agent` included.
struct Terminal<'a> {
    env: &'a Env,
    socket: PathBuf,
}

impl<'a> Terminal<'a> {
    fn start(env: &'a Env, cwd: &Path, shell: &[&str]) -> Terminal<'a> {
        let terminal = Terminal { env, socket: env.path().join("tmux.sock") };
        let size = ["-x", "160", "-y", "40"];
        let started = terminal.tmux().args(["new-session", "-d"]).args(size).arg("-c").arg(cwd).args(shell).status();
        assert!(started.expect("tmux is needed for this test").success(), "tmux could not start {shell:?}");
        terminal
    }

    /// An interactive zsh, with compinit on an fpath holding the installed `_git-agent*`.
    fn zsh(env: &'a Env, cwd: &Path) -> Terminal<'a> {
        require("/usr/share/zsh/functions/Completion/Unix/_git", "zsh (with its completion functions)");
        let zdotdir = env.path().join("zdotdir");
        write(
            &zdotdir.join(".zshrc"),
            "fpath=(~/.local/share/zsh/site-functions $fpath)\n\
             autoload -Uz compinit && compinit -u -d ~/.zcompdump\n\
             PS1='%% '\n",
        );
        Terminal::start(env, cwd, &["env", &format!("ZDOTDIR={}", zdotdir.display()), "zsh", "-i"])
    }

    /// An interactive bash with bash-completion, which loads the installed completions.
    fn bash(env: &'a Env, cwd: &Path) -> Terminal<'a> {
        require("/usr/share/bash-completion/bash_completion", "bash-completion");
        let rc = env.path().join("bashrc");
        write(&rc, "source /usr/share/bash-completion/bash_completion\nPS1='$ '\n");
        Terminal::start(env, cwd, &["bash", "--rcfile", rc.to_str().unwrap(), "-i"])
    }

    fn tmux(&self) -> std::process::Command {
        let mut tmux = self.env.command("tmux", self.env.path());
        tmux.arg("-S").arg(&self.socket).arg("-f").arg("/dev/null").stdout(Stdio::piped()).stderr(Stdio::null());
        tmux
    }

    fn pane(&self) -> String {
        String::from_utf8_lossy(&self.tmux().args(["capture-pane", "-p"]).output().unwrap().stdout).into_owned()
    }

    /// Types `keys` (tmux key names) on a fresh line and returns the screen once it shows
    /// every one of `expected`, or after giving up (the caller's assertion then shows it).
    fn type_until(&self, keys: &[&str], expected: &[&str]) -> String {
        self.tmux().args(["send-keys", "C-u", "C-l"]).status().unwrap();
        self.tmux().arg("send-keys").args(keys).status().unwrap();
        let started = Instant::now();
        loop {
            let pane = self.pane();
            if expected.iter().all(|e| pane.contains(e)) || started.elapsed() > Duration::from_secs(30) {
                return pane;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types each case's keys and asserts that the screen shows what it expects.
    fn check(&self, cases: &[(&[&str], &[&str])]) {
        for (keys, expected) in cases {
            let pane = self.type_until(keys, expected);
            for e in *expected {
                assert!(pane.contains(e), "typing {keys:?}: {e:?} is not on the screen:\n{pane}");
            }
        }
    }
}

impl Drop for Terminal<'_> {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

#[test]
fn zsh_completes_task_names_and_revisions_through_git_and_directly() {
    let (env, repo) = fixture();
    let zsh = Terminal::zsh(&env, &repo);
    // A unique candidate is inserted; several are listed on the second TAB.
    zsh.check(&[
        (&["git agent show fi", "Tab"], &["% git agent show fix-c"]),
        (&["git agent show fe", "Tab", "Tab"], &["feature-a", "feature-b"]),
        (&["git-agent show fi", "Tab"], &["% git-agent show fix-c"]),
        (&["git agent spawn x --base mainte", "Tab"], &["% git agent spawn x --base maintenance"]),
        (&["git agent-spawn x --after fi", "Tab"], &["% git agent-spawn x --after fix-c"]),
        (&["git-agent-prune fi", "Tab"], &["% git-agent-prune fix-c"]),
        (&["git agent sync or", "Tab"], &["% git agent sync origin"]),
    ]);
    let pane = zsh.type_until(&["git agent show fe", "Tab", "Tab"], &["feature-a"]);
    assert!(!pane.contains("fix-c"), "only the candidates with the prefix are listed:\n{pane}");
}

#[test]
fn zsh_honours_git_dash_c() {
    let (env, _repo) = fixture();
    let elsewhere = env.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let zsh = Terminal::zsh(&env, &elsewhere);
    zsh.check(&[
        (&["git -C ../repo agent show fi", "Tab"], &["% git -C ../repo agent show fix-c"]),
        (
            &["git -C ../repo agent spawn x --base=mainte", "Tab"],
            &["% git -C ../repo agent spawn x --base=maintenance"],
        ),
        (&["git-agent -C ../repo show fi", "Tab"], &["% git-agent -C ../repo show fix-c"]),
    ]);
}

/// What the other bash tests cannot show: bash's own word splitting (`--base=ma` is three
/// words to bash) and git's `-C`.
#[test]
fn interactive_bash_completes_option_values_after_equals_and_honours_git_dash_c() {
    let (env, _repo) = fixture();
    let elsewhere = env.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let bash = Terminal::bash(&env, &elsewhere);
    bash.check(&[
        (
            &["git-agent -C ../repo spawn x --base=mainte", "Tab"],
            &["$ git-agent -C ../repo spawn x --base=maintenance"],
        ),
        (
            &["git -C ../repo agent spawn x --base=mainte", "Tab"],
            &["$ git -C ../repo agent spawn x --base=maintenance"],
        ),
        (&["git -C ../repo agent show fi", "Tab"], &["$ git -C ../repo agent show fix-c"]),
        (&["git -C ../repo agent-prune fi", "Tab"], &["$ git -C ../repo agent-prune fix-c"]),
    ]);
}

#[test]
fn compare_and_converge_complete_variant_groups_and_their_variants() {
    let (env, repo) = fixture();
    // Completion reads names only: refs stand in for the records spawn --variants writes.
    let record = env.git(&repo, &["rev-parse", "refs/agent/tasks/fix-c"]);
    for variant in ["grp.1", "grp.2", "grp.10"] {
        env.git(&repo, &["update-ref", &format!("refs/agent/tasks/{variant}"), record.trim()]);
    }
    assert_eq!(values(bash(&env, &repo, "git agent compare ")), ["grp"]);
    assert_eq!(bash(&env, &repo, "git agent converge g"), ["grp"]);
    assert_eq!(bash(&env, &repo, "git agent converge grp --pick grp."), ["grp.1", "grp.10", "grp.2"]);
}

#[test]
fn archive_completes_the_tasks_prune_archived() {
    let (env, repo) = fixture();
    // Completion reads names only: refs stand in for what prune --force archives.
    let head = env.git(&repo, &["rev-parse", "HEAD"]);
    for what in ["old/20260101T000000Z/branch", "old/20260102T000000Z/branch", "older/20260101T000000Z/head"] {
        env.git(&repo, &["update-ref", &format!("refs/agent/archive/{what}"), head.trim()]);
    }
    assert_eq!(values(bash(&env, &repo, "git agent archive drop ")), ["old", "older"]);
    assert_eq!(bash(&env, &repo, "git agent archive list ol"), ["old", "older"]);
    assert_eq!(bash(&env, &repo, "git agent archive list fi"), Vec::<String>::new());
}
