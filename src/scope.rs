//! Task scopes: the pathspecs a task says it owns.
//!
//! A scope entry is a git pathspec relative to the repository root, without magic: a literal
//! path matches itself and everything below it (`src/db`, `src/db/`), and an entry with glob
//! characters matches like `git ls-files -- '<entry>'` does (`*` also crosses `/`).

use bstr::{BStr, ByteSlice};
use gix::glob::wildmatch;

const GLOB_CHARS: &[u8] = b"*?[";

/// Does `path` (repository-relative, `/`-separated) fall inside any of `scope`'s entries?
/// An empty scope means "no scope recorded", which owns everything.
pub fn contains(scope: &[String], path: &BStr) -> bool {
    scope.is_empty() || scope.iter().any(|entry| entry_matches(entry, path))
}

fn entry_matches(entry: &str, path: &BStr) -> bool {
    let entry = normalise(entry);
    if entry.is_empty() {
        return true;
    }
    if has_glob(entry) {
        // As in git, a glob also names the path spelled like it (`f[1].txt`, literally).
        is_under(path, entry.as_bytes())
            || wildmatch(entry.as_bytes().as_bstr(), path, wildmatch::Mode::empty())
            // A glob naming directories also owns what is below them, as in git.
            || path
                .rfind_iter("/")
                .any(|slash| wildmatch(entry.as_bytes().as_bstr(), path[..slash].as_bstr(), wildmatch::Mode::empty()))
    } else {
        is_under(path, entry.as_bytes())
    }
}

/// Could two scope entries claim the same file? Conservative: when unsure, says yes.
///
/// Two literal entries overlap when one is the other or a directory above it. A glob is
/// reduced to its literal directory prefix (`src/*.rs` lives in `src`); if the two regions
/// are nested they overlap, unless both are globs and neither pattern matches the other's
/// text (`src/*.rs` and `src/*.md` do not overlap, `db/**` and `db/*.sql` do).
pub fn entries_overlap(a: &str, b: &str) -> bool {
    let (a, b) = (normalise(a), normalise(b));
    let (region_a, region_b) = (literal_region(a), literal_region(b));
    let nested = is_under(region_a.as_bytes().as_bstr(), region_b.as_bytes())
        || is_under(region_b.as_bytes().as_bstr(), region_a.as_bytes());
    if !nested {
        return false;
    }
    if has_glob(a) && has_glob(b) {
        let mode = wildmatch::Mode::empty();
        return wildmatch(a.as_bytes().as_bstr(), b.as_bytes().as_bstr(), mode)
            || wildmatch(b.as_bytes().as_bstr(), a.as_bytes().as_bstr(), mode);
    }
    true
}

/// All pairs of entries, one from each scope, that overlap.
pub fn overlapping_entries<'a>(a: &'a [String], b: &'a [String]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = Vec::new();
    for x in a {
        for y in b {
            if entries_overlap(x, y) {
                pairs.push((x.as_str(), y.as_str()));
            }
        }
    }
    pairs
}

/// Why `entry` cannot be a scope or guard entry: it could match no path in the repository
/// (absolute, or going up with `..`), uses pathspec magic this matcher does not know, or is
/// empty (which would match everything).
pub fn check_entry(entry: &str) -> Result<(), &'static str> {
    if entry.is_empty() {
        Err("is empty (use `.` for the whole repository)")
    } else if entry.starts_with('/') {
        Err("is an absolute path: it matches no path in the repository")
    } else if entry.split('/').any(|part| part == "..") {
        Err("goes up with `..`: it matches no path in the repository")
    } else if entry.starts_with(':') {
        Err("uses pathspec magic, which is not supported here")
    } else {
        Ok(())
    }
}

fn normalise(entry: &str) -> &str {
    let entry = entry.strip_prefix("./").unwrap_or(entry);
    let entry = entry.trim_end_matches('/');
    if entry == "." { "" } else { entry }
}

fn has_glob(entry: &str) -> bool {
    entry.bytes().any(|b| GLOB_CHARS.contains(&b))
}

/// The directory a glob is confined to (`src/db/*.rs` -> `src/db`), or the literal entry itself.
fn literal_region(entry: &str) -> &str {
    match entry.bytes().position(|b| GLOB_CHARS.contains(&b)) {
        None => entry,
        Some(first_glob) => entry[..first_glob].rfind('/').map_or("", |slash| &entry[..slash]),
    }
}

/// Is `path` equal to `dir` or below it? The empty `dir` is the root, above everything.
fn is_under(path: &BStr, dir: &[u8]) -> bool {
    dir.is_empty() || path == dir || (path.starts_with(dir) && path.get(dir.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owns(scope: &[&str], path: &str) -> bool {
        let scope: Vec<String> = scope.iter().map(|s| s.to_string()).collect();
        contains(&scope, path.as_bytes().as_bstr())
    }

    #[test]
    fn literal_entries_own_themselves_and_below() {
        assert!(owns(&["src/db"], "src/db/schema.sql"));
        assert!(owns(&["src/db/"], "src/db/schema.sql"));
        assert!(owns(&["README.md"], "README.md"));
        assert!(!owns(&["src/db"], "src/dbx/schema.sql"));
        assert!(!owns(&["src/db"], "src/api/x.rs"));
        assert!(owns(&[], "anything"), "no scope owns everything");
        assert!(owns(&["."], "anything"));
    }

    #[test]
    fn glob_entries_match_like_pathspecs() {
        assert!(owns(&["*.md"], "docs/guide.md"), "* crosses / in pathspecs");
        assert!(owns(&["src/**"], "src/a/b.rs"));
        assert!(owns(&["migrations/*"], "migrations/0001.sql"));
        assert!(owns(&["src/*"], "src/a/b.rs"), "a glob matching a directory owns below it");
        assert!(!owns(&["*.md"], "src/main.rs"));
        assert!(owns(&["f[1].txt"], "f[1].txt"), "git matches a glob's literal spelling too");
        assert!(owns(&["f[1].txt"], "f1.txt"));
    }

    #[test]
    fn overlap_of_literal_entries() {
        assert!(entries_overlap("src", "src/db/x.rs"));
        assert!(entries_overlap("src/db/", "./src/db"));
        assert!(!entries_overlap("src/db", "src/api"));
        assert!(!entries_overlap("Cargo.toml", "Cargo.lock"));
        assert!(!entries_overlap("src/db", "src/dbx"));
    }

    #[test]
    fn overlap_with_globs() {
        assert!(entries_overlap("db/**", "db/schema.sql"));
        assert!(entries_overlap("db/**", "db/*.sql"));
        assert!(entries_overlap("*.md", "docs"), "docs/*.md is claimed by both");
        assert!(!entries_overlap("src/*.rs", "src/*.md"));
        assert!(!entries_overlap("web/**", "api/**"));
        assert!(!entries_overlap("*.rs", "src/**/*.md"));
    }
}
