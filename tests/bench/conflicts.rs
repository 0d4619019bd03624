//! Benchmark for issue "git agent-conflicts": `git agent-conflicts --json` against the ways a
//! script finds the same answers: `git merge-tree --write-tree` once per pair of branches, one
//! `git merge-tree --stdin` process fed every pair, and (N = 8) checkout, merge and abort in a
//! scratch worktree for every ordered pair. N = 8, 32 and 128 agent branches on a generated,
//! packed repository of 6,000 files, in three shapes: every task forked from one commit; the
//! target moved after every fourth spawn; and a long history (a few hundred commits on main,
//! merges of side branches among them) with every task forking from a different commit and
//! some tasks having merged main since. `GIT_AGENT_BENCH_SHAPE=one|target|long` runs one shape.
//! Goals: at least 10x faster than one `git merge-tree --stdin` in every shape, and our time
//! growing no more than 3x from N = 32 to 128.
//!
//! Each branch edits 3 to 20 files, mostly its own; on purpose some pairs edit the same file in
//! different regions (clean overlaps), some the same line (content conflicts), and one pair each
//! makes an add/add, a modify/delete, a rename/delete and a file/directory conflict. Before any
//! ratio is printed, every method must give the same verdict (conflict or clean) for every pair;
//! otherwise the disagreeing pairs are printed and the benchmark exits 1.
//!
//! Run: `cargo bench --bench conflicts` (release build). The repositories go to /dev/shm when it
//! exists (set GIT_AGENT_BENCH_DIR to choose), and GIT_AGENT_BENCH_KEEP=1 keeps them. All methods
//! are measured in the same run, alternating, and medians are compared, so the ratios hold on a
//! noisy shared machine.

#[path = "support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{
    BASE_DATE, FILES, LINES, Lcg, agent, bench_dir, bin_dir, body, command, file_path, finish, git, make_repo, median,
    ms, run_code, run_input, timed, verdict,
};

/// The last SHARED files belong to no task: the pairs that meet on purpose edit these.
const SHARED: usize = 600;
/// Commits on main after the initial one, so that merge bases are not the root commit.
const HISTORY: usize = 30;
/// Commits on main in the long-history shape, every tenth a merge of a side branch.
const LONG_HISTORY: usize = 300;

/// How the tasks' fork points relate to the target (issue 9's three shapes).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Shape {
    /// (a) every task forked from one commit, the target did not move.
    OneFork,
    /// (b) the target moved (a commit on main touching a few files) after every fourth spawn.
    TargetMoved,
    /// (c) a few hundred commits on main, some merges of side branches; every task forks from
    /// a different commit (some on side branches), and every fifth task merged main since.
    LongHistory,
}

impl Shape {
    const ALL: [Shape; 3] = [Shape::OneFork, Shape::TargetMoved, Shape::LongHistory];

    fn label(self) -> &'static str {
        match self {
            Shape::OneFork => "one fork",
            Shape::TargetMoved => "target moved",
            Shape::LongHistory => "long history",
        }
    }

    fn sizes(self) -> &'static [usize] {
        match self {
            Shape::OneFork => &[8, 32, 128],
            _ => &[32, 128],
        }
    }
}

/// Repetitions per method; the slow baselines get fewer.
struct Reps {
    ours: usize,
    stdin: usize,
    per_pair: usize,
    checkout: usize,
}

/// The per-pair and checkout baselines run in the first shape only: they are far slower than
/// `--stdin`, which is the baseline the goals are stated against.
fn reps(shape: Shape, n: usize) -> Reps {
    let reps = match n {
        8 => Reps { ours: 9, stdin: 9, per_pair: 5, checkout: 3 },
        32 => Reps { ours: 9, stdin: 5, per_pair: 3, checkout: 0 },
        _ => Reps { ours: 5, stdin: 3, per_pair: 1, checkout: 0 },
    };
    if shape == Shape::OneFork { reps } else { Reps { per_pair: 0, checkout: 0, ..reps } }
}

