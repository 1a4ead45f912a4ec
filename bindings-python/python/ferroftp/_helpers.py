"""Pure-Python glue called by the extension module: directory walks, and the awaitable
transfers from and to file objects (which must run on the event loop's thread).

These only compose the sessions' own operations (``list``, ``open``); no FTP happens here.
"""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional

if TYPE_CHECKING:
    from ferroftp._native import AsyncRemoteFile, AsyncSession, Session

#: Chunk size for file objects.
CHUNK = 256 * 1024

Progress = Optional[Callable[[int, Optional[int]], object]]


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


def _write_all(file: Any, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = file.write(view)
        if n is None:
            return
        if n <= 0:
            raise ValueError("the file object's write() wrote nothing")
        view = view[n:]


async def download_to_file_async(
    session: AsyncSession, remote: str, file: Any, progress: Progress
) -> int:
    """Streams ``remote`` into a binary file object, chunk by chunk."""
    done = 0
    async with await session.open(remote, "rb") as source:
        while True:
            chunk = await source.read(CHUNK)
            if not chunk:
                break
            _write_all(file, chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, None)
    return done


async def upload_from_file_async(
    session: AsyncSession, file: Any, remote: str, progress: Progress
) -> int:
    """Streams a binary file object to ``remote``, chunk by chunk."""
    done = 0
    async with await session.open(remote, "wb") as target:
        while True:
            chunk = file.read(CHUNK)
            if chunk is None:
                raise ValueError(
                    "the file object's read() returned None (a non-blocking file with no data?)"
                )
            if isinstance(chunk, str):
                raise TypeError(
                    "the file object's read() returned str: open the file in binary mode ('rb')"
                )
            if not chunk:
                break
            await target.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, None)
    return done
