"""Every method of ``AsyncSession``, against pyftpdlib and vsftpd."""

from __future__ import annotations

import asyncio
import datetime
import io
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from conftest import OPTIONS, Server, data

import ferroftp


@pytest_asyncio.fixture
async def asession(server: Server) -> AsyncIterator[ferroftp.AsyncSession]:
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        yield s


@pytest.mark.asyncio
async def test_connect_and_context_manager(server: Server) -> None:
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        assert isinstance(s, ferroftp.AsyncSession)
        assert await s.pwd() == "/"
        await s.noop()
        assert repr(s).startswith("<ferroftp.AsyncSession ftp://")
    with pytest.raises(ferroftp.ClosedError):
        await s.noop()


@pytest.mark.asyncio
async def test_list_names(
    server: Server, asession: ferroftp.AsyncSession, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    server.put(f"{local.name}/a.bin", data(4321, 1))
    server.put(f"{local.name}/sub/x", b"")
    entries = {e.name: e for e in await asession.list(remote)}
    assert set(entries) == {"a.bin", "sub"}
    assert (entries["a.bin"].kind, entries["a.bin"].size) == ("file", 4321)
    assert entries["sub"].kind == "dir"
    modified = entries["a.bin"].modified
    assert modified is not None
    assert modified.utcoffset() == datetime.timedelta(0)
    assert sorted(await asession.names(remote)) == ["a.bin", "sub"]
    await asession.cwd(remote)
    assert sorted(await asession.names()) == ["a.bin", "sub"]
    assert sorted(e.name for e in await asession.list()) == ["a.bin", "sub"]


@pytest.mark.asyncio
async def test_bytes_size_modified_exists(
    server: Server, asession: ferroftp.AsyncSession, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    payload = data(250_000, 2)
    assert await asession.write_bytes(f"{remote}/x.bin", payload) == len(payload)
    assert await asession.read_bytes(f"{remote}/x.bin") == payload
    assert await asession.write_bytes(f"{remote}/y.bin", memoryview(b"hello")) == 5
    assert await asession.size(f"{remote}/x.bin") == len(payload)
    stamp = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    os.utime(local / "x.bin", (stamp.timestamp(), stamp.timestamp()))
    assert await asession.modified(f"{remote}/x.bin") == stamp
    assert await asession.exists(f"{remote}/x.bin")
    assert not await asession.exists(f"{remote}/nope")


@pytest.mark.asyncio
async def test_download_upload(
    server: Server, asession: ferroftp.AsyncSession, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    payload = data(1_100_000, 3)
    server.put(f"{local.name}/d.bin", payload)
    loop_thread = threading.get_ident()
    calls: list[tuple[int, int | None]] = []
    threads: set[int] = set()

    def progress(done: int, total: int | None) -> None:
        threads.add(threading.get_ident())
        calls.append((done, total))

    n = await asession.download(f"{remote}/d.bin", tmp_path / "d.bin", progress=progress)
    assert n == len(payload)
    assert (tmp_path / "d.bin").read_bytes() == payload
    assert calls[-1][0] == len(payload)
    assert threads == {loop_thread}  # progress runs on the event loop's thread

    buf = io.BytesIO()
    calls.clear()
    assert await asession.download(f"{remote}/d.bin", buf, progress=progress) == len(payload)
    assert buf.getvalue() == payload
    assert calls[-1] == (len(payload), None)

    calls.clear()
    n = await asession.upload(tmp_path / "d.bin", f"{remote}/u1.bin", progress=progress)
    assert n == len(payload)
    assert calls[-1] == (len(payload), len(payload))
    assert (local / "u1.bin").read_bytes() == payload
    assert await asession.upload(str(tmp_path / "d.bin"), f"{remote}/u2.bin") == len(payload)
    assert (local / "u2.bin").read_bytes() == payload
    calls.clear()
    n = await asession.upload(io.BytesIO(payload), f"{remote}/u3.bin", progress=progress)
    assert n == len(payload)
    assert calls[-1] == (len(payload), None)
    assert (local / "u3.bin").read_bytes() == payload
    assert await asession.upload(tmp_path / "d.bin", f"{remote}/at.bin", atomic=True) == n
    assert (local / "at.bin").read_bytes() == payload
    assert await asession.download(f"{remote}/at.bin", tmp_path / "r.bin", resume=True) == n
    assert (tmp_path / "r.bin").read_bytes() == payload
    with pytest.raises(NotImplementedError):
        await asession.download(f"{remote}/d.bin", io.BytesIO(), resume=True)
    with pytest.raises(NotImplementedError):
        await asession.upload(io.BytesIO(b"z"), f"{remote}/z", atomic=True)


class Recording(io.BytesIO):
    """A file object that notes the threads its ``read``/``write`` run on, and can cancel a
    task from its n-th ``write``."""

    def __init__(self, initial: bytes = b"") -> None:
        super().__init__(initial)
        self.threads: set[int] = set()
        self.writes = 0
        self.cancel_at: tuple[int, asyncio.Future[object]] | None = None

    def write(self, b: object) -> int:
        self.threads.add(threading.get_ident())
        self.writes += 1
        if self.cancel_at is not None and self.writes == self.cancel_at[0]:
            self.cancel_at[1].cancel()
        return super().write(b)  # type: ignore[arg-type]

    def read(self, size: int | None = -1, /) -> bytes:
        self.threads.add(threading.get_ident())
        return super().read(size)


@pytest.mark.asyncio
async def test_file_objects_run_on_the_event_loop(
    server: Server, asession: ferroftp.AsyncSession, workdir: tuple[str, Path]
) -> None:
    """A file object's ``write``/``read`` run on the event loop's thread, chunk by chunk, as
    the blocking face runs them on the caller's."""
    remote, local = workdir
    payload = data(3_000_000, 8)
    server.put(f"{local.name}/f.bin", payload)
    loop_thread = threading.get_ident()
    sink = Recording()
    assert await asession.download(f"{remote}/f.bin", sink) == len(payload)
    assert sink.getvalue() == payload
    assert sink.threads == {loop_thread} and sink.writes > 1
    source = Recording(payload)
    assert await asession.upload(source, f"{remote}/g.bin") == len(payload)
    assert source.threads == {loop_thread}
    assert (local / "g.bin").read_bytes() == payload


@pytest.mark.asyncio
async def test_cancelled_file_object_download_writes_no_more(
    server: Server, asession: ferroftp.AsyncSession, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    payload = data(8_000_000, 9)
    server.put(f"{local.name}/f.bin", payload)
    sink = Recording()
    task = asyncio.ensure_future(asession.download(f"{remote}/f.bin", sink))
    sink.cancel_at = (2, task)
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.5)
    assert sink.writes == 2  # nothing reached the file after the cancellation
    assert await asession.read_bytes(f"{remote}/f.bin") == payload


@pytest.mark.asyncio
async def test_directories_and_files(
    asession: ferroftp.AsyncSession, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    await asession.mkdir(f"{remote}/a/b/c", parents=True)
    await asession.mkdir(f"{remote}/e")
    with pytest.raises(ferroftp.PermanentError):
        await asession.mkdir(f"{remote}/e")
    await asession.write_bytes(f"{remote}/a/b/c/f", b"1")
    await asession.rename(f"{remote}/a/b/c/f", f"{remote}/a/g")
    assert (local / "a" / "g").read_bytes() == b"1"
    await asession.remove(f"{remote}/a/g")
    await asession.rmdir(f"{remote}/e")
    await asession.rmdir(f"{remote}/a", recursive=True)
    assert list(local.iterdir()) == []
    await asession.cwd(remote)
    assert await asession.pwd() == remote
    code, text = await asession.quote("NOOP")
    assert (code, text[:3]) == (200, "200")


@pytest.mark.asyncio
async def test_open_and_walk(
    server: Server, asession: ferroftp.AsyncSession, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    payload = data(500_000, 4)
    async with await asession.open(f"{remote}/w.bin", "wb") as f:
        assert isinstance(f, ferroftp.AsyncRemoteFile)
        assert (f.mode, f.writable()) == ("wb", True)
        await f.write(payload[:100])
        await f.write(payload[100:])
        await f.flush()
    assert f.closed
    assert (local / "w.bin").read_bytes() == payload
    async with await asession.open(f"{remote}/w.bin") as f:
        assert (f.name, f.mode, f.readable()) == (f"{remote}/w.bin", "rb", True)
        head = await f.read(10)
        rest = await f.read()
        assert await f.read() == b""
    assert head + rest == payload
    f = await asession.open(f"{remote}/w.bin")
    assert len(await f.read(5)) == 5
    await f.close()  # before the end: abandoned; the session goes on
    await asession.mkdir(f"{remote}/s/t", parents=True)
    await asession.write_bytes(f"{remote}/s/t/u", b"u")
    seen = [(d, sorted(dn), sorted(fn)) async for d, dn, fn in asession.walk(remote)]
    assert seen == [
        (remote, ["s"], ["w.bin"]),
        (f"{remote}/s", ["t"], []),
        (f"{remote}/s/t", [], ["u"]),
    ]


@pytest.mark.asyncio
async def test_gather_on_one_session(
    server: Server, asession: ferroftp.AsyncSession, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    for i in range(20):
        server.put(f"{local.name}/f{i}", data(i * 1000 + 1, i))
    sizes = await asyncio.gather(*(asession.size(f"{remote}/f{i}") for i in range(20)))
    assert sizes == [i * 1000 + 1 for i in range(20)]
    contents = await asyncio.gather(*(asession.read_bytes(f"{remote}/f{i}") for i in range(20)))
    assert contents == [data(i * 1000 + 1, i) for i in range(20)]
    # ensure_future works for the awaitables (they are asyncio futures, already running).
    fut = asyncio.ensure_future(asession.pwd())
    assert await fut == "/"


@pytest.mark.asyncio
async def test_progress_exception_cancels_and_is_raised(
    server: Server, asession: ferroftp.AsyncSession, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    payload = data(3_000_000, 5)
    server.put(f"{local.name}/p.bin", payload)

    def progress(done: int, total: int | None) -> None:
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        await asession.download(f"{remote}/p.bin", tmp_path / "p.bin", progress=progress)
    # No partial file: nothing, or (when the transfer won the race) the complete file.
    assert not (tmp_path / "p.bin").exists() or (tmp_path / "p.bin").read_bytes() == payload
    assert await asession.read_bytes(f"{remote}/p.bin") == payload
