#!/usr/bin/env python3
"""Lint, test and evaluate Picket rule packs (rules/*.toml) without building Rust.

Standard library only (python >= 3.11 for tomllib).

  python3 scripts/check_packs.py                       # lint + examples for rules/pii.toml, rules/secrets.toml
  python3 scripts/check_packs.py rules/pii.toml        # one pack
  python3 scripts/check_packs.py --eval                # + synthetic_pii.jsonl and secret_rule_examples.jsonl
  python3 scripts/check_packs.py --eval -v             # + list misses / false positives
  python3 scripts/check_packs.py --scan "some text"    # print the findings for a string

This mirrors docs/rule-packs.md: the schema, the validators (luhn, iban, ssn, ipv4, ipv6, jwt,
entropy), stopwords, context words and the example tests. Patterns are Rust `regex` syntax; they
are linted for constructs Rust rejects or that are slow there, then translated to Python `re`
((?-u:\\b) -> \\b with re.ASCII). Known Python-vs-Rust differences are listed in lint_pattern().
"""
from __future__ import annotations

import argparse
import base64
import collections
import ipaddress
import json
import math
import os
import re
import sys
import tomllib
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PACKS = [os.path.join(ROOT, "rules", "pii.toml"), os.path.join(ROOT, "rules", "secrets.toml")]
DATA_DIRS = [os.path.join(ROOT, "..", "shared", "data", "pii"), "/work/shared/data/pii"]

PACK_KEYS = {"id", "version", "description"}
RULE_KEYS = {"id", "category", "label", "kind", "pattern", "group", "validator", "score", "action", "mask",
             "keep", "directions", "stopwords", "context", "examples", "keywords", "whole_words", "leet",
             "detector", "description"}
REQUIRED = ["id", "category", "label", "kind", "score", "action", "examples"]
CATEGORIES = {"pii", "secret", "injection", "jailbreak", "evasion"}
KINDS = {"regex", "keywords", "evasion"}
ACTIONS = {"report", "mask", "block"}
MASKS = {"label", "partial", "hash", "token"}
DIRECTIONS = {"input", "context", "output"}
VALIDATORS = {"luhn", "iban", "ssn", "ipv4", "ipv6", "jwt", "k8s_secret_data"}
CONTEXT_KEYS = {"words", "score", "negative", "negative_score", "window"}
OVERRIDE_KEYS = {"rule", "enabled", "score", "action"}

# ISO 13616 registered IBAN lengths.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


# ----------------------------------------------------------------------------- validators

def v_luhn(s: str) -> bool:
    d = [int(c) for c in s if c.isdigit()]
    if not 12 <= len(d) <= 19:
        return False
    tot = 0
    for i, x in enumerate(reversed(d)):
        if i % 2 == 1:
            x *= 2
            if x > 9:
                x -= 9
        tot += x
    return tot % 10 == 0


def v_iban(s: str) -> bool:
    s = "".join(s.split()).upper()
    if len(s) < 5 or not s.isalnum() or not s.isascii():
        return False
    if IBAN_LENGTHS.get(s[:2]) != len(s) or not s[2:4].isdigit():
        return False
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def v_ssn(s: str) -> bool:
    d = "".join(c for c in s if c.isdigit())
    if len(d) != 9:
        return False
    area, group, serial = d[:3], d[3:5], d[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return d not in ("078051120", "219099999")


def v_ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(s)
        return True
    except ValueError:
        return False


def v_ipv6(s: str) -> bool:
    if "%" in s:  # Rust's Ipv6Addr has no zone ids
        return False
    try:
        ipaddress.IPv6Address(s)
        return True
    except ValueError:
        return False


def b64url_decode(seg: str) -> bytes:
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def v_jwt(s: str) -> bool:
    try:
        hdr = json.loads(b64url_decode(s.split(".")[0]))
    except Exception:
        return False
    return isinstance(hdr, dict) and "alg" in hdr


def entropy(s: str) -> float:
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in collections.Counter(s).values())


