//! Man pages and completions: committed files are fresh, installable, and work with git.

use std::path::{Path, PathBuf};

use crate::common::*;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares generated files with the committed ones; `GIT_AGENT_BLESS=1` rewrites them.
fn check_fresh(dir: &Path, files: Vec<git_agent::docs::Generated>) -> Vec<String> {
    let bless = std::env::var_os("GIT_AGENT_BLESS").is_some();
    let mut stale = Vec::new();
    let expected: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !expected.contains(&name.as_str()) {
            if bless {
                std::fs::remove_file(entry.path()).unwrap();
            } else {
                stale.push(format!("{} is not generated any more", entry.path().display()));
            }
        }
    }
    for file in files {
        let path = dir.join(&file.name);
        if std::fs::read(&path).ok().as_deref() != Some(file.bytes.as_slice()) {
            if bless {
                std::fs::create_dir_all(dir).unwrap();
                std::fs::write(&path, &file.bytes).unwrap();
            } else {
                stale.push(format!("{} is stale", path.display()));
            }
        }
    }
    stale
}

#[test]
fn man_pages_and_completions_are_fresh() {
    let mut stale = check_fresh(&repo_root().join("man"), git_agent::docs::man_pages());
    stale.extend(check_fresh(&repo_root().join("completions"), git_agent::docs::completions()));
    assert!(
        stale.is_empty(),
        "regenerate with `GIT_AGENT_BLESS=1 cargo test --test integration docs`:\n{}",
        stale.join("\n")
    );
}

#[test]
fn every_binary_has_a_man_page_named_for_git_help() {
    let names: Vec<String> = git_agent::docs::man_pages().into_iter().map(|p| p.name).collect();
    for page in ["git-agent.1", "git-agent-spawn.1", "git-agent-list.1"] {
        assert!(names.iter().any(|n| n == page), "{page} missing from {names:?}");
    }
    let agent = git_agent::docs::man_pages().into_iter().find(|p| p.name == "git-agent.1").unwrap();
    let text = String::from_utf8(agent.bytes).unwrap();
    for section in ["EXIT STATUS", "STATE", "CONFIGURATION", "refs/agent/tasks"] {
        assert!(text.contains(section), "git-agent.1 lacks {section}");
    }
}

#[test]
fn setup_installs_idempotently_and_git_help_finds_the_man_page() {
    let env = Env::new();
    let prefix = env.path().join("prefix");
    let prefix_arg = prefix.to_str().unwrap();
    let first = env.agent(env.path(), &["setup", "--man-prefix", prefix_arg]).success();
    assert!(first.stdout.contains("installed"), "{first:#?}");
    assert!(prefix.join("share/man/man1/git-agent-spawn.1").is_file());
    let bash = env.path().join("home/.local/share/bash-completion/completions/git-agent");
    assert!(bash.is_file());
    assert!(env.path().join("home/.config/fish/completions/git-agent.fish").is_file());
    assert!(env.path().join("home/.local/share/zsh/site-functions/_git-agent").is_file());

    let second = env.agent(env.path(), &["setup", "--man-prefix", prefix_arg]).success();
    assert!(!second.stdout.contains("installed"), "second run must change nothing:\n{second:#?}");
    assert!(second.stdout.contains("unchanged"));

    // `git agent-spawn --help` makes git run `man git-agent-spawn`.
    let out = env
        .command("git", env.path())
        .args(["agent-spawn", "--help"])
        .env("MANPATH", prefix.join("share/man"))
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("--plan"), "man page not shown:\n{text}");
}

/// Every git-agent page a page refers to (SUBCOMMANDS, SEE ALSO) is one that exists: `cost`'s
/// page named git-agent-cost-add(1) before there was one.
#[test]
fn every_page_a_page_names_exists() {
    let pages: Vec<String> = git_agent::docs::man_pages().into_iter().map(|p| p.name).collect();
    for page in git_agent::docs::man_pages() {
        let text = String::from_utf8(page.bytes).unwrap().replace("\\-", "-").replace("\\fB", "").replace("\\fR", "");
        for (at, _) in text.match_indices("git-agent") {
            let name: String =
                text[at..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-').collect();
            if text[at + name.len()..].starts_with("(1)") {
                assert!(pages.contains(&format!("{name}.1")), "{} names {name}(1), which does not exist", page.name);
            }
        }
    }
}
