#!/usr/bin/env python3
"""Emulate Picket's keyword/regex rules (rules/injection.toml) on the shared data set.

stdlib only (python3.11 + tomllib). Usage:

    python3 scripts/check_keywords.py                 # train split: per-rule hits + rates
    python3 scripts/check_keywords.py --split test    # final numbers on the test split
    python3 scripts/check_keywords.py --show-fp 20    # print benign (train) rows that block
    python3 scripts/check_keywords.py --examples-only # lint packs + check [rule.examples]

Emulation (approximates the Rust engine, see docs/rule-packs.md):
  normalize = NFKC, lower(), drop Unicode category Cf, fold common Cyrillic/Greek homoglyphs,
  collapse whitespace runs to one space. whole_words: the characters just before/after the
  match are not alphanumeric (or the text edge). leet = true also matches a leet-folded view.
  Regex rules run on the ORIGINAL text ((?-u:\\b) is rewritten to \\b for Python's re).
  Category score = noisy-OR over rules (each rule once, its best finding); block at >= 0.8.
"""
import argparse, base64, binascii, collections, json, os, re, sys, tomllib, unicodedata
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("PICKET_DATA", "/work/shared/data")
BLOCK = 0.8

RULE_FIELDS = {"id", "category", "label", "kind", "pattern", "group", "validator", "score", "action",
               "mask", "keep", "directions", "stopwords", "context", "keywords", "whole_words",
               "leet", "detector", "examples"}
CATEGORIES = {"pii", "secret", "injection", "jailbreak", "evasion"}
DETECTORS = {"invisible", "tag_chars", "bidi", "mixed_script", "encoded"}

HOMOGLYPHS = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ɡ": "g", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w",
})
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                      "$": "s", "!": "i", "|": "l"})
WS = re.compile(r"\s+")


def normalize(text):
    t = unicodedata.normalize("NFKC", text).lower()
    t = "".join(ch for ch in t if unicodedata.category(ch) != "Cf")
    t = t.translate(HOMOGLYPHS)
    return WS.sub(" ", t)


def find_all(hay, kw, whole):
    """yield (start, end) of every (whole-word) occurrence of kw in hay"""
    start = 0
    while True:
        i = hay.find(kw, start)
        if i < 0:
            return
        j = i + len(kw)
        if not whole or ((i == 0 or not hay[i - 1].isalnum()) and (j == len(hay) or not hay[j].isalnum())):
            yield i, j
        start = i + 1


def find_kw(hay, kw, whole):
    return next(find_all(hay, kw, whole), None) is not None


class Rule:
    def __init__(self, d, pack):
        self.d, self.pack = d, pack
        self.id, self.kind, self.category = d["id"], d["kind"], d["category"]
        self.score = float(d["score"])
        self.whole = d.get("whole_words", True)
        self.leet = d.get("leet", False)
        self.keywords = d.get("keywords", [])
        self.stop = [s.lower() for s in d.get("stopwords", [])]
        self.ctx = d.get("context")
        self.rx = None
        if self.kind == "regex":
            self.rx = re.compile(d["pattern"].replace("(?-u:\\b)", "\\b"))

    def hits_norm(self, norm, leetv):
        """keyword rule on precomputed views; returns matched keyword or None"""
        for kw in self.keywords:
            if kw in norm and find_kw(norm, kw, self.whole):
                return kw
            if self.leet and kw in leetv and find_kw(leetv, kw, self.whole):
                return kw
        return None

    def ctx_score(self, hay, i, j):
        """score of one finding at hay[i:j] after context words (window in chars of hay)"""
        c = self.ctx
        if not c:
            return self.score
        w = c.get("window", 48)
        win = hay[max(0, i - w):j + w]  # window includes the match itself
        if any(x in win for x in c.get("words", [])):
            return c.get("score", self.score)
        if any(x in win for x in c.get("negative", [])):
            return c.get("negative_score", self.score)
        return self.score

    def best_score(self, text, norm, leetv):
        """highest-scoring finding of this rule in text, or None"""
        best = None
        if self.kind == "keywords":
            views = [norm] + ([leetv] if self.leet else [])
            for kw in self.keywords:
                for v in views:
                    if kw not in v:
                        continue
                    for i, j in find_all(v, kw, self.whole):
                        sc = self.ctx_score(norm, i, j)
                        best = sc if best is None else max(best, sc)
        elif self.kind == "regex":
            low = text.lower()
            for m in self.rx.finditer(text):
                g = self.d.get("group", 0)
                st = m.group(g) or ""
                if any(w in st.lower() for w in self.stop):
                    continue
                sc = self.ctx_score(low, m.start(g), m.end(g))
                best = sc if best is None else max(best, sc)
        return best

    def hits(self, text, norm=None, leetv=None):
        if self.kind == "keywords":
            if norm is None:
                norm = normalize(text)
                leetv = norm.translate(LEET)
            return self.hits_norm(norm, leetv)
        if self.kind == "regex":
            for m in self.rx.finditer(text):
                s = m.group(self.d.get("group", 0)) or ""
                if any(w in s.lower() for w in self.stop):
                    continue
                return s
            return None
        return None


