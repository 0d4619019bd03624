//! The `agent.*` settings, read once from git config and validated before anything is created.

use std::path::PathBuf;

use bstr::ByteSlice;

use crate::layout::{DEFAULT_BRANCH_PREFIX, key};

/// The `agent.*` settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub worktree_root: Option<PathBuf>,
    pub branch_prefix: String,
    pub base: Option<String>,
    pub setup: Option<String>,
    pub copy: Vec<String>,
    pub command: Option<String>,
}

impl Settings {
    pub fn read(repo: &gix::Repository) -> anyhow::Result<Settings> {
        let config = repo.config_snapshot();
        let string = |key: &str| config.string(key).map(|v| v.to_str_lossy().into_owned()).filter(|v| !v.is_empty());
        let worktree_root = config
            .trusted_path(key::WORKTREE_ROOT)
            .map_err(|err| anyhow::anyhow!("git config agent.worktreeRoot is not a usable path: {err}"))?;
        Ok(Settings {
            worktree_root,
            branch_prefix: string(key::BRANCH_PREFIX).unwrap_or_else(|| DEFAULT_BRANCH_PREFIX.to_owned()),
            base: string(key::BASE),
            setup: string(key::SETUP),
            copy: config
                .strings(key::COPY)
                .unwrap_or_default()
                .into_iter()
                .map(|v| v.to_str_lossy().into_owned())
                .filter(|v| !v.is_empty())
                .collect(),
            command: string(key::COMMAND),
        })
    }
}
