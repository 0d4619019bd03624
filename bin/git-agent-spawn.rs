//! `git agent-spawn`: create a task (see git-agent-spawn(1)).
fn main() {
    std::process::exit(git_agent::commands::git_agent_spawn_main());
}
