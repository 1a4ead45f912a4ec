"""The Python clients of the benchmark harness: ftplib, aioftp and ferroftp's Python binding,
and the two fsspec filesystems for ftp:// (ferroftp.fsspec's and fsspec's own).

    python py_client.py LIB WORKLOAD --url URL [--key value ...]

LIB is ``ftplib``, ``aioftp``, ``ferroftp`` or ``fsspec``; the workloads and their options are
those of ``core/examples/bench_client.rs`` (download, upload, stream, files, list, read-many,
noop), the ones of the WAN profile (``upload-files``: every file of ``--local-dir`` into
``--remote-dir`` over ``--sessions`` sessions; ``tree-get``: the remote tree ``--remote`` into
``--local-dir``; ``tree-put``: the local tree ``--local`` to ``--remote``, which must not
exist), plus the fsspec ones, which run the same code on ``ferroftp.fsspec.FTPFileSystem``
(LIB ``ferroftp``) or ``fsspec.implementations.ftp.FTPFileSystem`` (LIB ``fsspec``):
``fs-cat`` (``fs.cat`` of the files in ``--names``), ``fs-get`` (``fs.get_file`` of
``--remote`` to ``--local``) and ``fs-ranges`` (``--count`` reads of ``--size`` bytes at
random offsets of ``--remote``, through one file opened with ``block_size=--size``; with
fsspec's default read-ahead cache each read is one ranged transfer of twice that size, in both:
fsspec's own FTP file ignores ``cache_type=``); ``--timeout`` (seconds, default 60) is
the filesystem's.
Runs the workload once and prints one line of JSON: ``{"elapsed_s": ..., "op_s": ...,
"bytes": ..., "files": ..., "ops": ...}``: ``elapsed_s`` is timed in the process from before
the connect to after the session is closed (the interpreter's start-up and imports are not in
it; the harness times the whole process as well), ``op_s`` covers the workload's operations
alone, without connect and close. Exit status 3: this library cannot do this workload.

Each library is used the way its documentation suggests, with the same 256 KiB transfer block
ferroftp uses: ftplib ``retrbinary``/``storbinary``/``retrlines``; aioftp ``download_stream``
(not ``download()``, which lists the parent directory of every file) and ``upload_stream``.
"""

from __future__ import annotations

import asyncio
import ftplib
import functools
import json
import os
import queue
import random
import ssl
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

BLOCK = 256 * 1024
T = TypeVar("T")


class Unsupported(Exception):
    """This library cannot do this workload (exit status 3)."""


class Options:
    """``--key value`` options plus the parsed URL."""

    def __init__(self, argv: list[str]) -> None:
        self.values: dict[str, str] = {}
        it = iter(argv)
        for key in it:
            if not key.startswith("--"):
                raise SystemExit(f"unexpected argument {key!r}")
            value = next(it, None)
            if value is None:
                raise SystemExit(f"{key} needs a value")
            self.values[key[2:]] = value
        self.url = self.get("url")
        parts = urlsplit(self.url)
        self.tls = parts.scheme == "ftpes"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 21
        self.user = unquote(parts.username or "anonymous")
        self.password = unquote(parts.password or "")
        self.ca_file = self.values.get("ca-file")

    def get(self, name: str) -> str:
        if name not in self.values:
            raise SystemExit(f"missing --{name}")
        return self.values[name]

    def number(self, name: str) -> int:
        return int(self.get(name))

    def names(self) -> list[str]:
        with open(self.get("names")) as f:
            return [line.strip() for line in f if line.strip()]

    def local_for(self, remote: str) -> str:
        return os.path.join(self.get("local-dir"), remote.rsplit("/", 1)[-1])


def result(nbytes: int = 0, files: int = 0, ops: int = 0) -> dict[str, Any]:
    return {"bytes": nbytes, "files": files, "ops": ops}


class Clock:
    """The span of the workload's operations alone (``op_s``): no connect, no close."""

    started = 0.0
    stopped = 0.0


def op_start() -> None:
    Clock.started = time.perf_counter()


