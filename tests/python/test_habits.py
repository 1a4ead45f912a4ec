"""The everyday API that ftplib and aioftp users reach for: refusals read as the server's reply,
``command()``, ``glob()``, ``walk()`` with entries, file objects read by line and seeking, ``async
with s.open(...)``, and a library that stays quiet unless asked."""

from __future__ import annotations

import ftplib
import io
import logging
import os
import subprocess
from pathlib import Path

import pytest
from conftest import OPTIONS, ROOT, Server, data, server_python, start_server

import ferroftp

# ----- errors ----------------------------------------------------------------------------------


def test_a_missing_file_reads_550(session: ferroftp.Session, workdir: tuple[str, Path]) -> None:
    remote, _ = workdir
    for call in (
        lambda: session.size(f"{remote}/missing.txt"),
        lambda: session.read_bytes(f"{remote}/missing.txt"),
        lambda: session.remove(f"{remote}/missing.txt"),
    ):
        with pytest.raises(ftplib.error_perm) as info:  # as ftplib code catches it
            call()
        e = info.value
        assert str(e)[:3] == "550", str(e)
        assert e.args[0].startswith("550")
        assert isinstance(e, ferroftp.Error)
        assert e.code == 550 and e.path == f"{remote}/missing.txt"
        assert e.command is not None and e.command.endswith(f" {remote}/missing.txt")
        assert e.detail.startswith(f"{e.command}: the server replied 550")


@pytest.mark.asyncio
async def test_a_missing_file_reads_550_async(server: Server, workdir: tuple[str, Path]) -> None:
    remote, _ = workdir
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        with pytest.raises(ferroftp.NotFoundError) as info:
            await s.size(f"{remote}/missing.txt")
    assert str(info.value)[:3] == "550"
    assert (info.value.command, info.value.path) == (
        f"SIZE {remote}/missing.txt",
        f"{remote}/missing.txt",
    )


# ----- command() -------------------------------------------------------------------------------


def test_command_returns_the_reply_and_raises_refusals(
    session: ferroftp.Session, workdir: tuple[str, Path], server: Server
) -> None:
    remote, local = workdir
    (local / "f.txt").write_bytes(b"12345")
    server.own(local / "f.txt")
    assert session.command("NOOP")[:3] == "200"
    assert session.command(f"SIZE {remote}/f.txt") == "213 5"
    # quote() still returns (code, text) whatever the code.
    code, text = session.quote("SITE CHMOD 600 /no/such/file")
    assert code >= 500 and text.startswith(str(code))
    with pytest.raises(ftplib.error_perm) as info:
        session.command("SITE CHMOD 600 /no/such/file")
    e = info.value
    assert isinstance(e, ferroftp.PermanentError)
    assert str(e) == text.replace("\r\n", "\n")
    assert (e.command, e.path) == ("SITE CHMOD 600 /no/such/file", "/no/such/file")
    with pytest.raises(ferroftp.PermanentError) as unknown:
        session.command("NO-SUCH-COMMAND")
    assert str(unknown.value)[:1] == "5" and unknown.value.path is None
    # A multi-line reply comes back with its lines joined by "\n", as ftplib's sendcmd has it.
    feat = session.command("FEAT")
    assert feat.startswith("211") and "\r" not in feat and "\n" in feat
    assert session.pwd() == "/"  # the session is in step


@pytest.mark.asyncio
async def test_command_async(server: Server) -> None:
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        assert (await s.command("NOOP"))[:3] == "200"
        with pytest.raises(ferroftp.PermanentError) as info:
            await s.command("SIZE /no/such/file")
        assert str(info.value)[:3] == "550"
        assert await s.pwd() == "/"


# ----- glob() and walk() -----------------------------------------------------------------------


def make_tree(server: Server, local: Path) -> None:
    for rel, size in [
        ("a.txt", 1),
        ("b.log", 2),
        ("b.txt.bak", 3),
        ("sub/c.txt", 4),
        ("sub/d.bin", 5),
        ("sub/deeper/e.txt", 6),
        ("other/f.txt", 7),
    ]:
        server.put(f"{local.name}/{rel}", b"x" * size)
    for d in ("sub", "sub/deeper", "other"):
        server.own(local / d)


