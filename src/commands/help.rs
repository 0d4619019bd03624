//! `git agent help [COMMAND]`: the manual page, as `git help` shows it, or the long help text
//! where man cannot show it.

use std::io::IsTerminal;

use clap::CommandFactory;

use crate::cli::{AgentCli, HelpArgs};
use crate::error::{Exit, bad_input};
use crate::output::Ui;
use crate::process::{Capture, Run};

pub fn run(ui: &Ui, args: HelpArgs) -> anyhow::Result<Exit> {
    if ui.json {
        return Err(crate::error::no_json_output("help")
            .hint("`git agent schema CMD` prints the JSON Schema of a command's --json output")
            .into());
    }
    let mut cli = AgentCli::command();
    // Built, so that the global options and the binary name show in the subcommand's help.
    cli.build();
    // `help cost add`: each name a subcommand of the one before; the page is git-agent-cost-add.
    let mut command = cli;
    let mut page = "git-agent".to_owned();
    for name in &args.command {
        command = find(&command, name)?.clone();
        page = format!("{page}-{}", command.get_name());
    }
    if std::io::stdout().is_terminal() && show_man_page(&page)? {
        return Ok(Exit::Success);
    }
    let help = command.clone().render_long_help();
    ui.data(&if ui.color { format!("{}\n", help.ansi()) } else { format!("{help}\n") });
    Ok(Exit::Success)
}

/// The subcommand `name` (or one of its aliases: `status` is `list`).
fn find<'a>(cli: &'a clap::Command, name: &str) -> anyhow::Result<&'a clap::Command> {
    cli.find_subcommand(name).ok_or_else(|| {
        let names: Vec<&str> =
            cli.get_subcommands().filter(|sub| !sub.is_hide_set()).map(|sub| sub.get_name()).collect();
        let parent = cli.get_bin_name().unwrap_or("git agent");
        bad_input(format!("'{name}' is not a {parent} command"))
            .hint(format!("the commands: {}", names.join(", ")))
            .into()
    })
}

/// Shows `page` through man(1) on the terminal; false when man or the page is not installed.
fn show_man_page(page: &str) -> anyhow::Result<bool> {
    let dir = std::env::current_dir()?;
    // `man -w` finds the page without showing anything: a missing page falls back to --help.
    let installed = Run::new("man", &dir).args(["-w", page]).capture(Capture::Tail(4096)).run();
    if !installed.is_ok_and(|outcome| outcome.status.success()) {
        return Ok(false);
    }
    let shown = Run::new("man", &dir).arg(page).timeout(None).capture(Capture::Terminal).run()?;
    Ok(shown.status.success())
}