def op_end() -> None:
    Clock.stopped = time.perf_counter()


# ---------------------------------------------------------------------------------------------
# ftplib


def ftplib_connect(o: Options) -> ftplib.FTP:
    if o.tls:
        # vsftpd requires TLS session reuse on data connections, which ftplib does not do.
        raise Unsupported("ftplib cannot resume the TLS session on data connections")
    ftp = ftplib.FTP()
    ftp.connect(o.host, o.port, timeout=60)
    ftp.login(o.user, o.password)
    return ftp


def ftplib_download(o: Options) -> dict[str, Any]:
    ftp = ftplib_connect(o)
    op_start()
    counter = [0]
    local = o.get("local")
    with open(local, "wb") as f:

        def write(block: bytes) -> None:
            counter[0] += len(block)
            f.write(block)

        ftp.retrbinary(f"RETR {o.get('remote')}", write, blocksize=BLOCK)
    op_end()
    ftp.quit()
    return result(counter[0], 1, 1)


def ftplib_upload(o: Options) -> dict[str, Any]:
    ftp = ftplib_connect(o)
    op_start()
    with open(o.get("local"), "rb") as f:
        ftp.storbinary(f"STOR {o.get('remote')}", f, blocksize=BLOCK)
        sent = f.tell()
    op_end()
    ftp.quit()
    return result(sent, 1, 1)


def ftplib_fetch_all(o: Options, ftp: ftplib.FTP, names: list[str]) -> int:
    total = 0
    for remote in names:
        with open(o.local_for(remote), "wb") as f:
            ftp.retrbinary(f"RETR {remote}", f.write, blocksize=BLOCK)
            total += f.tell()
    return total


def ftplib_files(o: Options) -> dict[str, Any]:
    names = o.names()
    sessions = o.number("sessions")
    if sessions <= 1:
        ftp = ftplib_connect(o)
        op_start()
        total = ftplib_fetch_all(o, ftp, names)
        op_end()
        ftp.quit()
        return result(total, len(names), len(names))
    # One connection per thread, the files taken from a shared queue.
    work = filled_queue(names)

    def worker() -> int:
        ftp = ftplib_connect(o)
        done = 0
        while (remote := next_item(work)) is not None:
            done += ftplib_fetch_all(o, ftp, [remote])
        ftp.quit()
        return done

    op_start()
    totals = run_threads(worker, sessions)
    op_end()
    return result(sum(totals), len(names), len(names))


def ftplib_batch(o: Options, items: list[T], one: Callable[[ftplib.FTP, T], int]) -> int:
    """``one(ftp, item)`` for every item over ``--sessions`` connections (threads taking the
    items from a shared queue); the connects are timed when there are several, as in
    ``ftplib_files``."""
    sessions = o.number("sessions")
    if sessions <= 1:
        ftp = ftplib_connect(o)
        op_start()
        total = sum(one(ftp, item) for item in items)
        op_end()
        ftp.quit()
        return total
    op_start()
    total = ftplib_workers(o, None, items, one)
    op_end()
    return total


def ftplib_workers(
    o: Options, first: ftplib.FTP | None, items: list[T], one: Callable[[ftplib.FTP, T], int]
) -> int:
    """``--sessions`` threads with a connection each (``first``, if given, is the first one's)
    taking the items from a shared queue; the bytes moved."""
    work = filled_queue(items)

    def worker(i: int) -> int:
        ftp = first if i == 0 and first is not None else ftplib_connect(o)
        done = 0
        while (item := next_item(work)) is not None:
            done += one(ftp, item)
        ftp.quit()
        return done

    with ThreadPoolExecutor(o.number("sessions")) as pool:
        return sum(pool.map(worker, range(o.number("sessions"))))


def ftplib_get(ftp: ftplib.FTP, pair: tuple[str, str]) -> int:
    remote, local = pair
    with open(local, "wb") as f:
        ftp.retrbinary(f"RETR {remote}", f.write, blocksize=BLOCK)
        return f.tell()


