//! One module per command. Each has a `run` that takes its parsed arguments, calls the
//! logic, and renders the result as text or JSON.

pub mod answer;
pub mod archive;
pub mod ask;
pub mod background;
pub mod check_edit;
pub mod checkpoint;
pub mod compare;
pub mod conflicts;
pub mod converge;
pub mod cost;
pub mod demo;
pub mod dispatch;
pub mod done;
pub mod gate;
pub mod handoff;
pub mod help;
pub mod hooks;
pub mod integrate;
pub mod join;
pub mod list;
pub mod open;
pub mod path;
pub mod prune;
pub mod report;
pub mod restack;
pub mod schema;
pub mod setup;
pub mod show;
pub mod spawn;
pub mod sync;
pub mod watch;

use clap::Parser;

use crate::cli::{AgentCli, AgentCommand, ConflictsCli, IntegrateCli, PruneCli, SpawnCli};
use crate::error::Exit;
use crate::output::{Ui, report_error, report_json_error};

/// `git-agent`: the umbrella. Returns the process exit code.
pub fn git_agent_main() -> i32 {
    if std::env::args_os().nth(1).is_some_and(|arg| arg == crate::cli::SUPERVISE) {
        crate::interrupt::install();
        let cli = crate::cli::SuperviseCli::parse_from(std::env::args_os().skip(1));
        let ui = Ui::new(&cli.global);
        return finish_supervisor(background::supervise(&cli.global, &ui, cli.supervise));
    }
    let cli: AgentCli = parse();
    let mut ui =
        Ui::new(&cli.global).keep_status_when_stdout_closes(cli.command.as_ref().is_some_and(status_means_something));
    // `git agent nosuch --json`: the flag is the external command's, the error the umbrella's.
    if let Some(AgentCommand::External(args)) = &cli.command {
        ui.json |= dispatch::asks_for_json(args);
    }
    if cli.command.as_ref().is_some_and(handles_signals) {
        crate::interrupt::install();
    }
    let result = match cli.command {
        None => dispatch::overview(&ui),
        Some(AgentCommand::Spawn(args)) => spawn::run(&cli.global, &ui, args),
        Some(AgentCommand::List(args)) => list::run(&cli.global, &ui, args),
        Some(AgentCommand::Conflicts(args)) => conflicts::run(&cli.global, &ui, args),
        Some(AgentCommand::Integrate(args)) => integrate::run(&cli.global, &ui, args),
        Some(AgentCommand::Prune(args)) => prune::run(&cli.global, &ui, args),
        Some(AgentCommand::Show(args)) => show::run(&cli.global, &ui, args),
        Some(AgentCommand::Path(args)) => path::run(&cli.global, &ui, args),
        Some(AgentCommand::Archive(args)) => archive::run(&cli.global, &ui, args),
        Some(AgentCommand::Watch(args)) => watch::run(&cli.global, &ui, args),
        Some(AgentCommand::Done(args)) => done::run(&cli.global, &ui, args),
        Some(AgentCommand::Join(args)) => join::run(&cli.global, &ui, args),
        Some(AgentCommand::Restack(args)) => restack::run(&cli.global, &ui, args),
        Some(AgentCommand::Sync(args)) => sync::run(&cli.global, &ui, args),
        Some(AgentCommand::Setup(args)) => setup::run(&ui, args),
        Some(AgentCommand::Demo(args)) => demo::run(&cli.global, &ui, args),
        Some(AgentCommand::Run(args)) => background::run(&cli.global, &ui, args),
        Some(AgentCommand::Logs(args)) => background::logs(&cli.global, &ui, args),
        Some(AgentCommand::Stop(args)) => background::stop(&cli.global, &ui, args),
        Some(AgentCommand::Attach(args)) => background::attach(&cli.global, &ui, args),
        Some(AgentCommand::Checkpoint(args)) => checkpoint::run(&cli.global, &ui, args),
        Some(AgentCommand::Handoff(args)) => handoff::run(&cli.global, &ui, args),
        Some(AgentCommand::Cost(args)) => cost::run(&cli.global, &ui, args),
        Some(AgentCommand::Report(args)) => report::run(&cli.global, &ui, args),
        Some(AgentCommand::Ask(args)) => ask::run(&cli.global, &ui, args),
        Some(AgentCommand::Answer(args)) => answer::run(&cli.global, &ui, args),
        Some(AgentCommand::Hooks(args)) => hooks::run(&ui, args),
        Some(AgentCommand::Compare(args)) => compare::run(&cli.global, &ui, args),
        Some(AgentCommand::Converge(args)) => converge::run(&cli.global, &ui, args),
        Some(AgentCommand::Propose(args)) => gate::propose(&cli.global, &ui, args),
        Some(AgentCommand::Approve(args)) => gate::approve(&cli.global, &ui, args),
        Some(AgentCommand::Reject(args)) => gate::reject(&cli.global, &ui, args),
        Some(AgentCommand::CheckEdit(args)) => check_edit::run(&cli.global, &ui, args),
        Some(AgentCommand::Help(args)) => help::run(&ui, args),
        Some(AgentCommand::Open(args)) => open::run(&cli.global, &ui, args),
        Some(AgentCommand::Schema(args)) => schema::run(&ui, args),
        Some(AgentCommand::External(args)) => dispatch::external(&cli.global, args),
    };
    finish(&ui, result)
}

