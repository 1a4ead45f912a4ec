"""``ferroftp.fsspec.FTPFileSystem``: registration for ``ftp://``/``ftps://``, fsspec's
constructor arguments and URL credentials, pandas through fsspec, explicit TLS, listings and
ranged reads, fan-out over the pool, trees both ways, the errors fsspec callers expect, writes
that fail leaving nothing behind, pickling and fork, the asynchronous face, and a batch that
fsspec cancels half-way leaving the pool usable.

(fsspec's own abstract suite runs in test_fsspec_abstract.py, Dask in test_fsspec_dask.py.)
"""

from __future__ import annotations

import asyncio
import datetime
import errno
import importlib
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fsspec
import pandas as pd
import pytest
from conftest import OPTIONS, Server, data, start_server
from fsspec.asyn import sync
from fsspec.exceptions import FSTimeoutError

import ferroftp
from ferroftp.fsspec import FTPFile, FTPFileSystem


class Boom(Exception):
    """Raised by a test inside a write."""


def make_fs(server: Server, **extra: Any) -> FTPFileSystem:
    options: dict[str, Any] = {**OPTIONS, **extra}
    return FTPFileSystem(
        host=server.host,
        port=server.port,
        username=server.user,
        password=options.pop("password", server.password),
        skip_instance_cache=True,
        **options,
    )


@pytest.fixture(autouse=True)
def _close_cached_filesystems() -> Iterator[None]:
    """fsspec keeps the instances that URLs made (``fsspec.open``, pandas, Dask's client side):
    each test's are closed (their sessions say goodbye) and forgotten when it ends."""
    yield
    for cached in list(FTPFileSystem._cache.values()):
        cached.close()
    FTPFileSystem.clear_instance_cache()


@pytest.fixture
def fs(server: Server) -> Iterator[FTPFileSystem]:
    f = make_fs(server)
    yield f
    f.close()


@pytest.fixture
def rdir(server: Server, request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    """A fresh remote directory (remote path, its local path in the server root), removed at
    the end through the local disk, whatever the test did."""
    name = "fs-" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:80]
    remote, local = server.dir(name)
    try:
        yield remote, local
    finally:
        shutil.rmtree(local, ignore_errors=True)


def url(server: Server, path: str, scheme: str = "ftp") -> str:
    return (
        f"{scheme}://{quote(server.user, safe='')}:{quote(server.password, safe='')}"
        f"@{server.host}:{server.port}{path}"
    )


def put_local(server: Server, local: Path, content: bytes) -> None:
    local.parent.mkdir(parents=True, exist_ok=True)
    server.own(local.parent)
    local.write_bytes(content)
    server.own(local)


# --- registration, arguments, URLs --------------------------------------------------------


def test_registered_for_ftp_and_ftps_and_fsspecs_own_can_be_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert fsspec.get_filesystem_class("ftp") is FTPFileSystem
    assert fsspec.get_filesystem_class("ftps") is FTPFileSystem
    # The documented way back to fsspec's own implementation (README).
    registry = importlib.import_module("fsspec.registry")
    monkeypatch.setitem(registry.known_implementations, "ftp", {"class": ""})
    monkeypatch.delitem(registry._registry, "ftp", raising=False)
    fsspec.register_implementation("ftp", "fsspec.implementations.ftp.FTPFileSystem", clobber=True)
    from fsspec.implementations.ftp import FTPFileSystem as FsspecFTP

    assert fsspec.get_filesystem_class("ftp") is FsspecFTP


def test_fsspec_constructor_arguments(server: Server, rdir: tuple[str, Path]) -> None:
    remote, local = rdir
    put_local(server, local / "a.txt", b"fsspec's arguments")
    fs = fsspec.filesystem(
        "ftp",
        host=server.host,
        port=server.port,
        username=server.user,
        password=server.password,
        acct=None,
        block_size=1 << 16,
        tempdir=remote,
        timeout=20,
        encoding="utf-8",
        tls=False,
        skip_instance_cache=True,
    )
    try:
        assert isinstance(fs, FTPFileSystem)
        assert fs.blocksize == 1 << 16
        assert fs.cat_file(f"{remote}/a.txt") == b"fsspec's arguments"
        # ferroftp's own options pass through to the pool
        assert make_fs(server, data_mode="pasv", retries=1).cat(f"{remote}/a.txt") == (
            b"fsspec's arguments"
        )
    finally:
        fs.close()