def ftplib_put(ftp: ftplib.FTP, pair: tuple[str, str]) -> int:
    local, remote = pair
    with open(local, "rb") as f:
        ftp.storbinary(f"STOR {remote}", f, blocksize=BLOCK)
        return f.tell()


def ftplib_upload_files(o: Options) -> dict[str, Any]:
    pairs = upload_pairs(o)
    total = ftplib_batch(o, pairs, ftplib_put)
    return result(total, len(pairs), len(pairs))


def ftplib_walk(ftp: ftplib.FTP, top: str) -> tuple[list[str], list[str]]:
    """The directories and files below ``top`` (remote paths), one ``LIST`` per directory."""
    dirs, files, todo = [], [], [top.rstrip("/")]
    while todo:
        here = todo.pop()
        lines: list[str] = []
        ftp.retrlines(f"LIST {here}", lines.append)
        for entry in map(parse_list_line, lines):
            if entry is None or entry[3] in (".", ".."):
                continue
            path = f"{here}/{entry[3]}"
            if entry[0].startswith("d"):
                dirs.append(path)
                todo.append(path)
            else:
                files.append(path)
    return dirs, files


def ftplib_tree_get(o: Options) -> dict[str, Any]:
    """The tree walked on one connection (a LIST per directory), then its files over
    ``--sessions`` connections (the first one included)."""
    top, local = o.get("remote").rstrip("/"), o.get("local-dir")
    ftp = ftplib_connect(o)
    op_start()
    dirs, files = ftplib_walk(ftp, top)
    os.makedirs(local, exist_ok=True)
    for d in dirs:
        os.makedirs(os.path.join(local, d[len(top) + 1 :]), exist_ok=True)
    pairs = [(f, os.path.join(local, f[len(top) + 1 :])) for f in files]
    total = ftplib_workers(o, ftp, pairs, ftplib_get)
    op_end()
    return result(total, len(pairs), len(pairs) + len(dirs))


def ftplib_tree_put(o: Options) -> dict[str, Any]:
    """The directories made on one connection (parents first), then the files over
    ``--sessions`` connections (the first one included)."""
    dirs, pairs = local_tree(o)
    ftp = ftplib_connect(o)
    op_start()
    for d in dirs:
        ftp.mkd(d)
    total = ftplib_workers(o, ftp, pairs, ftplib_put)
    op_end()
    return result(total, len(pairs), len(pairs) + len(dirs))


def parse_list_line(line: str) -> tuple[str, int, str, str] | None:
    """A minimal parse of a Unix ``ls -l`` line: (permissions, size, date text, name)."""
    parts = line.split(None, 8)
    if len(parts) < 9:
        return None
    return parts[0], int(parts[4]), " ".join(parts[5:8]), parts[8]


def ftplib_list(o: Options) -> dict[str, Any]:
    ftp = ftplib_connect(o)
    op_start()
    path, count = o.get("remote"), o.number("count")
    expect = int(o.values["expect"]) if "expect" in o.values else None
    seen = 0
    for _ in range(count):
        lines: list[str] = []
        ftp.retrlines(f"LIST {path}", lines.append)
        entries = [e for e in map(parse_list_line, lines) if e is not None]
        if expect is not None and len(entries) != expect:
            raise SystemExit(f"{path}: {len(entries)} entries, expected {expect}")
        seen += len(entries)
    op_end()
    ftp.quit()
    return result(0, seen, count)


def ftplib_noop(o: Options) -> dict[str, Any]:
    ftp = ftplib_connect(o)
    count = o.number("count")
    op_start()
    for _ in range(count):
        ftp.voidcmd("NOOP")
    op_end()
    ftp.quit()
    return result(0, 0, count)


# ---------------------------------------------------------------------------------------------
# aioftp


async def aioftp_client(o: Options) -> Any:
    import aioftp  # imported (untimed) by main() already

    client = aioftp.Client(socket_timeout=60)
    await client.connect(o.host, o.port)
    if o.tls:
        ctx = ssl.create_default_context(cafile=o.ca_file)
        await client.upgrade_to_tls(ctx)
    await client.login(o.user, o.password)
    return client


