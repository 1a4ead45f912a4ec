"""``Pool`` and ``AsyncPool``: batches of 1000 files both ways with every byte checked, a server
that allows fewer connections than the pool wants, a session killed mid-batch, progress, missing
files, trees, borrowing one session, and wrong arguments."""

from __future__ import annotations

import asyncio
import gc
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import OPTIONS, Server, data, start_server

import ferroftp

FILES = 1000


def make_files(base: Path, count: int, seed: int) -> dict[str, bytes]:
    """``count`` files of 0 to 8 KiB under ``base``: {name: content}."""
    base.mkdir(parents=True, exist_ok=True)
    files = {}
    for i in range(count):
        content = data((i * 37 + seed) % 8193, seed * 10_000 + i)
        name = f"f{i:04}.bin"
        (base / name).write_bytes(content)
        files[name] = content
    return files


class Recorder:
    """A progress callback that checks each report against the last one."""

    def __init__(self, *, growing: bool = False) -> None:
        self.reports: list[ferroftp.BatchProgress] = []
        self.threads: set[int] = set()
        #: A tree's totals grow as its walk finds files (never shrink).
        self.growing = growing

    def __call__(self, p: ferroftp.BatchProgress) -> None:
        self.threads.add(threading.get_ident())
        if self.reports:
            last = self.reports[-1]
            assert p.files_done >= last.files_done
            assert p.bytes_done >= last.bytes_done
            if self.growing:
                assert p.files_total >= last.files_total
                if p.bytes_total is not None:
                    assert last.bytes_total is not None
                    assert p.bytes_total >= last.bytes_total
            else:
                assert p.files_total == last.files_total
                assert p.bytes_total == last.bytes_total
        assert p.files_done <= p.files_total
        if p.bytes_total is not None:
            assert p.bytes_done <= p.bytes_total
        self.reports.append(p)

    def check_final(self, files: int, total_bytes: int, *, sizes_known: bool = True) -> None:
        assert self.reports, "no progress was reported"
        last = self.reports[-1]
        assert (last.files_done, last.files_total) == (files, files)
        assert last.bytes_done == total_bytes
        # download_many is not told the sizes (learning them would cost a round trip a file).
        assert last.bytes_total == (total_bytes if sizes_known else None)


def pool(server: Server, **kw: object) -> ferroftp.Pool:
    options = {**OPTIONS, "max_sessions": 8, **kw}
    return ferroftp.Pool(server.url, **options)  # type: ignore[arg-type]


