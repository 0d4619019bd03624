//! How git-agent merges: one configuration, read once from git config with git's defaults
//! and git's meaning (`git merge-tree` is the specification), for every merge it makes.
//!
//! Where gix 0.90 reads a setting differently from git, the difference is handled here:
//! - rename detection: git reads `diff.renames`/`merge.renames` and `diff.renameLimit` then
//!   `merge.renameLimit` independently, and uses a limit of 7000 when none (or <= 0) is set;
//!   gix reads the limit only together with `*.renames`, with a default of 1000 (defect 09);
//! - the content merge: `git merge-tree` always uses the histogram diff, gix `diff.algorithm`;
//! - `merge.renormalize`: gix supports it, through its own pipeline, which git-agent builds
//!   without filter drivers (only the built-in end-of-line and encoding conversions run);
//! - attributes: `git merge-tree` reads `.gitattributes` from the worktree (and
//!   `$GIT_DIR/info/attributes`, `core.attributesFile`), never from the index or the merged
//!   trees; gix's default is the index (defect 11);
//! - merge drivers: git runs `merge.<driver>.driver`; git-agent runs none, anywhere (the gate,
//!   every integrate strategy, the dry run), so the platform is built with no driver and a path
//!   naming one merges as git does with that driver undefined. Drivers are commands anyone who
//!   can write the config or a worktree's `.gitattributes` can plant, and a dry run must give
//!   the real run's answer; `agent.resolve` rules are the printed, explicit way (defect 21).
//!
//! - `merge.directoryRenames` (`conflict` by default, `true`, `false`): gix has no such setting
//!   and detects directory renames its own way; git's detection and the three settings are
//!   reproduced in [`shims`], where every correction of gix's answers lives.
//!
//! Every merge goes through `crate::conflicts::MergeCaches` (commit merges, tree merges with a
//! given base, virtual merge bases), built from this configuration; no code calls gix's
//! `Repository::merge_trees`/`merge_commits`, which read the configuration gix's way.

pub mod settle;
pub mod shims;

use bstr::ByteSlice;

/// git's rename limit for merges when none is configured (merge-ort.c).
pub const DEFAULT_RENAME_LIMIT: usize = 7000;

/// The merge settings, as git reads them for `git merge-tree`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeConfig {
    pub renames: bool,
    pub rename_limit: usize,
    pub renormalize: bool,
    pub directory_renames: DirectoryRenames,
}

/// `merge.directoryRenames`: what a merge does with a file one side added into a directory
/// the other side renamed (see [`shims::directory_renames`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryRenames {
    /// Detect none: the file stays where it was added.
    False,
    /// Move the file along, cleanly.
    True,
    /// Move it along and report "CONFLICT (file location)": git's default for merges.
    Conflict,
}

impl MergeConfig {
    pub fn read(repo: &gix::Repository) -> MergeConfig {
        let config = repo.config_snapshot();
        let text = |key: &str| config.string(key).map(|v| v.to_str_lossy().trim().to_ascii_lowercase());
        // git: merge.* overrides diff.*; "copies" means renames (merges never detect copies).
        let renames = text("merge.renames").or_else(|| text("diff.renames")).and_then(|v| git_bool(&v)).unwrap_or(true);
        let limit = config
            .integer("merge.renameLimit")
            .or_else(|| config.integer("diff.renameLimit"))
            .filter(|limit| *limit > 0)
            .map_or(DEFAULT_RENAME_LIMIT, |limit| limit as usize);
        let renormalize = text("merge.renormalize").and_then(|v| git_bool(&v)).unwrap_or(false);
        // git: a boolean or "conflict"; anything else is ignored (values of later versions).
        let directory_renames = match text("merge.directoryRenames").as_deref() {
            Some("conflict") => DirectoryRenames::Conflict,
            // Rename words, not booleans, for this setting.
            Some("copies" | "copy") => DirectoryRenames::Conflict,
            Some(value) => match git_bool(value) {
                Some(true) => DirectoryRenames::True,
                Some(false) => DirectoryRenames::False,
                None => DirectoryRenames::Conflict,
            },
            None => DirectoryRenames::Conflict,
        };
        MergeConfig { renames, rename_limit: limit, renormalize, directory_renames }
    }

    /// The tree-merge options for gix: git's rename detection and diff algorithm.
    pub fn tree_options(&self, repo: &gix::Repository) -> anyhow::Result<gix::merge::plumbing::tree::Options> {
        let mut options: gix::merge::plumbing::tree::Options = repo.tree_merge_options()?.into();
        options.rewrites = self.renames.then_some(gix::diff::Rewrites {
            copies: None,
            percentage: Some(0.5),
            limit: self.rename_limit,
            track_empty: false,
        });
        options.blob_merge.text.diff_algorithm = gix::diff::blob::Algorithm::Histogram;
        Ok(options)
    }

    /// The blob-merge platform: attributes from the worktree as `git merge-tree` reads them,
    /// the built-in conversions only (no filter driver runs), renormalisation as configured,
    /// and no external merge drivers.
    pub fn blob_platform(&self, repo: &gix::Repository) -> anyhow::Result<gix::merge::blob::Platform> {
        use gix::worktree::stack::state::attributes::Source;
        let empty = gix::index::State::new(repo.object_hash());
        let source = Source::WorktreeThenIdMapping.adjust_for_bare(repo.workdir().is_none());
        let attributes = repo.attributes_only(&empty, source)?.detach();
        let pipeline = gix::merge::blob::Pipeline::new(
            Default::default(),
            builtin_filters(repo)?,
            gix::merge::blob::pipeline::Options { large_file_threshold_bytes: repo.big_file_threshold()? },
        );
        let mode = if self.renormalize {
            gix::merge::blob::pipeline::Mode::Renormalize
        } else {
            gix::merge::blob::pipeline::Mode::ToGit
        };
        let options =
            gix::merge::blob::platform::Options { default_driver: repo.config_snapshot().string("merge.default") };
        Ok(gix::merge::blob::Platform::new(pipeline, mode, attributes, Vec::new(), options))
    }
}