async def aioftp_get(client: Any, remote: str, local: str) -> int:
    total = 0
    # A plain file write: cheaper than aioftp's own path_io (a thread per call).
    with open(local, "wb") as f:  # noqa: ASYNC230
        async with client.download_stream(remote) as stream:
            async for block in stream.iter_by_block(BLOCK):
                total += len(block)
                f.write(block)
    return total


async def aioftp_download(o: Options) -> dict[str, Any]:
    client = await aioftp_client(o)
    op_start()
    total = await aioftp_get(client, o.get("remote"), o.get("local"))
    op_end()
    await client.quit()
    return result(total, 1, 1)


async def aioftp_upload(o: Options) -> dict[str, Any]:
    client = await aioftp_client(o)
    op_start()
    total = 0
    with open(o.get("local"), "rb") as f:  # noqa: ASYNC230 (as in aioftp_get)
        async with client.upload_stream(o.get("remote")) as stream:
            while block := f.read(BLOCK):
                await stream.write(block)
                total += len(block)
    op_end()
    await client.quit()
    return result(total, 1, 1)


async def aioftp_files(o: Options) -> dict[str, Any]:
    names = o.names()
    sessions = max(1, o.number("sessions"))
    work: asyncio.Queue[str] = asyncio.Queue()
    for n in names:
        work.put_nowait(n)

    async def worker() -> int:
        client = await aioftp_client(o)
        done = 0
        while not work.empty():
            remote = work.get_nowait()
            done += await aioftp_get(client, remote, o.local_for(remote))
        await client.quit()
        return done

    op_start()
    totals = await asyncio.gather(*(worker() for _ in range(sessions)))
    op_end()
    return result(sum(totals), len(names), len(names))


async def aioftp_list(o: Options) -> dict[str, Any]:
    client = await aioftp_client(o)
    op_start()
    path, count = o.get("remote"), o.number("count")
    expect = int(o.values["expect"]) if "expect" in o.values else None
    seen = 0
    for _ in range(count):
        entries = await client.list(path)
        if expect is not None and len(entries) != expect:
            raise SystemExit(f"{path}: {len(entries)} entries, expected {expect}")
        seen += len(entries)
    op_end()
    await client.quit()
    return result(0, seen, count)


async def aioftp_noop(o: Options) -> dict[str, Any]:
    client = await aioftp_client(o)
    count = o.number("count")
    op_start()
    for _ in range(count):
        await client.command("NOOP", "2xx")
    op_end()
    await client.quit()
    return result(0, 0, count)


async def aioftp_put(client: Any, local: str, remote: str) -> int:
    total = 0
    with open(local, "rb") as f:  # noqa: ASYNC230 (as in aioftp_get)
        async with client.upload_stream(remote) as stream:
            while block := f.read(BLOCK):
                await stream.write(block)
                total += len(block)
    return total


async def aioftp_workers(o: Options, first: Any, pairs: list[tuple[str, str]], upload: bool) -> int:
    """``--sessions`` clients in as many tasks (``first``, if given, is the first one's)
    taking ``pairs`` from a shared queue; the bytes moved."""
    work: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for pair in pairs:
        work.put_nowait(pair)

    async def worker(i: int) -> int:
        client = first if i == 0 and first is not None else await aioftp_client(o)
        done = 0
        while not work.empty():
            a, b = work.get_nowait()
            done += await (aioftp_put(client, a, b) if upload else aioftp_get(client, a, b))
        await client.quit()
        return done

    sessions = max(1, o.number("sessions"))
    return sum(await asyncio.gather(*(worker(i) for i in range(sessions))))


async def aioftp_upload_files(o: Options) -> dict[str, Any]:
    pairs = upload_pairs(o)
    if o.number("sessions") <= 1:
        client = await aioftp_client(o)
        op_start()
        total = await aioftp_workers(o, client, pairs, upload=True)
        op_end()
    else:
        op_start()
        total = await aioftp_workers(o, None, pairs, upload=True)
        op_end()
    return result(total, len(pairs), len(pairs))


