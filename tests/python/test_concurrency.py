"""Many threads on one ``Session`` and many tasks on one ``AsyncSession``: mixed operations,
every result verified (the session serializes them; nothing may be mixed up)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import threading
from pathlib import Path

import pytest
from conftest import OPTIONS, Server, data

import ferroftp

THREADS = 32
ROUNDS = 3
TASKS = 200


def thread_worker(
    s: ferroftp.Session, remote: str, local: Path, tmp: Path, n: int, ops: list[int]
) -> None:
    rng = random.Random(n)
    mine = f"{remote}/w{n}"
    s.mkdir(mine)
    for r in range(ROUNDS):
        payload = data(rng.randrange(1, 150_000), n * 100 + r)
        name = f"{mine}/f{r}.bin"
        assert s.write_bytes(name, payload) == len(payload)
        assert s.read_bytes(name) == payload
        assert s.size(name) == len(payload)
        assert s.exists(name)
        target = tmp / f"w{n}-{r}.bin"
        assert s.download(name, target) == len(payload)
        assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(payload).digest()
        other = f"{mine}/g{r}.bin"
        assert s.upload(io.BytesIO(payload[::-1]), other) == len(payload)
        with s.open(other) as f:
            assert f.read(100) == payload[::-1][:100]
        names = sorted(e.name for e in s.list(mine))
        assert names == sorted([f"f{i}.bin" for i in range(r + 1)] + [f"g{r}.bin"])
        s.rename(other, f"{mine}/h.bin")
        assert s.read_bytes(f"{mine}/h.bin") == payload[::-1]
        s.remove(f"{mine}/h.bin")
        assert (local / f"w{n}" / f"f{r}.bin").read_bytes() == payload
        ops[n] += 12
    assert sorted(s.names(mine)) == [f"f{i}.bin" for i in range(ROUNDS)]


def test_threads_share_one_session(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    errors: list[BaseException] = []
    ops = [0] * THREADS
    with ferroftp.connect(server.url, **OPTIONS) as s:

        def run(n: int) -> None:
            try:
                thread_worker(s, remote, local, tmp_path, n, ops)
            except BaseException as e:  # collected and re-raised in the test thread
                errors.append(e)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        assert sum(ops) == THREADS * ROUNDS * 12
        assert sorted(s.names(remote)) == sorted(f"w{n}" for n in range(THREADS))
        s.noop()


async def task_worker(s: ferroftp.AsyncSession, remote: str, local: Path, n: int) -> int:
    rng = random.Random(10_000 + n)
    payload = data(rng.randrange(0, 60_000), 10_000 + n)
    name = f"{remote}/t{n}.bin"
    assert await s.write_bytes(name, payload) == len(payload)
    assert await s.read_bytes(name) == payload
    assert await s.size(name) == len(payload)
    assert await s.exists(name)
    entries = {e.name: e for e in await s.list(remote)}
    assert entries[f"t{n}.bin"].size == len(payload)
    await s.rename(name, f"{remote}/r{n}.bin")
    assert not await s.exists(name)
    async with await s.open(f"{remote}/r{n}.bin") as f:
        assert await f.read() == payload
    assert (local / f"r{n}.bin").read_bytes() == payload
    await s.remove(f"{remote}/r{n}.bin")
    return 9


@pytest.mark.asyncio
async def test_tasks_share_one_session(server: Server, workdir: tuple[str, Path]) -> None:
    remote, local = workdir
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        done = await asyncio.gather(*(task_worker(s, remote, local, n) for n in range(TASKS)))
        assert sum(done) == TASKS * 9
        assert await s.names(remote) == []
        await s.noop()


def test_threads_and_an_event_loop_at_once(server: Server, workdir: tuple[str, Path]) -> None:
    """A blocking session used by threads while asyncio tasks use another session: both run
    on the one ferroftp runtime."""
    remote, local = workdir
    errors: list[BaseException] = []
    with ferroftp.connect(server.url, **OPTIONS) as s:

        def run(n: int) -> None:
            try:
                for i in range(5):
                    payload = data(10_000 + i, n * 10 + i)
                    s.write_bytes(f"{remote}/s{n}-{i}", payload)
                    assert s.read_bytes(f"{remote}/s{n}-{i}") == payload
            except BaseException as e:
                errors.append(e)

        async def tasks() -> None:
            async with await ferroftp.connect_async(server.url, **OPTIONS) as a:
                await asyncio.gather(*(task_worker(a, remote, local, 500 + n) for n in range(40)))

        threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        asyncio.run(tasks())
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        assert len(s.names(remote)) == 40
