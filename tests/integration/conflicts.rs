//! `git agent-conflicts`: pairwise in-memory merges of task branches, checked against plain
//! `git merge-tree --write-tree` (the reference), conflict kinds, hazards, names that are not
//! plain ASCII, damaged state, uncommitted changes, and the text formats. The command must never
//! write anything, so every run is bracketed by a snapshot of refs, worktrees, status and indexes.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::spawn::{agents_dir, canonical_repo, rev};

/// The conflict kinds of the contract.
const KINDS: [&str; 13] = [
    "content",
    "add-add",
    "modify-delete",
    "rename-delete",
    "rename-rename",
    "file-directory",
    "directory-rename",
    "submodule",
    "type-change",
    "directory-rename-split",
    "directory-rename-collision",
    "file-in-way-of-directory-rename",
    "file-location-unlisted",
];

/// The kinds of conflicts git reports with a message only, and lists no conflicted file for,
/// with the type git gives their message (`merge-ort.c`, `type_short_descriptions`).
const UNLISTED_KINDS: [(&str, &str); 4] = [
    ("directory-rename-split", "CONFLICT(directory rename unclear split)"),
    ("directory-rename-collision", "CONFLICT(directory rename collision)"),
    ("file-in-way-of-directory-rename", "CONFLICT (file in way of directory rename)"),
    // Only when git lists no file at its path (else it is a listed "directory-rename").
    ("file-location-unlisted", "CONFLICT (directory rename suggested)"),
];

/// A file name that is not valid UTF-8.
const RAW_NAME: &[u8] = b"raw\xff\xfe name.txt";
const UNICODE_NAME: &str = "dir/ünï cödé.txt";

/// `path` in `dir` with line `n` (1-based) replaced by `text`.
fn replace_line(dir: &Path, path: impl AsRef<Path>, n: usize, text: &str) {
    let file = dir.join(path);
    let old = std::fs::read_to_string(&file).unwrap();
    let new: String =
        old.lines().enumerate().map(|(i, l)| if i + 1 == n { format!("{text}\n") } else { format!("{l}\n") }).collect();
    std::fs::write(&file, new).unwrap();
}

/// Replaces line `n` of `path` in the worktree `wt` and commits.
fn commit_line(env: &Env, wt: &Path, path: &str, n: usize, text: &str) {
    replace_line(wt, path, n, text);
    env.commit(wt, &[], &format!("{path}: line {n}"));
}

/// Spawns `name` in `repo` (extra spawn arguments in `extra`); returns its worktree.
pub(crate) fn spawn(env: &Env, repo: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec!["spawn", name, "-q"];
    args.extend_from_slice(extra);
    env.agent(repo, &args).success();
    agents_dir(repo).join(name)
}

/// Runs `git agent-conflicts <args>` in `repo`.
pub(crate) fn conflicts(env: &Env, repo: &Path, args: &[&str]) -> Run {
    let mut all = vec!["agent-conflicts"];
    all.extend_from_slice(args);
    env.run(repo, "git", &all)
}

/// Runs `git agent-conflicts --json <args>`, asserts exit code `code` and the format version.
#[track_caller]
pub(crate) fn conflicts_json(env: &Env, repo: &Path, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = conflicts(env, repo, &all).code(code);
    let json = run.json();
    assert_eq!(json["version"], 1, "{json:#}");
    json
}

/// The reference: `git merge-tree --write-tree --name-only -z ours theirs`. None when the merge
/// is clean, else the set of conflicted paths (the entries after the tree id up to the empty one).
fn merge_tree(env: &Env, repo: &Path, ours: &str, theirs: &str) -> Option<BTreeSet<Vec<u8>>> {
    merge_tree_report(env, repo, ours, theirs).map(|report| report.listed)
}

/// What `git merge-tree` reports for a merge that conflicts.
#[derive(Debug, PartialEq)]
struct GitConflicts {
    /// The conflicted files it lists.
    listed: BTreeSet<Vec<u8>>,
    /// The conflicts it reports with a message only, as (our kind, the message's first path):
    /// git exits 1 for them but lists no file.
    unlisted: BTreeSet<(String, Vec<u8>)>,
}

/// `git merge-tree --write-tree --name-only -z ours theirs`, with its messages: None when the
/// merge is clean.
fn merge_tree_report(env: &Env, repo: &Path, ours: &str, theirs: &str) -> Option<GitConflicts> {
    let out = env
        .command("git", repo)
        .args(["merge-tree", "--write-tree", "--name-only", "-z", ours, theirs])
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => None,
        Some(1) => {
            let mut fields = out.stdout.split(|&b| b == 0);
            fields.next().expect("tree id");
            let listed: BTreeSet<Vec<u8>> = fields.by_ref().take_while(|f| !f.is_empty()).map(<[u8]>::to_vec).collect();
            // Then each message: <number of paths> NUL <path> NUL ... <type> NUL <text> NUL.
            let mut unlisted = BTreeSet::new();
            while let Some(count) = fields.next().filter(|f| !f.is_empty()) {
                let count: usize = std::str::from_utf8(count).unwrap().parse().expect("a path count");
                let paths: Vec<&[u8]> = fields.by_ref().take(count).collect();
                let kind = String::from_utf8_lossy(fields.next().expect("a message type")).into_owned();
                fields.next().expect("a message");
                let primary = paths.first().map(|p| p.to_vec()).unwrap_or_default();
                let ours = UNLISTED_KINDS.iter().find(|(_, git)| *git == kind).map(|(ours, _)| ours.to_string());
                if let Some(ours) = ours.filter(|_| !listed.contains(&primary)) {
                    unlisted.insert((ours, primary));
                }
            }
            Some(GitConflicts { listed, unlisted })
        }
        None => {
            panic!("git merge-tree {ours} {theirs} was killed by a signal: {}", String::from_utf8_lossy(&out.stderr))
        }
        other => panic!("git merge-tree {ours} {theirs} failed with {other:?}"),
    }
}

/// A path of the JSON output as bytes: a string, or `{"bytes": [...]}` for non-UTF-8 paths.
fn path_bytes(value: &Value) -> Result<Vec<u8>, String> {
    match value {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Object(o) if o.len() == 1 => {
            let bytes: Vec<u8> = o
                .get("bytes")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("bad path {value}"))?
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()).ok_or_else(|| format!("bad byte in {value}")))
                .collect::<Result<_, _>>()?;
            if std::str::from_utf8(&bytes).is_ok() {
                return Err(format!("UTF-8 path given as bytes: {value}"));
            }
            Ok(bytes)
        }
        _ => Err(format!("bad path {value}")),
    }
}

/// A path for messages.
fn show(path: &[u8]) -> String {
    match std::str::from_utf8(path) {
        Ok(s) => s.to_owned(),
        Err(_) => path.escape_ascii().to_string(),
    }
}

fn show_set(paths: &BTreeSet<Vec<u8>>) -> String {
    let shown: Vec<String> = paths.iter().map(|p| show(p)).collect();
    format!("[{}]", shown.join(", "))
}

/// The paths of a JSON array of conflicts (`[{"path", "kind"}]`), checking uniqueness and kinds:
/// the files git lists (the kinds without a file are left out: see [`reported_conflicts`]).
fn conflict_paths(conflicts: &Value) -> Result<BTreeSet<Vec<u8>>, String> {
    reported_conflicts(conflicts).map(|report| report.listed)
}

/// A JSON array of conflicts, as git would report them: the files it lists, and the
/// conflicts of the kinds it reports with a message only (checked for their `sources`).
fn reported_conflicts(conflicts: &Value) -> Result<GitConflicts, String> {
    let list = conflicts.as_array().ok_or_else(|| format!("conflicts is not an array: {conflicts}"))?;
    let mut report = GitConflicts { listed: BTreeSet::new(), unlisted: BTreeSet::new() };
    for c in list {
        let path = path_bytes(&c["path"])?;
        let kind = c["kind"].as_str().unwrap_or_default();
        if !KINDS.contains(&kind) {
            return Err(format!("unknown kind {} for {}", c["kind"], show(&path)));
        }
        let unlisted = UNLISTED_KINDS.iter().any(|(k, _)| *k == kind);
        let sources = c.get("sources").map(path_set).transpose()?.unwrap_or_default();
        // The files a conflict without a listed file is about; a split is about a directory.
        let wants_sources = unlisted && kind != "directory-rename-split";
        if sources.is_empty() == wants_sources {
            return Err(format!("{kind} at {} with sources {sources:?}", show(&path)));
        }
        let new = if unlisted {
            report.unlisted.insert((kind.to_owned(), path.clone()))
        } else {
            report.listed.insert(path.clone())
        };
        if !new {
            return Err(format!("path {} listed twice", show(&path)));
        }
    }
    Ok(report)
}

/// A conflict report for messages.
fn show_report(report: &GitConflicts) -> String {
    let unlisted: Vec<String> = report.unlisted.iter().map(|(kind, path)| format!("{kind} {}", show(path))).collect();
    if unlisted.is_empty() {
        show_set(&report.listed)
    } else {
        format!("{} and without a listed file [{}]", show_set(&report.listed), unlisted.join(", "))
    }
}

/// The paths of a JSON array of paths.
fn path_set(paths: &Value) -> Result<BTreeSet<Vec<u8>>, String> {
    paths.as_array().ok_or_else(|| format!("not an array: {paths}"))?.iter().map(path_bytes).collect()
}

/// The entry of `pairs` for (a, b).
fn pair<'a>(json: &'a Value, a: &str, b: &str) -> Option<&'a Value> {
    json["pairs"].as_array().unwrap().iter().find(|p| p["a"] == a && p["b"] == b)
}

#[track_caller]
fn expect_pair<'a>(json: &'a Value, a: &str, b: &str) -> &'a Value {
    pair(json, a, b).unwrap_or_else(|| panic!("no pair ({a}, {b}) in\n{json:#}"))
}

