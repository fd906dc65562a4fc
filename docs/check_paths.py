#!/usr/bin/env python3
"""docs/check_paths.py [ROOT]: every repository path that README.md, docs/*.md and
results/**/README.md mention must exist. Checks markdown link targets (relative
to the file, with #anchors against the target's headings) and every word, in
backticks or code blocks, that starts with a top-level folder of the repository
(core/, io/, jobs/, slurm/, sim/, cmd/, scripts/, tests/, configs/, cmake/, docs/,
results/, .ci/)
or names a root file. A results notebook records a command as it was run on its
date: there `OLD` (now `NEW`) keeps a moved path, and only NEW must exist. Brace lists {a,b} and globs (*, <NAME>, X) are expanded."""
import glob, os, re, sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
TOP = ("core/", "io/", "jobs/", "slurm/", "sim/", "cmd/", "scripts/", "tests/", "configs/", "cmake/", "docs/", "results/", ".ci/")
ROOTFILES = ("CMakeLists.txt", "README.md")
# relative paths that name run outputs, not repository files
IGNORE = {"configs/task-NNN.ini"}

def slug(h):
    h = h.strip().lower()
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")

def anchors(path):
    out = set()
    try:
        for line in open(path, encoding="utf-8"):
            m = re.match(r"^#{1,6}\s+(.*)", line)
            if m:
                out.add(slug(m.group(1)))
    except OSError:
        pass
    return out

def expand(tok):
    m = re.search(r"\{([^{}]*)\}", tok)
    if not m:
        return [tok]
    return [x for alt in m.group(1).split(",") for x in expand(tok[: m.start()] + alt + tok[m.end():])]

def exists(rel):
    rel = re.sub(r":\d+(-\d+)?$", "", rel)           # file:line
    rel = re.sub(r"<[^>]*>|(?<![A-Za-z])[A-Z]{1,6}(?![A-Za-z])", "*", rel)  # <name>, X, ARM, NNN placeholders
    rel = rel.rstrip(".,;:)")
    for r in expand(rel):
        p = os.path.join(root, r)
        if glob.glob(p) or os.path.exists(p):
            continue
        return False
    return True

files = ["README.md"] + sorted(glob.glob("docs/*.md", root_dir=root)) + sorted(glob.glob("results/**/README.md", root_dir=root, recursive=True))
bad = 0
for f in files:
    text = open(os.path.join(root, f), encoding="utf-8").read()
    base = os.path.dirname(f)
    # results notebooks: `OLD ...` (now `NEW`) -- the old words are history, NEW is checked below
    moved = set()
    if f.startswith("results/"):
        for old, _new in re.findall(r"`([^`\n]+)`\s*\(now\s+`([^`\n]+)`", text):
            moved.update(re.split(r"[\s=\"'(\[]+", old))
    # markdown links
    for m in re.finditer(r"\]\(([^)\s]+)\)", text):
        t = m.group(1)
        if re.match(r"[a-z]+://", t):
            continue
        path, _, frag = t.partition("#")
        tgt = os.path.normpath(os.path.join(base, path)) if path else f
        if not os.path.exists(os.path.join(root, tgt)):
            print(f"{f}: link to missing {t}"); bad += 1
        elif frag and tgt.endswith(".md") and frag not in anchors(os.path.join(root, tgt)):
            print(f"{f}: link to missing anchor {t}"); bad += 1
    # words in backticks and code blocks
    code = re.findall(r"```.*?```", text, re.S) + re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    # plain-text mentions too (outside code and links): words like io/anatomy.h
    plain = re.sub(r"```.*?```|`[^`\n]*`|\]\([^)]*\)", " ", text, flags=re.S)
    code += [w for w in re.findall(r"(?<![\w./-])(?:%s)[\w./*{},<>-]*" % "|".join(re.escape(t) for t in TOP), plain)]
    for chunk in code:
        for w in re.split(r"[\s=\"'(\[]+", chunk):
            w = w.strip("`,;)]")
            if not w or "://" in w or w.startswith("../"):
                continue
            if w in IGNORE or w in moved:
                continue
            if w.startswith(TOP) or w in ROOTFILES:
                if not exists(w):
                    print(f"{f}: path not found: {w}"); bad += 1
print(f"checked {len(files)} files: {bad} problem(s)")
sys.exit(1 if bad else 0)
