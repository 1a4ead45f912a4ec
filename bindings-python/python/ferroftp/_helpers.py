"""Pure-Python glue called by the extension module: directory walks, globs, and the opening of
``AsyncSession.open``.

These only compose the sessions' own operations (``list``, ``open``); no FTP happens here.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import types
from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ferroftp._native import AsyncRemoteFile, AsyncSession, Session


def _split(entries: list[Any], detail: bool) -> tuple[Any, Any]:
    if detail:
        dirs: dict[str, Any] = {}
        files: dict[str, Any] = {}
        for entry in entries:
            (dirs if entry.kind == "dir" else files)[entry.name] = entry
        return dirs, files
    dirnames: list[str] = []
    filenames: list[str] = []
    for entry in entries:
        (dirnames if entry.kind == "dir" else filenames).append(entry.name)
    return dirnames, filenames


def walk(session: Session, top: str, detail: bool = False) -> Iterator[tuple[str, Any, Any]]:
    """``os.walk`` over ``session.list``: top-down, and ``dirnames`` may be pruned in place.

    With ``detail``, ``dirnames`` and ``filenames`` are dicts of :class:`ferroftp.Entry` by
    name (as ``fsspec``'s ``walk(detail=True)``); deleting a key prunes that directory.
    Symbolic links are reported with the files and never followed.
    """
    stack = [top]
    while stack:
        dirpath = stack.pop()
        dirnames, filenames = _split(session.list(dirpath), detail)
        yield dirpath, dirnames, filenames
        stack.extend(posixpath.join(dirpath, d) for d in reversed(list(dirnames)))


async def _walk_async(
    session: AsyncSession, top: str, detail: bool
) -> AsyncIterator[tuple[str, Any, Any]]:
    stack = [top]
    while stack:
        dirpath = stack.pop()
        dirnames, filenames = _split(await session.list(dirpath), detail)
        yield dirpath, dirnames, filenames
        stack.extend(posixpath.join(dirpath, d) for d in reversed(list(dirnames)))


def walk_async(
    session: AsyncSession, top: str, detail: bool = False
) -> AsyncIterator[tuple[str, Any, Any]]:
    """The async iterator twin of :func:`walk`."""
    return _walk_async(session, top, detail)


_MAGIC = re.compile(r"[*?[]")


def _parts(pattern: str) -> tuple[str, list[str]]:
    """The directory to start from (the pattern's leading part without wildcards) and the
    components to match from there."""
    parts = [p for p in pattern.split("/") if p]
    fixed: list[str] = []
    while parts and not _MAGIC.search(parts[0]):
        fixed.append(parts.pop(0))
    root = "/" if pattern.startswith("/") else ""
    return root + "/".join(fixed), parts


def _matches(names: list[str], part: str) -> list[str]:
    hidden = part.startswith(".")
    return [n for n in names if fnmatch.fnmatchcase(n, part) and (hidden or not n.startswith("."))]


def glob(session: Session, pattern: str) -> list[str]:
    """The paths matching ``pattern``, sorted: ``*``, ``?`` and ``[...]`` match within one
    name (not a leading dot), ``**`` any number of directories. A pattern without wildcards
    gives itself when it exists."""
    start, parts = _parts(pattern)
    if not parts:
        return [start] if start and session.exists(start) else []
    found: list[str] = []
    level = [start]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        following: list[str] = []
        for base in level:
            if part == "**":
                for dirpath, dirnames, filenames in walk(session, base or "."):
                    here = dirpath if base else dirpath.removeprefix("./").removeprefix(".")
                    if last:
                        found.extend(_join(here, n) for n in (*dirnames, *filenames))
                    else:
                        following.append(here)
                continue
            try:
                entries = session.list(base)
            except FileNotFoundError:
                continue
            names = _matches([e.name for e in entries], part)
            if last:
                found.extend(_join(base, n) for n in names)
            else:
                kinds = {e.name: e.kind for e in entries}
                following.extend(_join(base, n) for n in names if kinds[n] in ("dir", "link"))
        level = following
    return sorted(set(found))


async def glob_async(session: AsyncSession, pattern: str) -> list[str]:
    """The awaitable twin of :func:`glob`."""
    start, parts = _parts(pattern)
    if not parts:
        return [start] if start and await session.exists(start) else []
    found: list[str] = []
    level = [start]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        following: list[str] = []
        for base in level:
            if part == "**":
                async for dirpath, dirnames, filenames in walk_async(session, base or "."):
                    here = dirpath if base else dirpath.removeprefix("./").removeprefix(".")
                    if last:
                        found.extend(_join(here, n) for n in (*dirnames, *filenames))
                    else:
                        following.append(here)
                continue
            try:
                entries = await session.list(base)
            except FileNotFoundError:
                continue
            names = _matches([e.name for e in entries], part)
            if last:
                found.extend(_join(base, n) for n in names)
            else:
                kinds = {e.name: e.kind for e in entries}
                following.extend(_join(base, n) for n in names if kinds[n] in ("dir", "link"))
        level = following
    return sorted(set(found))


def _join(base: str, name: str) -> str:
    return posixpath.join(base, name) if base else name


async def open_async(
    session: AsyncSession, path: str, mode: Literal["rb", "wb"]
) -> AsyncRemoteFile:
    """``AsyncSession.open``: awaits the opening; if this coroutine is cancelled when the file
    is already open but not yet handed over, the file is abandoned at once (it would otherwise
    hold the session's lock until garbage collection)."""
    fut = session._open(path, mode)
    try:
        return await fut
    except BaseException:
        if fut.done() and not fut.cancelled() and fut.exception() is None:
            fut.result()._abandon()
        raise


class AsyncOpening:
    """What ``AsyncSession.open`` returns: an awaitable of the :class:`AsyncRemoteFile`
    (``f = await s.open(path)``), and an async context manager that opens and closes it
    (``async with s.open(path) as f``). Opens the file once, when first awaited or entered."""

    def __init__(self, session: AsyncSession, path: str, mode: Literal["rb", "wb"]) -> None:
        self._session = session
        self._path = path
        self._mode: Literal["rb", "wb"] = mode
        self._file: AsyncRemoteFile | None = None

    def __await__(self) -> Generator[Any, None, AsyncRemoteFile]:
        return open_async(self._session, self._path, self._mode).__await__()

    async def __aenter__(self) -> AsyncRemoteFile:
        self._file = await open_async(self._session, self._path, self._mode)
        return self._file

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> bool:
        file, self._file = self._file, None
        if file is None:
            return False
        return await file.__aexit__(exc_type, exc, tb)
