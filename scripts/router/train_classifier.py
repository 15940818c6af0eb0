#!/usr/bin/env python3
"""Trains Switchboard's built-in task-difficulty classifier and writes the model the binary embeds.

Run (needs only Python 3.10+ and numpy; about a minute on 2 cores):

    python3 scripts/router/train_classifier.py [--data ../shared/data/routing-eval/dev.jsonl] [--folds 5] [--seeds 0,1,2]

It writes
  - scripts/router/difficulty.sbdc: the model (format below), the file `switchboard router score --classifier` takes;
  - Sources/SwitchboardRouting/Difficulty/DifficultyModel+Embedded.swift: the same bytes as a base64 string literal,
    the model the binary uses when no --classifier is given (no download, no file beside the binary);
  - Tests/difficulty/parity.jsonl: prompts and the scores this script computes for them,
    which the Swift parity test must reproduce within 1e-4.
and prints the cross-validated headline figure per benchmark: the smallest share of strong calls reaching 95% of
strong-only quality, for the classifier (each prompt scored by a model trained on the other folds), a random router
(exact expected value), the prompt-length heuristic and the oracle. With the defaults (5 folds, seeds 0, 1, 2) it
printed, on dev.jsonl:

    gsm8k  classifier 0.700 (seeds 0.708 0.665 0.727)  random 0.817  length 0.743  oracle 0.197
    mmlu   classifier 0.478 (seeds 0.482 0.472 0.479)  random 0.680  length 0.518  oracle 0.086

(The issue's targets, GSM8K <= 0.50 and MMLU <= 0.45, are not met. For scale: scoring MMLU prompts by their true
subject's cross-validated mean gain, a label the router never sees, reaches only about 0.44-0.46; on GSM8K the
reasoning cues gain a few points over the length heuristic. See scripts/router/README.md.)

Method. A prompt's text becomes hashed features (features.py: lowercased words, number shapes, symbols, and each
pair of neighbouring tokens, 2^16 buckets, weighted 1/sqrt(count); none for a free-form prompt with a number) plus
31 dense features (log counts of bytes, words, numbers, lines and symbols, one copy for multiple-choice prompts and
one for free-form ones, the multiple-choice flag, and a maths word problem's reasoning cues: see features.py). One ridge regression predicts the expected gain of the strong model over the weak one
(strong_correct - weak_correct). The target is denoised where the data allows: an MMLU prompt's target is its
subject's mean gain in the training rows (shrunk towards the overall mean), so the model learns which vocabulary
marks a subject the weak model is bad at, instead of memorising single noisy answers; other prompts keep their own
gain. Score = the predicted gain: higher = harder, route to the stronger model.

Model file (.sbdc), little-endian:
    "SBDC" | u32 version (3) | u32 bits | u32 dense count D (31) | f32 bias | f32 x D dense weights | f32 hash scale |
    u32 calibration count C | (f32 quality, f32 threshold) x C | i8 x 2^bits hashed weights
Hashed weight = i8 x hash scale. Score = bias + sum(dense_w * dense) + hash scale * sum(i8[bucket]) / sqrt(buckets).
Calibration: for a quality target q (share of strong-only quality), the score threshold that reached q on every
benchmark of the training file in cross-validation with the first seed (the lowest of the per-benchmark
thresholds), for rules that set a quality target instead of a raw threshold. The same data and seeds give the same bytes.
"""

import argparse
import base64
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from features import DENSE_NAMES, features  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BITS = 16
VERSION = 3          # the file format; 3: the dense features of features.py (31)
ALPHA = 10.0          # ridge penalty (sum-of-squares loss)
SHRINK = 10           # prior strength (in prompts) of a subject's mean gain towards the overall mean
QUALITIES = [round(0.80 + 0.01 * i, 2) for i in range(21)]

