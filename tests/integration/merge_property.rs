//! A property test of the conflict gate: random small histories, every verdict and conflicted
//! path compared with `git merge-tree` (through the same comparison as the differential
//! tests). Histories come from a seeded generator; a failing case prints its seed, and
//! `GIT_AGENT_PROPERTY_SEED=<seed>` replays just that one; `GIT_AGENT_PROPERTY_CASES=<n>` runs
//! n cases per test.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use std::process::Stdio;

use crate::common::*;
use crate::conflicts::{compare_with_merge_tree, conflicts};

/// A small, fast, seeded generator (xorshift64*): the same seed, the same history.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

type Tree = BTreeMap<String, Vec<String>>;

/// A commit being built: its tree, and the fast-import mark of its parents.
struct Commit {
    mark: usize,
    tree: Tree,
}

/// Builds one history with `git fast-import`: a few commits on main, then tasks that fork
/// from different commits of main, edit, add, delete and rename files, and sometimes merge
/// main (keeping their own tree, which makes criss-cross histories).
struct History {
    rng: Rng,
    script: Vec<u8>,
    marks: usize,
    time: u64,
}

impl History {
    fn commit(&mut self, branch: &str, parents: &[usize], tree: &Tree, message: &str) -> usize {
        self.marks += 1;
        self.time += 60;
        let mark = self.marks;
        let mut out =
            format!("commit refs/heads/{branch}\nmark :{mark}\ncommitter T <t@example.com> {} +0000\n", self.time);
        out.push_str(&format!("data {}\n{message}\n", message.len()));
        if let Some(first) = parents.first() {
            out.push_str(&format!("from :{first}\n"));
        }
        for other in parents.iter().skip(1) {
            out.push_str(&format!("merge :{other}\n"));
        }
        out.push_str("deleteall\n");
        for (path, lines) in tree {
            let content: String = lines.iter().map(|l| format!("{l}\n")).collect();
            out.push_str(&format!("M 100644 inline {path}\ndata {}\n{content}\n", content.len()));
        }
        self.script.extend_from_slice(out.as_bytes());
        mark
    }

    /// One random change to `tree`.
    fn change(&mut self, tree: &mut Tree, who: &str) {
        let paths: Vec<String> = tree.keys().cloned().collect();
        let pick = |rng: &mut Rng| paths[rng.below(paths.len())].clone();
        match self.rng.below(10) {
            0..=4 if !paths.is_empty() => {
                let path = pick(&mut self.rng);
                let lines = tree.get_mut(&path).expect("picked from the tree");
                let at = self.rng.below(lines.len() + 1);
                let text = format!("{who} {}", self.rng.below(3));
                if at < lines.len() && self.rng.chance(70) {
                    lines[at] = text;
                } else {
                    lines.insert(at.min(lines.len()), text);
                }
            }
            5 | 6 => {
                let name = format!("{}new{}.txt", if self.rng.chance(30) { "d/" } else { "" }, self.rng.below(4));
                let lines = (0..1 + self.rng.below(4)).map(|i| format!("new {i} {}", self.rng.below(2))).collect();
                tree.entry(name).or_insert(lines);
            }
            7 if paths.len() > 1 => {
                let path = pick(&mut self.rng);
                tree.remove(&path);
            }
            _ if !paths.is_empty() => {
                let path = pick(&mut self.rng);
                let to = format!("{}{}", if self.rng.chance(50) { "moved/" } else { "r-" }, path.replace('/', "-"));
                if !tree.contains_key(&to) {
                    let lines = tree.remove(&path).expect("picked from the tree");
                    tree.insert(to, lines);
                }
            }
            _ => {}
        }
    }
}

