"""Sparse logistic regression, side by side: time to a held-out log-loss within 1% of the best
any solver reaches, at equal threads, on the same libsvm rows.

    python tools/compare_sparse.py [--rows 700000] [--features 47236] [--non-zeros 75] [--threads 1]

Peers, installed in a virtual environment outside the repository (never in CI):
    pip install numpy scipy scikit-learn liblinear-official vowpalwabbit snapml torch

Each penalized solver runs at C = 1 (l2 = 1/n) and at C = 100 (the weaker penalty that
generalizes better here); Vowpal Wabbit's own l2 is tiny.

The rows come from `optim generate --sparse` (power-law features, unit-norm rows, known true
weights): the first 90% train, the last 10% are held out. Every solver minimizes the same
objective where it can (mean log-loss + l2/2 ||w||^2 with l2 = 1/n, scikit-learn's C = 1), from
data already in memory; each is run at growing budgets (epochs, iterations, passes), and its
wall time and held-out log-loss are recorded at each. Prints a table and JSON.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.sparse as sp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log_loss(y, p):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def read_svm(path, features):
    from sklearn.datasets import load_svmlight_file
    x, y = load_svmlight_file(path, n_features=features, zero_based=False, dtype=np.float32)
    x = x.tocsr()
    x = sp.csr_matrix((x.data, x.indices.astype(np.int32), x.indptr.astype(np.int32)), shape=x.shape)
    return x, (y > 0).astype(np.float64)


def run_optim(binary, train, test, optimizer, epochs, threads, extra):
    command = [binary, "train", "--data", train, "--validation-data", test, "--workers", str(threads), "--json", "--sparse"] + extra
    if optimizer:
        command += ["--optimizer", optimizer]
    if epochs:
        command += ["--epochs", str(epochs)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    points, elapsed = [], 0.0
    for line in out.splitlines():
        event = json.loads(line)
        if event.get("event") == "epoch":
            elapsed += event["epoch_seconds"]
            points.append((elapsed, event["val_loss"]))
    return points


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=700_000)
    parser.add_argument("--features", type=int, default=47_236)
    parser.add_argument("--non-zeros", type=int, default=75)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--optim", default=os.path.join(ROOT, ".build/release/optim"))
    args = parser.parse_args()
    t = args.threads
    os.environ["OMP_NUM_THREADS"] = str(t)
    work = tempfile.mkdtemp(prefix="compare-sparse-")
    everything = os.path.join(work, "all.svm")
    subprocess.run([args.optim, "generate", "--sparse", "--task", "logistic", "--rows", str(args.rows), "--features", str(args.features),
                    "--non-zeros", str(args.non_zeros), "--noise", "0.5", "--output", everything], check=True, capture_output=True)
    lines = open(everything).read().splitlines(keepends=True)
    cut = int(len(lines) * 0.9)
    train, test = os.path.join(work, "train.svm"), os.path.join(work, "test.svm")
    open(train, "w").writelines(lines[:cut])
    open(test, "w").writelines(lines[cut:])
    xtr, ytr = read_svm(train, args.features)
    xte, yte = read_svm(test, args.features)
    n = xtr.shape[0]
    l2 = 1 / n
    curves = {}

    # Two objectives for every solver that has a penalty: C = 1 (l2 = 1/n, scikit-learn's
    # default) and a weak one, C = 100 (l2 = 1/(100 n)), which generalizes better on this data.
    weak = l2 / 100

    # optim: its default (full-batch L-BFGS to a tolerance), Adam and Adagrad minibatches.
    curves["optim defaults"] = run_optim(args.optim, train, test, None, None, t, [])
    curves["optim defaults, C=100"] = run_optim(args.optim, train, test, None, None, t, ["--l2", f"{weak:.6g}"])
    curves["optim newton"] = run_optim(args.optim, train, test, "newton", None, t, [])
    curves["optim newton, C=100"] = run_optim(args.optim, train, test, "newton", None, t, ["--l2", f"{weak:.6g}"])
    curves["optim adam b4096"] = run_optim(args.optim, train, test, "adam", 10, t, ["--lr", "0.01", "--batch-size", "4096"])
    curves["optim adagrad b4096"] = run_optim(args.optim, train, test, "adagrad", 10, t, ["--lr", "0.5", "--batch-size", "4096"])
    curves["optim adagrad b4096, C=100"] = run_optim(args.optim, train, test, "adagrad", 10, t,
                                                     ["--lr", "0.5", "--batch-size", "4096", "--l2", f"{weak:.6g}"])

    # LIBLINEAR: -s 0 (primal Newton, L2 logistic) and -s 7 (dual), C = 1; -s 2 (L2-loss SVC) by accuracy only.
    from liblinear.liblinearutil import problem, parameter, train as ll_train, predict as ll_predict
    prob = problem(ytr * 2 - 1, xtr.astype(np.float64))
    for solver, c in ((0, 1), (7, 1), (0, 100)):
        points = []
        for eps in (1e-1, 1e-2, 1e-3, 1e-4):
            start = time.perf_counter()
            model = ll_train(prob, parameter(f"-s {solver} -c {c} -e {eps} -q"))
            elapsed = time.perf_counter() - start
            _, _, values = ll_predict([], xte.astype(np.float64), model, "-b 1 -q")
            labels = model.get_labels()
            p = np.array([v[labels.index(1)] for v in values])
            points.append((elapsed, log_loss(yte, p)))
        curves[f"liblinear -s {solver}" + (f", C={c}" if c != 1 else "")] = points

    # scikit-learn: SGDClassifier (log loss, alpha = 1/n) by epochs, LogisticRegression saga by iterations.
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    import warnings
    warnings.filterwarnings("ignore")
    for alpha, suffix in ((l2, ""), (weak, ", C=100")):
        points = []
        for epochs in (1, 2, 5, 10):
            start = time.perf_counter()
            model = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=epochs, tol=None, random_state=0).fit(xtr, ytr)
            points.append((time.perf_counter() - start, log_loss(yte, model.predict_proba(xte)[:, 1])))
        curves["sklearn SGDClassifier" + suffix] = points
    for c, suffix in ((1.0, ""), (100.0, ", C=100")):
        points = []
        for iterations in (1, 3, 10, 30):
            start = time.perf_counter()
            model = LogisticRegression(solver="saga", C=c, max_iter=iterations, tol=1e-8).fit(xtr, ytr)
            points.append((time.perf_counter() - start, log_loss(yte, model.predict_proba(xte)[:, 1])))
        curves["sklearn saga" + suffix] = points

    # Vowpal Wabbit: logistic loss with passes over a cache, l2 as the same objective's.
    import vowpalwabbit
    def vw_lines(x, y=None):
        out = []
        for i in range(x.shape[0]):
            lo, hi = x.indptr[i], x.indptr[i + 1]
            label = "" if y is None else ("1 " if y[i] > 0 else "-1 ")
            out.append(label + "| " + " ".join(f"{j}:{v:.7g}" for j, v in zip(x.indices[lo:hi], x.data[lo:hi])))
        return out
    train_vw, test_vw = vw_lines(xtr, ytr), vw_lines(xte)
    points = []
    for passes in (1, 3, 10):
        model = vowpalwabbit.Workspace(f"--loss_function logistic --l2 {l2 / n:.3g} --quiet -b 20")
        start = time.perf_counter()
        for _ in range(passes):
            for line in train_vw:
                model.learn(line)
        elapsed = time.perf_counter() - start
        p = sigmoid(np.array([model.predict(line) for line in test_vw]))
        points.append((elapsed, log_loss(yte, p)))
        model.finish()
    curves["vowpal wabbit"] = points

    # Snap ML, at the same threads.
    try:
        from snapml import LogisticRegression as SnapLR
        for regularizer, suffix in ((1.0, ""), (0.01, ", C=100")):
            points = []
            for iterations in (3, 10, 30, 100):
                start = time.perf_counter()
                model = SnapLR(max_iter=iterations, regularizer=regularizer, n_jobs=t, tol=1e-8).fit(xtr, ytr)
                points.append((time.perf_counter() - start, log_loss(yte, model.predict_proba(xte)[:, 1])))
            curves["snap ml" + suffix] = points
    except Exception as error:  # noqa: BLE001 - a peer that cannot run is reported, not fatal
        print("snap ml skipped:", error, file=sys.stderr)

    # torch: sparse CSR input, nn.Linear weights, Adam, minibatches of 4096.
    try:
        import torch
        torch.set_num_threads(t)
        xt = torch.sparse_csr_tensor(torch.from_numpy(xtr.indptr.astype(np.int64)), torch.from_numpy(xtr.indices.astype(np.int64)),
                                     torch.from_numpy(xtr.data), size=xtr.shape)
        yt = torch.from_numpy(ytr.astype(np.float32))
        xe = torch.sparse_csr_tensor(torch.from_numpy(xte.indptr.astype(np.int64)), torch.from_numpy(xte.indices.astype(np.int64)),
                                     torch.from_numpy(xte.data), size=xte.shape)
        # The minibatches as torch CSR tensors, built before the clock starts.
        batches = []
        for lo in range(0, n, 4096):
            batch = xtr[lo:lo + 4096]
            batches.append((torch.sparse_csr_tensor(torch.from_numpy(batch.indptr.astype(np.int64)), torch.from_numpy(batch.indices.astype(np.int64)),
                                                    torch.from_numpy(batch.data), size=batch.shape), yt[lo:lo + 4096]))
        for penalty, suffix in ((l2, ""), (weak, ", C=100")):
            torch.manual_seed(0)
            linear = torch.nn.Linear(args.features, 1)
            opt = torch.optim.Adam(linear.parameters(), lr=0.01)
            points, elapsed = [], 0.0
            for epoch in range(10):
                start = time.perf_counter()
                for xb, yb in batches:
                    opt.zero_grad()
                    z = (xb @ linear.weight.T).squeeze(1) + linear.bias
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, yb) + penalty / 2 * (linear.weight ** 2).sum()
                    loss.backward()
                    opt.step()
                elapsed += time.perf_counter() - start
                with torch.no_grad():
                    p = torch.sigmoid((xe @ linear.weight.T).squeeze(1) + linear.bias).numpy()
                points.append((elapsed, log_loss(yte, p)))
            curves["torch adam b4096" + suffix] = points
    except Exception as error:  # noqa: BLE001
        print("torch skipped:", error, file=sys.stderr)

    best = min(loss for points in curves.values() for _, loss in points)
    target = best * 1.01
    print(f"{n} training rows × {args.features} features, {xtr.nnz} non-zeros; {t} thread(s); best held-out log-loss {best:.5f}")
    print(f"{'solver':30} {'to 1%':>10} {'best loss':>10} {'its time':>10}")
    summary = {}
    for name, points in curves.items():
        reached = next((s for s, loss in points if loss <= target), None)
        loss, seconds = min((loss, s) for s, loss in points)
        summary[name] = {"seconds_to_1pct": reached, "best_loss": loss, "points": points}
        print(f"{name:30} {('%.3fs' % reached) if reached is not None else 'never':>10} {loss:10.5f} {seconds:9.3f}s")
    print(json.dumps({"best": best, "threads": t, "solvers": summary}))


if __name__ == "__main__":
    main()
