"""One optimizer step over 16M float32 parameters: swift-optim against PyTorch, side by side.

Runs PyTorch's CPU step (the default for-loop implementation, and `fused=True`, the fastest
CPU path) and swift-optim's (Benchmarks/step-throughput: one thread, and the step sliced over
the threads as `fit` runs it) in the same run, alternating, at 1 thread and at --threads
threads, and prints medians and ratios, plus the STREAM-like triad that bounds both. Needs torch
in a virtual environment outside the repository (never in CI):

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.15.0
    swift build -c release --package-path Benchmarks --product step-throughput
    /tmp/torchenv/bin/python tools/compare_step_with_torch.py [--parameters N] [--rounds R] [--threads T]
"""
import argparse, json, os, statistics, subprocess, time

import torch

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--parameters", type=int, default=16 * 1024 * 1024)
parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians over all")
parser.add_argument("--repetitions", type=int, default=11, help="timed steps per round")
parser.add_argument("--threads", type=int, default=os.cpu_count(), help="the threads of the second comparison")
parser.add_argument("--swift", default=os.path.join(root, "Benchmarks/.build/release/step-throughput"))
args = parser.parse_args()

WORKLOADS = {
    "SGD-momentum": lambda p, fused: torch.optim.SGD([p], lr=1e-3, momentum=0.9, fused=fused),
    "Adam": lambda p, fused: torch.optim.Adam([p], lr=1e-3, fused=fused),
    "AdamW": lambda p, fused: torch.optim.AdamW([p], lr=1e-3, fused=fused),
}


def torch_round(n, repetitions, threads, fused):
    torch.set_num_threads(threads)
    out = {}
    for name, make in WORKLOADS.items():
        p = torch.nn.Parameter((torch.arange(n, dtype=torch.float32) % 1000) * 1e-3 - 0.5)
        p.grad = (torch.arange(n, dtype=torch.float32) % 777) * 1e-4 - 0.03
        opt = make(p, fused)
        opt.step()  # creates the state, as the Swift side's warm-up step does
        times = []
        for _ in range(repetitions):
            start = time.perf_counter(); opt.step(); times.append(time.perf_counter() - start)
        out[name] = n / statistics.median(times) / 1e9
    return out


columns = ["torch 1", "torch fused 1", "swift 1", f"torch {args.threads}", f"torch fused {args.threads}", f"swift {args.threads}"]
samples = {c: {k: [] for k in WORKLOADS} for c in columns}
triad = []
for r in range(args.rounds):
    for threads in (1, args.threads):
        for fused in (False, True):
            for name, rate in torch_round(args.parameters, args.repetitions, threads, fused).items():
                samples[f"torch {'fused ' if fused else ''}{threads}"][name].append(rate)
    swift = json.loads(subprocess.run([args.swift, str(args.parameters), str(args.repetitions), str(args.threads)],
                                      check=True, capture_output=True, text=True).stdout)
    for name in WORKLOADS:
        samples["swift 1"][name].append(swift[f"{name}_Gparam_per_s"])
        samples[f"swift {args.threads}"][name].append(swift.get(f"{name}_Gparam_per_s_{args.threads}_threads", float("nan")))
    triad.append(swift["triad_GBps"])

print(f"one step over {args.parameters:,} float32 parameters, Gparam/s, medians of {args.rounds} rounds x {args.repetitions} steps")
print(f"torch {torch.__version__}; STREAM-like triad (Swift, 1 thread): {statistics.median(triad):.1f} GB/s")
print(f"{'optimizer':<14}" + "".join(f"{c:>16}" for c in columns) + f"{'vs fused 1':>12}{f'vs fused {args.threads}':>12}")
for name in WORKLOADS:
    m = {c: statistics.median(samples[c][name]) for c in columns}
    print(f"{name:<14}" + "".join(f"{m[c]:>16.3f}" for c in columns)
          + f"{m['swift 1'] / m['torch fused 1']:>11.2f}x{m[f'swift {args.threads}'] / m[f'torch fused {args.threads}']:>11.2f}x")