def v_k8s_secret_data(block: str) -> bool:
    """Mirror of detect/k8s_secret.rs: every value is padded base64 of printable text."""
    n = 0
    for line in block.splitlines():
        line = line.strip()
        if not line:
            continue
        if ":" not in line:
            return False
        value = line.split(":", 1)[1].strip().strip("\"'")
        if len(value) < 4 or len(value) % 4:
            return False
        try:
            text = base64.b64decode(value, validate=True).decode("utf-8")
        except Exception:
            return False
        if not text or any(ord(c) < 32 and c not in "\t\n\r" or ord(c) == 127 for c in text):
            return False
        n += 1
    return n > 0


NAMED_VALIDATORS = {"k8s_secret_data": v_k8s_secret_data, "luhn": v_luhn, "iban": v_iban, "ssn": v_ssn, "ipv4": v_ipv4, "ipv6": v_ipv6, "jwt": v_jwt}


def make_validator(v):
    if v is None:
        return None
    if isinstance(v, str):
        return NAMED_VALIDATORS[v]
    threshold = float(v["entropy"])
    return lambda s: entropy(s) >= threshold


# ----------------------------------------------------------------------------- regex lint / translation

def _scan_classes(p: str):
    """Yield (kind, index) problems inside [...] classes that Rust parses differently."""
    i, n = 0, len(p)
    out = []
    while i < n:
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and p[j] == "^":
                j += 1
            if j < n and p[j] == "]":  # leading ] is literal
                j += 1
            depth = 1
            while j < n and depth:
                if p[j] == "\\":
                    j += 2
                    continue
                if p[j] == "[":
                    if p[j:j + 2] == "[:":
                        end = p.find(":]", j)
                        j = end + 2 if end > 0 else j + 1
                        continue
                    out.append(f"unescaped '[' inside a class at {j} (Rust nests classes)")
                    depth += 1
                elif p[j] == "]":
                    depth -= 1
                elif p[j:j + 2] in ("&&", "--", "~~"):
                    out.append(f"'{p[j:j + 2]}' inside a class at {j} (Rust class set operator)")
                j += 1
            i = j
            continue
        i += 1
    return out


SAFE_ESCAPES = set(".+*?()[]{}|^$\\-/#&~ \"'") | set("bBrnt") | {"x", "A", "z"}


def lint_pattern(p: str) -> tuple[list[str], list[str]]:
    """Return (errors, warnings) for a Rust-regex pattern."""
    errors, warnings = [], []
    for bad, why in [("(?=", "look-ahead"), ("(?!", "negative look-ahead"), ("(?<=", "look-behind"),
                     ("(?<!", "negative look-behind"), ("(?P=", "back-reference"), ("(?>", "atomic group")]:
        if bad in p:
            errors.append(f"{why} is not supported by Rust regex")
    if re.search(r"(?<!\\)\\[1-9]", p):
        errors.append("back-reference (\\1..) is not supported by Rust regex")
    if re.search(r"(?<![\\\[])(?:[*+?]|\})\+", p):
        errors.append("possessive quantifier is not supported by Rust regex")
    for m in re.finditer(r"\\([A-Za-z])", p):
        pre = p[max(0, m.start() - 5):m.start()]
        esc = m.group(1)
        if esc in "bB" and pre != "(?-u:":
            errors.append("bare \\b / \\B: write (?-u:\\b) (Unicode \\b is a 100x slowdown)")
        elif esc in "dwsDWS" and "(?-u" not in p:
            errors.append(f"\\{esc} is Unicode-aware in Rust: use an ASCII class")
        elif esc not in "bBdwsDWSrntxAzpP":
            errors.append(f"unknown escape \\{esc}")
    for m in re.finditer(r"\\(.)", p):
        if not m.group(1).isalnum() and m.group(1) not in SAFE_ESCAPES:
            warnings.append(f"escape of {m.group(1)!r} (unneeded; older Rust regex rejects it)")
    for m in re.finditer(r"\(\?([a-zA-Z-]+)\)", p):
        if m.start() != 0 and m.group(1) != "-u":
            warnings.append(f"inline flag group (?{m.group(1)}) not at the start: Python rejects it "
                            "(Rust accepts); use (?{m.group(1)}:...)")
    errors += _scan_classes(p)
    if re.search(r"\{(\d+)(,\d*)?\}", p):
        for m in re.finditer(r"\{(\d+)(?:,(\d*))?\}", p):
            hi = m.group(2)
            if hi and int(hi) > 1000:
                warnings.append(f"large bounded repeat {m.group(0)}: may exceed the compiled-size limit in Rust")
    return errors, warnings


