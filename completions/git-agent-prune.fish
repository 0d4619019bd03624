complete -c git-agent-prune -l into -l merged-into -d 'What counts as merged (default: each task\'s base branch)' -r
complete -c git-agent-prune -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent-prune -l color -d 'When to colour the output' -r -f -a "auto\t'Colour where git config color.agent or color.ui says so, else on a terminal unless NO_COLOR is set'
always\t''
never\t''"
complete -c git-agent-prune -l all -d 'Consider every task, not only integrated ones (unmerged ones are still refused); with TASKs named, only those'
complete -c git-agent-prune -l dry-run -d 'Show what would be removed and refused; remove nothing'
complete -c git-agent-prune -l force -d 'Remove refused tasks too, after archiving their commits, uncommitted changes and ignored files (never skipping a check: only what was archived is removed)'
complete -c git-agent-prune -l discard-ignored -d 'Delete ignored files too large to archive (listed when prune refuses them)'
complete -c git-agent-prune -l scratch -d 'Remove every idle integrate slot (the scratch worktrees integrate keeps warm between runs) and leave the tasks alone'
complete -c git-agent-prune -l json -d 'Print machine-readable JSON on stdout instead of text; an error is a JSON object there too (schemas: `git agent schema`)'
complete -c git-agent-prune -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent-prune -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent-prune -s V -l version -d 'Print version'
