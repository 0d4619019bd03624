//! Man pages and shell completions, generated from the clap definitions in [`crate::cli`].
//!
//! `man/` and `completions/` hold the generated files; the test `docs_are_fresh` fails when
//! they differ from what this module generates, and `GIT_AGENT_BLESS=1 cargo test docs`
//! rewrites them (see the README).

use clap::{ArgAction, Command};

/// A generated file: its name inside `man/` or `completions/`, and its bytes.
pub struct Generated {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Extra man page sections: (heading, text). Text is plain, paragraphs separated by blank lines;
/// a line starting with two spaces is kept as is (preformatted).
fn extra_sections(name: &str) -> Vec<(&'static str, String)> {
    let rows: Vec<String> =
        crate::error::Exit::TABLE.iter().map(|(code, meaning)| format!("  {code:<3}  {meaning}")).collect();
    let mut sections = vec![(
        "EXIT STATUS",
        format!("Every git-agent command uses the same exit codes:\n{}\n\n{CLOSED_STDOUT}", rows.join("\n")),
    )];
    if let Some(examples) = examples(name) {
        sections.insert(0, ("EXAMPLES", examples.into()));
    }
    match name {
        "git-agent" => {
            sections.push(("STATE", STATE.into()));
            sections.push(("CONFIGURATION", CONFIGURATION.into()));
            sections.push(("ENVIRONMENT", ENVIRONMENT.into()));
            sections.push(("SECURITY", SECURITY.into()));
        }
        "git-agent-spawn" => sections.push(("PLAN FORMAT", PLAN_FORMAT.into())),
        "git-agent-list" => sections.push(("JSON OUTPUT", LIST_JSON.into())),
        "git-agent-restack" => sections.push(("JSON OUTPUT", RESTACK_JSON.into())),
        "git-agent-conflicts" => sections.push(("JSON OUTPUT", CONFLICTS_JSON.into())),
        "git-agent-cost" => sections.push(("JSON OUTPUT", COST_JSON.into())),
        _ => {}
    }
    sections
}

/// Every man page: one per binary, and one per built-in subcommand of `git-agent`.
pub fn man_pages() -> Vec<Generated> {
    let mut pages = Vec::new();
    for mut command in crate::cli::binaries() {
        // Built, so that the global options reach every subcommand's page.
        command.build();
        let name = command.get_name().to_owned();
        if name == "git-agent" {
            // `spawn` has its own binary, and so its own page.
            for sub in command.get_subcommands().filter(|sub| !crate::cli::OWN_BINARIES.contains(&sub.get_name())) {
                subcommand_pages(sub, "git-agent", "git agent", &mut pages);
            }
        }
        pages.push(man_page(command, &name));
    }
    pages.sort_by(|a, b| a.name.cmp(&b.name));
    pages
}

/// The page of `sub` (`git-agent-cost`, shown as `git agent cost`), and of each of its own
/// subcommands (`git-agent-cost-add`), which its SUBCOMMANDS section names.
fn subcommand_pages(sub: &Command, parent_page: &str, parent_bin: &str, pages: &mut Vec<Generated>) {
    let page = format!("{parent_page}-{}", sub.get_name());
    let bin = format!("{parent_bin} {}", sub.get_name());
    for nested in sub.get_subcommands() {
        subcommand_pages(nested, &page, &bin, pages);
    }
    let sub = sub.clone().name(page.clone()).bin_name(bin).version(env!("CARGO_PKG_VERSION"));
    pages.push(man_page(sub, &page));
}

fn man_page(command: Command, name: &str) -> Generated {
    // clap's "after help" holds the exit-status table for --help; the man page has its own section.
    let command = command.after_help(None::<&str>).after_long_help(None::<&str>);
    let man = clap_mangen::Man::new(command.clone()).date("");
    let mut bytes = Vec::new();
    man.render_title(&mut bytes).expect("writing to a Vec");
    man.render_name_section(&mut bytes).expect("writing to a Vec");
    bytes.extend_from_slice(synopsis(&command).as_bytes());
    man.render_description_section(&mut bytes).expect("writing to a Vec");
    if name == "git-agent" {
        bytes.extend_from_slice(roff_section("WORKFLOW", WORKFLOW).as_bytes());
    }
    // OPTIONS, then GLOBAL OPTIONS (the help heading of `GlobalArgs`).
    man.render_options_section(&mut bytes).expect("writing to a Vec");
    if command.get_subcommands().next().is_some() {
        man.render_subcommands_section(&mut bytes).expect("writing to a Vec");
    }
    for (heading, text) in extra_sections(name) {
        bytes.extend_from_slice(roff_section(heading, &text).as_bytes());
    }
    bytes.extend_from_slice(roff_section("SEE ALSO", SEE_ALSO).as_bytes());
    man.render_version_section(&mut bytes).expect("writing to a Vec");
    Generated { name: format!("{name}.1"), bytes }
}

/// The SYNOPSIS, as git's pages write it: every option with its value name (`[-C <path>]`,
/// `[--base <rev>]`), then the operands, then any alias. (clap_mangen's own synopsis drops the
/// value names.)
fn synopsis(command: &Command) -> String {
    let name = command.get_bin_name().unwrap_or_else(|| command.get_name());
    let mut words = vec![format!("\\fB{}\\fR", roff_escape(name))];
    words.extend(command.get_arguments().filter(|arg| !arg.is_positional()).filter_map(option_word));
    words.extend(command.get_positionals().filter(|arg| !arg.is_hide_set()).map(|arg| {
        let value = format!("\\fI<{}>\\fR{}", value_names(arg).join(" "), repeats(arg));
        optional(arg, value)
    }));
    if command.has_subcommands() {
        words.push("\\fI<command>\\fR [\\fI<args>\\fR]".into());
    }
    let mut out = format!(".SH SYNOPSIS\n{}\n", words.join(" "));
    for alias in command.get_visible_aliases() {
        let parent = name.rsplit_once(' ').map_or(name, |(parent, _)| parent);
        out.push_str(&format!(".PP\nAlias: \\fB{}\\fR\n", roff_escape(&format!("{parent} {alias}"))));
    }
    out
}

/// One option in the synopsis: `[-q|--quiet]`, `[--scope <pathspec>...]`; help and version go
/// without saying, as in git's pages. Spaces inside are unbreakable, so that a line never ends
/// between an option and its value.
fn option_word(arg: &clap::Arg) -> Option<String> {
    let implied =
        matches!(arg.get_action(), ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version);
    if arg.is_hide_set() || implied {
        return None;
    }
    let names: Vec<String> = arg
        .get_short()
        .map(|short| format!("-{short}"))
        .into_iter()
        .chain(arg.get_long().map(|long| format!("--{long}")))
        .map(|flag| format!("\\fB{}\\fR", roff_escape(&flag)))
        .collect();
    if names.is_empty() {
        return None;
    }
    let mut word = names.join("|");
    let num_args = arg.get_num_args().unwrap_or_default();
    if num_args.takes_values() {
        let value = format!("\\fI<{}>\\fR", value_names(arg).join("> <"));
        // An optional value (`--allow-contract-change[=<task>]`) is attached, as in git.
        word = if num_args.min_values() == 0 { format!("{word}[={value}]") } else { format!("{word}\\ {value}") };
    }
    word.push_str(repeats(arg));
    Some(optional(arg, word))
}

/// `...` after an argument that may be given more than once.
fn repeats(arg: &clap::Arg) -> &'static str {
    let many_values = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
    if many_values || matches!(arg.get_action(), ArgAction::Append | ArgAction::Count) { "..." } else { "" }
}

