#!/usr/bin/env python3
"""Experiment: a "number of solution steps" predictor learnt from GSM8K's train split, as a difficulty signal for
maths word problems (issue 15's GSM8K target). Not part of the shipped model; see scripts/router/README.md.

Data (not committed; get it yourself):
  - GSM8K's own repository, github.com/openai/grade-school-math (MIT licence, Copyright (c) 2021 OpenAI):
    grade_school_math/data/train.jsonl (7,473 problems with worked solutions) and test.jsonl (1,319). E.g.
        git clone https://github.com/openai/grade-school-math /tmp/gsm-repo
        cp /tmp/gsm-repo/grade_school_math/data/{train,test}.jsonl /tmp/gsm/
    Each solution is lines of steps, each calculation annotated `<<48/2=24>>`, and a last line `#### answer`.
  - dev.jsonl: ../shared/data/routing-eval/dev.jsonl (see its README). Its 651 GSM8K prompts are all, verbatim,
    questions of GSM8K's *test* split (checked here); none is in the train split. The predictor is trained on
    train.jsonl only, minus any train question sharing over half of its word 8-grams with a dev prompt (a template
    near-duplicate, same wording with other numbers and nouns; 2 found). test.jsonl is used only to measure the predictor, never to train it.

Run (numpy only; about 7 minutes for seeds 0-9 on 2 cores):
    python3 scripts/router/experiment_gsm8k_steps.py --gsm /tmp/gsm [--seeds 0,1,2,3,4,5,6,7,8,9]

What it does:
  1. Labels per train problem: steps = number of `<<...>>` annotations; lines = solution lines before `####`;
     ops = distinct operators in the annotations; digits = digits of the answer.
  2. A steps predictor from the question alone: ridge on the scorer's own token hashes (features.tokens: words,
     number shapes, symbols, and neighbouring pairs, 2^BITS buckets, weighted 1/sqrt(count)) plus the 31 dense
     features, target log1p(steps). Alpha picked on a 20% hold-out of train; Spearman reported on that hold-out and
     on test.jsonl (all of it, and the part not in dev.jsonl).
  3. The headline on dev.jsonl with train_classifier.py's protocol (5 folds, its split, its ridge, anchors, targets):
     the shipped model vs the shipped model plus the predicted log-steps as a 32nd dense feature (gated to maths word
     problems: free-form with a number; 0 otherwise), and the predicted steps directly as the GSM8K score (no dev
     fitting at all); also with a second predictor for the solution's line count. The dev prompts' *true* solution
     labels (from test.jsonl: steps, solution length, steps >= 6) as the extra feature give this signal's ceiling.

Result (README, "What was tried"): the predictor is fair (Spearman 0.63 on a train hold-out, 0.61 on test.jsonl),
but the solution's step count barely relates to the strong-minus-weak gain on dev.jsonl (Spearman 0.035 for the
*true* steps), so neither the predicted nor even the true labels move the GSM8K headline (0.700 shipped, 0.711 with
predicted steps, 0.710 with true steps, seeds 0-9). Not worth porting.
"""

import argparse
import json
import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from features import FNV_PRIME, MASK32, dense_features, fmix32, pair_key, tokens  # noqa: E402,F401
import train_classifier as tc  # noqa: E402

ROOT = tc.ROOT
BITS = 16


def norm(s):
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def grams(s, k=8):
    w = norm(s).split()
    return {tuple(w[i:i + k]) for i in range(len(w) - k + 1)}


def labels(answer):
    body, _, final = answer.rpartition("####")
    calcs = re.findall(r"<<([^>]*)>>", body)
    lines = [ln for ln in body.strip().split("\n") if ln.strip()]
    ops = set()
    for c in calcs:
        ops |= set(re.findall(r"[-+*/]", c.split("=")[0]))
    digits = len(re.sub(r"[^0-9]", "", final.split(".")[0]))
    return {"steps": len(calcs), "lines": len(lines), "ops": len(ops), "digits": digits}


def rank(x):
    x = np.asarray(x, float)
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    xs = x[order]
    i = 0
    while i < len(x):  # average ties
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2
        i = j + 1
    return r


def spearman(a, b):
    return float(np.corrcoef(rank(a), rank(b))[0, 1])