/// The kind of the conflict on `path` in pair (a, b).
#[track_caller]
fn kind_of(json: &Value, a: &str, b: &str, path: &str) -> String {
    let entry = expect_pair(json, a, b);
    let found = entry["conflicts"].as_array().unwrap().iter().find(|c| c["path"] == path);
    found.unwrap_or_else(|| panic!("no conflict on {path} in pair ({a}, {b}): {entry:#}"))["kind"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The hazards of kind `kind`.
fn hazards<'a>(json: &'a Value, kind: &str) -> Vec<&'a Value> {
    json["hazards"].as_array().unwrap().iter().filter(|h| h["kind"] == kind).collect()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Everything the command must not change: refs, registered worktrees (with their HEADs), and
/// per worktree `git status --porcelain` and the bytes of its index. Indexes are read before
/// status runs, and status runs without optional locks, so it does not refresh them itself.
fn state(env: &Env, repo: &Path) -> String {
    let mut out = env.snapshot(repo);
    let worktrees = env.git(repo, &["worktree", "list", "--porcelain"]);
    for wt in worktrees.lines().filter_map(|l| l.strip_prefix("worktree ")) {
        let wt = Path::new(wt);
        let index = env.git(wt, &["rev-parse", "--path-format=absolute", "--git-path", "index"]);
        let bytes = std::fs::read(index.trim()).unwrap_or_default();
        let status = env
            .command("git", wt)
            .env("GIT_OPTIONAL_LOCKS", "0")
            .args(["status", "--porcelain", "--untracked-files=all"])
            .output()
            .unwrap();
        assert!(status.status.success());
        out.push_str(&format!(
            "\n== {}\nindex {} bytes, checksum {:?}\n{}",
            wt.display(),
            bytes.len(),
            bytes.get(bytes.len().saturating_sub(20)..),
            String::from_utf8_lossy(&status.stdout)
        ));
    }
    out
}

/// The repository of the differential test: text files, a directory, a binary file, a symlink
/// target, a submodule (a gitlink without a checkout) and a `.gitmodules`.
fn rich_repo(env: &Env, name: &str) -> PathBuf {
    let repo = env.path().join(name);
    std::fs::create_dir_all(&repo).unwrap();
    env.git(&repo, &["init", "-q"]);
    for (path, prefix) in
        [("shared.txt", "shared"), ("ren.txt", "ren"), ("dir/x.txt", "x"), ("dir/y.txt", "y"), ("dir/z.txt", "z")]
    {
        write(&repo.join(path), &numbered(prefix));
    }
    write(&repo.join("link-target.txt"), "the target\n");
    write(&repo.join("empty.txt"), "");
    std::os::unix::fs::symlink("link-target.txt", repo.join("ln")).unwrap();
    write(&repo.join(".gitmodules"), "[submodule \"sub\"]\n\tpath = sub\n\turl = ./nowhere\n");
    std::fs::write(repo.join("bin.dat"), b"\x00\x01binary\x00\xff\x00data\n").unwrap();
    env.git(&repo, &["add", "-A"]);
    env.git(&repo, &["update-index", "--add", "--cacheinfo", &format!("160000,{},sub", "1".repeat(40))]);
    env.git(&repo, &["commit", "-q", "-m", "initial"]);
    // Like a clone without `submodule update`: an empty directory, so `git add -A` keeps the gitlink.
    std::fs::create_dir(repo.join("sub")).unwrap();
    repo.canonicalize().unwrap()
}

/// Sets the submodule `sub` to `hex` in the worktree `wt` and commits.
fn commit_gitlink(env: &Env, wt: &Path, hex: &str) {
    env.git(wt, &["update-index", "--cacheinfo", &format!("160000,{hex},sub")]);
    env.git(wt, &["commit", "-q", "-m", "move sub"]);
}

type Change = fn(&Env, &Path);

/// The tasks of the differential test, in spawn order, each making one kind of change.
const DIFFERENTIAL_TASKS: [(&str, Change); 21] = [
    ("priv", |env, wt| env.commit(wt, &[("private.txt", "mine alone\n")], "private file")),
    ("top", |env, wt| commit_line(env, wt, "shared.txt", 2, "top changed line 2")),
    ("mid", |env, wt| commit_line(env, wt, "shared.txt", 6, "mid changed line 6")),
    ("mid2", |env, wt| commit_line(env, wt, "shared.txt", 6, "mid2 changed line 6 differently")),
    ("exec", |env, wt| {
        std::fs::set_permissions(wt.join("shared.txt"), std::fs::Permissions::from_mode(0o755)).unwrap();
        env.commit(wt, &[], "chmod +x shared.txt");
    }),
    ("add-a", |env, wt| env.commit(wt, &[("new.txt", "new from a\n")], "add new.txt")),
    ("add-b", |env, wt| env.commit(wt, &[("new.txt", "new from b, other content\n")], "add new.txt")),
    ("symlink", |env, wt| {
        std::os::unix::fs::symlink("link-target.txt", wt.join("new.txt")).unwrap();
        env.commit(wt, &[], "new.txt as a symlink");
    }),
    ("file-p", |env, wt| env.commit(wt, &[("p", "a file p\n")], "file p")),
    ("dir-p", |env, wt| env.commit(wt, &[("p/q", "a file in directory p\n")], "directory p")),
    ("ren", |env, wt| {
        env.git(wt, &["mv", "ren.txt", "renamed.txt"]);
        env.commit(wt, &[], "rename ren.txt");
    }),
    ("mod", |env, wt| commit_line(env, wt, "ren.txt", 5, "mod changed line 5")),
    ("del", |env, wt| {
        env.git(wt, &["rm", "-q", "ren.txt"]);
        env.commit(wt, &[], "delete ren.txt");
    }),
    ("dirmv", |env, wt| {
        env.git(wt, &["mv", "dir", "newdir"]);
        env.commit(wt, &[], "rename dir");
    }),
    ("dir-add", |env, wt| env.commit(wt, &[("dir/added.txt", "added in dir\n")], "add to dir")),
    ("dir-mod", |env, wt| commit_line(env, wt, "dir/x.txt", 3, "dir-mod changed line 3")),
    // A rename into the renamed directory: against `ren` a rename/rename, against `dirmv` a
    // conflict although no path changed on both sides.
    ("into-dir", |env, wt| {
        env.git(wt, &["mv", "ren.txt", "dir/ren.txt"]);
        env.commit(wt, &[], "move ren.txt into dir");
    }),
    ("bin-a", |env, wt| {
        std::fs::write(wt.join("bin.dat"), b"\x00\x01binary\x00\xaa\x00from a\n").unwrap();
        env.commit(wt, &[], "binary a");
    }),
    ("bin-b", |env, wt| {
        std::fs::write(wt.join("bin.dat"), b"\x00\x01binary\x00\xbb\x00from b\n").unwrap();
        env.commit(wt, &[], "binary b");
    }),
    ("sub-a", |env, wt| commit_gitlink(env, wt, &"2".repeat(40))),
    ("sub-b", |env, wt| commit_gitlink(env, wt, &"3".repeat(40))),
];

/// What a branch changed since `fork`, without rename detection; and whether it renamed anything.
struct Changes {
    fork: String,
    files: BTreeSet<Vec<u8>>,
    renames: bool,
}

fn changes(env: &Env, repo: &Path, target: &str, branch: &str) -> Changes {
    let fork = env.git(repo, &["merge-base", target, branch]).trim().to_owned();
    let out =
        env.command("git", repo).args(["diff", "--no-renames", "--name-only", "-z", &fork, branch]).output().unwrap();
    assert!(out.status.success());
    let files = out.stdout.split(|&b| b == 0).filter(|f| !f.is_empty()).map(<[u8]>::to_vec).collect();
    let renames = env.git(repo, &["diff", "-M", "--name-status", &fork, branch]).lines().any(|l| l.starts_with('R'));
    Changes { fork, files, renames }
}

/// Compares the `--json` output of a run over all `names` (task order) with git merge-tree: every
/// pair, every branch against `target`, the task rows and the summary. Returns the mismatches.
///
/// Overlap ("files changed on both sides") is checked where it is unambiguous: both branches
/// forked from the same target commit (so the pair's merge base is that fork), neither renamed,
/// and they are not the very same commit.
pub(crate) fn compare_with_merge_tree(
    env: &Env,
    repo: &Path,
    json: &Value,
    names: &[&str],
    target: &str,
) -> Vec<String> {
    let mut mismatches: Vec<String> = Vec::new();
    let mut check = |ok: bool, message: String| {
        if !ok {
            mismatches.push(message);
        }
    };

    // Target and tasks.
    let target_commit = rev(env, repo, target);
    check(
        json["target"]["name"] == target,
        format!("target.name: expected {target:?}, actual {}", json["target"]["name"]),
    );
    check(
        json["target"]["commit"] == target_commit.as_str(),
        format!("target.commit: expected {target_commit}, actual {}", json["target"]["commit"]),
    );
    let tasks = json["tasks"].as_array().unwrap();
    let listed: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap_or("?")).collect();
    check(listed == names, format!("tasks: expected {names:?} (spawn order), actual {listed:?}"));
    for task in tasks {
        let name = task["name"].as_str().unwrap_or("?");
        let head = rev(env, repo, &format!("agent/{name}"));
        check(
            task["branch"] == format!("agent/{name}").as_str()
                && task["head"] == head.as_str()
                && task["problems"].as_array().is_some_and(Vec::is_empty),
            format!("task {name}: expected branch agent/{name}, head {head}, no problems; actual {task}"),
        );
    }

    // Every pair: listed at most once, in task order.
    let mut seen = BTreeSet::new();
    for entry in json["pairs"].as_array().unwrap() {
        let (a, b) = (entry["a"].as_str().unwrap_or("?"), entry["b"].as_str().unwrap_or("?"));
        let (ia, ib) = (names.iter().position(|n| *n == a), names.iter().position(|n| *n == b));
        check(
            matches!((ia, ib), (Some(ia), Some(ib)) if ia < ib),
            format!("pair ({a}, {b}): not two tasks in task order: {entry}"),
        );
        check(seen.insert((a.to_owned(), b.to_owned())), format!("pair ({a}, {b}) listed twice"));
    }
    let changed: BTreeMap<&str, Changes> =
        names.iter().map(|n| (*n, changes(env, repo, target, &format!("agent/{n}")))).collect();
    let (mut conflicting, mut clean_overlaps) = (0, 0);
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            let expected = merge_tree_report(env, repo, &format!("agent/{a}"), &format!("agent/{b}"));
            let actual = pair(json, a, b);
            let verdict = actual.map(|p| p["verdict"].as_str().unwrap_or("?").to_owned());
            let (ca, cb) = (&changed[a], &changed[b]);
            let overlap: BTreeSet<Vec<u8>> = ca.files.intersection(&cb.files).cloned().collect();
            // Two branches at the very same commit have nothing "on both sides": their merge base
            // is that commit, not the fork.
            let same_commit = rev(env, repo, &format!("agent/{a}")) == rev(env, repo, &format!("agent/{b}"));
            let overlap_is_clear = ca.fork == cb.fork && !ca.renames && !cb.renames && !same_commit;
            if verdict.as_deref() == Some("clean-overlap") {
                clean_overlaps += 1;
            }
            match &expected {
                Some(reference) => {
                    conflicting += 1;
                    let reported = actual.map(|p| reported_conflicts(&p["conflicts"]));
                    let ok = verdict.as_deref() == Some("conflict")
                        && reported.as_ref().is_some_and(|p| p.as_ref() == Ok(reference));
                    let shown = match (&verdict, &reported) {
                        (Some(v), Some(Ok(p))) => format!("{v} on {}", show_report(p)),
                        (Some(v), Some(Err(e))) => format!("{v}, bad conflicts: {e}"),
                        _ => "absent (clean)".to_owned(),
                    };
                    check(
                        ok,
                        format!("pair ({a}, {b}): expected conflict on {}, actual {shown}", show_report(reference)),
                    );
                }
                None => {
                    let ok = verdict.is_none() || verdict.as_deref() == Some("clean-overlap");
                    let shown = actual.map_or("absent".to_owned(), Value::to_string);
                    check(ok, format!("pair ({a}, {b}): expected clean, actual {shown}"));
                    if let Some(entry) = actual
                        && ok
                    {
                        let list = entry["conflicts"].as_array();
                        check(list.is_none_or(Vec::is_empty), format!("pair ({a}, {b}): clean-overlap with {entry}"));
                    }
                    if ok && overlap_is_clear {
                        let expected_verdict = if overlap.is_empty() { "absent" } else { "clean-overlap" };
                        let actual_verdict = verdict.as_deref().unwrap_or("absent");
                        check(
                            actual_verdict == expected_verdict,
                            format!(
                                "pair ({a}, {b}): clean, files changed on both sides {}: expected {expected_verdict}, \
                                 actual {actual_verdict}",
                                show_set(&overlap)
                            ),
                        );
                    }
                }
            }
            if let Some(entry) = actual
                && overlap_is_clear
            {
                let actual_overlap = path_set(&entry["overlap"]);
                check(
                    actual_overlap.as_ref() == Ok(&overlap),
                    format!("pair ({a}, {b}): overlap expected {}, actual {}", show_set(&overlap), entry["overlap"]),
                );
            }
        }
    }

    // Every branch against the target.
    let against = json["against_target"].as_array().unwrap();
    let mut with_target = 0;
    for name in names {
        let expected = merge_tree_report(env, repo, target, &format!("agent/{name}"));
        let entries: Vec<&Value> = against.iter().filter(|e| e["task"] == *name).collect();
        let [entry] = entries[..] else {
            check(false, format!("against_target: expected one entry for {name}, actual {entries:?}"));
            continue;
        };
        let verdict = entry["verdict"].as_str().unwrap_or("?");
        match &expected {
            Some(reference) => {
                with_target += 1;
                let actual = reported_conflicts(&entry["conflicts"]);
                check(
                    verdict == "conflict" && actual.as_ref() == Ok(reference),
                    format!(
                        "{target} vs {name}: expected conflict on {}, actual {verdict} on {}",
                        show_report(reference),
                        actual.map_or_else(|e| e, |p| show_report(&p))
                    ),
                );
            }
            None => check(
                verdict == "clean" && entry["conflicts"].as_array().is_none_or(Vec::is_empty),
                format!("{target} vs {name}: expected clean, actual {entry}"),
            ),
        }
    }
    for entry in against {
        check(names.iter().any(|n| entry["task"] == *n), format!("against_target: unknown task in {entry}"));
    }

    // The summary adds up.
    let summary = &json["summary"];
    let expected_summary = [
        ("tasks", names.len()),
        ("pairs_checked", names.len() * (names.len() - 1) / 2),
        ("conflicting_pairs", conflicting),
        ("clean_overlaps", clean_overlaps),
        ("conflicts_with_target", with_target),
        ("hazards", json["hazards"].as_array().map_or(usize::MAX, Vec::len)),
    ];
    for (field, value) in expected_summary {
        check(
            summary[field].as_u64() == Some(value as u64),
            format!("summary.{field}: expected {value}, actual {}", summary[field]),
        );
    }
    check(summary["merged_in_memory"].is_u64(), format!("summary.merged_in_memory: not a number: {summary}"));
    mismatches
}