/// An argument's value names, lower case as in git's synopses (`<rev>`, `<path>`).
fn value_names(arg: &clap::Arg) -> Vec<String> {
    match arg.get_value_names() {
        Some(names) => names.iter().map(|n| roff_escape(&n.to_lowercase())).collect(),
        None => vec![roff_escape(&arg.get_id().as_str().to_lowercase())],
    }
}

fn optional(arg: &clap::Arg, word: String) -> String {
    if arg.is_required_set() { word } else { format!("[{word}]") }
}

/// A section of plain text as roff: paragraphs become `.PP`, indented lines stay verbatim.
fn roff_section(heading: &str, text: &str) -> String {
    let mut out = format!(".SH \"{heading}\"\n");
    let mut in_verbatim = false;
    for line in text.lines() {
        let verbatim = line.starts_with("  ");
        if verbatim && !in_verbatim {
            out.push_str(".PP\n.nf\n");
        } else if !verbatim && in_verbatim {
            out.push_str(".fi\n");
        }
        in_verbatim = verbatim;
        if line.is_empty() {
            out.push_str(".PP\n");
        } else {
            out.push_str(&roff_escape(line));
            out.push('\n');
        }
    }
    if in_verbatim {
        out.push_str(".fi\n");
    }
    out
}

fn roff_escape(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') { format!("\\&{escaped}") } else { escaped }
}

/// Completion scripts for bash, zsh and fish, for every binary. Each asks the binary itself
/// for the candidates at every TAB (see [`crate::complete`]), so task names and revisions
/// are the repository's of the moment.
pub fn completions() -> Vec<Generated> {
    let mut files = Vec::new();
    for command in crate::cli::binaries() {
        let name = command.get_name().to_owned();
        files.push(Generated { name: format!("{name}.bash"), bytes: bash(&name) });
        files.push(Generated { name: format!("_{name}"), bytes: zsh_autoload(&name) });
        files.push(Generated { name: format!("{name}.fish"), bytes: fish(&name) });
    }
    files.push(Generated { name: FISH_GIT_HOOK.into(), bytes: fish_git_hook().into_bytes() });
    files
}

/// The fish file that completes `git agent ...` (installed in fish's conf.d, as it must be
/// loaded before git's own completion is).
pub const FISH_GIT_HOOK: &str = "git-agent.conf.d.fish";

/// fish's git completion (3.6) misses external `git-*` commands: it looks them up under
/// their file name (`git-agent`, not `agent`). These lines hand `git agent ...` to the
/// `git-agent` completion, as later fish versions do, keeping git's `-C DIR` (their helper
/// drops git's options).
fn fish_git_hook() -> String {
    let mut hook = String::from(FISH_THROUGH_GIT);
    for command in crate::cli::binaries() {
        let sub = command.get_name().trim_start_matches("git-").to_owned();
        hook.push_str(&format!(
            "complete --command git --condition '__fish_git_using_command {sub}' --exclusive --keep-order \
             --arguments '(__git_agent_through_git {sub})'\n"
        ));
    }
    hook
}

const FISH_THROUGH_GIT: &str = r#"# Completion of `git agent ...` in fish: each asks the git-agent* binary.
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
"#;

