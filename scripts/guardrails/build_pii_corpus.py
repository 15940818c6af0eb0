#!/usr/bin/env python3
"""Builds Tests/guardrails/pii-corpus.jsonl, the labelled corpus the privacy guardrail's detectors (PIIScanner) are
measured on by Tests/SwitchboardTests/PIICorpusTests.swift.

    python3 scripts/guardrails/build_pii_corpus.py          # writes the corpus, prints counts per kind and source

Standard library only, seeded: the same script always writes the same file.

Each line: {"text": ..., "spans": [{"kind": "email", "value": "..."}], "source": "..."}. `spans` lists every value
that *should* be found, each an exact substring of `text` (a value written twice is listed twice); hard negatives
have no spans, or fewer than their look-alikes would suggest. Kinds: email, phone, card, iban, ssn, ip, secret,
name. Names are planted from NAMES below, which the Swift test passes to the scanner as its configured list.

Every value is synthetic: cards pass Luhn with random digits, IBANs get computed check digits over random accounts,
phone numbers use drama ranges (555-01xx, 020 7946 0xxx, 07700 900xxx) where a country has one, keys are random
characters in each provider's shape. Nothing belongs to anyone.

Sources: `ticket`, `email`, `chat`, `log`, `code`, `json`, `csv`, `multilingual` (texts with planted values),
`negative.*` (hard negatives: look-alikes that must not be found), `beyond_docs` (real formats the detectors'
documentation says they leave alone, labelled anyway: they measure what the documented limits cost).
"""

import json
import os
import random
import string

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "guardrails", "pii-corpus.jsonl")
SEED = 16

# The configured names (PIICorpusTests passes the same list).
NAMES = ["Jane Doe", "Rahul Sharma", "Wei Zhang", "Olivia Martin", "Kwame Mensah", "Sofia Rossi", "Acme Corp"]

FIRST = ["john", "maria", "li", "ahmed", "olga", "pierre", "yuki", "carlos", "fatima", "sven", "priya", "noah",
         "emma", "lucas", "chloe", "mateo", "aisha", "jonas", "ines", "tom"]
LAST = ["smith", "garcia", "chen", "hassan", "ivanova", "dubois", "tanaka", "silva", "khan", "larsen", "patel",
        "brown", "müller", "schmidt", "rossi", "kowalski", "nguyen", "obrien", "fischer", "moreau"]