/// Runs `--json` over all tasks, asserting it writes nothing and exits `code`, and compares the
/// result with git merge-tree; fails listing every mismatch.
#[track_caller]
fn assert_agrees_with_merge_tree(env: &Env, repo: &Path, names: &[&str], code: i32) {
    let before = state(env, repo);
    let run = conflicts(env, repo, &["--json"]);
    assert_eq!(before, state(env, repo), "git agent-conflicts changed the repository");
    let json = run.json();
    assert_eq!(json["version"], 1, "{json:#}");
    let mut mismatches = compare_with_merge_tree(env, repo, &json, names, "main");
    if run.code != code {
        mismatches.push(format!("exit code: expected {code}, actual {} ({})", run.code, run.stderr.trim()));
    }
    assert!(mismatches.is_empty(), "{} mismatches with git merge-tree:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// Spawns `tasks` in order and applies each one's change in its worktree.
fn spawn_all(env: &Env, repo: &Path, tasks: &[(&str, Change)]) -> Vec<String> {
    for (name, change) in tasks {
        change(env, &spawn(env, repo, name, &[]));
    }
    tasks.iter().map(|t| t.0.to_owned()).collect()
}

/// Edge cases for the merge machinery, all pairs again checked against git merge-tree.
const EDGE_TASKS: [(&str, Change); 19] = [
    ("ren-mod5", |env, wt| {
        env.git(wt, &["mv", "ren.txt", "renamed.txt"]);
        commit_line(env, wt, "renamed.txt", 5, "ren-mod5 changed line 5");
    }),
    ("mod5", |env, wt| commit_line(env, wt, "ren.txt", 5, "mod5 changed line 5")),
    ("ren-same", |env, wt| {
        env.git(wt, &["mv", "ren.txt", "renamed.txt"]);
        env.commit(wt, &[], "the same rename");
    }),
    ("ren-2to1", |env, wt| {
        env.git(wt, &["mv", "dir/x.txt", "renamed.txt"]);
        env.commit(wt, &[], "another file to the same name");
    }),
    ("add-renamed", |env, wt| env.commit(wt, &[("renamed.txt", "added, not renamed\n")], "add renamed.txt")),
    ("ren-far", |env, wt| {
        env.git(wt, &["mv", "ren.txt", "far.txt"]);
        for n in 1..=6 {
            replace_line(wt, "far.txt", n, &format!("rewritten {n}"));
        }
        env.commit(wt, &[], "rename and rewrite most");
    }),
    ("empty-ren", |env, wt| {
        env.git(wt, &["mv", "empty.txt", "empty2.txt"]);
        env.commit(wt, &[], "rename an empty file");
    }),
    ("empty-fill", |env, wt| env.commit(wt, &[("empty.txt", "not empty any more\n")], "fill")),
    ("chmod", |env, wt| {
        std::fs::set_permissions(wt.join("shared.txt"), std::fs::Permissions::from_mode(0o755)).unwrap();
        env.commit(wt, &[], "chmod +x shared.txt");
    }),
    ("rm-shared", |env, wt| {
        env.git(wt, &["rm", "-q", "shared.txt"]);
        env.commit(wt, &[], "delete shared.txt");
    }),
    ("same-a", |env, wt| commit_line(env, wt, "shared.txt", 3, "the same change")),
    ("same-b", |env, wt| commit_line(env, wt, "shared.txt", 3, "the same change")),
    ("ln-a", |env, wt| {
        std::fs::remove_file(wt.join("ln")).unwrap();
        std::os::unix::fs::symlink("shared.txt", wt.join("ln")).unwrap();
        env.commit(wt, &[], "retarget ln");
    }),
    ("ln-b", |env, wt| {
        std::fs::remove_file(wt.join("ln")).unwrap();
        std::os::unix::fs::symlink("ren.txt", wt.join("ln")).unwrap();
        env.commit(wt, &[], "retarget ln differently");
    }),
    ("target-dir", |env, wt| {
        env.git(wt, &["rm", "-q", "link-target.txt"]);
        env.commit(wt, &[("link-target.txt/inner", "now a directory\n")], "file to directory");
    }),
    ("target-mod", |env, wt| env.commit(wt, &[("link-target.txt", "the target, changed\n")], "modify")),
    ("sub-move", |env, wt| commit_gitlink(env, wt, &"4".repeat(40))),
    ("dirmv2", |env, wt| {
        env.git(wt, &["mv", "dir", "otherdir"]);
        env.commit(wt, &[], "rename dir elsewhere");
    }),
    ("rmdir", |env, wt| {
        env.git(wt, &["rm", "-q", "-r", "dir"]);
        env.commit(wt, &[], "delete dir");
    }),
];

#[test]
fn edge_cases_agree_with_git_merge_tree() {
    let env = Env::new();
    let repo = rich_repo(&env, "repo");
    let mut tasks = EDGE_TASKS.to_vec();
    for name in ["dirmv", "dir-add", "bin-a"] {
        tasks.push(*DIFFERENTIAL_TASKS.iter().find(|t| t.0 == name).unwrap());
    }
    tasks.push(("bin-rm", |env, wt| {
        env.git(wt, &["rm", "-q", "bin.dat"]);
        env.commit(wt, &[], "delete the binary file");
    }));
    let names = spawn_all(&env, &repo, &tasks);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_agrees_with_merge_tree(&env, &repo, &names, 1);
}

#[test]
fn every_pair_agrees_with_git_merge_tree() {
    let env = Env::new();
    let repo = rich_repo(&env, "repo");
    spawn_all(&env, &repo, &DIFFERENTIAL_TASKS);
    // The target moves on: the line mid and mid2 change, the binary file, and a file `p` (against
    // dir-p git moves it aside to `p~<target label>`, so the label shows in the paths).
    replace_line(&repo, "shared.txt", 6, "main changed line 6");
    std::fs::write(repo.join("bin.dat"), b"\x00\x01binary\x00\xcc\x00from main\n").unwrap();
    env.commit(&repo, &[("p", "main's file p\n")], "main moves on");
    assert_eq!(env.git(&repo, &["diff", "--name-only", "HEAD~", "HEAD"]), "bin.dat\np\nshared.txt\n");
    // A task spawned from there changes only dir/y.txt, but against the others (merge base: the
    // initial commit) it brings main's changes: it conflicts with mid, mid2, bin-a and bin-b.
    let wt = spawn(&env, &repo, "late", &[]);
    commit_line(&env, &wt, "dir/y.txt", 8, "late changed line 8");
    let mut names: Vec<&str> = DIFFERENTIAL_TASKS.iter().map(|t| t.0).collect();
    names.push("late");

    // The scenario is what it claims to be (checks of this test, not of the product).
    let reference = |a: &str, b: &str| merge_tree(&env, &repo, &format!("agent/{a}"), &format!("agent/{b}"));
    for (a, b) in [
        ("mid", "mid2"),
        ("add-a", "add-b"),
        ("add-a", "symlink"),
        ("file-p", "dir-p"),
        ("ren", "del"),
        ("mod", "del"),
        ("dirmv", "dir-add"),
        ("bin-a", "bin-b"),
        ("sub-a", "sub-b"),
        ("ren", "into-dir"),
        ("dirmv", "into-dir"),
        ("mid", "late"),
        ("bin-b", "late"),
    ] {
        assert!(reference(a, b).is_some(), "scenario: ({a}, {b}) should conflict for git merge-tree");
    }
    for (a, b) in [("priv", "top"), ("top", "mid"), ("top", "exec"), ("ren", "mod"), ("dirmv", "dir-mod")] {
        assert!(reference(a, b).is_none(), "scenario: ({a}, {b}) should merge cleanly for git merge-tree");
    }
    assert!(merge_tree(&env, &repo, "main", "agent/mid").is_some(), "scenario: mid conflicts with main");
    assert_eq!(merge_tree(&env, &repo, "main", "agent/dir-p"), Some([b"p~main".to_vec()].into()), "scenario");

    assert_agrees_with_merge_tree(&env, &repo, &names, 1);

    // With --target as a full ref name, that string is the label: `p~refs_heads_main`.
    let json = conflicts_json(&env, &repo, &["--target", "refs/heads/main"], 1);
    let mismatches = compare_with_merge_tree(&env, &repo, &json, &names, "refs/heads/main");
    assert!(mismatches.is_empty(), "--target refs/heads/main:\n{}", mismatches.join("\n"));
}

/// git leaves a file in a new subdirectory of a directory the other side renamed where it is
/// (`dir/deep/new.txt`, merge-tree exits 0); directory renames apply to files directly inside.
#[test]
fn new_subdirectory_of_a_renamed_directory_agrees_with_merge_tree() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("dir/x.txt", &numbered("x")), ("dir/y.txt", &numbered("y"))]);
    let wt = spawn(&env, &repo, "dirmv", &[]);
    env.git(&wt, &["mv", "dir", "newdir"]);
    env.commit(&wt, &[], "rename dir");
    let wt = spawn(&env, &repo, "dir-deep", &[]);
    env.commit(&wt, &[("dir/deep/new.txt", "deep in dir\n")], "add below dir");
    assert_eq!(merge_tree(&env, &repo, "agent/dirmv", "agent/dir-deep"), None, "scenario");
    assert_agrees_with_merge_tree(&env, &repo, &["dirmv", "dir-deep"], 0);
}

/// The same new content added with different modes is an add/add conflict for git.
#[test]
fn same_content_added_with_different_modes_agrees_with_merge_tree() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "# readme\n")]);
    let wt = spawn(&env, &repo, "exec-add", &[]);
    write(&wt.join("new.sh"), "#!/bin/sh\n");
    std::fs::set_permissions(wt.join("new.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    env.commit(&wt, &[], "executable new.sh");
    let wt = spawn(&env, &repo, "plain-add", &[]);
    env.commit(&wt, &[("new.sh", "#!/bin/sh\n")], "plain new.sh");
    assert_eq!(merge_tree(&env, &repo, "agent/exec-add", "agent/plain-add"), Some([b"new.sh".to_vec()].into()));
    assert_agrees_with_merge_tree(&env, &repo, &["exec-add", "plain-add"], 1);
}

/// A path whose type changes on one side (file to symlink, symlink to file, submodule to file)
/// while the other side modifies it: git records one version aside at `<path>~<label>` and lists
/// both paths ("CONFLICT (distinct types)").
#[test]
fn type_change_against_a_modification_agrees_with_merge_tree() {
    let env = Env::new();
    let repo = rich_repo(&env, "repo");
    let wt = spawn(&env, &repo, "to-link", &[]);
    std::fs::remove_file(wt.join("shared.txt")).unwrap();
    std::os::unix::fs::symlink("ren.txt", wt.join("shared.txt")).unwrap();
    env.commit(&wt, &[], "shared.txt becomes a symlink");
    let wt = spawn(&env, &repo, "edit", &[]);
    commit_line(&env, &wt, "shared.txt", 3, "edit changed line 3");
    let wt = spawn(&env, &repo, "ln-file", &[]);
    std::fs::remove_file(wt.join("ln")).unwrap();
    env.commit(&wt, &[("ln", "a plain file now\n")], "ln becomes a file");
    let wt = spawn(&env, &repo, "ln-retarget", &[]);
    std::fs::remove_file(wt.join("ln")).unwrap();
    std::os::unix::fs::symlink("ren.txt", wt.join("ln")).unwrap();
    env.commit(&wt, &[], "ln points elsewhere");
    let wt = spawn(&env, &repo, "sub-file", &[]);
    env.git(&wt, &["rm", "-q", "--cached", "sub"]);
    std::fs::remove_dir(wt.join("sub")).unwrap();
    env.commit(&wt, &[("sub", "a file where the submodule was\n")], "submodule to file");
    commit_gitlink(&env, &spawn(&env, &repo, "sub-move", &[]), &"4".repeat(40));
    // git keeps the symlink or submodule at the path and moves the regular file aside.
    let cases = [
        ("to-link", "edit", "shared.txt", "shared.txt~agent_edit"),
        ("ln-file", "ln-retarget", "ln", "ln~agent_ln-file"),
        ("sub-file", "sub-move", "sub", "sub~agent_sub-file"),
    ];
    for (a, b, path, aside) in cases {
        let expected = [path.as_bytes().to_vec(), aside.as_bytes().to_vec()].into();
        assert_eq!(merge_tree(&env, &repo, &format!("agent/{a}"), &format!("agent/{b}")), Some(expected), "scenario");
    }
    let names = ["to-link", "edit", "ln-file", "ln-retarget", "sub-file", "sub-move"];
    assert_agrees_with_merge_tree(&env, &repo, &names, 1);
    let json = conflicts_json(&env, &repo, &[], 1);
    assert_eq!(kind_of(&json, "to-link", "edit", "shared.txt"), "type-change", "{json:#}");
}

/// One side renames a directory, the other renames a file inside it: git applies the directory
/// rename to the other side's new name too, and lists `newdir/x2.txt`, not `dir/x2.txt`.
#[test]
fn rename_inside_a_renamed_directory_agrees_with_merge_tree() {
    let env = Env::new();
    let repo = canonical_repo(
        &env,
        "repo",
        &[("dir/x.txt", &numbered("x")), ("dir/y.txt", &numbered("y")), ("dir/z.txt", &numbered("z"))],
    );
    let wt = spawn(&env, &repo, "dirmv", &[]);
    env.git(&wt, &["mv", "dir", "newdir"]);
    env.commit(&wt, &[], "rename dir");
    let wt = spawn(&env, &repo, "xren", &[]);
    env.git(&wt, &["mv", "dir/x.txt", "dir/x2.txt"]);
    env.commit(&wt, &[], "rename x.txt");
    let expected = [b"dir/x.txt".to_vec(), b"newdir/x.txt".to_vec(), b"newdir/x2.txt".to_vec()].into();
    assert_eq!(merge_tree(&env, &repo, "agent/dirmv", "agent/xren"), Some(expected), "scenario");
    assert_agrees_with_merge_tree(&env, &repo, &["dirmv", "xren"], 1);
}

/// Both sides rename a file to the same new name and change the same line differently: git
/// lists one conflict, at the new name (shim `drop_sources_renamed_alike`).
#[test]
fn a_file_renamed_alike_on_both_sides_conflicts_at_its_new_name_only() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", &numbered("a")), ("other.txt", "other\n")]);
    for name in ["ours", "theirs"] {
        let wt = spawn(&env, &repo, name, &[]);
        env.git(&wt, &["mv", "a.txt", "b.txt"]);
        commit_line(&env, &wt, "b.txt", 2, &format!("{name} changed line 2"));
    }
    assert_eq!(merge_tree(&env, &repo, "agent/ours", "agent/theirs"), Some([b"b.txt".to_vec()].into()), "scenario");
    assert_agrees_with_merge_tree(&env, &repo, &["ours", "theirs"], 1);
}