/// clap's zsh registration binds its function with `compdef` when sourced; installed in fpath
/// as `_git-agent`, it is autoloaded instead, by compinit for `git-agent` and by zsh's `_git`
/// for `git agent` (which calls `_git-<command>`): then the first call must complete too.
/// Through `_git`, git's `-C DIR` (in `_git`'s `opt_args`) is passed on, as git passes it.
fn zsh_autoload(bin: &str) -> Vec<u8> {
    let function = format!("_clap_dynamic_completer_{}", bin.replace('-', "_"));
    let compdef = format!("compdef {function} {bin}");
    let dispatch = r#"if [ "$funcstack[1]" = "_BIN" ]; then
    if [[ $service == git && -n ${opt_args[-C]-} ]]; then
        local -a words=("$words[1]" -C "${(Q)opt_args[-C]}" "${(@)words[2,-1]}")
        local CURRENT=$((CURRENT + 2))
    fi
    FUNCTION "$@"
else
    COMPDEF
fi"#;
    let dispatch = dispatch.replace("BIN", bin).replace("FUNCTION", &function).replace("COMPDEF", &compdef);
    patch(&registration("zsh", bin), &compdef, &dispatch).into_bytes()
}

/// clap's fish registration, its completer's errors kept out of the terminal (zsh's already
/// are; bash's are below).
fn fish(bin: &str) -> Vec<u8> {
    let end = "(commandline --current-token))";
    patch(&registration("fish", bin), end, "(commandline --current-token) 2>/dev/null)").into_bytes()
}

fn registration(shell: &str, bin: &str) -> String {
    String::from_utf8(crate::complete::registration(shell, bin)).expect("completion scripts are UTF-8")
}

/// `script` with `from` replaced by `to`; `from` must be there (a test catches a change in
/// what clap_complete generates).
fn patch(script: &str, from: &str, to: &str) -> String {
    assert!(script.contains(from), "clap_complete's registration changed, {from:?} is not in:\n{script}");
    script.replace(from, to)
}

