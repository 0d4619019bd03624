//! `git agent hooks`: print the hook configuration that makes an agent report its status.

use crate::cli::{HookAgent, HooksArgs};
use crate::error::Exit;
use crate::output::Ui;

pub fn run(ui: &Ui, args: HooksArgs) -> anyhow::Result<Exit> {
    match args.agent {
        HookAgent::Claude => {
            let json = serde_json::to_string_pretty(&crate::ops::status::claude_hooks())?;
            ui.data(&format!("{json}\n"));
        }
        HookAgent::Codex => ui.data(&crate::ops::status::codex_notify()),
    }
    Ok(Exit::Success)
}