def test_glob(session: ferroftp.Session, server: Server, workdir: tuple[str, Path]) -> None:
    remote, local = workdir
    make_tree(server, local)
    assert session.glob(f"{remote}/*.txt") == [f"{remote}/a.txt"]
    assert session.glob(f"{remote}/*.bak") == [f"{remote}/b.txt.bak"]
    assert session.glob(f"{remote}/[ab].*") == [
        f"{remote}/a.txt",
        f"{remote}/b.log",
        f"{remote}/b.txt.bak",
    ]
    assert session.glob(f"{remote}/*/*.txt") == [f"{remote}/other/f.txt", f"{remote}/sub/c.txt"]
    assert session.glob(f"{remote}/**/*.txt") == [
        f"{remote}/a.txt",
        f"{remote}/other/f.txt",
        f"{remote}/sub/c.txt",
        f"{remote}/sub/deeper/e.txt",
    ]
    assert session.glob(f"{remote}/sub/d.bin") == [f"{remote}/sub/d.bin"]
    assert session.glob(f"{remote}/nothing*") == []
    assert session.glob(f"{remote}/nowhere/*") == []
    session.cwd(remote)
    assert session.glob("sub/?.txt") == ["sub/c.txt"]


@pytest.mark.asyncio
async def test_glob_async(server: Server, workdir: tuple[str, Path]) -> None:
    remote, local = workdir
    make_tree(server, local)
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        assert await s.glob(f"{remote}/**/*.bin") == [f"{remote}/sub/d.bin"]