fn main() {
    let started = Instant::now();
    let dir = bench_dir("git-agent-bench-conflicts");
    let home = dir.path();
    let base = home.join("base");
    let (made, ()) = timed(|| make_repo(home, &base, Some(HISTORY)));
    println!(
        "repository: {FILES} files, {} commits, packed, in {} ({:.1} s)",
        HISTORY + 1,
        base.display(),
        made.as_secs_f64()
    );
    let have_ours = bin_dir().join("git-agent-conflicts").is_file();
    if !have_ours {
        println!("git-agent-conflicts is not built (no {}): measuring the baselines only", bin_dir().display());
    }

    let mut results = Vec::new();
    let mut disagreements = Vec::new();
    let mut notes = Vec::new();
    // GIT_AGENT_BENCH_SHAPE=one|target|long measures one shape only.
    let only = std::env::var("GIT_AGENT_BENCH_SHAPE").ok();
    let shapes: Vec<Shape> =
        Shape::ALL.into_iter().filter(|s| only.as_ref().is_none_or(|o| s.label().starts_with(o.as_str()))).collect();
    for &shape in &shapes {
        for &n in shape.sizes() {
            let result = measure(home, &base, shape, n, have_ours, &mut notes);
            disagreements.extend(result.disagreements.iter().cloned());
            results.push(result);
        }
    }

    let setup: Duration = results.iter().map(|r| r.setup).sum();
    println!(
        "setup: {:.1} s in all (repository {:.1} s, {} tasks spawned and given branches {:.1} s)",
        (made + setup).as_secs_f64(),
        made.as_secs_f64(),
        results.iter().map(|r| r.n).sum::<usize>(),
        setup.as_secs_f64()
    );
    for note in &notes {
        println!("note: {note}");
    }
    if !disagreements.is_empty() {
        println!("the methods disagree on {} pairs (no ratios printed):", disagreements.len());
        for line in &disagreements {
            println!("  {line}");
        }
        finish(dir, started);
        std::process::exit(1);
    }
    println!("all methods agree on every pair's verdict");
    if !have_ours {
        println!("no ratios: git-agent-conflicts is not built");
        finish(dir, started);
        std::process::exit(1);
    }
    for r in &results {
        let ours = r.ours.unwrap();
        let ratio = |baseline: Duration| baseline.as_secs_f64() / ours.as_secs_f64();
        let stdin = ratio(r.stdin);
        let stdin_goal = if r.n >= 32 { format!(" (goal >= 10x) {}", verdict(stdin >= 10.0)) } else { String::new() };
        let mut line = format!(
            "{} N = {}: {} pairs, {} merged in memory: git agent-conflicts {:.1} ms; merge-tree --stdin {:.1} ms: ratio {stdin:.1}x{stdin_goal}",
            r.shape.label(),
            r.n,
            r.n * (r.n - 1) / 2,
            r.merged,
            ms(ours),
            ms(r.stdin)
        );
        if let Some(per_pair) = r.per_pair {
            let per_pair_ratio = ratio(per_pair);
            let goal =
                if r.n == 32 { format!(" (goal >= 30x) {}", verdict(per_pair_ratio >= 30.0)) } else { String::new() };
            let _ = write!(line, "; merge-tree per pair {:.1} ms: ratio {per_pair_ratio:.1}x{goal}", ms(per_pair));
        }
        println!("{line}");
        if let Some(checkout) = r.checkout {
            println!(
                "{} N = {}: checkout/merge/abort for each of {} ordered pairs {:.1} ms: ratio {:.1}x",
                r.shape.label(),
                r.n,
                r.n * (r.n - 1),
                ms(checkout),
                ratio(checkout)
            );
        }
    }
    println!("summary:");
    for &shape in &shapes {
        let at = |n: usize| results.iter().find(|r| r.shape == shape && r.n == n).unwrap();
        let (small, large) = (at(32), at(128));
        let growth = large.ours.unwrap().as_secs_f64() / small.ours.unwrap().as_secs_f64();
        let ratios: Vec<f64> =
            [small, large].iter().map(|r| r.stdin.as_secs_f64() / r.ours.unwrap().as_secs_f64()).collect();
        let fast = ratios.iter().all(|&r| r >= 10.0);
        println!(
            "  {:<12} vs merge-tree --stdin: {:.1}x at N = 32, {:.1}x at N = 128 (goal >= 10x) {}; \
             growth N = 32 -> 128: pairs x16, our time x{growth:.1} (goal <= 3x) {}",
            shape.label(),
            ratios[0],
            ratios[1],
            verdict(fast),
            verdict(growth <= 3.0)
        );
    }
    finish(dir, started);
}

struct Measured {
    shape: Shape,
    n: usize,
    ours: Option<Duration>,
    /// Pairs and branch-vs-target checks ours merged in memory (summary.merged_in_memory).
    merged: String,
    per_pair: Option<Duration>,
    stdin: Duration,
    checkout: Option<Duration>,
    setup: Duration,
    disagreements: Vec<String>,
}

