complete -c git-agent-integrate -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent-integrate -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent-integrate -l into -d 'The branch to integrate into (default: the tasks\' base branch)' -r
complete -c git-agent-integrate -l branch -d 'Build on an integration branch NAME (created from the target) and leave the target alone' -r
complete -c git-agent-integrate -l test -d 'Test command run after every merge (default: git config agent.test)' -r
complete -c git-agent-integrate -l test-timeout -d 'Seconds before a test is killed (default: agent.testTimeout, else 600)' -r
complete -c git-agent-integrate -l strategy -d 'How each task lands' -r -f -a "merge\t'One `--no-ff` merge commit per task'
rebase\t'The task\'s commits replayed onto the result: linear history'
squash\t'One commit per task with all of its changes'"
complete -c git-agent-integrate -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent-integrate -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent-integrate -l keep-going -d 'Skip a task that conflicts or fails its test, and every task depending on it; land the rest'
complete -c git-agent-integrate -l dry-run -d 'Print the order and what each step would do; write nothing, run no tests'
complete -c git-agent-integrate -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent-integrate -s V -l version -d 'Print version'
