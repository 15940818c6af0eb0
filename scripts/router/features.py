"""Feature extraction for the task-difficulty classifier, byte for byte the same as the Swift scorer's
(Sources/SwitchboardRouting/Difficulty/DifficultyFeatures.swift). Change one, change both, and the parity fixture.

A prompt is read as UTF-8 bytes and cut into tokens:
  - a word: a run of ASCII letters and non-ASCII bytes (so any Unicode letter stays inside its word); ASCII letters
    are lowercased, other bytes are kept as they are;
  - a number: a run of ASCII digits, hashed by its shape only: '#' and the digit count (capped at 9);
  - a symbol: any other byte that is not ASCII whitespace (space, \\t, \\n, \\v, \\f, \\r), alone.
Every token is hashed with 32-bit FNV-1a; each token and each pair of neighbouring tokens is a hashed feature
(bucket = fmix32(key) mod the table size). Dense features: log1p of the byte, word, number, line and symbol counts.
"""

import math
import re

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
MASK32 = 0xFFFFFFFF
DENSE_NAMES = ("log_bytes", "log_words", "log_numbers", "log_lines", "log_symbols")

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


def token_hashes(text: str):
    """The token hashes of a prompt and its dense counts (bytes, words, numbers, lines, symbols)."""
    data = text.encode("utf-8")
    hashes = []
    words = numbers = symbols = 0
    for m in _TOKEN.finditer(data):
        tok = m.group()
        c = tok[0]
        if c >= 0x80 or (65 <= c <= 90) or (97 <= c <= 122):
            words += 1
            hashes.append(fnv1a(tok.lower()))  # bytes.lower() changes ASCII letters only
        elif 48 <= c <= 57:
            numbers += 1
            hashes.append(fnv1a(b"#" + bytes([48 + min(len(tok), 9)])))
        else:
            symbols += 1
            hashes.append(fnv1a(tok))
    counts = (len(data), words, numbers, data.count(b"\n"), symbols)
    return hashes, counts


def features(text: str, bits: int):
    """The hashed buckets (with repeats) of a prompt, and its dense features."""
    mask = (1 << bits) - 1
    hashes, counts = token_hashes(text)
    buckets = [fmix32(h) & mask for h in hashes]
    buckets += [fmix32(pair_key(a, b)) & mask for a, b in zip(hashes, hashes[1:])]
    dense = [math.log1p(c) for c in counts]
    return buckets, dense
