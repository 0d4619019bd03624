//! `git agent watch`: the live dashboard. The data is [`crate::ops::watch`]'s [`Snapshot`];
//! this draws it with ratatui, on the terminal or (`--once`) into a buffer printed as text:
//! one renderer, two outputs.

use std::io::IsTerminal;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::backend::TestBackend;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row as TableRow, Table, TableState, Wrap};

use super::Context;
use super::list::{age, status_cell};
use crate::cli::WatchArgs;
use crate::error::{Exit, bad_input};
use crate::ops::conflicts::NothingToCheck;
use crate::ops::list::Row;
use crate::ops::watch::{Gatherer, Matrix, Radar, Snapshot};
use crate::output::{GlobalArgs, Ui, kebab};
use crate::process::{Capture, Run};

/// File-system events that come in a burst (a commit writes objects, the index, a ref, the
/// reflog) make one refresh, this long after the first.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// How long to wait for a key before looking at the file-system events: crossterm can wait
/// for the terminal only (no waker without its async stream), and a thread reading keys
/// would steal them from the editor `o` starts. Waking this often costs next to nothing.
const TICK: Duration = Duration::from_millis(250);
/// With file-system events, still refresh this often: ages, idleness and dirty files change
/// without any watched file changing.
const RECHECK: Duration = Duration::from_secs(30);
/// Width of a `--once` frame when `COLUMNS` does not say.
const DEFAULT_WIDTH: u16 = 100;
/// Events a `--once` frame shows.
const ONCE_EVENTS: usize = 10;

pub fn run(global: &GlobalArgs, ui: &Ui, args: WatchArgs) -> anyhow::Result<Exit> {
    // At most a day: a longer wait is no refresh at all (and past ~5e11 s no Duration).
    if !(args.interval.is_finite() && (0.1..=86_400.0).contains(&args.interval)) {
        return Err(
            bad_input(format!("--interval {}: not a number of seconds from 0.1 to 86400", args.interval)).into()
        );
    }
    if ui.json {
        // The dashboard is a view; its data already has a JSON form.
        return Err(crate::error::no_json_output("watch")
            .hint("`git agent list --json` and `git agent conflicts --json` give the same facts")
            .into());
    }
    let ctx = Context::open(global)?;
    let mut gatherer = Gatherer::default();
    if args.once {
        let snapshot = gatherer.gather(&ctx)?;
        let mut text = once(&snapshot, once_width())?;
        text.push('\n');
        ui.data(&text);
        return Ok(Exit::Success);
    }
    if !(std::io::stdout().is_terminal() && std::io::stdin().is_terminal()) {
        return Err(bad_input("git agent watch needs a terminal")
            .hint("`git agent watch --once` prints one frame as text")
            .into());
    }
    live(&ctx, &mut gatherer, Duration::from_secs_f64(args.interval), args.poll)
}

fn once_width() -> u16 {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<u16>().ok());
    columns.filter(|c| *c >= 20).unwrap_or(DEFAULT_WIDTH)
}

/// What is on screen besides the data.
#[derive(Default)]
struct View {
    selected: usize,
    popup: Option<Popup>,
    /// The outcome of the last key's action, shown in the footer.
    message: Option<String>,
    /// Live on a terminal: keys in the footer, the selection marked.
    live: bool,
}

struct Popup {
    title: String,
    text: String,
    scroll: u16,
}

/// One frame as plain text, its height fitted to the content.
fn once(snapshot: &Snapshot, width: u16) -> anyhow::Result<String> {
    let view = View::default();
    let events = snapshot.events.len().min(ONCE_EVENTS) as u16;
    let height = 1 + tasks_height(snapshot) + radar_height(&snapshot.radar) + events.max(1) + 2;
    let mut terminal = ratatui::Terminal::new(TestBackend::new(width, height))?;
    terminal.draw(|frame| draw(frame, snapshot, &view))?;
    let buffer = terminal.backend().buffer();
    let lines: Vec<String> = (0..buffer.area.height)
        .map(|y| {
            let line: String = (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect();
            line.trim_end().to_owned()
        })
        .collect();
    Ok(lines.join("\n").trim_end().to_owned())
}

fn tasks_height(snapshot: &Snapshot) -> u16 {
    snapshot.rows.len().max(1) as u16 + 3
}

fn radar_height(radar: &Radar) -> u16 {
    match radar {
        // Borders, the column numbers, a row per task, the conflicts (or "no conflicts"), the legend.
        Radar::Checked(matrix) => {
            let summary = if shown(matrix).len() < matrix.names.len() { 1 } else { 0 };
            shown(matrix).len() as u16 + 4 + summary + matrix.conflicts.len().clamp(1, 5) as u16
        }
        _ => 3,
    }
}

fn draw(frame: &mut Frame, snapshot: &Snapshot, view: &View) {
    let footer = if view.live { 1 } else { 0 };
    let [title, tasks, radar, events, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(tasks_height(snapshot)),
        Constraint::Length(radar_height(&snapshot.radar)),
        Constraint::Min(3),
        Constraint::Length(footer),
    ])
    .areas(frame.area());
    let count = snapshot.rows.len();
    frame.render_widget(Line::from(format!("git agent watch: {count} task(s)")).bold(), title);
    draw_tasks(frame, tasks, snapshot, view);
    draw_radar(frame, radar, &snapshot.radar);
    draw_events(frame, events, snapshot);
    if view.live {
        let help = "up/down j/k select  enter/s show  o open  a attach  q quit";
        let text = view.message.as_deref().map_or(help.to_owned(), |m| format!("{m}   ({help})"));
        frame.render_widget(Line::from(text).dim(), keys);
    }
    if let Some(popup) = &view.popup {
        draw_popup(frame, popup);
    }
}