/// One side moves the only file of `moved/` to the top level: git takes that for a rename of
/// `moved/` to the top level, and moves the file the other side added in `moved/` along, as
/// `merge.directoryRenames` says: "CONFLICT (file location)" (the default, and `conflict`), a
/// clean move (`true`), or no move (`false`). gix 0.90 detects no rename to the top level.
#[test]
fn a_directory_renamed_to_the_top_level_agrees_with_merge_tree() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("moved/x.txt", &numbered("x")), ("top.txt", "top\n")]);
    let wt = spawn(&env, &repo, "up", &[]);
    env.git(&wt, &["mv", "moved/x.txt", "x.txt"]);
    env.commit(&wt, &[], "moved/x.txt to the top");
    let wt = spawn(&env, &repo, "add", &[]);
    env.commit(&wt, &[("moved/f2.txt", "new\n")], "add moved/f2.txt");
    assert_eq!(merge_tree(&env, &repo, "agent/up", "agent/add"), Some([b"f2.txt".to_vec()].into()), "scenario");
    assert_agrees_with_merge_tree(&env, &repo, &["up", "add"], 1);
    for (setting, code) in [("conflict", 1), ("true", 0), ("false", 0)] {
        env.git(&repo, &["config", "merge.directoryRenames", setting]);
        assert_agrees_with_merge_tree(&env, &repo, &["up", "add"], code);
    }
}

/// A task spawned after the target moved brings the target's changes into each of its pairs:
/// the pair's sides are measured from the pair's merge base. A content conflict on a file is a
/// change on both sides, so its path is in "overlap" (the contract allows an empty overlap only
/// for conflicts caused by directory renames).
#[test]
fn overlap_is_measured_from_the_pairs_merge_base() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared")), ("other.txt", "other\n")]);
    let wt = spawn(&env, &repo, "early", &[]);
    commit_line(&env, &wt, "shared.txt", 5, "early changed line 5");
    commit_line(&env, &repo, "shared.txt", 5, "main changed line 5");
    let wt = spawn(&env, &repo, "late", &[]);
    env.commit(&wt, &[("other.txt", "other, changed\n")], "late changes other.txt only");
    assert_eq!(merge_tree(&env, &repo, "agent/early", "agent/late"), Some([b"shared.txt".to_vec()].into()));

    let json = conflicts_json(&env, &repo, &[], 1);
    let entry = expect_pair(&json, "early", "late");
    assert_eq!(entry["verdict"], "conflict", "{json:#}");
    assert_eq!(kind_of(&json, "early", "late", "shared.txt"), "content");
    assert_eq!(strings(&entry["overlap"]), set(&["shared.txt"]), "{json:#}");
}

/// A small repository with tasks for unambiguous conflict kinds.
#[test]
fn conflict_kinds_of_unambiguous_pairs() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared")), ("ren.txt", &numbered("ren"))]);
    let wt = spawn(&env, &repo, "line-a", &[]);
    commit_line(&env, &wt, "shared.txt", 5, "line-a changed line 5");
    let wt = spawn(&env, &repo, "line-b", &[]);
    commit_line(&env, &wt, "shared.txt", 5, "line-b changed line 5 too");
    let wt = spawn(&env, &repo, "add-a", &[]);
    env.commit(&wt, &[("new.txt", "from a\n")], "add");
    let wt = spawn(&env, &repo, "add-b", &[]);
    env.commit(&wt, &[("new.txt", "from b\n")], "add");
    let wt = spawn(&env, &repo, "modify", &[]);
    commit_line(&env, &wt, "ren.txt", 3, "modified line 3");
    let wt = spawn(&env, &repo, "delete", &[]);
    env.git(&wt, &["rm", "-q", "ren.txt"]);
    env.commit(&wt, &[], "delete");
    let wt = spawn(&env, &repo, "file-p", &[]);
    env.commit(&wt, &[("p", "file\n")], "file p");
    let wt = spawn(&env, &repo, "dir-p", &[]);
    env.commit(&wt, &[("p/q", "file in dir\n")], "dir p");

    let json = conflicts_json(&env, &repo, &[], 1);
    assert_eq!(kind_of(&json, "line-a", "line-b", "shared.txt"), "content", "{json:#}");
    assert_eq!(kind_of(&json, "add-a", "add-b", "new.txt"), "add-add", "{json:#}");
    assert_eq!(kind_of(&json, "modify", "delete", "ren.txt"), "modify-delete", "{json:#}");
    // git moves the file aside to `p~<label with / as _>`: exactly the path merge-tree names.
    let entry = expect_pair(&json, "file-p", "dir-p");
    let kinds: Vec<&Value> = entry["conflicts"].as_array().unwrap().iter().map(|c| &c["kind"]).collect();
    assert!(!kinds.is_empty() && kinds.iter().all(|k| *k == "file-directory"), "{entry:#}");
    assert_eq!(kind_of(&json, "file-p", "dir-p", "p~agent_file-p"), "file-directory");
    // Overlap of the plain pairs: the file changed on both sides.
    assert_eq!(strings(&expect_pair(&json, "line-a", "line-b")["overlap"]), set(&["shared.txt"]));
    assert_eq!(strings(&expect_pair(&json, "modify", "delete")["overlap"]), set(&["ren.txt"]));
    assert_eq!(json["summary"]["conflicting_pairs"], 4, "{json:#}");
}

#[test]
fn further_conflict_kinds() {
    let env = Env::new();
    let repo = rich_repo(&env, "repo");
    for name in ["ren", "del", "dirmv", "dir-add", "sub-a", "sub-b", "add-a", "symlink"] {
        let change = DIFFERENTIAL_TASKS.iter().find(|t| t.0 == name).unwrap().1;
        change(&env, &spawn(&env, &repo, name, &[]));
    }
    let json = conflicts_json(&env, &repo, &[], 1);
    assert_eq!(kind_of(&json, "ren", "del", "renamed.txt"), "rename-delete", "{json:#}");
    assert_eq!(kind_of(&json, "dirmv", "dir-add", "newdir/added.txt"), "directory-rename", "{json:#}");
    assert_eq!(kind_of(&json, "sub-a", "sub-b", "sub"), "submodule", "{json:#}");
    // A symlink against a file: git keeps one at new.txt and moves the other aside.
    let entry = expect_pair(&json, "add-a", "symlink");
    let paths = conflict_paths(&entry["conflicts"]).unwrap();
    assert_eq!(paths, [b"new.txt".to_vec(), b"new.txt~agent_add-a".to_vec()].into(), "{entry:#}");
    for c in entry["conflicts"].as_array().unwrap() {
        assert_eq!(c["kind"], "type-change", "{entry:#}");
    }
}

#[test]
fn hazard_out_of_scope() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "# readme\n"), ("src/lib.rs", "// lib\n")]);
    let wt = spawn(&env, &repo, "web", &["--scope", "src/"]);
    env.commit(&wt, &[("src/lib.rs", "// lib, changed\n"), ("README.md", "# readme, changed\n")], "work");
    let wt = spawn(&env, &repo, "tidy", &["--scope", "src/"]);
    env.commit(&wt, &[("src/other.rs", "// other\n")], "in scope only");

    let before = state(&env, &repo);
    let json = conflicts_json(&env, &repo, &[], 0);
    assert_eq!(before, state(&env, &repo));
    let found = hazards(&json, "out-of-scope");
    assert_eq!(found.len(), 1, "{json:#}");
    assert_eq!(strings(&found[0]["tasks"]), set(&["web"]), "{json:#}");
    assert_eq!(strings(&found[0]["paths"]), set(&["README.md"]), "{json:#}");
    assert!(!found[0]["message"].as_str().unwrap().is_empty());
    assert_eq!(json["summary"]["hazards"], json["hazards"].as_array().unwrap().len(), "{json:#}");
    assert!(json["pairs"].as_array().unwrap().is_empty(), "{json:#}");
}

#[test]
fn hazard_dependency_manifest() {
    let env = Env::new();
    let repo = canonical_repo(
        &env,
        "repo",
        &[("Cargo.toml", "[package]\nname = \"x\"\n"), ("web/package.json", "{}\n"), ("src/a.rs", "// a\n")],
    );
    let wt = spawn(&env, &repo, "rust", &[]);
    env.commit(&wt, &[("Cargo.toml", "[package]\nname = \"x\"\n[dependencies]\nserde = \"1\"\n")], "dep");
    let wt = spawn(&env, &repo, "js", &[]);
    env.commit(&wt, &[("web/package.json", "{\"dependencies\": {\"left-pad\": \"1\"}}\n")], "dep");
    let wt = spawn(&env, &repo, "code", &[]);
    env.commit(&wt, &[("src/a.rs", "// a, changed\n")], "code only");
    let wt = spawn(&env, &repo, "py", &[]);
    env.commit(&wt, &[("tools/requirements-dev.txt", "pytest\n")], "python dependency");

    let json = conflicts_json(&env, &repo, &[], 0);
    let found = hazards(&json, "dependency-manifest");
    assert!(!found.is_empty(), "{json:#}");
    let tasks: BTreeSet<String> = found.iter().flat_map(|h| strings(&h["tasks"])).collect();
    let paths: BTreeSet<String> = found.iter().flat_map(|h| strings(&h["paths"])).collect();
    assert_eq!(tasks, set(&["rust", "js", "py"]), "{json:#}");
    assert_eq!(paths, set(&["Cargo.toml", "web/package.json", "tools/requirements-dev.txt"]), "{json:#}");
    for hazard in &found {
        assert!(strings(&hazard["tasks"]).len() > 1, "a hazard between tasks: {hazard:#}");
    }

    // One task alone changing a manifest is not a hazard.
    let json = conflicts_json(&env, &repo, &["rust", "code"], 0);
    assert!(hazards(&json, "dependency-manifest").is_empty(), "{json:#}");
}

