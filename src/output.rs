//! Everything every binary shares about talking to the user: global flags, colour, and
//! writing data to stdout (where a closed pipe is a quiet success) and status to stderr.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, ValueEnum};
pub use owo_colors::Style;

/// Whether colour was chosen for stdout and for stderr; decided once per process by [`Ui::new`].
static COLOR_OUT: AtomicBool = AtomicBool::new(false);
static COLOR_ERR: AtomicBool = AtomicBool::new(false);
/// Whether a JSON document is on stdout already: an error after it is told on stderr only,
/// so that stdout holds one document.
static JSON_WRITTEN: AtomicBool = AtomicBool::new(false);

/// Set once stdout was closed under a command that keeps its exit status (see
/// [`Ui::keep_status_when_stdout_closes`]): later data is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// The stream a painted text goes to: each has its own colour decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Applies `style` to `text` when colour is on for stdout (data).
pub fn paint(text: impl std::fmt::Display, style: Style) -> String {
    paint_on(Stream::Stdout, text, style)
}

/// Applies `style` to `text` when colour is on for `stream`.
pub fn paint_on(stream: Stream, text: impl std::fmt::Display, style: Style) -> String {
    use owo_colors::OwoColorize;
    let flag = match stream {
        Stream::Stdout => &COLOR_OUT,
        Stream::Stderr => &COLOR_ERR,
    };
    if flag.load(Ordering::Relaxed) { text.style(style).to_string() } else { text.to_string() }
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// Colour where git config color.agent or color.ui says so, else on a terminal unless NO_COLOR is set.
    #[default]
    Auto,
    Always,
    Never,
}

/// Flags shared by every `git-agent` binary and subcommand (shown under their own heading, and
/// in every man page's GLOBAL OPTIONS).
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Run as if started in <PATH>, like `git -C`.
    #[arg(short = 'C', value_name = "PATH", global = true)]
    pub directory: Option<PathBuf>,

    /// When to colour the output.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Print machine-readable JSON on stdout instead of text; an error is a JSON object there
    /// too (schemas: `git agent schema`).
    #[arg(long, global = true)]
    pub json: bool,

    /// Print no status messages on stderr (data on stdout and errors are still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Where a command writes: data to stdout, status to stderr.
pub struct Ui {
    pub json: bool,
    pub quiet: bool,
    /// Colour on stdout.
    pub color: bool,
    /// Colour on stderr (status, warnings, errors).
    pub color_err: bool,
    /// See [`Ui::keep_status_when_stdout_closes`].
    keep_status: bool,
}

impl Ui {
    /// Decides colour once per stream: the flag, then git config color.agent, then color.ui
    /// (read from the repository -C names, or the global configuration outside one), then
    /// NO_COLOR, then whether that stream is a terminal.
    pub fn new(args: &GlobalArgs) -> Ui {
        let choice = match args.color {
            ColorChoice::Auto => configured_color(args.directory.as_deref()),
            flag => flag,
        };
        let color = wants_color(choice, std::io::stdout().is_terminal());
        let color_err = wants_color(choice, std::io::stderr().is_terminal());
        COLOR_OUT.store(color, Ordering::Relaxed);
        COLOR_ERR.store(color_err, Ordering::Relaxed);
        Ui { json: args.json, quiet: args.quiet, color, color_err, keep_status: false }
    }

    /// For commands whose exit status means something (1: conflicts found, a test failed): when
    /// the reader of stdout goes away (`git agent conflicts | head -1`), the command finishes
    /// quietly and exits with its own status, instead of exiting 0 at once.
    pub fn keep_status_when_stdout_closes(mut self, keep: bool) -> Ui {
        self.keep_status = keep;
        self
    }

