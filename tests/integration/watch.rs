//! `git agent watch`: one frame with `--once`, and the live dashboard driven through tmux.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::background::{TmuxServer, wait_until};
use crate::common::*;
use crate::spawn::agents_dir;

/// A repository with tasks one and two changing the same line of f (a conflict) and three
/// changing another file.
fn fleet(env: &Env) -> PathBuf {
    let repo = env.repo("r", &[("f", "base\n"), ("g", "g\n")]);
    for task in ["one", "two", "three"] {
        env.agent(&repo, &["spawn", task, "-q"]).success();
    }
    let worktrees = agents_dir(&repo);
    env.commit(&worktrees.join("one"), &[("f", "one\n")], "one");
    env.commit(&worktrees.join("two"), &[("f", "two\n")], "two");
    env.commit(&worktrees.join("three"), &[("g", "three\n")], "three");
    env.agent(&repo, &["report", "working", "two"]).success();
    repo
}

/// The cells of the tasks table's row of `task` in a frame, by column title (a column starts
/// where its title does).
fn row(frame: &str, task: &str) -> std::collections::HashMap<String, String> {
    let chars = |l: &str| -> Vec<char> { l.chars().collect() };
    let header = chars(frame.lines().find(|l| l.contains("TASK")).unwrap_or_else(|| panic!("no header in\n{frame}")));
    let line = frame.lines().find(|l| is_row(l, task)).map(chars);
    let line = line.unwrap_or_else(|| panic!("no row for {task} in\n{frame}"));
    let starts: Vec<usize> = (0..header.len())
        .filter(|&i| header[i].is_ascii_uppercase() && (i == 0 || header[i - 1] == ' ' || header[i - 1] == '│'))
        .collect();
    let mut cells = std::collections::HashMap::new();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(header.len()).min(line.len());
        let title: String = header[start..].iter().take_while(|c| c.is_ascii_uppercase()).collect();
        let cell: String = line.get(start..end).unwrap_or_default().iter().collect();
        cells.insert(title, cell.trim_matches(['│', ' ']).to_owned());
    }
    cells
}

#[test]
fn once_prints_the_tasks_the_conflicts_radar_and_the_events() {
    let env = Env::new();
    let repo = fleet(&env);
    let frame = env.run(&repo, "sh", &["-c", "COLUMNS=90 git agent watch --once"]).success().stdout;
    assert!(!frame.contains('\x1b'), "escape codes in\n{frame}");
    assert!(frame.lines().all(|l| l.chars().count() <= 90), "wider than COLUMNS:\n{frame}");
    // The rows say what `list --json` says.
    let list = env.agent(&repo, &["list", "--json"]).success().json();
    for task in list["tasks"].as_array().unwrap() {
        let cells = row(&frame, task["name"].as_str().unwrap());
        assert_eq!(cells["STATE"], task["state"].as_str().unwrap(), "{frame}");
        assert_eq!(cells["AHEAD"], task["ahead"].to_string(), "{frame}");
        assert_eq!(cells["BEHIND"], task["behind"].to_string(), "{frame}");
        assert_eq!(cells["DIRTY"], "no", "{frame}");
    }
    assert!(row(&frame, "two")["STATUS"].starts_with("working "), "{frame}");
    // The radar marks the conflicting pair (one and two, rows 1 and 2), and only it, as
    // `git agent conflicts` does.
    let matrix = env.agent(&repo, &["conflicts"]).code(1).stdout;
    for task in ["one", "two", "three"] {
        assert_eq!(row_marks(&frame, task), row_marks(&matrix, task), "{task}:\n{frame}\n{matrix}");
    }
    assert!(row_marks(&frame, "one").contains(&"X".to_owned()), "{frame}");
    assert!(!row_marks(&frame, "three").contains(&"X".to_owned()), "{frame}");
    assert!(frame.contains("one x two: f (content)"), "{frame}");
    // Events, newest first: the report came last.
    let events: Vec<&str> = frame.lines().skip_while(|l| !l.contains("recent events")).skip(1).collect();
    assert!(events[0].contains("two") && events[0].contains("status: working"), "{frame}");
    assert!(events.iter().filter(|l| l.contains("spawn")).count() == 3, "{frame}");
}

/// Whether `line` is the tasks table's row of `task` (live, rows are indented for the "> " of
/// the selected one).
fn is_row(line: &str, task: &str) -> bool {
    line.trim_start_matches(['│', '>', ' ']).starts_with(&format!("{task} ")) && !line.contains(" x ")
}

fn has_row(screen: &str, task: &str) -> bool {
    screen.lines().any(|l| is_row(l, task))
}

/// The marks of `task`'s row of a conflicts matrix ("1 one - X ." gives "-", "X", ".").
fn row_marks(text: &str, task: &str) -> Vec<String> {
    let fields =
        |l: &str| -> Vec<String> { l.trim_matches(['│', ' ']).split_whitespace().map(str::to_owned).collect() };
    let line = text.lines().map(fields).find(|f| f.get(1).map(String::as_str) == Some(task));
    line.unwrap_or_else(|| panic!("no matrix row for {task} in\n{text}")).split_off(2)
}

#[test]
fn once_with_no_tasks_says_so() {
    let env = Env::new();
    let repo = env.repo("r", &[("f", "x\n")]);
    let frame = env.agent(&repo, &["watch", "--once"]).success().stdout;
    assert!(frame.contains("no tasks yet"), "{frame}");
}

