complete -c git-agent-conflicts -l into -l target -d 'What the branches are merged into (default: the tasks\' base branch)' -r
complete -c git-agent-conflicts -l format -d 'Layout of the text output' -r -f -a "matrix\t'A compact N x N matrix with a legend, then the details of what conflicts'
list\t'One entry per pair and per branch with paths and kinds'"
complete -c git-agent-conflicts -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent-conflicts -l color -d 'When to colour the output' -r -f -a "auto\t'Colour where git config color.agent or color.ui says so, else on a terminal unless NO_COLOR is set'
always\t''
never\t''"
complete -c git-agent-conflicts -l include-uncommitted -d 'Also count each task worktree\'s uncommitted changes and untracked files (read, never touched)'
complete -c git-agent-conflicts -l pairwise -d 'Exit status from every pair, even when tasks have dependencies (no dependency-order view)'
complete -c git-agent-conflicts -l json -d 'Print machine-readable JSON on stdout instead of text; an error is a JSON object there too (schemas: `git agent schema`)'
complete -c git-agent-conflicts -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent-conflicts -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent-conflicts -s V -l version -d 'Print version'
