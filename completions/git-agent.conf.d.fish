# Completion of `git agent ...` in fish: each asks the git-agent* binary.
function __git_agent_through_git -a subcommand
    set -l words (commandline -opc)
    set -e words[1]
    argparse -s (__fish_git_global_optspecs) -- $words 2>/dev/null
    or return
    set -l dir
    set -q _flag_C
    and set dir -C $_flag_C[-1]
    complete -C (string join ' ' -- git-$subcommand (string escape -- $dir $argv[2..]) (commandline -ct))
end
complete --command git --condition '__fish_git_using_command agent' --exclusive --keep-order --arguments '(__git_agent_through_git agent)'
complete --command git --condition '__fish_git_using_command agent-spawn' --exclusive --keep-order --arguments '(__git_agent_through_git agent-spawn)'
complete --command git --condition '__fish_git_using_command agent-conflicts' --exclusive --keep-order --arguments '(__git_agent_through_git agent-conflicts)'
complete --command git --condition '__fish_git_using_command agent-integrate' --exclusive --keep-order --arguments '(__git_agent_through_git agent-integrate)'
complete --command git --condition '__fish_git_using_command agent-prune' --exclusive --keep-order --arguments '(__git_agent_through_git agent-prune)'