#[test]
fn hazard_migration_number() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("db/migrations/0041_init.sql", "create table t (id int);\n")]);
    let wt = spawn(&env, &repo, "a", &[]);
    env.commit(&wt, &[("db/migrations/0042_a.sql", "alter table t add a int;\n")], "migration");
    let wt = spawn(&env, &repo, "b", &[]);
    env.commit(&wt, &[("db/migrations/0042_b.sql", "alter table t add b int;\n")], "migration");
    let wt = spawn(&env, &repo, "c", &[]);
    env.commit(&wt, &[("db/migrations/0043_c.sql", "alter table t add c int;\n")], "migration");
    // The same number in another migrations directory, or outside one, is no clash either.
    let wt = spawn(&env, &repo, "d", &[]);
    env.commit(&wt, &[("other/migrations/0042_d.sql", "-- d\n"), ("notes/0042_d.md", "# d\n")], "elsewhere");

    let json = conflicts_json(&env, &repo, &[], 0);
    let found = hazards(&json, "migration-number");
    assert_eq!(found.len(), 1, "{json:#}");
    assert_eq!(strings(&found[0]["tasks"]), set(&["a", "b"]), "{json:#}");
    assert_eq!(strings(&found[0]["paths"]), set(&["db/migrations/0042_a.sql", "db/migrations/0042_b.sql"]), "{json:#}");
    // 0042 against 0043 is not a hazard.
    let json = conflicts_json(&env, &repo, &["a", "c"], 0);
    assert!(hazards(&json, "migration-number").is_empty(), "{json:#}");
    assert!(json["pairs"].as_array().unwrap().is_empty(), "{json:#}");
}

#[test]
fn hazard_same_new_path() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("README.md", "# readme\n")]);
    for name in ["a", "b"] {
        let wt = spawn(&env, &repo, name, &[]);
        // Each its own commit (with the fixed dates, the same message would make them one).
        env.commit(&wt, &[("docs/new.md", "# the same new page\n")], &format!("same page, by {name}"));
    }
    assert_eq!(merge_tree(&env, &repo, "agent/a", "agent/b"), None, "git merges identical additions cleanly");
    let json = conflicts_json(&env, &repo, &[], 0);
    let found = hazards(&json, "same-new-path");
    assert_eq!(found.len(), 1, "{json:#}");
    assert_eq!(strings(&found[0]["tasks"]), set(&["a", "b"]), "{json:#}");
    assert_eq!(strings(&found[0]["paths"]), set(&["docs/new.md"]), "{json:#}");
    assert_eq!(json["summary"]["conflicting_pairs"], 0, "{json:#}");
    if let Some(entry) = pair(&json, "a", "b") {
        assert_eq!(entry["verdict"], "clean-overlap", "{json:#}");
    }
}

#[test]
fn different_regions_of_one_file_are_a_clean_overlap() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared")), ("other.txt", "other\n")]);
    let wt = spawn(&env, &repo, "top", &[]);
    commit_line(&env, &wt, "shared.txt", 2, "top changed line 2");
    let wt = spawn(&env, &repo, "bottom", &[]);
    commit_line(&env, &wt, "shared.txt", 9, "bottom changed line 9");
    let wt = spawn(&env, &repo, "apart", &[]);
    env.commit(&wt, &[("other.txt", "other, changed\n")], "other");

    let before = state(&env, &repo);
    let json = conflicts_json(&env, &repo, &[], 0);
    assert_eq!(before, state(&env, &repo));
    let pairs = json["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 1, "only the overlapping pair is listed: {json:#}");
    let entry = expect_pair(&json, "top", "bottom");
    assert_eq!(entry["verdict"], "clean-overlap", "{json:#}");
    assert_eq!(strings(&entry["overlap"]), set(&["shared.txt"]), "{json:#}");
    assert!(entry["conflicts"].as_array().is_none_or(Vec::is_empty), "{json:#}");
    assert_eq!(json["summary"]["clean_overlaps"], 1, "{json:#}");
    assert_eq!(json["summary"]["conflicting_pairs"], 0, "{json:#}");
    assert_eq!(json["summary"]["pairs_checked"], 3, "{json:#}");
    let against = json["against_target"].as_array().unwrap();
    assert!(against.iter().all(|e| e["verdict"] == "clean"), "{json:#}");
}

#[test]
fn odd_task_and_file_names_come_out_exactly() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[(UNICODE_NAME, &numbered("uni")), ("plain.txt", "plain\n")]);
    let raw = OsStr::from_bytes(RAW_NAME);
    std::fs::write(repo.join(raw), numbered("raw")).unwrap();
    env.commit(&repo, &[], "a file whose name is not UTF-8");

    let (a, b) = ("v1.2_fix", "x_y.z-2");
    for name in [a, b] {
        let wt = spawn(&env, &repo, name, &[]);
        replace_line(&wt, UNICODE_NAME, 4, &format!("{name} was here"));
        replace_line(&wt, raw, 4, &format!("{name} was here"));
        env.commit(&wt, &[], "edit both");
    }
    let expected = merge_tree(&env, &repo, &format!("agent/{a}"), &format!("agent/{b}")).unwrap();
    assert_eq!(expected, [UNICODE_NAME.as_bytes().to_vec(), RAW_NAME.to_vec()].into());

    let json = conflicts_json(&env, &repo, &[], 1);
    let entry = expect_pair(&json, a, b);
    assert_eq!(entry["verdict"], "conflict", "{json:#}");
    assert_eq!(conflict_paths(&entry["conflicts"]), Ok(expected), "{json:#}");
    let found = entry["conflicts"].as_array().unwrap();
    assert!(found.iter().any(|c| c["path"] == UNICODE_NAME), "the UTF-8 name is a plain string: {entry:#}");
    let raw_json = serde_json::json!({"bytes": RAW_NAME});
    assert!(found.iter().any(|c| c["path"] == raw_json), "the other name is {raw_json}: {entry:#}");
    let tasks: Vec<&str> = json["tasks"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tasks, [a, b], "{json:#}");

    let list = conflicts(&env, &repo, &["--format", "list"]).code(1);
    let text = conflicts(&env, &repo, &[]).code(1);
    for needle in [UNICODE_NAME, a, b] {
        assert!(list.stdout.contains(needle), "--format list should name {needle:?}:\n{}", list.stdout);
        assert!(text.stdout.contains(needle), "the default text should name {needle:?}:\n{}", text.stdout);
    }
}

#[test]
fn missing_branches_and_corrupt_records_are_reported_and_the_rest_checked() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared"))]);
    let wt_a = spawn(&env, &repo, "a", &[]);
    commit_line(&env, &wt_a, "shared.txt", 2, "a changed line 2");
    let wt_gone = spawn(&env, &repo, "gone", &[]);
    commit_line(&env, &wt_gone, "shared.txt", 2, "gone changed line 2");
    let wt_b = spawn(&env, &repo, "b", &[]);
    commit_line(&env, &wt_b, "shared.txt", 9, "b changed line 9");
    env.git(&repo, &["worktree", "remove", "--force", wt_gone.to_str().unwrap()]);
    env.git(&repo, &["branch", "-q", "-D", "agent/gone"]);
    write_raw_record(&env, &repo, "bad", "{ this is not json");

    let check = |json: &Value| {
        let tasks = json["tasks"].as_array().unwrap();
        for name in ["gone", "bad"] {
            let row = tasks.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no task {name}: {json:#}"));
            assert!(row["problems"].as_array().is_some_and(|p| !p.is_empty()), "{name} has a problem: {row:#}");
            for p in json["pairs"].as_array().unwrap() {
                assert!(p["a"] != name && p["b"] != name, "{name} is left out of the pairs: {json:#}");
            }
            for e in json["against_target"].as_array().unwrap() {
                assert!(e["task"] != name || e["verdict"] != "conflict", "{json:#}");
            }
        }
        let gone = tasks.iter().find(|t| t["name"] == "gone").unwrap();
        assert!(gone["head"].is_null(), "{gone:#}");
        for name in ["a", "b"] {
            let row = tasks.iter().find(|t| t["name"] == name).unwrap();
            assert_eq!(row["problems"], serde_json::json!([]), "{row:#}");
            assert_eq!(row["head"], rev(&env, &repo, &format!("agent/{name}")).as_str(), "{row:#}");
        }
    };
    // a and b overlap but merge cleanly: exit 0.
    let before = state(&env, &repo);
    let json = conflicts_json(&env, &repo, &[], 0);
    assert_eq!(before, state(&env, &repo));
    check(&json);
    assert_eq!(expect_pair(&json, "a", "b")["verdict"], "clean-overlap", "{json:#}");
    assert_eq!(json["summary"]["pairs_checked"], 1, "{json:#}");
    // Once b conflicts with a: exit 1.
    commit_line(&env, &wt_b, "shared.txt", 2, "b changed line 2 as well");
    let json = conflicts_json(&env, &repo, &[], 1);
    check(&json);
    assert_eq!(expect_pair(&json, "a", "b")["verdict"], "conflict", "{json:#}");
    // The text output runs too.
    conflicts(&env, &repo, &[]).code(1);
}

#[test]
fn integrated_tasks_are_left_out_unless_named_and_pairs_keep_spawn_order() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared"))]);
    for name in ["a", "b", "c"] {
        let wt = spawn(&env, &repo, name, &[]);
        commit_line(&env, &wt, "shared.txt", 5, &format!("{name} changed line 5"));
    }
    // a is done (still checked), c is integrated (left out by default).
    env.agent(&agents_dir(&repo).join("a"), &["done"]).success();
    let text = env.git(&repo, &["show", "refs/agent/tasks/c:task.json"]);
    let mut record: Value = serde_json::from_str(&text).unwrap();
    record["state"] = "integrated".into();
    record["integrated_commit"] = rev(&env, &repo, "agent/c").into();
    write_raw_record(&env, &repo, "c", &record.to_string());

    let json = conflicts_json(&env, &repo, &[], 1);
    assert_eq!(json["summary"]["tasks"], 2, "{json:#}");
    assert_eq!(json["summary"]["pairs_checked"], 1, "{json:#}");
    let pairs = json["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 1, "{json:#}");
    assert_eq!(expect_pair(&json, "a", "b")["verdict"], "conflict");
    assert!(json["against_target"].as_array().unwrap().iter().all(|e| e["task"] != "c"), "{json:#}");

    // Named on the command line, in any order: pairs still merge in spawn order.
    let json = conflicts_json(&env, &repo, &["c", "a"], 1);
    assert_eq!(json["summary"]["tasks"], 2, "{json:#}");
    assert_eq!(json["pairs"].as_array().unwrap().len(), 1, "{json:#}");
    assert_eq!(expect_pair(&json, "a", "c")["verdict"], "conflict", "{json:#}");
    let json = conflicts_json(&env, &repo, &["c", "b", "a"], 1);
    let listed: Vec<(&str, &str)> = json["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["a"].as_str().unwrap(), p["b"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [("a", "b"), ("a", "c"), ("b", "c")], "{json:#}");
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("a.txt", "a\n")]);
    let wt = spawn(&env, &repo, "one", &[]);
    env.commit(&wt, &[("b.txt", "b\n")], "b");
    spawn(&env, &repo, "two", &[]);
    let before = state(&env, &repo);
    for args in [&["ghost"][..], &["one", "ghost"], &["--target", "nosuchrev"], &["--json", "--target", "nosuchrev"]] {
        let run = conflicts(&env, &repo, args).code(2);
        assert!(!run.stderr.trim().is_empty(), "{args:?}: {run:#?}");
    }
    assert_eq!(before, state(&env, &repo));
    // Valid selections and targets work.
    conflicts_json(&env, &repo, &["one", "two"], 0);
    let json = conflicts_json(&env, &repo, &["--target", "HEAD"], 0);
    assert_eq!(json["target"]["commit"], rev(&env, &repo, "HEAD").as_str(), "{json:#}");
    assert_eq!(json["target"]["name"], "HEAD", "{json:#}");
}

#[test]
fn uncommitted_changes_count_only_when_asked_and_stay_untouched() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared")), ("other.txt", "other\n")]);
    let wt_a = spawn(&env, &repo, "a", &[]);
    commit_line(&env, &wt_a, "shared.txt", 5, "a changed line 5");
    let wt_b = spawn(&env, &repo, "b", &[]);
    env.commit(&wt_b, &[("other.txt", "other, committed in b\n")], "committed");
    replace_line(&wt_b, "shared.txt", 5, "b changed line 5, not committed");
    let content = std::fs::read(wt_b.join("shared.txt")).unwrap();
    let index_path = env.git(&wt_b, &["rev-parse", "--path-format=absolute", "--git-path", "index"]);
    let index = std::fs::read(index_path.trim()).unwrap();

    let before = state(&env, &repo);
    let json = conflicts_json(&env, &repo, &[], 0);
    assert!(pair(&json, "a", "b").is_none_or(|p| p["verdict"] != "conflict"), "{json:#}");
    let json = conflicts_json(&env, &repo, &["--include-uncommitted"], 1);
    let entry = expect_pair(&json, "a", "b");
    assert_eq!(entry["verdict"], "conflict", "{json:#}");
    assert_eq!(conflict_paths(&entry["conflicts"]), Ok([b"shared.txt".to_vec()].into()), "{json:#}");
    assert_eq!(kind_of(&json, "a", "b", "shared.txt"), "content");
    conflicts(&env, &repo, &["--include-uncommitted"]).code(1);

    assert_eq!(std::fs::read(index_path.trim()).unwrap(), index, "the index of b was rewritten");
    assert_eq!(before, state(&env, &repo));
    assert_eq!(std::fs::read(wt_b.join("shared.txt")).unwrap(), content);
    let status = env.git(&wt_b, &["status", "--porcelain"]);
    assert_eq!(status, " M shared.txt\n", "the change stays unstaged");
}

