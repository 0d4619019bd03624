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
//!   trees; gix's default is the index (defect 11).

use bstr::ByteSlice;

/// git's rename limit for merges when none is configured (merge-ort.c).
pub const DEFAULT_RENAME_LIMIT: usize = 7000;

/// The merge settings, as git reads them for `git merge-tree`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeConfig {
    pub renames: bool,
    pub rename_limit: usize,
    pub renormalize: bool,
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
        MergeConfig { renames, rename_limit: limit, renormalize }
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
        let mut filter_options = gix::filter::Pipeline::options(repo)?;
        filter_options.drivers.clear();
        filter_options.crlf_roundtrip_check = gix::filter::plumbing::pipeline::CrlfRoundTripCheck::Skip;
        let filter = gix::filter::plumbing::Pipeline::new(repo.command_context()?, repo.object_hash(), filter_options);
        let pipeline = gix::merge::blob::Pipeline::new(
            Default::default(),
            filter,
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
