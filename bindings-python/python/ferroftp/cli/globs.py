"""Wildcards: remote paths matched against listings, local ones with :mod:`glob`.

As in a shell, ``*`` and ``?`` do not match a leading dot, and a pattern that matches nothing
is an error (exit status 3); a wildcard may stand in any component of the path.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

import ferroftp
from ferroftp.cli.urls import MAGIC, Target


@dataclass(frozen=True)
class Match:
    """A remote path, with its listing entry when a wildcard found it."""

    path: str
    entry: ferroftp.Entry | None = None
    #: The size in bytes when known from somewhere other than ``entry``.
    known_size: int | None = None

    @property
    def is_dir(self) -> bool:
        return self.entry is not None and self.entry.kind == "dir"

    @property
    def size(self) -> int | None:
        """The size in bytes, when known."""
        return self.entry.size if self.entry is not None else self.known_size


def _matches(name: str, pattern: str) -> bool:
    if name.startswith(".") and not pattern.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pattern)


def _has_wildcard(component: str) -> bool:
    """Whether a pattern component has a wildcard besides escaped characters (``[*]``)."""
    return (
        MAGIC.search(component.replace("[*]", "").replace("[?]", "").replace("[[]", "")) is not None
    )


def _literal(component: str) -> str:
    """A pattern component without wildcards, as the name it stands for (``[*]`` is ``*``)."""
    out, i = [], 0
    while i < len(component):
        if component[i] == "[" and i + 2 < len(component) and component[i + 2] == "]":
            out.append(component[i + 1])
            i += 3
        else:
            out.append(component[i])
            i += 1
    return "".join(out)


def expand_remote(session: ferroftp.Session, target: Target) -> list[Match]:
    """The paths ``target`` names: itself, or what its pattern matches (sorted); raises
    ``FileNotFoundError`` when a pattern matches nothing."""
    if target.pattern is None:
        return [Match(target.path)]
    parts = target.pattern.split("/")
    found = [Match("/")]
    for i, part in enumerate(parts):
        if part == "":
            continue
        last = all(p == "" for p in parts[i + 1 :])
        if not _has_wildcard(part):
            name = _literal(part)
            found = [Match(posixpath.join(m.path, name)) for m in found]
            continue
        matched: list[Match] = []
        for m in found:
            try:
                entries = session.list(m.path)
            except ferroftp.NotFoundError:
                continue
            for e in sorted(entries, key=lambda e: e.name):
                if _matches(e.name, part) and (last or e.kind in ("dir", "link")):
                    matched.append(Match(posixpath.join(m.path, e.name), e))
        found = matched
    if not found:
        raise FileNotFoundError(f"no match for {target.server}{target.pattern}")
    return found


def expand_local(paths: Sequence[str]) -> list[str]:
    """The local paths: each one itself, or, when it has wildcards and is not a file of that
    name, what it matches (sorted); raises ``FileNotFoundError`` when one matches nothing."""
    out: list[str] = []
    for path in paths:
        if path != "-" and MAGIC.search(path) and not os.path.lexists(path):
            found = sorted(glob.glob(path))
            if not found:
                raise FileNotFoundError(f"no match for {path}")
            out.extend(found)
        else:
            out.append(path)
    return out