#[test]
fn matrix_text_and_the_umbrella_command() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared")), ("other.txt", "other\n")]);
    let wt = spawn(&env, &repo, "alpha", &[]);
    commit_line(&env, &wt, "shared.txt", 5, "alpha changed line 5");
    let wt = spawn(&env, &repo, "beta", &[]);
    commit_line(&env, &wt, "shared.txt", 5, "beta changed line 5");
    let wt = spawn(&env, &repo, "gamma", &[]);
    env.commit(&wt, &[("other.txt", "other, changed\n")], "other");

    let before = state(&env, &repo);
    let matrix = conflicts(&env, &repo, &[]).code(1);
    for name in ["alpha", "beta", "gamma"] {
        assert!(matrix.stdout.contains(name), "the matrix names {name}:\n{}", matrix.stdout);
    }
    let lower = matrix.stdout.to_lowercase();
    assert!(lower.contains("conflict") && lower.contains("clean"), "a legend explains the cells:\n{}", matrix.stdout);
    let explicit = conflicts(&env, &repo, &["--format", "matrix"]).code(1);
    assert_eq!(explicit.stdout, matrix.stdout, "matrix is the default format");

    // The umbrella runs the same command.
    let umbrella = env.agent(&repo, &["conflicts"]).code(1);
    assert_eq!(umbrella.stdout, matrix.stdout);
    let direct = conflicts(&env, &repo, &["--json"]).code(1);
    let through = env.agent(&repo, &["conflicts", "--json"]).code(1);
    assert_eq!(direct.json(), through.json());
    let list = env.agent(&repo, &["conflicts", "--format", "list", "alpha", "beta"]).code(1);
    assert!(list.stdout.contains("shared.txt"), "{list:#?}");
    // One entry per pair, the clean ones included.
    let all = env.agent(&repo, &["conflicts", "--format", "list"]).code(1);
    let pairs: Vec<&str> = all.stdout.lines().filter(|l| !l.starts_with(' ') && l.ends_with("gamma")).collect();
    assert_eq!(pairs, ["clean alpha gamma", "clean beta gamma"], "{}", all.stdout);
    env.agent(&repo, &["conflicts", "alpha", "gamma"]).success();
    env.agent(&repo, &["conflicts", "ghost"]).code(2);
    // From a task's worktree, and with -C from elsewhere: the same answer.
    let inside = conflicts(&env, &agents_dir(&repo).join("gamma"), &["--json"]).code(1);
    assert_eq!(inside.json(), direct.json());
    let elsewhere = conflicts(&env, env.path(), &["-C", repo.to_str().unwrap(), "--json"]).code(1);
    assert_eq!(elsewhere.json(), direct.json());
    assert_eq!(before, state(&env, &repo));
}

/// A read-only check must not run programs the repository configures: merge drivers and
/// clean/smudge filters named in .gitattributes.
#[test]
fn repository_merge_drivers_and_filters_are_never_run() {
    let env = Env::new();
    let repo = canonical_repo(
        &env,
        "repo",
        &[("shared.txt", &numbered("shared")), (".gitattributes", "* merge=evil filter=evil\n")],
    );
    let marker = env.path().join("pwned");
    let touch = format!("touch {} ; cat", marker.display());
    env.git(&repo, &["config", "merge.evil.driver", &format!("touch {} ; false", marker.display())]);
    env.git(&repo, &["config", "filter.evil.clean", &touch]);
    env.git(&repo, &["config", "filter.evil.smudge", &touch]);
    let a = spawn(&env, &repo, "a", &[]);
    let b = spawn(&env, &repo, "b", &[]);
    // Spawning checked files out through gix, which may apply filters: start from a clean slate.
    let _ = std::fs::remove_file(&marker);
    env.git(
        &a,
        &["-c", "filter.evil.clean=cat", "-c", "filter.evil.smudge=cat", "-c", "merge.evil.driver=false", "status"],
    );
    replace_line(&a, "shared.txt", 5, "a");
    replace_line(&b, "shared.txt", 5, "b");
    for wt in [&a, &b] {
        env.git(wt, &["-c", "filter.evil.clean=cat", "-c", "filter.evil.smudge=cat", "commit", "-q", "-am", "edit"]);
    }
    let _ = std::fs::remove_file(&marker);
    let json = conflicts_json(&env, &repo, &["--include-uncommitted"], 1);
    assert_eq!(expect_pair(&json, "a", "b")["verdict"], "conflict");
    assert!(!marker.exists(), "a configured merge driver or filter ran");
}

/// Defect 10: an agent merged main, main had merged the agent's first commit (keeping its own
/// version): two merge bases. git merge-tree conflicts through the virtual merge base; the gate
/// must merge such a branch instead of trusting the target's changes since one of the bases.
#[test]
fn a_criss_cross_history_is_merged_and_agrees_with_merge_tree() {
    let env = Env::new();
    let repo = env.repo("repo", &[("p", "1\n2\n3\n4\n5\n")]);
    let wt = spawn(&env, &repo, "x", &[]);
    env.git(&repo, &["commit", "-q", "--allow-empty", "-m", "M1"]);
    let m1 = env.git(&repo, &["rev-parse", "HEAD"]).trim().to_owned();
    replace_line(&wt, "p", 2, "2a");
    env.git(&wt, &["commit", "-q", "-am", "A0"]);
    let a0 = env.git(&repo, &["rev-parse", "agent/x"]).trim().to_owned();
    env.git(&repo, &["merge", "-q", "--no-commit", "--no-ff", &a0]);
    env.git(&repo, &["checkout", "-q", &m1, "--", "p"]);
    env.git(&repo, &["commit", "-q", "-m", "merge A0 keeping main's p"]);
    env.git(&wt, &["merge", "-q", "--no-edit", &m1]);
    replace_line(&wt, "p", 2, "2b");
    env.git(&wt, &["commit", "-q", "-am", "K"]);
    let bases = env.git(&repo, &["merge-base", "--all", "main", "agent/x"]);
    assert_eq!(bases.lines().count(), 2, "the scenario needs two merge bases");
    assert!(merge_tree(&env, &repo, "main", "agent/x").is_some(), "git merge-tree conflicts here");
    assert_agrees_with_merge_tree(&env, &repo, &["x"], 1);
}

/// Main with a side branch `topic` (one commit S, forked from the initial commit) and its own
/// commit M1, then `topic` merged into main. `side` and `main` are what S and M1 write; a
/// conflict between them is resolved in main's merge with `resolved`. Returns (S, M1).
fn main_with_a_merged_topic(
    env: &Env,
    repo: &Path,
    side: (&str, usize, &str),
    main: (&str, usize, &str),
    resolved: Option<(&str, &str)>,
) -> (String, String) {
    env.git(repo, &["checkout", "-q", "-b", "topic"]);
    commit_line(env, repo, side.0, side.1, side.2);
    let s = env.git(repo, &["rev-parse", "HEAD"]).trim().to_owned();
    env.git(repo, &["checkout", "-q", "main"]);
    commit_line(env, repo, main.0, main.1, main.2);
    let m1 = env.git(repo, &["rev-parse", "HEAD"]).trim().to_owned();
    let merged = env.command("git", repo).args(["merge", "-q", "--no-edit", "topic"]).output().unwrap();
    if let Some((path, content)) = resolved {
        assert!(!merged.status.success(), "the scenario needs S and M1 to conflict");
        write(&repo.join(path), content);
        env.commit(repo, &[], "merge topic, resolved");
    } else {
        assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    }
    (s, m1)
}

const FIVE: &str = "1\n2\n3\n4\n5\n";

/// Issue 9: tasks forked on different lines of the target's history (a side branch main merged
/// later, main's own line, main after the merge) and a task that merged main since it forked.
/// No two of them interact, through their own changes or the target's between their forks, so
/// the gate proves every pair clean without merging (before: every pair with forks that were not
/// ancestors of each other was merged), and git agrees.
#[test]
fn tasks_forked_on_different_lines_of_history_are_proven_clean_without_merging() {
    let env = Env::new();
    let files =
        [("a.txt", FIVE), ("b.txt", FIVE), ("c.txt", FIVE), ("d.txt", FIVE), ("side.txt", FIVE), ("m.txt", FIVE)];
    let repo = env.repo("repo", &files);
    let initial = env.git(&repo, &["rev-parse", "HEAD"]).trim().to_owned();
    let w = spawn(&env, &repo, "w", &[]);
    commit_line(&env, &w, "c.txt", 1, "w");
    let (s, m1) = main_with_a_merged_topic(&env, &repo, ("side.txt", 2, "topic"), ("m.txt", 2, "main"), None);
    let x = spawn(&env, &repo, "x", &["--base", &s]);
    commit_line(&env, &x, "a.txt", 1, "x");
    let y = spawn(&env, &repo, "y", &["--base", &m1]);
    commit_line(&env, &y, "b.txt", 1, "y");
    let z = spawn(&env, &repo, "z", &[]);
    commit_line(&env, &z, "d.txt", 1, "z");
    // w merged main's first-parent line since it forked: its merge base with main moved to M1.
    env.git(&w, &["merge", "-q", "--no-edit", &m1]);
    assert_ne!(env.git(&repo, &["merge-base", "main", "agent/w"]).trim(), initial);
    assert_agrees_with_merge_tree(&env, &repo, &["w", "x", "y", "z"], 0);
    let json = conflicts_json(&env, &repo, &[], 0);
    assert_eq!(json["summary"]["merged_in_memory"], 0, "every pair is proven clean: {json:#}");
}

/// The target's own changes between the pair's merge base and each fork meet: the side branch
/// and main changed the same line (main's merge resolved it), and x forked from the side
/// branch, y from main's commit. Their own changes are disjoint, yet git conflicts: the gate
/// must merge that pair.
#[test]
fn forks_whose_target_segments_touch_the_same_file_are_merged() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", FIVE), ("b.txt", FIVE), ("shared.txt", FIVE)]);
    let (s, m1) = main_with_a_merged_topic(
        &env,
        &repo,
        ("shared.txt", 3, "topic"),
        ("shared.txt", 3, "main"),
        Some(("shared.txt", "1\n2\nresolved\n4\n5\n")),
    );
    let x = spawn(&env, &repo, "x", &["--base", &s]);
    commit_line(&env, &x, "a.txt", 1, "x");
    let y = spawn(&env, &repo, "y", &["--base", &m1]);
    commit_line(&env, &y, "b.txt", 1, "y");
    // A task spawned from main (no work yet) names the target.
    spawn(&env, &repo, "z", &[]);
    assert!(merge_tree(&env, &repo, "agent/x", "agent/y").is_some(), "git merge-tree conflicts here");
    assert_agrees_with_merge_tree(&env, &repo, &["x", "y", "z"], 1);
    let json = conflicts_json(&env, &repo, &[], 1);
    assert_eq!(expect_pair(&json, "x", "y")["verdict"], "conflict", "{json:#}");
}

