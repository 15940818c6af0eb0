"""Feature extraction for the task-difficulty classifier, byte for byte the same as the Swift scorer's
(Sources/SwitchboardRouting/Difficulty/DifficultyClassifier.swift). Change one, change both, and the parity fixture.

A prompt is read as UTF-8 bytes and cut into tokens:
  - a word: a run of ASCII letters and non-ASCII bytes (so any Unicode letter stays inside its word); ASCII letters
    are lowercased, other bytes are kept as they are;
  - a number: a run of ASCII digits, hashed by its shape only: '#' and the digit count (capped at 9);
  - a symbol: any other byte that is not ASCII whitespace (space, \\t, \\n, \\v, \\f, \\r), alone.
Every token is hashed with 32-bit FNV-1a; each token and each pair of neighbouring tokens is a hashed feature
(bucket = fmix32(key) mod the table size), except in a free-form prompt with a number (a maths word problem), which
is scored by its dense features alone.

Dense features (DENSE_NAMES), all log1p of a count except the flag:
  - the byte, word, number, line and symbol counts, once for a free-form prompt (the flag is 0) and once for a
    multiple-choice one (the flag is 1), the other copy 0;
  - the multiple-choice flag: the prompt contains both "\\nA. " and "\\nB. ";
  - for free-form prompts with at least one number only (else 0), cues of a maths word problem's reasoning: words of each
    group in CUE_WORDS (relations such as "twice" or "fewer", fractions, rates, what is left, totals...), commas,
    decimals (a number, '.', a number), '%', '$', fractions written number '/' number, '?', the other '.', and chained
    comparisons (a comparative, then "than" within 8 tokens, or a multiplier, then "as" within 4, in one sentence).
"""

import math
import re

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
MASK32 = 0xFFFFFFFF

# Word groups counted as cues (lowercased ASCII words; a word may be in several groups).
CUE_WORDS = (
    ("relation", "more less fewer than times twice half double triple"),
    ("fraction", "half halves third thirds quarter quarters fourth fifth fraction"),
    ("percent", "percent percentage"),
    ("each", "each per every apiece"),
    ("remain", "remaining remain remains left rest remainder leftover"),
    ("total", "total altogether combined sum together"),
    ("rate", "rate ratio average speed"),
    ("time", "hour hours minute minutes day days week weeks month months year years"),
    ("condition", "if then after before until while when"),
    ("number_word", "one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
                    "hundred thousand dozen"),
    ("what", "what"),
    ("much", "much"),
)
SYMBOL_CUES = ("comma", "decimal", "percent_sign", "dollar", "slash_fraction", "question", "period")
# Chained comparisons, the last cue: a comparative word followed by "than" within CHAIN_THAN tokens, or a multiplier
# followed by "as" within CHAIN_AS tokens, with no '.' or '?' between ("5 more apples than", "twice as many").
COMPARATIVES = "more less fewer older younger longer shorter taller cheaper times"
MULTIPLIERS = "twice half thrice triple double"
CHAIN_THAN, CHAIN_AS = 8, 4
COUNT_NAMES = ("bytes", "words", "numbers", "lines", "symbols")
DENSE_NAMES = (tuple(f"free_{n}" for n in COUNT_NAMES) + tuple(f"choice_{n}" for n in COUNT_NAMES)
               + ("multiple_choice",) + tuple(f"cue_{g}" for g, _ in CUE_WORDS) + tuple(f"cue_{s}" for s in SYMBOL_CUES)
               + ("cue_chain",))

_TOKEN = re.compile(rb"[A-Za-z\x80-\xff]+|[0-9]+|[^ \t\n\x0b\x0c\rA-Za-z0-9\x80-\xff]")