def test_walk_detail_and_default_top(
    session: ferroftp.Session, server: Server, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    make_tree(server, local)
    plain = list(session.walk(remote))
    assert [d for d, _, _ in plain] == [
        remote,
        f"{remote}/other",
        f"{remote}/sub",
        f"{remote}/sub/deeper",
    ]
    detailed = list(session.walk(remote, detail=True))
    assert [d for d, _, _ in detailed] == [d for d, _, _ in plain]
    for (_, dirnames, filenames), (_, dirs, files) in zip(plain, detailed):
        assert sorted(dirnames) == sorted(dirs) and sorted(filenames) == sorted(files)
        assert all(isinstance(e, ferroftp.Entry) and e.kind == "dir" for e in dirs.values())
    top_files = detailed[0][2]
    assert {n: e.size for n, e in top_files.items()} == {"a.txt": 1, "b.log": 2, "b.txt.bak": 3}
    assert all(e.modified is not None for e in top_files.values())
    # Deleting a key prunes that directory, as with os.walk's lists.
    seen = []
    for dirpath, dirs, _ in session.walk(remote, detail=True):
        seen.append(dirpath)
        dirs.pop("sub", None)
    assert seen == [remote, f"{remote}/other"]
    # The default top is the root.
    assert next(iter(session.walk()))[0] == "/"
    assert remote.lstrip("/") in next(iter(session.walk()))[1]


@pytest.mark.asyncio
async def test_walk_async_detail(server: Server, workdir: tuple[str, Path]) -> None:
    remote, local = workdir
    make_tree(server, local)
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        sizes = {}
        async for dirpath, _, files in s.walk(remote, detail=True):
            sizes.update({f"{dirpath}/{n}": e.size for n, e in files.items()})
        assert sizes[f"{remote}/sub/deeper/e.txt"] == 6 and len(sizes) == 7
        first = await s.walk().__anext__()
        assert first[0] == "/"


# ----- file objects ----------------------------------------------------------------------------

TEXT = b"".join(b"line %d %s\n" % (i, b"x" * (i % 97)) for i in range(5000)) + b"no newline"


def test_remote_file_lines_readinto_tell_seek(
    session: ferroftp.Session, server: Server, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    server.put(f"{local.name}/t.txt", TEXT)
    path = f"{remote}/t.txt"
    with session.open(path) as f:
        assert f.seekable() and f.tell() == 0
        assert f.announced_size in (None, len(TEXT))
        assert list(f) == io.BytesIO(TEXT).readlines()
        assert f.tell() == len(TEXT)
        assert f.readline() == b""
    with session.open(path) as f:
        assert f.readline() == b"line 0 \n"
        assert f.readline(4) == b"line"
        assert f.tell() == len(b"line 0 \n") + 4
        buf = bytearray(10)
        assert f.readinto(buf) == 10 and bytes(buf) == TEXT[12:22]
        assert f.readlines(1) == [TEXT[22:].split(b"\n", 1)[0] + b"\n"]
        # A seek within what was read ahead keeps the transfer going.
        here = f.tell()
        assert f.seek(here + 5) == here + 5
        assert f.read(5) == TEXT[here + 5 : here + 10]
        # Anywhere else: ranged reads from there on; the session is free between them.
        assert f.seek(100_000) == 100_000
        assert session.size(path) == len(TEXT)  # would wait forever while a transfer held it
        assert f.read(20) == TEXT[100_000:100_020]
        assert f.readline() == TEXT[100_020:].split(b"\n", 1)[0] + b"\n"
        assert f.seek(-10, os.SEEK_END) == len(TEXT) - 10
        assert f.read() == b"no newline"
        assert f.read() == b""
        assert f.seek(3) == 3 and f.seek(2, os.SEEK_CUR) == 5
        assert f.read(5) == TEXT[5:10]
        buf = bytearray(4)
        assert f.readinto(buf) == 4 and bytes(buf) == TEXT[10:14]
        assert f.seek(len(TEXT) + 10) == len(TEXT) + 10
        assert f.read(10) == b""
        with pytest.raises(ValueError, match="negative"):
            f.seek(-1)
    assert f.closed
    with session.open(f"{remote}/w.bin", "wb") as w:
        assert not w.seekable()
        w.write(b"abc")
        w.write(b"defg")
        assert w.tell() == 7
        with pytest.raises(io.UnsupportedOperation):
            w.seek(0)
    assert session.read_bytes(f"{remote}/w.bin") == b"abcdefg"
    assert session.pwd() == "/"


@pytest.mark.asyncio
async def test_async_remote_file_lines_and_readinto(
    server: Server, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    server.put(f"{local.name}/t.txt", TEXT)
    path = f"{remote}/t.txt"
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        # `async with s.open(...)` needs no separate await ...
        async with s.open(path) as f:
            assert isinstance(f, ferroftp.AsyncRemoteFile)
            lines = [line async for line in f]
        assert lines == io.BytesIO(TEXT).readlines()
        assert f.closed
        # ... and `await s.open(...)` still works.
        f = await s.open(path)
        async with f:
            assert await f.readline() == b"line 0 \n"
            buf = bytearray(6)
            assert await f.readinto(buf) == 6 and bytes(buf) == TEXT[8:14]
            assert f.tell() == 14
            assert await f.seek(-10, os.SEEK_END) == len(TEXT) - 10
            assert await f.read() == b"no newline"
        async with s.open(f"{remote}/up.bin", "wb") as w:
            await w.write(b"written through async with")
        assert await s.read_bytes(f"{remote}/up.bin") == b"written through async with"


# ----- logging ---------------------------------------------------------------------------------


def test_loggers_carry_a_null_handler() -> None:
    for name in ("ferroftp", "suppaftp"):
        assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger(name).handlers)


def test_a_script_without_logging_stays_quiet_when_a_transfer_is_retried(tmp_path: Path) -> None:
    """A script that configures no logging: its connection stalls mid-download, the library
    drops the transfer and retries it on a new connection, and the download succeeds. Nothing
    reaches its stderr. With logging configured (DEBUG), the same run shows that it happened,
    at DEBUG: suppaftp's "transfer stream dropped" and the core's retry."""
    srv = start_server("vsftpd")  # of its own: the child stalls its one session
    try:
        remote, _ = srv.dir("quiet")
        size = 32_000_000
        srv.put("quiet/big.bin", data(size, 5))
        env = dict(os.environ, PYTHONPATH=str(ROOT / "tests" / "python"))
        child = [server_python(), str(ROOT / "tests" / "python" / "quiet_child.py")]
        args = [srv.url, f"{remote}/big.bin", str(size), str(srv.pid)]
        quiet = subprocess.run(
            [*child, *args], capture_output=True, text=True, env=env, timeout=120
        )
        assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "ok\n", "")
        loud = subprocess.run(
            [*child, *args, "debug"], capture_output=True, text=True, env=env, timeout=120
        )
        assert (loud.returncode, loud.stdout) == (0, "ok\n"), loud.stderr
        lines = loud.stderr.splitlines()
        assert any(
            line.startswith("DEBUG:suppaftp.") and "dropped without finish()" in line
            for line in lines
        ), loud.stderr
        assert any(line.startswith("DEBUG:ferroftp.session:retrying") for line in lines)
        assert not [line for line in lines if line.startswith(("WARNING", "ERROR"))]
    finally:
        srv.stop()
