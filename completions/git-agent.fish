complete --keep-order --exclusive --command git-agent --arguments "(GIT_AGENT_COMPLETE=fish git-agent -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