/// Sets up N tasks in a clone of `base`, times every method, checks their verdicts and removes
/// the clone again.
fn measure(home: &Path, base: &Path, shape: Shape, n: usize, have_ours: bool, notes: &mut Vec<String>) -> Measured {
    let setup = Instant::now();
    let place = tempfile::Builder::new().prefix(&format!("{shape:?}-n{n}-")).tempdir_in(home).unwrap();
    let repo = place.path().join("repo");
    git(home, place.path(), &["clone", "-q", &base.to_string_lossy(), &repo.to_string_lossy()]);
    let history = (shape == Shape::LongHistory).then(|| long_history(home, &repo, place.path()));
    let spawning = Instant::now();
    for k in 0..n {
        let task = format!("t{k}");
        match &history {
            Some(history) => {
                agent(home, &repo, &["spawn", &task, "-q", "--base", &history.fork(k, n)]);
            }
            None => {
                agent(home, &repo, &["spawn", &task, "-q"]);
            }
        }
        if shape == Shape::TargetMoved && k % 4 == 3 {
            move_target(home, &repo, k / 4);
        }
    }
    let spawned = spawning.elapsed();
    let forks: Vec<String> =
        (0..n).map(|k| git(home, &repo, &["rev-parse", &format!("agent/t{k}")]).trim().to_string()).collect();
    let scenario = scenario(n);
    write_branches(home, &repo, &scenario, &forks);
    if let Some(history) = &history {
        merge_main_into_some(home, &repo, history, n);
    }
    let reps = reps(shape, n);
    let scratch = place.path().join("scratch");
    if reps.checkout > 0 {
        git(home, &repo, &["worktree", "add", "-q", "--detach", &scratch.to_string_lossy(), "HEAD"]);
    }
    let setup = setup.elapsed();
    let touched: Vec<usize> = scenario.branches.iter().map(|b| b.len()).collect();
    println!(
        "{} N = {n}: setup {:.1} s (spawning {n} tasks {:.1} s); files changed per branch {}..{}; \
         {} pairs meet on purpose ({} conflicts, {} clean overlaps)",
        shape.label(),
        setup.as_secs_f64(),
        spawned.as_secs_f64(),
        touched.iter().min().unwrap(),
        touched.iter().max().unwrap(),
        scenario.meetings.len(),
        scenario.meetings.iter().filter(|m| m.kind.conflicts()).count(),
        scenario.meetings.iter().filter(|m| !m.kind.conflicts()).count(),
    );

    let branches: Vec<String> = (0..n).map(|k| format!("agent/t{k}")).collect();
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|a| (a + 1..n).map(move |b| (a, b))).collect();
    let stdin_input: String = pairs.iter().map(|&(a, b)| format!("{} {}\n", branches[a], branches[b])).collect();

    // Warm the caches once for each of the cheap methods.
    if have_ours {
        run_ours(home, &repo);
    }
    run_stdin(home, &repo, &stdin_input);

    let mut ours_times = Vec::new();
    let mut per_pair_times = Vec::new();
    let mut stdin_times = Vec::new();
    let mut checkout_times = Vec::new();
    let mut ours_runs = Vec::new();
    let mut per_pair_runs = Vec::new();
    let mut stdin_runs = Vec::new();
    let mut checkout_runs = Vec::new();
    let rounds = [reps.ours, reps.stdin, reps.per_pair, reps.checkout].into_iter().max().unwrap();
    for round in 0..rounds {
        if have_ours && round < reps.ours {
            let (t, out) = timed(|| run_ours(home, &repo));
            ours_times.push(t);
            ours_runs.push(out);
        }
        if round < reps.per_pair {
            let (t, out) = timed(|| {
                pairs
                    .iter()
                    .map(|&(a, b)| {
                        let mut c = command(home, "git", &repo);
                        c.args(["merge-tree", "--write-tree", "--name-only", &branches[a], &branches[b]]);
                        run_code(c, &[0, 1])
                    })
                    .collect::<Vec<_>>()
            });
            per_pair_times.push(t);
            per_pair_runs.push(out);
        }
        if round < reps.stdin {
            let (t, out) = timed(|| run_stdin(home, &repo, &stdin_input));
            stdin_times.push(t);
            stdin_runs.push(out);
        }
        if round < reps.checkout {
            let (t, out) = timed(|| checkout_loop(home, &scratch, &branches));
            checkout_times.push(t);
            checkout_runs.push(out);
        }
    }

    // Verdicts (and conflicted paths where the method names them) per unordered pair.
    let per_pair: Vec<Verdicts> = per_pair_runs
        .iter()
        .map(|run| pairs.iter().zip(run).map(|(&pair, (code, out))| (pair, parse_one(*code, out))).collect())
        .collect();
    let stdin: Vec<Verdicts> =
        stdin_runs.iter().map(|out| pairs.iter().copied().zip(parse_stdin(out, pairs.len())).collect()).collect();
    let checkout: Vec<Verdicts> = checkout_runs
        .iter()
        .map(|run| {
            let mut verdicts = Verdicts::new();
            for (&(a, b), &conflict) in run {
                let pair = (a.min(b), a.max(b));
                let other = run[&(b, a)];
                if conflict != other {
                    notes.push(format!(
                        "N = {n}: merging {} into {} {}, the other way round {}",
                        branches[b],
                        branches[a],
                        word(conflict),
                        word(other)
                    ));
                }
                verdicts.insert(pair, Verdict { conflict: conflict || other, paths: None });
            }
            verdicts
        })
        .collect();
    let ours: Vec<Verdicts> = ours_runs.iter().map(|(code, out)| parse_ours(n, *code, out, notes)).collect();

    // The scenario must do what it was built for, or the comparison means little.
    let reference = per_pair.first().unwrap_or(&stdin[0]);
    let wrong: Vec<String> = pairs
        .iter()
        .filter(|pair| reference[pair].conflict != scenario.expected_conflict(**pair))
        .map(|&(a, b)| format!("t{a} t{b}: merge-tree says {}", word(reference[&(a, b)].conflict)))
        .collect();
    assert!(wrong.is_empty(), "N = {n}: the generated branches do not conflict as intended:\n{}", wrong.join("\n"));

    // Every repetition of a method must give the same answers.
    let mut methods: Vec<(&str, &Verdicts)> = Vec::new();
    for (name, runs) in [
        ("git agent-conflicts", &ours),
        ("merge-tree per pair", &per_pair),
        ("merge-tree --stdin", &stdin),
        ("checkout/merge/abort", &checkout),
    ] {
        if let Some(first) = runs.first() {
            let flaky = runs.iter().any(|run| run.iter().zip(first).any(|(x, y)| x.1.conflict != y.1.conflict));
            if flaky {
                notes.push(format!("N = {n}: {name} gave different verdicts in different repetitions"));
            }
            methods.push((name, first));
        }
    }
    let mut disagreements = Vec::new();
    for pair in &pairs {
        let verdicts: Vec<Option<bool>> = methods.iter().map(|(_, v)| v.get(pair).map(|v| v.conflict)).collect();
        if verdicts.iter().any(|v| *v != verdicts[0]) {
            let mut line = format!("N = {n}: t{} t{}:", pair.0, pair.1);
            for ((name, _), v) in methods.iter().zip(&verdicts) {
                let _ = write!(line, " {name} {};", v.map_or("missing", word));
            }
            disagreements.push(line);
        }
    }

    // The contract beyond the verdicts: the same conflicted paths as merge-tree, the kinds of the
    // structural conflicts, and the clean overlaps. Reported as notes; they do not stop the ratios.
    if let Some(ours) = ours.first() {
        for pair in &pairs {
            let (Some(mine), Some(theirs)) = (&ours[pair].paths, &reference[pair].paths) else { continue };
            if mine != theirs && ours[pair].conflict == reference[pair].conflict {
                notes.push(format!(
                    "N = {n}: t{} t{}: git agent-conflicts lists {:?}, merge-tree --name-only lists {:?}",
                    pair.0, pair.1, mine, theirs
                ));
            }
        }
        check_details(n, &ours_runs[0].1, &scenario, notes);
    }

    let merged = ours_runs.first().map_or_else(String::new, |(_, out)| {
        serde_json::from_slice::<serde_json::Value>(out).unwrap()["summary"]["merged_in_memory"].to_string()
    });
    let measured = Measured {
        shape,
        n,
        ours: (!ours_times.is_empty()).then(|| median(ours_times)),
        merged,
        per_pair: (!per_pair_times.is_empty()).then(|| median(per_pair_times)),
        stdin: median(stdin_times),
        checkout: (!checkout_times.is_empty()).then(|| median(checkout_times)),
        setup,
        disagreements,
    };
    let mut line = format!(
        "{} N = {n}: {} pairs, {} conflicting:",
        shape.label(),
        pairs.len(),
        reference.values().filter(|v| v.conflict).count()
    );
    if let (Some(ours), Some((_, out))) = (measured.ours, ours_runs.first()) {
        let summary = &serde_json::from_slice::<serde_json::Value>(out).unwrap()["summary"];
        let _ = write!(
            line,
            " git agent-conflicts {:.1} ms ({} of them merged in memory);",
            ms(ours),
            summary["merged_in_memory"]
        );
    }
    if let Some(per_pair) = measured.per_pair {
        let _ = write!(line, " merge-tree per pair {:.1} ms;", ms(per_pair));
    }
    let _ = write!(line, " merge-tree --stdin {:.1} ms", ms(measured.stdin));
    if let Some(checkout) = measured.checkout {
        let _ = write!(line, "; checkout/merge/abort {:.1} ms", ms(checkout));
    }
    println!("{line}");
    if std::env::var_os("GIT_AGENT_BENCH_KEEP").is_some() {
        let _ = place.keep();
    }
    measured
}

