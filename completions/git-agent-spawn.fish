complete -c git-agent-spawn -l base -d 'Revision the branch starts from' -r
complete -c git-agent-spawn -l scope -d 'A pathspec the task owns; repeat for several. Changes outside it are flagged by `list`' -r
complete -c git-agent-spawn -l after -d 'A task this one depends on (must exist); repeat for several. The branch starts on the dependencies\' work (stacked), unless --from-base or agent.stack=false' -r
complete -c git-agent-spawn -l brief -d 'The agent\'s brief' -r
complete -c git-agent-spawn -l brief-file -d 'Read the brief from a file (`-` for standard input)' -r -F
complete -c git-agent-spawn -l acceptance -d 'An acceptance criterion; repeat for several' -r
complete -c git-agent-spawn -l kind -d 'The kind of work (lint, format, types, docs, rename, test-fix, architecture, debugging, security, or another word): `git agent cost` flags a kind spending on an unfit model' -r
complete -c git-agent-spawn -l protect -d 'A pathspec the task must not change (the tests written for it, say); repeat for several. A change to it is a hazard in list and conflicts, and integrate refuses it' -r
complete -c git-agent-spawn -l contract -d 'A pathspec of a shared contract (types, API definitions), committed on the base and read-only for the task; repeat for several. Guarded as --protect is' -r
complete -c git-agent-spawn -l constraint -d 'A constraint the agent is given, recorded and shown (e.g. "No new dependencies", which is checked against dependency manifests and lock files); repeat for several' -r
complete -c git-agent-spawn -l plan -d 'Create every task of a plan file (JSON) after validating the decomposition' -r -F
complete -c git-agent-spawn -l variants -d 'Spawn K variants TASK.1 ... TASK.K of the task (2 to 16), with one brief, to compare (git agent compare) and converge (git agent converge)' -r
complete -c git-agent-spawn -l variant-command -d 'One variant\'s agent command, a command line split as agent.command is; give it once per variant (exactly K times), in order, or not at all' -r
complete -c git-agent-spawn -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent-spawn -l color -d 'When to colour the output' -r -f -a "auto\t'Colour where git config color.agent or color.ui says so, else on a terminal unless NO_COLOR is set'
always\t''
never\t''"
complete -c git-agent-spawn -l from-base -d 'Start from the base even when dependencies have commits (the default when agent.stack=false)'
complete -c git-agent-spawn -l stack -d 'Stack on the dependencies\' work even when agent.stack=false'
complete -c git-agent-spawn -l gate -d 'Start behind the plan review gate (the default when agent.gate=true): the agent proposes a plan (git agent propose) and waits for git agent approve'
complete -c git-agent-spawn -l check -d 'Only validate (the plan, or the task\'s name, base and dependencies); create nothing'
complete -c git-agent-spawn -l allow-overlap -d 'Accept scopes that overlap between tasks of a plan (reported as warnings)'
complete -c git-agent-spawn -l no-setup -d 'Do not run agent.setup in the new worktree'
complete -c git-agent-spawn -l no-agent -d 'Do not start the agent even if agent.command is set'
complete -c git-agent-spawn -l detach -d 'Start the agent in the background (its own session, output to its log) and return at once; see git agent run'
complete -c git-agent-spawn -l tmux -d 'Start the agent in a tmux window named after the task (the default when agent.terminal=tmux); see git agent run'
complete -c git-agent-spawn -l json -d 'Print machine-readable JSON on stdout instead of text; an error is a JSON object there too (schemas: `git agent schema`)'
complete -c git-agent-spawn -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent-spawn -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent-spawn -s V -l version -d 'Print version'