# Small talk and one-line look-ups, which both models answer: training rows with gain 0 (weak and strong right), so
# that short prompts unlike the benchmarks' do not inherit a benchmark's average gain. They are added to every
# training fold and never evaluated.
EASY_ANCHORS = [
    "hi", "hello", "hi, how are you", "hey there!", "good morning", "thanks!", "thank you so much", "ok", "bye",
    "how are you doing today?", "what's up?", "tell me a joke", "say hello", "nice to meet you",
    "What is the capital of France?", "What time zone is London in?", "Translate 'good morning' into Spanish.",
    "What is 2 + 2?", "Spell 'necessary'.", "Who wrote Romeo and Juliet?", "What colour is the sky?",
    "Give me a synonym for happy.", "How many days are in a week?", "What is the opposite of hot?",
    "Recommend a name for a cat.", "Is water wet?", "What does CPU stand for?", "Hola, ¿qué tal?",
    "Bonjour, comment ça va ?", "Wie geht's?", "Summarise this in one word: great.", "Thanks, that helped.",
    # one-step arithmetic, so that the word-problem cues (which need a number) do not flag every short sum
    "What is 7 times 8?", "What is 10% of 50?", "How many minutes are in 2 hours?", "What is half of 30?",
    "Convert 5 km to metres.", "What is 15 + 27?", "Round 3.14159 to two decimals.", "Is 17 a prime number?",
]


# ---------------------------------------------------------------------------------------------------------------
# Evaluation: the quality-cost curve and its headline figure (the same arithmetic as `switchboard router eval`).

def curve(scores, weak, strong):
    """Mean quality after sending the k highest-scoring prompts to the strong model, k = 0...n (ties averaged)."""
    scores = np.asarray(scores, float)
    order = np.argsort(-scores, kind="stable")
    s, gain = scores[order], (strong - weak)[order]
    n = len(s)
    q = np.empty(n + 1)
    q[0] = cum = weak.sum()
    i = 0
    while i < n:
        j = i
        while j < n and s[j] == s[i]:
            j += 1
        mean = gain[i:j].mean()
        q[i + 1:j + 1] = cum + mean * np.arange(1, j - i + 1)
        cum += gain[i:j].sum()
        i = j
    return q / n


def headline(scores, weak, strong, frac=0.95):
    """The smallest share of strong calls whose quality reaches frac of strong-only quality."""
    q = curve(scores, weak, strong)
    return int(np.argmax(q >= frac * strong.mean() - 1e-12)) / len(scores)


def random_headline(weak, strong, frac=0.95):
    w, s, n = weak.mean(), strong.mean(), len(weak)
    return math.ceil(n * (frac * s - w) / (s - w) - 1e-9) / n


def threshold_for(scores, weak, strong, frac):
    """The score threshold (route to strong when score >= threshold) that reaches frac of strong-only quality."""
    q = curve(scores, weak, strong)
    k = int(np.argmax(q >= frac * strong.mean() - 1e-12))
    s = np.sort(np.asarray(scores, float))[::-1]
    return float(s[k - 1]) if k > 0 else float(s[0]) + 1.0


# ---------------------------------------------------------------------------------------------------------------
# Features and the ridge regression (numpy only: conjugate gradients on the normal equations).

class Design:
    """The hashed part as COO arrays (duplicates merged) and the dense part."""

    def __init__(self, prompts, bits):
        rows, cols, vals, dense = [], [], [], []
        for i, p in enumerate(prompts):
            buckets, d = features(p, bits)
            v = 1.0 / math.sqrt(max(len(buckets), 1))
            rows += [i] * len(buckets)
            cols += buckets
            vals += [v] * len(buckets)
            dense.append(d)
        width = 1 << bits
        key = np.asarray(rows, np.int64) * width + np.asarray(cols, np.int64)
        uniq, inv = np.unique(key, return_inverse=True)
        self.vals = np.bincount(inv, weights=np.asarray(vals))
        self.rows, self.cols = uniq // width, uniq % width
        self.n, self.width = len(prompts), width
        self.dense = np.asarray(dense, float)

    def subset(self, idx):
        pos = -np.ones(self.n, np.int64)
        pos[idx] = np.arange(len(idx))
        keep = pos[self.rows] >= 0
        out = Design.__new__(Design)
        out.rows, out.cols, out.vals = pos[self.rows[keep]], self.cols[keep], self.vals[keep]
        out.n, out.width, out.dense = len(idx), self.width, self.dense[idx]
        return out

    def hashed_dot(self, w):
        return np.bincount(self.rows, weights=self.vals * w[self.cols], minlength=self.n)

    def hashed_tdot(self, r):
        return np.bincount(self.cols, weights=self.vals * r[self.rows], minlength=self.width)


