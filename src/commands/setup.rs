//! `git agent setup`: install man pages, shell completions and the JSON Schemas of the
//! `--json` outputs for the current user.
//!
//! Idempotent: files already up to date are left alone, and it says which it wrote where.
//! `--shell` instead prints the shell function behind `git agent cd TASK`, for the user's rc
//! file to `eval` (as zoxide and worktrunk do: a program cannot change its shell's directory).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{SetupArgs, Shell};
use crate::docs::{self, Generated};
use crate::error::{Exit, refused};
use crate::output::Ui;

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Installed {
    path: PathBuf,
    /// "installed", "updated", "unchanged", or "would install" with --dry-run.
    action: &'static str,
}

pub fn run(ui: &Ui, args: SetupArgs) -> anyhow::Result<Exit> {
    if let Some(shell) = args.shell {
        if ui.json {
            return Err(crate::error::no_json_output("setup --shell").into());
        }
        ui.data(shell_function(shell));
        return Ok(Exit::Success);
    }
    let targets = targets(&args)?;
    let mut installed = Vec::new();
    for (path, bytes) in targets {
        let action = install(&path, &bytes, args.dry_run)?;
        installed.push(Installed { path, action });
    }
    if ui.json {
        ui.json_data(&SetupJson { version: 1, files: installed });
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
             task names, revisions and remotes complete from the repository you are in\n\
             JSON Schemas of --json outputs: in <data dir>/git-agent/schemas",
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
    // JSON Schemas of the --json outputs, for editors and validators (`git agent schema CMD`).
    for name in crate::schema::names() {
        let schema = crate::schema::schema(name).expect("a listed schema exists");
        let path = data.join("git-agent/schemas").join(format!("{name}.json"));
        targets.push((path, crate::schema::to_text(&schema).into_bytes()));
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

/// A `git` function that runs `git agent cd TASK...` as `cd "$(git agent path TASK...)"`
/// (no directory change when that fails) and every other command as `git` itself.
fn shell_function(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash | Shell::Zsh => POSIX_FUNCTION,
        Shell::Fish => FISH_FUNCTION,
    }
}

const POSIX_FUNCTION: &str = r#"# git-agent: `git agent cd TASK` goes to the task's worktree.
# Load it from your shell's rc file: eval "$(git agent setup --shell bash)" (or zsh)
git() {
    # `git -C DIR agent cd TASK`: the task of the repository at DIR.
    if [ "$#" -ge 4 ] && [ "$1" = -C ] && [ "$3" = agent ] && [ "$4" = cd ]; then
        local __git_agent_in="$2"
        shift 4
        set -- agent cd -C "$__git_agent_in" "$@"
    fi
    if [ "$#" -ge 2 ] && [ "$1" = agent ] && [ "$2" = cd ]; then
        shift 2
        # No directory is JSON: git-agent refuses --json for cd itself (an error object).
        case " $* " in *" --json "*) command git agent cd "$@"; return ;; esac
        local __git_agent_dir
        __git_agent_dir="$(command git agent path "$@")" || return
        builtin cd -- "$__git_agent_dir"
    else
        command git "$@"
    fi
}
"#;

const FISH_FUNCTION: &str = r#"# git-agent: `git agent cd TASK` goes to the task's worktree.
# Load it from ~/.config/fish/config.fish: git agent setup --shell fish | source
function git --wraps git --description 'git, and `git agent cd TASK` (git-agent)'
    # `git -C DIR agent cd TASK`: the task of the repository at DIR.
    if test (count $argv) -ge 4; and test "$argv[1]" = -C; and test "$argv[3]" = agent; and test "$argv[4]" = cd
        set -l rest $argv
        set -e rest[1..4]
        set argv agent cd -C $argv[2] $rest
    end
    if test (count $argv) -ge 2; and test "$argv[1]" = agent; and test "$argv[2]" = cd
        set -l rest $argv
        set -e rest[1..2]
        # No directory is JSON: git-agent refuses --json for cd itself (an error object).
        if contains -- --json $rest; command git agent cd $rest; return; end
        set -l dir (command git agent path $rest); or return
        builtin cd $dir
    else
        command git $argv
    end
end
"#;

/// `git agent setup --json`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct SetupJson {
    version: u32,
    files: Vec<Installed>,
}
