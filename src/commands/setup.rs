//! `git agent setup`: install man pages and shell completions for the current user.
//!
//! Idempotent: files already up to date are left alone, and it says which it wrote where.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::SetupArgs;
use crate::docs::{self, Generated};
use crate::error::{Exit, refused};
use crate::output::Ui;

#[derive(Debug, Serialize)]
struct Installed {
    path: PathBuf,
    /// "installed", "updated", "unchanged", or "would install" with --dry-run.
    action: &'static str,
}

pub fn run(ui: &Ui, args: SetupArgs) -> anyhow::Result<Exit> {
    let targets = targets(&args)?;
    let mut installed = Vec::new();
    for (path, bytes) in targets {
        let action = install(&path, &bytes, args.dry_run)?;
        installed.push(Installed { path, action });
    }
    if ui.json {
        ui.json_data(&serde_json::json!({ "version": 1, "files": installed }));
    } else {
        for file in &installed {
            ui.data(&format!("{:<10} {}\n", file.action, file.path.display()));
        }
        ui.status(
            "man pages: `man git-agent` and `git agent-spawn --help` find them when the prefix's bin \
             directory is on PATH (otherwise add <prefix>/share/man to MANPATH)\n\
             bash: loaded on demand by bash-completion, for `git agent <TAB>` and `git-agent <TAB>`\n\
             zsh: add ~/.local/share/zsh/site-functions to fpath before compinit\n\
             fish: loaded automatically (conf.d/git-agent.fish for `git agent <TAB>`: start a new fish)\n\
             task names, revisions and remotes complete from the repository you are in",
        );
    }
    Ok(Exit::Success)
}

/// Every file to install, with its bytes.
fn targets(args: &SetupArgs) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or_else(|| refused("HOME is not set, so there is no user directory to install into"))?;
    let data = xdg_dir("XDG_DATA_HOME", &home, ".local/share");
    let config = xdg_dir("XDG_CONFIG_HOME", &home, ".config");
    let man_prefix = match &args.man_prefix {
        Some(prefix) => prefix.clone(),
        None => {
            // <prefix>/bin/git-agent -> <prefix>/share/man: man(1) searches there for PATH entries.
            let exe = std::env::current_exe().context("cannot find the running git-agent binary")?;
            exe.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| data.clone())
        }
    };
    let mut targets = Vec::new();
    for Generated { name, bytes } in docs::man_pages() {
        targets.push((man_prefix.join("share/man/man1").join(name), bytes));
    }
    for Generated { name, bytes } in docs::completions() {
        let path = if let Some(bin) = name.strip_suffix(".bash") {
            data.join("bash-completion/completions").join(bin)
        } else if name == docs::FISH_GIT_HOOK {
            config.join("fish/conf.d/git-agent.fish")
        } else if name.ends_with(".fish") {
            config.join("fish/completions").join(name)
        } else {
            data.join("zsh/site-functions").join(name)
        };
        targets.push((path, bytes));
    }
    Ok(targets)
}

fn xdg_dir(var: &str, home: &Path, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute()).unwrap_or_else(|| home.join(default))
}

fn install(path: &Path, bytes: &[u8], dry_run: bool) -> anyhow::Result<&'static str> {
    let existing = std::fs::read(path).ok();
    let action = match existing {
        Some(existing) if existing == bytes => return Ok("unchanged"),
        Some(_) => "updated",
        None => "installed",
    };
    if dry_run {
        return Ok(if action == "updated" { "would update" } else { "would install" });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Write beside and rename, so a shell never loads half a completion file.
    let temporary = path.with_extension("git-agent-tmp");
    std::fs::write(&temporary, bytes).with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(action)
}