fn word(conflict: bool) -> &'static str {
    if conflict { "conflict" } else { "clean" }
}

// ---------------------------------------------------------------------------------------------
// The methods

fn run_ours(home: &Path, repo: &Path) -> (i32, Vec<u8>) {
    let mut c = command(home, "git", repo);
    // Shape (c) spawns from commits, not from a branch: name the target.
    c.args(["agent-conflicts", "--json", "--into", "main"]);
    run_code(c, &[0, 1])
}

fn run_stdin(home: &Path, repo: &Path, input: &str) -> Vec<u8> {
    let mut c = command(home, "git", repo);
    c.args(["merge-tree", "--stdin", "--write-tree", "--name-only"]);
    run_input(c, input.as_bytes().to_vec())
}

/// The common recipe: for every ordered pair, check out a, merge b without committing, note
/// the exit status, undo the merge.
fn checkout_loop(home: &Path, scratch: &Path, branches: &[String]) -> BTreeMap<(usize, usize), bool> {
    let mut verdicts = BTreeMap::new();
    for (a, ours) in branches.iter().enumerate() {
        for (b, theirs) in branches.iter().enumerate() {
            if a == b {
                continue;
            }
            git(home, scratch, &["checkout", "-q", "--detach", ours]);
            let mut merge = command(home, "git", scratch);
            merge.args(["merge", "-q", "--no-commit", "--no-ff", theirs]);
            let (code, _) = run_code(merge, &[0, 1]);
            if code == 1 {
                git(home, scratch, &["merge", "--abort"]);
            } else {
                git(home, scratch, &["reset", "-q", "--hard"]);
            }
            verdicts.insert((a, b), code == 1);
        }
    }
    verdicts
}

// ---------------------------------------------------------------------------------------------
// Reading the answers

struct Verdict {
    conflict: bool,
    /// The conflicted paths, when the method names them.
    paths: Option<BTreeSet<String>>,
}

type Verdicts = BTreeMap<(usize, usize), Verdict>;

/// `git merge-tree --write-tree --name-only a b`: exit 1 on conflicts; the tree id, then the
/// conflicted paths one per line, then a blank line and the messages.
fn parse_one(code: i32, out: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(out);
    let mut lines = text.lines();
    let tree = lines.next().unwrap_or_default();
    assert!(tree.len() == 40, "merge-tree printed no tree id: {text:?}");
    let paths = lines.take_while(|l| !l.is_empty()).map(str::to_string).collect();
    Verdict { conflict: code == 1, paths: Some(paths) }
}

