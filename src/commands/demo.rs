//! `git agent demo`: the whole workflow on a small sample repository, for a newcomer.
//!
//! Every step prints the command it runs, exactly as a person would type it, and runs it for
//! real through `git`, so the output is what the user will see when they repeat it by hand.
//! The "agents" are played by the demo itself: it writes their files and commits them.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::cli::DemoArgs;
use crate::error::{Exit, refused};
use crate::output::{GlobalArgs, Style, Ui, paint};

const PLAN: &str = r#"{
  "version": 1,
  "base": "main",
  "contracts": ["api/activity.schema.json"],
  "tasks": [
    { "name": "db", "brief": "Store user activity events in an activity table",
      "scope": ["db/"], "acceptance": ["db/schema.sql creates the activity table"] },
    { "name": "api", "brief": "Serve the last 50 events at GET /activity", "after": ["db"],
      "scope": ["api/"], "acceptance": ["api/activity.sh prints the activity as JSON"] },
    { "name": "frontend", "brief": "Show the activity on the dashboard page", "after": ["api"],
      "scope": ["web/"], "acceptance": ["web/dashboard.html lists the events"] },
    { "name": "tests", "brief": "Check the dashboard end to end", "after": ["db", "api", "frontend"],
      "scope": ["tests/"], "acceptance": ["tests/run.sh checks every layer"] },
    { "name": "theme", "brief": "Dark theme for the dashboard",
      "scope": ["settings.conf"], "acceptance": ["the dashboard is dark"] },
    { "name": "i18n", "brief": "Dashboard title in the user's language",
      "scope": ["settings.conf"], "acceptance": ["the title is translatable"] }
  ]
}
"#;

/// The sample repository's first commit.
const FILES: &[(&str, &str)] = &[
    ("README.md", "# Shop\n\nA tiny shop. Next feature: a user activity dashboard.\n"),
    ("settings.conf", "title = Dashboard\ntheme = light\nlanguage = en\n"),
    (
        "api/activity.schema.json",
        "{ \"events\": [{ \"user_id\": \"int\", \"event\": \"string\", \"at\": \"timestamp\" }] }\n",
    ),
    (
        "tests/run.sh",
        "#!/bin/sh\n# The shop's tests: every part that exists must be well formed.\nset -e\n\
         grep -q '^title' settings.conf\n\
         if [ -f db/schema.sql ]; then grep -q 'CREATE TABLE activity' db/schema.sql; fi\n\
         if [ -f api/activity.sh ]; then sh api/activity.sh | grep -q '\"events\"'; fi\n\
         if [ -f web/dashboard.html ]; then grep -q '/activity' web/dashboard.html; fi\n\
         echo ok\n",
    ),
];

/// Files as (path, content).
type Files = &'static [(&'static str, &'static str)];

/// What each agent does: its task, its commit message and the files it writes.
const WORK: &[(&str, &str, Files)] = &[
    (
        "db",
        "Add the activity table",
        &[("db/schema.sql", "CREATE TABLE activity (user_id INT, event TEXT, at TIMESTAMP);\n")],
    ),
    ("api", "Serve GET /activity", &[("api/activity.sh", "#!/bin/sh\necho '{\"events\": []}'\n")]),
    (
        "frontend",
        "Show the activity on the dashboard",
        &[("web/dashboard.html", "<h1>Activity</h1>\n<script>fetch('/activity')</script>\n")],
    ),
    ("tests", "Test the dashboard end to end", &[("tests/dashboard.sh", "#!/bin/sh\nsh tests/run.sh\n")]),
    ("theme", "Dark theme", &[("settings.conf", "title = Dashboard\ntheme = dark\nlanguage = en\n")]),
    ("i18n", "Translatable title", &[("settings.conf", "title = {dashboard.title}\ntheme = light\nlanguage = en\n")]),
];