def to_python(p: str) -> re.Pattern:
    q = p.replace("(?-u:\\b)", r"\b").replace("(?-u:\\B)", r"\B").replace("(?-u)", "").replace("(?-u:", "(?:")
    # Rust: \z = end of text; Python: \Z.
    q = q.replace("\\z", "\\Z")
    return re.compile(q, re.ASCII)


# ----------------------------------------------------------------------------- packs

@dataclass
class Rule:
    id: str
    category: str
    label: str
    kind: str
    pattern: str
    rx: re.Pattern | None
    group: int
    validator: object
    score: float
    action: str
    mask: str
    stopwords: list
    context: dict
    examples: dict
    pack: str


def load_pack(path: str, errors: list, warnings: list, seen_ids: dict) -> list[Rule]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except Exception as e:  # noqa: BLE001
        errors.append(f"{path}: TOML parse error: {e}")
        return []
    for k in data:
        if k not in ("pack", "rule", "override"):
            errors.append(f"{path}: unknown top-level key {k!r}")
    pack = data.get("pack", {})
    for k in pack:
        if k not in PACK_KEYS:
            errors.append(f"{path}: [pack] unknown field {k!r}")
    for k in PACK_KEYS:
        if not isinstance(pack.get(k), str) or not pack.get(k):
            errors.append(f"{path}: [pack] missing/empty {k}")
    if not re.fullmatch(r"\d+\.\d+\.\d+", str(pack.get("version", ""))):
        warnings.append(f"{path}: [pack] version is not semver")
    for o in data.get("override", []):
        for k in o:
            if k not in OVERRIDE_KEYS:
                errors.append(f"{path}: [[override]] unknown field {k!r}")
    rules = []
    for i, r in enumerate(data.get("rule", [])):
        rid = r.get("id", f"<rule #{i}>")
        where = f"{path}: {rid}"

        def err(msg):
            errors.append(f"{where}: {msg}")

        for k in r:
            if k not in RULE_KEYS:
                err(f"unknown field {k!r}")
        for k in REQUIRED:
            if k not in r:
                err(f"missing required field {k!r}")
        if rid in seen_ids:
            err(f"duplicate id (also in {seen_ids[rid]})")
        seen_ids[rid] = path
        if not re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)+", rid):
            err("id must be dotted lower-case, e.g. pii.email")
        if r.get("category") not in CATEGORIES:
            err(f"bad category {r.get('category')!r}")
        elif not rid.startswith(("pii." if r["category"] == "pii" else r["category"] + ".")):
            warnings.append(f"{where}: id does not start with its category")
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(r.get("label", ""))):
            err("label must be UPPER_SNAKE")
        if r.get("kind") not in KINDS:
            err(f"bad kind {r.get('kind')!r}")
        if r.get("action", "report") not in ACTIONS:
            err(f"bad action {r.get('action')!r}")
        if r.get("mask", "label") not in MASKS:
            err(f"bad mask {r.get('mask')!r}")
        if "keep" in r and (not isinstance(r["keep"], int) or r["keep"] < 0):
            err("keep must be a non-negative integer")
        if "keep" in r and r.get("mask") != "partial":
            warnings.append(f"{where}: keep without mask = \"partial\"")
        sc = r.get("score")
        if not isinstance(sc, (int, float)) or not 0 <= sc <= 1:
            err("score must be a number in [0, 1]")
        for d in r.get("directions", []):
            if d not in DIRECTIONS:
                err(f"bad direction {d!r}")
        v = r.get("validator")
        if v is not None:
            if isinstance(v, str):
                if v not in VALIDATORS:
                    err(f"unknown validator {v!r}")
            elif isinstance(v, dict):
                if set(v) != {"entropy"} or not isinstance(v["entropy"], (int, float)):
                    err("validator table must be { entropy = N }")
            else:
                err("validator must be a string or { entropy = N }")
        sw = r.get("stopwords", [])
        if not isinstance(sw, list) or not all(isinstance(w, str) and w for w in sw):
            err("stopwords must be a list of non-empty strings")
        elif any(w != w.lower() for w in sw):
            err("stopwords must be lower-case (they are compared to the lower-cased match)")
        ctx = r.get("context", {})
        for k in ctx:
            if k not in CONTEXT_KEYS:
                err(f"context: unknown field {k!r}")
        for k in ("words", "negative"):
            if k in ctx and (not isinstance(ctx[k], list) or any(w != w.lower() for w in ctx[k])):
                err(f"context.{k} must be a list of lower-case strings")
        for k in ("score", "negative_score"):
            if k in ctx and not (isinstance(ctx[k], (int, float)) and 0 <= ctx[k] <= 1):
                err(f"context.{k} must be in [0, 1]")
        if "words" in ctx and "score" not in ctx:
            err("context.words without context.score")
        if "negative" in ctx and "negative_score" not in ctx:
            err("context.negative without context.negative_score")
        ex = r.get("examples", {})
        for k in ex:
            if k not in ("match", "no_match"):
                err(f"examples: unknown field {k!r}")
        if len(ex.get("match", [])) < 2 or len(ex.get("no_match", [])) < 2:
            err("needs at least 2 examples.match and 2 examples.no_match")
        rx = None
        if r.get("kind") == "regex":
            p = r.get("pattern")
            if not isinstance(p, str) or not p:
                err("regex rule without pattern")
            else:
                e2, w2 = lint_pattern(p)
                for e in e2:
                    err(f"pattern: {e}")
                for w in w2:
                    warnings.append(f"{where}: pattern: {w}")
                try:
                    rx = to_python(p)
                except re.error as e:
                    err(f"pattern does not compile (as Python re): {e}")
                g = r.get("group", 0)
                if rx is not None and (not isinstance(g, int) or g < 0 or g > rx.groups):
                    err(f"group {g} out of range (pattern has {rx.groups if rx else '?'} groups)")
        try:
            validator = make_validator(v)
        except Exception:  # noqa: BLE001
            validator = None
        rules.append(Rule(rid, r.get("category", ""), r.get("label", ""), r.get("kind", ""), r.get("pattern", ""),
                          rx, r.get("group", 0), validator, float(sc) if isinstance(sc, (int, float)) else 0.0,
                          r.get("action", "report"), r.get("mask", "label"), sw if isinstance(sw, list) else [],
                          ctx, ex, path))
    return rules


