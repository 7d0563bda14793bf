"""One optimizer step over 16M float32 parameters: swift-optim against PyTorch, side by side.

Runs PyTorch's CPU step (default for-loop implementation, one thread) and swift-optim's
(Benchmarks/step-throughput, one thread) in the same run, alternating, and prints medians and
ratios, plus the STREAM-like triad that bounds both. Needs torch in a virtual environment
outside the repository (never in CI):

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.15.0
    swift build -c release --package-path Benchmarks --product step-throughput
    /tmp/torchenv/bin/python tools/compare_step_with_torch.py [--parameters N] [--rounds R]
"""
import argparse, json, os, statistics, subprocess, sys, time

import torch

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--parameters", type=int, default=16 * 1024 * 1024)
parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians over all")
parser.add_argument("--repetitions", type=int, default=11, help="timed steps per round")
parser.add_argument("--swift", default=os.path.join(root, "Benchmarks/.build/release/step-throughput"))
args = parser.parse_args()
torch.set_num_threads(1)

WORKLOADS = {
    "SGD-momentum": lambda p: torch.optim.SGD([p], lr=1e-3, momentum=0.9),
    "Adam": lambda p: torch.optim.Adam([p], lr=1e-3),
    "AdamW": lambda p: torch.optim.AdamW([p], lr=1e-3),
}


def torch_round(n, repetitions):
    out = {}
    for name, make in WORKLOADS.items():
        p = torch.nn.Parameter((torch.arange(n, dtype=torch.float32) % 1000) * 1e-3 - 0.5)
        p.grad = (torch.arange(n, dtype=torch.float32) % 777) * 1e-4 - 0.03
        opt = make(p)
        opt.step()  # creates the state, as the Swift side's warm-up step does
        times = []
        for _ in range(repetitions):
            start = time.perf_counter(); opt.step(); times.append(time.perf_counter() - start)
        out[name] = n / statistics.median(times) / 1e9
    return out


samples = {"torch": {k: [] for k in WORKLOADS}, "swift": {k: [] for k in WORKLOADS}, "triad": []}
for r in range(args.rounds):
    for name, rate in torch_round(args.parameters, args.repetitions).items():
        samples["torch"][name].append(rate)
    swift = json.loads(subprocess.run([args.swift, str(args.parameters), str(args.repetitions)],
                                      check=True, capture_output=True, text=True).stdout)
    for name in WORKLOADS:
        samples["swift"][name].append(swift[f"{name}_Gparam_per_s"])
    samples["triad"].append(swift["triad_GBps"])

print(f"one step over {args.parameters:,} float32 parameters, 1 thread, medians of {args.rounds} rounds x {args.repetitions} steps")
print(f"torch {torch.__version__}; STREAM-like triad (Swift): {statistics.median(samples['triad']):.1f} GB/s")
print(f"{'optimizer':<14}{'torch Gparam/s':>16}{'swift Gparam/s':>16}{'ratio':>8}")
for name in WORKLOADS:
    t, s = statistics.median(samples["torch"][name]), statistics.median(samples["swift"][name])
    print(f"{name:<14}{t:>16.3f}{s:>16.3f}{s / t:>7.2f}x")
