"""``ls`` and ``stat``: entries as names, long lines (``-l``) or JSON objects (``--json``)."""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Iterable
from typing import Any, TextIO

import ferroftp
from ferroftp.cli.context import Context
from ferroftp.cli.globs import expand_remote
from ferroftp.cli.options import add_jobs
from ferroftp.cli.status import EXIT_OK
from ferroftp.cli.urls import Target, parse_url
from ferroftp.cli.walk import walk_remote

TYPE_CHARS = {"dir": "d", "file": "-", "link": "l"}


def mtime(entry: ferroftp.Entry) -> str | None:
    """The entry's time as ISO 8601 in UTC (``2024-05-01T12:00:00Z``), when known."""
    if entry.modified is None:
        return None
    return entry.modified.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_json(entry: ferroftp.Entry, path: str | None = None) -> dict[str, Any]:
    """The JSON object of an entry: name, path, type, size, mtime, permissions, target."""
    path = path or entry.path
    return {
        "name": entry.name or path.rstrip("/").rsplit("/", 1)[-1] or "/",
        "path": path,
        "type": entry.kind,
        "size": entry.size,
        "mtime": mtime(entry),
        "permissions": entry.permissions,
        "target": entry.target,
    }


def long_line(entry: ferroftp.Entry, name: str) -> str:
    """One ``ls -l`` line: type and permissions, size, time (UTC), name (and a link's target)."""
    mode = TYPE_CHARS.get(entry.kind, "?") + (entry.permissions or "")
    size = "-" if entry.size is None else str(entry.size)
    when = entry.modified.strftime("%Y-%m-%d %H:%M") if entry.modified else "-"
    link = f" -> {entry.target}" if entry.kind == "link" and entry.target else ""
    return f"{mode:<10} {size:>12}  {when:<16}  {name}{link}"


class Printer:
    """Writes entries the way ``-l``/``--json`` asked."""

    def __init__(self, out: TextIO, long: bool, as_json: bool) -> None:
        self.out, self.long, self.json = out, long, as_json

    def entries(self, items: Iterable[tuple[str, ferroftp.Entry]]) -> None:
        for name, e in items:
            if self.json:
                self.out.write(json.dumps(as_json(e), ensure_ascii=False) + "\n")
            elif self.long:
                self.out.write(long_line(e, name) + "\n")
            else:
                self.out.write(name + "\n")

    def heading(self, text: str) -> None:
        if not self.json:
            self.out.write(text)


def add_ls_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("urls", nargs="+", metavar="URL", help="a directory, a file or a glob")
    p.add_argument(
        "-l", "--long", action="store_true", help="type and permissions, size, time (UTC), name"
    )
    p.add_argument(
        "-R", "--recursive", action="store_true", help="the whole tree, as paths under URL"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line and entry: name, path, type, size, mtime, permissions",
    )
    add_jobs(p, "directories listed at once with -R")


def run_ls(ctx: Context, args: argparse.Namespace) -> int:
    targets = [parse_url(u) for u in args.urls]
    ctx.one_server(targets)
    printer = Printer(ctx.stdout, args.long, args.json)
    many = len(targets) > 1
    for i, target in enumerate(targets):
        with ctx.session(target) as s:
            files, directory = _resolve(s, target)
        if files:
            printer.entries(files)
        if directory is None:
            continue
        if many:
            printer.heading(f"{'' if i == 0 else chr(10)}{directory}:\n")
        if args.recursive:
            tree = walk_remote(ctx.pool(target), directory, ctx.jobs)
            items = sorted((rel, n.entry) for rel, n in tree.nodes.items() if n.entry)
            printer.entries(items)
        else:
            with ctx.session(target) as s:
                listed = sorted(s.list(directory), key=lambda e: e.name)
            printer.entries((e.name, e) for e in listed if e.name not in (".", ".."))
    return EXIT_OK


def _resolve(
    s: ferroftp.Session, target: Target
) -> tuple[list[tuple[str, ferroftp.Entry]], str | None]:
    """What ``ls`` shows for a target: the files it names (with the names to show), and the
    directory to list (``None`` for none)."""
    if target.pattern is not None:
        found = expand_remote(s, target)
        shown = [(m.path, m.entry) for m in found if m.entry is not None]
        return shown, None
    path = target.path
    if path == "/" or path.endswith("/"):
        return [], path
    entry = s.stat(path)
    if entry.kind == "dir":
        return [], path
    return [(path, entry)], None


def add_stat_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("urls", nargs="+", metavar="URL", help="a file or directory, or a glob")
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line: name, path, type, size, mtime, permissions",
    )


def run_stat(ctx: Context, args: argparse.Namespace) -> int:
    targets = [parse_url(u) for u in args.urls]
    first = ctx.one_server(targets)
    shown = 0
    with ctx.session(first) as s:
        for target in targets:
            for m in expand_remote(s, target):
                obj = as_json(s.stat(m.path), m.path)
                if args.json:
                    ctx.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
                    continue
                ctx.stdout.write("\n" if shown else "")  # a blank line between entries
                for key in ("path", "type", "size", "mtime", "permissions", "target"):
                    if obj[key] is not None:
                        ctx.stdout.write(f"{key + ':':<13}{obj[key]}\n")
                shown += 1
    return EXIT_OK