# ----------------------------------------------------------------------------- scanning

@dataclass
class Finding:
    rule: Rule
    start: int
    end: int
    text: str
    score: float


STOPWORDS_ON_WHOLE_MATCH = False


def context_score(rule: Rule, lower: str, start: int, end: int) -> float:
    ctx = rule.context
    if not ctx:
        return rule.score
    w = int(ctx.get("window", 48))
    before, after = lower[max(0, start - w):start], lower[end:end + w]
    if any(x in before or x in after for x in ctx.get("words", [])):
        return float(ctx["score"])
    if any(x in before or x in after for x in ctx.get("negative", [])):
        return float(ctx["negative_score"])
    return rule.score


def scan_rule(rule: Rule, text: str, lower: str | None = None) -> list[Finding]:
    if rule.rx is None:
        return []
    lower = text.lower() if lower is None else lower
    out = []
    for m in rule.rx.finditer(text):
        if m.group(rule.group) is None:
            continue
        s, e = m.span(rule.group)
        val = text[s:e]
        if not val:
            continue
        if rule.validator is not None and not rule.validator(val):
            continue
        swtext = (m.group(0) if STOPWORDS_ON_WHOLE_MATCH else val).lower()
        if any(w in swtext for w in rule.stopwords):
            continue
        out.append(Finding(rule, s, e, val, context_score(rule, lower, s, e)))
    return out