ASCII_LAST = [n for n in LAST if n.isascii()]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com", "eu.corp.example.de", "example.co.uk",
           "support.example.io", "gmail.com", "outlook.com", "proton.me", "uni-example.edu", "example.com.au",
           "dept.example.gov", "example.fr", "example.technology"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def pick(self, seq):
        return self.r.choice(seq)

    def digits(self, n):
        return "".join(self.r.choice(string.digits) for _ in range(n))

    def chars(self, n, alphabet=string.ascii_letters + string.digits):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    # MARK: emails

    def email(self):
        f, l = self.pick(FIRST), self.pick(ASCII_LAST)
        local = self.pick([f"{f}.{l}", f"{f}{l}", f"{f[0]}{l}", f"{f}_{l}", f"{f}.{l}{self.r.randint(1, 99)}",
                           f"{f}+{self.pick(['news', 'billing', 'gw', 'test', 'spam'])}", f"{f}-{l}", f"{l}.{f}",
                           f"{f}.{l}+{self.pick(['work', 'a1'])}", "support", "billing", "no-reply", "ops-team"])
        value = f"{local}@{self.pick(DOMAINS)}"
        if self.r.random() < 0.08:
            value = value[0].upper() + value[1:]
        return value

    # MARK: phones

    def phone(self):
        """A phone number in a format the documentation says is found."""
        d = self.digits
        return self.pick([
            lambda: f"({self.pick(['212', '415', '312', '646'])}) 555-01{d(2)}",
            lambda: f"{self.pick(['212', '415', '617'])}-555-01{d(2)}",
            lambda: f"{self.pick(['303', '702'])}.555.01{d(2)}",
            lambda: f"+1 {self.pick(['415', '212'])} 555 01{d(2)}",
            lambda: f"+1-{self.pick(['202', '305'])}-555-01{d(2)}",
            lambda: f"+1 ({self.pick(['415', '718'])}) 555-01{d(2)}",
            lambda: f"+1{self.pick(['415', '646'])}55501{d(2)}",
            lambda: f"+44 20 7946 0{d(3)}",
            lambda: f"020 7946 0{d(3)}",
            lambda: f"07700 900{d(3)}",
            lambda: f"+44 7700 900{d(3)}",
            lambda: f"+44 (0)20 7946 0{d(3)}",
            lambda: f"+447700900{d(3)}",
            lambda: f"+49 30 {d(8)}",
            lambda: f"030 {d(8)}",
            lambda: f"+49 (0)30 {d(4)} {d(4)}",
            lambda: f"0170 {d(7)}",
            lambda: f"+49 170 {d(7)}",
            lambda: f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
            lambda: f"01 {d(2)} {d(2)} {d(2)} {d(2)}",
            lambda: f"06.{d(2)}.{d(2)}.{d(2)}.{d(2)}",
            lambda: f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}",
            lambda: f"+81 3-{d(4)}-{d(4)}",
            lambda: f"03-{d(4)}-{d(4)}",
            lambda: f"090-{d(4)}-{d(4)}",
            lambda: f"+91 98{d(3)} {d(5)}",
            lambda: f"+61 2 {d(4)} {d(4)}",
            lambda: f"(02) {d(4)} {d(4)}",
            lambda: f"0412 {d(3)} {d(3)}",
            lambda: f"+31 20 {d(3)} {d(4)}",
            lambda: f"020 {d(3)} {d(4)}",
            lambda: f"+34 612 {d(2)} {d(2)} {d(2)}",
            lambda: f"+55 11 9{d(4)}-{d(4)}",
            lambda: f"+39 06 {d(4)} {d(4)}",
            lambda: f"+86 138 {d(4)} {d(4)}",
            lambda: f"+27 21 {d(3)} {d(4)}",
            lambda: f"+353 1 {d(3)} {d(4)}",
        ])()

    def phone_beyond(self):
        """National formats of countries without a trunk 0, and ten digits written together (one maker each)."""
        d = self.digits
        return [
            lambda: f"612 {d(2)} {d(2)} {d(2)}",           # Spain
            lambda: f"(11) 9{d(4)}-{d(4)}",                # Brazil
            lambda: f"98{d(3)} {d(5)}",                    # India, mobile
            lambda: f"138 {d(4)} {d(4)}",                  # China, mobile
            lambda: f"41555501{d(2)}",                     # US, no separators
        ]

    # MARK: cards

    @staticmethod
    def luhn_digit(partial):
        total = 0
        for n, ch in enumerate(reversed(partial)):
            v = int(ch)
            if n % 2 == 0:
                v *= 2
                if v > 9:
                    v -= 9
            total += v
        return str((10 - total % 10) % 10)

    def card_number(self):
        prefix, length, groups = self.pick([
            ("4", 16, [4, 4, 4, 4]),                                           # Visa
            ("4", 13, [4, 4, 5]),                                              # Visa, 13 digits
            (self.pick(["51", "52", "53", "54", "55"]), 16, [4, 4, 4, 4]),     # Mastercard
            (str(self.r.randint(2221, 2720)), 16, [4, 4, 4, 4]),               # Mastercard 2-series
            (self.pick(["34", "37"]), 15, [4, 6, 5]),                          # American Express
            ("6011", 16, [4, 4, 4, 4]),                                        # Discover
            ("65", 16, [4, 4, 4, 4]),                                          # Discover
            ("36", 14, [4, 6, 4]),                                             # Diners Club
            (str(self.r.randint(3528, 3589)), 16, [4, 4, 4, 4]),               # JCB
            ("62", 16, [4, 4, 4, 4]),                                          # UnionPay
            ("62", 19, [4, 4, 4, 4, 3]),                                       # UnionPay, 19 digits
            ("6759", 18, [4, 4, 4, 4, 2]),                                     # Maestro
        ])
        body = prefix + self.digits(length - len(prefix) - 1)
        return body + self.luhn_digit(body), groups

    def format_card(self, number, groups, sep=None):
        sep = sep if sep is not None else self.pick([" ", " ", "-", ""])
        out, k = [], 0
        for g in groups:
            out.append(number[k:k + g])
            k += g
        return sep.join(out)

    def card(self):
        number, groups = self.card_number()
        return self.format_card(number, groups)

    def bad_card(self):
        """A card-shaped number whose Luhn check fails."""
        number, groups = self.card_number()
        last = str((int(number[-1]) + self.r.randint(1, 9)) % 10)
        return self.format_card(number[:-1] + last, groups)

    # MARK: IBANs

    # country: BBAN shape, as (letters, digits) runs ("A" = upper-case letter, "9" = digit, "X" = letter or digit)
    IBAN_BBAN = {
        "DE": "9" * 18, "GB": "AAAA" + "9" * 14, "FR": "9" * 10 + "X" * 11 + "99", "ES": "9" * 20, "IT": "A" + "9" * 10 + "X" * 12,
        "NL": "AAAA" + "9" * 10, "BE": "9" * 12, "CH": "9" * 5 + "X" * 12, "AT": "9" * 16, "PL": "9" * 24, "SE": "9" * 20,
        "NO": "9" * 11, "DK": "9" * 14, "FI": "9" * 14, "IE": "AAAA" + "9" * 14, "PT": "9" * 21, "LU": "9" * 3 + "X" * 13,
        "CZ": "9" * 20, "GR": "9" * 7 + "X" * 16, "RO": "AAAA" + "X" * 16, "HU": "9" * 24, "SA": "99" + "X" * 18,
        "AE": "9" * 19, "TR": "9" * 5 + "0" + "X" * 16, "BR": "9" * 23 + "A" + "X", "MT": "AAAA" + "9" * 5 + "X" * 18,
        "IL": "9" * 19, "EE": "9" * 16, "HR": "9" * 17, "SI": "9" * 15, "LT": "9" * 16, "QA": "AAAA" + "X" * 21,
    }

    def bban(self, shape):
        out = []
        for s in shape:
            if s == "9":
                out.append(self.r.choice(string.digits))
            elif s == "A":
                out.append(self.r.choice(string.ascii_uppercase))
            elif s == "X":
                out.append(self.r.choice(string.ascii_uppercase + string.digits) if self.r.random() < 0.3 else self.r.choice(string.digits))
            else:
                out.append(s)
        return "".join(out)

    @staticmethod
    def mod97(text):
        moved = text[4:] + text[:4]
        number = "".join(str(int(c, 36)) for c in moved)
        return int(number) % 97

    def iban_compact(self, country=None):
        country = country or self.pick(sorted(self.IBAN_BBAN))
        bban = self.bban(self.IBAN_BBAN[country])
        check = 98 - self.mod97(country + "00" + bban)
        return f"{country}{check:02d}{bban}"

    def group4(self, compact):
        return " ".join(compact[k:k + 4] for k in range(0, len(compact), 4))

    def iban(self):
        compact = self.iban_compact()
        return self.group4(compact) if self.r.random() < 0.5 else compact

    def bad_iban(self):
        compact = self.iban_compact()
        k = self.r.randint(4, len(compact) - 1)
        while True:
            c = self.r.choice(string.digits)
            bad = compact[:k] + c + compact[k + 1:]
            if c != compact[k] and self.mod97(bad) != 1:
                break
        return self.group4(bad) if self.r.random() < 0.5 else bad

    # MARK: SSNs

    def ssn_parts(self):
        area = self.r.randint(1, 899)
        while area == 666:
            area = self.r.randint(1, 899)
        return f"{area:03d}", f"{self.r.randint(1, 99):02d}", f"{self.r.randint(1, 9999):04d}"

    def ssn(self):
        return "-".join(self.ssn_parts())

    # MARK: IP addresses

    def ipv4(self):
        return self.pick([
            lambda: f"10.{self.r.randint(0, 255)}.{self.r.randint(0, 255)}.{self.r.randint(1, 254)}",
            lambda: f"192.168.{self.r.randint(0, 255)}.{self.r.randint(1, 254)}",
            lambda: f"172.{self.r.randint(16, 31)}.{self.r.randint(0, 255)}.{self.r.randint(1, 254)}",
            lambda: f"{self.r.randint(1, 223)}.{self.r.randint(0, 255)}.{self.r.randint(0, 255)}.{self.r.randint(1, 254)}",
            lambda: f"203.0.113.{self.r.randint(1, 254)}",
            lambda: f"198.51.100.{self.r.randint(1, 254)}",
            lambda: "127.0.0.1",
        ])()

    def ipv6(self):
        h = lambda: f"{self.r.randint(0, 0xffff):x}"
        full = lambda: ":".join(f"{self.r.randint(0, 0xffff):04x}" for _ in range(8))
        return self.pick([
            full,
            lambda: f"2001:db8::{h()}:{h()}",
            lambda: f"2001:db8:{h()}:{h()}::{h()}",
            lambda: f"fe80::{h()}:{h()}:{h()}:{h()}",
            lambda: f"2001:0db8:85a3:0000:0000:8a2e:0370:{self.r.randint(0, 0xffff):04x}",
            lambda: f"2a00:1450:4001:{h()}::200e",
            lambda: f"::ffff:192.0.2.{self.r.randint(1, 254)}",
            lambda: f"fd00::{h()}",
            lambda: f"2606:4700:4700::1111",
        ])()

    def ip(self):
        return self.ipv4() if self.r.random() < 0.6 else self.ipv6()

    # MARK: secrets

    def secret(self):
        c = self.chars
        token = string.ascii_letters + string.digits + "_-"
        return self.pick([
            lambda: "sk-proj-" + c(48, token) + self.digits(1),
            lambda: "sk-" + c(47) + self.digits(1),
            lambda: "sk-svcacct-" + c(40, token) + self.digits(2),
            lambda: "sk-ant-api03-" + c(93, token) + "AA",
            lambda: "sk-ant-admin01-" + c(80, token) + "AA",
            lambda: "AKIA" + c(16, string.ascii_uppercase + string.digits),
            lambda: "AIza" + c(35, token),
            lambda: "ghp_" + c(36),
            lambda: "gho_" + c(36),
            lambda: "ghs_" + c(36),
            lambda: "xoxb-" + self.digits(12) + "-" + self.digits(13) + "-" + c(24),
            lambda: "xoxp-" + self.digits(12) + "-" + self.digits(12) + "-" + self.digits(13) + "-" + c(32, "0123456789abcdef"),
            self.jwt,
            self.pem,
        ])()

    def secret_beyond(self):
        """Real key formats the documentation does not list (one maker each)."""
        c = self.chars
        return [
            lambda: "sk_live_" + c(24) + self.digits(1),            # Stripe secret key
            lambda: "rk_live_" + c(24) + self.digits(1),            # Stripe restricted key
            lambda: "github_pat_11A" + c(19, string.ascii_uppercase + string.digits) + "_" + c(59),
            lambda: "ASIA" + c(16, string.ascii_uppercase + string.digits),   # AWS temporary credentials
            lambda: "glpat-" + c(20, string.ascii_letters + string.digits + "_-"),   # GitLab
            lambda: "hf_" + c(34, string.ascii_letters),            # Hugging Face
            lambda: "npm_" + c(36),                                 # npm
        ]

    def aws_secret_key(self):
        return self.chars(40, string.ascii_letters + string.digits + "/+")

    def b64url(self, raw):
        import base64
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def jwt(self):
        header = self.b64url(json.dumps({"alg": self.pick(["HS256", "RS256"]), "typ": "JWT"}, separators=(",", ":")))
        payload = self.b64url(json.dumps({"sub": self.digits(10), "name": self.pick(FIRST).title(),
                                          "iat": 1700000000 + self.r.randint(0, 9999999)}, separators=(",", ":")))
        signature = self.chars(43, string.ascii_letters + string.digits + "_-")
        return f"{header}.{payload}.{signature}"

    def pem(self):
        kind = self.pick(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
        alphabet = string.ascii_letters + string.digits + "+/"
        lines = [self.chars(64, alphabet) for _ in range(self.r.randint(2, 5))] + [self.chars(self.r.randint(8, 60), alphabet) + "=="]
        return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"

    def bearer(self):
        return self.pick([lambda: self.chars(self.r.randint(24, 48), string.ascii_letters + string.digits + "._-"),
                          self.jwt, lambda: "ya29." + self.chars(60, string.ascii_letters + string.digits + "_-")])()

    # MARK: names

    def name(self):
        value = self.pick(NAMES)
        roll = self.r.random()
        return value.upper() if roll < 0.1 else value.lower() if roll < 0.2 else value

    # MARK: look-alikes (never labelled)

    def date(self):
        y, m, d = self.r.randint(1990, 2030), self.r.randint(1, 12), self.r.randint(1, 28)
        return self.pick([f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}", f"{m:02d}/{d:02d}/{y}", f"{d} Mar {y}",
                          f"{y}-{m:02d}-{d:02d}T{self.r.randint(0, 23):02d}:{self.r.randint(0, 59):02d}:{self.r.randint(0, 59):02d}Z",
                          f"{y}/{m:02d}/{d:02d}", f"{y}{m:02d}{d:02d}"])

    def time(self):
        a, b = self.r.randint(7, 12), self.r.randint(13, 19)
        return self.pick([f"{a}:{self.pick(['00', '15', '30', '45'])}", f"{a}:30-{b}:45", f"{a:02d}:{self.r.randint(0, 59):02d}:{self.r.randint(0, 59):02d}",
                          f"{a}:00 – {b}:30", f"{a:02d}:{self.r.randint(0, 59):02d}:{self.r.randint(0, 59):02d}.{self.digits(3)}"])

    def version(self):
        a, b, c = self.r.randint(0, 20), self.r.randint(0, 30), self.r.randint(0, 200)
        return self.pick([f"{a}.{b}.{c}", f"v{a}.{b}.{c}-beta.{self.r.randint(1, 9)}", f"{a}.{b}", f"^{a}.{b}.{c}",
                          f">={a}.{b}.0 <{a + 1}.0.0", f"{a}.{b}.{c}+build.{self.r.randint(1, 999)}", f"{a}.{b}.{c}rc{self.r.randint(1, 4)}"])

    def order(self):
        return self.pick([f"#{self.r.randint(10000, 999999)}", f"ORD-{self.r.randint(2019, 2025)}-{self.digits(6)}",
                          f"PO {self.digits(10)}", f"INV-{self.digits(5)}", f"case {self.digits(8)}", f"RMA{self.digits(7)}"])

    def price(self):
        return self.pick([f"${self.r.randint(1, 9)},{self.digits(3)}.{self.digits(2)}", f"€{self.r.randint(1, 999)},{self.digits(2)}",
                          f"£{self.r.randint(1, 999)}.{self.digits(2)}", f"USD {self.r.randint(10, 99)},{self.digits(3)}.00",
                          f"{self.r.randint(1, 99)}.{self.digits(3)},{self.digits(2)} €", f"¥{self.r.randint(1, 999)},{self.digits(3)}"])

    def isbn(self):
        body = "978" + self.digits(9)
        check = (10 - sum(int(ch) * (1 if k % 2 == 0 else 3) for k, ch in enumerate(body)) % 10) % 10
        full = body + str(check)
        return self.pick([full, f"{full[:3]}-{full[3]}-{full[4:7]}-{full[7:12]}-{full[12]}", f"ISBN {full[:3]}-{full[3:5]}-{full[5:9]}-{full[9:12]}-{full[12]}"])

    def ean(self):
        body = self.digits(12)
        check = (10 - sum(int(ch) * (1 if k % 2 == 0 else 3) for k, ch in enumerate(body)) % 10) % 10
        return body + str(check)

    def uuid(self):
        h = "0123456789abcdef"
        return f"{self.chars(8, h)}-{self.chars(4, h)}-4{self.chars(3, h)}-{self.pick('89ab')}{self.chars(3, h)}-{self.chars(12, h)}"

    def sha(self, n=40):
        return self.chars(n, "0123456789abcdef")

    def coordinates(self):
        lat, lon = self.r.uniform(-80, 80), self.r.uniform(-179, 179)
        return self.pick([f"{lat:.4f}, {lon:.4f}", f"{lat:.6f},{lon:.6f}", f"{abs(lat):.4f}° {'N' if lat > 0 else 'S'}, {abs(lon):.4f}° {'E' if lon > 0 else 'W'}"])

    def big_number(self):
        n = self.r.randint(1_000_000, 9_999_999_999)
        return self.pick([f"{n:,}", f"{n:,}".replace(",", " "), f"{n:,}".replace(",", "'"), f"{n:_}"])

    def tracking(self):
        return self.pick([f"1Z{self.chars(6, string.ascii_uppercase + string.digits)}{self.digits(10)}",
                          f"{self.digits(4)} {self.digits(4)} {self.digits(4)}",
                          f"9400 {self.digits(4)} {self.digits(4)} {self.digits(4)} {self.digits(4)} {self.digits(2)}",
                          f"JD{self.digits(18)}", f"{self.chars(2, string.ascii_uppercase)}{self.digits(9)}GB"])

    def product_code(self):
        return self.pick([f"SKU-{self.digits(3)}-{self.digits(4)}", f"P/N {self.digits(2)}-{self.digits(4)}-{self.digits(2)}",
                          f"model {self.chars(2, string.ascii_uppercase)}-{self.digits(4)}", f"part {self.digits(3)}.{self.digits(3)}.{self.digits(2)}",
                          f"REF {self.digits(3)}/{self.digits(3)}/{self.digits(4)}"])


