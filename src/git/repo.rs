//! Repository discovery and identity: which repository git-agent works on, and who it writes as.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bstr::ByteSlice;
use gix::ObjectId;
use gix::refs::FullName;

use crate::error::{Fail, bad_input, refused};

/// Opens the repository git would work on, and refuses repositories that git-agent cannot
/// serve safely. Like git: `-C dir` applies first, then `GIT_DIR` (with `GIT_WORK_TREE`,
/// `GIT_INDEX_FILE`, ...) names the repository; without it the repository is found upwards
/// from the directory (honouring `GIT_CEILING_DIRECTORIES`).
pub fn open(dir: Option<&Path>) -> anyhow::Result<gix::Repository> {
    let shown = dir.unwrap_or(Path::new("."));
    let repo = discover(dir).map_err(|err| {
        // The last cause says what is wrong (for example "Object format is not enabled in this build").
        let cause = err.iter_errors().last().map(|e| e.to_string()).unwrap_or_else(|| err.to_string());
        if err.is_unsupported() || cause.contains("Object format") {
            refused(format!("git-agent cannot work with the repository at {}: {cause}", shown.display()))
                .hint("git-agent supports SHA-1 repositories with the \"files\" ref storage")
        } else {
            refused(format!("not in a git repository: {} ({cause})", shown.display()))
                .hint("run the command inside a repository, or point -C at one")
        }
    })?;
    check_trusted(&repo)?;
    check_supported(&repo)?;
    let run_hooks = repo.config_snapshot().boolean(crate::layout::key::RUN_HOOKS).unwrap_or(false);
    crate::process::set_run_hooks(run_hooks);
    if !has_committer_identity(&repo) {
        // Reflogs need an identity; like git, fall back to one instead of failing on a fresh
        // machine without user.name. Given as open options (not the user's configuration), so
        // that repositories gix derives from this one, like a new worktree's, keep it, and so
        // that [`user_committer`] can tell it from the user's: commits on the user's branches
        // never use it.
        let options = gix::open::Options::default()
            .config_overrides(["user.name=git-agent", "user.email=git-agent@localhost"])
            .cli_overrides(command_line_config());
        let workdir_or_git_dir = repo.workdir().unwrap_or(repo.git_dir()).to_owned();
        return Ok(gix::open_opts(workdir_or_git_dir, options)?);
    }
    Ok(repo)
}

/// Finds the repository like git does, with its environment overrides; once per directory
/// and process. The colour decision and the command both need the repository: finding it
/// again would read every configuration file again, and (with GIT_DIR set) change into a
/// relative -C directory a second time, from inside it.
pub(crate) fn discover(dir: Option<&Path>) -> Result<gix::Repository, gix::Error> {
    static FOUND: std::sync::Mutex<Option<(Option<PathBuf>, gix::ThreadSafeRepository)>> = std::sync::Mutex::new(None);
    let key = dir.map(Path::to_path_buf);
    if let Some((found_for, repo)) = FOUND.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
        && *found_for == key
    {
        return Ok(repo.to_thread_local());
    }
    let repo = discover_uncached(dir)?;
    *FOUND.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, repo.clone()));
    Ok(repo.to_thread_local())
}

fn discover_uncached(dir: Option<&Path>) -> Result<gix::ThreadSafeRepository, gix::Error> {
    // Changed into once: a second search (after a failed first one) starts where it left off.
    static CHANGED_INTO: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let dir = match dir {
        // Relative GIT_DIR and GIT_WORK_TREE are relative to the -C directory, as in git
        // (which changes into it first). gix reads them relative to the current directory.
        Some(dir) if std::env::var_os("GIT_DIR").is_some() || std::env::var_os("GIT_WORK_TREE").is_some() => {
            if !CHANGED_INTO.swap(true, std::sync::atomic::Ordering::Relaxed) {
                std::env::set_current_dir(dir).map_err(gix::Error::from_error)?;
            }
            Path::new(".")
        }
        Some(dir) => dir,
        None => Path::new("."),
    };
    let mut options = gix::sec::trust::Mapping::<gix::open::Options>::default();
    options.full = options.full.cli_overrides(command_line_config());
    options.reduced = options.reduced.cli_overrides(command_line_config());
    gix::ThreadSafeRepository::discover_with_environment_overrides_opts(dir, Default::default(), options)
}

