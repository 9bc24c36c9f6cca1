#!/usr/bin/env python3
"""Peer detectors for `mlads eval`, on one labelled conn log, with the protocol mlads uses.

Protocol: flows sorted by ts (stable), the first --split of them / the rest; every peer is fit on
the non-malicious flows of the first part and scores every flow of the rest.

Features (the same for every peer): log1p of duration, orig/resp bytes, orig/resp packets and
orig/resp IP bytes; the responder port's IANA class (0 system <1024, 1 registered, 2 dynamic);
one-hot proto, conn_state and service (categories from the training part; unseen ones are
all-zero). Standardised with the training part's mean and deviation (constant columns are left
as they are), which the distance-based peers need and the others are indifferent to.

Peers (--peers, comma-separated, default all):
  iforest  scikit-learn IsolationForest, 100 trees, random_state --seed
  knn      PyOD KNN, mean distance to the 5 nearest training flows
  lof      PyOD LOF, 20 neighbours
  hbos     PyOD HBOS, default bins
  ecod     PyOD ECOD
  copod    PyOD COPOD
knn and lof are fit on at most --max-fit training flows (a seeded uniform sample when there are
more), which bounds their cost; the output says how many each was fit on.

Prints one JSON object:
  {"n_train": N, "n_test": M, "peers": [{"name", "roc_auc", "pr_auc", "recall",
   "benign_alert_rate", "fit_on", "seconds"} or {"name", "error"}, ...]}
recall and benign_alert_rate are at the budget --alpha: a flow alerts when its score is above the
(1 - alpha) quantile of the peer's scores on its own training flows. A peer that fails reports its
error and the others still run.

Usage: peers.py [--alpha A] [--seed S] [--split F] [--peers LIST] [--max-fit N] FILE
       (Zeek TSV or JSON with label columns, or IoT-23 CSV; plain or gzip)
"""
import argparse
import csv
import gzip
import json
import math
import sys
import time

try:
    import numpy as np
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import average_precision_score, roc_auc_score
except ImportError:  # pragma: no cover
    sys.exit("peers.py needs numpy and scikit-learn: python3 -m pip install numpy scikit-learn pyod")