def load(paths):
    rules, problems = [], []
    for p in paths:
        with open(p, "rb") as f:
            doc = tomllib.load(f)
        for k in doc:
            if k not in ("pack", "rule", "override"):
                problems.append(f"{p}: unknown top-level key {k}")
        if set(doc.get("pack", {})) - {"id", "version", "description"}:
            problems.append(f"{p}: unknown [pack] field")
        for d in doc.get("rule", []):
            rid = d.get("id", "?")
            for k in d:
                if k not in RULE_FIELDS:
                    problems.append(f"{p}: {rid}: unknown field {k}")
            if d.get("category") not in CATEGORIES:
                problems.append(f"{p}: {rid}: bad category")
            if not 0 <= d.get("score", -1) <= 1:
                problems.append(f"{p}: {rid}: bad score")
            ex = d.get("examples", {})
            if set(ex) - {"match", "no_match"}:
                problems.append(f"{p}: {rid}: unknown examples field")
            if len(ex.get("match", [])) < 2 or len(ex.get("no_match", [])) < 2:
                problems.append(f"{p}: {rid}: needs >= 2 match and >= 2 no_match examples")
            if d.get("kind") == "keywords":
                for kw in d.get("keywords", []):
                    if kw != normalize(kw).strip() or kw != " ".join(kw.split()):
                        problems.append(f"{p}: {rid}: keyword not normalized: {kw!r}")
            if d.get("kind") == "evasion" and d.get("detector") not in DETECTORS:
                problems.append(f"{p}: {rid}: bad detector")
            rules.append(Rule(d, p))
    ids = collections.Counter(r.id for r in rules)
    problems += [f"duplicate rule id {i}" for i, n in ids.items() if n > 1]
    seen = {}
    for r in rules:
        for kw in r.keywords:
            if kw in seen and seen[kw] != r.id:
                problems.append(f"keyword {kw!r} in both {seen[kw]} and {r.id}")
            seen[kw] = r.id
    return rules, problems


# ---- rough emulation of the evasion detectors (only to sanity-check examples) ----
INVISIBLE = set(range(0x200B, 0x200E)) | {0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x180E,
                                          0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x17B4, 0x17B5}


def is_emojiish(ch):
    o = ord(ch)
    return o >= 0x1F000 or 0x2600 <= o <= 0x27BF or o in (0xFE0F,) or 0x1F3FB <= o <= 0x1F3FF


def det_invisible(t):
    for i, ch in enumerate(t):
        o = ord(ch)
        if o not in INVISIBLE or (o == 0xFEFF and i == 0):
            continue
        if o == 0x200D and 0 < i < len(t) - 1 and is_emojiish(t[i - 1]) and is_emojiish(t[i + 1]):
            continue
        if o in (0x200C, 0x200D) and 0 < i < len(t) - 1 and all(
                c.isalpha() and script(c) == "OTHER" for c in (t[i - 1], t[i + 1])):
            continue  # ZWNJ/ZWJ inside Persian/Arabic/Indic words is orthographic
        return True
    return False


def det_tag(t):
    for i, ch in enumerate(t):
        if 0xE0000 <= ord(ch) <= 0xE007F:
            # emoji tag sequence (subdivision flags): U+1F3F4 followed by tags ending in U+E007F
            j = i
            while j > 0 and 0xE0000 <= ord(t[j - 1]) <= 0xE007F:
                j -= 1
            if j > 0 and ord(t[j - 1]) == 0x1F3F4:
                continue
            return True
    return False


def det_bidi(t):
    return any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in t)


def script(ch):
    n = unicodedata.name(ch, "")
    for s in ("LATIN", "CYRILLIC", "GREEK"):
        if n.startswith(s):
            return s
    return "OTHER"


def det_mixed(t):
    for w in re.findall(r"[^\W\d_]+", t):
        ss = {script(c) for c in w if c != "\u00b5"}
        if "LATIN" in ss and ("CYRILLIC" in ss or "GREEK" in ss):
            return True
    return False


def det_encoded(t, kwrules):
    cands = []
    for m in re.finditer(r"[A-Za-z0-9+/_-]{16,}={0,2}", t):
        s = m.group(0)
        try:
            cands.append(base64.b64decode(s + "=" * (-len(s) % 4), altchars=b"-_" if "-" in s or "_" in s else None))
        except (binascii.Error, ValueError):
            pass
    for m in re.finditer(r"(?:[0-9a-fA-F]{2}){8,}", t):
        cands.append(bytes.fromhex(m.group(0)))
    for m in re.finditer(r"(?:%[0-9a-fA-F]{2}){4,}[^\s]*", t):
        cands.append(urllib.parse.unquote(m.group(0)).encode())
    for b in cands:
        try:
            s = b.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if any(r.hits(s) for r in kwrules):
            return True
    return False