async def aioftp_tree_get(o: Options) -> dict[str, Any]:
    """``Client.list(recursive=True)`` on one client (``LIST``: vsftpd has no MLSD, which
    aioftp would try first in every directory), then the files over ``--sessions`` clients (the
    first one included)."""
    top, local = o.get("remote").rstrip("/"), o.get("local-dir")
    client = await aioftp_client(o)
    op_start()
    entries = await client.list(top, recursive=True, raw_command="LIST")
    os.makedirs(local, exist_ok=True)
    pairs, dirs = [], 0
    for path, info in sorted(entries, key=lambda e: str(e[0])):
        target = os.path.join(local, str(path)[len(top) + 1 :])
        if info["type"] == "dir":
            os.makedirs(target, exist_ok=True)
            dirs += 1
        else:
            pairs.append((str(path), target))
    total = await aioftp_workers(o, client, pairs, upload=False)
    op_end()
    return result(total, len(pairs), len(pairs) + dirs)


async def aioftp_tree_put(o: Options) -> dict[str, Any]:
    """The directories made on one client (parents first), then the files over
    ``--sessions`` clients (the first one included)."""
    dirs, pairs = local_tree(o)
    client = await aioftp_client(o)
    op_start()
    for d in dirs:
        await client.make_directory(d, parents=False)
    total = await aioftp_workers(o, client, pairs, upload=True)
    op_end()
    return result(total, len(pairs), len(pairs) + len(dirs))


# ---------------------------------------------------------------------------------------------
# ferroftp (the Python binding)


def ferroftp_connect(o: Options) -> Any:
    import ferroftp  # imported (untimed) by main() already

    if o.ca_file:
        return ferroftp.connect(o.url, ca_file=o.ca_file, timeout=60.0)
    return ferroftp.connect(o.url, timeout=60.0)


def ferroftp_download(o: Options) -> dict[str, Any]:
    s = ferroftp_connect(o)
    op_start()
    n = s.download(o.get("remote"), o.get("local"))
    op_end()
    s.close()
    return result(n, 1, 1)


def ferroftp_upload(o: Options) -> dict[str, Any]:
    s = ferroftp_connect(o)
    op_start()
    n = s.upload(o.get("local"), o.get("remote"))
    op_end()
    s.close()
    return result(n, 1, 1)


def ferroftp_stream(o: Options) -> dict[str, Any]:
    s = ferroftp_connect(o)
    op_start()
    buf = bytearray(BLOCK)
    total = 0
    with s.open(o.get("remote"), "rb") as f:
        while n := f.readinto(buf):
            total += n
    op_end()
    s.close()
    return result(total, 1, 1)


def ferroftp_files(o: Options) -> dict[str, Any]:
    names = o.names()
    sessions = max(1, o.number("sessions"))
    import ferroftp

    # One session included: a batch lets a session send the next file's RETR ahead.
    pool = ferroftp.Pool(o.url, max_sessions=sessions, ca_file=o.ca_file, timeout=60.0)
    # The pool opens its sessions lazily: their connects are part of the timed operation.
    op_start()
    batch = pool.download_many([(r, o.local_for(r)) for r in names])
    op_end()
    pool.close()
    if batch.failed:
        path, error = next(iter(batch.failed.items()))
        raise SystemExit(f"{len(batch.failed)} files failed, first {path}: {error}")
    return result(batch.bytes, len(names), len(names))


def ferroftp_batch(o: Options, run: Callable[[Any], Any], count: int) -> dict[str, Any]:
    """``run(pool)`` on a ``Pool`` of ``--sessions`` (its connects timed, as in
    ``ferroftp_files``); a failed file fails the run."""
    import ferroftp

    sessions = max(1, o.number("sessions"))
    pool = ferroftp.Pool(o.url, max_sessions=sessions, ca_file=o.ca_file, timeout=60.0)
    op_start()
    batch = run(pool)
    op_end()
    pool.close()
    if batch.failed:
        path, error = next(iter(batch.failed.items()))
        raise SystemExit(f"{len(batch.failed)} files failed, first {path}: {error}")
    files = len(batch.ok)
    if count and files != count:
        raise SystemExit(f"{files} files transferred, expected {count}")
    return result(batch.bytes, files, files)


