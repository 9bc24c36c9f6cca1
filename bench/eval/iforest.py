#!/usr/bin/env python3
"""Peer baseline for `mlads eval`: scikit-learn's IsolationForest on one labelled conn log.

Same protocol as mlads: flows sorted by ts (stable), first half / second half; fit on the
non-malicious flows of the first half, score every flow of the second half. Features: log1p of
duration, orig/resp bytes, orig/resp packets and orig/resp IP bytes; the responder port's IANA
class (0 system <1024, 1 registered, 2 dynamic); one-hot proto, conn_state and service
(categories from the training half; unseen ones are all-zero). 100 trees.

Prints one JSON object: roc_auc, pr_auc, recall and benign_alert_rate at the budget
(--alpha: the threshold is the (1-alpha) quantile of the training scores).

Usage: iforest.py [--alpha A] [--seed S] [--split F] FILE   (Zeek TSV or JSON with label columns, or IoT-23 CSV; plain or gzip)
"""
import argparse
import csv
import gzip
import json
import math
import sys

try:
    import numpy as np
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import average_precision_score, roc_auc_score
except ImportError:  # pragma: no cover
    sys.exit("iforest.py needs numpy and scikit-learn: pip install numpy scikit-learn")


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--split", type=float, default=0.5, help="share of the log (in time) to train on")
    ap.add_argument("file")
    a = ap.parse_args()

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
    y = np.array([1 if mal(r) else 0 for r in test])
    clf = IsolationForest(n_estimators=100, random_state=a.seed).fit(Xtr)
    s = -clf.score_samples(Xte)
    thr = np.quantile(-clf.score_samples(Xtr), 1 - a.alpha)
    alert = s > thr
    out = {
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "recall": float(alert[y == 1].mean()) if (y == 1).any() else 0.0,
        "benign_alert_rate": float(alert[y == 0].mean()) if (y == 0).any() else 0.0,
        "n_train": len(train),
        "n_test": len(test),
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