const HEADER: [&str; 9] = ["TASK", "STATE", "STATUS", "AGENT", "AHEAD", "BEHIND", "DIRTY", "LAST", "COST"];

fn draw_tasks(frame: &mut Frame, area: Rect, snapshot: &Snapshot, view: &View) {
    let block = Block::bordered().title(" tasks ");
    if snapshot.rows.is_empty() {
        let text = "no tasks yet: start one with `git agent spawn <task>`";
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let cells: Vec<[String; 9]> = snapshot.rows.iter().map(|row| task_cells(row, snapshot.now)).collect();
    let widths = HEADER.map(|h| {
        let widest = cells.iter().map(|c| c[HEADER.iter().position(|x| *x == h).unwrap_or(0)].chars().count());
        Constraint::Length(widest.chain([h.len()]).max().unwrap_or(0) as u16)
    });
    let rows = cells.into_iter().zip(&snapshot.rows).map(|(cells, row)| {
        let style = match row.state {
            crate::ops::list::RowState::Integrated => Style::new().dim(),
            crate::ops::list::RowState::Corrupt | crate::ops::list::RowState::Unknown => Style::new().red(),
            _ if row.running && !row.idle => Style::new().green(),
            _ => Style::new(),
        };
        TableRow::new(cells.map(Cell::from)).style(style)
    });
    let table = Table::new(rows, widths)
        .header(TableRow::new(HEADER).bold())
        .block(block)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(view.live.then_some(view.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn task_cells(row: &Row, now: i64) -> [String; 9] {
    let count = |n: Option<usize>| n.map_or("-".to_owned(), |n| n.to_string());
    [
        row.name.clone(),
        kebab(&row.state),
        status_cell(row, now),
        agent_cell(row, now),
        count(row.ahead),
        count(row.behind),
        row.dirty.map_or("-", |d| if d { "yes" } else { "no" }).to_owned(),
        row.last_commit_unix.map_or("-".to_owned(), |t| age(now - t)),
        row.cost.as_ref().map_or("-".to_owned(), |c| c.short()),
    ]
}

/// Whether the agent runs, is idle (and for how long), or how it exited.
fn agent_cell(row: &Row, now: i64) -> String {
    match (row.running, row.idle, row.agent_exit) {
        (true, true, _) => format!("idle {}", row.last_activity_unix.map_or("-".to_owned(), |t| age(now - t))),
        (true, false, _) => "running".to_owned(),
        (false, _, Some(0)) => "exited".to_owned(),
        (false, _, Some(code)) => format!("exit {code}"),
        (false, _, None) => "-".to_owned(),
    }
}

fn draw_radar(frame: &mut Frame, area: Rect, radar: &Radar) {
    let block = Block::bordered().title(" conflicts ");
    let lines = match radar {
        Radar::Nothing(NothingToCheck::NoTasks) => vec![Line::from("no tasks")],
        Radar::Nothing(NothingToCheck::AllIntegrated) => vec![Line::from("every task is integrated")],
        Radar::Unavailable(why) => vec![Line::from(format!("cannot check: {why}")).red()],
        Radar::Checked(matrix) => matrix_lines(matrix),
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The matrix as `git agent conflicts` draws it: numbered rows, a column per task, then the
/// target; the conflicts under it.
fn matrix_lines(matrix: &Matrix) -> Vec<Line<'static>> {
    let shown = shown(matrix);
    let width = shown.len().to_string().len() + 1;
    let name_width = shown.iter().map(|&i| matrix.names[i].chars().count()).max().unwrap_or(0).min(24);
    let mut header = format!("{:>width$} {:<name_width$}", "", "");
    for n in 1..=shown.len() {
        header.push_str(&format!("{n:>width$}"));
    }
    header.push_str(&format!("  {}", matrix.target));
    let mut lines = vec![Line::from(header)];
    for (n, &i) in shown.iter().enumerate() {
        let name: String = matrix.names[i].chars().take(name_width).collect();
        let mut spans = vec![Span::raw(format!("{:>width$} {name:<name_width$}", n + 1))];
        for &j in &shown {
            let mark = if i == j { '-' } else { matrix.cells[i][j].map_or('.', super::conflicts::pair_mark) };
            spans.push(Span::raw(" ".repeat(width - 1)));
            spans.push(mark_span(mark));
        }
        spans.push(Span::raw("  "));
        spans.push(mark_span(if matrix.against_target[i] { 'X' } else { '.' }));
        lines.push(Line::from(spans));
    }
    if shown.len() < matrix.names.len() {
        let others = matrix.names.len() - shown.len();
        lines.push(Line::from(format!("({others} other task(s) merge cleanly with every other and with the target)")));
    }
    if matrix.conflicts.is_empty() {
        lines.push(Line::from("no conflicts").green());
    } else {
        lines.extend(matrix.conflicts.iter().take(5).map(|c| Line::from(c.clone()).red()));
    }
    lines.push(Line::from("X conflict  ~ same files, merges cleanly  . clean").dim());
    lines
}

/// The tasks the matrix shows: all, or beyond `conflicts`' limit only those involved in
/// something, as `git agent conflicts` does.
fn shown(matrix: &Matrix) -> Vec<usize> {
    let all = 0..matrix.names.len();
    if matrix.names.len() <= super::conflicts::MATRIX_MAX {
        return all.collect();
    }
    all.filter(|&i| matrix.against_target[i] || matrix.cells[i].iter().any(Option::is_some)).collect()
}

fn mark_span(mark: char) -> Span<'static> {
    let span = Span::raw(mark.to_string());
    match mark {
        'X' => span.red().bold(),
        '~' | 'u' | '!' => span.yellow(),
        _ => span.dim(),
    }
}

fn draw_events(frame: &mut Frame, area: Rect, snapshot: &Snapshot) {
    let block = Block::bordered().title(" recent events ");
    let width = snapshot.events.iter().map(|e| e.task.chars().count()).max().unwrap_or(0);
    let lines: Vec<Line> = snapshot
        .events
        .iter()
        .map(|event| {
            let when = match event.at_ms {
                0 => "-".to_owned(),
                at => age(snapshot.now - (at / 1000) as i64),
            };
            Line::from(format!("{when:>4}  {:<width$}  {}", event.task, event.what))
        })
        .collect();
    let lines = if lines.is_empty() { vec![Line::from("none yet")] } else { lines };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_popup(frame: &mut Frame, popup: &Popup) {
    let area = frame.area();
    let inner = Rect {
        x: area.width / 10,
        y: area.height / 10,
        width: area.width - area.width / 5,
        height: area.height - area.height / 5,
    };
    let title = format!(" {}  (up/down scroll, q/Esc close) ", popup.title);
    let text = Paragraph::new(popup.text.clone())
        .block(Block::bordered().title(title))
        .wrap(Wrap { trim: false })
        .scroll((popup.scroll, 0));
    frame.render_widget(Clear, inner);
    frame.render_widget(text, inner);
}

/// The terminal is given back as it was, however watch ends; ratatui's panic hook does the same
/// on a panic.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// What a key asks for.
enum Action {
    Quit,
    Nothing,
    Show(String),
    Open(String),
    Attach(String),
}

fn live(ctx: &Context, gatherer: &mut Gatherer, interval: Duration, poll: bool) -> anyhow::Result<Exit> {
    let (changes, changed) = mpsc::channel();
    let watcher = if poll { None } else { watch_files(&ctx.repo, changes) };
    let recheck = if watcher.is_some() { RECHECK } else { interval };
    let mut snapshot = gatherer.gather(ctx)?;
    let mut terminal = ratatui::try_init()?;
    let _restore = Restore;
    let mut view = View { live: true, ..View::default() };
    if watcher.is_none() {
        let why = if poll { "" } else { "cannot watch the files: " };
        view.message = Some(format!("{why}refreshing every {}s", interval.as_secs_f64()));
    }
    let mut next_gather = Instant::now() + recheck;
    let mut pending: Option<Instant> = None;
    loop {
        view.selected = view.selected.min(snapshot.rows.len().saturating_sub(1));
        terminal.draw(|frame| draw(frame, &snapshot, &view))?;
        // Wait for a key, a file-system change (then the debounce), or the next recheck.
        let action = loop {
            let due = pending.map_or(next_gather, |first| (first + DEBOUNCE).min(next_gather));
            let now = Instant::now();
            if now >= due {
                break None;
            }
            if event::poll((due - now).min(TICK))? {
                break Some(event::read()?);
            }
            if changed.try_iter().count() > 0 {
                pending.get_or_insert(now);
            }
        };
        let Some(input) = action else {
            snapshot = gatherer.gather(ctx)?;
            pending = None;
            next_gather = Instant::now() + recheck;
            continue;
        };
        let TermEvent::Key(key) = input else { continue };
        match on_key(key, &snapshot, &mut view) {
            Action::Quit => return Ok(Exit::Success),
            Action::Nothing => {}
            Action::Show(task) => view.popup = Some(show(ctx, &task)),
            Action::Open(task) => {
                let open = own_command(ctx).args(["open", "--", &task]);
                view.message = Some(suspended(&mut terminal, &[open], &format!("git agent open {task}"))?);
            }
            Action::Attach(task) => {
                view.message = Some(match crate::ops::background::attach(ctx, &task) {
                    Ok(steps) => suspended(&mut terminal, &steps, &format!("git agent attach {task}"))?,
                    Err(err) => format!("{err:#}"),
                });
            }
        }
    }
}

fn on_key(key: KeyEvent, snapshot: &Snapshot, view: &mut View) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::Nothing;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return Action::Quit;
    }
    if let Some(popup) = &mut view.popup {
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => view.popup = None,
            KeyCode::Down | KeyCode::Char('j') => popup.scroll = popup.scroll.saturating_add(1),
            KeyCode::Up | KeyCode::Char('k') => popup.scroll = popup.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => popup.scroll = popup.scroll.saturating_add(10),
            KeyCode::PageUp => popup.scroll = popup.scroll.saturating_sub(10),
            _ => {}
        }
        return Action::Nothing;
    }
    let selected = snapshot.rows.get(view.selected).map(|row| row.name.clone());
    view.message = None;
    match (key.code, selected) {
        (KeyCode::Esc | KeyCode::Char('q'), _) => Action::Quit,
        (KeyCode::Down | KeyCode::Char('j'), _) => {
            view.selected = (view.selected + 1).min(snapshot.rows.len().saturating_sub(1));
            Action::Nothing
        }
        (KeyCode::Up | KeyCode::Char('k'), _) => {
            view.selected = view.selected.saturating_sub(1);
            Action::Nothing
        }
        (KeyCode::Enter | KeyCode::Char('s'), Some(task)) => Action::Show(task),
        (KeyCode::Char('o'), Some(task)) => Action::Open(task),
        (KeyCode::Char('a'), Some(task)) => Action::Attach(task),
        _ => Action::Nothing,
    }
}

/// `git agent ...` itself, run in the repository.
fn own_command(ctx: &Context) -> Run {
    let exe = std::env::current_exe().unwrap_or_else(|_| "git-agent".into());
    let dir = ctx.repo.workdir().unwrap_or(ctx.repo.git_dir());
    Run::new(exe, dir).keep_repository_env()
}

/// `git agent show TASK`'s text, for the popup.
fn show(ctx: &Context, task: &str) -> Popup {
    let run = own_command(ctx).args(["show", "--color", "never", "--", task]).capture(Capture::Stdout(1 << 20));
    let text = match run.run() {
        Ok(outcome) if outcome.status.success() => String::from_utf8_lossy(&outcome.stdout).into_owned(),
        Ok(outcome) => outcome.output_tail_lossy(),
        Err(err) => format!("{err:#}"),
    };
    Popup { title: format!("git agent show {task}"), text, scroll: 0 }
}

/// Runs `steps` on the terminal given back to the shell (an editor, tmux), then takes it
/// again; says how it went.
fn suspended(terminal: &mut ratatui::DefaultTerminal, steps: &[Run], what: &str) -> anyhow::Result<String> {
    ratatui::restore();
    let mut message = format!("{what}: done");
    for step in steps {
        let step = step.clone().capture(Capture::Terminal).timeout(None);
        match step.run() {
            Ok(outcome) if outcome.status.success() => {}
            Ok(outcome) => {
                message = format!("{what}: exited {}", crate::process::exit_code(outcome.status));
                break;
            }
            Err(err) => {
                message = format!("{what}: {err:#}");
                break;
            }
        }
    }
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    terminal.clear()?;
    Ok(message)
}

/// Sends a message on every file-system change under [`crate::ops::watch::watched_paths`];
/// None when the file system cannot be watched (watch then polls).
fn watch_files(repo: &gix::Repository, changes: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Reads (ours among them) are no change.
        if event.is_ok_and(|event| !matches!(event.kind, notify::EventKind::Access(_))) {
            let _ = changes.send(());
        }
    })
    .ok()?;
    for (path, recursive) in crate::ops::watch::watched_paths(repo) {
        let mode = if recursive { notify::RecursiveMode::Recursive } else { notify::RecursiveMode::NonRecursive };
        watcher.watch(&path, mode).ok()?;
    }
    Some(watcher)
}