#[test]
fn without_a_terminal_it_refuses_and_points_to_once() {
    let env = Env::new();
    let repo = env.repo("r", &[("f", "x\n")]);
    env.agent(&repo, &["watch"]).code(2).stderr_has("needs a terminal").stderr_has("--once");
    // An interval is checked before anything else, also one too large for a Duration.
    for bad in ["1e20", "0", "-1", "NaN", "inf", "86401"] {
        env.agent(&repo, &["watch", "--once", &format!("--interval={bad}")]).code(2).stderr_has("--interval");
    }
    // --json is refused, as a JSON error, rather than ignored.
    let run = env.agent(&repo, &["watch", "--once", "--json"]).code(2);
    assert_eq!(run.json()["error"]["exit"], 2, "{run:?}");
    assert!(run.stderr.contains("list --json"), "{run:?}");
}

/// A tmux server of the test's own, with one pane running `command` in `dir`; killed at the end.
struct Tmux {
    server: TmuxServer,
}

impl Tmux {
    fn start(env: &Env, dir: &Path, command: &str) -> Tmux {
        let status = env.command("tmux", env.path()).arg("-V").stdout(Stdio::null()).status();
        assert!(status.is_ok_and(|s| s.success()), "tmux is not installed: install it (.ci/run does)");
        let tmux = Tmux { server: TmuxServer::new(env) };
        let dir = dir.to_str().unwrap();
        tmux.run(env, &["-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", "-c", dir, command]);
        tmux
    }

    fn run(&self, env: &Env, args: &[&str]) -> String {
        let out = env.command("tmux", env.path()).args(["-L", &self.server.socket]).args(args).output().unwrap();
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self, env: &Env) -> String {
        self.run(env, &["capture-pane", "-p"])
    }

    /// Waits until the pane shows what `seen` looks for.
    #[track_caller]
    fn wait_for(&self, env: &Env, what: &str, seen: impl Fn(&str) -> bool) {
        wait_until(what, || seen(&self.screen(env)));
    }
}

#[test]
fn the_live_dashboard_follows_the_fleet_shows_a_task_and_quits_restoring_the_terminal() {
    let env = Env::new();
    let repo = fleet(&env);
    let tmux = Tmux::start(&env, &repo, "git agent watch; echo watch-exited-$?; sleep 600");
    tmux.wait_for(&env, "the task rows", |s| has_row(s, "three") && s.contains("one x two: f"));
    assert_eq!(tmux.run(&env, &["display", "-p", "#{alternate_on}"]).trim(), "1");

    // A commit moves a branch: its row and the radar follow (three now conflicts with one).
    env.commit(&agents_dir(&repo).join("three"), &[("f", "three\n")], "three again");
    tmux.wait_for(&env, "the commit to show", |s| s.contains("one x three: f"));
    assert_eq!(row(&tmux.screen(&env), "three")["AHEAD"], "2");
    // A new task gets a row.
    env.agent(&repo, &["spawn", "four", "-q"]).success();
    tmux.wait_for(&env, "the new task", |s| has_row(s, "four"));

    // j selects the second task, s shows it; q closes the popup.
    tmux.run(&env, &["send-keys", "j", "s"]);
    tmux.wait_for(&env, "show's popup", |s| s.contains("git agent show two") && s.contains("branch agent/two"));
    tmux.run(&env, &["send-keys", "q"]);
    tmux.wait_for(&env, "the popup to close", |s| !s.contains("git agent show two"));
    // a on a task whose agent is not in tmux: attach's refusal, in the footer.
    tmux.run(&env, &["send-keys", "a"]);
    tmux.wait_for(&env, "attach's refusal", |s| s.contains("task \"two\" has no running agent"));

    tmux.run(&env, &["send-keys", "q"]);
    tmux.wait_for(&env, "watch to exit", |s| s.contains("watch-exited-0"));
    assert_eq!(tmux.run(&env, &["display", "-p", "#{alternate_on}"]).trim(), "0");
    assert!(!tmux.screen(&env).contains("recent events"), "{}", tmux.screen(&env));
}

#[test]
fn polling_refreshes_without_file_system_events() {
    let env = Env::new();
    let repo = env.repo("r", &[("f", "x\n")]);
    env.agent(&repo, &["spawn", "one", "-q"]).success();
    let tmux = Tmux::start(&env, &repo, "git agent watch --poll --interval 0.2; echo watch-exited-$?; sleep 600");
    tmux.wait_for(&env, "the task row", |s| has_row(s, "one") && s.contains("refreshing every 0.2s"));
    env.agent(&repo, &["spawn", "two", "-q"]).success();
    tmux.wait_for(&env, "the new task", |s| has_row(s, "two"));
    tmux.run(&env, &["send-keys", "C-c"]);
    tmux.wait_for(&env, "watch to exit", |s| s.contains("watch-exited-0"));
}

#[test]
fn a_large_fleet_radar_shows_only_the_tasks_involved_as_conflicts_does() {
    let env = Env::new();
    let repo = env.repo("r", &[("f", "base\n")]);
    for i in 0..26 {
        env.agent(&repo, &["spawn", &format!("t{i:02}"), "-q"]).success();
    }
    env.commit(&agents_dir(&repo).join("t03"), &[("f", "three\n")], "three");
    env.commit(&agents_dir(&repo).join("t17"), &[("f", "seventeen\n")], "seventeen");
    let frame = env.run(&repo, "sh", &["-c", "COLUMNS=120 git agent watch --once"]).success().stdout;
    let matrix = env.agent(&repo, &["conflicts"]).code(1).stdout;
    for task in ["t03", "t17"] {
        assert_eq!(row_marks(&frame, task), row_marks(&matrix, task), "{task}:\n{frame}\n{matrix}");
    }
    assert!(frame.contains("(24 other task(s) merge cleanly"), "{frame}");
    assert!(has_row(&frame, "t25"), "every task keeps its row in the tasks table:\n{frame}");
}