/// Builds the history of `seed` in a new repository, tasks included; returns the task names.
fn build(env: &Env, seed: u64) -> (std::path::PathBuf, Vec<String>) {
    let repo = env.path().join(format!("case-{seed}"));
    std::fs::create_dir_all(&repo).unwrap();
    env.git(&repo, &["init", "-q"]);
    let mut history = History { rng: Rng::new(seed), script: Vec::new(), marks: 0, time: 1_700_000_000 };
    let mut tree: Tree = BTreeMap::new();
    for f in 0..4 {
        tree.insert(format!("f{f}.txt"), (0..8).map(|l| format!("line {l} of f{f}")).collect());
    }
    let mut main = vec![Commit { mark: history.commit("main", &[], &tree, "base"), tree: tree.clone() }];
    for n in 0..history.rng.below(4) {
        let mut next = main.last().unwrap().tree.clone();
        history.change(&mut next, "main");
        let parent = main.last().unwrap().mark;
        let mark = history.commit("main", &[parent], &next, &format!("main {n}"));
        main.push(Commit { mark, tree: next });
    }
    let mut tasks = Vec::new();
    for t in 0..3 {
        let name = format!("t{t}");
        let fork = &main[history.rng.below(main.len())];
        let (mut mark, mut tree) = (fork.mark, fork.tree.clone());
        for c in 0..1 + history.rng.below(3) {
            for _ in 0..1 + history.rng.below(3) {
                history.change(&mut tree, &name);
            }
            let tip = main.last().unwrap();
            mark = if history.rng.chance(20) && tip.mark != mark {
                // Merge main, keeping the task's tree: another merge base with main.
                history.commit(&format!("agent/{name}"), &[mark, tip.mark], &tree, &format!("{name} merges main"))
            } else {
                history.commit(&format!("agent/{name}"), &[mark], &tree, &format!("{name} {c}"))
            };
        }
        tasks.push(name);
    }
    let mut import = env.command("git", &repo).args(["fast-import", "--quiet"]).stdin(Stdio::piped()).spawn().unwrap();
    import.stdin.as_mut().unwrap().write_all(&history.script).unwrap();
    assert!(import.wait().unwrap().success(), "fast-import failed for seed {seed}");
    env.git(&repo, &["checkout", "-q", "main"]);
    let base = env.git(&repo, &["rev-parse", "main"]).trim().to_owned();
    let root = repo.canonicalize().unwrap().with_file_name(format!("case-{seed}.agents"));
    for name in &tasks {
        let record = serde_json::json!({
            "version": 1, "name": name, "branch": format!("refs/heads/agent/{name}"),
            "base_ref": "refs/heads/main", "base_commit": base,
            "worktree": root.join(name), "created_ms": 1, "state": "done",
        });
        write_raw_record(env, &repo, name, &record.to_string());
    }
    (repo, tasks)
}

fn check_seed(env: &Env, seed: u64) -> Vec<String> {
    let (repo, tasks) = build(env, seed);
    let run = conflicts(env, &repo, &["--json"]);
    if !matches!(run.code, 0 | 1) {
        return vec![format!("exit code {}: {}", run.code, run.stderr.trim())];
    }
    let names: Vec<&str> = tasks.iter().map(String::as_str).collect();
    let mismatches = compare_with_merge_tree(env, &repo, &run.json(), &names, "main");
    // To look at a failing case by hand: GIT_AGENT_PROPERTY_KEEP=<dir> keeps its repository.
    if let (false, Some(keep)) = (mismatches.is_empty(), std::env::var_os("GIT_AGENT_PROPERTY_KEEP")) {
        let kept = Path::new(&keep).join(format!("case-{seed}"));
        let _ = std::process::Command::new("cp").arg("-r").arg(&repo).arg(&kept).status();
    }
    mismatches
}

