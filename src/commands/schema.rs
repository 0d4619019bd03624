//! `git agent schema`: the JSON Schema of a command's `--json` output (see [`crate::schema`]).

use crate::cli::SchemaArgs;
use crate::error::{Exit, bad_input};
use crate::output::Ui;

pub fn run(ui: &Ui, args: SchemaArgs) -> anyhow::Result<Exit> {
    let Some(name) = args.command else {
        ui.data(&crate::schema::names().map(|name| format!("{name}\n")).collect::<String>());
        return Ok(Exit::Success);
    };
    let schema = crate::schema::schema(&name).ok_or_else(|| {
        bad_input(format!("no schema for {name:?}: it has no --json output, or is not a command"))
            .hint(format!("these have one: {}", crate::schema::names().collect::<Vec<_>>().join(", ")))
    })?;
    ui.data(&crate::schema::to_text(&schema));
    Ok(Exit::Success)
}