def scan(rules: list[Rule], text: str) -> list[Finding]:
    lower = text.lower()
    out = []
    for r in rules:
        out += scan_rule(r, text, lower)
    return out


# ----------------------------------------------------------------------------- example tests

def run_examples(rules: list[Rule], verbose: bool) -> tuple[int, int, list[str]]:
    fails, total = [], 0
    for r in rules:
        for s in r.examples.get("match", []):
            total += 1
            if not scan_rule(r, s):
                fails.append(f"{r.id}: match example NOT found: {s[:120]!r}")
        for s in r.examples.get("no_match", []):
            total += 1
            f = scan_rule(r, s)
            if f:
                fails.append(f"{r.id}: no_match example FOUND {f[0].text[:60]!r} in {s[:120]!r}")
    return total, len(fails), fails


def cross_rule_report(rules: list[Rule]) -> list[str]:
    """no_match strings that another rule of the same category fires on (informational)."""
    notes = []
    for r in rules:
        for s in r.examples.get("no_match", []):
            others = {f.rule.id for f in scan([x for x in rules if x.category == r.category and x.id != r.id], s)}
            if others:
                notes.append(f"{r.id}: no_match {s[:70]!r} is found by {sorted(others)}")
    return notes


# ----------------------------------------------------------------------------- evaluation

SYN_MAP = {
    "EMAIL": ["pii.email"], "PHONE": ["pii.phone."], "CREDIT_CARD": ["pii.credit_card"], "IBAN": ["pii.iban"],
    "US_SSN": ["pii.us_ssn"], "IPV4": ["pii.ipv4"], "IPV6": ["pii.ipv6"],
    "AWS_ACCESS_KEY_ID": ["secret.aws.access_key_id"], "AWS_SECRET_ACCESS_KEY": ["secret.aws.secret_access_key"],
    "GITHUB_TOKEN": ["secret.github."], "SLACK_TOKEN": ["secret.slack.bot_token", "secret.slack.user_token",
                                                        "secret.slack.other_token", "secret.slack.app_token"],
    "SLACK_WEBHOOK": ["secret.slack.webhook"], "OPENAI_API_KEY": ["secret.openai."], "JWT": ["secret.jwt"],
    "PRIVATE_KEY": ["secret.private_key."], "PASSWORD": ["secret.generic.password", "secret.connection_url."],
}


def rule_types(rid: str) -> set[str]:
    return {t for t, prefs in SYN_MAP.items() if any(rid == p or (p.endswith(".") and rid.startswith(p)) or
                                                     rid.startswith(p + ".") for p in prefs)}


def overlaps(a0, a1, b0, b1):
    return a0 < b1 and b0 < a1


def find_data(name: str) -> str | None:
    for d in DATA_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


