#!/usr/bin/env python3
"""Rewrite the secrets rule table in docs/rule-packs.md from rules/secrets*.toml.

usage: python3 scripts/gen_secrets_table.py          # rewrite the table between the markers
       python3 scripts/gen_secrets_table.py --check  # exit 1 when the docs are stale

The gate column is the literal the rule's regex is found through: `prefix` literals feed the
engine's one Aho-Corasick pass (detect/regex.rs, PrefixedRules), `inner` literals the regex
engine's own prefilter for the rule; `set` means literal-free (the shared RegexSet prefilter).
It is worked out from the pattern text here, the way regex-syntax's prefix extraction would see
it, for reading; the engine decides for itself at load time.
"""
import glob, os, re, sys, tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "rule-packs.md")
START, END = "<!-- secrets-table:start -->", "<!-- secrets-table:end -->"


def atoms(p, i=0):
    """Parse the start of `p` into atoms: a set of strings each (a literal, a small class, an
    alternation group), stopping at the first atom that is not a finite small set."""
    out = []
    while i < len(p):
        c = p[i]
        if p.startswith("(?-u:\\b)", i):
            i += 8
            continue
        if p.startswith("(?i)", i) or p.startswith("(?m)", i):
            i += 4
            continue
        if c == "^":
            i += 1
            continue
        if c == "\\" and i + 1 < len(p) and p[i + 1] in ".+$?/-[]()|*{}~\\\"'":
            opts, j = {p[i + 1]}, i + 2
        elif c == "[":
            j = i + 1
            while p[j] != "]" or p[j - 1] == "\\":
                j += 1
            body = p[i + 1:j].replace("\\", "")
            j += 1
            if "-" in body[1:-1] or body.startswith("^") or len(body) > 10:
                break
            opts = set(body)
        elif p.startswith("(?:", i) or c == "(":
            start = i + 3 if p.startswith("(?:", i) else i + 1
            depth, j = 1, start
            while j < len(p) and depth:
                if p[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(p[j], 0)
                j += 1
            inner = p[start:j - 1]
            alts, depth, cur = [], 0, ""
            for k, ch in enumerate(inner):
                if ch == "|" and depth == 0 and (k == 0 or inner[k - 1] != "\\"):
                    alts.append(cur)
                    cur = ""
                    continue
                depth += {"(": 1, ")": -1}.get(ch, 0) if (k == 0 or inner[k - 1] != "\\") else 0
                cur += ch
            alts.append(cur)
            opts = set()
            for alt in alts:
                seq = literal_seq(alt)
                if not seq or any(len(x) < 1 for x in seq):
                    return out
                opts |= seq
        elif c.isalnum() or c in "_:=~!@#%&;<> \"'/-,":
            opts, j = {c}, i + 1
        else:
            break
        q = p[j:j + 1]
        if q in ("?", "*") or p.startswith("{0", j):
            break
        out.append(opts)
        i = j
        if q == "+" or q == "{":
            break
    return out


def literal_seq(p):
    seq = {""}
    for opts in atoms(p):
        seq = {a + b for a in seq for b in opts}
        if len(seq) > 64:
            return set()
    return seq


def leading_literals(p):
    seq = literal_seq(p)
    if seq and len(seq) <= 64 and all(len(x) >= 3 for x in seq):
        return sorted(seq, key=lambda x: (len(x), x))
    return []


def inner_literal(p):
    stripped = re.sub(r"\[(?:\\.|[^\]\\])*\]", "\x00", p.replace("(?-u:\\b)", ""))
    stripped = re.sub(r"\{[0-9,]*\}", "\x00", stripped)
    best = ""
    for m in re.finditer(r"(?:[A-Za-z0-9_:=~!@#%&;<> \"'/,-]|\\[.$+?/\-\[\]])+", stripped):
        s = m.group(0).replace("\\", "")
        if stripped[m.end():m.end() + 1] in ("?", "*") or stripped.startswith("{0", m.end()):
            s = s[:-1]
        if len(s.strip()) > len(best):
            best = s.strip()
    return best if len(best) >= 3 else ""


def gate(p):
    lits = leading_literals(p)
    if lits:
        shown = lits if len(lits) <= 4 else lits[:4] + ["…"]
        return "prefix " + ", ".join(f"`{l}`" for l in shown).replace("|", "\\|")
    inner = inner_literal(p)
    if inner:
        return f"inner `{inner.strip()}`".replace("|", "\\|")
    return "set"


def validator(r):
    v = r.get("validator")
    if v is None:
        return "-"
    if isinstance(v, dict):
        return f"entropy ≥ {v['entropy']}"
    return v


def table():
    rows = ["| rule | label | gate | validator | score | action |", "|---|---|---|---|---|---|"]
    count = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "rules", "secrets*.toml"))):
        pack = tomllib.load(open(path, "rb"))
        for r in pack.get("rule", []):
            count += 1
            rows.append(f"| `{r['id']}` | {r['label']} | {gate(r['pattern'])} | {validator(r)} | {r['score']} | {r.get('action', 'report')} |")
    return count, "\n".join(rows)


def main():
    count, t = table()
    doc = open(DOC).read()
    block = f"{START}\n{count} rules in `rules/secrets.toml` and `rules/secrets-providers.toml`.\n\n{t}\n{END}"
    if START in doc:
        new = doc[:doc.index(START)] + block + doc[doc.index(END) + len(END):]
    else:
        raise SystemExit(f"{DOC}: no {START} marker")
    if "--check" in sys.argv:
        print("up to date" if new == doc else "stale: rerun scripts/gen_secrets_table.py")
        sys.exit(0 if new == doc else 1)
    open(DOC, "w").write(new)
    print(f"{count} rules -> {os.path.relpath(DOC, ROOT)}")


if __name__ == "__main__":
    main()
