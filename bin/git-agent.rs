//! `git agent`: the umbrella command (see git-agent(1)).
fn main() {
    std::process::exit(git_agent::commands::git_agent_main());
}