/// The umbrella's commands that write, and external sub-commands (the umbrella waits for them
/// and passes their status on, as git does for `git agent`): a signal is recorded, never fatal.
fn handles_signals(command: &AgentCommand) -> bool {
    matches!(
        command,
        AgentCommand::Spawn(_)
            | AgentCommand::Integrate(_)
            | AgentCommand::Prune(_)
            | AgentCommand::Done(_)
            | AgentCommand::Join(_)
            | AgentCommand::Restack(_)
            | AgentCommand::Sync(_)
            | AgentCommand::External(_)
            | AgentCommand::Run(_)
            | AgentCommand::Logs(_)
            | AgentCommand::Stop(_)
            | AgentCommand::Checkpoint(_)
            | AgentCommand::Handoff(_)
            | AgentCommand::Report(_)
            | AgentCommand::Ask(_)
            | AgentCommand::Answer(_)
            | AgentCommand::Compare(_)
            | AgentCommand::Converge(_)
            | AgentCommand::Propose(_)
            | AgentCommand::Approve(_)
            | AgentCommand::Reject(_)
    ) || matches!(command, AgentCommand::Cost(args) if args.action.is_some())
}

/// Commands whose exit status carries a finding (1: conflicts found, a failed test, a failed
/// agent), or that must not stop half way: when stdout closes early they finish quietly and
/// exit with their own status. The others (list, show, logs -f) end at once with status 0.
fn status_means_something(command: &AgentCommand) -> bool {
    matches!(
        command,
        AgentCommand::Conflicts(_)
            | AgentCommand::CheckEdit(_)
            | AgentCommand::Integrate(_)
            | AgentCommand::Spawn(_)
            | AgentCommand::Restack(_)
            | AgentCommand::Sync(_)
            | AgentCommand::Prune(_)
    )
}

/// `git-agent-spawn`.
pub fn git_agent_spawn_main() -> i32 {
    crate::interrupt::install();
    let cli: SpawnCli = parse();
    let ui = Ui::new(&cli.global).keep_status_when_stdout_closes(true);
    finish(&ui, spawn::run(&cli.global, &ui, cli.spawn))
}

/// `git-agent-conflicts`.
pub fn git_agent_conflicts_main() -> i32 {
    let cli: ConflictsCli = parse();
    let ui = Ui::new(&cli.global).keep_status_when_stdout_closes(true);
    finish(&ui, conflicts::run(&cli.global, &ui, cli.conflicts))
}

/// `git-agent-integrate`.
pub fn git_agent_integrate_main() -> i32 {
    crate::interrupt::install();
    let cli: IntegrateCli = parse();
    let ui = Ui::new(&cli.global).keep_status_when_stdout_closes(true);
    finish(&ui, integrate::run(&cli.global, &ui, cli.integrate))
}

/// `git-agent-prune`.
pub fn git_agent_prune_main() -> i32 {
    crate::interrupt::install();
    let cli: PruneCli = parse();
    let ui = Ui::new(&cli.global).keep_status_when_stdout_closes(true);
    finish(&ui, prune::run(&cli.global, &ui, cli.prune))
}

/// The exit code: the command's, or 130 / 143 once a signal arrived (whatever the command had
/// finished by then, it reported).
fn finish(ui: &Ui, result: anyhow::Result<Exit>) -> i32 {
    match result {
        Ok(exit) => crate::interrupt::exit_code().unwrap_or(exit.code()),
        Err(err) => {
            let code = crate::interrupt::exit_code().unwrap_or(report_error(&err));
            if ui.json {
                report_json_error(&err, code);
            }
            code
        }
    }
}

/// The command line, parsed; a usage error exits 2 as clap does, and under `--json` also
/// prints the error object on stdout (help and `--version` are printed as usual).
fn parse<T: Parser>() -> T {
    // A shell asking for completions (see crate::complete) gets them instead of a run.
    if let Some(code) = crate::complete::complete_if_asked(T::command) {
        std::process::exit(code);
    }
    T::try_parse().unwrap_or_else(|err| {
        use clap::error::ErrorKind;
        let json = dispatch::asks_for_json(&std::env::args_os().collect::<Vec<_>>());
        if json && !matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            report_json_error(&anyhow::Error::new(usage_error(&err.render().to_string())), err.exit_code());
        }
        err.exit()
    })
}

/// clap's error text as message and hint. The text is paragraphs: "error: <message>" (which
/// may go on over lines: the arguments missing, the values possible), tips, "Usage: ...", and
/// "For more information, try '--help'.": the first is the message, the tips and usage the hint.
fn usage_error(text: &str) -> crate::error::Fail {
    let mut paragraphs = text.split("\n\n").map(str::trim).filter(|paragraph| !paragraph.is_empty());
    let first = paragraphs.next().unwrap_or_default();
    let message: Vec<&str> = first.lines().map(str::trim).collect();
    let error = crate::error::bad_input(message.join(" ").trim_start_matches("error: "));
    let hint: Vec<&str> = paragraphs.filter(|paragraph| !paragraph.starts_with("For more information")).collect();
    if hint.is_empty() { error } else { error.hint(hint.join("\n")) }
}

/// The supervisor's exit code: the agent's status, or the error's; the signals it got (they
/// were the agent's) do not change it.
fn finish_supervisor(result: anyhow::Result<Exit>) -> i32 {
    match result {
        Ok(exit) => exit.code(),
        Err(err) => report_error(&err),
    }
}

pub use crate::ops::Context;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_error_keeps_its_whole_first_paragraph() {
        let text = "error: the following required arguments were not provided:\n  <TASK|--plan <FILE>>\n\n\
                    Usage: git-agent spawn --json <TASK|--plan <FILE>>\n\nFor more information, try '--help'.\n";
        let error = usage_error(text);
        assert_eq!(error.message, "the following required arguments were not provided: <TASK|--plan <FILE>>");
        assert_eq!(error.hint.as_deref(), Some("Usage: git-agent spawn --json <TASK|--plan <FILE>>"));
        assert_eq!(usage_error("error: bad\n").hint, None);
    }
}
