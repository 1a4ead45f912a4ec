"""Remote paths given as ``bytes`` (the server's raw bytes) to every method of ``Session`` and
``AsyncSession``; ``Entry.name_bytes``/``path_bytes``, ``path_to_bytes``/``path_from_bytes``.

On vsftpd, which stores any bytes, the names are not UTF-8 (Latin-1 and the byte 0xFF, Telnet's
IAC, which vsftpd reads as it is and doubles in its replies). pyftpdlib decodes commands as UTF-8
and replaces undecodable bytes, so no client can reach such names through it: there the
``bytes`` are UTF-8 ("é", "ÿ") with a double quote.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from conftest import OPTIONS, Server, data

import ferroftp

#: Per server: a file, a directory, a directory made with MKD, a file made with STOR.
NAMES = {
    "vsftpd": (b"caf\xe9.txt", b'd\xe9\xff"q', b"m\xff\xffk", b"\xffup\xe9"),
    "pyftpdlib": (
        "café.txt".encode(),
        'dé\u00ff"q'.encode(),
        "mÿÿk".encode(),
        "ÿupé".encode(),
    ),
}


def make(server: Server, local: Path, name: bytes, content: bytes | None) -> None:
    """Creates a file (a directory when ``content`` is None) named ``name`` on the server's
    disk."""
    path = os.path.join(os.fsencode(local), name)
    if content is None:
        os.mkdir(path)
    else:
        with open(path, "wb") as f:
            f.write(content)
    os.chown(path, server.uid, server.gid)


def disk(local: Path) -> list[bytes]:
    return sorted(os.listdir(os.fsencode(local)))


def test_session_methods_take_bytes(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    root = remote.encode()
    file, folder, made, stored = NAMES[server.kind]
    content = data(50_000, 3)
    make(server, local, file, content)
    make(server, local, folder, None)
    with ferroftp.connect(server.url, **OPTIONS) as s:
        entries = {e.name_bytes: e for e in s.list(root)}
        assert set(entries) == {file, folder}
        f = entries[file]
        assert f.path_bytes == root + b"/" + file
        assert ferroftp.path_to_bytes(f.path) == f.path_bytes
        assert ferroftp.path_from_bytes(f.path_bytes) == f.path
        assert sorted(s.names(root)) == sorted(ferroftp.path_from_bytes(n) for n in (file, folder))
        assert all(isinstance(n, str) for n in s.names(root))

        p = f.path_bytes
        assert s.size(p) == len(content)
        assert s.exists(p) and s.exists(root + b"/" + folder)
        assert not s.exists(p + b"-missing")
        assert s.modified(p).tzinfo is not None
        assert s.read_bytes(p) == content
        assert s.download(p, tmp_path / "down") == len(content)
        assert (tmp_path / "down").read_bytes() == content
        with s.open(p) as r:
            assert r.read() == content
            assert r.name == f.path

        # Writing and creating: exactly the bytes asked for land on the disk.
        d = root + b"/" + folder
        assert s.write_bytes(d + b"/" + stored, b"in folder") == 9
        assert s.upload(tmp_path / "down", root + b"/" + stored) == len(content)
        with s.open(root + b"/" + stored + b"2", "wb") as w:
            w.write(b"streamed")
        s.mkdir(root + b"/" + made)
        s.mkdir(root + b"/" + made + b"/x/y", parents=True)
        assert disk(local) == sorted([file, folder, made, stored, stored + b"2"])
        assert (local / os.fsdecode(stored)).read_bytes() == content
        assert os.listdir(os.path.join(os.fsencode(local), folder)) == [stored]

        # CWD/PWD; relative bytes paths; walk.
        s.cwd(d)
        assert s.pwd() == ferroftp.path_from_bytes(d)
        assert ferroftp.path_to_bytes(s.pwd()) == d
        assert s.read_bytes(stored) == b"in folder"
        s.cwd(b"/")
        walked = list(s.walk(root + b"/" + made))
        assert [w[0] for w in walked] == [
            ferroftp.path_from_bytes(root + b"/" + made + x) for x in (b"", b"/x", b"/x/y")
        ]

        # Rename, remove, rmdir.
        s.rename(p, p + b".old")
        assert file + b".old" in disk(local)
        s.remove(p + b".old")
        s.remove(root + b"/" + stored)
        s.remove(root + b"/" + stored + b"2")
        s.rmdir(root + b"/" + made, recursive=True)
        s.rmdir(d, recursive=True)
        assert disk(local) == []


@pytest.mark.asyncio
async def test_async_session_methods_take_bytes(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    root = remote.encode()
    file, folder, made, stored = NAMES[server.kind]
    content = data(30_000, 4)
    make(server, local, file, content)
    make(server, local, folder, None)
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        entries = {e.name_bytes: e for e in await s.list(root)}
        assert set(entries) == {file, folder}
        p = entries[file].path_bytes
        d = entries[folder].path_bytes
        assert sorted(await s.names(root)) == sorted(
            ferroftp.path_from_bytes(n) for n in (file, folder)
        )
        assert await s.size(p) == len(content)
        assert await s.exists(p)
        assert (await s.modified(p)).tzinfo is not None
        assert await s.read_bytes(p) == content
        assert await s.download(p, tmp_path / "down") == len(content)
        assert (tmp_path / "down").read_bytes() == content
        async with await s.open(p) as r:
            assert await r.read() == content
        assert await s.write_bytes(d + b"/" + stored, b"x") == 1
        assert await s.upload(tmp_path / "down", root + b"/" + stored) == len(content)
        async with await s.open(root + b"/" + stored + b"2", "wb") as w:
            await w.write(b"streamed")
        await s.mkdir(root + b"/" + made + b"/x", parents=True)
        assert disk(local) == sorted([file, folder, made, stored, stored + b"2"])
        await s.cwd(d)
        assert ferroftp.path_to_bytes(await s.pwd()) == d
        await s.cwd(b"/")
        walked = [w async for w in s.walk(root + b"/" + made)]
        assert [w[0] for w in walked] == [
            ferroftp.path_from_bytes(root + b"/" + made + x) for x in (b"", b"/x")
        ]
        await s.rename(p, p + b".old")
        await s.remove(p + b".old")
        await s.remove(root + b"/" + stored)
        await s.remove(root + b"/" + stored + b"2")
        await s.rmdir(root + b"/" + made, recursive=True)
        await s.rmdir(d, recursive=True)
        assert disk(local) == []


@pytest.mark.parametrize("bad", [1, None, bytearray(b"/f"), memoryview(b"/f"), Path("/f")])
def test_other_path_types_are_type_errors(server: Server, bad: Any) -> None:
    with ferroftp.connect(server.url, **OPTIONS) as s:
        for call in (
            lambda: s.size(bad),
            lambda: s.list(bad),
            lambda: s.rename(bad, "/x"),
            lambda: s.rename("/x", bad),
            lambda: s.open(bad),
            lambda: s.download(bad, "/tmp/never-written"),
            lambda: s.upload(__file__, bad),
            lambda: s.walk(bad),
        ):
            with pytest.raises(TypeError, match="str or bytes"):
                call()
        s.noop()


@pytest.mark.asyncio
async def test_other_path_types_are_type_errors_async(server: Server) -> None:
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        for bad in (1, bytearray(b"/f"), Path("/f")):
            with pytest.raises(TypeError, match="str or bytes"):
                s.size(bad)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="str or bytes"):
                s.open(bad)  # type: ignore[arg-type]
        assert await s.pwd() == "/"


def test_path_conversions() -> None:
    for raw in (b"", b"plain", "café".encode(), b"caf\xe9", b"\xff\xfe\x80", "\uf7e9".encode()):
        assert ferroftp.path_to_bytes(ferroftp.path_from_bytes(raw)) == raw
    assert ferroftp.path_from_bytes(b"caf\xe9") == "caf\uf7e9"
    assert ferroftp.path_from_bytes("café".encode()) == "café"
    assert ferroftp.path_to_bytes("caf\uf7e9") == b"caf\xe9"
    with pytest.raises(TypeError):
        ferroftp.path_to_bytes(b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ferroftp.path_from_bytes("x")  # type: ignore[arg-type]