# MARK: - templates

# A template is text with slots: {email} {phone} {card} {iban} {ssn} {ip} {ipv4} {ipv6} {secret} {bearer} {jwt} {pem}
# {name} (planted and labelled), and {date} {time} {version} {order} {price} {isbn} {ean} {uuid} {sha} {sha256}
# {coords} {bignum} {tracking} {product} {badcard} {badiban} {first} (look-alikes and filler, never labelled).
LABELLED = {"email": "email", "phone": "phone", "card": "card", "iban": "iban", "ssn": "ssn", "ip": "ip", "ipv4": "ip",
            "ipv6": "ip", "secret": "secret", "bearer": "secret", "jwt": "secret", "pem": "secret", "name": "name",
            "aws_secret": "secret"}

POSITIVE = {
    "ticket": [
        "Hi, I was charged twice on my card {card} on {date}. Please refund one of the charges. My email is {email}.",
        "Customer {name} called from {phone} about order {order}; wants the invoice sent to {email}.",
        "Refund request: please send {price} back to IBAN {iban} (account holder {name}).",
        "The customer says their SSN {ssn} was printed on the letter we sent on {date}. Escalate to compliance.",
        "Login failures for {email} from {ip} since {time}; account locked after 5 attempts.",
        "Please update my phone number to {phone} and my billing email to {email}. Thanks, {name}",
        "Ticket {order}: card ending in {last4} declined. Full number given by the caller: {card}. Expiry 09/27.",
        "Payment for invoice {order} should go to {iban}, not to the old account. Amount {price}.",
        "Can you verify my identity? SSN: {ssn}, DOB {date}, phone {phone}.",
        "I accidentally pasted our production key {secret} in a public issue. How do I rotate it?",
        "Our integration stopped working at {time}. We're calling with Authorization: Bearer {bearer} from {ipv4}.",
        "{name} reports that the portal shows someone else's address and the number {phone} on her profile.",
        "Chargeback on {card} for {price}. Cardholder: {name}, contact {email}.",
        "Hello, my direct debit failed. New IBAN: {iban}. Old one was closed on {date}.",
        "Wrong SSN on W-2: it says {ssn} but mine is {ssn}. Please correct before {date}.",
    ],
    "email": [
        "From: {name} <{email}>\nTo: {email}\nSubject: Re: order {order}\n\nHi, please call me back at {phone} after {time}.",
        "Dear team,\n\nplease wire the deposit ({price}) to {iban} by {date}.\n\nKind regards,\n{name}\n{phone}",
        "Hi {first},\n\nthe new staging box is at {ipv4} (IPv6 {ipv6}). SSH key is attached; the API token is {secret}.\n\nCheers",
        "Reply-To: {email}\nCc: {email}\n\nHello, forwarding the customer's card {card} for the manual charge.",
        "-----Original Message-----\nFrom: {email}\nSent: {date} {time}\n\nYou can reach me on {phone} or {phone}.",
        "Hi, this is {name}. My social security number is {ssn} and my card is {card}.",
        "Please add {email} and {email} to the distribution list. — {name}, {phone}",
    ],
    "chat": [
        "hey can u send it to {email}",
        "my number is {phone} text me",
        "card is {card} exp 11/26 cvv {cvv}",
        "yo the db is on {ipv4}:5432 and the password is in the vault",
        "here's my key {secret} pls don't share lol",
        "iban {iban}",
        "ok so {name} said to ping {email} about the {version} release",
        "call me on {phone} or {phone} tomorrow at {time}",
        "it's {ssn} i think",
        "new token: {secret}",
        "whois {ipv6}?",
        "ask {name} — she's on {phone}",
        "my mail: {email}, backup: {email}",
    ],
    "log": [
        "{date} {time} INFO  request from {ipv4} user={email} path=/v1/chat/completions status=200 dur=123ms",
        "{date} WARN  auth failed for {email} from {ip}: invalid key {secret}",
        "[{date}] ERROR payment declined card={card} amount={price} order={order}",
        "{ipv4} - - [{date}:{time} +0000] \"GET /api/v1/users HTTP/1.1\" 200 512 \"-\" \"curl/{version}\"",
        "level=debug msg=\"upstream call\" headers=\"Authorization: Bearer {bearer}\" peer={ipv4}:443",
        "sshd[{port}]: Accepted publickey for deploy from {ip} port {port} ssh2",
        "kernel: IN=eth0 OUT= SRC={ipv4} DST={ipv4} LEN=60 PROTO=TCP SPT={port} DPT=22",
        "{date} {time} DEBUG sms sent to {phone} template=otp id={uuid}",
        "trace_id={sha} client_ip={ipv6} user={email} took 42ms",
        "audit: user {email} exported report for {name} ({ssn}) at {time}",
        "upstream connect error to [{ipv6}]:8443 after 3 retries",
        "iptables -A INPUT -s {ipv4}/32 -j DROP  # abuse report from {email}",
    ],
    "code": [
        "client = OpenAI(api_key=\"{secret}\")",
        "export OPENAI_API_KEY={secret}\nexport ANTHROPIC_API_KEY={secret}",
        "curl https://api.example.com/v1/me -H \"Authorization: Bearer {bearer}\"",
        "const SMTP_USER = \"{email}\";\nconst SMTP_HOST = \"{ipv4}\";",
        "aws_access_key_id = {secret}\nregion = eu-west-1",
        "# TODO remove before commit\nSLACK_TOKEN = '{secret}'",
        "def test_refund():\n    assert refund(card=\"{card}\", amount=100) == \"ok\"",
        "ALLOWED_HOSTS = [\"{ipv4}\", \"{ipv6}\", \"localhost\"]",
        "key = \"\"\"{pem}\"\"\"",
        "git config user.email \"{email}\"",
        "ssh -i id_rsa deploy@{ipv4} -p 2222",
        "std::string dsn = \"postgres://app@{ipv4}:5432/db\"; // owner: {email}",
        "headers = {{\"Authorization\": \"Bearer {bearer}\"}}",
        "JWT_FOR_TESTS = \"{jwt}\"",
        "# .env\nDATABASE_HOST={ipv4}\nOPENAI_API_KEY={secret}\nADMIN_EMAIL={email}",
    ],
    "json": [
        "{{\"user\": {{\"name\": \"{name}\", \"email\": \"{email}\", \"phone\": \"{phone}\"}}, \"created\": \"{date}\"}}",
        "{{\"payment\": {{\"card\": \"{card}\", \"amount\": {amount}}}, \"ip\": \"{ipv4}\"}}",
        "{{\"iban\": \"{iban}\", \"bic\": \"DEUTDEFF\", \"holder\": \"{name}\"}}",
        "{{\"ssn\": \"{ssn}\", \"id\": \"{uuid}\"}}",
        "{{\"api_key\": \"{secret}\", \"model\": \"gpt-4o\", \"temperature\": 0.2}}",
        "{{\"remote_addr\": \"{ip}\", \"x_forwarded_for\": \"{ipv4}, {ipv4}\"}}",
        "{{\"contacts\": [\"{email}\", \"{email}\"], \"version\": \"{version}\"}}",
        "{{\"token\": \"{jwt}\", \"expires_in\": 3600}}",
    ],
    "csv": [
        "id,name,email,phone\n{n},{name},{email},{phone}",
        "{n};{name};{iban};{price}",
        "{date},{ipv4},{email},login_ok",
        "{n},\"{name}\",{ssn},{date}",
        "txn_id,card,amount\n{uuid},{card},{amount}",
        "{email},{phone},{ipv4}",
    ],
    "multilingual": [
        "Bonjour, mon numéro est le {phone} et mon adresse e-mail {email}. Merci !",
        "Hallo, bitte überweisen Sie den Betrag auf mein Konto {iban}. Mit freundlichen Grüßen, {name}",
        "Hola, mi tarjeta {card} fue rechazada. Mi correo es {email}.",
        "Olá, meu e-mail é {email} e meu telefone {phone}.",
        "Ciao, il mio IBAN è {iban}, grazie.",
        "Здравствуйте, мой адрес {email}, телефон {phone}.",
        "こんにちは。メールアドレスは {email} です。電話番号は {phone} です。",
        "您好，我的邮箱是 {email} ，电话 {phone} 。",
        "मेरा ईमेल {email} है और फ़ोन {phone} है।",
        "Sehr geehrte Damen und Herren, meine IP-Adresse ist {ipv4}, der Schlüssel lautet {secret}.",
        "Merhaba, kartım {card} ve e-postam {email}.",
        "Hej! Mitt kontonummer är {iban} och mobil {phone}.",
    ],
    # Text in scripts written without spaces: values run straight into the next character.
    "multilingual.nospace": [
        "我的卡号是{card}，谢谢。",
        "電話番号は{phone}です。",
        "口座番号：{iban}。",
        "邮箱：{email}，请回复。",
        "服务器地址{ipv4}无法访问。",
        "社会保障番号は{ssn}です。",
        "请联系{phone}或者{email}。",
    ],
    "beyond_docs": [
        "SSN (no dashes on the form): {ssn_nodash}",
        "SSN {ssn_spaced}, DOB {date}",
        "aws_secret_access_key = {aws_secret}",
        "IPv6 loopback is ::1 and we bind to it in tests.",
        "Our payout account: {iban_dashed}",
    ],
}