def ferroftp_upload_files(o: Options) -> dict[str, Any]:
    pairs = upload_pairs(o)
    return ferroftp_batch(o, lambda pool: pool.upload_many(pairs), len(pairs))


def ferroftp_tree_get(o: Options) -> dict[str, Any]:
    remote, local = o.get("remote"), o.get("local-dir")
    return ferroftp_batch(o, lambda pool: pool.download_tree(remote, local), 0)


def ferroftp_tree_put(o: Options) -> dict[str, Any]:
    local, remote = o.get("local"), o.get("remote")
    return ferroftp_batch(o, lambda pool: pool.upload_tree(local, remote), 0)


def ferroftp_list(o: Options) -> dict[str, Any]:
    s = ferroftp_connect(o)
    op_start()
    path, count = o.get("remote"), o.number("count")
    expect = int(o.values["expect"]) if "expect" in o.values else None
    seen = 0
    for _ in range(count):
        entries = s.list(path)
        if expect is not None and len(entries) != expect:
            raise SystemExit(f"{path}: {len(entries)} entries, expected {expect}")
        seen += len(entries)
    op_end()
    s.close()
    return result(0, seen, count)


def ferroftp_read_many(o: Options) -> dict[str, Any]:
    names = o.names()
    threads = max(1, o.number("threads"))
    s = ferroftp_connect(o)
    op_start()
    with ThreadPoolExecutor(threads) as pool:
        parts = [
            pool.submit(lambda t: sum(len(s.read_bytes(r)) for r in names[t::threads]), t)
            for t in range(threads)
        ]
        total = sum(p.result() for p in parts)
    op_end()
    s.close()
    return result(total, len(names), len(names))


def ferroftp_noop(o: Options) -> dict[str, Any]:
    s = ferroftp_connect(o)
    count = o.number("count")
    op_start()
    for _ in range(count):
        s.noop()
    op_end()
    s.close()
    return result(0, 0, count)


# ---------------------------------------------------------------------------------------------
# fsspec: the same calls on either filesystem


def fs_make(lib: str, o: Options) -> Any:
    """The filesystem: ferroftp.fsspec's (its pool connects on first use, inside the timed
    operations) or fsspec's own (it connects here)."""
    if lib == "ferroftp":
        from ferroftp.fsspec import FTPFileSystem
    else:
        from fsspec.implementations.ftp import FTPFileSystem
    timeout = float(o.values.get("timeout", 60))
    return FTPFileSystem(
        o.host, o.port, o.user, o.password, timeout=timeout, skip_instance_cache=True
    )


def fs_cat(lib: str, o: Options) -> dict[str, Any]:
    names = o.names()
    fs = fs_make(lib, o)
    op_start()
    got = fs.cat(names)
    op_end()
    if sorted(got) != sorted(names):
        raise SystemExit(f"cat returned {len(got)} of {len(names)} files")
    return result(sum(len(v) for v in got.values()), len(names), len(names))


def fs_get(lib: str, o: Options) -> dict[str, Any]:
    fs = fs_make(lib, o)
    local = o.get("local")
    op_start()
    fs.get_file(o.get("remote"), local)
    op_end()
    return result(os.path.getsize(local), 1, 1)


def fs_ranges(lib: str, o: Options) -> dict[str, Any]:
    fs = fs_make(lib, o)
    remote, count, size = o.get("remote"), o.number("count"), o.number("size")
    total = fs.size(remote)
    offsets = random.Random(14).sample(range(total - size), count)
    op_start()
    got = 0
    with fs.open(remote, "rb", block_size=size) as f:
        for offset in offsets:
            f.seek(offset)
            n = len(f.read(size))
            if n != size:
                raise SystemExit(f"read {n} bytes at {offset}, expected {size}")
            got += n
    op_end()
    return result(got, 1, count)