/// Forks off the target's first-parent line are ordered through the line points around them:
/// the target's changes between such a fork and the line (after it: x forked inside `topic`,
/// whose later commit changed the line x changes; before it: y forked from `topic`, which
/// changed the line w changes) must make the pair and the task against the target candidates.
/// Without those side diffs the gate would call both pairs clean; git conflicts on both.
#[test]
fn a_fork_off_the_line_carries_the_targets_changes_on_its_side_branch() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", FIVE), ("b.txt", FIVE), ("shared.txt", FIVE), ("other.txt", FIVE)]);
    let initial = env.git(&repo, &["rev-parse", "HEAD"]).trim().to_owned();
    env.git(&repo, &["checkout", "-q", "-b", "topic"]);
    commit_line(&env, &repo, "a.txt", 2, "topic");
    let s1 = env.git(&repo, &["rev-parse", "HEAD"]).trim().to_owned();
    commit_line(&env, &repo, "shared.txt", 3, "topic");
    commit_line(&env, &repo, "other.txt", 3, "topic");
    let s3 = env.git(&repo, &["rev-parse", "HEAD"]).trim().to_owned();
    env.git(&repo, &["checkout", "-q", "main"]);
    commit_line(&env, &repo, "b.txt", 2, "main");
    env.git(&repo, &["merge", "-q", "--no-edit", "topic"]);
    // x forks inside the topic, before its change of shared.txt; z from main after the merge.
    let x = spawn(&env, &repo, "x", &["--base", &s1]);
    commit_line(&env, &x, "shared.txt", 3, "x");
    let z = spawn(&env, &repo, "z", &[]);
    commit_line(&env, &z, "b.txt", 5, "z");
    // w forks from the initial commit (on the line), y at the end of the topic.
    let w = spawn(&env, &repo, "w", &["--base", &initial]);
    commit_line(&env, &w, "other.txt", 3, "w");
    let y = spawn(&env, &repo, "y", &["--base", &s3]);
    commit_line(&env, &y, "a.txt", 5, "y");
    for (a, b) in [("x", "z"), ("w", "y")] {
        assert!(merge_tree(&env, &repo, &format!("agent/{a}"), &format!("agent/{b}")).is_some(), "{a} {b} conflict");
    }
    assert_agrees_with_merge_tree(&env, &repo, &["x", "z", "w", "y"], 1);
    let json = conflicts_json(&env, &repo, &[], 1);
    assert_eq!(expect_pair(&json, "x", "z")["verdict"], "conflict", "{json:#}");
    assert_eq!(expect_pair(&json, "w", "y")["verdict"], "conflict", "{json:#}");
}

/// Forks with two merge bases (two side branches that merged each other, both merged into
/// main): the pair's merge base is virtual, outside what the proof covers, so it is merged.
#[test]
fn forks_with_two_merge_bases_are_merged() {
    let env = Env::new();
    let repo = env.repo("repo", &[("a.txt", FIVE), ("b.txt", FIVE), ("p.txt", FIVE), ("q.txt", FIVE)]);
    env.git(&repo, &["checkout", "-q", "-b", "p"]);
    commit_line(&env, &repo, "p.txt", 1, "p");
    env.git(&repo, &["checkout", "-q", "-b", "q", "main"]);
    commit_line(&env, &repo, "q.txt", 1, "q");
    let (p, q) = (env.git(&repo, &["rev-parse", "p"]), env.git(&repo, &["rev-parse", "q"]));
    env.git(&repo, &["merge", "-q", "--no-edit", p.trim()]);
    env.git(&repo, &["checkout", "-q", "p"]);
    env.git(&repo, &["merge", "-q", "--no-edit", q.trim()]);
    env.git(&repo, &["checkout", "-q", "main"]);
    env.git(&repo, &["merge", "-q", "--no-edit", "p", "q"]);
    assert_eq!(env.git(&repo, &["merge-base", "--all", "p", "q"]).lines().count(), 2, "a criss-cross");
    let (p, q) = (env.git(&repo, &["rev-parse", "p"]), env.git(&repo, &["rev-parse", "q"]));
    let x = spawn(&env, &repo, "x", &["--base", p.trim()]);
    commit_line(&env, &x, "a.txt", 1, "x");
    let y = spawn(&env, &repo, "y", &["--base", q.trim()]);
    commit_line(&env, &y, "b.txt", 1, "y");
    // A task spawned from main (no work yet) names the target.
    spawn(&env, &repo, "z", &[]);
    assert_agrees_with_merge_tree(&env, &repo, &["x", "y", "z"], 0);
    let json = conflicts_json(&env, &repo, &[], 0);
    assert_eq!(json["summary"]["merged_in_memory"], 1, "the pair is merged: {json:#}");
}

/// Defect 24: two tasks whose histories are unrelated to each other (each shares history with
/// the target, as subtrees merged into one repository do). git refuses that one merge; the
/// check reports that pair as unrelated, by task name, and checks every other pair.
#[test]
fn a_pair_with_unrelated_histories_is_reported_and_the_rest_checked() {
    let env = Env::new();
    let repo = env.repo("repo", &[("base.txt", "base\n")]);
    for side in ["side1", "side2"] {
        env.git(&repo, &["checkout", "-q", "--orphan", side]);
        env.git(&repo, &["rm", "-rfq", "."]);
        env.commit(&repo, &[(&format!("{side}.txt"), "x\n")], side);
    }
    env.git(&repo, &["checkout", "-q", "main"]);
    for side in ["side1", "side2"] {
        env.git(&repo, &["merge", "-q", "--allow-unrelated-histories", "--no-edit", side]);
    }
    spawn(&env, &repo, "a", &["--base", "side1"]);
    spawn(&env, &repo, "b", &["--base", "side2"]);
    let c = spawn(&env, &repo, "c", &[]);
    commit_line(&env, &c, "base.txt", 1, "c's base");
    let json = conflicts_json(&env, &repo, &["a", "b", "c", "--into", "main"], 0);
    assert_eq!(expect_pair(&json, "a", "b")["verdict"], "unrelated", "{json:#}");
    assert_eq!(json["summary"]["unrelated_pairs"], 1, "{json:#}");
    let text = conflicts(&env, &repo, &["a", "b", "c", "--target", "main"]).success();
    assert!(text.stdout.contains("a u b"), "{}", text.stdout);
}

/// Defect 08: with `merge.renormalize`, a side that only changed line endings merges cleanly
/// with a real edit, as in git.
#[test]
fn merge_renormalize_agrees_with_merge_tree() {
    let env = Env::new();
    let repo = env.repo("repo", &[("f.txt", "l1\nl2\nl3\nl4\nl5\n")]);
    let a = spawn(&env, &repo, "a", &[]);
    let b = spawn(&env, &repo, "b", &[]);
    env.commit(&a, &[("f.txt", "l1\r\nl2\r\nl3\r\nl4\r\nl5\r\n")], "crlf");
    env.commit(&b, &[("f.txt", "l1\nl2\nl3 changed\nl4\nl5\n")], "edit");
    env.commit(&repo, &[(".gitattributes", "* text=auto\n")], "attributes");
    env.git(&repo, &["config", "merge.renormalize", "true"]);
    assert!(merge_tree(&env, &repo, "agent/a", "agent/b").is_none(), "git merges this cleanly");
    assert_agrees_with_merge_tree(&env, &repo, &["a", "b"], 0);
}