NEGATIVE = {
    "negative.dates": [
        "The meeting moved from {date} to {date}, {time}.",
        "Release {version} shipped on {date} at {time} UTC.",
        "Office hours: Mon–Fri {time}, Sat {time}.",
        "Log rotated at {date} {time}; next rotation {date}.",
        "Born in 1987, moved in 1999-2000, graduated 2009–2013.",
        "Timestamp: {unix_ms} ({date})",
        "Uptime 12:30:45, load average 0.42, 0.38, 0.35",
        "The train leaves at 10:30-11:45 and arrives 14:05.",
        "Deadline: {date}. Week 12/52. Q3 2024.",
        "Termin am {eu_datetime} Uhr, Raum 2.14.",
        "Stand: {eu_datetime}",
    ],
    "negative.numbers": [
        "Order {order} costs {price} incl. VAT; shipping {price}.",
        "Population grew from {bignum} to {bignum} between 1990 and 2020.",
        "Total revenue: {bignum} (up 12.5% year on year).",
        "Compute 3 * (4 + 5) = 27, then 2^10 = 1024 and 1/3 ≈ 0.3333.",
        "The answer is {bignum}; pi is 3.14159265358979323846.",
        "Coordinates: {coords}.",
        "Meet at {coords} near the fountain.",
        "Budget: €2.500.000.000 for the programme, of which 1.000.000.000 this year.",
        "Invoice {order}, total {price}, due {date}.",
        "Ratio 16:9, aspect 4:3, scale 1:50000.",
        "Matthew 5:3-10 and John 3:16 are quoted on page 123-145.",
        "Sequence: 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144.",
        "Measured values 12.5 13.75 14.25 15.0 mm at 20°C.",
    ],
    "negative.ids": [
        "Book: {isbn}. Barcode {ean}.",
        "Request id {uuid}, correlation {uuid}.",
        "Fixed in commit {sha} (see also {sha7}).",
        "sha256: {sha256}",
        "docker pull app@sha256:{sha256}",
        "Tracking number: {tracking}. Estimated delivery {date}.",
        "Your parcel {tracking} is out for delivery.",
        "Product {product}, replaces {product}.",
        "Device MAC 00:1A:2B:{mac} connected on port 3.",
        "OID 1.3.6.1.4.1.311.21.7 and ASN 64512.",
        "Ticket {order} and {order} were merged.",
        "Unix time {unix} is {date}.",
    ],
    "negative.lookalikes": [
        "Card-like but wrong: {badcard}. Please double-check.",
        "The number {badcard} fails the check digit.",
        "IBAN-like string {badiban} has a bad checksum.",
        "Account reference {badiban} (invalid).",
        "Example SSNs that are never issued: 000-12-3456, 666-12-3456, 900-12-3456.",
        "The invalid address 300.1.1.1 and 256.256.256.256 should be rejected.",
        "Send to user@localhost or root@localhost for local delivery.",
        "Mention @{first} in the thread; the handle is @{first}_{n}.",
        "Install lodash@4.17.21 and @types/node@{version}.",
        "The key sk-short is a placeholder.",
        "Use the placeholder Bearer <token> or Bearer $API_KEY in examples.",
        "Use std::vector<int> and std::chrono::milliseconds(1500) here; a::b is a path.",
        "In Rust, use std::collections::HashMap; call Foo::bar() then Self::new().",
        "Semantic versions: {version}, {version}, {version}.",
        "Python {version} and Node {version} are supported.",
        "Phone-shaped code {phoneish}",
        "Jane Smith and Janet Doe are not on the list; neither is Doe or Martin alone.",
        "-----BEGIN CERTIFICATE-----\nMIIB{sha}\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\nMFkw{sha}\n-----END PUBLIC KEY-----",
        "Password: hunter2 (just kidding).",
    ],
    # Look-alikes that the detectors' documentation says are found anyway: labelled as negatives, so they count.
    "negative.known": [
        "Upgrade to version 10.2.0.1 of the agent.",
        "Retina asset: logo@2x.png and icon@3x.png.",
        "Clone git@github.com:{first}/app.git and run it.",
        "The device IMEI is {imei}.",
        "Part number {nanp_code} is out of stock.",
        "Use Bearer authentication for every request.",
    ],
}


