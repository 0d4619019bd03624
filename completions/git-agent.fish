# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_git_agent_global_optspecs
    string join \n C= color= json q/quiet h/help V/version
end

function __fish_git_agent_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_git_agent_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_git_agent_using_subcommand
    set -l cmd (__fish_git_agent_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c git-agent -n "__fish_git_agent_needs_command" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_needs_command" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_needs_command" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_needs_command" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_needs_command" -s V -l version -d 'Print version'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "spawn" -d 'Create a task: a branch, a linked worktree and a task record; optionally start the agent in it'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "list" -d 'Show every task at a glance (alias: status)'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "status" -d 'Show every task at a glance (alias: status)'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "conflicts" -d 'Check every pair of agent branches, and each against the target, for conflicts, in memory'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "integrate" -d 'Merge the done tasks in dependency order, test after every merge, land all or nothing'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "prune" -d 'Remove finished tasks\' worktrees, branches and records, never losing work'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "show" -d 'Print a task\'s brief, scope, dependencies, acceptance criteria and state'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "done" -d 'Mark a task ready for integration'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "join" -d 'Give a task fetched from another machine a worktree here, to work on it'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "restack" -d 'Move stacked tasks onto their dependencies\' new work'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "sync" -d 'Exchange task records, test results and task branches with a remote, merging without loss'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "setup" -d 'Install the man pages and shell completions into your user directories'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "demo" -d 'Run the whole workflow on a sample repository, printing every command'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "run" -d 'Start the agent of an existing task: in the foreground, detached, or in a tmux window'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "logs" -d 'Print the output of a task\'s background agent (-f: follow it until the agent exits)'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "stop" -d 'Stop a task\'s background agent: SIGTERM to its process group, SIGKILL after a grace period'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "attach" -d 'Go to the tmux window of a task\'s agent (started with --tmux)'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "checkpoint" -d 'Record a summary of an agent\'s session on its task: done, doing, next, decisions'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "handoff" -d 'Print the prompt that hands a task over to a successor agent; optionally spawn it'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "cost" -d 'Record, import and total the tokens and money agents spent on each task'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "report" -d 'Say what a task\'s agent is doing: working, waiting or blocked'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "ask" -d 'Ask the orchestrator a question: the task is blocked until it answers'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "answer" -d 'Answer a task\'s question'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "hooks" -d 'Print the hook configuration that makes an agent report its status'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "compare" -d 'Score the variants of a task (spawn --variants) side by side and rank them'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "converge" -d 'Keep one variant of a task, marked done, and archive the others'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "propose" -d 'Propose a gated task\'s implementation plan for the orchestrator\'s review'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "approve" -d 'Approve a gated task\'s proposed plan: its agent may implement it'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "reject" -d 'Reject a gated task\'s proposed plan, saying why: its agent plans again'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "check-edit" -d 'Check paths before a task\'s agent edits them: ok, or why to ask or deny (for agents\' hooks)'
complete -c git-agent -n "__fish_git_agent_needs_command" -f -a "path" -d 'Print a task\'s worktree path (cd "$(git agent path TASK)")'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l base -d 'Revision the branch starts from' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l scope -d 'A pathspec the task owns; repeat for several. Changes outside it are flagged by `list`' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l after -d 'A task this one depends on (must exist); repeat for several. The branch starts on the dependencies\' work (stacked), unless --from-base or agent.stack=false' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l brief -d 'The agent\'s brief' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l brief-file -d 'Read the brief from a file (`-` for standard input)' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l acceptance -d 'An acceptance criterion; repeat for several' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l kind -d 'The kind of work (lint, format, types, docs, rename, test-fix, architecture, debugging, security, or another word): `git agent cost` flags a kind spending on an unfit model' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l protect -d 'A pathspec the task must not change (the tests written for it, say); repeat for several. A change to it is a hazard in list and conflicts, and integrate refuses it' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l contract -d 'A pathspec of a shared contract (types, API definitions), committed on the base and read-only for the task; repeat for several. Guarded as --protect is' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l constraint -d 'A constraint the agent is given, recorded and shown (e.g. "No new dependencies", which is checked against dependency manifests and lock files); repeat for several' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l plan -d 'Create every task of a plan file (JSON) after validating the decomposition' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l variants -d 'Spawn K variants TASK.1 ... TASK.K of the task (2 to 16), with one brief, to compare (git agent compare) and converge (git agent converge)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l variant-command -d 'One variant\'s agent command, a command line split as agent.command is; give it once per variant (exactly K times), in order, or not at all' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l from-base -d 'Start from the base even when dependencies have commits (the default when agent.stack=false)'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l stack -d 'Stack on the dependencies\' work even when agent.stack=false'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l gate -d 'Start behind the plan review gate (the default when agent.gate=true): the agent proposes a plan (git agent propose) and waits for git agent approve'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l check -d 'Only validate (the plan, or the task\'s name, base and dependencies); create nothing'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l allow-overlap -d 'Accept scopes that overlap between tasks of a plan (reported as warnings)'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l no-setup -d 'Do not run agent.setup in the new worktree'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l no-agent -d 'Do not start the agent even if agent.command is set'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l detach -d 'Start the agent in the background (its own session, output to its log) and return at once; see git agent run'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l tmux -d 'Start the agent in a tmux window named after the task (the default when agent.terminal=tmux); see git agent run'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand spawn" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand list" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand list" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand list" -l no-dirty -d 'Skip looking for uncommitted changes in each worktree (faster on huge worktrees)'
complete -c git-agent -n "__fish_git_agent_using_subcommand list" -s v -l verbose -d 'Name each task\'s uncommitted files, as `git status --short` does (in --json too)'
complete -c git-agent -n "__fish_git_agent_using_subcommand list" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand list" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand status" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand status" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand status" -l no-dirty -d 'Skip looking for uncommitted changes in each worktree (faster on huge worktrees)'
complete -c git-agent -n "__fish_git_agent_using_subcommand status" -s v -l verbose -d 'Name each task\'s uncommitted files, as `git status --short` does (in --json too)'
complete -c git-agent -n "__fish_git_agent_using_subcommand status" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand status" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand conflicts" -l target -d 'What the branches are merged into (default: the tasks\' base branch)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand conflicts" -l format -d 'Layout of the text output' -r -f -a "matrix\t'A compact N x N matrix with a legend, then the details of what conflicts'
list\t'One entry per pair and per branch with paths and kinds'"
complete -c git-agent -n "__fish_git_agent_using_subcommand conflicts" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand conflicts" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand conflicts" -l include-uncommitted -d 'Also count each task worktree\'s uncommitted changes and untracked files (read, never touched)'
complete -c git-agent -n "__fish_git_agent_using_subcommand conflicts" -l pairwise -d 'Exit status from every pair, even when tasks have dependencies (no dependency-order view)'
complete -c git-agent -n "__fish_git_agent_using_subcommand conflicts" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand conflicts" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand conflicts" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l into -d 'The branch to integrate into (default: the tasks\' base branch)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l branch -d 'Build on an integration branch NAME (created from the target) and leave the target alone' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l test -d 'Test command run after every merge (default: git config agent.test)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l test-timeout -d 'Seconds before a test is killed (default: agent.testTimeout, else 600)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l strategy -d 'How each task lands' -r -f -a "merge\t'One `--no-ff` merge commit per task'
rebase\t'The task\'s commits replayed onto the result: linear history'
squash\t'One commit per task with all of its changes'"
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -s j -l jobs -d 'Run up to N step tests at once, each in its own scratch worktree (default: agent.testJobs, else 1). The outcome is the same as one after another' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l test-at -d 'When to test: after each merge, or only the end result (bisecting the steps when it fails)' -r -f -a "each\t'After every merge: the first failing step is known at once'
end\t'Only the final result; when it fails, the steps are bisected for the first failing one'"
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l retries -d 'Run a failing test again up to N times before it counts as failed (flaky tests)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l push -d 'After landing, push the destination (the target, or the --branch) to REMOTE, with a lease on the value it had before the run' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l allow-contract-change -d 'Integrate tasks that change a contract or a protected path, or add a dependency under a "no new dependencies" constraint: all such tasks, or with =TASK only that one (repeat for several). Without it integrate refuses them' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l keep-going -d 'Skip a task that conflicts or fails its test, and every task depending on it; land the rest'
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l dry-run -d 'Print the order and what each step would do; write nothing, run no tests'
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -s v -l verbose -d 'Show the tests\' output as they run (on stderr)'
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand integrate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand prune" -l merged-into -d 'What counts as merged (default: each task\'s base branch)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand prune" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand prune" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand prune" -l all -d 'Consider every task, not only integrated ones (unmerged ones are still refused)'
complete -c git-agent -n "__fish_git_agent_using_subcommand prune" -l dry-run -d 'Show what would be removed and refused; remove nothing'
complete -c git-agent -n "__fish_git_agent_using_subcommand prune" -l force -d 'Remove refused tasks too, after archiving their commits, uncommitted changes and ignored files (never skipping a check: only what was archived is removed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand prune" -l discard-ignored -d 'Delete ignored files too large to archive (listed when prune refuses them)'
complete -c git-agent -n "__fish_git_agent_using_subcommand prune" -l scratch -d 'Remove every idle integrate slot (the scratch worktrees integrate keeps warm between runs) and leave the tasks alone'
complete -c git-agent -n "__fish_git_agent_using_subcommand prune" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand prune" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand show" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand show" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand show" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand show" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand done" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand done" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand done" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand done" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand done" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand join" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand join" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand join" -l no-setup -d 'Do not run agent.setup in the new worktree'
complete -c git-agent -n "__fish_git_agent_using_subcommand join" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand join" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand join" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand restack" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand restack" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand restack" -l dry-run -d 'Show what would be restacked, what conflicts and what is refused; change nothing'
complete -c git-agent -n "__fish_git_agent_using_subcommand restack" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand restack" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand restack" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand sync" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand sync" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand sync" -l dry-run -d 'Fetch and show what would move; change nothing here or there'
complete -c git-agent -n "__fish_git_agent_using_subcommand sync" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand sync" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand setup" -l man-prefix -d 'Install the man pages under this prefix (<PREFIX>/share/man/man1) instead' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand setup" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand setup" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand setup" -l dry-run -d 'Show what would be written, write nothing'
complete -c git-agent -n "__fish_git_agent_using_subcommand setup" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand setup" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand setup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand demo" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand demo" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand demo" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand demo" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand run" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand run" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand run" -l detach -d 'Run it in the background; `git agent logs` shows its output'
complete -c git-agent -n "__fish_git_agent_using_subcommand run" -l tmux -d 'Run it in a tmux window named after the task'
complete -c git-agent -n "__fish_git_agent_using_subcommand run" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand run" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand logs" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand logs" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand logs" -s f -l follow -d 'Follow the log until the agent exits'
complete -c git-agent -n "__fish_git_agent_using_subcommand logs" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand logs" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand logs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand stop" -l grace -d 'Seconds between SIGTERM and SIGKILL' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand stop" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand stop" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand stop" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand stop" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand stop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand attach" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand attach" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand attach" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand attach" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand attach" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand checkpoint" -l completed -d 'Something done; repeat for several' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand checkpoint" -l in-progress -d 'Something being worked on; repeat for several' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand checkpoint" -l next -d 'Something to do next; repeat for several' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand checkpoint" -l decision -d 'A decision made (and why); repeat for several' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand checkpoint" -s F -l file -d 'Read notes (and items under the headings ## Completed, ## In progress, ## Next and ## Decisions) from FILE; `-` reads standard input' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand checkpoint" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand checkpoint" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand checkpoint" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand checkpoint" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand checkpoint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand handoff" -l to -d 'Spawn the successor task NEW, stacked on TASK, with the prompt as its brief' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand handoff" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand handoff" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand handoff" -l no-setup -d 'Do not run agent.setup in the successor\'s worktree'
complete -c git-agent -n "__fish_git_agent_using_subcommand handoff" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand handoff" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand handoff" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and not __fish_seen_subcommand_from add import" -l by -d 'Group the totals by task, model, kind, day or week' -r -f -a "task\t''
model\t''
kind\t''
day\t'The UTC day each cost was recorded'
week\t'The ISO week (UTC) each cost was recorded'"
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and not __fish_seen_subcommand_from add import" -l since -d 'Count only costs recorded on or after this day (YYYY-MM-DD, UTC)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and not __fish_seen_subcommand_from add import" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and not __fish_seen_subcommand_from add import" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and not __fish_seen_subcommand_from add import" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and not __fish_seen_subcommand_from add import" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and not __fish_seen_subcommand_from add import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and not __fish_seen_subcommand_from add import" -f -a "add" -d 'Record tokens (and money) a task\'s agent spent'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and not __fish_seen_subcommand_from add import" -f -a "import" -d 'Record what the agents\' own session logs say each task\'s sessions spent'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from add" -l model -d 'The model, as its vendor names it (claude-sonnet-4-5, gpt-5, ...)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from add" -l input -d 'Input tokens (not cached)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from add" -l output -d 'Output tokens' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from add" -l cache-read -d 'Input tokens read from the prompt cache' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from add" -l usd -d 'What it cost in USD, when known (wins over the price table)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from add" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from add" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from add" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from import" -l dir -d 'Where the logs are (default: ~/.claude/projects, or $CODEX_HOME/sessions, else ~/.codex/sessions)' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from import" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from import" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from import" -l dry-run -d 'Show what would be recorded; record nothing'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from import" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand cost; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand report" -s m -l message -d 'What it is doing, in a few words' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand report" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand report" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand report" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand report" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand ask" -l task -d 'The task (default: the one whose worktree contains the current directory)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand ask" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand ask" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand ask" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand ask" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand ask" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand answer" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand answer" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand answer" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand answer" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand answer" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand hooks" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand hooks" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand hooks" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand hooks" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand hooks" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand compare" -l test -d 'The test command (a shell command line; default: agent.test)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand compare" -l bench -d 'A benchmark command (a shell command line) whose wall-clock time scores performance' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand compare" -l runs -d 'How often the benchmark runs per variant; the best time counts' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand compare" -l test-timeout -d 'Seconds each test or benchmark run may take (default: agent.testTimeout, else 600)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand compare" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand compare" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand compare" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand compare" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand compare" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand converge" -l pick -d 'The variant to keep, for example NAME.2' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand converge" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand converge" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand converge" -l dry-run -d 'Show what would be marked, archived and removed; change nothing'
complete -c git-agent -n "__fish_git_agent_using_subcommand converge" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand converge" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand converge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand propose" -s m -l message -d 'The plan' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand propose" -s F -l file -d 'Read the plan from a file (`-` for standard input)' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand propose" -l task -d 'The task (default: the one whose worktree contains the current directory)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand propose" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand propose" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand propose" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand propose" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand propose" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand approve" -l proposal -d 'Approve only this proposal (its id, or the first 7 or more characters of it)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand approve" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand approve" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand approve" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand approve" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand approve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand reject" -l reason -d 'What the agent should change' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand reject" -l proposal -d 'Reject only this proposal (its id, or the first 7 or more characters of it)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand reject" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand reject" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand reject" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand reject" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand reject" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand check-edit" -l task -d 'The task (default: the one whose worktree contains the current directory)' -r
complete -c git-agent -n "__fish_git_agent_using_subcommand check-edit" -l hook -d 'Act as the agent\'s pre-edit hook: read the tool call from standard input, answer in the agent\'s permission protocol, always exit 0' -r -f -a "claude\t'Claude Code\'s PreToolUse hook protocol (JSON on stdin and stdout)'"
complete -c git-agent -n "__fish_git_agent_using_subcommand check-edit" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand check-edit" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand check-edit" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand check-edit" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand check-edit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-agent -n "__fish_git_agent_using_subcommand path" -s C -d 'Run as if started in <PATH>, like `git -C`' -r -F
complete -c git-agent -n "__fish_git_agent_using_subcommand path" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c git-agent -n "__fish_git_agent_using_subcommand path" -l json -d 'Print machine-readable JSON on stdout instead of text'
complete -c git-agent -n "__fish_git_agent_using_subcommand path" -s q -l quiet -d 'Print no status messages on stderr (data on stdout and errors are still printed)'
complete -c git-agent -n "__fish_git_agent_using_subcommand path" -s h -l help -d 'Print help (see more with \'--help\')'