class Model:
    def __init__(self, bias, dense_w, hash_w):
        self.bias, self.dense_w, self.hash_w = bias, dense_w, hash_w

    def predict(self, design):
        return self.bias + design.dense @ self.dense_w + design.hashed_dot(self.hash_w)


def fit_ridge(design, y, alpha=ALPHA, iters=400):
    """Ridge regression with an unpenalised intercept; dense features standardised inside, returned unstandardised."""
    mu, sd = design.dense.mean(0), design.dense.std(0) + 1e-12
    z = (design.dense - mu) / sd
    k, width = z.shape[1], design.width

    def matvec(p):  # (A^T A + penalty) p, A = [hashed | z | 1]
        a = design.hashed_dot(p[:width]) + z @ p[width:width + k] + p[-1]
        g = np.concatenate([design.hashed_tdot(a), z.T @ a, [a.sum()]])
        g[:-1] += alpha * p[:-1]
        return g

    b = np.concatenate([design.hashed_tdot(y), z.T @ y, [y.sum()]])
    x = np.zeros_like(b)
    r = b - matvec(x)
    d = r.copy()
    rr = r @ r
    for _ in range(iters):
        ad = matvec(d)
        step = rr / (d @ ad)
        x += step * d
        r -= step * ad
        rr_new = r @ r
        if rr_new < 1e-20 * (b @ b):
            break
        d = r + (rr_new / rr) * d
        rr = rr_new
    dense_w = x[width:width + k] / sd
    return Model(x[-1] - dense_w @ mu, dense_w, x[:width])


def targets(rows, idx):
    """The denoised training target of each row in idx (see the module doc), from those rows alone."""
    gain = np.array([rows[i]["strong_correct"] - rows[i]["weak_correct"] for i in idx], float)
    y = gain.copy()
    overall = gain.mean()
    domains = np.array([rows[i].get("domain") or "" for i in idx])
    for d in set(domains) - {""}:
        m = domains == d
        y[m] = (gain[m].sum() + SHRINK * overall) / (m.sum() + SHRINK)
    return y


def quantise(model):
    """Float32 header values and int8 hashed weights, as the file stores them (the scores Swift reproduces)."""
    scale = float(np.float32(max(np.abs(model.hash_w).max(), 1e-12) / 127.0))
    q = np.clip(np.round(model.hash_w / scale), -127, 127).astype(np.int8)
    return Model(float(np.float32(model.bias)), model.dense_w.astype(np.float32).astype(float),
                 q.astype(float) * scale), q, scale


# ---------------------------------------------------------------------------------------------------------------

def fold_ids(n, folds, seed):
    perm = np.random.default_rng(seed).permutation(n)
    ids = np.empty(n, int)
    ids[perm] = np.arange(n) % folds
    return ids


def cross_validate(rows, n_data, design, folds, seed):
    """Out-of-fold scores of the first n_data rows; the rows after them (the anchors) are in every training fold."""
    scores = np.zeros(n_data)
    ids = fold_ids(n_data, folds, seed)
    anchors = np.arange(n_data, len(rows))
    for f in range(folds):
        train, test = np.concatenate([np.where(ids != f)[0], anchors]), np.where(ids == f)[0]
        model = fit_ridge(design.subset(train), targets(rows, train))
        scores[test] = quantise(model)[0].predict(design.subset(test))
    return scores


