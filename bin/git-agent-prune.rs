//! `git agent-prune`: remove finished tasks without losing work (see git-agent-prune(1)).
fn main() {
    std::process::exit(git_agent::commands::git_agent_prune_main());
}
