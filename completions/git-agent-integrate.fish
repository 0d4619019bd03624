complete -c git-agent-integrate -l into -d 'The branch to integrate into (default: the tasks\' base branch)' -r
complete -c git-agent-integrate -l branch -d 'Build on an integration branch NAME (created from the target) and leave the target alone' -r
complete -c git-agent-integrate -l test -d 'Test command run after every merge (default: git config agent.test)' -r
complete -c git-agent-integrate -l test-timeout -d 'Seconds before a test is killed (default: agent.testTimeout, else 600)' -r
complete -c git-agent-integrate -l strategy -d 'How each task lands' -r -f -a "merge\t'One `--no-ff` merge commit per task'
rebase\t'The task\'s commits replayed onto the result: linear history'
squash\t'One commit per task with all of its changes'"
complete -c git-agent-integrate -s j -l jobs -d 'Run up to N step tests at once, each in its own scratch worktree (default: agent.testJobs, else 1). The outcome is the same as one after another' -r
complete -c git-agent-integrate -l test-at -d 'When to test: after each merge, or only the end result (bisecting the steps when it fails)' -r -f -a "each\t'After every merge: the first failing step is known at once'
end\t'Only the final result; when it fails, the steps are bisected for the first failing one'"
complete -c git-agent-integrate -l retries -d 'Run a failing test again up to N times before it counts as failed (flaky tests)' -r
complete -c git-agent-integrate -l push -d 'After landing, push the destination (the target, or the --branch) to REMOTE, with a lease on the value it had before the run' -r
complete -c git-agent-integrate -l allow-contract-change -d 'Integrate tasks that change a contract or a protected path, or add a dependency under a "no new dependencies" constraint: all such tasks, or with =TASK only that one (repeat for several). Without it integrate refuses them' -r
complete -c git-agent-integrate -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent-integrate -l color -d 'When to colour the output' -r -f -a "auto\t'Colour where git config color.agent or color.ui says so, else on a terminal unless NO_COLOR is set'
always\t''
never\t''"
complete -c git-agent-integrate -l keep-going -d 'Skip a task that conflicts or fails its test, and every task depending on it; land the rest'
complete -c git-agent-integrate -l dry-run -d 'Print the order and what each step would do; write nothing, run no tests'
complete -c git-agent-integrate -s v -l verbose -d 'Show the tests\' output as they run (on stderr)'
complete -c git-agent-integrate -l json -d 'Print machine-readable JSON on stdout instead of text; an error is a JSON object there too (schemas: `git agent schema`)'
complete -c git-agent-integrate -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent-integrate -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent-integrate -s V -l version -d 'Print version'