/// The `git -c key=value` settings git passes to `git agent` in `GIT_CONFIG_PARAMETERS`, as
/// `key=value` (or a bare `key`: true), for gix's `-c` overrides: gix reads `GIT_CONFIG_COUNT`
/// but not this variable. A malformed one is ignored (git would have refused it first).
pub fn command_line_config() -> Vec<String> {
    std::env::var("GIT_CONFIG_PARAMETERS").ok().and_then(|text| parse_config_parameters(&text)).unwrap_or_default()
}

/// git's encoding of `-c` settings: entries separated by spaces, each `'key'='value'` (git
/// 2.31 and later), `'key=value'` or `'key'` (older), shell-single-quoted (`'` as `'\''`).
fn parse_config_parameters(text: &str) -> Option<Vec<String>> {
    let mut entries = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some(entries);
        }
        let (mut key, mut value): (String, Option<String>) = (String::new(), None);
        while let Some(c) = chars.next_if(|c| !c.is_ascii_whitespace()) {
            let current = value.as_mut().unwrap_or(&mut key);
            match c {
                '\'' => loop {
                    match chars.next()? {
                        '\'' => break,
                        c => current.push(c),
                    }
                },
                '\\' => current.push(chars.next()?),
                '=' if value.is_none() => value = Some(String::new()),
                _ => return None,
            }
        }
        entries.push(match value {
            Some(value) => format!("{key}={value}"),
            // `'key=value'` (old style) is already whole; a bare `'key'` is an implicit true.
            None => key,
        });
    }
}

/// Refuses a repository git would refuse as "dubious ownership": owned by someone else and not
/// listed in `safe.directory`. Its configuration (`agent.setup`, `agent.test`, hooks) was
/// written by another user, so git-agent runs none of it, and does nothing else either.
fn check_trusted(repo: &gix::Repository) -> Result<(), Fail> {
    if repo.git_dir_trust() == gix::sec::Trust::Full {
        return Ok(());
    }
    let dir = repo.workdir().unwrap_or(repo.git_dir());
    let dir = normalise_path(dir);
    Err(refused(format!("detected dubious ownership in repository at {}: it is owned by another user", dir.display()))
        .hint(format!(
            "if you trust it, add an exception like git does: git config --global --add safe.directory {}",
            dir.display()
        )))
}

/// Refuses reftable ref storage (gix cannot write it) and non-SHA-1 object formats.
pub fn check_supported(repo: &gix::Repository) -> Result<(), Fail> {
    if let Some(storage) = repo.config_snapshot().string("extensions.refStorage")
        && storage != "files"
    {
        return Err(refused(format!(
            "this repository stores refs as {storage:?}; git-agent supports only the \"files\" ref storage"
        ))
        .hint("convert it with `git refs migrate --ref-format=files`"));
    }
    if repo.object_hash() != gix::hash::Kind::Sha1 {
        return Err(refused(format!(
            "this repository uses {:?} object names; git-agent supports only SHA-1 repositories",
            repo.object_hash()
        )));
    }
    Ok(())
}

/// The repository of the main worktree (or the bare repository), from any of its worktrees.
pub fn main_repo(repo: &gix::Repository) -> anyhow::Result<gix::Repository> {
    repo.main_repo().context("cannot open the main repository")
}

/// Resolves a user-supplied revision to a commit. Never passes it on as an option.
pub fn resolve_commit(repo: &gix::Repository, rev: &str) -> anyhow::Result<ObjectId> {
    if rev.starts_with('-') || rev.is_empty() {
        return Err(bad_input(format!("{rev:?} is not a revision")).into());
    }
    let id = repo.rev_parse_single(rev).map_err(|_| {
        if has_no_commits(repo) {
            bad_input(format!("this repository has no commits yet, so there is no {rev:?}"))
                .hint("make a first commit (for example: git commit --allow-empty -m 'Initial commit'), then try again")
        } else {
            bad_input(format!("revision {rev:?} not found")).hint("name a branch, tag or commit that exists")
        }
    })?;
    let commit = id
        .object()
        .and_then(|object| object.peel_to_commit())
        .map_err(|_| bad_input(format!("revision {rev:?} does not name a commit")))?;
    Ok(commit.id)
}

