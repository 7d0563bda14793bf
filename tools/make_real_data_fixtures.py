"""Real data sets for the CLI's first-try tests, exported as users export them, with
scikit-learn's reference scores on the same held-out rows.

Run once, in a virtual environment outside the repository (CI never installs scikit-learn):

    python3 -m venv /tmp/skenv && /tmp/skenv/bin/pip install scikit-learn pandas
    /tmp/skenv/bin/python tools/make_real_data_fixtures.py Tests/CLITests/RealData

For each data set bundled with scikit-learn (iris, wine, breast_cancer, digits, diabetes) it
splits the rows once (a quarter held out, stratified for classes, random_state=0) and writes the
training and test rows in several export recipes:

    csv        df.to_csv(index=False)
    csv_index  df.to_csv()                       (pandas' unnamed index column first)
    sorted     df.sort_values(target).to_csv(index=False)   (rows grouped by class)
    npy        np.save(df.to_numpy())             (float64, the target last)
    svm0/svm1  dump_svmlight_file(zero_based=True / False)

and reference.json: LogisticRegression() (or LinearRegression()) fitted on the training rows
and scored on the test rows, raw and standardized (a StandardScaler pipeline).

For cross-validation it also writes each whole set as {name}.csv (to_csv(index=False)) and, in
reference.json, a fold (0-4) per row from StratifiedKFold(5, shuffle=True, random_state=0) (KFold
for regression) with scikit-learn's score on each fold's rows, fitted on the other four: every
row is held out once, so a set's mean score does not hang on a single split's few rows.
"""
import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.datasets import dump_svmlight_file
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
import warnings

warnings.filterwarnings("ignore")

SETS = {
    # name: (loader, classification, text labels)
    "iris": (datasets.load_iris, True, True),
    "wine": (datasets.load_wine, True, False),
    "breast_cancer": (datasets.load_breast_cancer, True, True),
    "digits": (datasets.load_digits, True, False),
    "diabetes": (lambda **k: datasets.load_diabetes(scaled=False, **k), False, False),
}


def main(out):
    os.makedirs(out, exist_ok=True)
    reference = {}
    for name, (loader, classification, text_labels) in SETS.items():
        bunch = loader(as_frame=True)
        frame = bunch.frame.copy()
        frame.columns = [str(c) for c in frame.columns]
        target = "target"
        if text_labels:
            frame[target] = np.asarray(bunch.target_names)[frame[target].to_numpy()]
        train, test = train_test_split(frame, test_size=0.25, random_state=0,
                                       stratify=frame[target] if classification else None)
        x_train, x_test = train.drop(columns=[target]).to_numpy(), test.drop(columns=[target]).to_numpy()
        y_train, y_test = train[target].to_numpy(), test[target].to_numpy()
        if classification:
            raw = LogisticRegression().fit(x_train, y_train)
            scaled = make_pipeline(StandardScaler(), LogisticRegression()).fit(x_train, y_train)
            entry = {"metric": "accuracy", "logistic_regression": accuracy_score(y_test, raw.predict(x_test)),
                     "standardized_logistic_regression": accuracy_score(y_test, scaled.predict(x_test))}
        else:
            raw = LinearRegression().fit(x_train, y_train)
            entry = {"metric": "r2", "linear_regression": r2_score(y_test, raw.predict(x_test))}
        entry.update(rows=len(frame), features=x_train.shape[1], test_rows=len(test))
        frame.to_csv(os.path.join(out, f"{name}.csv"), index=False)
        x_all, y_all = frame.drop(columns=[target]).to_numpy(), frame[target].to_numpy()
        splitter = StratifiedKFold(5, shuffle=True, random_state=0) if classification else KFold(5, shuffle=True, random_state=0)
        folds, fold_scores = [0] * len(frame), []
        for k, (rest, held) in enumerate(splitter.split(x_all, y_all)):
            for i in held:
                folds[i] = k
            if classification:
                model = LogisticRegression().fit(x_all[rest], y_all[rest])
                fold_scores.append(accuracy_score(y_all[held], model.predict(x_all[held])))
            else:
                model = LinearRegression().fit(x_all[rest], y_all[rest])
                fold_scores.append(r2_score(y_all[held], model.predict(x_all[held])))
        entry.update(folds=folds, fold_scores=fold_scores)
        reference[name] = entry
        for part, rows in (("train", train), ("test", test)):
            base = os.path.join(out, f"{name}-{part}")
            rows.to_csv(base + ".csv", index=False)
            rows.to_csv(base + "-index.csv")
            if part == "train":
                rows.sort_values(target, kind="stable").to_csv(base + "-sorted.csv", index=False)
            if not text_labels:
                np.save(base + ".npy", rows.to_numpy())
                features, labels = rows.drop(columns=[target]).to_numpy(), rows[target].to_numpy()
                dump_svmlight_file(features, labels, base + "-0.svm", zero_based=True)
                dump_svmlight_file(features, labels, base + "-1.svm", zero_based=False)
        print(name, {k: v for k, v in entry.items() if k != "folds"})
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/CLITests/RealData")