def test_url_credentials_are_percent_decoded() -> None:
    password = "p@ss/w:rd#1"
    srv = start_server("pyftpdlib", "--password", password)
    try:
        put_local(srv, srv.root / "u.txt", b"through the URL")
        target = url(srv, "/u.txt")
        assert quote(password, safe="") in target
        with fsspec.open(target, "rb", **OPTIONS) as f:
            assert f.read() == b"through the URL"
        fs, path = fsspec.core.url_to_fs(target)
        assert isinstance(fs, FTPFileSystem) and path == "/u.txt"
        assert fs.username == srv.user
        fs.close()
        # the URL as host=, too
        fs2 = FTPFileSystem(url(srv, "/"), skip_instance_cache=True)
        assert fs2.cat_file("/u.txt") == b"through the URL"
        fs2.close()
    finally:
        srv.stop()


def test_bad_arguments_raise_at_construction(server: Server) -> None:
    with pytest.raises(ValueError, match=r"TLS 1\.2"):
        make_fs(server, tls="tlsv1")
    with pytest.raises(ValueError, match="tls="):
        make_fs(server, tls="sometimes")
    with pytest.raises(ValueError):
        make_fs(server, data_mode="sideways")
    with pytest.raises(TypeError):
        make_fs(server, retries="many")
    with pytest.raises(TypeError, match="username="):
        make_fs(server, user="someone")
    with pytest.raises(ValueError, match="block_size"):
        make_fs(server, block_size=0)
    with pytest.raises(LookupError):
        make_fs(server, encoding="no-such-encoding")
    with pytest.raises(ValueError, match="no host"):
        FTPFileSystem(skip_instance_cache=True)


def test_wrong_password_is_permission_error(server: Server) -> None:
    fs = make_fs(server, password="wrong", retries=0)  # lazy: no connection yet
    try:
        with pytest.raises(PermissionError, match="login refused") as info:
            fs.ls("/")
        assert isinstance(info.value.__cause__, ferroftp.AuthenticationError)
        with pytest.raises(PermissionError):
            fs.cat_file("/anything")
    finally:
        fs.close()


# --- pandas, TLS --------------------------------------------------------------------------


def test_pandas_read_csv_and_to_csv(server: Server, rdir: tuple[str, Path]) -> None:
    """pandas through fsspec's file objects; ``ftps://`` URLs go through fsspec by themselves
    (test_fsspec_open_ftps_explicit_tls), while pandas hands plain ``ftp://`` URLs to urllib
    (its own choice, made before fsspec is asked), which still works for reading."""
    remote, local = rdir
    frame = pd.DataFrame({"id": range(500), "name": [f"n{i}" for i in range(500)]})
    frame["value"] = frame["id"] * 0.5
    put_local(server, local / "in.csv", frame.to_csv(index=False).encode())
    source = url(server, f"{remote}/in.csv")
    with fsspec.open(source, "rb", **OPTIONS) as f:
        assert isinstance(f.fs, FTPFileSystem)
        got = pd.read_csv(f)
    pd.testing.assert_frame_equal(got, pd.read_csv(local / "in.csv"))
    pd.testing.assert_frame_equal(got, frame)
    with fsspec.open(url(server, f"{remote}/out/copy.csv"), "w", **OPTIONS) as f:
        got.to_csv(f, index=False)
    pd.testing.assert_frame_equal(pd.read_csv(local / "out" / "copy.csv"), frame)
    pd.testing.assert_frame_equal(pd.read_csv(source), frame)  # pandas' own urllib route


@pytest.fixture(scope="module")
def tls_server() -> Iterator[Server]:
    srv = start_server("pyftpdlib", "--tls", "explicit")
    yield srv
    srv.stop()


