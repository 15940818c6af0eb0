"""Text features of the injection detector, byte for byte those of
Sources/SwitchboardCore/Guardrails/InjectionDetector+Normalise.swift and InjectionDetector.swift (the Swift parity
test checks the scores this module's model computes).

Pipeline:
1. Bound: texts longer than LIMIT UTF-8 bytes are scored on the first HEAD bytes, the last TAIL bytes and SAMPLES
   windows of WINDOW bytes evenly spaced in between (each cut at scalar boundaries), joined by newlines.
2. Normalise scalar by scalar: Unicode tag characters (U+E0020...E007E) become the ASCII they hide and count as
   invisible; other invisible or formatting scalars (zero-width, bidi controls, variation selectors, soft hyphen...)
   are dropped and counted; control characters are dropped and counted; ASCII is lower-cased; homoglyphs (Cyrillic and
   Greek look-alikes, full-width and mathematical letters, circled letters) and Latin letters with diacritics fold to
   ASCII letters; Unicode spaces are spaces; runs of whitespace collapse to one space, or one newline if they hold one.
   Any other scalar is kept as its UTF-8 bytes.
3. Words: runs of ASCII letters, digits, '$' and non-ASCII bytes. A word of letters and leet characters
   (0 1 3 4 5 7 $) only, with at least two letters and a leet character followed by a letter ("1gn0re", not "mp3" or
   "ns1") is read as leetspeak (0->o 1->i 3->e 4->a 5->s 7->t $->s) and counts as obfuscated, as does a word mixing ASCII letters with folded look-alikes or holding styled
   (full-width, mathematical, circled) letters.
4. Hashed features: each word (FNV-1a 32 over its bytes) and each pair of neighbouring words; dense features: one
   indicator per reason (word-class patterns from the model file, and the byte heuristics below).
"""

LIMIT = 16384
HEAD = 8192
TAIL = 4096
SAMPLES = 4
WINDOW = 1024

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
M32 = 0xFFFFFFFF

HEURISTICS = ["special_tokens", "dialogue_turns", "encoded_payload", "invisible_characters", "obfuscation",
              "markdown_exfiltration"]

SPECIAL_TOKENS = [b"<|im_start|>", b"<|im_end|>", b"<|system|>", b"<|user|>", b"<|assistant|>", b"<|endoftext|>",
                  b"<|eot_id|>", b"<|start_header_id|>", b"<|end_header_id|>", b"<|begin_of_text|>", b"[inst]",
                  b"[/inst]", b"<<sys>>", b"<</sys>>", b"### system", b"### instruction", b"### human",
                  b"### assistant", b"### response", b"<start_of_turn>", b"<end_of_turn>", b"[system]",
                  b"(#system)", b"</system>", b"<system>", b"</user>", b"<|endofprompt|>"]
ROLE_WORDS = [b"system", b"assistant", b"user", b"human", b"ai"]


