#!/usr/bin/env python3
"""Measures the shipped injection model (scripts/guardrails/injection.sbij, the bytes the binary embeds) on a split of
Tests/guardrails/injection-corpus.jsonl and prints precision, recall and F1 overall and per source, at the model's
default threshold or --threshold. The Swift test suite asserts the same figures (the scores are the same, the parity
test checks it).

    python3 scripts/guardrails/eval.py [--split test] [--threshold T] [--errors]
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_detector as T  # noqa: E402


def read_model(path):
    blob = open(path, "rb").read()
    assert blob[:4] == b"SBIJ"
    version, bits = struct.unpack_from("<II", blob, 4)
    bias, scale, threshold, _margin, _floor = struct.unpack_from("<fffff", blob, 12)
    off = 32
    (r,) = struct.unpack_from("<I", blob, off)
    off += 4
    for _ in range(r):
        off += 1 + blob[off]
    wd = struct.unpack_from(f"<{r}f", blob, off)
    q = np.frombuffer(blob[len(blob) - (1 << bits):], dtype=np.int8)
    return T.Model(bias, np.array(wd), scale, q, threshold)


def table(rows, scores, threshold):
    y = np.array([1 if r["label"] == "attack" else 0 for r in rows])
    s = np.array(scores)
    lines = []
    p, rc, f = T.metrics(s, y, threshold)
    lines.append(("all", len(rows), int(y.sum()), p, rc, f))
    keys = sorted({(r["source"] + (":" + r["category"] if "category" in r else "")) for r in rows})
    for k in keys:
        m = np.array([(r["source"] + (":" + r["category"] if "category" in r else "")) == k for r in rows])
        n_att = int(y[m].sum())
        flagged = int((s[m] >= threshold).sum())
        lines.append((k, int(m.sum()), n_att, flagged))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="test")
    ap.add_argument("--threshold", type=float)
    ap.add_argument("--errors", action="store_true")
    args = ap.parse_args()
    model = read_model(T.MODEL)
    threshold = args.threshold if args.threshold is not None else model.threshold
    rows = T.load(args.split)
    scored = [model.score(r["text"]) for r in rows]
    scores = [s for s, _ in scored]
    lines = table(rows, scores, threshold)
    _, n, na, p, rc, f = lines[0]
    print(f"split {args.split}, threshold {threshold:.2f}: {n} texts ({na} attacks)")
    print(f"precision {p:.3f}  recall {rc:.3f}  F1 {f:.3f}")
    print(f"| source | texts | label | flagged | rate |")
    print(f"|---|---:|---|---:|---:|")
    for k, n, na, flagged in lines[1:]:
        label = "attack" if na else "benign"
        rate = flagged / n
        what = "recall" if na else "false positives"
        print(f"| {k} | {n} | {label} | {flagged} | {rate:.3f} ({what}) |")
    if args.errors:
        for r, (s, reasons) in zip(rows, scored):
            wrong = (s >= threshold) != (r["label"] == "attack")
            if wrong:
                print(f"\n[{r['label']} {r['source']} {s:.3f} {reasons}] {r['text'][:300]!r}")


if __name__ == "__main__":
    main()