def test_fsspec_open_ftps_explicit_tls(tls_server: Server) -> None:
    cafile = tls_server.info["cafile"]
    put_local(tls_server, tls_server.root / "tls" / "t.csv", b"a,b\n1,2\n3,4\n")
    target = url(tls_server, "/tls/t.csv", scheme="ftps")
    with fsspec.open(target, "rb", ca_file=cafile, **OPTIONS) as f:
        assert f.read() == b"a,b\n1,2\n3,4\n"
    with fsspec.open(url(tls_server, "/tls/w.bin", "ftps"), "wb", ca_file=cafile) as f:
        f.write(b"written over TLS")
    assert (tls_server.root / "tls" / "w.bin").read_bytes() == b"written over TLS"
    # pandas gives ftps:// URLs to fsspec, so to this filesystem
    frame = pd.read_csv(target, storage_options={"ca_file": cafile, **OPTIONS})
    assert frame["b"].tolist() == [2, 4]
    out = url(tls_server, "/tls/out/frame.csv", scheme="ftps")
    frame.to_csv(out, index=False, storage_options={"ca_file": cafile, **OPTIONS})
    assert (tls_server.root / "tls" / "out" / "frame.csv").read_bytes() == b"a,b\n1,2\n3,4\n"
    # fsspec's own spelling: tls=True is explicit TLS
    fs = make_fs(tls_server, tls=True, ca_file=cafile)
    assert fs.cat_file("/tls/w.bin") == b"written over TLS"
    fs.close()
    # the server's certificate is checked: without its CA the connection is refused
    untrusted = make_fs(tls_server, tls=True, retries=0)
    with pytest.raises(ferroftp.TlsError):
        untrusted.ls("/")
    untrusted.close()


# --- looking --------------------------------------------------------------------------------


def test_ls_info_exists(fs: FTPFileSystem, server: Server, rdir: tuple[str, Path]) -> None:
    remote, local = rdir
    put_local(server, local / "f.bin", data(1234, 1))
    (local / "sub").mkdir()
    server.own(local / "sub")
    listing = fs.ls(remote, detail=True)
    assert [d["name"] for d in listing] == [f"{remote}/f.bin", f"{remote}/sub"]
    f, sub = listing
    assert (f["type"], f["size"], sub["type"], sub["size"]) == ("file", 1234, "directory", 0)
    for d in listing:
        assert {"name", "size", "type", "mtime", "raw", "permissions"} <= d.keys()
        assert isinstance(d["raw"], str) and d["raw"]
    assert isinstance(f["mtime"], datetime.datetime) and f["mtime"].tzinfo is not None
    assert fs.ls(remote, detail=False) == [f"{remote}/f.bin", f"{remote}/sub"]
    assert fs.ls(f"{remote}/sub") == []
    # ls of a file: that file
    assert [d["name"] for d in fs.ls(f"{remote}/f.bin")] == [f"{remote}/f.bin"]
    info = fs.info(f"{remote}/f.bin")
    assert (info["name"], info["size"], info["type"]) == (f"{remote}/f.bin", 1234, "file")
    assert fs.info(f"ftp://{server.host}:{server.port}{remote}/sub/")["type"] == "directory"
    assert fs.info("/")["type"] == "directory"
    assert fs.exists(f"{remote}/f.bin") and fs.isfile(f"{remote}/f.bin")
    assert fs.isdir(f"{remote}/sub") and not fs.isfile(f"{remote}/sub")
    assert not fs.exists(f"{remote}/nothing")
    assert fs.size(f"{remote}/f.bin") == 1234
    assert fs.modified(f"{remote}/f.bin") == info["mtime"]