def check_examples(rules):
    kwrules = [r for r in rules if r.kind == "keywords"]
    dets = {"invisible": det_invisible, "tag_chars": det_tag, "bidi": det_bidi,
            "mixed_script": det_mixed, "encoded": lambda t: det_encoded(t, kwrules)}
    bad = []
    for r in rules:
        ex = r.d.get("examples", {})
        fn = (lambda t, r=r: bool(r.hits(t))) if r.kind != "evasion" else dets[r.d["detector"]]
        for t in ex.get("match", []):
            if not fn(t):
                bad.append(f"{r.id}: match example produced no finding: {t!r}")
        for t in ex.get("no_match", []):
            if fn(t):
                bad.append(f"{r.id}: no_match example produced a finding: {t!r}")
    return bad


def score_text(text, rules):
    norm = normalize(text)
    leetv = norm.translate(LEET)
    fired = []
    cats = collections.defaultdict(lambda: 1.0)
    for r in rules:
        if r.kind == "evasion":
            continue
        sc = r.best_score(text, norm, leetv)
        if sc is not None:
            fired.append(r)
            cats[r.category] *= 1 - sc
    scores = {c: 1 - v for c, v in cats.items()}
    return fired, scores


def rows(split):
    out = []
    for name in ("injection_jailbreak.jsonl", "benign.jsonl"):
        with open(os.path.join(DATA, name)) as f:
            for line in f:
                r = json.loads(line)
                if r["split"] == split:
                    out.append(r)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="train", choices=["train", "test"])
    ap.add_argument("--show-fp", type=int, default=0, help="print N blocked benign rows")
    ap.add_argument("--show-hits", default="", help="print benign rows hit by this rule id")
    ap.add_argument("--examples-only", action="store_true")
    ap.add_argument("packs", nargs="*")
    a = ap.parse_args()
    packs = a.packs or [os.path.join(ROOT, "rules", "injection.toml"),
                        os.path.join(ROOT, "rules", "evasion.toml")]
    packs = [p for p in packs if os.path.exists(p)]
    rules, problems = load(packs)
    problems += check_examples(rules)
    nkw = sum(len(r.keywords) for r in rules)
    print(f"packs: {', '.join(os.path.relpath(p, ROOT) for p in packs)}; rules: {len(rules)}; keyword phrases: {nkw}")
    for p in problems:
        print("PROBLEM:", p)
    if a.examples_only:
        sys.exit(1 if problems else 0)
    if a.split == "test" and (a.show_fp or a.show_hits):
        sys.exit("refusing to print test texts")

    data = rows(a.split)
    groups = collections.defaultdict(lambda: [0, 0, 0])  # n, blocked, any finding
    per_rule = collections.defaultdict(lambda: collections.Counter())
    shown = 0
    for row in data:
        fired, scores = score_text(row["text"], rules)
        blocked = any(s >= BLOCK - 1e-9 for s in scores.values())
        lab = row["label"]
        keys = [lab] + (["benign(hard)"] if lab == "benign" and row.get("hard") else [])
        keys += ["malicious"] if lab != "benign" else []
        if lab != "benign":
            keys.append(f"{lab}:{row['source'].split(':')[0]}")
        for k in keys:
            g = groups[k]
            g[0] += 1
            g[1] += blocked
            g[2] += bool(fired)
        for r in fired:
            per_rule[r.id][lab] += 1
        if lab == "benign" and blocked and shown < a.show_fp:
            shown += 1
            print(f"--- FP {[r.id for r in fired]} {scores}\n{row['text'][:600]}\n")
        if lab == "benign" and a.show_hits and any(r.id == a.show_hits for r in fired):
            r = next(r for r in rules if r.id == a.show_hits)
            print(f"--- HIT {r.hits(row['text'])!r}: {normalize(row['text'])[:400]}\n")

    print(f"\nsplit = {a.split}; block at category score >= {BLOCK}")
    print(f"{'rule':42} {'score':>5} {'kw':>4} {'inj':>5} {'jb':>5} {'benign':>6}")
    for r in rules:
        if r.kind == "evasion":
            continue
        c = per_rule[r.id]
        print(f"{r.id:42} {r.score:5.2f} {len(r.keywords):4d} {c['injection']:5d} {c['jailbreak']:5d} {c['benign']:6d}")
    print(f"\n{'group':40} {'rows':>6} {'block%':>7} {'any%':>7}")
    order = ["malicious", "injection", "jailbreak", "benign", "benign(hard)"]
    for k in order + sorted(k for k in groups if k not in order):
        n, b, f = groups[k]
        print(f"{k:40} {n:6d} {100*b/n:7.2f} {100*f/n:7.2f}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
