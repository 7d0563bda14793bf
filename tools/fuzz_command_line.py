#!/usr/bin/env python3
"""Random command lines through a built `optim`: every exit must be 0, 1 (bad data), 2 (bad
usage) or 130 (interrupted), within a time limit, and within a memory limit.

Each case takes one subcommand, a few of its options (read from its --help) with values from a
pool of edge cases (0, -1, 2^31, 2^63, 1e308, nan, inf, empty, text, lists, paths that are
directories, missing or inputs), and small synthetic data so that a sane case ends in seconds.
Cases that crash (a signal, or any other status), hang or go past the memory limit are printed
with the command line, to rerun by hand.

    python3 tools/fuzz_command_line.py --optim .build/release/optim --cases 2000 --seed 1
"""
import argparse
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

COMMANDS = ["train", "evaluate", "predict", "compare", "scale", "generate", "topology"]
NUMBERS = ["0", "-1", "1", "2", "3", "0.5", "-0.5", "1e-30", "1e308", "-1e308", "nan", "inf", "-inf",
           "2147483647", "2147483648", "4294967296", "9223372036854775807", "9223372036854775808",
           "-9223372036854775808", "18446744073709551616", "100000000", "1e9", "0x10", "", " ", "abc", "1,2",
           "1,100000000", ",", "0,0", "64K", "1G", "-1G", "1e30", "3.5e9"]


def options_of(optim, command):
    """The options a command's --help lists, with whether each takes a value."""
    text = subprocess.run([optim, command, "--help"], capture_output=True, text=True, timeout=30).stdout
    found = {}
    for match in re.finditer(r"(?m)^\s+(?:-\w, )?(--[a-z0-9-]+)(?: <([^>]+)>)?", text):
        name, value = match.group(1), match.group(2)
        if name in ("--help", "--version"):
            continue
        found[name] = value
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--optim", default=".build/release/optim")
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30, help="seconds a case may take")
    parser.add_argument("--memory", type=int, default=8 << 30, help="bytes of address space a case may map")
    args = parser.parse_args()
    optim = os.path.abspath(args.optim)
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="optim-cli-fuzz-")
    # Inputs: a small .npy, CSV and libsvm file, weights trained on the .npy, a directory.
    npy, csv, svm = (os.path.join(work, n) for n in ("d.npy", "d.csv", "d.svm"))
    weights, folder = os.path.join(work, "w.safetensors"), os.path.join(work, "folder")
    os.mkdir(folder)
    subprocess.run([optim, "generate", "--rows", "300", "--features", "4", "--output", npy], check=True, capture_output=True)
    with open(csv, "w") as f:
        f.write("a,b,c,y\n" + "".join(f"{i % 7},{i % 3}.5,{-i},{i % 2}\n" for i in range(200)))
    with open(svm, "w") as f:
        f.write("".join(f"{i % 2} 1:{i % 5} 3:{i % 3}.25\n" for i in range(200)))
    subprocess.run([optim, "train", "--data", npy, "--save", weights, "--epochs", "2"], check=True, capture_output=True)
    paths = [npy, csv, svm, weights, folder, os.path.join(work, "missing", "x.npy"), os.path.join(work, "out.npy"),
             os.path.join(work, "out.safetensors"), os.path.join(work, "c.ckpt"), "/dev/null", "-"]
    options = {command: options_of(optim, command) for command in COMMANDS}

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (args.memory, args.memory))

    bad = []
    counts = {}
    start = time.time()
    for case in range(args.cases):
        command = rng.choice(COMMANDS)
        line = [command]
        if command in ("train", "compare", "scale") and rng.random() < 0.7:
            line += ["--rows", str(rng.choice([50, 200, 1000]))]
        if command in ("evaluate", "predict"):
            line += ["--weights", weights, "--data", rng.choice([npy, csv, svm])]
            if rng.random() < 0.5:
                line += ["--target", "y"] if line[-1] == csv else []
        if command in ("train", "compare") and rng.random() < 0.5:
            line += ["--epochs", str(rng.choice([1, 2, 5]))]
        if command == "generate":
            line += ["--rows", str(rng.choice([10, 100])), "--output", os.path.join(work, f"g{case}.npy")]
        # generate's sizes are the work asked for (100M rows is a 13 GB file, written as asked).
        names = [n for n in options[command] if not (command == "generate" and n in ("--rows", "--features", "--classes"))]
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(names)
            value = options[command][name]
            line.append(name)
            if value is not None:
                pick = rng.random()
                sane = value.split("|") if "|" in value else ["1", "2", "0.01", "0.9", "10"]
                line.append(rng.choice(paths) if pick < 0.2 else rng.choice(NUMBERS) if pick < 0.6 else rng.choice(sane))
        began = time.time()
        try:
            run = subprocess.run([optim] + line, capture_output=True, timeout=args.timeout, preexec_fn=limit, cwd=work,
                                 stdin=subprocess.DEVNULL)
            status = run.returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
        counts[status] = counts.get(status, 0) + 1
        if status not in (0, 1, 2, 130):
            tail = "" if status == "timeout" else run.stderr.decode(errors="replace").strip().splitlines()[-1:]
            bad.append((status, line, tail))
            print(f"case {case}: {status} after {time.time() - began:.1f}s: optim {' '.join(repr(a) if a == '' or ' ' in a else a for a in line)} {tail}",
                  flush=True)
        for name in os.listdir(work):
            if name.startswith("g") and name.endswith(".npy") or ".partial" in name:
                os.remove(os.path.join(work, name))
    shutil.rmtree(work, ignore_errors=True)
    print(f"{args.cases} cases in {time.time() - start:.0f} s, seed {args.seed}: exits {dict(sorted(counts.items(), key=str))}; "
          f"{len(bad)} crash(es), hang(s) or other exits")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