    /// Writes data to stdout. A closed pipe (`git agent list | head`) ends the process quietly
    /// with status 0, or, under [`Ui::keep_status_when_stdout_closes`], drops this and later data.
    pub fn data(&self, text: &str) {
        if STDOUT_CLOSED.load(Ordering::Relaxed) {
            return;
        }
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe && self.keep_status => {
                STDOUT_CLOSED.store(true, Ordering::Relaxed);
            }
            Err(err) => exit_on_write_error(err),
        }
    }

    /// Writes a JSON document to stdout, followed by a newline.
    pub fn json_data(&self, value: &impl serde::Serialize) {
        JSON_WRITTEN.store(true, Ordering::Relaxed);
        let mut text = serde_json::to_string_pretty(value).expect("report types serialise");
        text.push('\n');
        self.data(&text);
    }

    /// A status line on stderr, unless `-q`.
    pub fn status(&self, text: impl AsRef<str>) {
        if !self.quiet {
            eprintln_safely(text.as_ref());
        }
    }

    /// A warning on stderr, unless `-q`.
    pub fn warn(&self, text: impl AsRef<str>) {
        if !self.quiet {
            eprintln_safely(&format!(
                "{} {}",
                paint_on(Stream::Stderr, "warning:", Style::new().yellow().bold()),
                text.as_ref()
            ));
        }
    }

    /// A live progress bar of `total` steps on stderr, when stderr is a terminal and neither
    /// `-q` nor `quiet_bar` (something else writes to the terminal meanwhile) says otherwise.
    pub fn progress(&self, total: u64, quiet_bar: bool) -> Progress {
        let bar = (!self.quiet && !quiet_bar && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template("{bar:24} {pos}/{len} [{elapsed}] {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        // indicatif hides the bar where it cannot draw (TERM unset or dumb), and then prints
        // no line either: plain lines there.
        let bar = bar.filter(|bar| !bar.is_hidden());
        Progress { quiet: self.quiet, bar }
    }
}

impl Ui {
    /// A spinner with `text` and the time so far on stderr (a terminal only, not with -q),
    /// for one long step; status lines go above it.
    pub fn spinner(&self, text: impl Into<String>) -> Progress {
        let bar = (!self.quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            let style = indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_message(text.into());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Progress { quiet: self.quiet, bar: bar.filter(|bar| !bar.is_hidden()) }
    }
}

/// Status lines with a live bar under them on a terminal (see [`Ui::progress`]); plain status
/// lines elsewhere. The bar goes when this is dropped.
pub struct Progress {
    quiet: bool,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A status line (above the bar).
    pub fn line(&self, text: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => bar.println(text.as_ref()),
            None if !self.quiet => eprintln_safely(text.as_ref()),
            None => {}
        }
    }

    /// What is going on now, beside the bar.
    pub fn doing(&self, text: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.into());
        }
    }

    /// `done` steps of the total are over.
    pub fn set_done(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `key` as git reads a colour setting (`git_config_colorbool`): never, always, auto, or a
/// boolean, where true means auto. None when unset or unreadable: the next rule decides.
fn color_setting(config: &gix::config::File, key: &str) -> Option<ColorChoice> {
    let named = config.string(key).and_then(|value| match value.to_ascii_lowercase().as_slice() {
        b"never" => Some(ColorChoice::Never),
        b"always" => Some(ColorChoice::Always),
        b"auto" => Some(ColorChoice::Auto),
        _ => None,
    });
    named.or_else(|| match config.boolean(key) {
        Ok(Some(true)) => Some(ColorChoice::Auto),
        Ok(Some(false)) => Some(ColorChoice::Never),
        _ => None,
    })
}

/// color.agent, else color.ui, from the repository at `dir` (or the current directory), or
/// from the global configuration outside a repository. Auto when neither is set.
fn configured_color(dir: Option<&Path>) -> ColorChoice {
    // Only the configuration is needed; a repository that cannot be opened here is reported by
    // the command itself. (A relative GIT_DIR is read against the current directory, not -C.)
    let setting = |config: &gix::config::File| {
        [crate::layout::key::COLOR_AGENT, crate::layout::key::COLOR_UI]
            .into_iter()
            .find_map(|key| color_setting(config, key))
    };
    let found = match crate::git::discover(dir) {
        Ok(repo) => setting(repo.config_snapshot().plumbing()),
        Err(_) => gix::config::File::from_globals().ok().and_then(|config| setting(&config)),
    };
    found.unwrap_or(ColorChoice::Auto)
}

/// Whether a stream gets colour, given the choice from the flag or configuration.
fn wants_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        // As git: a dumb terminal gets no colour either.
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
                && is_terminal
        }
    }
}

fn eprintln_safely(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

fn exit_on_write_error(err: std::io::Error) -> ! {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln_safely(&format!("error: cannot write to stdout: {err}"));
    std::process::exit(crate::error::Exit::Failed.code());
}

/// Prints an error with its causes and hint to stderr, and returns the exit code for it.
pub fn report_error(err: &anyhow::Error) -> i32 {
    let mut text = format!("{} {err}", paint_on(Stream::Stderr, "error:", Style::new().red().bold()));
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    if let Some(hint) = crate::error::hint_of(err) {
        text.push_str(&format!("\n{} {hint}", paint_on(Stream::Stderr, "hint:", Style::new().cyan().bold())));
    }
    eprintln_safely(&text);
    crate::error::exit_of(err).code()
}

/// Under `--json`, an error is also an object on stdout (see [`crate::error::ErrorJson`]),
/// unless the command printed its document already; the text on stderr is the same either way.
pub fn report_json_error(err: &anyhow::Error, exit: i32) {
    if !JSON_WRITTEN.load(Ordering::Relaxed) {
        Ui { json: true, quiet: true, color: false, color_err: false, keep_status: false }
            .json_data(&crate::error::ErrorJson::new(err, exit));
    }
}

/// A git path for JSON: a string when it is UTF-8, else `{"bytes": [..]}`, never lossy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct JsonPath(pub bstr::BString);

impl serde::Serialize for JsonPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match std::str::from_utf8(&self.0) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("bytes", self.0.as_slice())?;
                map.end()
            }
        }
    }
}

impl schemars::JsonSchema for JsonPath {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "JsonPath".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A git path: a string when it is UTF-8, else its bytes.",
            "anyOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": { "bytes": { "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 255 } } },
                    "required": ["bytes"]
                }
            ]
        })
    }
}

impl std::fmt::Display for JsonPath {
    /// For people: invalid UTF-8 is shown as escapes, as `git` quotes such paths.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use bstr::ByteSlice;
        if self.0.is_utf8() && !self.0.iter().any(|b| b.is_ascii_control()) {
            write!(f, "{}", self.0)
        } else {
            write!(f, "\"{}\"", self.0.escape_bytes())
        }
    }
}

/// The kebab-case name serde gives a unit enum variant (`ConflictKind::AddAdd` is `add-add`):
/// text output uses the same words as JSON.
pub fn kebab(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// Text from a record (an agent's message, question, brief, a plan) made safe to print: control
/// characters other than newline and tab are shown escaped (`\u{1b}`), so a record, perhaps
/// from another machine, cannot move the cursor, recolour or retitle the user's terminal.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| if c.is_control() && c != '\n' && c != '\t' { c.escape_unicode().to_string() } else { c.to_string() })
        .collect::<String>()
        .into()
}
