//! `git agent-conflicts`: check every pair of agent branches for conflicts (see git-agent-conflicts(1)).
fn main() {
    std::process::exit(git_agent::commands::git_agent_conflicts_main());
}
