//! Task names: checked against an allowlist before any git call.
//!
//! A task name becomes part of a branch name, a ref name and a directory name, and reaches
//! the agent's environment. Only a conservative, portable alphabet is accepted, so a name can
//! never be an option, a path, a glob or anything a shell would interpret.

use crate::error::{Fail, bad_input};

/// Longest accepted task name, in bytes.
pub const MAX_LEN: usize = 64;

/// Names that are legal by alphabet but would confuse git or people.
const RESERVED: &[&str] = &["HEAD", "FETCH_HEAD", "ORIG_HEAD", "MERGE_HEAD", "CHERRY_PICK_HEAD", "@"];

/// Checks `name` and says precisely what is wrong with it.
pub fn validate_task_name(name: &str) -> Result<(), Fail> {
    let problem = problem_with(name);
    match problem {
        None => Ok(()),
        Some(problem) => Err(bad_input(format!("invalid task name {}: {problem}", quoted(name))).hint(
            "task names start with a letter or digit and use only letters, digits, '.', '_' and '-' \
             (at most 64 characters), for example 'db-schema' or 'api_v2'",
        )),
    }
}

fn problem_with(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_LEN {
        return Some(format!("it is {} bytes long, the limit is {MAX_LEN}", name.len()));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Some(match bad {
            '/' | '\\' => "it contains a path separator".into(),
            c if c.is_control() => format!("it contains the control character U+{:04X}", c as u32),
            c if c.is_whitespace() => "it contains white space".into(),
            c if !c.is_ascii() => format!("it contains the non-ASCII character {c:?}"),
            c => format!("it contains the character {c:?}"),
        });
    }
    let first = name.as_bytes()[0];
    if first == b'-' {
        return Some("it starts with '-' and would be read as an option".into());
    }
    if !first.is_ascii_alphanumeric() {
        return Some(format!("it starts with {:?}, not a letter or digit", first as char));
    }
    if name.contains("..") {
        return Some("it contains '..'".into());
    }
    if name.ends_with(".lock") {
        return Some("it ends with '.lock', which git reserves for lock files".into());
    }
    if name.ends_with('.') {
        return Some("it ends with '.'".into());
    }
    if RESERVED.contains(&name) {
        return Some("it is reserved by git".into());
    }
    if is_reserved_on_windows(name) {
        return Some("it is a device name reserved on Windows (the worktree could not be checked out there)".into());
    }
    None
}

/// `con`, `nul`, `aux`, `prn`, `com1`..`com9`, `lpt1`..`lpt9`, in any case, alone or before
/// an extension (`nul.txt` is the device too).
fn is_reserved_on_windows(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_lowercase();
    matches!(stem.as_str(), "con" | "prn" | "aux" | "nul" | "conin$" | "conout$")
        || ((stem.starts_with("com") || stem.starts_with("lpt"))
            && stem.len() == 4
            && matches!(stem.as_bytes()[3], b'1'..=b'9'))
}

/// Shows a name in an error message without letting control characters through to the terminal.
pub fn quoted(name: &str) -> String {
    format!("{name:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for name in [
            "db",
            "api-v2",
            "A.b_c-9",
            "0",
            "x".repeat(MAX_LEN).as_str(),
            "fix.1",
            "console",
            "com10",
            "com0",
            "nullable",
        ] {
            assert!(validate_task_name(name).is_ok(), "{name} should be valid");
        }
    }

    #[test]
    fn rejects_each_class_of_bad_name() {
        let too_long = "x".repeat(MAX_LEN + 1);
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            (&too_long, "limit"),
            ("-rf", "option"),
            ("a/b", "path separator"),
            ("a\\b", "path separator"),
            ("..", "starts with"),
            ("a..b", "'..'"),
            ("x.lock", ".lock"),
            ("x.", "ends with '.'"),
            (".hidden", "starts with"),
            ("_x", "starts with"),
            ("a b", "white space"),
            ("a\tb", "control"),
            ("a\nb", "control"),
            ("a;b", "character"),
            ("$(x)", "character"),
            ("a*b", "character"),
            ("a~1", "character"),
            ("a:b", "character"),
            ("ünï", "non-ASCII"),
            ("HEAD", "reserved"),
            ("con", "Windows"),
            ("NUL", "Windows"),
            ("aux.txt", "Windows"),
            ("com1", "Windows"),
            ("LPT9", "Windows"),
        ];
        for (name, why) in cases {
            let err = validate_task_name(name).expect_err(name);
            assert!(err.message.contains(why), "{name:?}: {} should mention {why}", err.message);
        }
    }

    #[test]
    fn leading_dash_is_named_as_option() {
        // '-' is in the alphabet for later characters, so the first-character rule must catch it.
        let err = validate_task_name("-x").unwrap_err();
        assert!(err.message.contains("option"), "{}", err.message);
    }
}