/// `git merge-tree --stdin` output (git help merge-tree, OUTPUT), NUL-terminated throughout with
/// --stdin: per merge, the status ("1" clean, "0" conflicts, negative: failed), the tree id, the
/// conflicted paths; with conflicts an empty field starts the messages, which are records of a
/// path count, that many paths, a conflict type and a message; an empty field ends the merge.
fn parse_stdin(out: &[u8], merges: usize) -> Vec<Verdict> {
    let mut fields = out.split(|&b| b == 0).map(|f| String::from_utf8_lossy(f).into_owned());
    let mut next = || fields.next().unwrap_or_else(|| panic!("merge-tree --stdin output ended early"));
    let mut verdicts = Vec::with_capacity(merges);
    for _ in 0..merges {
        let status = next();
        let conflict = match status.as_str() {
            "1" => false,
            "0" => true,
            other => panic!("merge-tree --stdin: merge {} failed with status {other:?}", verdicts.len()),
        };
        let tree = next();
        assert!(tree.len() == 40, "merge-tree --stdin printed {tree:?} where a tree id belongs");
        let mut paths = BTreeSet::new();
        loop {
            let path = next();
            if path.is_empty() {
                break;
            }
            paths.insert(path);
        }
        if conflict {
            loop {
                let count = next();
                if count.is_empty() {
                    break;
                }
                let count: usize =
                    count.parse().unwrap_or_else(|_| panic!("merge-tree --stdin: {count:?} is not a path count"));
                for _ in 0..count + 2 {
                    next(); // the paths, the conflict type, the message
                }
            }
        }
        verdicts.push(Verdict { conflict, paths: Some(paths) });
    }
    assert!(fields.all(|f| f.is_empty()), "merge-tree --stdin printed more than {merges} merges");
    verdicts
}

fn json_path(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => {
            let bytes: Vec<u8> =
                other["bytes"].as_array().map(|b| b.iter().map(|x| x.as_u64().unwrap_or(0) as u8).collect()).unwrap();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

fn task_index(value: &serde_json::Value) -> usize {
    value
        .as_str()
        .and_then(|s| s.strip_prefix('t'))
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("git agent-conflicts: {value} is not one of the tasks"))
}

/// Ours: a pair conflicts iff it appears in "pairs" with verdict "conflict".
fn parse_ours(n: usize, code: i32, out: &[u8], notes: &mut Vec<String>) -> Verdicts {
    let json: serde_json::Value = serde_json::from_slice(out).unwrap_or_else(|e| {
        panic!("git agent-conflicts --json printed no JSON ({e}): {}", String::from_utf8_lossy(out))
    });
    let mut verdicts: Verdicts = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| ((a, b), Verdict { conflict: false, paths: Some(BTreeSet::new()) })))
        .collect();
    for pair in json["pairs"].as_array().expect("git agent-conflicts --json: no \"pairs\" array") {
        let (a, b) = (task_index(&pair["a"]), task_index(&pair["b"]));
        let conflict = match pair["verdict"].as_str() {
            Some("conflict") => true,
            Some("clean-overlap") => false,
            other => panic!("git agent-conflicts: pair t{a} t{b} has verdict {other:?}"),
        };
        let paths = pair["conflicts"].as_array().map(|c| c.iter().map(|c| json_path(&c["path"])).collect());
        verdicts.insert((a.min(b), a.max(b)), Verdict { conflict, paths: Some(paths.unwrap_or_default()) });
    }
    let any = verdicts.values().any(|v| v.conflict);
    if code != i32::from(any) {
        let note = format!("N = {n}: git agent-conflicts exited {code} with conflicting pairs: {any}");
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    verdicts
}