def imei(g):
    body = "35" + g.digits(12)
    return body + Gen.luhn_digit(body)


def fill(g, template, source):
    """Fills the slots of `template`; returns the row."""
    spans = []
    out = []
    k = 0
    while k < len(template):
        if template.startswith("{{", k):
            out.append("{")
            k += 2
            continue
        if template.startswith("}}", k):
            out.append("}")
            k += 2
            continue
        if template[k] != "{":
            out.append(template[k])
            k += 1
            continue
        end = template.index("}", k)
        slot = template[k + 1:end]
        k = end + 1
        value = slot_value(g, slot)
        if slot in LABELLED:
            spans.append({"kind": LABELLED[slot], "value": value})
        elif slot in ("ssn_nodash", "ssn_spaced"):
            spans.append({"kind": "ssn", "value": value})
        elif slot == "iban_dashed":
            spans.append({"kind": "iban", "value": value})
        out.append(value)
    text = "".join(out)
    if template.startswith("IPv6 loopback is ::1"):
        spans.append({"kind": "ip", "value": "::1"})
    for span in spans:
        assert span["value"] in text, (span, text)
    return {"text": text, "spans": spans, "source": source}


def slot_value(g, slot):
    simple = {
        "email": g.email, "phone": g.phone, "card": g.card, "iban": g.iban, "ssn": g.ssn, "ip": g.ip, "ipv4": g.ipv4,
        "ipv6": g.ipv6, "secret": g.secret, "bearer": g.bearer, "jwt": g.jwt, "pem": g.pem, "name": g.name,
        "aws_secret": g.aws_secret_key,
        "date": g.date, "time": g.time, "version": g.version, "order": g.order, "price": g.price, "isbn": g.isbn,
        "ean": g.ean, "uuid": g.uuid, "sha": g.sha, "coords": g.coordinates, "bignum": g.big_number,
        "tracking": g.tracking, "product": g.product_code, "badcard": g.bad_card, "badiban": g.bad_iban,
    }
    if slot in simple:
        return simple[slot]()
    if slot == "first":
        return g.pick(FIRST)
    if slot == "sha7":
        return g.sha(7)
    if slot == "sha256":
        return g.sha(64)
    if slot == "n":
        return str(g.r.randint(1, 9999))
    if slot == "last4":
        return g.digits(4)
    if slot == "cvv":
        return g.digits(3)
    if slot == "port":
        return str(g.r.randint(1024, 65535))
    if slot == "amount":
        return f"{g.r.randint(1, 9999)}.{g.digits(2)}"
    if slot == "unix":
        return str(g.r.randint(1_500_000_000, 1_800_000_000))
    if slot == "unix_ms":
        return str(g.r.randint(1_500_000_000_000, 1_800_000_000_000))
    if slot == "eu_datetime":
        return f"{g.r.randint(1, 28):02d}.{g.r.randint(1, 12):02d}.{g.r.randint(2000, 2030)} {g.r.randint(8, 18)}:{g.pick(['00', '15', '30', '45'])}"
    if slot == "mac":
        return ":".join(g.chars(2, "0123456789ABCDEF") for _ in range(3))
    if slot == "imei":
        return imei(g)
    if slot == "nanp_code":
        return f"{g.digits(3)}-{g.digits(3)}-{g.digits(4)}"
    if slot == "phoneish":
        return g.pick([f"X{g.digits(3)}-{g.digits(3)}-{g.digits(4)}", f"{g.digits(2)}-{g.digits(3)}-{g.digits(3)}",
                       f"{g.digits(4)}-{g.digits(4)}", f"{g.digits(3)} {g.digits(3)}", f"v{g.digits(3)}.{g.digits(3)}.{g.digits(4)}"])
    if slot == "ssn_nodash":
        return "".join(g.ssn_parts())
    if slot == "ssn_spaced":
        return " ".join(g.ssn_parts())
    if slot == "iban_dashed":
        return "-".join(g.group4(g.iban_compact()).split(" "))
    raise KeyError(slot)


