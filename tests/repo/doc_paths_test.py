#!/usr/bin/env python3
"""Every repository path that README.md, bench/README.md and docs/*.md name exists.

Docs drift when files move (issue 11 found docs/schema.md citing a file that had gone). A path is
a token that starts with one of the repository's top-level folders; `{a,b}` and `*` in it are
globs that must match something. Usage: doc_paths_test.py REPO_ROOT. Exit 0 when every path
exists, 1 otherwise (listing each missing one with its file and line).
"""
import glob
import os
import re
import sys

ROOTS = ("api bench cli clients cmake core daemon docs fuzz migrations net ops pipeline scripts "
         "storage tests web").split()
PATH = re.compile(r"(?<![\w./-])((?:%s)/[A-Za-z0-9_./*{},-]*[A-Za-z0-9_*}])" % "|".join(ROOTS))


def brace_globs(path):
    """`a/{b,c}.h` -> [`a/b.h`, `a/c.h`]; other paths as they are."""
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    out = []
    for alt in m.group(1).split(","):
        out += brace_globs(path[:m.start()] + alt + path[m.end():])
    return out


def missing_paths(root):
    docs = ["README.md", "bench/README.md"] + sorted(
        os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "docs", "*.md")))
    for doc in docs:
        with open(os.path.join(root, doc), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                for m in PATH.finditer(line):
                    for candidate in brace_globs(m.group(1)):
                        if not glob.glob(os.path.join(root, candidate)):
                            yield f"{doc}:{number}: {candidate}"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    missing = list(missing_paths(root))
    for line in missing:
        print("missing:", line)
    print(f"{len(missing)} missing path(s)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