def fmix32(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def fnv(data):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & M32
    return h


def pair(prev, cur):
    return ((prev * FNV_PRIME) & M32) ^ cur ^ 0x9E3779B9


# ---------------------------------------------------------------------------------------------------------------
# Bounding

def _start(data, i):
    while i < len(data) and 0x80 <= data[i] < 0xC0:
        i += 1
    return i


def bounded(data):
    """The byte windows scored for a text of len(data) UTF-8 bytes."""
    n = len(data)
    if n <= LIMIT:
        return [data]
    windows = [(0, HEAD)]
    middle_start, middle_end = HEAD, n - TAIL
    step = (middle_end - middle_start) // (SAMPLES + 1)
    for k in range(1, SAMPLES + 1):
        s = middle_start + k * step
        windows.append((s, s + WINDOW))
    windows.append((n - TAIL, n))
    out = []
    for s, e in windows:
        s2 = _start(data, s)
        e2 = _start(data, e) if e < n else n
        out.append(data[s2:e2])
    return out


# ---------------------------------------------------------------------------------------------------------------
# Normalisation

def _invisible(cp):
    return (cp == 0x00AD or cp == 0x034F or cp == 0x061C or cp == 0x115F or cp == 0x1160 or cp == 0x17B4
            or cp == 0x17B5 or cp == 0x180E or 0x200B <= cp <= 0x200F or 0x202A <= cp <= 0x202E
            or 0x2060 <= cp <= 0x206F or cp == 0x3164 or cp == 0xFEFF or 0xFE00 <= cp <= 0xFE0F
            or cp == 0xFFA0 or 0xE0000 <= cp <= 0xE01EF)


def _space(cp):
    return cp == 0xA0 or cp == 0x1680 or 0x2000 <= cp <= 0x200A or cp in (0x2028, 0x2029, 0x202F, 0x205F, 0x3000)


_CONFUSABLE = {}
for _src, _dst in [
    # Cyrillic
    ("а", "a"), ("в", "b"), ("е", "e"), ("ё", "e"), ("з", "3"), ("і", "i"), ("ї", "i"), ("ј", "j"), ("к", "k"),
    ("м", "m"), ("н", "h"), ("о", "o"), ("р", "p"), ("с", "c"), ("т", "t"), ("у", "y"), ("х", "x"), ("ѕ", "s"),
    ("ԁ", "d"), ("ԛ", "q"), ("ԝ", "w"), ("һ", "h"), ("ɡ", "g"), ("ӏ", "l"), ("ь", "b"),
    ("А", "a"), ("В", "b"), ("Е", "e"), ("З", "3"), ("І", "i"), ("Ј", "j"), ("К", "k"), ("М", "m"), ("Н", "h"),
    ("О", "o"), ("Р", "p"), ("С", "c"), ("Т", "t"), ("У", "y"), ("Х", "x"), ("Ѕ", "s"), ("Ԁ", "d"), ("Һ", "h"),
    ("Ӏ", "l"),
    # Greek
    ("α", "a"), ("β", "b"), ("ε", "e"), ("η", "n"), ("ι", "i"), ("κ", "k"), ("ν", "v"), ("ο", "o"), ("ρ", "p"),
    ("τ", "t"), ("υ", "u"), ("χ", "x"), ("ω", "w"), ("Α", "a"), ("Β", "b"), ("Ε", "e"), ("Ζ", "z"), ("Η", "h"),
    ("Ι", "i"), ("Κ", "k"), ("Μ", "m"), ("Ν", "n"), ("Ο", "o"), ("Ρ", "p"), ("Τ", "t"), ("Υ", "y"), ("Χ", "x"),
    # Latin look-alikes
    ("ı", "i"), ("ȷ", "j"), ("ℓ", "l"), ("ⅰ", "i"), ("ⅼ", "l"), ("ⅽ", "c"), ("ⅾ", "d"), ("ⅿ", "m"),
]:
    _CONFUSABLE[ord(_src)] = ord(_dst)

_ACCENT = {}
for _base, _chars in [("a", "àáâãäåāăą"), ("c", "çćĉċč"), ("d", "ďđ"), ("e", "èéêëēĕėęě"), ("g", "ĝğġģ"),
                      ("h", "ĥħ"), ("i", "ìíîïĩīĭįİ"), ("j", "ĵ"), ("k", "ķ"), ("l", "ĺļľŀł"), ("n", "ñńņňŉ"),
                      ("o", "òóôõöøōŏő"), ("r", "ŕŗř"), ("s", "śŝşšß"), ("t", "ţťŧ"), ("u", "ùúûüũūŭůűų"),
                      ("w", "ŵ"), ("y", "ýÿŷ"), ("z", "źżž")]:
    for _ch in _chars:
        _ACCENT[ord(_ch)] = ord(_base)
        _up = _ch.upper()
        if len(_up) == 1 and ord(_up) not in _ACCENT:
            _ACCENT[ord(_up)] = ord(_base)


def fold(cp):
    """(ASCII byte, kind) for a non-ASCII scalar that folds: kind 1 = look-alike, 2 = styled, 3 = accent; else None."""
    if 0xFF21 <= cp <= 0xFF3A:
        return cp - 0xFF21 + 0x61, 2
    if 0xFF41 <= cp <= 0xFF5A:
        return cp - 0xFF41 + 0x61, 2
    if 0xFF10 <= cp <= 0xFF19:
        return cp - 0xFF10 + 0x30, 2
    if 0x1D400 <= cp <= 0x1D6A3:
        off = (cp - 0x1D400) % 52
        return (0x61 + off if off < 26 else 0x61 + off - 26), 2
    if 0x1D7CE <= cp <= 0x1D7FF:
        return 0x30 + (cp - 0x1D7CE) % 10, 2
    if 0x24B6 <= cp <= 0x24CF:
        return cp - 0x24B6 + 0x61, 2
    if 0x24D0 <= cp <= 0x24E9:
        return cp - 0x24D0 + 0x61, 2
    c = _CONFUSABLE.get(cp)
    if c is not None:
        return c, 1
    c = _ACCENT.get(cp)
    if c is not None:
        return c, 3
    return None


def _is_word_byte(b):
    return (0x61 <= b <= 0x7A) or (0x30 <= b <= 0x39) or b == 0x24 or b >= 0x80


class Normalised:
    def __init__(self):
        self.out = bytearray()
        self.invisible = 0
        self.controls = 0
        self.obfuscated = 0


def normalise(windows):
    n = Normalised()
    out = n.out
    pending = 0  # 0 none, 1 space, 2 newline
    # the current word's flags
    has_ascii = has_lookalike = has_styled = False

    def end_word():
        nonlocal has_ascii, has_lookalike, has_styled
        if (has_lookalike and has_ascii) or has_styled:
            n.obfuscated += 1
        has_ascii = has_lookalike = has_styled = False

    for wi, data in enumerate(windows):
        if wi > 0:
            pending = 2
        for ch in data.decode("utf-8"):
            cp = ord(ch)
            kind = 0
            if 0xE0020 <= cp <= 0xE007E:
                n.invisible += 1
                b = cp - 0xE0000
                if 0x41 <= b <= 0x5A:
                    b += 0x20
            elif _invisible(cp):
                n.invisible += 1
                continue
            elif cp < 0x80:
                if cp in (0x20, 0x09):
                    pending = max(pending, 1)
                    continue
                if cp in (0x0A, 0x0D):
                    pending = 2
                    continue
                if cp < 0x20 or cp == 0x7F:
                    n.controls += 1
                    continue
                b = cp + 0x20 if 0x41 <= cp <= 0x5A else cp
            elif 0x80 <= cp <= 0x9F:
                n.controls += 1
                continue
            elif _space(cp):
                pending = max(pending, 1)
                continue
            else:
                f = fold(cp)
                if f is None:
                    b = None
                else:
                    b, kind = f
            if pending:
                end_word()
                if out:
                    out.append(0x0A if pending == 2 else 0x20)
                pending = 0
            if b is None:
                out.extend(ch.encode("utf-8"))
                continue
            if not _is_word_byte(b):
                end_word()
            elif kind == 0:
                if 0x61 <= b <= 0x7A:
                    has_ascii = True
            elif kind == 1:
                has_lookalike = True
            elif kind == 2:
                has_styled = True
            out.append(b)
    end_word()
    return n


# ---------------------------------------------------------------------------------------------------------------
# Words

LEET = {0x30: 0x6F, 0x31: 0x69, 0x33: 0x65, 0x34: 0x61, 0x35: 0x73, 0x37: 0x74, 0x24: 0x73}


def _is_letter(b):
    return 0x61 <= b <= 0x7A or b >= 0x80


def word_hash(word):
    """(hash, leet) of one word's bytes: leetspeak words hash as their letters."""
    letters = sum(1 for b in word if _is_letter(b))
    leet = False
    if letters >= 2 and all(_is_letter(b) or b in LEET for b in word):
        for i, b in enumerate(word):
            if b in LEET and i + 1 < len(word) and _is_letter(word[i + 1]):
                leet = True
                break
    if leet:
        return fnv(bytes(LEET.get(b, b) for b in word)), True
    return fnv(word), False


def words(norm):
    """(hash, leet) of each word of the normalised bytes."""
    out = []
    data = norm
    i = 0
    n = len(data)
    while i < n:
        if _is_word_byte(data[i]):
            j = i
            while j < n and _is_word_byte(data[j]):
                j += 1
            out.append(word_hash(bytes(data[i:j])))
            i = j
        else:
            i += 1
    return out


def norm_word(text):
    """The hash of a vocabulary word, normalised as text is."""
    n = normalise([text.encode("utf-8")])
    ws = words(n.out)
    assert len(ws) == 1, text
    return ws[0][0]


# ---------------------------------------------------------------------------------------------------------------
# Heuristics over the normalised bytes and the raw windows

def special_tokens(norm):
    count = 0
    for tok in SPECIAL_TOKENS:
        start = 0
        while True:
            k = norm.find(tok, start)
            if k < 0:
                break
            count += 1
            start = k + len(tok)
    return count


def dialogue_turns(norm):
    """Lines that start with a role name and a colon ("\\nassistant:"), the first line included."""
    count = 0
    for line_start in [0] + [i + 1 for i, b in enumerate(norm) if b == 0x0A]:
        for role in ROLE_WORDS:
            end = line_start + len(role)
            if norm[line_start:end] == role and end < len(norm) and norm[end] == 0x3A:
                count += 1
    return count


def _b64(b):
    return (0x41 <= b <= 0x5A) or (0x61 <= b <= 0x7A) or (0x30 <= b <= 0x39) or b in (0x2B, 0x2F, 0x3D, 0x2D, 0x5F)


def encoded_run(windows):
    """True when a window holds a run of at least 40 base64 characters with upper, lower case and digits, or of
    at least 40 hex digits."""
    for data in windows:
        run = upper = lower = digit = 0
        hexrun = 0
        for b in data:
            if _b64(b):
                run += 1
                upper |= 0x41 <= b <= 0x5A
                lower |= 0x61 <= b <= 0x7A
                digit |= 0x30 <= b <= 0x39
                if run >= 40 and upper and lower and digit:
                    return True
            else:
                run = upper = lower = digit = 0
            if (0x30 <= b <= 0x39) or (0x41 <= b <= 0x46) or (0x61 <= b <= 0x66):
                hexrun += 1
                if hexrun >= 40:
                    return True
            else:
                hexrun = 0
    return False


def markdown_exfiltration(norm):
    """A markdown image or link target with a query string: "![...](http...?..." or "]: http...?"."""
    i = 0
    while True:
        k = norm.find(b"](http", i)
        k2 = norm.find(b"]: http", i)
        if k < 0 and k2 < 0:
            return False
        k = k2 if k < 0 else (k if k2 < 0 else min(k, k2))
        end = min(len(norm), k + 200)
        seg = norm[k:end]
        stop = len(seg)
        for sep in (b")", b" ", b"\n"):
            j = seg.find(sep, 3)
            if 0 <= j < stop:
                stop = j
        if b"?" in seg[:stop] or b"=" in seg[:stop]:
            return True
        i = k + 1
