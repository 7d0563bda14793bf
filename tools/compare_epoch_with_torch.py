"""One epoch of linear regression: swift-optim's trainer against PyTorch, side by side.

n = 4M rows, d = 32 float32 features, minibatches of 65,536 rows, nn.Linear(32, 1) with MSELoss
and Adam(lr=1e-3): PyTorch's CPU training loop with torch.set_num_threads(T), and swift-optim's
`fit` with T workers, for each T, alternating, medians. Needs torch in a virtual environment
outside the repository (never in CI):

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.15.0
    swift build -c release --package-path Benchmarks --product train-throughput
    /tmp/torchenv/bin/python tools/compare_epoch_with_torch.py [--threads 1,2] [--rounds 3]
"""
import argparse, json, os, statistics, subprocess, time

import torch

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=int, default=4 * 1024 * 1024)
parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
parser.add_argument("--epochs", type=int, default=3, help="timed epochs per round and side")
parser.add_argument("--swift", default=os.path.join(root, "Benchmarks/.build/release/train-throughput"))
args = parser.parse_args()

BATCH, D = 65536, 32
generator = torch.Generator().manual_seed(0)
X = torch.randn(args.rows, D, generator=generator)
w_true = torch.randn(D, 1, generator=generator) / D ** 0.5
y = X @ w_true + 0.1 * torch.randn(args.rows, 1, generator=generator)


def torch_epoch_seconds(threads):
    torch.set_num_threads(threads)
    times = []
    for _ in range(args.epochs):
        model = torch.nn.Linear(D, 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.MSELoss()
        start = time.perf_counter()
        for lo in range(0, args.rows, BATCH):
            optimizer.zero_grad()
            loss = loss_fn(model(X[lo:lo + BATCH]), y[lo:lo + BATCH])
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def swift_epoch_seconds(threads):
    """The Swift epoch and, measured beside it, one bare read of X on as many threads."""
    out = subprocess.run([args.swift, "--epoch", str(args.rows), str(threads), str(args.epochs)],
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    return result["epoch_seconds"], result["read_seconds"]


threads = [int(t) for t in args.threads.split(",")]
samples = {t: {"torch": [], "swift": [], "read": []} for t in threads}
for _ in range(args.rounds):
    for t in threads:
        samples[t]["torch"].append(torch_epoch_seconds(t))
        epoch, read = swift_epoch_seconds(t)
        samples[t]["swift"].append(epoch)
        samples[t]["read"].append(read)

gb = args.rows * D * 4 / 1e9
print(f"one epoch: n={args.rows:,}, d={D}, batch {BATCH}, Adam; torch {torch.__version__}; "
      f"medians of {args.rounds} rounds x {args.epochs} epochs")
# "read X s": one bare read of X on as many threads, nothing computed. No epoch can take less, so
# torch s / read X s ("ceiling") is the largest speedup this machine allows in this run.
print(f"{'threads':>8}{'torch s':>10}{'swift s':>10}{'read X s':>10}{'torch GB/s':>12}{'swift GB/s':>12}"
      f"{'speedup':>9}{'ceiling':>9}")
for t in threads:
    ts, ss, rs = (statistics.median(samples[t][side]) for side in ("torch", "swift", "read"))
    print(f"{t:>8}{ts:>10.4f}{ss:>10.4f}{rs:>10.4f}{gb / ts:>12.1f}{gb / ss:>12.1f}{ts / ss:>8.2f}x{ts / rs:>8.2f}x")
