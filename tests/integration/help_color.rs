//! Exact help and colour per stream: man pages (SYNOPSIS value names, GLOBAL OPTIONS,
//! EXAMPLES, accepted by man(1) without warnings), `git agent help`, colour decided for stdout
//! and stderr apart (flag, color.agent, color.ui as git reads them, NO_COLOR, terminal), and
//! exit statuses that survive a reader closing stdout early.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::*;

const ESC: &str = "\u{1b}[";

fn pages() -> Vec<(String, String)> {
    git_agent::docs::man_pages().into_iter().map(|p| (p.name, String::from_utf8(p.bytes).unwrap())).collect()
}

/// The SYNOPSIS section of a page's roff source, as plain text (fonts and escapes removed).
fn synopsis(roff: &str) -> String {
    let start = roff.find(".SH SYNOPSIS\n").expect("a SYNOPSIS section") + ".SH SYNOPSIS\n".len();
    let end = roff[start..].find(".SH ").map_or(roff.len(), |i| start + i);
    roff[start..end].replace("\\fB", "").replace("\\fI", "").replace("\\fR", "").replace("\\-", "-").replace("\\ ", " ")
}

#[test]
fn every_synopsis_names_the_values_of_its_options() {
    let pages = pages();
    let mut checked = 0;
    for mut command in git_agent::cli::binaries() {
        command.build();
        let commands: Vec<(String, clap::Command)> = if command.get_name() == "git-agent" {
            let subs = command.get_subcommands().map(|sub| (format!("git-agent-{}.1", sub.get_name()), sub.clone()));
            subs.chain([("git-agent.1".to_owned(), command.clone())]).collect()
        } else {
            vec![(format!("{}.1", command.get_name()), command.clone())]
        };
        for (page, command) in commands {
            let Some((_, roff)) = pages.iter().find(|(name, _)| *name == page) else { continue };
            let text = synopsis(roff);
            for arg in command.get_opts().filter(|arg| !arg.is_hide_set()) {
                let value = arg.get_value_names().map_or(arg.get_id().to_string(), |names| names[0].to_string());
                let value = value.to_lowercase();
                let flag = match arg.get_long() {
                    Some(long) => format!("--{long}"),
                    None => format!("-{}", arg.get_short().unwrap()),
                };
                let optional_value = format!("{flag}[=<{value}>]");
                assert!(
                    text.contains(&format!("{flag} <{value}>")) || text.contains(&optional_value),
                    "{page}: SYNOPSIS lacks {flag} <{value}>:\n{text}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} options checked");
    let spawn = synopsis(&pages.iter().find(|(n, _)| n == "git-agent-spawn.1").unwrap().1);
    for expected in ["[-C <path>]", "[--color <when>]", "[--base <rev>]", "[--scope <pathspec>...]", "[<task>]"] {
        assert!(spawn.contains(expected), "git-agent-spawn.1 SYNOPSIS lacks {expected}:\n{spawn}");
    }
}

#[test]
fn every_page_documents_the_global_options_and_the_main_ones_have_examples() {
    for (name, roff) in pages() {
        let global = roff.find(".SH \"GLOBAL OPTIONS\"").unwrap_or_else(|| panic!("{name} lacks GLOBAL OPTIONS"));
        for option in ["\\fB\\-C\\fR", "\\fB\\-\\-color\\fR", "\\fB\\-\\-json\\fR", "\\fB\\-\\-quiet\\fR"] {
            assert!(roff[global..].contains(option), "{name}: GLOBAL OPTIONS lacks {option}");
        }
        assert_eq!(roff.matches("alias: status").count(), 0, "{name} still names the alias in the about text");
    }
    let pages = pages();
    let page = |name: &str| &pages.iter().find(|(n, _)| n == name).unwrap().1;
    for name in ["git-agent.1", "git-agent-spawn.1", "git-agent-conflicts.1", "git-agent-integrate.1"] {
        assert!(page(name).contains(".SH \"EXAMPLES\""), "{name} lacks EXAMPLES");
    }
    for name in ["git-agent-prune.1", "git-agent-list.1"] {
        assert!(page(name).contains(".SH \"EXAMPLES\""), "{name} lacks EXAMPLES");
    }
    assert!(page("git-agent.1").contains(".SH \"WORKFLOW\""));
    // The alias is named once, in the SYNOPSIS.
    assert_eq!(page("git-agent-list.1").matches("git agent status").count(), 1, "{}", page("git-agent-list.1"));
    // Arguments' doc comments keep their "Without TASK" sentence (a variant's doc would replace it).
    for name in ["git-agent-show.1", "git-agent-done.1", "git-agent-path.1"] {
        assert!(page(name).contains("Without TASK"), "{name} lost its \"Without TASK\" sentence");
    }
}

#[test]
fn man_renders_every_page_without_warnings() {
    let env = Env::new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut rendered = 0;
    for (name, _) in pages() {
        let out = env
            .command("man", &dir)
            .args(["-l", "--warnings", &name])
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .output()
            .expect("man(1) is needed (Debian: man-db)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && out.stderr.is_empty(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("GLOBAL OPTIONS") && text.contains("SYNOPSIS"), "{name} rendered:\n{text}");
        rendered += 1;
    }
    assert!(rendered > 30);
}

#[test]
fn help_prints_the_long_help_when_stdout_is_not_a_terminal() {
    let env = Env::new();
    let spawn = env.agent(env.path(), &["help", "spawn"]).success();
    assert!(spawn.stdout.contains("Usage: git-agent spawn") && spawn.stdout.contains("--plan <FILE>"), "{spawn:#?}");
    assert!(spawn.stdout.contains("Global options:"), "{spawn:#?}");
    env.agent(env.path(), &["help"]).success().stdout_has("Usage: git-agent [OPTIONS] [COMMAND]");
    // An alias finds its command.
    env.agent(env.path(), &["help", "status"]).success().stdout_has("Usage: git-agent list");
    let unknown = env.agent(env.path(), &["help", "spwan"]).code(2);
    assert!(unknown.stderr.contains("'spwan' is not a git agent command"), "{unknown:#?}");
    assert!(unknown.stderr.contains("hint:") && unknown.stderr.contains("spawn, list, conflicts"), "{unknown:#?}");
    // A nested command, as its page is named (git-agent-cost-add).
    env.agent(env.path(), &["help", "cost", "add"]).success().stdout_has("Usage: git-agent cost add");
    env.agent(env.path(), &["help", "cost", "nope"]).code(2).stderr_has("the commands: add, import");
}

/// Runs `script` (a shell command line) on a pseudo-terminal: stdout and stderr are the
/// terminal unless redirected. Returns what reached the terminal.
fn on_terminal(env: &Env, cwd: &Path, script: &str, vars: &[(&str, &str)]) -> String {
    let mut command = env.command("script", cwd);
    command.args(["-qec", script, "/dev/null"]).env_remove("NO_COLOR").env("TERM", "xterm").env("GIT_PAGER", "cat");
    for (key, value) in vars {
        command.env(key, value);
    }
    let out = command.stdin(Stdio::null()).output().expect("script(1) is needed (Debian: bsdutils)");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    without_overstrike(&String::from_utf8_lossy(&out.stdout))
}

/// `text` without the overstrike man(1) prints for bold and underline on a terminal
/// (`X\bX`, `_\bX`): what the reader sees.
fn without_overstrike(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn help_shows_the_man_page_on_a_terminal() {
    let env = Env::new();
    let man_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("man");
    // MANPATH holds the pages as `setup` installs them: man1/ under it.
    let manpath = env.path().join("share/man");
    std::fs::create_dir_all(&manpath).unwrap();
    std::os::unix::fs::symlink(&man_dir, manpath.join("man1")).unwrap();
    let vars = [("MANPATH", manpath.to_str().unwrap()), ("MANPAGER", "cat"), ("MANWIDTH", "80")];
    let shown = on_terminal(&env, env.path(), "git agent help conflicts", &vars);
    assert!(shown.contains("GLOBAL OPTIONS") && shown.contains("git-agent-conflicts"), "{shown}");
    let overview = on_terminal(&env, env.path(), "git agent help", &vars);
    assert!(overview.contains("WORKFLOW"), "{overview}");
    // Without the page installed: the long help, on the terminal too.
    let missing = on_terminal(&env, env.path(), "git agent help conflicts", &[("MANPATH", "/nonexistent")]);
    assert!(missing.contains("Usage:") && missing.contains("git-agent conflicts"), "{missing}");
    assert!(!missing.contains("GLOBAL OPTIONS"), "{missing}");
}

/// A repository with a task `t`, whose state `list` paints when colour is on.
fn repo_with_task(env: &Env) -> PathBuf {
    let repo = env.repo("repo", &[("a.txt", "a\n")]);
    env.agent(&repo, &["spawn", "t", "-q"]).success();
    repo
}

#[test]
fn color_flag_colours_both_streams_even_when_piped() {
    let env = Env::new();
    let repo = repo_with_task(&env);
    let plain = env.agent(&repo, &["list"]).success();
    assert!(!plain.stdout.contains(ESC), "{plain:#?}");
    let list = env.agent(&repo, &["--color", "always", "list"]).success();
    assert!(list.stdout.contains(ESC), "stdout not coloured: {list:#?}");
    let error = env.agent(&repo, &["--color", "always", "show", "nosuch"]).code(2);
    assert!(error.stderr.contains(ESC), "stderr not coloured: {error:#?}");
    let never = env.agent(&repo, &["--color", "never", "show", "nosuch"]).code(2);
    assert!(!never.stderr.contains(ESC), "{never:#?}");
}

/// Whether `git agent list` (in `repo`, piped or on a terminal) colours its output.
fn agent_colours(env: &Env, repo: &Path, terminal: bool) -> bool {
    if terminal {
        on_terminal(env, repo, "git agent list", &[]).contains(ESC)
    } else {
        let mut command = env.command("git", repo);
        let out = command.args(["agent", "list"]).env_remove("NO_COLOR").output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).contains(ESC)
    }
}

/// Whether `git branch` colours its output: the reference for how a colour setting is read.
fn git_colours(env: &Env, repo: &Path, terminal: bool) -> bool {
    if terminal {
        on_terminal(env, repo, "git branch", &[]).contains(ESC)
    } else {
        let out = env.command("git", repo).args(["branch"]).env_remove("NO_COLOR").output().unwrap();
        String::from_utf8_lossy(&out.stdout).contains(ESC)
    }
}

#[test]
fn color_ui_is_read_as_git_reads_it() {
    let env = Env::new();
    let repo = repo_with_task(&env);
    for value in [None, Some("always"), Some("never"), Some("auto"), Some("true"), Some("false"), Some("off")] {
        match value {
            Some(value) => env.git(&repo, &["config", "color.ui", value]),
            None => String::new(),
        };
        for terminal in [false, true] {
            assert_eq!(
                agent_colours(&env, &repo, terminal),
                git_colours(&env, &repo, terminal),
                "color.ui={value:?}, terminal: {terminal}"
            );
        }
    }
}

#[test]
fn color_agent_overrides_color_ui_and_no_color_only_auto() {
    let env = Env::new();
    let repo = repo_with_task(&env);
    env.git(&repo, &["config", "color.ui", "always"]);
    env.git(&repo, &["config", "color.agent", "never"]);
    assert!(!agent_colours(&env, &repo, true), "color.agent=never must win over color.ui=always");
    env.git(&repo, &["config", "color.ui", "never"]);
    env.git(&repo, &["config", "color.agent", "always"]);
    assert!(agent_colours(&env, &repo, false), "color.agent=always colours piped output");
    // The flag comes first.
    let flag = env.agent(&repo, &["--color", "never", "list"]).success();
    assert!(!flag.stdout.contains(ESC), "{flag:#?}");
    // NO_COLOR turns auto off on a terminal, and only auto.
    env.git(&repo, &["config", "--unset", "color.agent"]);
    env.git(&repo, &["config", "--unset", "color.ui"]);
    assert!(agent_colours(&env, &repo, true));
    assert!(!on_terminal(&env, &repo, "git agent list", &[("NO_COLOR", "1")]).contains(ESC));
    // -C names the repository whose configuration counts.
    env.git(&repo, &["config", "color.agent", "always"]);
    let elsewhere = env.agent(env.path(), &["-C", repo.to_str().unwrap(), "list"]).success();
    assert!(elsewhere.stdout.contains(ESC), "{elsewhere:#?}");
}

#[test]
fn each_stream_follows_its_own_terminal() {
    let env = Env::new();
    let repo = repo_with_task(&env);
    // stdout to a file, stderr on the terminal.
    let terminal = on_terminal(&env, &repo, "git agent list > out.txt; git agent show nosuch > out2.txt; true", &[]);
    assert!(terminal.contains(ESC) && terminal.contains("error:"), "stderr not coloured: {terminal}");
    let out = std::fs::read_to_string(repo.join("out.txt")).unwrap();
    assert!(out.contains('t') && !out.contains(ESC), "stdout is a file: {out:?}");
    // The other way round: stdout on the terminal, stderr to a file.
    let terminal = on_terminal(&env, &repo, "git agent list; git agent show nosuch 2> err.txt; true", &[]);
    assert!(terminal.contains(ESC), "stdout not coloured: {terminal}");
    let err = std::fs::read_to_string(repo.join("err.txt")).unwrap();
    assert!(err.contains("error:") && !err.contains(ESC), "stderr is a file: {err:?}");
}

/// Runs `git <args>` in `cwd` with stdout a pipe whose reader is already gone: the first write
/// fails with EPIPE, as under `| head -1` once head has exited.
fn with_closed_stdout(env: &Env, cwd: &Path, args: &[&str]) -> Run {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut command: Command = env.command("git", cwd);
    let out = command.args(args).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    Run::from(out)
}

#[test]
fn exit_status_that_means_something_survives_a_closed_stdout() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", "a\n"), ("src/db/a.rs", "x\n")]);
    for (task, content) in [("one", "one\n"), ("two", "two\n")] {
        env.agent(&repo, &["spawn", task, "-q", "--scope", "src/db"]).success();
        let wt = repo.with_file_name("repo.agents").join(task);
        env.commit(&wt, &[("a.txt", content)], task);
    }
    env.agent(&repo, &["conflicts"]).code(1);
    for args in [&["agent", "conflicts"][..], &["agent-conflicts"], &["agent", "conflicts", "--json"]] {
        let run = with_closed_stdout(&env, &repo, args).code(1);
        assert!(run.stderr.is_empty(), "{args:?} must finish quietly: {run:#?}");
    }
    let one = repo.with_file_name("repo.agents").join("one");
    env.agent(&one, &["check-edit", "a.txt"]).code(1);
    with_closed_stdout(&env, &one, &["agent", "check-edit", "a.txt"]).code(1);
    // A command whose status is 0 anyway stops at once, quietly.
    let list = with_closed_stdout(&env, &repo, &["agent", "list"]).success();
    assert!(list.stderr.is_empty(), "{list:#?}");
}

#[test]
fn a_closed_stdout_is_seen_through_a_real_pipe() {
    let env = Env::new();
    // More conflicting paths than a pipe holds (64 KiB), so that conflicts is still writing
    // when head has gone, however the two are scheduled.
    let names: Vec<String> = (0..1200)
        .map(|n| format!("src/a-long-directory-name-to-fill-the-pipe/file-{n:04}-with-a-rather-long-name.txt"))
        .collect();
    let base: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "a\n")).collect();
    let repo = env.repo("repo", &base);
    for (task, content) in [("one", "one\n"), ("two", "two\n")] {
        env.agent(&repo, &["spawn", task, "-q"]).success();
        let files: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), content)).collect();
        env.commit(&repo.with_file_name("repo.agents").join(task), &files, task);
    }
    let full = env.agent(&repo, &["conflicts"]).code(1);
    assert!(full.stdout.len() > 96 * 1024, "{} bytes only", full.stdout.len());
    let out = env
        .command("bash", &repo)
        .args(["-c", "git agent conflicts | head -c1 >/dev/null; echo \"${PIPESTATUS[0]}\""])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1", "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}