def eval_synthetic(rules: list[Rule], verbose: bool) -> bool:
    path = find_data("synthetic_pii.jsonl")
    if not path:
        print("synthetic_pii.jsonl not found; skipped")
        return True
    tp_gold = collections.Counter()
    n_gold = collections.Counter()
    n_pred = collections.Counter()
    tp_pred = collections.Counter()
    masked = collections.Counter()
    decoy_hit = collections.Counter()
    decoy_n = collections.Counter()
    stray = collections.Counter()  # findings of unmapped rules that overlap no gold entity
    examples = collections.defaultdict(list)
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    for row in rows:
        text = row["text"]
        fs = scan(rules, text)
        for g in row["entities"]:
            n_gold[g["type"]] += 1
            hits = [f for f in fs if g["type"] in rule_types(f.rule.id) and overlaps(f.start, f.end, g["start"], g["end"])]
            if hits:
                tp_gold[g["type"]] += 1
                if any(f.score >= 0.5 and f.rule.action != "report" for f in hits):
                    masked[g["type"]] += 1
            else:
                examples["miss " + g["type"]].append((g["value"], text))
        for d in row["decoys"]:
            base = d["type"].removeprefix("NOT_")
            key = f"{d['type']}/{d['reason']}"
            decoy_n[key] += 1
            hits = [f for f in fs if overlaps(f.start, f.end, d["start"], d["end"])
                    and (base in rule_types(f.rule.id) or (base == "IPV4" and f.rule.id.startswith("pii.ip")))]
            if hits:
                decoy_hit[key] += 1
                examples["decoy " + key].append((hits[0].rule.id + " " + hits[0].text, text))
        for f in fs:
            types = rule_types(f.rule.id)
            for t in types:
                n_pred[t] += 1
                if any(g["type"] == t and overlaps(f.start, f.end, g["start"], g["end"]) for g in row["entities"]):
                    tp_pred[t] += 1
                else:
                    examples["fp " + t].append((f.rule.id + " " + f.text, text))
            if not types and not any(overlaps(f.start, f.end, g["start"], g["end"]) for g in row["entities"]):
                stray[f.rule.id] += 1
                examples["stray " + f.rule.id].append((f.text, text))
    ok = True
    print(f"\n== synthetic_pii.jsonl ({len(rows)} texts): recall / precision per entity type")
    print(f"{'type':24} {'gold':>5} {'recall':>7} {'pred':>5} {'prec':>7} {'masked':>7}")
    pii_types = ["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IPV4", "IPV6"]
    for t in pii_types + [t for t in SYN_MAP if t not in pii_types]:
        rec = tp_gold[t] / n_gold[t] if n_gold[t] else float("nan")
        prec = tp_pred[t] / n_pred[t] if n_pred[t] else float("nan")
        flag = ""
        if n_gold[t] and (rec < 0.95 or prec < 0.95):
            flag = "  <-- below 0.95"
            ok = False
        print(f"{t:24} {n_gold[t]:5d} {rec:7.3f} {n_pred[t]:5d} {prec:7.3f} {masked[t] / max(1, n_gold[t]):7.3f}{flag}")
    print("decoys found (should be 0):")
    for k in sorted(decoy_n):
        print(f"  {k:45} {decoy_hit[k]:3d} / {decoy_n[k]}")
        if decoy_hit[k]:
            ok = False
    if stray:
        print("findings of other rules overlapping no gold entity:", dict(stray))
    if verbose:
        for k, v in sorted(examples.items()):
            print(f"-- {k} ({len(v)})")
            for val, text in v[:6]:
                print(f"     {val[:80]!r}  in  {text[:160]!r}")
    return ok


def provider_of(rule_id: str) -> str:
    p = rule_id.split(".")[1] if rule_id.startswith("np.") else rule_id.split("-")[0]
    aliases = {"gcp": "google", "gcs": "google", "pem": "private_key", "private": "private_key",
               "vault": "hashicorp", "postgres": "connection_url", "mongodb": "connection_url",
               "odbc": "connection_url", "sidekiq": "connection_url", "curl": "http", "1password": "onepassword"}
    return aliases.get(p, p)


COVERED = {"aws", "google", "azure", "github", "gitlab", "slack", "stripe", "openai", "anthropic", "huggingface",
           "twilio", "sendgrid", "npm", "pypi", "shopify", "square", "mailgun", "jwt", "private_key", "generic",
           "connection_url", "http", "digitalocean", "hashicorp", "databricks", "dockerhub", "mailchimp", "telegram",
           "age", "grafana", "groq", "heroku", "netrc", "atlassian", "datadog"}