def test_find_walk_glob_du(fs: FTPFileSystem, server: Server, rdir: tuple[str, Path]) -> None:
    remote, local = rdir
    files = {"a.csv": 10, "b.txt": 20, "d1/c.csv": 30, "d1/d2/e.csv": 40, "d1/d2/f.bin": 50}
    for rel, size in files.items():
        put_local(server, local / rel, b"x" * size)
    (local / "empty").mkdir()
    server.own(local / "empty")
    full = sorted(f"{remote}/{rel}" for rel in files)
    assert fs.find(remote) == full
    assert fs.find(remote, maxdepth=1) == [f"{remote}/a.csv", f"{remote}/b.txt"]
    dirs = [f"{remote}/d1", f"{remote}/d1/d2", f"{remote}/empty"]
    assert fs.find(remote, withdirs=True) == sorted([remote, *full, *dirs])
    assert fs.glob(f"{remote}/*.csv") == [f"{remote}/a.csv"]
    assert fs.glob(f"{remote}/**/*.csv") == [
        f"{remote}/a.csv",
        f"{remote}/d1/c.csv",
        f"{remote}/d1/d2/e.csv",
    ]
    assert fs.du(remote) == sum(files.values())
    assert fs.du(remote, total=False)[f"{remote}/d1/d2/f.bin"] == 50
    walked = {top: (sorted(d), sorted(f)) for top, d, f in fs.walk(remote)}
    assert walked[remote] == (["d1", "empty"], ["a.csv", "b.txt"])
    assert walked[f"{remote}/d1/d2"] == ([], ["e.csv", "f.bin"])
    assert fs.find(f"{remote}/missing") == []


# --- reading --------------------------------------------------------------------------------