def open_text(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    if gz:
        return gzip.open(path, "rt", newline="")
    return open(path, newline="")


def rows(path):
    with open_text(path) as f:
        first = f.read(1)
        f.seek(0)
        if first == "{":  # Zeek JSON lines
            for line in f:
                if line.strip():
                    obj = json.loads(line)
                    yield {k: ("" if v in ("-", None) else str(v)) for k, v in obj.items() if not isinstance(v, list)}
        elif first == "#":
            fields = None
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("#fields\t"):
                    fields = line.split("\t")[1:]
                    spaced = None
                    if " " in fields[-1]:  # IoT-23: "tunnel_parents   label   detailed-label"
                        spaced = len(fields) - 1
                        fields = fields[:-1] + fields[-1].split()
                    continue
                if line.startswith("#") or not line:
                    continue
                vals = line.split("\t")
                if spaced is not None and len(vals) == spaced + 1:
                    vals = vals[:-1] + vals[-1].split()
                yield {k: ("" if v in ("-", "(empty)") else v) for k, v in zip(fields, vals)}
        else:
            for r in csv.DictReader(f):
                yield {k: ("" if v in ("-",) else v) for k, v in r.items()}


def num(r, k):
    v = r.get(k, "")
    try:
        return float(v) if v else 0.0
    except ValueError:
        return 0.0


NUMERIC = ["duration", "orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts", "orig_ip_bytes", "resp_ip_bytes"]
CATS = ["proto", "conn_state", "service"]


def port_class(r):
    p = int(num(r, "id.resp_p"))
    return 0 if p < 1024 else (1 if p < 49152 else 2)


def pyod_peer(name):
    """Returns a constructor for a PyOD model; ImportError names the missing package."""
    try:
        if name == "knn":
            from pyod.models.knn import KNN
            return lambda: KNN(n_neighbors=5, method="mean", n_jobs=1)
        if name == "lof":
            from pyod.models.lof import LOF
            return lambda: LOF(n_neighbors=20, n_jobs=1)
        if name == "hbos":
            from pyod.models.hbos import HBOS
            return HBOS
        if name == "ecod":
            from pyod.models.ecod import ECOD
            return ECOD
        if name == "copod":
            from pyod.models.copod import COPOD
            return COPOD
    except ImportError as e:
        raise RuntimeError(f"{e}: python3 -m pip install pyod") from e
    raise ValueError(f"unknown peer {name!r}")


PEERS = ["iforest", "knn", "lof", "hbos", "ecod", "copod"]
SAMPLED = {"knn", "lof"}  # cost grows faster than linearly in the training size


def fit_score(name, Xtr, Xte, seed, max_fit):
    """Fits one peer on Xtr; returns (training scores, test scores, flows fit on). Higher is more anomalous."""
    if name in SAMPLED and len(Xtr) > max_fit:
        Xtr = Xtr[np.random.default_rng(seed).choice(len(Xtr), max_fit, replace=False)]
    if name == "iforest":
        clf = IsolationForest(n_estimators=100, random_state=seed).fit(Xtr)
        return -clf.score_samples(Xtr), -clf.score_samples(Xte), len(Xtr)
    clf = pyod_peer(name)().fit(Xtr)
    # decision_scores_ are the training flows' own scores (leave-one-out for knn and lof)
    return np.asarray(clf.decision_scores_), np.asarray(clf.decision_function(Xte)), len(Xtr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alpha", type=float, default=0.01, help="alert budget: the false-positive rate on training flows")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--split", type=float, default=0.5, help="share of the log (in time) to train on")
    ap.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers to run (default: %(default)s)")
    ap.add_argument("--max-fit", type=int, default=20000, help="most training flows knn and lof are fit on")
    ap.add_argument("file")
    a = ap.parse_args()
    names = [p for p in a.peers.split(",") if p]
    for p in names:
        if p not in PEERS:
            ap.error(f"unknown peer {p!r} (known: {', '.join(PEERS)})")

    data = list(rows(a.file))
    data.sort(key=lambda r: num(r, "ts"))  # stable, like Go's SortStable
    half = int(a.split * len(data))
    mal = lambda r: (r.get("label") or "").lower().startswith("malicious")
    train = [r for r in data[:half] if not mal(r)]
    test = data[half:]

    vocab = {c: sorted({r.get(c, "") for r in train}) for c in CATS}
    def vec(r):
        x = [math.log1p(max(num(r, k), 0.0)) for k in NUMERIC] + [port_class(r)]
        for c in CATS:
            x += [1.0 if r.get(c, "") == v else 0.0 for v in vocab[c]]
        return x

    Xtr = np.array([vec(r) for r in train])
    Xte = np.array([vec(r) for r in test])
    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0)
    sd[sd == 0] = 1.0
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    y = np.array([1 if mal(r) else 0 for r in test])

    out = {"n_train": len(train), "n_test": len(test), "peers": []}
    for name in names:
        t0 = time.monotonic()
        try:
            s_train, s_test, n = fit_score(name, Xtr, Xte, a.seed, a.max_fit)
        except Exception as e:  # one peer's failure is reported, the others still run
            out["peers"].append({"name": name, "error": f"{type(e).__name__}: {e}"})
            continue
        alert = s_test > np.quantile(s_train, 1 - a.alpha)
        out["peers"].append({
            "name": name,
            "roc_auc": float(roc_auc_score(y, s_test)),
            "pr_auc": float(average_precision_score(y, s_test)),
            "recall": float(alert[y == 1].mean()) if (y == 1).any() else 0.0,
            "benign_alert_rate": float(alert[y == 0].mean()) if (y == 0).any() else 0.0,
            "fit_on": n,
            "seconds": round(time.monotonic() - t0, 3),
        })
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