# How many texts each template gives.
REPEATS = {"ticket": 8, "email": 8, "chat": 6, "log": 7, "code": 5, "json": 7, "csv": 7, "multilingual": 5,
           "multilingual.nospace": 4, "beyond_docs": 3,
           "negative.dates": 5, "negative.numbers": 4, "negative.ids": 4, "negative.lookalikes": 4, "negative.known": 2}


def build():
    g = Gen(SEED)
    rows = []
    for group in (POSITIVE, NEGATIVE):
        for source, templates in group.items():
            for template in templates:
                for _ in range(REPEATS[source]):
                    rows.append(fill(g, template, source))
    # Every Luhn-failing and checksum-failing look-alike format once more, alone, and each valid format alone.
    for _ in range(40):
        rows.append({"text": g.bad_card(), "spans": [], "source": "negative.lookalikes"})
        rows.append({"text": g.bad_iban(), "spans": [], "source": "negative.lookalikes"})
    for country in sorted(Gen.IBAN_BBAN):
        compact = g.iban_compact(country)
        for value in (compact, g.group4(compact)):
            rows.append({"text": f"IBAN: {value}", "spans": [{"kind": "iban", "value": value}], "source": "ticket"})
    # Each format beyond the documentation in a few contexts.
    for make in g.phone_beyond():
        for template in ("Customer mobile {}, please call back.", "Telefone para contato: {}", "Call me at {} after 6pm."):
            value = make()
            rows.append({"text": template.format(value), "spans": [{"kind": "phone", "value": value}], "source": "beyond_docs"})
    for make in g.secret_beyond():
        for template in ("SECRET_KEY={}", "token: {}", "Here is the key: {} (rotate it after the demo)"):
            value = make()
            rows.append({"text": template.format(value), "spans": [{"kind": "secret", "value": value}], "source": "beyond_docs"})
    # Deduplicate (a template can repeat a text when its slots have few values).
    seen, unique = set(), []
    for row in rows:
        if row["text"] not in seen:
            seen.add(row["text"])
            unique.append(row)
    return unique


def main():
    rows = build()
    with open(OUT, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    kinds, sources = {}, {}
    for row in rows:
        sources[row["source"]] = sources.get(row["source"], 0) + 1
        for span in row["spans"]:
            kinds[span["kind"]] = kinds.get(span["kind"], 0) + 1
    print(f"{len(rows)} texts, {sum(kinds.values())} labelled values -> {os.path.relpath(OUT, ROOT)}")
    for kind in sorted(kinds):
        print(f"  {kind:8} {kinds[kind]}")
    for source in sorted(sources):
        print(f"  {source:22} {sources[source]} texts")


if __name__ == "__main__":
    main()