def design(prompts, bits=BITS, hashed=True):
    """A train_classifier.Design with every prompt's token and pair hashes (also for maths prompts) + 31 dense."""
    rows, cols, vals, dense = [], [], [], []
    mask = (1 << bits) - 1
    for i, p in enumerate(prompts):
        hashes, counts, cues, choice = tokens(p)
        b = [fmix32(h) & mask for h in hashes] + [fmix32(pair_key(x, y)) & mask for x, y in zip(hashes, hashes[1:])]
        if not hashed:
            b = []
        v = 1.0 / math.sqrt(max(len(b), 1))
        rows += [i] * len(b)
        cols += b
        vals += [v] * len(b)
        dense.append(dense_features(counts, cues, choice))
    width = 1 << bits
    key = np.asarray(rows, np.int64) * width + np.asarray(cols, np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    d = tc.Design.__new__(tc.Design)
    d.vals = np.bincount(inv, weights=np.asarray(vals, float)) if len(vals) else np.zeros(0)
    d.rows, d.cols = uniq // width, uniq % width
    d.n, d.width, d.dense = len(prompts), width, np.asarray(dense, float)
    return d


def is_maths(prompt):
    _, counts, _, choice = tokens(prompt)
    return (not choice) and counts[2] > 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gsm", default="/tmp/gsm", help="folder with GSM8K's train.jsonl and test.jsonl")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "routing-eval", "dev.jsonl"))
    ap.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()

    train = [json.loads(line) for line in open(os.path.join(args.gsm, "train.jsonl"))]
    test = [json.loads(line) for line in open(os.path.join(args.gsm, "test.jsonl"))]
    with open(args.data) as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    n_data = len(rows)
    dev_gsm = [r["prompt"] for r in rows if r["benchmark"] == "gsm8k"]

    # Overlap: dev GSM8K prompts vs the two splits (exact and normalised), and template near-duplicates in train.
    for name, split in (("train", train), ("test", test)):
        exact = {q["question"] for q in split}
        normed = {norm(q["question"]) for q in split}
        print(f"dev GSM8K prompts in GSM8K {name}: exact {sum(p in exact for p in dev_gsm)}, "
              f"normalised {sum(norm(p) in normed for p in dev_gsm)} of {len(dev_gsm)}")
    dev_grams = {}
    for j, p in enumerate(dev_gsm):
        for g in grams(p):
            dev_grams.setdefault(g, set()).add(j)
    near = set()
    for i, q in enumerate(train):
        gq = grams(q["question"])
        hits = {}
        for g in gq:
            for j in dev_grams.get(g, ()):
                hits[j] = hits.get(j, 0) + 1
        if hits and max(hits.values()) > 0.5 * max(len(gq), 1):
            near.add(i)
    train = [q for i, q in enumerate(train) if i not in near]
    print(f"train questions sharing >50% of word 8-grams with a dev prompt: {len(near)} (excluded); "
          f"{len(train)} left")

    lab_tr = [labels(q["answer"]) for q in train]
    lab_te = [labels(q["answer"]) for q in test]
    steps_tr = np.array([lab["steps"] for lab in lab_tr], float)
    steps_te = np.array([lab["steps"] for lab in lab_te], float)
    print("train steps: mean %.2f, distribution %s" % (steps_tr.mean(), np.bincount(steps_tr.astype(int)).tolist()))
    for k in ("lines", "ops", "digits"):
        print(f"  Spearman(steps, {k}) on train: {spearman(steps_tr, [lab[k] for lab in lab_tr]):.3f}")

    # 2. The steps predictor.
    d_tr = design([q["question"] for q in train])
    d_te = design([q["question"] for q in test])
    y_tr = np.log1p(steps_tr)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(train))
    hold, fit = perm[: len(train) // 5], perm[len(train) // 5:]
    best = None
    for hashed in (False, True):
        dd = d_tr if hashed else design([q["question"] for q in train], hashed=False)
        for alpha in ((1.0, 3.0, 10.0, 30.0) if hashed else (1.0, 10.0, 100.0)):
            m = tc.fit_ridge(dd.subset(fit), y_tr[fit], alpha=alpha)
            pred = m.predict(dd.subset(hold))
            rho = spearman(pred, steps_tr[hold])
            print(f"  steps predictor ({'hashed+dense' if hashed else 'dense only'}, alpha {alpha:g}): "
                  f"hold-out Spearman {rho:.3f}, MAE {np.abs(np.expm1(pred) - steps_tr[hold]).mean():.2f} steps")
            if hashed and (best is None or rho > best[1]):
                best = (alpha, rho)
    alpha = best[0]
    predictor, q, scale = tc.quantise(tc.fit_ridge(d_tr, y_tr, alpha=alpha))  # int8 hashed weights, as shipped
    pred_te = predictor.predict(d_te)
    dev_set = set(dev_gsm)
    in_dev = np.array([q_["question"] in dev_set for q_ in test])
    print(f"steps predictor alpha {alpha:g} (int8): Spearman on test.jsonl {spearman(pred_te, steps_te):.3f} "
          f"(not in dev {spearman(pred_te[~in_dev], steps_te[~in_dev]):.3f}, "
          f"dev part {spearman(pred_te[in_dev], steps_te[in_dev]):.3f}); "
          f"length alone {spearman([len(q_['question']) for q_ in test], steps_te):.3f}; "
          f"numbers alone {spearman(d_te.dense[:, 2], steps_te):.3f}")

    # 3. Headline on dev.jsonl.
    rows += [{"prompt": p, "weak_correct": True, "strong_correct": True} for p in tc.EASY_ANCHORS]
    prompts = [r["prompt"] for r in rows]
    base = tc.Design(prompts, tc.BITS)
    full = design(prompts)
    maths = np.array([is_maths(p) for p in prompts])
    pred_steps = np.where(maths, predictor.predict(full), 0.0)
    true_by_q = {q_["question"]: s for q_, s in zip(test, steps_te)}
    data = rows[:n_data]
    bench = np.array([r["benchmark"] for r in data])
    weak = np.array([r["weak_correct"] for r in data], float)
    strong = np.array([r["strong_correct"] for r in data], float)
    g = bench == "gsm8k"
    true_steps = np.array([true_by_q.get(r["prompt"], np.nan) for r in data])
    gain = strong - weak
    print(f"dev GSM8K: Spearman with the gain: predicted steps {spearman(pred_steps[:n_data][g], gain[g]):.3f}, "
          f"true steps {spearman(true_steps[g], gain[g]):.3f}, length "
          f"{spearman([len(p) for p in dev_gsm], gain[g]):.3f}; with weak_correct: predicted "
          f"{spearman(pred_steps[:n_data][g], weak[g]):.3f}, true {spearman(true_steps[g], weak[g]):.3f}")
    for k in range(int(np.nanmax(true_steps[g])) + 1):
        m = g & (true_steps == k)
        if m.any():
            print(f"  dev GSM8K, true steps {k}: {m.sum():3d} prompts, weak {weak[m].mean():.2f}, "
                  f"strong {strong[m].mean():.2f}, gain {gain[m].mean():.2f}")
    print(f"GSM8K headline, no dev fitting: predicted steps as the score "
          f"{tc.headline(pred_steps[:n_data][g], weak[g], strong[g]):.3f}, true steps (ceiling of the label) "
          f"{tc.headline(true_steps[g], weak[g], strong[g]):.3f}, random {tc.random_headline(weak[g], strong[g]):.3f}")

    # The same predictor for the solution's line count (a second label), and the ceiling: the dev prompts' *true*
    # steps (from test.jsonl's solutions; a router never has them) in place of the predicted ones.
    lines_tr = np.log1p([lab["lines"] for lab in lab_tr])
    lines_model = tc.quantise(tc.fit_ridge(d_tr, lines_tr, alpha=alpha))[0]
    pred_lines = np.where(maths, lines_model.predict(full), 0.0)
    print(f"lines predictor: Spearman on test.jsonl "
          f"{spearman(lines_model.predict(d_te), [labels(q_['answer'])['lines'] for q_ in test]):.3f}")
    true_col = pred_steps.copy()
    true_col[:n_data][g] = np.log1p(true_steps[g])
    # Two more ceilings from the true solutions: their length (log bytes before ####) and "6 steps or more" (the only
    # step counts where the weak model falls behind: see the table printed above).
    answer_of = {q_["question"]: q_["answer"] for q_ in test}
    true_len, true_long = np.zeros(len(rows)), np.zeros(len(rows))
    for i in np.where(g)[0]:
        a = answer_of[data[i]["prompt"]]
        true_len[i] = np.log1p(len(a.rpartition("####")[0]))
        true_long[i] = float(labels(a)["steps"] >= 6)

    def with_columns(*cols):
        out = tc.Design.__new__(tc.Design)
        out.__dict__.update(base.__dict__)
        out.dense = np.column_stack([base.dense, *cols])
        return out

    variants = {"shipped": base, "shipped + predicted steps": with_columns(pred_steps),
                "shipped + pred. steps, lines": with_columns(pred_steps, pred_lines),
                "shipped + TRUE steps (ceiling)": with_columns(true_col),
                "shipped + TRUE solution length": with_columns(true_len),
                "shipped + TRUE steps >= 6": with_columns(true_long)}
    seeds = [int(s) for s in args.seeds.split(",")]
    res = {name: {"gsm8k": [], "mmlu": []} for name in variants}
    for s in seeds:
        for name, dsg in variants.items():
            sc = tc.cross_validate(rows, n_data, dsg, args.folds, s)
            for b in ("gsm8k", "mmlu"):
                m = bench == b
                res[name][b].append(tc.headline(sc[m], weak[m], strong[m]))
        print(f"  seed {s}: " + "; ".join(f"{name} GSM8K {res[name]['gsm8k'][-1]:.3f} MMLU {res[name]['mmlu'][-1]:.3f}"
                                          for name in variants), flush=True)
    print("(the TRUE variants use the dev prompts' worked solutions: ceilings, not available to a router)")
    for name in variants:
        print(f"{name:32s} GSM8K {np.mean(res[name]['gsm8k']):.3f} "
              f"({' '.join(f'{x:.3f}' for x in res[name]['gsm8k'])})  MMLU {np.mean(res[name]['mmlu']):.3f} "
              f"({' '.join(f'{x:.3f}' for x in res[name]['mmlu'])})")


if __name__ == "__main__":
    main()