/// Checks the parts of ours' answer that the baselines do not give: summary counts, clean
/// overlaps, conflict kinds of the structural conflicts and the branch-vs-target checks.
fn check_details(n: usize, out: &[u8], scenario: &Scenario, notes: &mut Vec<String>) {
    let json: serde_json::Value = serde_json::from_slice(out).unwrap();
    let mut note = |s: String| notes.push(format!("N = {n}: {s}"));
    let tasks = json["tasks"].as_array().map_or(0, Vec::len);
    if tasks != n {
        note(format!("\"tasks\" lists {tasks} tasks"));
    }
    let checked = json["summary"]["pairs_checked"].as_u64();
    if checked != Some((n * (n - 1) / 2) as u64) {
        note(format!("summary.pairs_checked is {checked:?}, expected {}", n * (n - 1) / 2));
    }
    let pairs = json["pairs"].as_array().unwrap();
    let find = |a: usize, b: usize| {
        pairs.iter().find(|p| {
            let (x, y) = (task_index(&p["a"]), task_index(&p["b"]));
            (x.min(y), x.max(y)) == (a, b)
        })
    };
    for meeting in &scenario.meetings {
        let (a, b) = (meeting.a, meeting.b);
        let Some(pair) = find(a, b) else {
            note(format!("t{a} t{b} ({}) is missing from \"pairs\"", meeting.kind.label()));
            continue;
        };
        match meeting.kind.conflict_kind() {
            None => {
                if pair["verdict"] != "clean-overlap" {
                    note(format!("t{a} t{b} (clean overlap) has verdict {}", pair["verdict"]));
                }
                let overlap: BTreeSet<String> =
                    pair["overlap"].as_array().map(|o| o.iter().map(json_path).collect()).unwrap_or_default();
                if overlap != meeting.paths {
                    note(format!("t{a} t{b} (clean overlap): overlap {overlap:?}, expected {:?}", meeting.paths));
                }
            }
            Some(kind) => {
                let kinds: Vec<&str> = pair["conflicts"]
                    .as_array()
                    .map(|c| c.iter().filter_map(|c| c["kind"].as_str()).collect())
                    .unwrap_or_default();
                if !kinds.contains(&kind) {
                    note(format!("t{a} t{b} ({}): conflict kinds {kinds:?}, expected {kind:?}", meeting.kind.label()));
                }
            }
        }
    }
    let expected_overlaps: BTreeSet<(usize, usize)> =
        scenario.meetings.iter().filter(|m| !m.kind.conflicts()).map(|m| (m.a, m.b)).collect();
    for p in pairs {
        let (a, b) = (task_index(&p["a"]), task_index(&p["b"]));
        if p["verdict"] == "clean-overlap" && !expected_overlaps.contains(&(a.min(b), a.max(b))) {
            note(format!("t{a} t{b} is reported as a clean overlap: {}", p["overlap"]));
        }
    }
    for t in json["against_target"].as_array().map_or(&[][..], Vec::as_slice) {
        if t["verdict"] != "clean" {
            note(format!("{} against the target (unchanged main): {}", t["task"], t["verdict"]));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario: what each branch changes

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    CleanOverlap,
    SameLine,
    AddAdd,
    ModifyDelete,
    RenameDelete,
    FileDirectory,
}

impl Kind {
    fn conflicts(self) -> bool {
        self != Kind::CleanOverlap
    }

    /// The conflict kind the contract names for this meeting.
    fn conflict_kind(self) -> Option<&'static str> {
        match self {
            Kind::CleanOverlap => None,
            Kind::SameLine => Some("content"),
            Kind::AddAdd => Some("add-add"),
            Kind::ModifyDelete => Some("modify-delete"),
            Kind::RenameDelete => Some("rename-delete"),
            Kind::FileDirectory => Some("file-directory"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::CleanOverlap => "clean overlap",
            Kind::SameLine => "same line",
            Kind::AddAdd => "add/add",
            Kind::ModifyDelete => "modify/delete",
            Kind::RenameDelete => "rename/delete",
            Kind::FileDirectory => "file/directory",
        }
    }
}

enum Change {
    Write { path: String, body: String },
    Delete(String),
    Rename { from: String, to: String },
}

/// Two branches that touch the same path on purpose; a < b in spawn order.
struct Meeting {
    kind: Kind,
    a: usize,
    b: usize,
    /// For clean overlaps: the file both change.
    paths: BTreeSet<String>,
}

struct Scenario {
    branches: Vec<Vec<Change>>,
    meetings: Vec<Meeting>,
}

impl Scenario {
    fn expected_conflict(&self, pair: (usize, usize)) -> bool {
        self.meetings.iter().any(|m| (m.a, m.b) == pair && m.kind.conflicts())
    }
}

fn scenario(n: usize) -> Scenario {
    let mut rng = Lcg(0x5eed_0000 + n as u64);
    let block = (FILES - SHARED) / n;
    let mut branches: Vec<Vec<Change>> = (0..n).map(|_| Vec::new()).collect();
    // Each branch edits 3 to 15 files of its own block; some delete one, some add a file.
    for (k, changes) in branches.iter_mut().enumerate() {
        let count = 3 + rng.below(13);
        let mut own = BTreeSet::new();
        while own.len() < count {
            own.insert(k * block + rng.below(block));
        }
        for (j, &i) in own.iter().enumerate() {
            if j == 0 && rng.below(8) == 0 {
                changes.push(Change::Delete(file_path(i)));
            } else {
                let line = rng.below(LINES);
                changes
                    .push(Change::Write { path: file_path(i), body: body(i, &[(line, &format!("edited by t{k}"))]) });
            }
        }
        if rng.below(4) == 0 {
            changes.push(Change::Write { path: format!("tasks/t{k}/notes.md"), body: format!("notes of t{k}\n") });
        }
    }

    // Pairs that meet on purpose, each on a file of the shared pool (or a new path).
    let mut kinds = vec![Kind::CleanOverlap; (n / 4).max(2)];
    kinds.extend(vec![Kind::SameLine; (n / 8).max(2)]);
    kinds.extend([Kind::AddAdd, Kind::ModifyDelete, Kind::RenameDelete, Kind::FileDirectory]);
    let mut used = BTreeSet::new();
    let mut meetings = Vec::new();
    for (i, kind) in (FILES - SHARED..).zip(kinds) {
        let (a, b) = loop {
            let (x, y) = (rng.below(n), rng.below(n));
            if x != y && used.insert((x.min(y), x.max(y))) {
                break (x.min(y), x.max(y));
            }
        };
        // Which of the two plays which role.
        let (x, y) = if rng.below(2) == 0 { (a, b) } else { (b, a) };
        let path = file_path(i);
        let mut paths = BTreeSet::new();
        match kind {
            Kind::CleanOverlap => {
                branches[x]
                    .push(Change::Write { path: path.clone(), body: body(i, &[(2, &format!("edited by t{x}"))]) });
                branches[y].push(Change::Write {
                    path: path.clone(),
                    body: body(i, &[(LINES - 3, &format!("edited by t{y}"))]),
                });
                paths.insert(path);
            }
            Kind::SameLine => {
                branches[x]
                    .push(Change::Write { path: path.clone(), body: body(i, &[(10, &format!("edited by t{x}"))]) });
                branches[y].push(Change::Write { path, body: body(i, &[(10, &format!("edited by t{y}"))]) });
            }
            Kind::AddAdd => {
                for t in [x, y] {
                    let text: String = (0..LINES).map(|l| format!("added by t{t}, line {l}\n")).collect();
                    branches[t].push(Change::Write { path: "common/added.txt".into(), body: text });
                }
            }
            Kind::ModifyDelete => {
                branches[x]
                    .push(Change::Write { path: path.clone(), body: body(i, &[(5, &format!("edited by t{x}"))]) });
                branches[y].push(Change::Delete(path));
            }
            Kind::RenameDelete => {
                branches[x].push(Change::Rename { from: path.clone(), to: format!("moved/f{i}.txt") });
                branches[y].push(Change::Delete(path));
            }
            Kind::FileDirectory => {
                branches[x].push(Change::Write { path: "common/fd".into(), body: format!("a file of t{x}\n") });
                branches[y]
                    .push(Change::Write { path: "common/fd/inner.txt".into(), body: format!("a file of t{y}\n") });
            }
        }
        meetings.push(Meeting { kind, a, b, paths });
    }
    Scenario { branches, meetings }
}

/// Commits each branch's changes (in 1 to 3 commits, dated after the base commit and after
/// each other) with one `git fast-import` into refs/bench/*, then moves the task branches there
/// in one compare-and-swap transaction. The worktrees stay at the base: conflicts reads branches.
fn write_branches(home: &Path, repo: &Path, scenario: &Scenario, forks: &[String]) {
    let n = scenario.branches.len();
    let mut stream = Vec::new();
    for (k, changes) in scenario.branches.iter().enumerate() {
        let commits = (1 + k % 3).min(changes.len());
        for c in 0..commits {
            // Interleaved across branches, increasing within each, all after the base.
            let date = BASE_DATE + 3600 + 60 * (c * n + k) as u64;
            let message = format!("t{k}: step {}\n", c + 1);
            write!(
                stream,
                "commit refs/bench/t{k}\nauthor Agent {k} <agent{k}@example.com> {date} +0000\n\
                 committer Agent {k} <agent{k}@example.com> {date} +0000\ndata {}\n{message}\n",
                message.len()
            )
            .unwrap();
            if c == 0 {
                writeln!(stream, "from {}", forks[k]).unwrap();
            }
            for change in changes.iter().skip(c).step_by(commits) {
                match change {
                    Change::Write { path, body } => {
                        write!(stream, "M 100644 inline {path}\ndata {}\n{body}\n", body.len()).unwrap()
                    }
                    Change::Delete(path) => writeln!(stream, "D {path}").unwrap(),
                    Change::Rename { from, to } => writeln!(stream, "R {from} {to}").unwrap(),
                }
            }
            stream.push(b'\n');
        }
    }
    let mut import = command(home, "git", repo);
    import.args(["fast-import", "--quiet"]);
    run_input(import, stream);
    let heads = git(home, repo, &["for-each-ref", "--format=%(refname) %(objectname)", "refs/bench/"]);
    let mut transaction = String::new();
    for line in heads.lines() {
        let (name, commit) = line.split_once(' ').unwrap();
        let task = name.strip_prefix("refs/bench/").unwrap();
        let k: usize = task.strip_prefix('t').unwrap().parse().unwrap();
        writeln!(transaction, "update refs/heads/agent/{task} {commit} {}", forks[k]).unwrap();
        writeln!(transaction, "delete {name} {commit}").unwrap();
    }
    assert_eq!(heads.lines().count(), n, "fast-import wrote {heads}");
    let mut update = command(home, "git", repo);
    update.args(["update-ref", "--stdin"]);
    run_input(update, transaction.into_bytes());
}

// ---------------------------------------------------------------------------------------------
// The target's own history: files only main and its side branches change (the tail of the
// shared pool, which no task and no meeting touches), so the tasks' verdicts stay as planned.

/// Files main's own commits change: the last 150 of the pool.
fn main_file(r: usize) -> usize {
    FILES - 1 - r % 150
}

/// Files side branches change: the 50 before those.
fn side_file(s: usize, c: usize) -> usize {
    FILES - 151 - (2 * s + c) % 50
}

/// Shape (b): one commit on main changing three files, and the main worktree brought along.
fn move_target(home: &Path, repo: &Path, m: usize) {
    let date = BASE_DATE + 60 + m as u64;
    let message = format!("main moves {m}\n");
    let mut stream = format!(
        "commit refs/heads/main\ncommitter Bench <bench@example.com> {date} +0000\ndata {}\n{message}from refs/heads/main^0\n",
        message.len()
    );
    for j in 0..3 {
        let i = main_file(3 * m + j);
        let text = body(i, &[(m % LINES, &format!("main moves {m}"))]);
        write!(stream, "M 100644 inline {}\ndata {}\n{text}\n", file_path(i), text.len()).unwrap();
    }
    stream.push('\n');
    let mut import = command(home, "git", repo);
    import.args(["fast-import", "--quiet"]);
    run_input(import, stream.into_bytes());
    git(home, repo, &["reset", "-q", "--hard", "main"]);
}

/// Shape (c)'s main line and side branches, by commit id.
struct History {
    /// The commits on main's first-parent line, oldest first.
    main: Vec<String>,
    /// The first commit of each side branch.
    sides: Vec<String>,
}

impl History {
    /// Task k's fork point: a different commit for every task, spread over the whole history,
    /// every eighth one on a side branch.
    fn fork(&self, k: usize, n: usize) -> String {
        if k % 8 == 7 { self.sides[k / 8].clone() } else { self.main[k * self.main.len() / n].clone() }
    }
}

/// LONG_HISTORY commits on main, every tenth a merge of a side branch of two commits that forked
/// six commits earlier; returns the commit ids.
fn long_history(home: &Path, repo: &Path, place: &Path) -> History {
    let mut stream = String::new();
    let side_mark = |s: usize, c: usize| 100_000 + 2 * s + c;
    for r in 0..LONG_HISTORY {
        let date = BASE_DATE + 10 * r as u64 + 1;
        let from = if r == 0 { "refs/heads/main^0".to_string() } else { format!(":{r}") };
        if r % 10 == 9 {
            let s = r / 10;
            let mut files = Vec::new();
            for c in 0..2 {
                let i = side_file(s, c);
                let text = body(i, &[(c + 1, &format!("side {s} step {c}"))]);
                let message = format!("side {s}: step {c}\n");
                let parent = if c == 0 { format!(":{}", r - 6 + 1) } else { format!(":{}", side_mark(s, 0)) };
                write!(
                    stream,
                    "commit refs/sides/side{s}\nmark :{}\ncommitter Bench <bench@example.com> {} +0000\ndata {}\n{message}\
                     from {parent}\nM 100644 inline {}\ndata {}\n{text}\n\n",
                    side_mark(s, c),
                    BASE_DATE + 10 * (r - 6) as u64 + 5 + c as u64,
                    message.len(),
                    file_path(i),
                    text.len()
                )
                .unwrap();
                files.push((i, text));
            }
            let message = format!("Merge branch 'side{s}'\n");
            write!(
                stream,
                "commit refs/heads/main\nmark :{}\ncommitter Bench <bench@example.com> {date} +0000\ndata {}\n{message}\
                 from {from}\nmerge :{}\n",
                r + 1,
                message.len(),
                side_mark(s, 1)
            )
            .unwrap();
            for (i, text) in files {
                write!(stream, "M 100644 inline {}\ndata {}\n{text}\n", file_path(i), text.len()).unwrap();
            }
        } else {
            let i = main_file(r);
            let text = body(i, &[(r % LINES, &format!("main {r}"))]);
            let note = format!("notes of main commit {r}\n");
            let message = format!("main {r}\n");
            write!(
                stream,
                "commit refs/heads/main\nmark :{}\ncommitter Bench <bench@example.com> {date} +0000\ndata {}\n{message}\
                 from {from}\nM 100644 inline {}\ndata {}\n{text}\nM 100644 inline main/r{r}.md\ndata {}\n{note}\n",
                r + 1,
                message.len(),
                file_path(i),
                text.len(),
                note.len()
            )
            .unwrap();
        }
        stream.push('\n');
    }
    let marks_file = place.join("marks");
    let mut import = command(home, "git", repo);
    import.args(["fast-import", "--quiet", &format!("--export-marks={}", marks_file.display())]);
    run_input(import, stream.into_bytes());
    git(home, repo, &["reset", "-q", "--hard", "main"]);
    let marks: BTreeMap<usize, String> = std::fs::read_to_string(&marks_file)
        .unwrap()
        .lines()
        .map(|line| {
            let (mark, id) = line.split_once(' ').unwrap();
            (mark.trim_start_matches(':').parse().unwrap(), id.to_string())
        })
        .collect();
    History {
        main: (0..LONG_HISTORY).map(|r| marks[&(r + 1)].clone()).collect(),
        sides: (0..LONG_HISTORY / 10).map(|s| marks[&side_mark(s, 0)].clone()).collect(),
    }
}

/// Shape (c): every fifth task merges main (a quarter of the history past its fork) into its
/// branch, with the commit `git merge` would make.
fn merge_main_into_some(home: &Path, repo: &Path, history: &History, n: usize) {
    let len = history.main.len();
    for k in (4..n).step_by(5) {
        let branch = format!("refs/heads/agent/t{k}");
        let head = git(home, repo, &["rev-parse", &branch]).trim().to_string();
        let point = &history.main[(k * len / n + len / 4).min(len - 1)];
        let merged = git(home, repo, &["merge-tree", "--write-tree", &head, point]);
        let tree = merged.lines().next().unwrap();
        let date = format!("{} +0000", BASE_DATE + 7200 + k as u64);
        let mut commit = command(home, "git", repo);
        commit
            .args(["commit-tree", tree, "-p", &head, "-p", point, "-m", &format!("Merge branch 'main' into t{k}")])
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date);
        let commit = support::run(commit);
        git(home, repo, &["update-ref", &branch, commit.trim(), &head]);
    }
}