pub fn run(global: &GlobalArgs, ui: &Ui, args: DemoArgs) -> anyhow::Result<Exit> {
    if ui.json {
        return Err(crate::error::no_json_output("demo")
            .hint("the demo is a guided tour; each command it shows has its own --json")
            .into());
    }
    // `-C` moves where the demo starts, like every other command's.
    let start = global.directory.clone().unwrap_or_else(|| PathBuf::from("."));
    let dir = match &args.dir {
        Some(dir) => start.join(dir),
        None => {
            refuse_nesting(&start)?;
            start.join("git-agent-demo")
        }
    };
    if dir.exists() && !dir.is_dir() {
        return Err(refused(format!("{} exists and is not a directory", dir.display()))
            .hint("name a new directory: git agent demo <dir>")
            .into());
    }
    if crate::git::is_non_empty_dir(&dir) {
        return Err(refused(format!("{} exists and is not empty", dir.display()))
            .hint("name a new directory: git agent demo <dir>")
            .into());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let repo = std::fs::canonicalize(&dir)?;
    let demo = Demo::new(ui, &repo)?;

    demo.say("A sample repository, and a feature to build: a user activity dashboard.");
    demo.git(&repo, &["init", "-q", "-b", "main"], 0)?;
    // A fresh machine may have no identity configured; the demo's own repository gets one.
    demo.git(&repo, &["config", "user.name", "Demo User"], 0)?;
    demo.git(&repo, &["config", "user.email", "demo@example.com"], 0)?;
    for (path, content) in FILES {
        demo.note(&format!("writes {path}"));
        write(&repo.join(path), content)?;
    }
    demo.git(&repo, &["add", "-A"], 0)?;
    demo.git(&repo, &["commit", "-q", "-m", "The shop, and the activity API's contract"], 0)?;

    demo.say("Decompose: six tasks with scopes, dependencies and acceptance criteria (plan.json).");
    demo.say("The API's contract (api/activity.schema.json) was committed first: read-only for every task.");
    demo.say("theme and i18n both change settings.conf: they will conflict, on purpose.");
    write(&repo.join(".git/plan.json"), PLAN)?;
    demo.note("the plan, in .git/plan.json (inside .git, so it is not part of any commit):");
    demo.show(PLAN);
    demo.agent(&["spawn", "--plan", ".git/plan.json", "--allow-overlap"], 0)?;

    demo.say("The agents work, each in its own worktree (here the demo plays the agents).");
    demo.say("They say what they are doing (an agent hook runs `git agent report`), and what they spend.");
    for (n, (task, message, files)) in WORK.iter().enumerate() {
        let worktree = worktree_of(&repo, task);
        demo.agent(&["report", "working", "--message", message, task], 0)?;
        for (path, content) in *files {
            demo.note(&format!("the {task} agent writes {path}"));
            write(&worktree.join(path), content)?;
        }
        demo.git(&worktree, &["add", "-A"], 0)?;
        demo.git(&worktree, &["commit", "-q", "-m", message], 0)?;
        if n == 0 {
            demo.say("A checkpoint: what is done, what is next (a successor agent's handoff starts from it).");
            demo.agent(&["checkpoint", task, "--completed", message, "--next", "an index on user_id"], 0)?;
        }
        let (model, input, output) =
            if n % 2 == 0 { ("claude-sonnet-4-5", "120000", "8000") } else { ("claude-haiku-4-5", "60000", "3000") };
        demo.agent(&["cost", "add", task, "--model", model, "--input", input, "--output", output], 0)?;
        demo.agent(&["done", task], 0)?;
    }

    demo.say("Before an edit, an agent's hook asks git agent check-edit (exit status 1: not ok).");
    demo.say("The frontend agent wants to touch the API's contract, and the api agent's script:");
    let frontend = worktree_of(&repo, "frontend");
    demo.git(&frontend, &["agent", "check-edit", "api/activity.schema.json", "api/activity.sh"], 1)?;

    demo.say("Monitor: every task at a glance, with its status and cost.");
    demo.agent(&["list"], 0)?;
    demo.agent(&["show", "db"], 0)?;
    demo.agent(&["cost", "--by", "model"], 0)?;

    demo.say("Gate: check every pair of branches for conflicts, in memory (exit status 1: found some).");
    demo.agent(&["conflicts"], 1)?;

    demo.say("Resolve the planted conflict: the i18n agent merges theme and keeps both changes.");
    let i18n = worktree_of(&repo, "i18n");
    demo.git(&i18n, &["merge", "-q", "agent/theme"], 1)?;
    write(&i18n.join("settings.conf"), "title = {dashboard.title}\ntheme = dark\nlanguage = en\n")?;
    demo.note("the i18n agent writes settings.conf with both changes");
    demo.git(&i18n, &["commit", "-q", "-am", "Merge theme: dark theme and translatable title"], 0)?;
    demo.agent(&["conflicts"], 0)?;

    demo.say("Integrate in dependency order, running the tests after every merge; all or nothing.");
    demo.agent(&["integrate", "--test", "sh tests/run.sh"], 0)?;

    demo.say("Clean up: remove the integrated tasks' worktrees, branches and records.");
    demo.agent(&["prune"], 0)?;
    demo.say("integrate keeps a scratch worktree warm for next time; the demo is over, so it goes too.");
    demo.agent(&["prune", "--scratch"], 0)?;
    demo.git(&repo, &["log", "--oneline", "--graph", "-n", "20"], 0)?;

    demo.say(&format!(
        "Done. The repository is in {}: look around with `git log --graph` there, and read `man git-agent`.",
        repo.display()
    ));
    Ok(Exit::Success)
}

/// Runs the demo's commands with this build's binaries first on PATH, so that `git agent`
/// finds them even before they are installed.
struct Demo<'a> {
    ui: &'a Ui,
    repo: PathBuf,
    path: std::ffi::OsString,
}