def eval_secret_examples(rules: list[Rule], verbose: bool) -> None:
    path = find_data("secret_rule_examples.jsonl")
    if not path:
        print("secret_rule_examples.jsonl not found; skipped")
        return
    srules = [r for r in rules if r.category == "secret"]
    stat = collections.defaultdict(lambda: [0, 0, 0, 0])  # pos, pos_found, neg, neg_found
    misses = collections.defaultdict(list)
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    # A negative of one upstream rule is often a positive of a sibling rule (np.slack.2 negatives are
    # user tokens): such texts are not counted as negatives.
    positive_texts = {row["text"] for row in rows if row["positive"]}
    skipped = 0
    for row in rows:
        if not row["positive"] and row["text"] in positive_texts:
            skipped += 1
            continue
        prov = provider_of(row["rule_id"])
        fs = scan(srules, row["text"])
        s = stat[prov]
        if row["positive"]:
            s[0] += 1
            s[1] += bool(fs)
            if not fs:
                misses[prov].append(("miss", row["rule_id"], row["text"]))
        else:
            s[2] += 1
            s[3] += bool(fs)
            if fs:
                misses[prov].append(("FP " + fs[0].rule.id + " " + fs[0].text[:50], row["rule_id"], row["text"]))
    tot = [0, 0, 0, 0]
    print("\n== secret_rule_examples.jsonl (noseyparker + gitleaks), providers this pack covers")
    print(f"{'provider':16} {'pos':>4} {'recall':>7} {'neg':>4} {'FP rate':>8}")
    for prov in sorted(stat):
        if prov not in COVERED:
            continue
        p, pf, n, nf = stat[prov]
        tot = [a + b for a, b in zip(tot, stat[prov])]
        rec = f"{pf / p:7.3f}" if p else "      -"
        fpr = f"{nf / n:8.3f}" if n else "       -"
        print(f"{prov:16} {p:4d} {rec} {n:4d} {fpr}")
    print(f"{'ALL covered':16} {tot[0]:4d} {tot[1] / max(1, tot[0]):7.3f} {tot[2]:4d} {tot[3] / max(1, tot[2]):8.3f}")
    un = [0, 0, 0, 0]
    for prov, s in stat.items():
        if prov not in COVERED:
            un = [a + b for a, b in zip(un, s)]
    print(f"({skipped} negatives skipped: they are positives of a sibling upstream rule)")
    print(f"{'(not covered)':16} {un[0]:4d} {un[1] / max(1, un[0]):7.3f} {un[2]:4d} {un[3] / max(1, un[2]):8.3f}")
    if verbose:
        for prov in sorted(misses):
            if prov in COVERED:
                for what, rid, text in misses[prov]:
                    print(f"  [{prov}] {what} ({rid}): {text[:150]!r}")


# ----------------------------------------------------------------------------- main

def main() -> int:
    global STOPWORDS_ON_WHOLE_MATCH
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("packs", nargs="*", default=DEFAULT_PACKS)
    ap.add_argument("--eval", action="store_true", help="evaluate on shared/data/pii")
    ap.add_argument("--scan", metavar="TEXT", help="print the findings for TEXT")
    ap.add_argument("--stopwords-on-whole-match", action="store_true",
                    help="apply stopwords to the whole match instead of the finding (group) text")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    STOPWORDS_ON_WHOLE_MATCH = a.stopwords_on_whole_match
    errors, warnings, seen = [], [], {}
    rules = []
    for p in a.packs:
        rules += load_pack(p, errors, warnings, seen)
    for w in warnings:
        print("warning:", w)
    for e in errors:
        print("ERROR:", e)
    by_pack = collections.Counter(os.path.basename(r.pack) for r in rules)
    print(f"{len(rules)} rules ({', '.join(f'{k}: {v}' for k, v in by_pack.items())}); "
          f"{len(errors)} errors, {len(warnings)} warnings")
    if a.scan is not None:
        for f in scan(rules, a.scan):
            print(f"  {f.rule.id:36} {f.start:5d}-{f.end:<5d} score={f.score:.2f} {f.text!r}")
        return 0
    total, nfail, fails = run_examples(rules, a.verbose)
    for f in fails:
        print("FAIL:", f)
    print(f"examples: {total - nfail}/{total} pass")
    if a.verbose:
        for n in cross_rule_report(rules):
            print("note:", n)
    ok = not errors and not nfail
    if a.eval:
        ok = eval_synthetic(rules, a.verbose) and ok
        eval_secret_examples(rules, a.verbose)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
