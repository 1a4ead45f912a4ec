"""Random cancellations and timeouts of awaitables: each is followed by a checked operation,
which must see the right data (the cancelled operation's Rust future was dropped; the session
resynchronized or reconnected)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import OPTIONS, Server, data

import ferroftp
from ferroftp import _helpers

ROUNDS = 200
#: Far above any operation's duration here: only turns a hang into a failure.
HANG = 60.0


@pytest.mark.asyncio
async def test_random_cancellations_and_timeouts(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    files = {}
    for i, size in enumerate([0, 1, 1000, 100_000, 1_000_000, 3_000_000]):
        files[f"{remote}/c{i}.bin"] = data(size, 700 + i)
        server.put(f"{local.name}/c{i}.bin", files[f"{remote}/c{i}.bin"])
    big = f"{remote}/c5.bin"
    rng = random.Random(20240601)

    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        ops: list[Callable[[int], Awaitable[Any]]] = [
            lambda i: s.read_bytes(big),
            lambda i: s.download(big, tmp_path / f"d{i}.bin"),
            lambda i: s.download(big, io.BytesIO()),
            lambda i: s.upload(io.BytesIO(files[big]), f"{remote}/up{i % 7}.bin"),
            lambda i: s.write_bytes(f"{remote}/wb{i % 5}.bin", files[big]),
            lambda i: s.list(remote),
            lambda i: s.size(big),
            lambda i: s.noop(),
            lambda i: s.quote("NOOP"),
            lambda i: s.mkdir(f"{remote}/m{i}/n", parents=True),
            lambda i: read_some(s, big),
        ]
        must_cancel = cancelled = completed = 0
        for i in range(ROUNDS):
            op = rng.choice(ops)
            delay = rng.choice([0.0, 0.0, 0.0005, 0.002, 0.005, 0.01, 0.03])
            if rng.random() < 0.5:
                try:
                    await asyncio.wait_for(op(i), timeout=delay or 0.0001)
                    completed += 1
                except asyncio.TimeoutError:
                    cancelled += 1
            else:
                fut = asyncio.ensure_future(op(i))
                if delay:
                    await asyncio.sleep(delay)
                else:
                    must_cancel += 1  # the result cannot have arrived: the loop did not run
                fut.cancel()
                try:
                    await fut
                    completed += 1
                except asyncio.CancelledError:
                    cancelled += 1
            # The checked operation (the bound only turns a hang into a failure).
            name = rng.choice(list(files))
            got = await asyncio.wait_for(s.read_bytes(name), HANG)
            assert got == files[name], f"round {i}"
        assert cancelled + completed == ROUNDS
        assert cancelled >= must_cancel > 0
        # Nothing left over: no partial download files beside the targets.
        assert not [p.name for p in tmp_path.iterdir() if "ferroftp-part" in p.name]
        # And the session is still in step for everything.
        assert sorted(await s.names(remote))[:6] == [f"c{i}.bin" for i in range(6)]
        assert await s.size(big) == len(files[big])


async def read_some(s: ferroftp.AsyncSession, path: str) -> bytes:
    async with await s.open(path) as f:
        return await f.read(500_000)


@pytest.mark.asyncio
async def test_cancelled_opens_release_the_session(
    server: Server, workdir: tuple[str, Path]
) -> None:
    """`async with await s.open(...)` cancelled at any point never leaves the file (and so the
    session's lock) held: the next operation goes through."""
    remote, local = workdir
    payload = data(2_000_000, 5)
    server.put(f"{local.name}/o.bin", payload)
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        for i in range(100):
            op = (
                read_some(s, f"{remote}/o.bin")
                if i % 2
                else s.download(f"{remote}/o.bin", io.BytesIO())
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(op, (i % 5) * 0.0005 or 1e-4)
            # Nothing else may run in between (any call into the extension could mask a leak).
            assert await asyncio.wait_for(s.size(f"{remote}/o.bin"), HANG) == len(payload)


@pytest.mark.asyncio
async def test_open_cancelled_after_the_file_opened(
    server: Server, workdir: tuple[str, Path]
) -> None:
    """The worst moment for a cancellation: the file is open (the lock taken) and its future
    done, but the awaiting task has not resumed yet. The file must be abandoned at once, not
    left to a future nobody looks at (which would hold the session until garbage collection)."""
    remote, local = workdir
    server.put(f"{local.name}/f.bin", b"0123456789")
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:

        class Handle:
            """`s` as seen by the open helper, with a hook on the opening's future."""

            def __init__(self) -> None:
                self.fut: asyncio.Future[ferroftp.AsyncRemoteFile] | None = None

            def _open(self, path: str, mode: str) -> asyncio.Future[ferroftp.AsyncRemoteFile]:
                self.fut = s._open(path, "rb")
                # Runs when the file is open, before the task awaiting it resumes.
                self.fut.add_done_callback(lambda _: task.cancel())
                return self.fut

        for _ in range(5):
            handle = Handle()
            task = asyncio.ensure_future(_helpers.open_async(handle, f"{remote}/f.bin", "rb"))  # type: ignore[arg-type]
            with pytest.raises(asyncio.CancelledError):
                await task
            assert handle.fut is not None and handle.fut.result().closed  # opened, abandoned
            assert await asyncio.wait_for(s.size(f"{remote}/f.bin"), HANG) == 10


@pytest.mark.asyncio
async def test_cancel_while_queued(server: Server, workdir: tuple[str, Path]) -> None:
    """Operations queued behind an open file are cancelled while they wait for the lock."""
    remote, _ = workdir
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        await s.write_bytes(f"{remote}/q", b"queued")
        f = await s.open(f"{remote}/q")
        waiting = [asyncio.ensure_future(s.size(f"{remote}/q")) for _ in range(10)]
        await asyncio.sleep(0.01)
        for w in waiting[::2]:
            w.cancel()
        assert await f.read() == b"queued"
        await f.close()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        for n, r in enumerate(results):
            if n % 2 == 0:
                assert isinstance(r, asyncio.CancelledError)
            else:
                assert r == 6
        assert await s.read_bytes(f"{remote}/q") == b"queued"


@pytest.mark.asyncio
async def test_cancelled_file_read_abandons_the_file(
    server: Server, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    payload = data(48_000_000, 77)  # more than the socket buffers can hold (32 + 4 MiB)
    server.put(f"{local.name}/big", payload)
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        f = await s.open(f"{remote}/big")
        try:
            with server.paused():  # the transfer stalls: the read cannot finish
                fut = asyncio.ensure_future(f.read())
                await asyncio.sleep(0.05)
                fut.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await fut
            # The file can no longer be used (its transfer was abandoned); the session can.
            with pytest.raises(ferroftp.CancelledError):
                await f.read(10)
        finally:
            await f.close()
        assert f.closed
        assert await s.read_bytes(f"{remote}/big") == payload