/// A fresh `git init`: HEAD is unborn and no branch exists anywhere (an orphan branch checked
/// out beside other branches is not "no commits").
fn has_no_commits(repo: &gix::Repository) -> bool {
    let unborn = repo.head().is_ok_and(|head| head.is_unborn());
    let no_branches = repo
        .references()
        .ok()
        .and_then(|refs| refs.local_branches().ok().map(|mut branches| branches.next().is_none()))
        .unwrap_or(false);
    unborn && no_branches
}

/// If `rev` names a local branch, its full ref name (`refs/heads/<rev>`).
pub fn local_branch(repo: &gix::Repository, rev: &str) -> Option<FullName> {
    let name = rev.strip_prefix("refs/heads/").unwrap_or(rev);
    let full = FullName::try_from(format!("refs/heads/{name}")).ok()?;
    repo.try_find_reference(full.as_ref()).ok().flatten().map(|_| full)
}

/// The identity for commits git-agent writes itself: the configured committer, else a fixed one.
pub fn signature(repo: &gix::Repository) -> anyhow::Result<gix::actor::Signature> {
    Ok(match repo.committer() {
        Some(sig) => sig.context("invalid committer identity")?.to_owned().context("invalid committer identity")?,
        None => gix::actor::Signature {
            name: "git-agent".into(),
            email: "git-agent@localhost".into(),
            time: gix::date::Time::now_local_or_utc(),
        },
    })
}

/// Is a committer name and email configured (any scope, environment included)? As gix's
/// `committer()` decides, without computing the time: that reads the local time zone, which
/// without TZ costs a walk of the zoneinfo directory, on every command, hooks included.
fn has_committer_identity(repo: &gix::Repository) -> bool {
    let config = repo.config_snapshot();
    let any = |keys: &[&str]| keys.iter().any(|key| config.string(key).is_some());
    any(&["committer.name", "user.name", "gitoxide.committer.nameFallback"])
        && any(&["committer.email", "user.email", "gitoxide.user.emailFallback", "gitoxide.committer.emailFallback"])
}

/// The committer identity the user configured (`user.*`, `committer.*`, `GIT_COMMITTER_*`,
/// any config scope), leaving out the fallback [`open`] installs for reflogs and record
/// commits: commits on the user's branches need a real one.
pub fn user_committer(repo: &gix::Repository) -> anyhow::Result<Option<gix::actor::Signature>> {
    let config = repo.config_snapshot();
    let users = |meta: &gix::config::file::Metadata| meta.source != gix::config::Source::Api;
    let first = |keys: &[&str]| keys.iter().find_map(|key| config.plumbing().string_filter(*key, users));
    let name = first(&["committer.name", "user.name", "gitoxide.committer.nameFallback"]);
    let email =
        first(&["committer.email", "user.email", "gitoxide.committer.emailFallback", "gitoxide.user.emailFallback"]);
    let (Some(name), Some(email)) = (name, email) else { return Ok(None) };
    Ok(Some(gix::actor::Signature { name, email, time: signature(repo)?.time }))
}

/// Canonical form of a path that may not exist yet: its deepest existing ancestor is
/// canonicalised and the rest appended, so paths compare reliably.
pub fn normalise_path(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest.iter().rev().fold(canonical, |acc: PathBuf, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Is `path` an existing directory with something in it?
pub fn is_non_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_some())
}

pub fn short_id(id: &ObjectId) -> String {
    id.to_hex_with_len(7).to_string()
}

pub fn bytes_to_string(bytes: &[u8]) -> String {
    bytes.to_str_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::parse_config_parameters;

    #[test]
    fn git_dash_c_settings_decode_as_git_encodes_them() {
        let parse = |text: &str| parse_config_parameters(text).unwrap();
        assert_eq!(parse("'color.ui'='always'"), ["color.ui=always"]);
        assert_eq!(parse(" 'a.b'='x y' 'c.d'='' "), ["a.b=x y", "c.d="]);
        // A quote inside a value, and `=` inside the value part.
        assert_eq!(parse(r"'a.b'='it'\''s=1'"), ["a.b=it's=1"]);
        // Old style, and a bare key (implicit true).
        assert_eq!(parse("'a.b=1' 'c.d'"), ["a.b=1", "c.d"]);
        assert_eq!(parse(""), Vec::<String>::new());
        assert_eq!(parse_config_parameters("'unterminated"), None);
        assert_eq!(parse_config_parameters("bare=word"), None);
    }
}