/// Defect 09: more than gix's default of 1000 inexact renames; git's limit for merges is 7000.
#[test]
fn more_than_a_thousand_renames_agree_with_merge_tree() {
    let env = Env::new();
    let files: Vec<(String, String)> = (1..=1100)
        .map(|i| {
            (
                format!("d1/f{i:04}.txt"),
                format!("file {i}\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8 {i}\n"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
    let repo = env.repo("repo", &refs);
    let a = spawn(&env, &repo, "a", &[]);
    let b = spawn(&env, &repo, "b", &[]);
    env.git(&a, &["mv", "d1", "d2"]);
    for (path, content) in &files {
        write(&a.join(path.replacen("d1", "d2", 1)), &format!("{content}appended\n"));
    }
    env.git(&a, &["commit", "-q", "-am", "rename and edit every file"]);
    replace_line(&b, "d1/f0001.txt", 4, "line 4 by b");
    env.git(&b, &["commit", "-q", "-am", "edit one file"]);
    assert!(merge_tree(&env, &repo, "agent/a", "agent/b").is_none(), "git merges this cleanly");
    assert_agrees_with_merge_tree(&env, &repo, &["a", "b"], 0);
}

/// Defect 11: `git merge-tree` reads `.gitattributes` from the worktree, even when it is not
/// committed: `merge=union` makes this append/append clean.
#[test]
fn worktree_attributes_agree_with_merge_tree() {
    let env = Env::new();
    let repo = env.repo("repo", &[("log.txt", "l1\nl2\n")]);
    let a = spawn(&env, &repo, "a", &[]);
    let b = spawn(&env, &repo, "b", &[]);
    env.commit(&a, &[("log.txt", "l1\nl2\nfrom a\n")], "a");
    env.commit(&b, &[("log.txt", "l1\nl2\nfrom b\n")], "b");
    write(&repo.join(".gitattributes"), "*.txt merge=union\n");
    assert!(merge_tree(&env, &repo, "agent/a", "agent/b").is_none(), "git merges this cleanly");
    assert_agrees_with_merge_tree(&env, &repo, &["a", "b"], 0);
}

/// Defect 16: `--include-uncommitted` keeps its snapshots in memory (nothing reaches
/// `.git/objects`), reads no file above the limit, and takes text through the clean
/// conversion (a CRLF-only difference under `text=auto` is no change).
#[test]
fn include_uncommitted_writes_no_object_and_reads_no_huge_file() {
    let env = Env::new();
    let repo =
        canonical_repo(&env, "repo", &[("shared.txt", &numbered("shared")), (".gitattributes", "* text=auto\n")]);
    let wt_a = spawn(&env, &repo, "a", &[]);
    commit_line(&env, &wt_a, "shared.txt", 5, "a changed line 5");
    let wt_b = spawn(&env, &repo, "b", &[]);
    // Only line endings differ from what is committed: the clean conversion makes it no change.
    write(&wt_b.join("shared.txt"), &numbered("shared").replace('\n', "\r\n"));
    write(&wt_b.join("notes.txt"), "an untracked note\n");
    let big = std::fs::File::create(wt_b.join("big.bin")).unwrap();
    big.set_len(65 << 20).unwrap();
    let objects = |env: &Env| env.git(&repo, &["count-objects", "-v"]);
    let before = objects(&env);
    let json = conflicts_json(&env, &repo, &["--include-uncommitted"], 0);
    assert_eq!(objects(&env), before, "objects were written to the repository");
    assert!(pair(&json, "a", "b").is_none_or(|p| p["verdict"] != "conflict"), "{json:#}");
    let task = json["tasks"].as_array().unwrap().iter().find(|t| t["name"] == "b").unwrap();
    assert_eq!(task["uncommitted"], true, "{json:#}");
    assert!(task["problems"].to_string().contains("big.bin"), "the huge file is named: {json:#}");
}

/// Defects 22 and 23: git's file merge places each side's hunks without the indent
/// heuristic. Here one side appends a block after the comment, the other inserts a line
/// before it: with the heuristic both insertions land after line 2 and conflict; git merges.
#[test]
fn a_content_merge_places_hunks_as_git_does() {
    let env = Env::new();
    let repo = env.repo("repo", &[("f.h", "x;\n\n/*\n */\n")]);
    let a = spawn(&env, &repo, "a", &[]);
    let b = spawn(&env, &repo, "b", &[]);
    env.commit(&a, &[("f.h", "x;\n\n/*\n */\ny;\n\n/*\n */\n")], "a");
    env.commit(&b, &[("f.h", "x;\n\nz;\n\n/*\n */\n")], "b");
    assert!(merge_tree(&env, &repo, "agent/a", "agent/b").is_none(), "git merges this cleanly");
    assert_agrees_with_merge_tree(&env, &repo, &["a", "b"], 0);
}

/// Worktree attributes that change the verdict of two edits far apart in one file: `-merge`
/// and `binary` make it a conflict for git (no line merge), `merge=text` keeps it clean; and
/// files with CRLF line endings and no attributes merge line by line as git does.
#[test]
fn binary_and_unmerged_attributes_and_crlf_files_agree_with_merge_tree() {
    let env = Env::new();
    let crlf = numbered("crlf").replace('\n', "\r\n");
    let repo = canonical_repo(&env, "repo", &[("text.txt", &numbered("text")), ("crlf.txt", &crlf)]);
    let a = spawn(&env, &repo, "a", &[]);
    commit_line(&env, &a, "text.txt", 2, "a changed line 2");
    env.commit(&a, &[("crlf.txt", &crlf.replacen("crlf line 2", "a's crlf line 2", 1))], "a: crlf.txt");
    let b = spawn(&env, &repo, "b", &[]);
    commit_line(&env, &b, "text.txt", 7, "b changed line 7");
    env.commit(&b, &[("crlf.txt", &crlf.replacen("crlf line 7", "b's crlf line 7", 1))], "b: crlf.txt");
    let c = spawn(&env, &repo, "c", &[]);
    env.commit(&c, &[("crlf.txt", &crlf.replace("\r\n", "\n"))], "c: crlf.txt to LF");
    assert_eq!(merge_tree(&env, &repo, "agent/a", "agent/b"), None, "scenario: clean without attributes");
    // The exit status git's answers make: 1 if any pair conflicts.
    let code = |env: &Env| {
        let pairs = [("a", "b"), ("a", "c"), ("b", "c")];
        let any =
            pairs.iter().any(|(x, y)| merge_tree(env, &repo, &format!("agent/{x}"), &format!("agent/{y}")).is_some());
        i32::from(any)
    };
    assert_agrees_with_merge_tree(&env, &repo, &["a", "b", "c"], code(&env));
    for attributes in ["text.txt -merge\n", "text.txt binary\n", "text.txt merge=text\n"] {
        write(&repo.join(".gitattributes"), attributes);
        let expected = if attributes.contains("merge=text") { None } else { Some([b"text.txt".to_vec()].into()) };
        assert_eq!(merge_tree(&env, &repo, "agent/a", "agent/b"), expected, "scenario: {attributes}");
        assert_agrees_with_merge_tree(&env, &repo, &["a", "b", "c"], code(&env));
    }
}

/// Directory renames that git cannot apply are conflicts without a listed file: `git merge-tree`
/// exits 1 and names them in messages only. A directory split between two destinations
/// ("directory rename split"), two new files a directory rename would put at one path, and a
/// new file the adding side also has at the new path ("implicit dir rename") are reported with
/// kinds of their own; a file the renaming side added at the new path is a plain add/add.
#[test]
fn directory_rename_conflicts_without_a_listed_file_agree_with_merge_tree() {
    let env = Env::new();
    let files = [
        ("old1/a.txt", numbered("a")),
        ("old2/b.txt", numbered("b")),
        ("dir/c.txt", numbered("c")),
        ("split/d.txt", numbered("d")),
        ("split/e.txt", numbered("e")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let repo = canonical_repo(&env, "repo", &files);
    let wt = spawn(&env, &repo, "renamer", &[]);
    for (from, to) in [
        ("old1/a.txt", "new/a.txt"),
        ("old2/b.txt", "new/b.txt"),
        ("dir/c.txt", "newdir/c.txt"),
        ("split/d.txt", "x/d.txt"),
        ("split/e.txt", "y/e.txt"),
    ] {
        std::fs::create_dir_all(wt.join(to).parent().unwrap()).unwrap();
        env.git(&wt, &["mv", from, to]);
    }
    env.commit(&wt, &[("newdir/z.txt", "renamer's z\n")], "rename directories, add newdir/z.txt");
    let wt = spawn(&env, &repo, "adder", &[]);
    let added = [("old1/z.txt", "1\n"), ("old2/z.txt", "2\n"), ("dir/z.txt", "3\n"), ("split/new.txt", "4\n")];
    env.commit(&wt, &added, "add into the renamed directories");
    let wt = spawn(&env, &repo, "in-way", &[]);
    env.commit(&wt, &[("dir/w.txt", "w\n"), ("newdir/w.txt", "in the way\n")], "add dir/w.txt and newdir/w.txt");

    let unlisted = |items: &[(&str, &str)]| -> BTreeSet<(String, Vec<u8>)> {
        items.iter().map(|(kind, path)| (kind.to_string(), path.as_bytes().to_vec())).collect()
    };
    let report = merge_tree_report(&env, &repo, "agent/renamer", "agent/adder");
    let expected = GitConflicts {
        listed: [b"newdir/z.txt".to_vec()].into(),
        unlisted: unlisted(&[("directory-rename-collision", "new/z.txt"), ("directory-rename-split", "split")]),
    };
    assert_eq!(report, Some(expected), "scenario");
    let report = merge_tree_report(&env, &repo, "agent/renamer", "agent/in-way");
    let expected = GitConflicts {
        listed: BTreeSet::new(),
        unlisted: unlisted(&[("file-in-way-of-directory-rename", "newdir/w.txt")]),
    };
    assert_eq!(report, Some(expected), "scenario");

    assert_agrees_with_merge_tree(&env, &repo, &["renamer", "adder", "in-way"], 1);
    let json = conflicts_json(&env, &repo, &[], 1);
    let entry = expect_pair(&json, "renamer", "in-way");
    assert_eq!(
        entry["conflicts"],
        serde_json::json!([{"path": "newdir/w.txt", "kind": "file-in-way-of-directory-rename", "sources": ["dir/w.txt"]}]),
        "{json:#}"
    );
    let list = conflicts(&env, &repo, &["--format", "list"]).code(1).stdout;
    assert!(list.contains("conflict renamer in-way\n  file-in-way-of-directory-rename newdir/w.txt\n"), "{list}");
    let text = conflicts(&env, &repo, &[]).code(1).stdout;
    assert!(text.contains("renamer x in-way: newdir/w.txt (file-in-way-of-directory-rename: dir/w.txt)"), "{text}");
}

/// `integrate` stops where git's merge stops on a directory rename it cannot apply (a split
/// directory), also in a dry run, and a rule covering every path does not settle it.
#[test]
fn integrate_stops_at_a_directory_rename_conflict_without_a_listed_file() {
    let env = Env::new();
    let repo = canonical_repo(&env, "repo", &[("split/d.txt", &numbered("d")), ("split/e.txt", &numbered("e"))]);
    let wt = spawn(&env, &repo, "splitter", &[]);
    for (from, to) in [("split/d.txt", "x/d.txt"), ("split/e.txt", "y/e.txt")] {
        std::fs::create_dir_all(wt.join(to).parent().unwrap()).unwrap();
        env.git(&wt, &["mv", from, to]);
    }
    env.commit(&wt, &[], "split/ to x/ and y/");
    let wt = spawn(&env, &repo, "adder", &[]);
    env.commit(&wt, &[("split/new.txt", "new\n")], "add split/new.txt");
    // git: once splitter is in, the merge of adder stops, listing no file.
    let expected = GitConflicts {
        listed: BTreeSet::new(),
        unlisted: [("directory-rename-split".to_owned(), b"split".to_vec())].into(),
    };
    assert_eq!(merge_tree_report(&env, &repo, "agent/splitter", "agent/adder"), Some(expected), "scenario");
    env.git(&repo, &["config", "agent.resolve.all.path", "*"]);
    env.git(&repo, &["config", "agent.resolve.all.run", "true"]);
    for dry_run in [true, false] {
        let mut args = vec!["--json", "splitter", "adder"];
        if dry_run {
            args.push("--dry-run");
        }
        let json = crate::integrate::integrate(&env, &repo, &args).code(1).json();
        let statuses: Vec<&str> =
            json["steps"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
        let expected = if dry_run { ["would-merge", "would-conflict"] } else { ["merged", "conflict"] };
        assert_eq!(statuses, expected, "{json:#}");
    }
}

/// A file one side renamed into a directory that the other side renamed to the top level goes
/// back home. Whether git conflicts depends on whether its rename detection sees that rename:
/// not seen (`back`: nothing else makes git look for renames on that side), it is an addition
/// moved onto the old file, a listed "file location" conflict; seen (`back-seen` renamed the
/// directory's file too, as `up` did), git merges cleanly, and reports "file location" without
/// a listed file only where the merge conflicts anyway (`back-seen-conflicted`); seen because
/// the other side changed the file (`up-edit`), the same, even when both changed it
/// (`back-edited`: gix's content conflict there is no conflict of git's); renamed by the other
/// side too (`up-rename`), a rename/rename.
#[test]
fn a_file_moved_back_home_by_a_directory_rename_agrees_with_merge_tree() {
    let env = Env::new();
    let files = [("X.txt", numbered("x")), ("Y.txt", numbered("y")), ("moved/keep.txt", numbered("keep"))];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let repo = canonical_repo(&env, "repo", &files);
    let rename = |wt: &Path, moves: &[(&str, &str)]| {
        for (from, to) in moves {
            std::fs::create_dir_all(wt.join(to).parent().unwrap()).unwrap();
            env.git(wt, &["mv", from, to]);
        }
    };
    let wt = spawn(&env, &repo, "up", &[]);
    rename(&wt, &[("moved/keep.txt", "keep.txt")]);
    env.commit(&wt, &[("d/x.txt", "up's\n")], "moved/ to the top level");
    let wt = spawn(&env, &repo, "up-edit", &[]);
    rename(&wt, &[("moved/keep.txt", "keep.txt")]);
    replace_line(&wt, "X.txt", 10, "up-edit's last line");
    env.commit(&wt, &[("d/y.txt", "up-edit's\n")], "moved/ to the top level, X.txt changed");
    let wt = spawn(&env, &repo, "up-rename", &[]);
    rename(&wt, &[("moved/keep.txt", "keep.txt"), ("X.txt", "r-X.txt")]);
    env.commit(&wt, &[], "moved/ to the top level, X.txt renamed");
    let wt = spawn(&env, &repo, "back", &[]);
    rename(&wt, &[("X.txt", "moved/X.txt")]);
    env.commit(&wt, &[], "X.txt into moved/");
    let wt = spawn(&env, &repo, "back-seen", &[]);
    rename(&wt, &[("moved/keep.txt", "keep.txt"), ("Y.txt", "moved/Y.txt")]);
    env.commit(&wt, &[], "moved/keep.txt up, Y.txt into moved/");
    let wt = spawn(&env, &repo, "back-seen-conflicted", &[]);
    rename(&wt, &[("moved/keep.txt", "keep.txt"), ("Y.txt", "moved/Y.txt")]);
    env.commit(&wt, &[("d/x.txt", "back-seen-conflicted's\n")], "as back-seen, and d/x.txt");
    let wt = spawn(&env, &repo, "back-edited", &[]);
    rename(&wt, &[("X.txt", "moved/X.txt")]);
    replace_line(&wt, "moved/X.txt", 10, "back-edited's last line");
    env.commit(&wt, &[("d/y.txt", "back-edited's\n")], "X.txt into moved/ and changed, d/y.txt");

    let report = |a: &str, b: &str| merge_tree_report(&env, &repo, &format!("agent/{a}"), &format!("agent/{b}"));
    let listed = |paths: &[&str], unlisted: &[(&str, &str)]| GitConflicts {
        listed: paths.iter().map(|p| p.as_bytes().to_vec()).collect(),
        unlisted: unlisted.iter().map(|(kind, path)| (kind.to_string(), path.as_bytes().to_vec())).collect(),
    };
    assert_eq!(report("up", "back"), Some(listed(&["X.txt"], &[])), "scenario: not seen");
    assert_eq!(report("up", "back-seen"), None, "scenario: seen");
    let expected = listed(&["d/x.txt"], &[("file-location-unlisted", "Y.txt")]);
    assert_eq!(report("up", "back-seen-conflicted"), Some(expected), "scenario: seen, conflicted");
    assert_eq!(report("up-edit", "back"), None, "scenario: seen, changed");
    // Both changed its last line (a content conflict for gix): git stages nothing there.
    let expected = listed(&["d/y.txt"], &[("file-location-unlisted", "X.txt")]);
    assert_eq!(report("up-edit", "back-edited"), Some(expected), "scenario: seen, conflicted");

    let expected = listed(&["X.txt", "r-X.txt"], &[]);
    assert_eq!(report("up-rename", "back"), Some(expected), "scenario: renamed on both sides");

    let names = ["up", "up-edit", "up-rename", "back", "back-seen", "back-seen-conflicted", "back-edited"];
    assert_agrees_with_merge_tree(&env, &repo, &names, 1);
}

/// One side renames a file into a directory the other side renames to the top level, where
/// the other side renamed (and changed) the same file: for git both renames end at one name,
/// the only conflicted path; gix's rename/rename to two names left the old name listed too.
#[test]
fn a_file_renamed_alike_through_a_directory_rename_conflicts_at_its_new_name_only() {
    let env = Env::new();
    let files = [("moved/f3.txt", numbered("f3")), ("r-moved-f2.txt", numbered("f2")), ("f0.txt", "0\n".to_owned())];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let repo = canonical_repo(&env, "repo", &files);
    let wt = spawn(&env, &repo, "t0", &[]);
    env.git(&wt, &["mv", "r-moved-f2.txt", "moved/f2.txt"]);
    env.commit(&wt, &[], "r-moved-f2.txt into moved/");
    let wt = spawn(&env, &repo, "t1", &[]);
    env.git(&wt, &["mv", "moved/f3.txt", "f3.txt"]);
    env.git(&wt, &["mv", "r-moved-f2.txt", "f2.txt"]);
    replace_line(&wt, "f2.txt", 10, "t1 changed");
    env.commit(&wt, &[], "moved/ to the top level, r-moved-f2.txt to f2.txt");
    assert_eq!(merge_tree(&env, &repo, "agent/t0", "agent/t1"), Some([b"f2.txt".to_vec()].into()), "scenario");
    assert_agrees_with_merge_tree(&env, &repo, &["t0", "t1"], 1);
}
