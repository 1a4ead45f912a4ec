"""Whole trees: a remote one listed directory by directory over up to ``jobs`` sessions of a
pool at once, and a local one; each entry by its path relative to the top (``a/b.txt``)."""

from __future__ import annotations

import concurrent.futures
import datetime
import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ferroftp

#: ``keep(rel, is_dir)``: whether an entry belongs to the tree (a directory left out is not
#: entered).
Keep = Callable[[str, bool], bool]

_CLOCK = re.compile(r"\b\d{1,2}:\d{2}(?:[AP]M)?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Node:
    """A file or directory of a tree."""

    rel: str
    is_dir: bool
    size: int | None
    #: The modification time, seconds since the epoch (UTC), when known.
    mtime: float | None
    #: How precise ``mtime`` is, in seconds: 1, or 60 (a listing with hours and minutes), or a
    #: day (a listing with a date only).
    precision: float = 1.0
    entry: ferroftp.Entry | None = None


@dataclass
class Tree:
    """The entries under a top directory; ``left_out``: the paths ``keep`` refused."""

    nodes: dict[str, Node] = field(default_factory=dict)
    left_out: set[str] = field(default_factory=set)
    #: Whether the top directory exists.
    exists: bool = True

    def files(self) -> dict[str, Node]:
        return {rel: n for rel, n in self.nodes.items() if not n.is_dir}

    def dirs(self) -> dict[str, Node]:
        return {rel: n for rel, n in self.nodes.items() if n.is_dir}


def precision(entry: ferroftp.Entry) -> float:
    """How precise the entry's time is: MLSD facts give seconds; a LIST line gives minutes, or
    only the date for files older than about six months."""
    if "modify=" in entry.raw.lower() or not entry.raw:
        return 1.0
    return 60.0 if _CLOCK.search(entry.raw) else 86400.0


def remote_node(rel: str, entry: ferroftp.Entry) -> Node:
    when = entry.modified.timestamp() if entry.modified is not None else None
    is_dir = entry.kind == "dir"
    return Node(rel, is_dir, None if is_dir else entry.size, when, precision(entry), entry)


def walk_remote(pool: ferroftp.Pool, top: str, jobs: int, keep: Keep | None = None) -> Tree:
    """Lists the remote tree under ``top``: each directory once, up to ``jobs`` at a time.

    A missing ``top`` gives an empty tree with ``exists`` false; other errors are raised.
    """
    tree = Tree()
    top = top.rstrip("/") or "/"

    def list_dir(rel: str) -> tuple[str, list[ferroftp.Entry]]:
        with pool.session() as s:
            entries = s.list(posixpath.join(top, rel) if rel else top)
        return rel, entries

    executor = concurrent.futures.ThreadPoolExecutor(max(1, jobs), "ferroftp-walk")
    try:
        pending = {executor.submit(list_dir, "")}
        while pending:
            done, pending = concurrent.futures.wait(
                pending, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                try:
                    rel, entries = future.result()
                except ferroftp.NotFoundError:
                    if not tree.nodes and not pending:
                        tree.exists = False
                        return tree
                    raise
                for e in entries:
                    if e.name in (".", ".."):
                        continue
                    child = f"{rel}/{e.name}" if rel else e.name
                    node = remote_node(child, e)
                    if keep is not None and not keep(child, node.is_dir):
                        tree.left_out.add(child)
                        continue
                    tree.nodes[child] = node
                    if node.is_dir:
                        pending.add(executor.submit(list_dir, child))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    return tree


def walk_local(top: Path, keep: Keep | None = None) -> Tree:
    """The local tree under ``top`` (symbolic links to files count as files, and links to
    directories are not followed); a missing ``top`` gives an empty tree, ``exists`` false."""
    tree = Tree()
    if not top.is_dir():
        tree.exists = False
        return tree
    for dirpath, dirnames, filenames in os.walk(top):
        base = Path(dirpath).relative_to(top).as_posix()
        base = "" if base == "." else base
        for name in list(dirnames):
            rel = f"{base}/{name}" if base else name
            path = Path(dirpath, name)
            if path.is_symlink():
                dirnames.remove(name)
                continue
            if keep is not None and not keep(rel, True):
                tree.left_out.add(rel)
                dirnames.remove(name)
                continue
            tree.nodes[rel] = Node(rel, True, None, None)
        for name in filenames:
            rel = f"{base}/{name}" if base else name
            path = Path(dirpath, name)
            if not path.is_file():
                continue
            if keep is not None and not keep(rel, False):
                tree.left_out.add(rel)
                continue
            st = path.stat()
            tree.nodes[rel] = Node(rel, False, st.st_size, st.st_mtime)
    return tree


def utc(seconds: float) -> datetime.datetime:
    """A time in seconds since the epoch, as an aware UTC datetime (whole seconds)."""
    return datetime.datetime.fromtimestamp(int(seconds), datetime.timezone.utc)