/// clap's bash registration, fed whole words. bash splits words at `=` and `:`
/// (COMP_WORDBREAKS), so clap's completer would see `--base`, `=`, `ma`; bash-completion and
/// git's completion give them whole (`--base=ma`) in `words`/`cword`, and bash then replaces
/// only what follows the last break, so that part is cut from the candidates. The
/// completer's errors are kept out of the terminal.
///
/// git's bash completion completes `git agent ...` by calling `_git_agent` (and
/// `git agent-spawn ...` by `_git_agent_spawn`): that function rebuilds the words as if
/// `git-agent ...` had been typed, keeping git's `-C` options.
fn bash(bin: &str) -> Vec<u8> {
    let name = bin.replace('-', "_");
    let (clap_fn, whole_fn) = (format!("_clap_complete_{name}"), format!("__{name}_complete"));
    let script = patch(&registration("bash", bin), &format!("-F {clap_fn} {bin}"), &format!("-F {whole_fn} {bin}"));
    let words = r#"-- "${words[@]}" \"#;
    let script = patch(&script, words, &words.replace(" \\", " 2>/dev/null \\"));
    let git_fn = format!("_git_{}", name.trim_start_matches("git_"));
    format!(
        r#"{script}
__git_agent_complete_words() {{
    local complete=$1 COMP_CWORD=$2
    shift 2
    local -a COMP_WORDS=("$@")
    local cur=${{COMP_WORDS[COMP_CWORD]}}
    "$complete" "${{COMP_WORDS[0]}}" "$cur" "${{COMP_WORDS[COMP_CWORD-1]}}"
    if [[ $cur == *[=:]* ]]; then
        local broken=${{cur%"${{cur##*[=:]}}"}}
        COMPREPLY=("${{COMPREPLY[@]#"$broken"}}")
    fi
}}

{whole_fn}() {{
    local words cword
    if declare -F _get_comp_words_by_ref >/dev/null; then
        _get_comp_words_by_ref -n =: words cword
    else
        words=("${{COMP_WORDS[@]}}") cword=$COMP_CWORD
    fi
    __git_agent_complete_words {clap_fn} "$cword" "${{words[@]}}"
}}

# `git {sub} ...`, through git's own bash completion.
{git_fn}() {{
    local cmd_idx=${{__git_cmd_idx:-1}}
    local -a git_c=("${{__git_C_args[@]}}")
    __git_agent_complete_words {clap_fn} $((cword - cmd_idx + ${{#git_c[@]}})) {bin} "${{git_c[@]}}" "${{words[@]:cmd_idx+1}}"
}}
"#,
        sub = bin.trim_start_matches("git-"),
    )
    .into_bytes()
}

const STATE: &str = "\
All state lives in the repository; the commands share nothing else. Every ref write is a compare-and-swap transaction: a concurrent writer makes the command fail with exit code 4, never overwrites.
  refs/agent/tasks/<task>     task record: an operation log, a commit per event
                              (spawn, agent-exit, done, restack, integrated), each
                              holding ops.json and task.json (see below)
  refs/heads/agent/<task>     the task branch (prefix: agent.branchPrefix)
  refs/agent/archive/<task>/<stamp>/{branch,head,index,worktree,record}
                              what prune --force saved before removing
  refs/notes/agent            integration results: JSON notes on each step's
                              commit and on each tested tree, one result per line
  refs/agent-remotes/<remote>/<url>/{tasks/<task>,heads/<branch>}
                              what a remote had when sync last reconciled each
                              ref (written after the reconciliation, never by
                              the fetch, which lands in incoming/ below it and
                              is removed when the sync ends; the remote's name
                              with bytes outside [A-Za-z0-9_-] written %XX;
                              <url>: 12 hex digits of the SHA-1 of its URL)
  git config agent.*          settings, see CONFIGURATION
  <worktree root>/.integrate/<branch>-<n>
                              integrate's slots: scratch worktrees kept between
                              runs, one per target branch and parallel job
                              (/ and other bytes outside [A-Za-z0-9._-] in the
                              branch written %XX), detached, marked by the file
                              agent-slot in their registration

Record format 2. Each commit of a record holds ops.json, the operations of one event, and task.json, the task's state after it. An operation is {\"clock\": its Lamport clock (one more than the largest clock its writer had seen for the task), \"id\": unique (32 hex digits), \"op\": what it does, and its fields}: spawned {record: the task as spawn made it}, agent-exited {exit, command: if the record had none}, done, integrated {commit, tip}, restacked {stack}, imported {record: a format-1 state, see below}. The state is a fold of every operation in the commit's history, each once, in (clock, id) order: spawned and imported set everything, done marks an active task done (a done that crossed an integration leaves the task integrated), integrated and restacked set their fields; operations a newer git-agent wrote are kept and skipped. When two machines changed a task, sync joins the two chains with a merge commit whose parents are both (its ops.json is empty, its task.json the fold of both logs): nothing is rewritten, and every machine folds the same state. For example:
  $ git show refs/agent/tasks/db:ops.json
  [ { \"clock\": 2, \"id\": \"5f0c...e1\", \"op\": \"done\" } ]
  $ git show refs/agent/tasks/db~1:ops.json
  [ { \"clock\": 1, \"id\": \"a94b...07\", \"op\": \"spawned\", \"record\": { \"name\": \"db\", ... } } ]
task.json holds: version (2), name, branch (full ref name), base_ref (full ref name of the base branch, the integration target, or null), base_commit, scope (pathspecs), after (task names), brief, acceptance (list), command (argument list), created_ms, state (active, done, integrated), agent_exit, integrated_commit, integrated_tip, clock (the largest clock folded in), and for a stacked task stack: {\"onto\": the commit its own commits start from (the base when no dependency had commits, a dependency's tip, or the merge of several), \"tips\": {dependency: its tip then}}, written by spawn and moved by restack. The worktree is not in the record: it is this machine's (<worktree root>/<task>, or where git worktree move put it, found through git's registrations), as is a running agent (its claim lock). Format 1 (version 1: task.json alone, with a worktree field) is read as it is; the next event upgrades the record, appending a commit whose ops.json starts with an imported operation carrying the format-1 state (its id is import-<the format-1 commit>, the same on every machine). Readers ignore fields they do not know and keep them when rewriting. Records are untrusted input (hand-edited, fetched, written by another version): a record is corrupt when it is larger than 1 MiB, not valid JSON (or nested deeper than 128 levels), of a newer version, names another task, names a branch other than refs/heads/<agent.branchPrefix><task>, (format 1) names a worktree that is not <worktree root>/<task> (or registered with git at that path, after git worktree move) or is inside the main worktree, has ids that are not object ids, names in after that are not task names, lists of more than 1000 entries, or a NUL character in any text; an operation log is corrupt when an ops.json is not a list of operations, holds more than 1000, or an operation has a clock of 0 or above 2^53 or an id that is not 1 to 80 of [0-9a-z-]. A corrupt record is reported for its task only; no command acts on its fields, and none deletes it on that account; sync neither adopts nor changes a corrupt record from a remote. Record updates (done, agent-exit, integrated) re-read the record and retry when another process updated it first. A state must be the fold of its operations, and an operation's clock may not run ahead of its history (at most one more per operation than the largest clock below its commit); a fold reads at most 100,000 operations (32 MiB). Test results in refs/notes/agent name the machine that recorded them (a random id in the git directory's agent/machine-id): integrate reuses only its own machine's passes; results fetched from other machines are shown, never trusted.

While a spawn (and the agent it started) or a prune works on a task it holds the lock file agent-claims/<task>.lock in the git directory (and agent-worktrees.lock while it registers a worktree). Each lock file names its owner (pid, host, process start time, purpose); a second process gets exit code 4 at once, naming the owner. An integrate holds agent-slots/<branch>-<n>.lock for each slot it uses (agent-slots/<branch>-<n>.creating exists while it creates one); another integrate into the same branch takes the next free slot instead of waiting. A slot is git-agent's only when it is registered as a worktree of the repository at exactly its path, with its marker, a detached HEAD, no git worktree lock and no operation in progress; anything else at a slot's path is refused (exit code 3) and never touched. A lock whose owner is provably gone (same host, the process is not running) is recovered by the next command; a lock naming no owner is never deleted, only named in the error (exit code 3: the user must look). A read-only git directory is reported as such (exit code 3).

Identity: record commits, notes commits and reflog entries are written as the user's committer identity, or, where none is configured, as git-agent <git-agent@localhost>, so that git-agent works on a fresh machine. Commits on the user's branches (integrate's merge, squash and rebased commits) never use that fallback: they are by agent.identity, else by the user's committer identity, and without either, integrate refuses (exit code 3) as git commit does.

Inspect a record with: git log -p refs/agent/tasks/<task>. Share records, notes and task branches with: git agent sync [REMOTE] (see git-agent-sync(1)).";

const CONFIGURATION: &str = "\
Flags override configuration. Any config scope works (git config --local, --global).
  agent.base           base revision for new tasks (default: the branch
                       checked out in the main worktree)
  agent.worktreeRoot   where task worktrees go (default: <repo>.agents,
                       beside the main worktree; required for bare repositories)
  agent.branchPrefix   task branch prefix (default: agent/)
  agent.copy           glob of untracked files to copy into new worktrees,
                       for example .env*; multi-valued. Besides, the ignored
                       files the main worktree's .worktreeinclude (gitignore
                       syntax, as Claude Code and worktrunk read it) matches
                       are copied; copies are reflinked where the file
                       system can
  agent.link           path of the main worktree (node_modules, target,
                       .venv) each new worktree links to instead of copying;
                       multi-valued; a tracked path is refused (exit code 2)
  agent.portRange      start-end: the ports GIT_AGENT_PORT is picked from
                       (default: 4100-4999)
  agent.open           command git agent open runs with a worktree's path
                       (default: $VISUAL, then $EDITOR)
  agent.disposable     glob (as in .gitignore) of ignored files prune may
                       delete without asking; multi-valued (default: target/,
                       node_modules/, dist/, build/, .venv/, __pycache__/)
  agent.setup          shell command run in each new worktree, for example
                       npm ci; a failure rolls the spawn back
  agent.command        agent command started by spawn, split like a shell
                       would but run without one; {brief} is replaced
  agent.test           test command run by integrate after every merge
  agent.testTimeout    seconds before integrate kills a test (default 600)
  agent.testSetup      shell command run once in each new integrate slot,
                       after the agent.copy files are copied (default:
                       agent.setup); run again when it changes
  agent.resolve.<name>.path, agent.resolve.<name>.strategy,
  agent.resolve.<name>.run
                       integrate resolves conflicts confined to files matching
                       path: strategy union (both sides' lines, as git
                       merge-file --union), ours or theirs (that side of each
                       conflicting hunk), then run if set; or run (the
                       default) on the target's side
  agent.identity       Name <email> for the commits git-agent writes on your
                       branches: integrate's, spawn's merge of several
                       dependencies, restack's (default: the user's committer
                       identity)
  agent.stack          false: spawn --after starts from the base, as
                       --from-base does (default: true, stacked on the
                       dependencies' work)
  agent.runHooks       true: git-agent's own git commands run the repository's
                       hooks (default: false, they run none)
  agent.terminal       tmux: agents started without --detach get a tmux window
                       each (default: none, the foreground)
  agent.checkpointEvery
                       how long a running agent may go without a checkpoint
                       before list flags it: minutes, or a number with s, m
                       or h (default: 45)
  agent.protected      pathspec no task may change (multi-valued): a hazard in
                       list and conflicts, refused by integrate (unless
                       --allow-contract-change) and denied by check-edit;
                       listed in handoff prompts
  agent.gate           true: new tasks start behind the plan review gate, as
                       with spawn --gate (default: false)
  agent.price.<model>.input, .output, .cacheRead
                       USD per million tokens for git agent cost, for the model
                       name as recorded (cacheRead default: the input price);
                       else built-in estimates (see git-agent-cost(1))
  agent.notify         shell command run when a task's status changes (report,
                       ask, answer) and when its agent exits, in the task's worktree, with GIT_AGENT_TASK,
                       GIT_AGENT_EVENT, GIT_AGENT_STATUS_OLD, GIT_AGENT_STATUS
                       and GIT_AGENT_MESSAGE set; killed after 5 seconds; a
                       failure is a warning
  agent.idleAfter      how long a running agent may change no file and make no
                       commit before list calls it idle: minutes, or a number
                       with s, m or h (default 15m)
  agent.compare.correctness, .simplicity, .performance, .maintainability, .cost
                       weights of git agent compare's criteria, numbers >= 0,
                       not all 0 (default: 30, 25, 20, 15, 10)

Every command validates the agent.* keys it knows before it changes anything: an invalid value (agent.testTimeout=abc, an agent.command that does not split, a non-boolean agent.runHooks, an agent.identity without <email>, a rule with only one of path and run) is an error naming the key and its file (exit code 2). integrate prints each command it will run and the file it was configured in (running agent.test from /repo/.git/config ...), and refuses (exit code 3) to run one configured in a linked worktree's own config.worktree (extensions.worktreeConfig): that file belongs to whoever works in that worktree, for a task's worktree its agent.";

const ENVIRONMENT: &str = "\
The agent command started by spawn or run (in the foreground, detached or in tmux) gets:
  GIT_AGENT_TASK       the task name
  GIT_AGENT_BRIEF      the brief
  GIT_AGENT_BRANCH     the task branch
  GIT_AGENT_WORKTREE   the worktree path
  GIT_AGENT_PORT       the task's port: FNV-1a (32 bits) of the task name modulo
                       the size of agent.portRange, plus its start; the same
                       every run, for agent.setup too

Colour is decided for stdout and for stderr apart: --color, then git config color.agent, then color.ui (never, always, auto, or a boolean where true means auto, as git reads them; from the repository -C names, else the global configuration), then NO_COLOR (set and not empty: no colour), then whether that stream is a terminal (not when TERM=dumb). GIT_AGENT_TMUX_SOCKET, for tests, makes --tmux use the tmux server `tmux -L <name>` instead of the user's.
GIT_AGENT_COMPLETE=<shell> (bash, zsh or fish), set by the completion scripts git agent setup installs, makes every git-agent binary print the completion candidates for the words after -- instead of running: task names, revisions and remotes from the repository's refs (the one -C names, else the current directory's), nothing outside a repository.

git-agent finds the repository as git does: -C first, then GIT_DIR and GIT_WORK_TREE; settings given to git with -c (`git -c agent.base=dev agent spawn t`, passed on in GIT_CONFIG_PARAMETERS) and GIT_CONFIG_COUNT override the configuration files, as in git. None of git's repository-selecting variables (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY, GIT_CONFIG_PARAMETERS and the rest of git's local_repo_env list) reaches a command git-agent starts: the agent, agent.setup, agent.test and rule commands run in their own worktree as if started there.";

const SECURITY: &str = "\
Agents run as the same user as the orchestrator and share the repository with it: objects, refs, .git/config, hooks, info/attributes. git-agent treats whatever an agent can write as input, never as instruction.

Records. Task records are validated before any command acts on them (see STATE); a record naming main, another task's worktree, / or anything outside its task is corrupt, reported, and left alone by every command, prune --force included.

Read-only commands. list, show, conflicts and check-edit execute nothing configured in the repository: no hooks, no filter drivers (status of a worktree runs none; file contents are compared as stored), no merge drivers, no fsmonitor, no external diff, no textconv. prune executes nothing either: it removes only what it checked, after moving it aside, and it deletes only branches git-agent created for a task that are checked out nowhere.

git-agent's own git commands (a handful of plumbing steps) run with core.hooksPath=/dev/null unless agent.runHooks is true, with core.fsmonitor=false and a plain core.sshCommand, never through an alias.

Commands that run configured commands say so first. spawn runs agent.setup and the agent command; its checkout, and integrate's checkout of the scratch worktree, run the filter drivers .gitattributes names, as git's checkout does. integrate prints each command it is about to run with the file it was configured in (the filter drivers its scratch checkout may run too), refuses commands from a linked worktree's own config.worktree or from any file inside a linked worktree (an include.path pointing there), and its merges run no merge driver in any strategy. A command planted in .git/config by an agent is therefore visible before it runs, but it does run: an orchestrator who cannot trust its agents with the shared configuration should run them in their own clones (containers, other machines).

What git-agent cannot prevent: `git agent ...` is git's own dispatch, and git runs its pager (core.pager, pager.agent) and its aliases before git-agent starts; run git-agent-<command> directly to avoid them.

sync runs git fetch and git push with the remote's configuration and your credentials (credential helpers, ~/.ssh/config, GIT_SSH_COMMAND), as git fetch would; the repository's own core.sshCommand is replaced by plain ssh, hooks (pre-push) do not run unless agent.runHooks is true. What it fetches is untrusted: records are validated before they are adopted, task branches only ever move as fast-forwards and never where they are checked out, and nothing a remote sends is run.

Ownership. A repository git refuses as of dubious ownership (owned by another user, not listed in safe.directory) is refused by every git-agent command (exit code 3) before any configured command could run.

Identity. integrate commits on the user's branches only as agent.identity or the user's own identity, never as a made-up one (see STATE).

Signals. SIGINT and SIGTERM, once or twice (git forwards the terminal's signal to git-agent, which then sees it twice), never leave half a task: spawn rolls back, integrate lands nothing and removes its scratch worktree and kills its test's process group, prune stops between two tasks. The exit code is 130 or 143. After kill -9, the next spawn, integrate or prune finds what was left (a claim whose owner is gone, a half-made task, a scratch worktree, a worktree moved aside) and repairs it.";

const PLAN_FORMAT: &str = "\
git agent spawn --plan FILE creates several tasks at once. FILE is JSON (- reads standard input):
  {
    \"version\": 1,
    \"base\": \"main\",
    \"tasks\": [
      { \"name\": \"db\", \"brief\": \"Add the activity table\",
        \"scope\": [\"db/\"], \"acceptance\": [\"the migration applies\"] },
      { \"name\": \"api\", \"brief\": \"Serve GET /activity\", \"after\": [\"db\"],
        \"scope\": [\"api/\"], \"acceptance\": [\"returns the last 50 events\"],
        \"command\": [\"my-agent\", \"--prompt\", \"{brief}\"] }
    ]
  }

Before creating anything the plan is validated: names are valid and unique and not taken, every dependency (after) is in the plan or an existing task, there is no cycle (the cycle is named), and no two tasks' scopes overlap (an error unless --allow-overlap; existing active tasks count too). Tasks without acceptance criteria or scope get a warning. A task's \"kind\" (lint, docs, security, ...: a lower-case word, as spawn --kind) is recorded for git agent cost. The plan's \"contracts\" (pathspecs committed on the base: every one must match a file there) are read-only for every task; its \"constraints\" are given to every task, and a task's own \"constraints\" and \"protect\" (pathspecs it must not change) add to them; \"gate\": true (the plan's, or a task's own true or false) starts tasks behind the plan review gate. --check stops after validation. Tasks are spawned in dependency order; if one fails, the tasks already created stay and the error names the one that failed. Unknown fields are errors.";

const LIST_JSON: &str = "\
git agent list --json prints {\"version\": 1, \"tasks\": [...]}, one object per task:
  name, state, branch          strings (state: active, done, integrated, unknown, corrupt)
  base_ref, base_commit        the target branch (or null) and the commit spawned from
  head                         the branch tip, or null if the branch is missing
  ahead, behind                commits on the branch not on the target (not counting
                               its dependencies' commits it holds), and the reverse;
                               behind is null for an integrated task (the target holds
                               its work and moves on without it)
  files_changed                files changed since the merge base with the target, not
                               counting files exactly as a dependency left them
  inherited_commits            commits of its dependencies it holds (stacked or merged),
                               null when it has none and is not stacked
  dirty                        uncommitted changes and untracked files in the worktree
                               (null if not checked or the worktree is missing)
  last_commit_unix             committer time of the task's own last commit (the branch
                               tip), or its spawn time when it has none
  base_drift                   commits the target gained since spawn
  out_of_scope                 changed paths outside the task's scope (its own changes)
  dependency_moved             a stacked task whose dependencies have work its branch
                               lacks: git agent restack would move it
  worktree, worktree_missing   the worktree path, and whether it is gone
  running                      whether the task's agent is running right now
  agent_exit                   exit status of the agent command, if it ran
  checkpoint_overdue           a running agent that took no checkpoint for
                               agent.checkpointEvery: seconds since its last
                               checkpoint (or its start); else null
  status                       what the agent last reported (git agent report, ask):
                               {\"status\": working | waiting | blocked, \"message\",
                               \"at_ms\": when, ms since the epoch}, or null
  question, answer             {\"text\", \"at_ms\"}: the agent's last question (git agent
                               ask) and the answer to it (git agent answer), or null
  idle                         the agent is running, but no file in its worktree changed
                               (the index, modified and untracked files) and no commit
                               was made for agent.idleAfter
  last_activity_unix           for a running agent: when that last happened, else null
  hazards                      what its own changes touch that its guards forbid:
                               [{\"kind\": \"contract\" | \"protected\" |
                               \"new-dependency\" | \"lock-file\", \"path\", ...}]
                               (integrate refuses the task; see git-agent-integrate(1))
  gate                         planned | proposed | approved for a gated task, else null
  problems                     what could not be read (corrupt record, missing branch)
  cost                         what its agents spent (git agent cost): {\"input\",
                               \"output\", \"cache_read\", \"usd\", \"unpriced\"}, or null
  after                        the tasks it was stacked on (spawn --after)
  current                      whether its worktree is the one the current directory
                               (or -C) is in; the table marks it with *
  uncommitted                  with -v: the uncommitted paths, sorted, as git status
                               --short --untracked-files=all names them without rename
                               tracking: [{\"path\", \"staged\", \"unstaged\"}], each
                               side added | modified | deleted | type-changed |
                               unmerged | untracked, or null (no change on that side);
                               without -v, null
Paths that are not valid UTF-8 are written as {\"bytes\": [..]}.";

const RESTACK_JSON: &str = "\
git agent restack --json prints {\"version\": 1, \"tasks\": [...]}, one object per task looked at (tasks with nothing to do are left out unless named):
  task           the task name
  status         restacked, would-restack (--dry-run), up-to-date, conflict, refused,
                 lost-race, failed
  before, after  the branch tip before, and after a restack (else null)
  onto           where its own commits start now: a dependency's tip or the merge of several
  dependencies   the dependencies whose work it is on (or that conflict)
  commits        its own commits, replayed
  conflicts      [{\"path\", \"kind\"}] when its commits or its dependencies conflict
  message, hint  why it was refused or failed, and what to do
The exit status is the worst outcome's: 5 failed, 4 lost-race, 3 refused, 1 conflict, else 0. Paths that are not valid UTF-8 are written as {\"bytes\": [..]}.";

const CONFLICTS_JSON: &str = "\
git agent-conflicts --json prints one object:
  version          1
  target           {\"name\", \"commit\"}: what the branches were merged into (null when
                   there was nothing to check: no tasks, or every task integrated)
  tasks            [{\"name\", \"branch\", \"head\", \"uncommitted\", \"problems\"}]
  pairs            every pair that is not plainly clean, in task order:
                   {\"a\", \"b\", \"verdict\": \"conflict\" | \"clean-overlap\" |
                    \"unrelated\" | \"error\", \"conflicts\": [{\"path\", \"kind\"}],
                    \"overlap\": [paths], \"error\" (with verdict error)}
  against_target   [{\"task\", \"verdict\": \"conflict\" | \"clean\" | \"error\",
                    \"conflicts\", \"error\" (with verdict error)}]
 hazards          [{\"kind\", \"tasks\", \"paths\", \"message\"}]
  in_order         null, or when tasks have dependencies (and not --pairwise) the tasks
                   merged one onto the other in dependency order, as integrate does:
                   [{\"task\", \"verdict\": \"applies\" | \"already-in\" | \"conflict\" |
                    \"blocked\" | \"unrelated\" | \"error\", \"conflicts\",
                    \"blocked_by\" (the dependency that does not apply), \"error\"}]
  summary          {\"tasks\", \"pairs_checked\", \"merged_in_memory\", \"conflicting_pairs\",
                    \"clean_overlaps\", \"conflicts_with_target\", \"hazards\",
                    \"unrelated_pairs\", \"failed_merges\"}
A pair with unrelated histories (git refuses to merge them) is reported and is no conflict: integration merges each task into the target, never one into the other. A merge that fails is reported with its error for that pair only; the other pairs are still checked, and the exit status is then 5, as the check is incomplete.
Conflict kinds: content, add-add, modify-delete, rename-delete, rename-rename, file-directory, directory-rename, submodule, type-change; and for the conflicts git reports with a message only, listing no conflicted file: directory-rename-split (path: the directory), directory-rename-collision, file-in-way-of-directory-rename, file-location-unlisted (path: where a directory rename would put the files named in \"sources\"). Hazard kinds: out-of-scope, dependency-manifest, migration-number, same-new-path; and the guards' (of each task's committed own changes, which integrate refuses): contract, protected, new-dependency (a dependency added or a lock file changed under a \"no new dependencies\" constraint). The conflict paths of a pair, but for those four kinds, are exactly those `git merge-tree --write-tree --name-only A B` lists. Paths that are not valid UTF-8 are written as {\"bytes\": [..]}.";

const COST_JSON: &str = "\
git agent cost --json prints one object:
  version     1
  by          task, model, kind, day or week
  since       the --since day, or null
  groups      [{\"key\", \"input\", \"output\", \"cache_read\", \"usd\", \"unpriced\"}], by key:
              the task, the model, the kind ((none) for tasks without one), the UTC day
              (YYYY-MM-DD) or ISO week (YYYY-Www) the cost was recorded (unknown: no time)
  total       the same fields for everything counted
  warnings    [{\"kind\": \"unpriced\" | \"mismatch\", \"task\", \"model\", \"message\"}]
usd is what could be priced (null when nothing could); unpriced names the models without a price, whose money is unknown.

git agent cost import --json prints {\"version\": 1, \"agent\", \"dir\", \"dry_run\", \"files\", \"sessions\", \"ignored_sessions\", \"unreadable_lines\", \"added\": [{\"task\", \"model\", \"input\", \"output\", \"cache_read\", \"source\"}], \"up_to_date\"}. git agent cost add --json prints {\"version\": 1, \"task\", \"added\", \"cost\"}.

Model classes: opus-class (the largest) is a model name containing opus; haiku-class (the smallest) one containing haiku, -mini or -nano. Kinds: mechanical ones (lint, format, types, docs, rename, test-fix) on an opus-class model, and ones that need judgement (architecture, debugging, security) on a haiku-class model, are warned about; other kinds (feature, refactor, ...) are recorded and grouped, never warned about.";

const CLOSED_STDOUT: &str = "\
A reader that stops early (git agent list | head) is no error. conflicts, check-edit, integrate, spawn, restack, sync and prune then finish their work quietly and exit with their own status (1 still means conflicts found, a failed test or a check that did not pass); the other commands stop at once with status 0.";

const WORKFLOW: &str = "\
One task per agent, each in its own branch and linked worktree; the repository holds every record, so any worktree sees every task.
  1. decompose   write a plan: tasks with briefs, scopes (the paths each
                 owns) and dependencies; git agent spawn --plan --check
                 validates it without creating anything
  2. spawn       git agent spawn TASK -- AGENT... (or --plan FILE): a
                 branch, a worktree and a record per task, the agent in it
  3. monitor     git agent list (ahead/behind, dirty, idle, out-of-scope
                 files), git agent show TASK, git agent logs TASK
  4. conflicts   git agent conflicts: every pair of task branches, and
                 each against the target, merged in memory; exit status 1
                 when something conflicts
  5. integrate   git agent done TASK as each finishes, then git agent
                 integrate: merge in dependency order, test after each
                 merge, land all or nothing
  6. prune       git agent prune: remove what was integrated; anything
                 not merged is refused, or archived first with --force

Stacked tasks (spawn --after) start on their dependencies' work; git agent restack moves them when the dependencies move.";

/// The EXAMPLES section of a page, where there is one.
fn examples(page: &str) -> Option<&'static str> {
    Some(match page {
        "git-agent" => EXAMPLES,
        "git-agent-spawn" => SPAWN_EXAMPLES,
        "git-agent-list" => LIST_EXAMPLES,
        "git-agent-conflicts" => CONFLICTS_EXAMPLES,
        "git-agent-integrate" => INTEGRATE_EXAMPLES,
        "git-agent-prune" => PRUNE_EXAMPLES,
        "git-agent-help" => HELP_EXAMPLES,
        _ => return None,
    })
}

const EXAMPLES: &str = "\
Two agents on one repository, from spawn to cleanup:
  $ git agent spawn api --scope src/api --brief \"Add the /users endpoint\" -- claude \"{brief}\"
  $ git agent spawn ui --scope web --after api --brief \"Show the users\" --detach -- claude \"{brief}\"
  $ git agent list
  $ git agent conflicts
  $ git agent done api && git agent done ui
  $ git agent integrate --test \"cargo test\"
  $ git agent prune
Go to a task's worktree, and read the manual of a command:
  $ cd \"$(git agent path api)\"
  $ git agent help integrate";

const SPAWN_EXAMPLES: &str = "\
A task whose agent runs in the foreground, the brief passed as its argument:
  $ git agent spawn api --scope src/api --brief \"Add the /users endpoint\" -- claude \"{brief}\"
A task stacked on another, its agent in the background:
  $ git agent spawn ui --after api --scope web --brief \"Show the users\" --detach -- claude \"{brief}\"
Validate a plan, then create all of its tasks:
  $ git agent spawn --plan plan.json --check
  $ git agent spawn --plan plan.json";

const LIST_EXAMPLES: &str = "\
Every task, then two of them, then as JSON for a script:
  $ git agent list
  $ git agent list api ui
  $ git agent list --json | jq -r '.tasks[] | select(.state == \"done\") | .name'";

const CONFLICTS_EXAMPLES: &str = "\
Check every task, and stop a script when something conflicts (exit status 1):
  $ git agent conflicts || echo \"resolve before integrating\"
Two tasks against main, counting their uncommitted work too:
  $ git agent conflicts --target main --include-uncommitted api ui";

const INTEGRATE_EXAMPLES: &str = "\
See the order and what each step would do, then land every done task, testing after each merge:
  $ git agent integrate --dry-run
  $ git agent integrate --test \"cargo test\"
Build on an integration branch instead of the target, landing what passes:
  $ git agent integrate --branch integration --keep-going --test \"make check\"";

const PRUNE_EXAMPLES: &str = "\
See what would go, then remove every integrated task:
  $ git agent prune --dry-run
  $ git agent prune
Remove an abandoned task, archiving its work first (refs/agent/archive/):
  $ git agent prune --force spike";

const HELP_EXAMPLES: &str = "\
  $ git agent help
  $ git agent help conflicts
  $ git agent help status | less";

const SEE_ALSO: &str = "\
git-agent(1), git-agent-spawn(1), git-agent-conflicts(1), git-worktree(1), git-merge-tree(1)";