/// Cases that still differ from git, each with why. Each must go on differing: when one
/// agrees, the test fails and asks for it to be removed here.
const KNOWN_DIFFERENCES: &[(u64, &str)] = &[
    // Rename pairing: git's rename detection pairs a deleted file with another new file than
    // gix's does (the merge's conflicts then sit at other paths; the verdict agrees). git runs
    // inexact detection only for sources whose content matters to the merge, breaks ties of
    // equal similarity by its tree walk (which visits directories new on one side last), and
    // estimates similarity its own way; gix's tracker has none of this (gix-diff 0.70).
    (439, "rename pairing: git pairs t1's new1.txt with new0.txt, gix with new3.txt"),
    (602, "rename pairing, a tie: t0's new2.txt is equally new3.txt and d/new0.txt; git takes new3.txt"),
    (
        1509,
        "rename pairing: git looks for t1's renames of new2.txt only (t2 changed it) and pairs it with d/new0.txt; gix pairs new0.txt there",
    ),
    (1563, "rename pairing, a tie: t1's d/new1.txt is equally new0.txt and moved/d-new1.txt; git takes new0.txt"),
    (1795, "rename pairing: git pairs t0's d/new1.txt with moved/d-new1.txt, gix with moved/new3.txt"),
    (2722, "rename pairing: git pairs t2's new3.txt with r-new3.txt (as t1 did: clean), gix with another file"),
    (3051, "rename pairing: git pairs t1's new1.txt with r-new1.txt, gix with d/new2.txt"),
    (3369, "rename pairing: git pairs t1's new0.txt with moved/d-new0.txt, gix with d/new1.txt"),
    (3508, "rename pairing, a tie: t0's new2.txt is equally new0.txt and d/new0.txt; git takes new0.txt"),
    (3878, "rename pairing: git pairs t2's new0.txt with moved/new3.txt, gix with new2.txt"),
    // Collisions of a rename with another file at its new path.
    (
        707,
        "rename/add with content conflicts (t0 renamed d/new2.txt to new3.txt, t2 changed it and \
         added new3.txt): git writes the nested conflict markers at stage 0 and lists no file \
         there (\"rename involved in collision\"); gix lists new3.txt",
    ),
    (
        3893,
        "rename/add (main renamed new1.txt to r-new1.txt, t0 changed new1.txt and added \
         r-new1.txt as the base's new1.txt): git merges cleanly (r-new1.txt gets t0's change); \
         gix says add/add: a conflict git does not report",
    ),
    // A file taken back home by a directory rename (shims::back_home).
    (
        1062,
        "t0 renamed f1.txt to moved/f1.txt and changed it, t1 renamed moved/ to the top level and \
         changed f1.txt: git's directory rename takes moved/f1.txt back home and merges cleanly, \
         dropping the file from its merged tree (git 2.47); gix content-merges the rename and the \
         change and conflicts on f1.txt (pairs t0-t1 and t0-t2): a conflict git does not report, \
         not a false clean (shims::files_taken_home)",
    ),
];

/// Runs `count` seeds starting at `first`, or only `GIT_AGENT_PROPERTY_SEED` when set.
fn run_seeds(first: u64, count: u64) {
    let seeds: Vec<u64> = match std::env::var("GIT_AGENT_PROPERTY_SEED") {
        Ok(seed) => vec![seed.parse().expect("GIT_AGENT_PROPERTY_SEED is a number")],
        // GIT_AGENT_PROPERTY_CASES=<n> runs n cases per test instead (a longer hunt by hand).
        Err(_) => {
            let count = std::env::var("GIT_AGENT_PROPERTY_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(count);
            (first..first + count).collect()
        }
    };
    let env = Env::new();
    let mut failures = Vec::new();
    let mut git_crashed = Vec::new();
    for seed in seeds {
        // git itself can crash on a history (an assertion in merge-ort): no reference, no verdict.
        let mismatches = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_seed(&env, seed))) {
            Ok(mismatches) => mismatches,
            Err(panic) if panic_message(&*panic).contains(GIT_CRASHED) => {
                git_crashed.push(seed);
                continue;
            }
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let known = KNOWN_DIFFERENCES.iter().find(|(known, _)| *known == seed);
        match (mismatches.is_empty(), known) {
            (true, None) | (false, Some(_)) => {}
            (true, Some(_)) => {
                failures.push(format!("seed {seed} agrees with git now: remove it from KNOWN_DIFFERENCES"))
            }
            (false, None) => failures
                .push(format!("seed {seed} (replay: GIT_AGENT_PROPERTY_SEED={seed}):\n  {}", mismatches.join("\n  "))),
        }
    }
    if !git_crashed.is_empty() {
        eprintln!("git merge-tree crashed on seed(s) {git_crashed:?}: not compared");
    }
    assert!(failures.is_empty(), "{} case(s) differ from git merge-tree:\n{}", failures.len(), failures.join("\n"));
}

/// What `conflicts::merge_tree` panics with when git was killed by a signal.
const GIT_CRASHED: &str = "was killed by a signal";

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn random_histories_agree_with_git_merge_tree_1() {
    run_seeds(1, 50);
}

#[test]
fn random_histories_agree_with_git_merge_tree_2() {
    run_seeds(1001, 50);
}

#[test]
fn random_histories_agree_with_git_merge_tree_3() {
    run_seeds(2001, 50);
}

#[test]
fn random_histories_agree_with_git_merge_tree_4() {
    run_seeds(3001, 50);
}