/// git's filter pipeline with the built-in conversions only (end of line, working-tree
/// encoding, ident): no configured filter driver (clean, smudge, process) ever runs.
fn builtin_filters(repo: &gix::Repository) -> anyhow::Result<gix::filter::plumbing::Pipeline> {
    let mut options = gix::filter::Pipeline::options(repo)?;
    options.drivers.clear();
    options.crlf_roundtrip_check = gix::filter::plumbing::pipeline::CrlfRoundTripCheck::Skip;
    Ok(gix::filter::plumbing::Pipeline::new(repo.command_context()?, repo.object_hash(), options))
}

/// What `git add` does to a file of a worktree before storing it, with the built-in
/// conversions only: attributes from that worktree's `.gitattributes`, the mode from the file
/// system (a symlink stays a link, the executable bit counts unless `core.fileMode=false`).
pub struct CleanConversion {
    repo: gix::Repository,
    filter: gix::filter::plumbing::Pipeline,
    attributes: gix::worktree::Stack,
    file_mode: bool,
}

impl CleanConversion {
    /// For the worktree at `worktree` (its own repository handle: its attributes, its config).
    pub fn for_worktree(worktree: &std::path::Path) -> anyhow::Result<CleanConversion> {
        use gix::worktree::stack::state::attributes::Source;
        let repo = gix::open(worktree)?;
        let empty = gix::index::State::new(repo.object_hash());
        let attributes = repo.attributes_only(&empty, Source::WorktreeThenIdMapping)?.detach();
        let filter = builtin_filters(&repo)?;
        let file_mode = repo.config_snapshot().boolean("core.fileMode").unwrap_or(true);
        Ok(CleanConversion { repo, filter, attributes, file_mode })
    }

    /// The entry `git add` would make of the file at `path` (relative to the worktree) as it
    /// is now, stored through `store`; `None` when it does not exist. `fallback` is the mode
    /// to keep when the file system cannot say (`core.fileMode=false`).
    pub fn entry(
        &mut self,
        path: &bstr::BStr,
        fallback: gix::objs::tree::EntryKind,
        store: &gix::Repository,
    ) -> anyhow::Result<Option<(gix::objs::tree::EntryKind, gix::ObjectId)>> {
        use gix::objs::tree::EntryKind;
        let relative = gix::path::from_bstr(path)?.into_owned();
        let file = self.repo.workdir().expect("a worktree").join(&relative);
        let metadata = match std::fs::symlink_metadata(&file) {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(anyhow::anyhow!(err).context(format!("cannot read {}", file.display()))),
        };
        if metadata.file_type().is_symlink() {
            let target = std::fs::read_link(&file)?;
            let target = gix::path::into_bstr(target)?.into_owned();
            return Ok(Some((EntryKind::Link, store.write_blob(target)?.detach())));
        }
        let kind = if !self.file_mode {
            match fallback {
                EntryKind::BlobExecutable => EntryKind::BlobExecutable,
                _ => EntryKind::Blob,
            }
        } else if is_executable(&metadata) {
            EntryKind::BlobExecutable
        } else {
            EntryKind::Blob
        };
        let bytes = std::fs::read(&file)
            .map_err(|err| anyhow::anyhow!(err).context(format!("cannot read {}", file.display())))?;
        let attributes = self.attributes.at_path(relative.as_path(), None, &self.repo.objects)?;
        let mut converted = Vec::new();
        match self.filter.convert_to_git(
            bytes.as_slice(),
            &relative,
            &mut |_, out| {
                attributes.matching_attributes(out);
            },
            &mut |_| Ok(None),
        )? {
            gix::filter::plumbing::pipeline::convert::ToGitOutcome::Unchanged(mut read) => {
                std::io::Read::read_to_end(&mut read, &mut converted)?;
            }
            gix::filter::plumbing::pipeline::convert::ToGitOutcome::Process(mut read) => {
                std::io::Read::read_to_end(&mut read, &mut converted)?;
            }
            gix::filter::plumbing::pipeline::convert::ToGitOutcome::Buffer(buffer) => {
                converted.extend_from_slice(buffer)
            }
        }
        Ok(Some((kind, store.write_blob(converted)?.detach())))
    }
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

/// git's boolean words (`git config --type=bool`), and "copies"/"copy", which mean true for
/// rename settings.
fn git_bool(value: &str) -> Option<bool> {
    match value {
        "" | "true" | "yes" | "on" | "1" | "copies" | "copy" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => value.parse::<i64>().ok().map(|n| n != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::git_bool;

    #[test]
    fn reads_booleans_as_git_does() {
        for yes in ["true", "yes", "on", "1", "copies", "copy", "", "2"] {
            assert_eq!(git_bool(yes), Some(true), "{yes}");
        }
        for no in ["false", "no", "off", "0"] {
            assert_eq!(git_bool(no), Some(false), "{no}");
        }
        assert_eq!(git_bool("maybe"), None);
    }
}