def test_thousand_files_up_and_down(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, on_server = workdir
    files = make_files(tmp_path / "src", FILES, 1)
    total = sum(len(c) for c in files.values())
    with pool(server) as p:
        up = Recorder()
        result = p.upload_many(
            [(tmp_path / "src" / n, f"{remote}/{n}") for n in files], progress=up
        )
        assert not result.failed, result.failed
        assert result and len(result.ok) == FILES and result.bytes == total
        up.check_final(FILES, total)
        assert up.threads == {threading.get_ident()}, "callbacks run on the caller's thread"
        for name, content in files.items():
            assert (on_server / name).read_bytes() == content, name
        assert 1 < p.open_sessions <= 8

        down = Recorder()
        dest = tmp_path / "dst"
        dest.mkdir()
        result = p.download_many(((f"{remote}/{n}", str(dest / n)) for n in files), progress=down)
        assert not result.failed, result.failed
        assert sorted(result.ok) == sorted(f"{remote}/{n}" for n in files)
        assert result.ok[f"{remote}/f0001.bin"] == len(files["f0001.bin"])
        down.check_final(FILES, total, sizes_known=False)
        for name, content in files.items():
            assert (dest / name).read_bytes() == content, name


def test_missing_file_fails_alone(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, _ = workdir
    for i in range(20):
        server.put(f"{remote[1:]}/g{i}", data(1000 + i, i))
    items = [(f"{remote}/g{i}", tmp_path / f"g{i}") for i in range(20)]
    items.insert(7, (f"{remote}/absent", tmp_path / "absent"))
    with pool(server, max_sessions=4) as p:
        result = p.download_many(items)
    assert not result
    assert list(result.failed) == [f"{remote}/absent"]
    error = result.failed[f"{remote}/absent"]
    assert isinstance(error, ferroftp.NotFoundError) and isinstance(error, FileNotFoundError)
    assert error.code == 550
    assert len(result.ok) == 20
    assert not (tmp_path / "absent").exists()
    for i in range(20):
        assert (tmp_path / f"g{i}").read_bytes() == data(1000 + i, i)
    with pytest.raises(ferroftp.NotFoundError):
        result.raise_first()


def test_stop_on_error(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, _ = workdir
    for i in range(50):
        server.put(f"{remote[1:]}/h{i}", b"x" * 10)
    items = [(f"{remote}/absent", tmp_path / "absent")]
    items += [(f"{remote}/h{i}", tmp_path / f"h{i}") for i in range(50)]
    with pool(server, max_sessions=1) as p:
        result = p.download_many(items, stop_on_error=True)
    assert list(result.failed) == [f"{remote}/absent"]
    assert len(result.ok) < 50, "the batch stopped starting files after the failure"


@pytest.fixture(scope="module", params=("pyftpdlib", "vsftpd"))
def limited(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server that accepts at most 3 connections."""
    s = start_server(request.param, "--max-cons", "3")
    yield s
    s.stop()


def test_server_allows_fewer_connections(limited: Server, tmp_path: Path) -> None:
    remote, on_server = limited.dir("limited")
    files = make_files(tmp_path / "src", 200, 2)
    with pool(limited, max_sessions=10) as p:
        result = p.upload_many([(tmp_path / "src" / n, f"{remote}/{n}") for n in files])
        assert not result.failed, result.failed
        assert len(result.ok) == 200
        assert p.open_sessions <= 3 and p.limit <= 3
        result = p.download_many([(f"{remote}/{n}", tmp_path / n) for n in files])
        assert not result.failed, result.failed
    for name, content in files.items():
        assert (on_server / name).read_bytes() == content
        assert (tmp_path / name).read_bytes() == content


def test_session_killed_mid_batch(servers: object, tmp_path: Path) -> None:
    server = servers.get("vsftpd")  # type: ignore[attr-defined]
    remote, _ = server.dir("killed-mid-batch")
    files = make_files(tmp_path / "src", 300, 3)
    for name, content in files.items():
        server.put(f"{remote[1:]}/{name}", content)
    killed: list[bool] = []

    def progress(p: ferroftp.BatchProgress) -> None:
        if p.files_done >= 100 and not killed:
            killed.append(server.kill_one_session())

    with pool(server, max_sessions=4) as p:
        result = p.download_many(
            [(f"{remote}/{n}", tmp_path / n) for n in files], progress=progress
        )
    assert killed == [True]
    assert not result.failed, result.failed
    for name, content in files.items():
        assert (tmp_path / name).read_bytes() == content


def test_trees(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, on_server = workdir
    src = tmp_path / "src"
    expected = {}
    for sub in ("", "a", "a/b", "c"):
        for name, content in make_files(src / sub, 15, len(sub) + 4).items():
            expected[f"{sub}/{name}".lstrip("/")] = content
    (src / "empty").mkdir()
    with pool(server, max_sessions=4) as p:
        up = Recorder(growing=True)
        result = p.upload_tree(src, f"{remote}/tree", progress=up)
        assert not result.failed and len(result.ok) == 60
        up.check_final(60, sum(map(len, expected.values())))
        assert (on_server / "tree" / "empty").is_dir()
        down = Recorder(growing=True)
        result = p.download_tree(f"{remote}/tree", tmp_path / "back", progress=down)
        assert not result.failed and len(result.ok) == 60
        down.check_final(60, sum(map(len, expected.values())))
        again = p.download_tree(f"{remote}/tree", tmp_path / "back", skip_existing=True)
        assert len(again.skipped) == 60 and not again.ok and again
        again = p.upload_tree(src, f"{remote}/tree", skip_existing=True)
        assert len(again.skipped) == 60 and not again.ok
    for rel, content in expected.items():
        assert (on_server / "tree" / rel).read_bytes() == content
        assert (tmp_path / "back" / rel).read_bytes() == content
    assert (tmp_path / "back" / "empty").is_dir()


def test_borrow_one_session(server: Server, workdir: tuple[str, Path]) -> None:
    remote, _ = workdir
    with pool(server, max_sessions=2) as p:
        with p.session() as s:
            assert isinstance(s, ferroftp.Session)
            s.write_bytes(f"{remote}/x", b"hello")
            s.cwd(remote)
            assert s.pwd() == remote
        assert p.open_sessions == 1
        with p.session() as s1, p.session() as s2:
            assert s1.read_bytes(f"{remote}/x") == b"hello"
            assert s2.size(f"{remote}/x") == 5
        assert p.open_sessions == 2
    with pytest.raises(ferroftp.ClosedError), p.session():
        pass


def test_wait_timeout(server: Server) -> None:
    with (
        pool(server, max_sessions=1, wait_timeout=0.2) as p,
        p.session(),
        pytest.raises(ferroftp.TimeoutError),
        p.session(),
    ):
        pass


def test_threads_share_a_pool(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, _ = workdir
    files = make_files(tmp_path / "src", 100, 5)
    errors: list[BaseException] = []
    with pool(server, max_sessions=6) as p:

        def worker(n: int) -> None:
            try:
                dest = tmp_path / f"d{n}"
                dest.mkdir()
                up = p.upload_many([(tmp_path / "src" / f, f"{remote}/{n}-{f}") for f in files])
                assert not up.failed and len(up.ok) == 100
                down = p.download_many([(f"{remote}/{n}-{f}", dest / f) for f in files])
                assert not down.failed and len(down.ok) == 100
                for f, content in files.items():
                    assert (dest / f).read_bytes() == content
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert p.open_sessions <= 6
    assert not errors, errors


def test_progress_exception_stops_batch(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, _ = workdir
    files = make_files(tmp_path / "src", 200, 6)

    class Stop(Exception):
        pass

    def progress(p: ferroftp.BatchProgress) -> None:
        if p.files_done >= 10:
            raise Stop

    with pool(server, max_sessions=2) as p:
        with pytest.raises(Stop):
            p.upload_many(
                [(tmp_path / "src" / n, f"{remote}/{n}") for n in files], progress=progress
            )
        # The pool still works.
        result = p.upload_many([(tmp_path / "src" / "f0001.bin", f"{remote}/again")])
        assert not result.failed


def test_wrong_arguments(server: Server, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="max_sessions"):
        ferroftp.Pool(server.url, max_sessions="8")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_sessions"):
        ferroftp.Pool(server.url, max_sessions=0)
    with pytest.raises(ValueError, match="wait_timeout"):
        ferroftp.Pool(server.url, wait_timeout=-1)
    with pytest.raises(ferroftp.InvalidInputError):
        ferroftp.Pool("http://example.com/")
    with pool(server) as p:
        with pytest.raises(TypeError, match="pairs"):
            p.download_many(["/a"])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="pairs"):
            p.download_many([("/a", "b", "c")])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="iterable"):
            p.download_many(5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="local path"):
            p.download_many([("/a", 5)])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="remote path"):
            p.upload_many([(tmp_path, 5)])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="progress"):
            p.download_many([], progress=5)  # type: ignore[arg-type]
        empty = p.download_many([])
        assert empty and not empty.ok and empty.bytes == 0
    assert "ferroftp.Pool" in repr(p)


def test_async_pool(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, on_server = workdir
    files = make_files(tmp_path / "src", 300, 7)
    total = sum(map(len, files.values()))

    async def main() -> None:
        async with ferroftp.AsyncPool(server.url, max_sessions=8, **OPTIONS) as p:  # type: ignore[arg-type]
            up = Recorder()
            result = await p.upload_many(
                [(tmp_path / "src" / n, f"{remote}/{n}") for n in files], progress=up
            )
            assert not result.failed and len(result.ok) == 300
            up.check_final(300, total)
            assert up.threads == {threading.get_ident()}, "callbacks run on the loop's thread"
            down = Recorder()
            dest = tmp_path / "dst"
            dest.mkdir()
            # Two batches and borrowed sessions at once on one pool.
            first, second = await asyncio.gather(
                p.download_many(
                    [(f"{remote}/{n}", dest / n) for n in list(files)[:150]], progress=down
                ),
                p.download_tree(remote, tmp_path / "tree"),
            )
            assert not first.failed and len(first.ok) == 150
            assert not second.failed and len(second.ok) == 300
            async with p.session() as s:
                assert isinstance(s, ferroftp.AsyncSession)
                assert await s.size(f"{remote}/f0002.bin") == len(files["f0002.bin"])
            result = await p.upload_tree(tmp_path / "tree", f"{remote}/copy")
            assert not result.failed and len(result.ok) == 300
            for name, content in list(files.items())[:150]:
                assert (dest / name).read_bytes() == content
            for name, content in files.items():
                assert (tmp_path / "tree" / name).read_bytes() == content
                assert (on_server / "copy" / name).read_bytes() == content
        with pytest.raises(ferroftp.ClosedError):
            async with p.session():
                pass

    asyncio.run(main())


def test_async_pool_cancel(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, _ = workdir
    files = make_files(tmp_path / "src", 400, 8)

    async def main() -> None:
        async with ferroftp.AsyncPool(server.url, max_sessions=4, **OPTIONS) as p:  # type: ignore[arg-type]
            batch = asyncio.ensure_future(
                p.upload_many([(tmp_path / "src" / n, f"{remote}/{n}") for n in files])
            )
            await asyncio.sleep(0.05)
            batch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await batch
            # Every session still works after the cancelled batch.
            result = await p.upload_many([(tmp_path / "src" / n, f"{remote}/{n}") for n in files])
            assert not result.failed and len(result.ok) == 400

    asyncio.run(main())


@pytest.fixture(scope="module", params=(False, True), ids=("honest", "lying"))
def hash_server(request: pytest.FixtureRequest) -> Iterator[tuple[Server, bool]]:
    """pyftpdlib with HASH and the X commands; with ``lying``, every digest it gives is wrong."""
    args = ("--hash", "--hash-lie") if request.param else ("--hash",)
    s = start_server("pyftpdlib", *args)
    yield s, request.param
    s.stop()


def test_batches_with_checksums(hash_server: tuple[Server, bool], tmp_path: Path) -> None:
    server, lying = hash_server
    remote, on_server = server.dir("sums")
    files = make_files(tmp_path / "src", 20, 9)
    dest = tmp_path / "dst"
    dest.mkdir()
    with pool(server, max_sessions=4) as p:
        up = p.upload_many(
            [(tmp_path / "src" / n, f"{remote}/{n}") for n in files], checksum="sha256"
        )
        down = p.download_many([(f"{remote}/{n}", dest / n) for n in files], checksum="required")
        tree = p.download_tree(remote, tmp_path / "tree", checksum="if-available")
    if lying:
        for result in (up, down, tree):
            assert not result.ok and len(result.failed) == 20
            assert all(isinstance(e, ferroftp.IntegrityError) for e in result.failed.values())
        assert not any(dest.iterdir()), "no download that failed its checksum is left"
    else:
        assert up and down and tree and len(tree.ok) == 20
        for name, content in files.items():
            assert (on_server / name).read_bytes() == content
            assert (dest / name).read_bytes() == content
    with pytest.raises(ValueError, match="checksum"):
        ferroftp.Pool(server.url).download_many([], checksum="sha3")  # type: ignore[arg-type]


def test_cancelled_lends_never_keep_a_session(server: Server) -> None:
    """``async with pool.session()`` cancelled while the pool is lending — before the lend, in
    the middle of it, or after the pool lent but before the coroutine resumed — never keeps a
    session: afterwards the pool lends all ``max_sessions`` at once. The leases are kept alive
    (as a caller may keep one in a variable) and the garbage collector is off, so that nothing
    gives a session back by being collected."""
    size = 3

    async def main() -> None:
        pool = ferroftp.AsyncPool(server.url, max_sessions=size, wait_timeout=5.0, **OPTIONS)  # type: ignore[arg-type]
        rng = random.Random(14)
        kept: list[asyncio.Task[None]] = []
        leases: list[ferroftp.AsyncPooledSession] = []

        async def borrow() -> None:
            lease = pool.session()
            leases.append(lease)
            async with lease as s:
                if rng.random() < 0.3:
                    await s.noop()
                await asyncio.sleep(rng.random() * 0.002)

        async with pool:
            for _ in range(150):
                tasks = [asyncio.ensure_future(borrow()) for _ in range(2 * size)]
                for _ in range(rng.randrange(4)):
                    await asyncio.sleep(0)  # cancel at different steps of the lend
                if rng.random() < 0.5:
                    await asyncio.sleep(rng.random() * 0.003)
                for t in tasks:
                    if rng.random() < 0.6:
                        t.cancel()
                outcomes = await asyncio.gather(*tasks, return_exceptions=True)
                kept.extend(tasks)
                if any(isinstance(o, ferroftp.TimeoutError) for o in outcomes):
                    pytest.fail("cancelled lends kept the pool's sessions")
            assert any(t.cancelled() for t in kept)
            leases = [pool.session() for _ in range(size)]
            sessions = await asyncio.wait_for(
                asyncio.gather(*(lease.__aenter__() for lease in leases)), 20
            )
            await asyncio.gather(*(s.noop() for s in sessions))
            for lease in leases:
                await lease.__aexit__(None, None, None)

    gc.disable()
    try:
        asyncio.run(main())
    finally:
        gc.enable()


def test_a_lend_awaited_twice_or_thrown_into(server: Server) -> None:
    """The awaitable of ``__aenter__`` as a coroutine: an exception thrown into it abandons the
    lend (the session goes back), and ``close()`` does too."""

    async def main() -> None:
        one = ferroftp.AsyncPool(server.url, max_sessions=1, wait_timeout=10.0, **OPTIONS)  # type: ignore[arg-type]
        async with one as p:
            lend = p.session().__aenter__()
            it = lend.__await__()
            waiting = it.send(None)  # the future of the lend
            await asyncio.wait_for(asyncio.shield(waiting), 10)  # the pool lent
            with pytest.raises(KeyError):
                it.throw(KeyError("x"))
            lend2 = p.session().__aenter__()
            it2 = lend2.__await__()
            await asyncio.wait_for(asyncio.shield(it2.send(None)), 10)
            it2.close()
            async with p.session() as s:  # the one session is free again
                await s.noop()

    asyncio.run(main())


def test_pool_reads(server: Server, workdir: tuple[str, Path]) -> None:
    """``read_range``, ``read_bytes`` and ``read_many`` on sessions the pool lends for them:
    both faces, the same session pool (``AsyncPool.blocking``), one failure among many reads."""
    remote, local = workdir
    rel = local.relative_to(server.root)
    files = {f"r{i}.bin": data(20_000 + 97 * i, 300 + i) for i in range(30)}
    for name, content in files.items():
        server.put(f"{rel}/{name}", content)
    reads: list[tuple[str, int, int | None]] = [
        (f"{remote}/{n}", (7 * i) % 5000, None if i % 3 == 0 else 1000 + i)
        for i, n in enumerate(files)
    ]
    expected = [
        files[p.rsplit("/", 1)[1]] if n is None else files[p.rsplit("/", 1)[1]][o : o + n]
        for p, o, n in reads
    ]
    reads.insert(5, (f"{remote}/missing.bin", 0, None))
    with pool(server, max_sessions=4) as p:
        assert p.read_range(f"{remote}/r1.bin", 100, 50) == files["r1.bin"][100:150]
        assert p.read_bytes(f"{remote}/r2.bin") == files["r2.bin"]
        got = p.read_many(reads)
        assert isinstance(got[5], ferroftp.NotFoundError)
        assert got[:5] + got[6:] == expected
        assert p.open_sessions <= 4
        assert p.read_many([]) == []
        with pytest.raises(TypeError):
            p.read_many([("/x", 0)])  # type: ignore[list-item]

    async def main() -> None:
        async with ferroftp.AsyncPool(server.url, max_sessions=4, **OPTIONS) as ap:  # type: ignore[arg-type]
            assert await ap.read_range(f"{remote}/r3.bin", 5, 10) == files["r3.bin"][5:15]
            assert await ap.read_bytes(f"{remote}/r4.bin") == files["r4.bin"]
            got = await ap.read_many(reads)
            assert got[:5] + got[6:] == expected
            blocking = ap.blocking()
            assert isinstance(blocking, ferroftp.Pool)
            data_ = await asyncio.to_thread(blocking.read_range, f"{remote}/r5.bin", 0, 3)
            assert data_ == files["r5.bin"][:3]
            assert ap.open_sessions <= 4

    asyncio.run(main())