FSSPEC = {"fs-cat": fs_cat, "fs-get": fs_get, "fs-ranges": fs_ranges}


# ---------------------------------------------------------------------------------------------


def upload_pairs(o: Options) -> list[tuple[str, str]]:
    """(local, remote) of every file in ``--local-dir``, into ``--remote-dir``."""
    src, dst = o.get("local-dir"), o.get("remote-dir").rstrip("/")
    return [(os.path.join(src, n), f"{dst}/{n}") for n in sorted(os.listdir(src))]


def local_tree(o: Options) -> tuple[list[str], list[tuple[str, str]]]:
    """The remote directories to make for the local tree ``--local`` (``--remote`` first,
    parents before children) and the (local, remote) pairs of its files."""
    top, remote = o.get("local"), o.get("remote").rstrip("/")
    dirs, pairs = [remote], []
    for here, subdirs, files in os.walk(top):
        subdirs.sort()
        rel = os.path.relpath(here, top)
        base = remote if rel == "." else f"{remote}/{rel}"
        dirs += [f"{base}/{d}" for d in subdirs]
        pairs += [(os.path.join(here, f), f"{base}/{f}") for f in sorted(files)]
    return dirs, pairs


def run_threads(target: Callable[[], int], n: int) -> list[int]:
    """Runs ``target`` in ``n`` threads at once; its results (an exception is raised here)."""
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(target) for _ in range(n)]
        return [f.result() for f in futures]


def filled_queue(items: list[T]) -> queue.SimpleQueue[T]:
    q: queue.SimpleQueue[T] = queue.SimpleQueue()
    for item in items:
        q.put(item)
    return q


def next_item(q: queue.SimpleQueue[T]) -> T | None:
    try:
        return q.get_nowait()
    except queue.Empty:
        return None


WORKLOADS: dict[str, dict[str, Callable[[Options], Any]]] = {
    "ftplib": {
        "download": ftplib_download,
        "upload": ftplib_upload,
        "files": ftplib_files,
        "upload-files": ftplib_upload_files,
        "tree-get": ftplib_tree_get,
        "tree-put": ftplib_tree_put,
        "list": ftplib_list,
        "noop": ftplib_noop,
    },
    "aioftp": {
        "download": aioftp_download,
        "upload": aioftp_upload,
        "files": aioftp_files,
        "upload-files": aioftp_upload_files,
        "tree-get": aioftp_tree_get,
        "tree-put": aioftp_tree_put,
        "list": aioftp_list,
        "noop": aioftp_noop,
    },
    "ferroftp": {
        "download": ferroftp_download,
        "upload": ferroftp_upload,
        "stream": ferroftp_stream,
        "files": ferroftp_files,
        "upload-files": ferroftp_upload_files,
        "tree-get": ferroftp_tree_get,
        "tree-put": ferroftp_tree_put,
        "list": ferroftp_list,
        "read-many": ferroftp_read_many,
        "noop": ferroftp_noop,
    },
}


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    lib, workload = sys.argv[1], sys.argv[2]
    fn = WORKLOADS.get(lib, {}).get(workload)
    if workload in FSSPEC and lib in ("ferroftp", "fsspec"):
        fn = functools.partial(FSSPEC[workload], lib)
        # the imports are not part of the timed run
        __import__("ferroftp.fsspec" if lib == "ferroftp" else "fsspec.implementations.ftp")
    if fn is None:
        print(f"py_client: {lib} does not do {workload}", file=sys.stderr)
        return 3
    o = Options(sys.argv[3:])
    if lib != "ftplib":
        __import__(lib)  # the import is not part of the timed run
    started = time.perf_counter()
    try:
        out = asyncio.run(fn(o)) if asyncio.iscoroutinefunction(fn) else fn(o)
    except Unsupported as e:
        print(f"py_client: {lib} {workload}: {e}", file=sys.stderr)
        return 3
    elapsed = time.perf_counter() - started
    op_s = Clock.stopped - Clock.started
    print(json.dumps({"elapsed_s": elapsed, "op_s": op_s, **out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
