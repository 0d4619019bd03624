#!/usr/bin/env python3
"""A differential and timing run of `git agent-conflicts` on real history, by hand.

Takes a clone of a large repository (git.git is the reference: `git clone
https://github.com/git/git`), makes a shared clone of it, and turns the second parents of the
last N merges on the first-parent line of --branch (the topic branches as merged) into tasks
(`git agent spawn tK --base <topic tip>`), the way agents that fork from different commits and
pull main look. Then it runs `git agent-conflicts --json --into main` and one
`git merge-tree --stdin --write-tree --name-only` over the same pairs, compares every pair's
verdict and conflicted paths, and prints both times and the ratio.

Usage: tests/bench/real_history.py PATH-TO-CLONE [-n 32] [--branch master] [--dir /dev/shm/x]
The git-agent binaries must be on PATH (e.g. PATH=$PWD/target/release:$PATH).
Exit status 1 when a verdict differs from git's.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def git(repo, *args, input=None, ok=(0,)):
    run = subprocess.run(["git", "-C", repo, *args], input=input, capture_output=True)
    if run.returncode not in ok:
        sys.exit(f"git {' '.join(args)}: exit {run.returncode}: {run.stderr.decode(errors='replace')}")
    return run


def parse_stdin(out, merges):
    """Verdicts from `git merge-tree --stdin --write-tree --name-only` (NUL-separated)."""
    fields = iter(out.split(b"\0"))
    verdicts = []
    for _ in range(merges):
        status = next(fields)
        if status not in (b"0", b"1"):
            sys.exit(f"merge-tree --stdin: merge {len(verdicts)} failed with status {status!r}")
        conflict = status == b"0"
        next(fields)  # the tree
        paths = set()
        while True:
            path = next(fields)
            if not path:
                break
            paths.add(path.decode(errors="replace"))
        if conflict:
            while True:
                count = next(fields)
                if not count:
                    break
                for _ in range(int(count) + 2):
                    next(fields)
        verdicts.append((conflict, paths if conflict else set()))
    return verdicts


def path_text(path):
    return path if isinstance(path, str) else bytes(path["bytes"]).decode(errors="replace")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clone")
    parser.add_argument("-n", type=int, default=32)
    parser.add_argument("--branch", default="master")
    parser.add_argument("--dir", default="/dev/shm/git-agent-real-history" if os.path.isdir("/dev/shm") else None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    place = args.dir or os.path.join(os.environ.get("TMPDIR", "/tmp"), "git-agent-real-history")
    shutil.rmtree(place, ignore_errors=True)
    shutil.rmtree(place + ".agents", ignore_errors=True)
    os.makedirs(os.path.dirname(place) or ".", exist_ok=True)
    repo = place
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", args.clone, repo], check=True)
    target = git(repo, "rev-parse", f"origin/{args.branch}").stdout.decode().strip()
    git(repo, "checkout", "-q", "-B", "main", target)
    merges = git(repo, "rev-list", "--first-parent", "--merges", "-n", str(args.n * 2), target).stdout.split()
    tips, seen = [], set()
    for merge in merges:
        tip = git(repo, "rev-parse", merge.decode() + "^2").stdout.decode().strip()
        if tip not in seen:
            seen.add(tip)
            tips.append(tip)
        if len(tips) == args.n:
            break
    started = time.monotonic()
    for k, tip in enumerate(tips):
        run = subprocess.run(["git", "-C", repo, "agent", "spawn", "-q", f"t{k}", "--base", tip, "--no-agent"],
                             capture_output=True)
        if run.returncode != 0:
            sys.exit(f"spawn t{k}: {run.stderr.decode(errors='replace')}")
    print(f"{len(tips)} topic branches of {args.branch} as tasks, against {target[:12]} "
          f"(spawned in {time.monotonic() - started:.1f} s)")

    names = [f"t{k}" for k in range(len(tips))]
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    started = time.monotonic()
    ours_run = subprocess.run(["git", "-C", repo, "agent-conflicts", "--json", "--pairwise", "--into", "main"],
                              capture_output=True)
    ours_time = time.monotonic() - started
    if ours_run.returncode not in (0, 1):
        sys.exit(f"git agent-conflicts: exit {ours_run.returncode}: {ours_run.stderr.decode(errors='replace')}")
    ours = json.loads(ours_run.stdout)
    stdin = "".join(f"agent/{a} agent/{b}\n" for a, b in pairs).encode()
    started = time.monotonic()
    theirs_run = git(repo, "merge-tree", "--stdin", "--write-tree", "--name-only", input=stdin, ok=(0, 1))
    theirs_time = time.monotonic() - started
    theirs = dict(zip(pairs, parse_stdin(theirs_run.stdout, len(pairs))))

    reported = {(p["a"], p["b"]): p for p in ours["pairs"]}
    differ = []
    for pair in pairs:
        p = reported.get(pair)
        conflict = p is not None and p["verdict"] == "conflict"
        paths = {path_text(c["path"]) for c in p["conflicts"]} if conflict else set()
        if p is not None and p["verdict"] in ("error", "unrelated"):
            differ.append(f"{pair}: ours {p['verdict']} {p.get('error') or ''}")
        elif (conflict, paths) != theirs[pair]:
            differ.append(f"{pair} ({tips[names.index(pair[0])][:12]} {tips[names.index(pair[1])][:12]}): "
                          f"ours {'conflict' if conflict else 'clean'} {sorted(paths)}, "
                          f"git {'conflict' if theirs[pair][0] else 'clean'} {sorted(theirs[pair][1])}")
    summary = ours["summary"]
    print(f"{len(pairs)} pairs: {summary['merged_in_memory']} merged in memory, "
          f"{summary['conflicting_pairs']} conflict; git: {sum(1 for v in theirs.values() if v[0])} conflict")
    print(f"git agent-conflicts {ours_time:.2f} s, git merge-tree --stdin {theirs_time:.2f} s: "
          f"ratio {theirs_time / ours_time:.2f}x")
    for line in differ:
        print("DIFFERS " + line)
    print(f"{len(pairs) - len(differ)} of {len(pairs)} pairs agree with git")
    if not args.keep:
        shutil.rmtree(repo + ".agents", ignore_errors=True)
        shutil.rmtree(repo, ignore_errors=True)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
