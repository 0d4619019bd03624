# Completion of `git agent ...` in fish: each asks the git-agent* binary.
complete --command git --condition '__fish_git_using_command agent' --exclusive --keep-order --arguments '(__fish_git_complete_custom_command agent)'
complete --command git --condition '__fish_git_using_command agent-spawn' --exclusive --keep-order --arguments '(__fish_git_complete_custom_command agent-spawn)'
complete --command git --condition '__fish_git_using_command agent-conflicts' --exclusive --keep-order --arguments '(__fish_git_complete_custom_command agent-conflicts)'
complete --command git --condition '__fish_git_using_command agent-integrate' --exclusive --keep-order --arguments '(__fish_git_complete_custom_command agent-integrate)'
complete --command git --condition '__fish_git_using_command agent-prune' --exclusive --keep-order --arguments '(__fish_git_complete_custom_command agent-prune)'
