"""Pure-Python glue called by the extension module: directory walks, and the coroutine of
``AsyncSession.open``.

These only compose the sessions' own operations (``list``, ``open``); no FTP happens here.
"""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ferroftp._native import AsyncRemoteFile, AsyncSession, Session


def _split(entries: list[Any]) -> tuple[list[str], list[str]]:
    dirnames: list[str] = []
    filenames: list[str] = []
    for entry in entries:
        (dirnames if entry.kind == "dir" else filenames).append(entry.name)
    return dirnames, filenames


def walk(session: Session, top: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` over ``session.list``: top-down, and ``dirnames`` may be pruned in place.

    Symbolic links are reported in ``filenames`` and never followed.
    """
    stack = [top]
    while stack:
        dirpath = stack.pop()
        dirnames, filenames = _split(session.list(dirpath))
        yield dirpath, dirnames, filenames
        stack.extend(posixpath.join(dirpath, d) for d in reversed(dirnames))


async def _walk_async(
    session: AsyncSession, top: str
) -> AsyncIterator[tuple[str, list[str], list[str]]]:
    stack = [top]
    while stack:
        dirpath = stack.pop()
        dirnames, filenames = _split(await session.list(dirpath))
        yield dirpath, dirnames, filenames
        stack.extend(posixpath.join(dirpath, d) for d in reversed(dirnames))


def walk_async(session: AsyncSession, top: str) -> AsyncIterator[tuple[str, list[str], list[str]]]:
    """The async iterator twin of :func:`walk`."""
    return _walk_async(session, top)


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