def write_outputs(model, q, scale, calibration, rows, out_model):
    dense_w = [float(w) for w in model.dense_w]
    blob = b"SBDC" + struct.pack("<III", VERSION, BITS, len(dense_w))
    blob += struct.pack("<f", model.bias) + struct.pack(f"<{len(dense_w)}f", *dense_w) + struct.pack("<f", scale)
    blob += struct.pack("<I", len(calibration))
    for quality, threshold in calibration:
        blob += struct.pack("<ff", quality, threshold)
    blob += q.tobytes()
    with open(out_model, "wb") as fh:
        fh.write(blob)

    text = base64.b64encode(blob).decode()
    lines = [text[i:i + 248] for i in range(0, len(text), 248)]
    swift = os.path.join(ROOT, "Sources/SwitchboardRouting/Difficulty/DifficultyModel+Embedded.swift")
    with open(swift, "w") as fh:
        fh.write("// Generated by scripts/router/train_classifier.py: do not edit. The built-in difficulty model\n")
        fh.write(f"// ({len(blob)} bytes, {BITS}-bit hashed features), base64 in a string literal (compiles fast).\n\n")
        fh.write("extension DifficultyModel {\n")
        fh.write("    /// The embedded model's bytes, base64 with line breaks.\n")
        fh.write('    static let embeddedBase64 = """\n')
        for line in lines:
            fh.write(f"        {line}\n")
        fh.write('        """\n}\n')

    # Parity fixture: some training prompts plus open-ended and edge-case ones, with this script's scores.
    extra = ["", "hi, how are you", "  \n\t ", "Ünïcödé — ÇA VA? 東京は晴れ。 ", "x2+3y=7; f(x)=x^2 {a:[1,2]}",
             "Write a haiku about autumn.", "Implement a lock-free queue in C++ and prove it is linearizable.",
             "A" * 3000, "What is 2 + 2?", "It costs $3.50, or 1.2.3 / 4/5 of 20% more. Half of them left. Why?",
             "Sam had 12 apples and gave a third of them away; twice as many pears remain. How many in total?",
             "Which one?\nA. 1.5\nB. 3/4\nC. none\nD. all\nAnswer:", "Pick:\nA. yes\nC. no", "x\nB. y\nA.  z",
             "WHAT IS 20 PERCENT OF 45.5, Each Hour?", "café 3.5€ per kilo, ¿cuánto es 2.5 kilos?"]
    idx = list(range(0, len(rows), max(1, len(rows) // 40)))
    prompts = [rows[i]["prompt"] for i in idx] + extra
    sample = Design(prompts, BITS)
    scores = model.predict(sample)
    fixture = os.path.join(ROOT, "Tests/difficulty/parity.jsonl")
    os.makedirs(os.path.dirname(fixture), exist_ok=True)
    with open(fixture, "w") as fh:
        for p, s in zip(prompts, scores):
            fh.write(json.dumps({"prompt": p, "score": round(float(s), 7)}, ensure_ascii=False) + "\n")
    return len(blob), swift, fixture


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "routing-eval", "dev.jsonl"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default=os.path.join(ROOT, "scripts", "router", "difficulty.sbdc"))
    args = ap.parse_args()

    with open(args.data) as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    n_data = len(rows)
    rows += [{"prompt": p, "weak_correct": True, "strong_correct": True} for p in EASY_ANCHORS]
    design = Design([r["prompt"] for r in rows], BITS)
    data = rows[:n_data]
    bench = np.array([r.get("benchmark", "all") for r in data])
    weak = np.array([r["weak_correct"] for r in data], float)
    strong = np.array([r["strong_correct"] for r in data], float)
    length = np.array([len(r["prompt"].encode()) for r in data], float)
    seeds = [int(s) for s in args.seeds.split(",")]

    print(f"{n_data} prompts (+{len(EASY_ANCHORS)} easy anchors in training), {args.folds}-fold cross-validation,"
          f" seeds {seeds}; dense features {DENSE_NAMES}")
    print("share of strong calls reaching 95% of strong-only quality (lower is better):")
    cv = {s: cross_validate(rows, n_data, design, args.folds, s) for s in seeds}
    calibration = []
    for b in sorted(set(bench)):
        m = bench == b
        per_seed = [headline(cv[s][m], weak[m], strong[m]) for s in seeds]
        print(f"  {b:6s} classifier {np.mean(per_seed):.3f} (seeds {' '.join(f'{x:.3f}' for x in per_seed)})"
              f"  random {random_headline(weak[m], strong[m]):.3f}  length {headline(length[m], weak[m], strong[m]):.3f}"
              f"  oracle {headline(strong[m] - weak[m], weak[m], strong[m]):.3f}")
    for quality in QUALITIES:
        per_bench = [threshold_for(cv[seeds[0]][bench == b], weak[bench == b], strong[bench == b], quality)
                     for b in sorted(set(bench))]
        calibration.append((quality, min(per_bench)))

    model, q, scale = quantise(fit_ridge(design, targets(rows, np.arange(len(rows)))))
    size, swift, fixture = write_outputs(model, q, scale, calibration, data, args.out)
    print(f"wrote {args.out} ({size} bytes), {os.path.relpath(swift, ROOT)}, {os.path.relpath(fixture, ROOT)}")
    print("threshold for 95% quality:", dict(calibration)[0.95])


if __name__ == "__main__":
    main()
