//! The umbrella's dispatch: `git agent <sub>` runs a built-in, or `git-agent-<sub>` found next
//! to the running binary first, then on PATH, like cargo runs `cargo-foo`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::CommandFactory;

use crate::cli::{AgentCli, WORKFLOW};
use crate::error::{Exit, bad_input};
use crate::output::{GlobalArgs, Ui};

const EXTERNAL_PREFIX: &str = "git-agent-";

/// `git agent` alone: the workflow in a few lines, and what can be run.
pub fn overview(ui: &Ui) -> anyhow::Result<Exit> {
    let mut text = String::from("git agent: run many coding agents in parallel, one worktree and branch each.\n\n");
    text.push_str(WORKFLOW);
    text.push_str("\n\nCommands:\n");
    for (name, about) in builtins() {
        text.push_str(&format!("  {name:<12} {about}\n"));
    }
    for name in externals() {
        if !builtins().iter().any(|(builtin, _)| *builtin == name) {
            text.push_str(&format!("  {name:<12} (git-agent-{name})\n"));
        }
    }
    text.push_str("\nSee `git agent <command> --help`, and `man git-agent`.\n");
    ui.data(&text);
    Ok(Exit::Success)
}

fn builtins() -> Vec<(String, String)> {
    AgentCli::command()
        .get_subcommands()
        .map(|sub| {
            let mut about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            // As clap's --help shows them (the about itself never names the alias).
            for alias in sub.get_visible_aliases() {
                about.push_str(&format!(" [alias: {alias}]"));
            }
            (sub.get_name().to_owned(), about)
        })
        .collect()
}

/// Names of `git-agent-*` programs next to this binary and on PATH.
fn externals() -> Vec<String> {
    let mut dirs: Vec<PathBuf> = own_dir().into_iter().collect();
    dirs.extend(
        std::env::var_os("PATH").map(|path| std::env::split_paths(&path).collect::<Vec<_>>()).unwrap_or_default(),
    );
    let mut names: Vec<String> = dirs
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|file| file.strip_prefix(EXTERNAL_PREFIX).map(|s| s.trim_end_matches(".exe").to_owned()))
        .filter(|name| is_plain_name(name))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn own_dir() -> Option<PathBuf> {
    std::env::current_exe().ok()?.parent().map(ToOwned::to_owned)
}

/// Sub-command names that may become part of a program name: no paths, no options.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Finds `git-agent-<name>`: next to this binary first, then on PATH.
fn find_external(name: &str) -> Option<PathBuf> {
    let program = format!("{EXTERNAL_PREFIX}{name}");
    if let Some(dir) = own_dir() {
        let candidate = dir.join(&program);
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    which::which(&program).ok()
}

/// Runs an external sub-command with the remaining arguments and returns its exit status.
pub fn external(global: &GlobalArgs, args: Vec<OsString>) -> anyhow::Result<Exit> {
    let name = args[0].to_string_lossy().into_owned();
    let found = if is_plain_name(&name) { find_external(&name) } else { None };
    let Some(program) = found else {
        return Err(unknown_command(&name, global.json || asks_for_json(&args)).into());
    };
    // A git-agent sub-command is git-agent itself: like git's own dispatch, it keeps the
    // caller's terminal, and GIT_DIR / GIT_WORK_TREE still name the repository the user meant
    // (the sub-command honours them as git does; see `crate::git::open`).
    let mut run = crate::process::Run::new(&program, &std::env::current_dir()?)
        .timeout(None)
        .capture(crate::process::Capture::Terminal)
        .keep_repository_env();
    if let Some(dir) = &global.directory {
        run = run.arg("-C").arg(dir);
    }
    if global.json {
        run = run.arg("--json");
    }
    if global.quiet {
        run = run.arg("-q");
    }
    run = run.arg(format!(
        "--color={}",
        match global.color {
            crate::output::ColorChoice::Auto => "auto",
            crate::output::ColorChoice::Always => "always",
            crate::output::ColorChoice::Never => "never",
        }
    ));
    let outcome =
        run.args(&args[1..]).run().map_err(|err| anyhow::anyhow!("cannot run {}: {err:#}", program.display()))?;
    // Pass the exit status through unchanged, including codes outside our own table.
    let code = crate::process::exit_code(outcome.status);
    std::process::exit(code);
}

/// Whether the arguments after the first (a command line, or an external sub-command's: clap
/// leaves those to it, but an error of the umbrella's own must be JSON then too) ask for JSON.
pub fn asks_for_json(args: &[OsString]) -> bool {
    args.iter().skip(1).take_while(|arg| *arg != "--").any(|arg| arg == "--json")
}

fn unknown_command(name: &str, json: bool) -> crate::error::Fail {
    // The shell function passes `git agent cd --json` on here: no directory is JSON.
    if name == "cd" && json {
        return crate::error::no_json_output("cd").hint("`git agent path --json TASK` gives the worktree");
    }
    // `git agent cd` is the shell function's: a program cannot change its shell's directory.
    if name == "cd" {
        return bad_input("`git agent cd` needs git-agent's shell function, which is not loaded here").hint(
            "add eval \"$(git agent setup --shell bash)\" to ~/.bashrc (or zsh, fish: see git-agent-setup(1)); \
             meanwhile: cd \"$(git agent path TASK)\"",
        );
    }
    let mut candidates: Vec<String> = builtins().into_iter().map(|(n, _)| n).collect();
    candidates.push("status".into());
    candidates.extend(externals());
    let best = candidates.iter().map(|c| (edit_distance(name, c), c)).filter(|(d, c)| *d <= 2.max(c.len() / 3)).min();
    let error = bad_input(format!("'{name}' is not a git agent command"));
    match best {
        Some((_, suggestion)) => error.hint(format!("did you mean `git agent {suggestion}`?")),
        None => error.hint("run `git agent` to see the commands"),
    }
}

/// Levenshtein distance, for did-you-mean suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("spwan", "spawn"), 2);
        assert_eq!(edit_distance("lst", "list"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn suggests_the_nearest_command() {
        assert!(unknown_command("spwan", false).hint.unwrap().contains("git agent spawn"));
        assert!(unknown_command("lsit", false).hint.unwrap().contains("git agent list"));
        assert!(!unknown_command("xyzzy-frobnicate", false).hint.unwrap().contains("did you mean"));
    }

    #[test]
    fn refuses_names_that_are_paths_or_options() {
        assert!(!is_plain_name("../x"));
        assert!(!is_plain_name("-x"));
        assert!(!is_plain_name("a/b"));
        assert!(is_plain_name("conflicts"));
    }
}
