"""optim's defaults beside scikit-learn, LIBLINEAR and Vowpal Wabbit on the real data sets of
Tests/CLITests/RealData (each peer with its own defaults, as a new user would run it), scored
on the same test rows. Peers come from PyPI in a virtual environment outside the repository:

    python3 -m venv /tmp/skenv && /tmp/skenv/bin/pip install scikit-learn pandas liblinear-official vowpalwabbit
    swift build -c release --product optim
    /tmp/skenv/bin/python tools/compare_real_data.py [--optim .build/release/optim]

Prints a Markdown table: accuracy (classification) or R² (diabetes) on the test rows, and each
fit's wall time (optim: the whole `optim train` process, loading included); then the mean over
the five cross-validation folds of reference.json (every row held out once) for optim's defaults
and scikit-learn's, raw and standardized.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")
DATA = os.path.join(os.path.dirname(__file__), "..", "Tests", "CLITests", "RealData")


def frame(name, part):
    return pd.read_csv(os.path.join(DATA, f"{name}-{part}.csv"))


def timed(fit):
    start = time.perf_counter()
    result = fit()
    return result, time.perf_counter() - start


def optim(binary, name, classification):
    with tempfile.TemporaryDirectory() as directory:
        weights = os.path.join(directory, "w.safetensors")
        train = os.path.join(DATA, f"{name}-train.csv")
        _, seconds = timed(lambda: subprocess.run([binary, "train", "--data", train, "--target", "target", "--save", weights, "-q"],
                                                  check=True, capture_output=True))
        out = subprocess.run([binary, "evaluate", "--weights", weights, "--data", os.path.join(DATA, f"{name}-test.csv"), "--json"],
                             check=True, capture_output=True, text=True).stdout
        scores = json.loads(out)
        return scores["accuracy" if classification else "r2"], seconds


def liblinear(x, y, xt, yt, classification):
    from liblinear.liblinearutil import parameter, predict, problem, train
    if classification:
        codes = {label: i for i, label in enumerate(sorted(set(y)))}
        labels, test_labels = [codes[v] for v in y], [codes.get(v, -1) for v in yt]
        options = "-s 0 -c 1 -B 1 -q"  # L2-regularized logistic regression (primal Newton), C = 1, a bias
    else:
        labels, test_labels = list(map(float, y)), list(map(float, yt))
        options = "-s 11 -c 1 -B 1 -q"  # L2-regularized L2-loss support vector regression
    model, seconds = timed(lambda: train(problem(labels, x.tolist()), parameter(options)))
    predicted, _, _ = predict(test_labels, xt.tolist(), model, "-q")
    score = accuracy_score(test_labels, predicted) if classification else r2_score(test_labels, predicted)
    return score, seconds


def vowpal(x, y, xt, yt, classification, passes=10):
    from vowpalwabbit import Workspace
    codes = {label: i for i, label in enumerate(sorted(set(y)))}
    k = len(codes)
    if classification and k == 2:
        arguments, label = "--loss_function logistic --link logistic", (lambda v: 1 if codes[v] == 1 else -1)
    elif classification:
        arguments, label = f"--oaa {k}", (lambda v: codes[v] + 1)
    else:
        arguments, label = "", float

    def line(features, target=None):
        return (f"{target} " if target is not None else "") + "| " + " ".join(f"f{j}:{v}" for j, v in enumerate(features) if v != 0)

    def fit():
        vw = Workspace(arguments + " --quiet")
        for _ in range(passes):  # VW's passes, in library mode: the same examples again
            for features, target in zip(x, y):
                vw.learn(line(features, label(target)))
        return vw

    vw, seconds = timed(fit)
    raw = [vw.predict(line(features)) for features in xt]
    if classification and k == 2:
        predicted = [1 if p > 0.5 else 0 for p in raw]
        truth = [codes[v] for v in yt]
    elif classification:
        predicted, truth = [p - 1 for p in raw], [codes[v] for v in yt]
    else:
        predicted, truth = raw, list(map(float, yt))
    vw.finish()
    score = accuracy_score(truth, predicted) if classification else r2_score(truth, predicted)
    return score, seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--optim", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "optim"))
    arguments = parser.parse_args()
    rows = []
    for name in ["iris", "wine", "breast_cancer", "digits", "diabetes"]:
        train, test = frame(name, "train"), frame(name, "test")
        classification = name != "diabetes"
        x, y = train.drop(columns=["target"]).to_numpy(float), train["target"].to_numpy()
        xt, yt = test.drop(columns=["target"]).to_numpy(float), test["target"].to_numpy()
        results = {"optim train (defaults)": optim(arguments.optim, name, classification)}
        if classification:
            results["scikit-learn LogisticRegression() / LinearRegression()"] = (lambda r: (accuracy_score(yt, r[0].predict(xt)), r[1]))(timed(lambda: LogisticRegression().fit(x, y)))
            results["scikit-learn StandardScaler + the same"] = (lambda r: (accuracy_score(yt, r[0].predict(xt)), r[1]))(
                timed(lambda: make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)))
        else:
            results["scikit-learn LogisticRegression() / LinearRegression()"] = (lambda r: (r2_score(yt, r[0].predict(xt)), r[1]))(timed(lambda: LinearRegression().fit(x, y)))
        results["LIBLINEAR -s 0 / -s 11, -c 1 -B 1"] = liblinear(x, y, xt, yt, classification)
        results["Vowpal Wabbit, 10 passes"] = vowpal(x, y, xt, yt, classification)
        rows.append((name, "accuracy" if classification else "R²", len(train), len(test), results))
    peers = list(dict.fromkeys(peer for row in rows for peer in row[4]))
    print("| data set (train / test rows) | metric | " + " | ".join(peers) + " |")
    print("|---|---|" + "---|" * len(peers))
    for name, metric, n, m, results in rows:
        cells = [f"{results[p][0]:.3f} ({results[p][1] * 1000:.0f} ms)" if p in results else "" for p in peers]
        print(f"| {name} ({n} / {m}) | {metric} | " + " | ".join(cells) + " |")
    cross_validated(arguments.optim)


def cross_validated(binary):
    reference = json.load(open(os.path.join(DATA, "reference.json")))
    print()
    print("| data set (rows) | metric | optim train (defaults) | scikit-learn default | scikit-learn StandardScaler + the same |")
    print("|---|---|---|---|---|")
    for name in ["iris", "wine", "breast_cancer", "digits", "diabetes"]:
        whole = pd.read_csv(os.path.join(DATA, f"{name}.csv"))
        folds = np.array(reference[name]["folds"])
        classification = name != "diabetes"
        mine, raw, scaled = [], [], []
        for k in range(5):
            train, test = whole[folds != k], whole[folds == k]
            x, y = train.drop(columns=["target"]).to_numpy(float), train["target"].to_numpy()
            xt, yt = test.drop(columns=["target"]).to_numpy(float), test["target"].to_numpy()
            score = accuracy_score if classification else r2_score
            make = LogisticRegression if classification else LinearRegression
            raw.append(score(yt, make().fit(x, y).predict(xt)))
            scaled.append(score(yt, make_pipeline(StandardScaler(), make()).fit(x, y).predict(xt)))
            with tempfile.TemporaryDirectory() as directory:
                a, b, w = (os.path.join(directory, n) for n in ("a.csv", "b.csv", "w.safetensors"))
                train.to_csv(a, index=False)
                test.to_csv(b, index=False)
                subprocess.run([binary, "train", "--data", a, "--target", "target", "--save", w, "-q"], check=True, capture_output=True)
                out = subprocess.run([binary, "evaluate", "--weights", w, "--data", b, "--json"], check=True, capture_output=True, text=True).stdout
                mine.append(json.loads(out)["accuracy" if classification else "r2"])
        print(f"| {name} ({len(whole)}) | {'accuracy' if classification else 'R²'} | {np.mean(mine):.3f} | {np.mean(raw):.3f} | {np.mean(scaled):.3f} |")


if __name__ == "__main__":
    main()