impl<'a> Demo<'a> {
    fn new(ui: &'a Ui, repo: &Path) -> anyhow::Result<Self> {
        let own =
            std::env::current_exe()?.parent().map(Path::to_path_buf).context("cannot find the git-agent binaries")?;
        let mut dirs = vec![own];
        dirs.extend(
            std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default(),
        );
        Ok(Demo { ui, repo: repo.to_path_buf(), path: std::env::join_paths(dirs)? })
    }

    fn say(&self, text: &str) {
        self.ui.data(&format!("\n{}\n", paint(format!("## {text}"), Style::new().bold())));
    }

    /// A file's text, indented under the note that names it.
    fn show(&self, text: &str) {
        let indented: String = text.lines().map(|line| format!("    {line}\n")).collect();
        self.ui.data(&paint(indented, Style::new().dimmed()));
    }

    fn note(&self, text: &str) {
        self.ui.data(&format!("{}\n", paint(format!("# {text}"), Style::new().dimmed())));
    }

    /// Runs `git agent <args>` in the repository, expecting exit status `expected`.
    fn agent(&self, args: &[&str], expected: i32) -> anyhow::Result<()> {
        let mut all = vec!["agent"];
        all.extend_from_slice(args);
        self.run(&self.repo, &all, expected)
    }

    fn git(&self, dir: &Path, args: &[&str], expected: i32) -> anyhow::Result<()> {
        self.run(dir, args, expected)
    }

    fn run(&self, dir: &Path, args: &[&str], expected: i32) -> anyhow::Result<()> {
        let shown: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        let location = if dir == self.repo { String::new() } else { format!("(cd {} && ", dir.display()) };
        let closing = if location.is_empty() { "" } else { ")" };
        self.ui.data(&format!(
            "{} {location}git {}{closing}\n",
            paint("$", Style::new().cyan().bold()),
            shown.join(" ")
        ));
        let outcome = crate::process::Run::new("git", dir)
            .args(args.iter().copied())
            .env("PATH", &self.path)
            .capture(crate::process::Capture::Terminal)
            .run()
            .context("cannot run git")?;
        let code = outcome.status.code().unwrap_or(-1);
        if code != expected {
            bail!("`git {}` exited with {code}, the demo expected {expected}", args.join(" "));
        }
        Ok(())
    }
}

/// Without a directory named, the demo would put its repository wherever the user stands: inside
/// another repository that is a nested repository showing up as untracked files, so refuse.
fn refuse_nesting(start: &Path) -> anyhow::Result<()> {
    let Ok(found) = gix::discover(start) else { return Ok(()) };
    let Some(workdir) = found.workdir() else { return Ok(()) };
    let workdir = crate::git::normalise_path(workdir);
    Err(refused(format!(
        "{} is inside the git repository {}: the demo would create its repository in there",
        crate::git::normalise_path(start).display(),
        workdir.display()
    ))
    .hint("name a directory for it, for example: git agent demo /tmp/git-agent-demo")
    .into())
}

fn worktree_of(repo: &Path, task: &str) -> PathBuf {
    let mut name = repo.file_name().unwrap_or_default().to_owned();
    name.push(".agents");
    repo.with_file_name(name).join(task)
}

fn write(path: &Path, content: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, content).with_context(|| format!("cannot write {}", path.display()))
}

/// Quotes an argument for display the way a POSIX shell would need it.
fn shell_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b)) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}
