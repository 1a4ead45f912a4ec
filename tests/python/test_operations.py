"""Every method of the blocking ``Session``, against pyftpdlib and vsftpd."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import OPTIONS, Server, Servers, data, start_server

import ferroftp


def test_connect_and_context_manager(server: Server) -> None:
    with ferroftp.connect(server.url, **OPTIONS) as s:
        assert isinstance(s, ferroftp.Session)
        assert s.pwd() == "/"
        s.noop()
        assert repr(s).startswith("<ferroftp.Session ftp://")
        assert server.password not in repr(s)
    # The end of the `with` block closed it.
    with pytest.raises(ferroftp.ClosedError):
        s.noop()


def test_url_path_is_the_initial_directory(server: Server, workdir: tuple[str, Path]) -> None:
    remote, _ = workdir
    with ferroftp.connect(server.url + remote, **OPTIONS) as s:
        assert s.pwd() == remote


def test_list_and_names(
    server: Server, session: ferroftp.Session, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    server.put(f"{local.name}/a.bin", data(1234, 1))
    server.put(f"{local.name}/sub/b.bin", b"")
    entries = {e.name: e for e in session.list(remote)}
    assert set(entries) == {"a.bin", "sub"}
    a, sub = entries["a.bin"], entries["sub"]
    assert (a.kind, a.size, a.path) == ("file", 1234, f"{remote}/a.bin")
    assert a.is_file() and not a.is_dir()
    assert sub.kind == "dir" and sub.is_dir()
    assert isinstance(a.raw, str) and "a.bin" in a.raw
    assert a.modified is not None
    assert a.modified.tzinfo is not None
    assert a.modified.utcoffset() == datetime.timedelta(0)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs(now - a.modified) < datetime.timedelta(days=2)
    assert a.permissions is None or isinstance(a.permissions, str)
    assert a.target is None
    assert a == session.list(remote)[[e.name for e in session.list(remote)].index("a.bin")]
    assert "a.bin" in repr(a)
    assert sorted(session.names(remote)) == ["a.bin", "sub"]
    # The working directory by default.
    session.cwd(remote)
    assert sorted(e.name for e in session.list()) == ["a.bin", "sub"]
    assert sorted(session.names()) == ["a.bin", "sub"]


def test_names_that_are_not_utf8(servers: Servers) -> None:
    """A listed name that is not UTF-8 comes back as the server's bytes, and the entry's path
    reaches that very file. (vsftpd only: pyftpdlib itself replaces undecodable bytes with '?'
    in its listings, so no client can address such a name through it.)"""
    server = servers.get("vsftpd")
    remote, local = server.dir("t-names-not-utf8")
    raw = b"caf\xe9.txt"  # Latin-1, not UTF-8
    path = os.path.join(os.fsencode(local), raw)
    with open(path, "wb") as f:
        f.write(b"latin-1 name")
    os.chown(path, server.uid, server.gid)
    with ferroftp.connect(server.url, **OPTIONS) as session:
        (entry,) = session.list(remote)
        assert entry.name_bytes == raw
        assert entry.name != raw.decode("latin-1")  # carried as private-use characters
        assert session.size(entry.path) == 12
        assert session.read_bytes(entry.path) == b"latin-1 name"
        assert session.names(remote) == [entry.name]
        session.rename(entry.path, entry.path + ".old")
        assert os.listdir(os.fsencode(local)) == [raw + b".old"]


def test_bytes_round_trip(session: ferroftp.Session, workdir: tuple[str, Path]) -> None:
    remote, local = workdir
    payload = data(300_000, 2)
    assert session.write_bytes(f"{remote}/x.bin", payload) == len(payload)
    assert (local / "x.bin").read_bytes() == payload
    assert session.read_bytes(f"{remote}/x.bin") == payload
    # bytearray and memoryview are accepted too; empty files work.
    assert session.write_bytes(f"{remote}/y.bin", bytearray(b"abc")) == 3
    assert session.write_bytes(f"{remote}/z.bin", memoryview(b"xyz123")[2:]) == 4
    assert session.read_bytes(f"{remote}/z.bin") == b"z123"
    assert session.write_bytes(f"{remote}/empty", b"") == 0
    assert session.read_bytes(f"{remote}/empty") == b""


def test_size_modified_exists(
    server: Server, session: ferroftp.Session, workdir: tuple[str, Path]
) -> None:
    remote, local = workdir
    path = server.put(f"{local.name}/f.txt", b"0123456789")
    stamp = datetime.datetime(2021, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
    os.utime(path, (stamp.timestamp(), stamp.timestamp()))
    assert session.size(f"{remote}/f.txt") == 10
    modified = session.modified(f"{remote}/f.txt")
    assert modified == stamp
    assert modified.utcoffset() == datetime.timedelta(0)
    assert session.exists(f"{remote}/f.txt") is True
    assert session.exists(remote) is True
    assert session.exists(f"{remote}/nope") is False


def test_download_to_paths_and_file_objects(
    server: Server, session: ferroftp.Session, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    payload = data(1_500_000, 3)
    server.put(f"{local.name}/big.bin", payload)
    # A str path, an os.PathLike, a binary file object.
    assert session.download(f"{remote}/big.bin", str(tmp_path / "a.bin")) == len(payload)
    assert (tmp_path / "a.bin").read_bytes() == payload
    assert session.download(f"{remote}/big.bin", tmp_path / "b.bin") == len(payload)
    assert (tmp_path / "b.bin").read_bytes() == payload
    buf = io.BytesIO()
    assert session.download(f"{remote}/big.bin", buf) == len(payload)
    assert buf.getvalue() == payload
    with open(tmp_path / "c.bin", "wb") as f:
        assert session.download(f"{remote}/big.bin", f) == len(payload)
    assert (tmp_path / "c.bin").read_bytes() == payload
    # No temporary file is left beside the target.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.bin", "c.bin"]


def test_download_progress(
    server: Server, session: ferroftp.Session, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    payload = data(2_000_000, 4)
    server.put(f"{local.name}/p.bin", payload)
    for target in (tmp_path / "p.bin", io.BytesIO()):
        calls: list[tuple[int, int | None]] = []
        threads: set[int] = set()

        def progress(
            done: int,
            total: int | None,
            calls: list[tuple[int, int | None]] = calls,
            threads: set[int] = threads,
        ) -> None:
            threads.add(threading.get_ident())
            calls.append((done, total))

        assert session.download(f"{remote}/p.bin", target, progress=progress) == len(payload)
        assert calls, "progress was never called"
        assert calls[-1][0] == len(payload)
        assert all(total in (None, len(payload)) for _, total in calls)
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)
        # Called on the caller's thread.
        assert threads == {threading.get_ident()}


def test_upload_paths_file_objects_progress(
    session: ferroftp.Session, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    payload = data(1_200_000, 5)
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    calls: list[tuple[int, int | None]] = []
    n = session.upload(src, f"{remote}/u1.bin", progress=lambda d, t: calls.append((d, t)))
    assert n == len(payload)
    assert (local / "u1.bin").read_bytes() == payload
    assert calls[-1] == (len(payload), len(payload))
    assert session.upload(str(src), f"{remote}/u2.bin") == len(payload)
    assert (local / "u2.bin").read_bytes() == payload
    calls.clear()
    n = session.upload(
        io.BytesIO(payload), f"{remote}/u3.bin", progress=lambda d, t: calls.append((d, t))
    )
    assert n == len(payload)
    assert (local / "u3.bin").read_bytes() == payload
    assert calls[-1] == (len(payload), None)
    with open(src, "rb") as f:
        assert session.upload(f, f"{remote}/u4.bin") == len(payload)
    assert (local / "u4.bin").read_bytes() == payload
    assert session.upload(io.BytesIO(b""), f"{remote}/u5.bin") == 0
    assert session.read_bytes(f"{remote}/u5.bin") == b""


class Cut(Exception):
    """Raised by a progress callback to interrupt a transfer."""


def cut_after(limit: int) -> Callable[[int, int | None], None]:
    def progress(done: int, total: int | None) -> None:
        if done >= limit:
            raise Cut

    return progress


def test_download_resume(
    server: Server, session: ferroftp.Session, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    payload = data(20_000_000, 21)
    server.put(f"{local.name}/big.bin", payload)
    target = tmp_path / "big.bin"
    part = tmp_path / ".big.bin.ferroftp-part"
    # An earlier attempt left 1 MB (zeros here, to tell): resume continues after it (REST).
    part.write_bytes(bytes(1_000_000))
    assert session.download(f"{remote}/big.bin", target, resume=True) > 0
    assert target.read_bytes() == bytes(1_000_000) + payload[1_000_000:]
    assert not part.exists()
    target.unlink()
    # Stopped by the callback (the transfer may also have finished first: progress calls are
    # coalesced), then resumed until complete.
    for limit in (3_000_000, 9_000_000):
        with pytest.raises(Cut):
            session.download(f"{remote}/big.bin", target, resume=True, progress=cut_after(limit))
        if target.exists():  # finished before the stop took effect: complete, no part file
            assert target.read_bytes() == payload
            assert not part.exists()
            target.unlink()
        else:  # the part file is kept for the next attempt
            assert part.stat().st_size <= len(payload)
    session.download(f"{remote}/big.bin", target, resume=True)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(payload).digest()
    assert not part.exists()
    # Without resume, an interrupted download leaves no part file behind.
    target.unlink()
    with pytest.raises(Cut):
        session.download(f"{remote}/big.bin", target, progress=cut_after(1_000_000))
    assert [p.name for p in tmp_path.iterdir()] in ([], ["big.bin"])
    assert not target.exists() or target.read_bytes() == payload


def test_upload_resume_and_atomic(
    server: Server, session: ferroftp.Session, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    payload = data(12_000_000, 22)
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    # The server holds 1 MB of an earlier attempt (zeros, to tell): resume sends the rest.
    server.put(f"{local.name}/z.bin", bytes(1_000_000))
    session.upload(src, f"{remote}/z.bin", resume=True)
    assert (local / "z.bin").read_bytes() == bytes(1_000_000) + payload[1_000_000:]
    # Stopped by the callback (or finished first), then resumed.
    with pytest.raises(Cut):
        session.upload(src, f"{remote}/r.bin", progress=cut_after(2_000_000))
    assert (local / "r.bin").stat().st_size <= len(payload)
    session.upload(src, f"{remote}/r.bin", resume=True)
    assert (local / "r.bin").read_bytes() == payload
    # atomic: the target appears only complete.
    assert session.upload(src, f"{remote}/a.bin", atomic=True) == len(payload)
    assert (local / "a.bin").read_bytes() == payload
    with pytest.raises(Cut):
        session.upload(src, f"{remote}/b.bin", atomic=True, progress=cut_after(2_000_000))
    # Never a partial file under the target's name.
    assert "b.bin" not in session.names(remote) or (local / "b.bin").read_bytes() == payload


def test_resume_and_atomic_need_a_local_path(
    session: ferroftp.Session, workdir: tuple[str, Path]
) -> None:
    remote, _ = workdir
    with pytest.raises(NotImplementedError, match="resume"):
        session.download(f"{remote}/x", io.BytesIO(), resume=True)
    with pytest.raises(NotImplementedError, match="resume"):
        session.upload(io.BytesIO(b"x"), f"{remote}/x", resume=True)
    with pytest.raises(NotImplementedError, match="atomic"):
        session.upload(io.BytesIO(b"x"), f"{remote}/x", atomic=True)
    # ...and the False defaults work.
    assert session.upload(io.BytesIO(b"x"), f"{remote}/x", resume=False, atomic=False) == 1


def test_directories(session: ferroftp.Session, workdir: tuple[str, Path]) -> None:
    remote, local = workdir
    session.mkdir(f"{remote}/d")
    assert (local / "d").is_dir()
    with pytest.raises(ferroftp.PermanentError):
        session.mkdir(f"{remote}/d")
    session.mkdir(f"{remote}/d", parents=True)  # existing: not an error
    session.mkdir(f"{remote}/p/q/r", parents=True)
    assert (local / "p" / "q" / "r").is_dir()
    session.write_bytes(f"{remote}/p/q/r/f", b"1")
    session.write_bytes(f"{remote}/p/f", b"2")
    with pytest.raises(ferroftp.PermanentError):
        session.rmdir(f"{remote}/p")  # not empty
    session.rmdir(f"{remote}/p", recursive=True)
    assert not (local / "p").exists()
    session.rmdir(f"{remote}/d")
    assert not (local / "d").exists()


def test_remove_rename_cwd_pwd(session: ferroftp.Session, workdir: tuple[str, Path]) -> None:
    remote, local = workdir
    session.write_bytes(f"{remote}/a", b"a")
    session.rename(f"{remote}/a", f"{remote}/b")
    assert not (local / "a").exists()
    assert (local / "b").read_bytes() == b"a"
    session.remove(f"{remote}/b")
    assert not (local / "b").exists()
    with pytest.raises(ferroftp.NotFoundError):
        session.remove(f"{remote}/b")
    session.cwd(remote)
    assert session.pwd() == remote
    session.write_bytes("rel.txt", b"relative")
    assert (local / "rel.txt").read_bytes() == b"relative"
    assert session.size("rel.txt") == 8
    session.cwd("/")
    assert session.pwd() == "/"


def test_quote(session: ferroftp.Session) -> None:
    code, text = session.quote("NOOP")
    assert code == 200
    assert text.startswith("200")
    code, text = session.quote("XYZZY")  # any reply is returned, not raised
    assert 500 <= code <= 502
    assert isinstance(text, str)
    session.noop()


def test_open_read(server: Server, session: ferroftp.Session, workdir: tuple[str, Path]) -> None:
    remote, local = workdir
    payload = data(700_000, 6)
    server.put(f"{local.name}/r.bin", payload)
    with session.open(f"{remote}/r.bin", "rb") as f:
        assert isinstance(f, ferroftp.RemoteFile)
        assert (f.name, f.mode, f.closed) == (f"{remote}/r.bin", "rb", False)
        # A reader seeks (by ranged reads: see test_habits.py); a writer does not.
        assert f.readable() and not f.writable() and f.seekable()
        head = f.read(1000)
        buf = bytearray(500)
        assert f.readinto(buf) == 500
        rest = f.read()
        assert f.read() == b""
        assert f.read(10) == b""
    assert f.closed
    assert head + bytes(buf) + rest == payload
    # Reading after close is the usual ValueError.
    with pytest.raises(ValueError, match="closed"):
        f.read(1)
    # The session works after the file released it; a file closed early is abandoned cleanly.
    with session.open(f"{remote}/r.bin") as f2:
        assert f2.read(10) == payload[:10]
    assert session.read_bytes(f"{remote}/r.bin") == payload
    with session.open(f"{remote}/r.bin") as f3:
        assert f3.readall() == payload


def test_open_write(session: ferroftp.Session, workdir: tuple[str, Path]) -> None:
    remote, local = workdir
    payload = data(600_000, 7)
    with session.open(f"{remote}/w.bin", "wb") as f:
        assert (f.mode, f.writable(), f.readable()) == ("wb", True, False)
        for i in range(0, len(payload), 100_000):
            assert f.write(payload[i : i + 100_000]) == min(100_000, len(payload) - i)
        f.flush()
        with pytest.raises(OSError):  # io.UnsupportedOperation
            f.read(1)
    assert (local / "w.bin").read_bytes() == payload
    assert session.size(f"{remote}/w.bin") == len(payload)

    # An exception inside the block abandons the upload; the session stays usable.
    def abandon() -> None:
        with session.open(f"{remote}/w2.bin", "wb") as f:
            f.write(b"partial")
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        abandon()
    assert session.read_bytes(f"{remote}/w.bin") == payload


def test_open_holds_the_session(
    server: Server, session: ferroftp.Session, workdir: tuple[str, Path]
) -> None:
    """While a file is open, other calls on the session (from other threads) wait for it."""
    remote, local = workdir
    server.put(f"{local.name}/h.bin", data(10_000, 8))
    order: list[str] = []
    with session.open(f"{remote}/h.bin") as f:
        t = threading.Thread(target=lambda: order.append(f"size={session.size(f'{remote}/h.bin')}"))
        t.start()
        for _ in range(20_000):  # Python keeps running: the waiting thread released the GIL
            pass
        t.join(0.2)
        assert t.is_alive()
        order.append("read")
        assert len(f.read()) == 10_000
    t.join()
    assert order == ["read", "size=10000"]


def test_walk(session: ferroftp.Session, workdir: tuple[str, Path]) -> None:
    remote, _ = workdir
    for p in ("a/b/c", "a/d", "e"):
        session.mkdir(f"{remote}/{p}", parents=True)
    session.write_bytes(f"{remote}/top.txt", b"1")
    session.write_bytes(f"{remote}/a/b/c/deep.txt", b"2")
    session.write_bytes(f"{remote}/a/d/x.txt", b"3")
    seen = {d: (sorted(dn), sorted(fn)) for d, dn, fn in session.walk(remote)}
    assert seen == {
        remote: (["a", "e"], ["top.txt"]),
        f"{remote}/a": (["b", "d"], []),
        f"{remote}/a/b": (["c"], []),
        f"{remote}/a/b/c": ([], ["deep.txt"]),
        f"{remote}/a/d": ([], ["x.txt"]),
        f"{remote}/e": ([], []),
    }
    # Top-down: pruning dirnames in place skips those subtrees, as with os.walk.
    visited = []
    for dirpath, dirnames, _ in session.walk(remote):
        visited.append(dirpath)
        if "a" in dirnames:
            dirnames.remove("a")
    assert sorted(visited) == [remote, f"{remote}/e"]


@pytest.mark.parametrize("mode", ["epsv", "pasv", "active"])
def test_data_modes(server: Server, workdir: tuple[str, Path], mode: str, tmp_path: Path) -> None:
    remote, _ = workdir
    payload = data(200_000, 9)
    with ferroftp.connect(server.url, data_mode=mode, **OPTIONS) as s:
        s.write_bytes(f"{remote}/m.bin", payload)
        assert s.read_bytes(f"{remote}/m.bin") == payload
        assert [e.name for e in s.list(remote)] == ["m.bin"]
        assert s.download(f"{remote}/m.bin", tmp_path / "m.bin") == len(payload)
        assert hashlib.sha256((tmp_path / "m.bin").read_bytes()).digest() == (
            hashlib.sha256(payload).digest()
        )


def test_close_is_final(server: Server) -> None:
    s = ferroftp.connect(server.url, **OPTIONS)
    s.close()
    s.close()  # twice is fine
    with pytest.raises(ferroftp.ClosedError) as info:
        s.pwd()
    assert info.value.code is None
    assert info.value.kind == "closed"


def test_connect_by_host_and_credentials(server: Server) -> None:
    """``host=``/``port=``/``user=``/``password=`` instead of a URL (no percent-encoding), and
    credentials completing a URL that has none."""
    parts = urlsplit(server.url)
    with ferroftp.connect(
        host=parts.hostname, port=parts.port, user=server.user, password=server.password, **OPTIONS
    ) as s:
        assert s.pwd() == "/"
    with ferroftp.connect(
        f"ftp://{parts.hostname}:{parts.port}",
        user=server.user,
        password=server.password,
        **OPTIONS,
    ) as s:
        assert s.pwd() == "/"
    with pytest.raises(ferroftp.AuthenticationError):
        ferroftp.connect(host=parts.hostname, port=parts.port, user=server.user,
                         password="a@b/c:d#e", retries=0, **OPTIONS)  # fmt: skip
    with pytest.raises(TypeError, match="URL or host"):
        ferroftp.connect(server.url, host="127.0.0.1")
    with pytest.raises(TypeError, match="needs a URL"):
        ferroftp.connect(port=21)
    with pytest.raises(TypeError, match="port must be an int"):
        ferroftp.connect(host="127.0.0.1", port="21")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port must be"):
        ferroftp.connect(host="127.0.0.1", port=70000)


def test_password_with_url_characters() -> None:
    """A password with ``@ / : #`` works as ``password=``, with no percent-encoding."""
    srv = start_server("pyftpdlib", "--password", "p@ss/w:rd#1")
    try:
        with ferroftp.connect(
            host=srv.host, port=srv.port, user=srv.user, password="p@ss/w:rd#1", **OPTIONS
        ) as s:
            s.write_bytes("/x", b"ok")
            assert s.read_bytes("/x") == b"ok"
    finally:
        srv.stop()