def test_cat_file_ranges_and_random_access(
    fs: FTPFileSystem, server: Server, rdir: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    remote, local = rdir
    payload = data(300_000, 7)
    put_local(server, local / "r.bin", payload)
    path = f"{remote}/r.bin"
    assert fs.cat_file(path) == payload
    assert fs.cat_file(path, 1000, 1100) == payload[1000:1100]
    assert fs.cat_file(path, 299_990) == payload[299_990:]
    assert fs.cat_file(path, -10) == payload[-10:]
    assert fs.cat_file(path, 10, -10) == payload[10:-10]
    assert fs.cat_file(path, 299_000, 400_000) == payload[299_000:]
    assert fs.cat_file(path, 400_000, 500_000) == b""
    assert fs.cat_file(path, 5, 5) == b""
    starts = [0, 4096, 123_456, 299_999]
    assert fs.cat_ranges([path] * 4, starts, [s + 100 for s in starts]) == [
        payload[s : s + 100] for s in starts
    ]
    # Random access through the buffered file: each block is one ranged read.
    fetched: list[tuple[int, int]] = []
    real = FTPFile._fetch_range

    def counting(f: FTPFile, start: int, end: int) -> bytes:
        fetched.append((start, end - start))
        data: bytes = real(f, start, end)
        return data

    monkeypatch.setattr(FTPFile, "_fetch_range", counting)
    with fs.open(path, "rb", block_size=1 << 16) as f:
        assert f.size == len(payload)
        for pos in (250_000, 17, 150_001, 299_950, 0):
            f.seek(pos)
            assert f.read(50) == payload[pos : pos + 50]
        assert len(fetched) == 5
        f.seek(0)
        # read-ahead: 1000 small sequential reads cost a few block fetches
        fetched.clear()
        got = b"".join(f.read(100) for _ in range(1000))
        assert got == payload[:100_000]
        assert len(fetched) <= 3
    with fs.open(path, "rb", cache_type="none") as f:
        f.seek(-5, 2)
        assert f.read() == payload[-5:]


def test_cat_of_many_paths_fans_out_over_the_pool(server: Server, rdir: tuple[str, Path]) -> None:
    remote, local = rdir
    contents = {f"{remote}/f{i:03}.bin": data(3000 + i, i) for i in range(60)}
    for path, content in contents.items():
        put_local(server, local / path.rsplit("/", 1)[1], content)
    fs = make_fs(server, max_sessions=4)
    try:
        assert fs.cat(list(contents)) == contents
        assert fs.cat(f"{remote}/f00*.bin") == {
            p: c for p, c in contents.items() if p.startswith(f"{remote}/f00")
        }
        assert fs._get_pool().open_sessions > 1
        assert fs._get_pool().open_sessions <= 4
    finally:
        fs.close()


# --- trees, changes --------------------------------------------------------------------------


def test_put_and_get_trees(
    fs: FTPFileSystem, server: Server, rdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = rdir
    src = tmp_path / "src"
    tree = {"top.bin": 5000, "a/one.bin": 100, "a/b/two.bin": 70_000, "a/b/c/three.bin": 0}
    for rel, size in tree.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data(size, size))
    (src / "emptydir").mkdir()
    fs.put(str(src), f"{remote}/up", recursive=True)
    for rel, size in tree.items():
        assert (local / "up" / rel).read_bytes() == data(size, size)
    assert (local / "up" / "emptydir").is_dir()
    fs.get(f"{remote}/up", str(tmp_path / "down"), recursive=True)
    for rel, size in tree.items():
        assert (tmp_path / "down" / rel).read_bytes() == data(size, size)
    # single files, both ways, and with a callback
    fs.put_file(str(src / "top.bin"), f"{remote}/new/dir/top.bin")  # parents are made
    assert (local / "new" / "dir" / "top.bin").read_bytes() == data(5000, 5000)
    seen: list[int] = []

    class Progress(fsspec.callbacks.Callback):  # type: ignore[misc]
        def call(self, *args: Any, **kwargs: Any) -> None:
            seen.append(self.value)

    fs.get_file(f"{remote}/up/a/b/two.bin", str(tmp_path / "two.bin"), callback=Progress())
    assert (tmp_path / "two.bin").read_bytes() == data(70_000, 70_000)
    assert seen and seen[-1] == 70_000
    with pytest.raises(FileExistsError):
        fs.put_file(str(src / "top.bin"), f"{remote}/up/top.bin", mode="create")


def test_pipe_cp_mv_touch_modified(
    fs: FTPFileSystem, server: Server, rdir: tuple[str, Path]
) -> None:
    remote, local = rdir
    fs.pipe({f"{remote}/p/{i}.txt": str(i).encode() * 1000 for i in range(20)})
    assert (local / "p" / "7.txt").read_bytes() == b"7" * 1000
    fs.pipe_file(f"{remote}/p/7.txt", b"atomic", atomic=True)
    assert (local / "p" / "7.txt").read_bytes() == b"atomic"
    big = data(3_000_000, 9)
    fs.pipe_file(f"{remote}/big.bin", big)
    fs.cp(f"{remote}/big.bin", f"{remote}/copies/big.bin")  # streamed between two sessions
    assert (local / "copies" / "big.bin").read_bytes() == big
    fs.cp(f"{remote}/p", f"{remote}/p2", recursive=True)
    assert sorted(os.listdir(local / "p2")) == sorted(os.listdir(local / "p"))
    fs.mv(f"{remote}/p2", f"{remote}/p3")  # a directory, renamed on the server
    assert not (local / "p2").exists() and (local / "p3" / "0.txt").exists()
    fs.mv(f"{remote}/big.bin", f"{remote}/p3")  # into an existing directory
    assert (local / "p3" / "big.bin").read_bytes() == big
    fs.mv(f"{remote}/p3/1*.txt", f"{remote}/p/")  # a glob
    assert sorted(os.listdir(local / "p3")) == sorted(
        ["0.txt", "big.bin"] + [f"{i}.txt" for i in range(2, 10)]
    )
    with pytest.raises(FileNotFoundError):
        fs.mv(f"{remote}/p3/0.txt", f"{remote}/nowhere/0.txt")
    assert (local / "p3" / "0.txt").exists()
    with pytest.raises(FileNotFoundError):
        fs.mv(f"{remote}/missing", f"{remote}/p3/x")
    # modified and touch
    old = datetime.datetime(2001, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc)
    os.utime(local / "p3" / "0.txt", (old.timestamp(), old.timestamp()))
    assert fs.modified(f"{remote}/p3/0.txt") == old
    fs.touch(f"{remote}/p3/0.txt", truncate=False)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((fs.modified(f"{remote}/p3/0.txt") - now).total_seconds()) < 120
    assert (local / "p3" / "0.txt").read_bytes() == b"0" * 1000
    fs.touch(f"{remote}/p3/0.txt")
    assert (local / "p3" / "0.txt").read_bytes() == b""


def test_mkdir_rmdir_rm(fs: FTPFileSystem, server: Server, rdir: tuple[str, Path]) -> None:
    remote, local = rdir
    fs.mkdir(f"{remote}/a/b/c")  # create_parents=True
    assert (local / "a" / "b" / "c").is_dir()
    with pytest.raises(FileExistsError):
        fs.mkdir(f"{remote}/a/b/c")
    with pytest.raises(FileNotFoundError):
        fs.mkdir(f"{remote}/x/y", create_parents=False)
    fs.makedirs(f"{remote}/a/b/c", exist_ok=True)
    with pytest.raises(FileExistsError):
        fs.makedirs(f"{remote}/a/b/c")
    fs.pipe_file(f"{remote}/a/b/f.txt", b"f")
    with pytest.raises(OSError) as info:
        fs.rmdir(f"{remote}/a/b")
    assert info.value.errno == errno.ENOTEMPTY
    with pytest.raises(NotADirectoryError):
        fs.rmdir(f"{remote}/a/b/f.txt")
    with pytest.raises(FileNotFoundError):
        fs.rmdir(f"{remote}/nothing")
    fs.rmdir(f"{remote}/a/b/c")
    assert not (local / "a" / "b" / "c").exists()
    with pytest.raises(IsADirectoryError):
        fs.rm_file(f"{remote}/a")
    with pytest.raises(FileNotFoundError):
        fs.rm(f"{remote}/nothing")
    fs.rm(f"{remote}/a", recursive=True)
    assert os.listdir(local) == []
    fs.pipe({f"{remote}/g/{i}.log": b"." for i in range(5)} | {f"{remote}/g/keep.txt": b"k"})
    fs.rm(f"{remote}/g/*.log")
    assert os.listdir(local / "g") == ["keep.txt"]


# --- errors fsspec callers expect, and failed writes --------------------------------------


def test_missing_paths_and_directories(
    fs: FTPFileSystem, rdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, _ = rdir
    missing = f"{remote}/no-such-file"
    for call in (
        lambda: fs.info(missing),
        lambda: fs.cat_file(missing),
        lambda: fs.cat_file(missing, 0, 10),
        lambda: fs.open(missing, "rb"),
        lambda: fs.ls(missing),
        lambda: fs.get_file(missing, str(tmp_path / "x")),
        lambda: fs.rm_file(missing),
    ):
        with pytest.raises(FileNotFoundError):
            call()
    assert not (tmp_path / "x").exists()
    fs.mkdir(f"{remote}/d")
    with pytest.raises(IsADirectoryError):
        fs.open(f"{remote}/d", "rb")
    with pytest.raises(IsADirectoryError):
        fs.cat_file(f"{remote}/d")
    with pytest.raises(NotImplementedError, match="appending"):
        fs.open(f"{remote}/d/f", "ab")


def test_refused_writes_are_permission_errors(servers: Any, tmp_path: Path) -> None:
    """vsftpd runs sessions as the FTP user, so a read-only directory refuses writes (the
    pyftpdlib test server runs as root: the OS refuses it nothing)."""
    server = servers.get("vsftpd")
    remote, local = server.dir("fs-readonly")
    try:
        put_local(server, local / "ro" / "kept.txt", b"kept")
        put_local(server, local / "src.txt", b"source")
        (local / "ro").chmod(0o555)
        fs = make_fs(server)
        try:
            for write in (
                lambda: fs.pipe_file(f"{remote}/ro/new.txt", b"no"),
                lambda: fs.pipe_file(f"{remote}/ro/new.txt", b"no", atomic=True),
                lambda: fs.put_file(str(local / "src.txt"), f"{remote}/ro/new.txt"),
                lambda: fs.mv(f"{remote}/src.txt", f"{remote}/ro/new.txt"),
                lambda: fs.rm_file(f"{remote}/ro/kept.txt"),
                lambda: fs.mkdir(f"{remote}/ro/sub"),
            ):
                with pytest.raises(PermissionError):
                    write()
            with pytest.raises(PermissionError), fs.open(f"{remote}/ro/new.txt", "wb") as f:
                f.write(b"no")
            assert sorted(os.listdir(local / "ro")) == ["kept.txt"]
            assert (local / "src.txt").read_bytes() == b"source"
        finally:
            fs.close()
    finally:
        (local / "ro").chmod(0o755)
        shutil.rmtree(local, ignore_errors=True)


def test_write_abandoned_by_an_exception_leaves_nothing(
    fs: FTPFileSystem, rdir: tuple[str, Path]
) -> None:
    remote, local = rdir
    path = f"{remote}/w.bin"

    def write_then_fail(**options: Any) -> None:
        with fs.open(path, "wb", block_size=1 << 16, **options) as f:
            f.write(data(300_000, 3))  # several blocks already on their way
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()
    assert os.listdir(local) == []
    # atomic: the previous content stays, and no temporary file is left
    fs.pipe_file(path, b"previous")
    with pytest.raises(Boom):
        write_then_fail(atomic=True)
    assert os.listdir(local) == ["w.bin"]
    assert (local / "w.bin").read_bytes() == b"previous"
    # streaming writes that succeed
    with fs.open(path, "wb", block_size=1 << 16) as f:
        for i in range(10):
            f.write(data(50_000, i))
    assert (local / "w.bin").read_bytes() == b"".join(data(50_000, i) for i in range(10))
    with fs.open(path, "wb", atomic=True) as f:
        f.write(b"replaced atomically")
    assert os.listdir(local) == ["w.bin"]
    assert (local / "w.bin").read_bytes() == b"replaced atomically"
    with pytest.raises(FileExistsError):
        fs.open(path, "xb")


def test_transactions_commit_or_discard(fs: FTPFileSystem, rdir: tuple[str, Path]) -> None:
    remote, local = rdir
    with fs.transaction:
        with fs.open(f"{remote}/t1.txt", "wb") as f:
            f.write(b"one")
        with fs.open(f"{remote}/t2.txt", "wb") as f:
            f.write(b"two")
        assert not (local / "t1.txt").exists()  # written under a temporary name until then
    assert (local / "t1.txt").read_bytes() == b"one"
    assert sorted(os.listdir(local)) == ["t1.txt", "t2.txt"]

    def write_then_fail() -> None:
        with fs.transaction:
            with fs.open(f"{remote}/t3.txt", "wb") as f:
                f.write(b"three")
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()
    assert sorted(os.listdir(local)) == ["t1.txt", "t2.txt"]


def test_connection_lost_mid_upload_leaves_nothing() -> None:
    """The session carrying an upload dies (its vsftpd processes killed): the write fails, and
    the partial file is removed over a fresh connection."""
    server = start_server("vsftpd")  # of its own: its one session is the upload's
    try:
        remote, local = server.dir("killed")
        fs = make_fs(server, max_sessions=1, retries=1)
        try:
            f = fs.open(f"{remote}/partial.bin", "wb", block_size=1 << 20)
            f.write(data(3 << 20, 5))  # the upload is under way
            assert (local / "partial.bin").exists()
            assert server.kill_one_session()

            def write_on() -> None:
                for i in range(64):
                    f.write(data(1 << 20, i))
                f.close()

            with pytest.raises((OSError, ferroftp.Error)):
                write_on()
            assert f.closed
            assert not (local / "partial.bin").exists()
            # the filesystem carries on
            fs.pipe_file(f"{remote}/after.bin", b"after")
            assert os.listdir(local) == ["after.bin"]
        finally:
            fs.close()
    finally:
        server.stop()


def test_a_batch_cancelled_half_way_leaves_the_pool_usable(
    server: Server, rdir: tuple[str, Path], tmp_path: Path
) -> None:
    """fsspec cancels the rest of a batch when one call fails; the sessions those calls were
    being lent go back to the pool (they used to stay lent, and the next call waited
    forever)."""
    remote, local = rdir
    paths = [f"{remote}/f{i}.bin" for i in range(40)]
    for p in paths:
        put_local(server, local / p.rsplit("/", 1)[1], data(200_000, len(p)))
    fs = make_fs(server, max_sessions=4)
    try:
        for attempt in range(3):
            targets = [str(tmp_path / f"{attempt}-{i}") for i in range(40)]
            os.mkdir(targets[3])  # that get fails, and fsspec cancels the others
            with pytest.raises(IsADirectoryError):
                fs.get(paths, targets)
            got = sync(fs.loop, fs._cat, paths, timeout=60)
            assert len(got) == 40
    except FSTimeoutError:
        pytest.fail("the pool's sessions stayed lent to cancelled calls")
    finally:
        fs.close()


# --- processes, the asynchronous face, encodings ------------------------------------------


def test_pickled_filesystem_works_in_another_process(
    fs: FTPFileSystem, server: Server, rdir: tuple[str, Path]
) -> None:
    remote, local = rdir
    put_local(server, local / "p.bin", b"from another process")
    fs.ls(remote)  # this process's pool is open
    blob = pickle.dumps(fs)
    assert b"AsyncPool" not in blob  # only the constructor's arguments travel
    assert pickle.loads(blob).storage_options == fs.storage_options
    script = (
        "import pickle, sys; fs = pickle.loads(sys.stdin.buffer.read()); "
        f"sys.stdout.buffer.write(fs.cat_file({remote + '/p.bin'!r})); fs.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=blob, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout == b"from another process"


def test_filesystem_survives_fork(
    fs: FTPFileSystem, server: Server, rdir: tuple[str, Path]
) -> None:
    remote, local = rdir
    put_local(server, local / "k.bin", b"forked")
    assert fs.cat_file(f"{remote}/k.bin") == b"forked"  # the parent's pool and loop are up
    parent_pool = fs._get_pool()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own loop and pool, never the parent's connections
        code = 1
        try:
            os.close(read)
            got = fs.cat_file(f"{remote}/k.bin")
            fs.pipe_file(f"{remote}/from-child.bin", b"child")
            os.write(write, got)
            code = 0 if fs._get_pool() is not parent_pool else 2
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as r:
        got = r.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert got == b"forked"
    assert fs._get_pool() is parent_pool
    assert fs.cat_file(f"{remote}/from-child.bin") == b"child"


def test_asynchronous_filesystem(server: Server, rdir: tuple[str, Path]) -> None:
    remote, local = rdir

    async def main() -> None:
        fs = make_fs(server, asynchronous=True)
        try:
            await fs._pipe_file(f"{remote}/a.bin", b"async pipe")
            assert await fs._cat_file(f"{remote}/a.bin") == b"async pipe"
            f = await fs.open_async(f"{remote}/s.bin", "wb", block_size=1 << 16)
            for i in range(5):
                await f.write(data(40_000, i))
            await f.close()
            f = await fs.open_async(f"{remote}/s.bin", "rb")
            assert await f.read(10) == data(40_000, 0)[:10]
            f.seek(40_000)
            assert await f.read(5) == data(40_000, 1)[:5]
            await f.close()
            names = await fs._ls(remote, detail=False)
            assert names == [f"{remote}/a.bin", f"{remote}/s.bin"]
            results = await asyncio.gather(*(fs._cat_file(f"{remote}/a.bin") for _ in range(20)))
            assert set(results) == {b"async pipe"}
            with pytest.raises(FileNotFoundError):
                await fs.open_async(f"{remote}/missing", "rb")
        finally:
            await fs._close()

    asyncio.run(main())
    assert (local / "s.bin").read_bytes() == b"".join(data(40_000, i) for i in range(5))


def test_encoding_of_remote_names(servers: Any) -> None:
    """``encoding="latin-1"``: names are the server's Latin-1 bytes both ways (vsftpd serves
    names as bytes)."""
    server = servers.get("vsftpd")
    remote, local = server.dir("fs-latin1")
    try:
        raw = os.fsencode(local) + b"/caf\xe9.txt"
        with open(raw, "wb") as f:
            f.write(b"latin-1")
        os.chown(raw, server.uid, server.gid)
        fs = make_fs(server, encoding="latin-1")
        try:
            assert fs.ls(remote, detail=False) == [f"{remote}/café.txt"]
            assert fs.cat_file(f"{remote}/café.txt") == b"latin-1"
            fs.pipe_file(f"{remote}/naïve.txt", b"written")
            assert sorted(os.listdir(os.fsencode(local))) == [b"caf\xe9.txt", b"na\xefve.txt"]
        finally:
            fs.close()
    finally:
        shutil.rmtree(local, ignore_errors=True)
