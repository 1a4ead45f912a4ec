#!/usr/bin/env python3
"""Checks the module structure of the Rust crates (part of `make lint`):

* no import cycle between the top-level modules of a crate (a module's submodules count as the
  module): a module that uses `crate::a` depends on `a`, and the dependencies must form a DAG;
* no source file of the core over 600 lines of code before its `#[cfg(test)]` tests.

Prints the cycles and the long files, and exits 1 when there is one.

    python3 scripts/check-modules.py core/src bindings-c/src ...
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MAX_LINES = 600
#: Crate roots whose files are held to MAX_LINES.
LINE_LIMITED = {"core/src"}

USE_CRATE = re.compile(r"\bcrate::(\{[^}]*\}|[a-z_][a-z0-9_]*)", re.S)


def top_module(root: Path, path: Path) -> str | None:
    """The top-level module a file belongs to (`None` for the crate root)."""
    rel = path.relative_to(root)
    if rel.parts == ("lib.rs",) or rel.parts == ("main.rs",):
        return None
    return rel.parts[0].removesuffix(".rs")


def code(text: str) -> str:
    """The text without comments and string literals (crude but enough for paths)."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def dependencies(root: Path) -> dict[str, set[str]]:
    modules = {top_module(root, p) for p in root.rglob("*.rs")} - {None}
    deps: dict[str, set[str]] = {m: set() for m in modules if m}
    for path in root.rglob("*.rs"):
        me = top_module(root, path)
        if me is None:
            continue
        for match in USE_CRATE.finditer(code(path.read_text())):
            group = match.group(1)
            names = re.findall(r"(?:^|[{,\s])([a-z_][a-z0-9_]*)", group.strip("{}"))
            names = [n for n in names if n in modules] if group.startswith("{") else [group]
            for name in names:
                if name in modules and name != me:
                    deps[me].add(name)
    return deps


def cycles(deps: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(deps[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(deps):
        if v not in index:
            visit(v)
    return found


def long_files(root: Path) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.rs")):
        lines = path.read_text().split("\n")
        end = next((i for i, line in enumerate(lines) if line.startswith("#[cfg(test)]")), len(lines))
        if end > MAX_LINES:
            out.append(f"{path}: {end} lines before its tests (at most {MAX_LINES})")
    return out


def main(argv: list[str]) -> int:
    failed = False
    for arg in argv or ["core/src"]:
        root = Path(arg)
        deps = dependencies(root)
        for group in cycles(deps):
            failed = True
            detail = "; ".join(f"{m} -> {', '.join(sorted(deps[m] & set(group)))}" for m in group)
            print(f"{root}: import cycle between {', '.join(group)} ({detail})")
        if arg.rstrip("/") in LINE_LIMITED:
            for line in long_files(root):
                failed = True
                print(line)
    if not failed:
        print(f"modules: no import cycles in {', '.join(argv)}; no core file over {MAX_LINES} lines")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