def test_range_stat_time_and_mode(server: Server, workdir: tuple[str, Path]) -> None:
    remote, local = workdir
    body = data(200_000, 5)
    (local / "f.bin").write_bytes(body)
    server.own(local / "f.bin")
    with ferroftp.connect(server.url, **OPTIONS) as s:
        assert s.read_range(f"{remote}/f.bin", 1000, 5000) == body[1000:6000]
        assert s.read_range(f"{remote}/f.bin", 199_990, 100) == body[199_990:]
        assert s.read_range(f"{remote}/f.bin", 0, 0) == b""
        entry = s.stat(f"{remote}/f.bin")
        assert (entry.name, entry.kind, entry.size) == ("f.bin", "file", 200_000)
        assert s.stat(remote).kind == "dir"
        with pytest.raises(ferroftp.NotFoundError):
            s.stat(f"{remote}/nope")
        when = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        s.set_modified(f"{remote}/f.bin", when)
        assert s.modified(f"{remote}/f.bin") == when
        s.chmod(f"{remote}/f.bin", 0o640)
        assert (local / "f.bin").stat().st_mode & 0o777 == 0o640
        assert s.read_bytes(f"{remote}/f.bin") == body

    async def main() -> bytes:
        async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
            assert (await s.stat(f"{remote}/f.bin")).size == 200_000
            return await s.read_range(f"{remote}/f.bin", 10, 10)

    assert asyncio.run(main()) == body[10:20]