def fnv1a(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK32
    return h


def fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK32
    h ^= h >> 16
    return h


def pair_key(prev: int, cur: int) -> int:
    return (((prev * FNV_PRIME) & MASK32) ^ cur ^ 0x9E3779B9) & MASK32


# The cue groups of a word, keyed by the word's FNV-1a hash (as the Swift scorer looks them up).
_GROUPS_OF = {}
for _i, (_, _words) in enumerate(CUE_WORDS):
    for _w in _words.split():
        _GROUPS_OF.setdefault(fnv1a(_w.encode()), []).append(_i)


_COMPARATIVE = {fnv1a(w.encode()) for w in COMPARATIVES.split()}
_MULTIPLIER = {fnv1a(w.encode()) for w in MULTIPLIERS.split()}
_THAN, _AS = fnv1a(b"than"), fnv1a(b"as")


def tokens(text: str):
    """The token hashes of a prompt, its counts (bytes, words, numbers, lines, symbols), cue counts, and the flag."""
    data = text.encode("utf-8")
    hashes = []
    words = numbers = symbols = 0
    cues = [0] * (len(CUE_WORDS) + len(SYMBOL_CUES) + 1)
    base = len(CUE_WORDS)
    kinds = []  # 'w', 'n' or the symbol byte, for the number-symbol-number patterns
    comparative = multiplier = None  # token index of the last comparative / multiplier in this sentence
    for i, m in enumerate(_TOKEN.finditer(data)):
        tok = m.group()
        c = tok[0]
        if c >= 0x80 or (65 <= c <= 90) or (97 <= c <= 122):
            words += 1
            h = fnv1a(tok.lower())  # bytes.lower() changes ASCII letters only
            hashes.append(h)
            for g in _GROUPS_OF.get(h, ()):
                cues[g] += 1
            if h == _THAN and comparative is not None and i - comparative <= CHAIN_THAN:
                cues[-1] += 1
                comparative = None
            elif h == _AS and multiplier is not None and i - multiplier <= CHAIN_AS:
                cues[-1] += 1
                multiplier = None
            if h in _COMPARATIVE:
                comparative = i
            if h in _MULTIPLIER:
                multiplier = i
            kinds.append("w")
        elif 48 <= c <= 57:
            numbers += 1
            hashes.append(fnv1a(b"#" + bytes([48 + min(len(tok), 9)])))
            if len(kinds) >= 2 and kinds[-2] == "n" and kinds[-1] in (0x2E, 0x2F):
                cues[base + (1 if kinds[-1] == 0x2E else 4)] += 1
            kinds.append("n")
        else:
            symbols += 1
            hashes.append(fnv1a(tok))
            for j, s in ((0, 0x2C), (2, 0x25), (3, 0x24), (5, 0x3F), (6, 0x2E)):
                if c == s:
                    cues[base + j] += 1
            if c in (0x2E, 0x3F):
                comparative = multiplier = None
            kinds.append(c)
    cues[base + 6] -= cues[base + 1]  # periods that are not decimal points
    counts = (len(data), words, numbers, data.count(b"\n"), symbols)
    choice = b"\nA. " in data and b"\nB. " in data
    return hashes, counts, cues, choice


def dense_features(counts, cues, choice):
    logs = [math.log1p(c) for c in counts]
    zeros = [0.0] * len(logs)
    if choice:
        return zeros + logs + [1.0] + [0.0] * len(cues)
    if counts[2] == 0:  # no number: not a maths word problem, no cues
        return logs + zeros + [0.0] + [0.0] * len(cues)
    return logs + zeros + [0.0] + [math.log1p(c) for c in cues]


def features(text: str, bits: int):
    """The hashed buckets (with repeats) of a prompt (none for a free-form one with a number), and its dense features."""
    mask = (1 << bits) - 1
    hashes, counts, cues, choice = tokens(text)
    if not choice and counts[2] > 0:  # maths word problems are scored by the dense features alone
        return [], dense_features(counts, cues, choice)
    buckets = [fmix32(h) & mask for h in hashes]
    buckets += [fmix32(pair_key(a, b)) & mask for a, b in zip(hashes, hashes[1:])]
    return buckets, dense_features(counts, cues, choice)
