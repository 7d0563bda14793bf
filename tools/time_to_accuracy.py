#!/usr/bin/env python3
"""Time to accuracy: how long each solver takes to bring the training objective within 1% and
0.1% of the best any solver reaches, on three dense problems of 1M rows x 100 features:

  logistic-well   logistic regression, independent standard-normal features
  logistic-ill    the same labels' model on ill-conditioned features: AR(1) correlation rho 0.9,
                  per-feature scales log-uniform in [0.1, 10], offsets in [-5, 5]
  linear-ill      least squares on those ill-conditioned features

The objective is the one `optim train` minimizes by default on such a file (and scikit-learn's
LogisticRegression(C=1) minimizes): mean log-loss + ||w||^2 / (2 C n) with C = 1, or the mean
squared error. optim runs as a user would, `optim train --data FILE --validation 0` (all rows, so
that every solver sees the same objective) with nothing else, and again with a budget of epochs
(1, 2, 3, 5, 8, ...) for its curve; its time is the fit's (`training_seconds`), not loading or
standardizing. A peer's time is its fit call on data in memory, at each of a ladder of budgets
(iterations or tolerances). Every objective is computed here, in float64 numpy, from the weights
each solver returns (optim's saved weights take raw features).

Peers, in a virtual environment outside the repository (never in CI):
  python3 -m venv /tmp/tta && /tmp/tta/bin/pip install numpy scipy scikit-learn liblinear-official snapml vowpalwabbit torch safetensors
  /tmp/tta/bin/python tools/time_to_accuracy.py --optim .build/release/optim [--rows 1000000] [--threads 2]
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_case(name, rows, features, seed):
    rng = np.random.default_rng(seed)
    true = rng.normal(0, 1, features) * (2 / math.sqrt(features))
    if name == "logistic-well":
        x = rng.standard_normal((rows, features))
        z = x
    else:
        z = np.empty((rows, features))
        z[:, 0] = rng.standard_normal(rows)
        rho = 0.9
        for j in range(1, features):
            z[:, j] = rho * z[:, j - 1] + math.sqrt(1 - rho * rho) * rng.standard_normal(rows)
        scales = np.exp(rng.uniform(math.log(0.1), math.log(10), features))
        offsets = rng.uniform(-5, 5, features)
        x = z * scales + offsets
    margin = z @ true + 0.3
    if name.startswith("logistic"):
        y = (rng.random(rows) < 1 / (1 + np.exp(-margin))).astype(np.float64)
    else:
        y = margin + 0.5 * rng.standard_normal(rows)
    return x, y


def objective(kind, x, y, w, b, l2):
    z = x @ w + b
    if kind == "logistic":
        # mean log(1 + exp(-s z)), s = 2y - 1, stable
        s = 2 * y - 1
        loss = np.mean(np.logaddexp(0, -s * z))
        return loss + l2 / 2 * float(w @ w)
    return float(np.mean((z - y) ** 2))


def run_optim(binary, path, kind, epochs, threads, workdir):
    weights = os.path.join(workdir, "w.safetensors")
    command = [binary, "train", "--data", path, "--validation", "0", "--save", weights, "--json", "--workers", str(threads)]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    done = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")][-1]
    # "data: ..., loaded in 0.83s": reading, splitting, standardizing (stderr with --json).
    loaded = re.search(r"loaded in ([0-9.]+)(ms|s)", out.stderr)
    preparation = float(loaded.group(1)) / (1000 if loaded.group(2) == "ms" else 1) if loaded else float("nan")
    from safetensors.numpy import load_file
    tensors = load_file(weights)
    w = tensors["weight"].astype(np.float64).reshape(-1)
    b = float(tensors["bias"].astype(np.float64).reshape(-1)[0])
    return done["training_seconds"], w, b, done.get("epochs"), preparation


def timed(fit):
    start = time.perf_counter()
    w, b = fit()
    return time.perf_counter() - start, w, b


def peers(kind, x, y, l2, threads):
    """(solver, budget label, fit) for each peer and budget."""
    n = x.shape[0]
    result = []
    try:
        from sklearn.linear_model import LinearRegression, LogisticRegression
        if kind == "logistic":
            for it in [5, 10, 20, 50, 100, 200, 500, 1000]:
                def fit(it=it):
                    m = LogisticRegression(C=1 / (l2 * n), solver="lbfgs", max_iter=it, tol=1e-12).fit(x, y)
                    return m.coef_.reshape(-1), float(m.intercept_[0])
                result.append(("scikit-learn lbfgs", f"max_iter {it}", fit))
            for it in [1, 2, 5, 10, 20, 50]:
                def fit(it=it):
                    m = LogisticRegression(C=1 / (l2 * n), solver="saga", max_iter=it, tol=1e-12).fit(x, y)
                    return m.coef_.reshape(-1), float(m.intercept_[0])
                result.append(("scikit-learn saga", f"max_iter {it}", fit))
        else:
            def fit():
                m = LinearRegression().fit(x, y)
                return m.coef_.reshape(-1), float(m.intercept_)
            result.append(("scikit-learn LinearRegression (exact)", "-", fit))
    except ImportError:
        print("(scikit-learn not installed)", file=sys.stderr)
    if kind == "logistic":
        try:
            from liblinear import liblinearutil as ll
            problem = ll.problem(2 * y - 1, x)
            for eps in [1, 0.1, 0.01, 0.001, 0.0001]:
                # -s 0: L2-regularized logistic regression (primal, trust-region Newton); -B 1:
                # a bias feature (LIBLINEAR regularizes it too, as a weight of its own).
                def fit(eps=eps):
                    model = ll.train(problem, ll.parameter(f"-s 0 -c {1 / (l2 * n)} -e {eps} -B 1 -q"))
                    w = np.array(model.get_decfun()[0]) * (1 if model.get_labels()[0] == 1 else -1)
                    b = model.get_decfun()[1] * (1 if model.get_labels()[0] == 1 else -1)
                    return w, b
                result.append(("LIBLINEAR -s 0", f"-e {eps}", fit))
        except ImportError:
            print("(liblinear not installed)", file=sys.stderr)
    try:
        from snapml import LinearRegression as SnapLinear, LogisticRegression as SnapLogistic
        for it in [5, 10, 20, 50, 100, 200]:
            def fit(it=it):
                # Snap ML's regularizer is 1/C (sum of losses + regularizer/2 ||w||^2).
                if kind == "logistic":
                    m = SnapLogistic(max_iter=it, regularizer=l2 * n, fit_intercept=True, n_jobs=threads, tol=1e-12)
                else:
                    m = SnapLinear(max_iter=it, regularizer=1e-12, fit_intercept=True, n_jobs=threads, tol=1e-12)
                m.fit(x.astype(np.float32), y.astype(np.float32))
                return np.asarray(m.coef_, dtype=np.float64).reshape(-1), float(np.asarray(m.intercept_).reshape(-1)[0])
            result.append(("Snap ML", f"max_iter {it}", fit))
    except ImportError:
        print("(snapml not installed)", file=sys.stderr)
    try:
        import vowpalwabbit
        result += vowpal_wabbit(vowpalwabbit, kind, x, y, l2)
    except ImportError:
        print("(vowpalwabbit not installed)", file=sys.stderr)
    try:
        import torch
        torch.set_num_threads(threads)
        xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
        for it in [5, 10, 20, 50, 100, 200, 500]:
            def fit(it=it):
                layer = torch.nn.Linear(x.shape[1], 1)
                optimizer = torch.optim.LBFGS(layer.parameters(), lr=1, max_iter=it, history_size=10, line_search_fn="strong_wolfe",
                                              tolerance_grad=1e-12, tolerance_change=1e-15)

                def closure():
                    optimizer.zero_grad()
                    z = layer(xt).squeeze(1)
                    if kind == "logistic":
                        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, yt) + l2 / 2 * (layer.weight ** 2).sum()
                    else:
                        loss = torch.nn.functional.mse_loss(z, yt)
                    loss.backward()
                    return loss
                optimizer.step(closure)
                return layer.weight.detach().double().numpy().reshape(-1), float(layer.bias.detach()[0])
            result.append(("torch LBFGS", f"max_iter {it}", fit))
    except (ImportError, OSError):
        print("(torch not installed)", file=sys.stderr)
    return result


def vowpal_wabbit(vowpalwabbit, kind, x, y, l2):
    """Vowpal Wabbit (one thread: it has no threads of its own), passes over the examples' text
    lines, made before the clock starts (parsed examples of 1M x 100 would take over 24 GB): one
    run, its weights read after each budget of passes, the time the passes' total, parsing
    included."""
    loss = "logistic" if kind == "logistic" else "squared"
    model = vowpalwabbit.Workspace(f"--loss_function {loss} --l2 {l2:.3g} --quiet -b 20")
    names = [f"f{j}" for j in range(x.shape[1])]
    examples = []
    for row, target in zip(x, y):
        label = ("1" if target > 0 else "-1") if kind == "logistic" else f"{target:.9g}"
        examples.append(label + " | " + " ".join(f"{name}:{value:.9g}" for name, value in zip(names, row)))
    result, elapsed, done = [], 0.0, 0
    for passes in [1, 2, 3, 5, 8, 13, 20]:
        start = time.perf_counter()
        for _ in range(passes - done):
            for example in examples:
                model.learn(example)
        elapsed += time.perf_counter() - start
        done = passes
        w = np.array([model.get_weight_from_name(name) for name in names])
        b = model.get_weight(11650396 & ((1 << 20) - 1))  # VW's constant feature
        result.append(("Vowpal Wabbit (text, 1 thread)", f"{passes} pass(es)", lambda w=w, b=b, t=elapsed: (t, w, b)))
    model.finish()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--optim", required=True, help="the optim binary (a release build)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="threads for every solver")
    parser.add_argument("--cases", default="logistic-well,logistic-ill,linear-ill")
    parser.add_argument("--optim-only", action="store_true", help="no peers (the gaps are then to optim's own best)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    for name in args.cases.split(","):
        kind = "logistic" if name.startswith("logistic") else "linear"
        x, y = make_case(name, args.rows, args.features, seed=7)
        l2 = 1 / args.rows if kind == "logistic" else 0.0
        with tempfile.TemporaryDirectory() as workdir:
            path = os.path.join(workdir, f"{name}.npy")
            np.save(path, np.hstack([x, y[:, None]]).astype(np.float32))
            runs = []  # (solver, budget, seconds, objective)
            seconds, w, b, epochs, preparation = run_optim(args.optim, path, kind, None, args.threads, workdir)
            value = objective(kind, x, y, w, b, l2)
            runs.append(("optim (defaults)", f"{epochs} epoch(s), its own stop", seconds, value))
            runs.append(("optim (defaults), with reading and standardizing", f"+ {preparation:.2f} s", seconds + preparation, value))
            for budget in [1, 2, 3, 5, 8, 13, 21, 34]:
                seconds, w, b, _, _ = run_optim(args.optim, path, kind, budget, args.threads, workdir)
                runs.append(("optim (defaults, --epochs budget)", f"--epochs {budget}", seconds, objective(kind, x, y, w, b, l2)))
            for solver, budget, fit in ([] if args.optim_only else peers(kind, x, y, l2, args.threads)):
                if solver.startswith("Vowpal"):
                    seconds, w, b = fit()  # timed as it ran
                else:
                    seconds, w, b = timed(fit)
                runs.append((solver, budget, seconds, objective(kind, x, y, w, b, l2)))
        best = min(r[3] for r in runs)
        print(f"\n## {name}: {args.rows} rows x {args.features}, best objective {best:.9g}, {args.threads} thread(s)\n")
        print("| solver | best gap reached | time to 1% | time to 0.1% |")
        print("|---|---|---|---|")
        for solver in dict.fromkeys(r[0] for r in runs):
            mine = [r for r in runs if r[0] == solver]
            gap = min((r[3] - best) / abs(best) for r in mine)

            def reach(tol):
                times = [r[2] for r in mine if (r[3] - best) / abs(best) <= tol]
                return f"{min(times):.2f} s" if times else "never"
            print(f"| {solver} | {gap * 100:.3g}% | {reach(0.01)} | {reach(0.001)} |")
        for r in runs:
            print(f"    {r[0]:40s} {r[1]:28s} {r[2]:8.2f} s  gap {(r[3] - best) / abs(best) * 100:.4g}%", file=sys.stderr)


if __name__ == "__main__":
    main()
