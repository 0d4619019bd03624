//! `git agent-integrate`: merge the done tasks in dependency order (see git-agent-integrate(1)).
fn main() {
    std::process::exit(git_agent::commands::git_agent_integrate_main());
}
