"""Checksums of transfers (``checksum=``) and the size check (``verify=``), for ``Session`` and
``AsyncSession``: every value both ways against pyftpdlib with real HASH commands (its protocol
log shows which digest the server computed for which file), a server that lies about every
digest (``IntegrityError``, nothing left behind), vsftpd, which offers no checksum
(``"required"`` is a ``PermanentError`` before any data moves), and wrong arguments."""

from __future__ import annotations

import asyncio
import ftplib
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import OPTIONS, Server, Servers, data, start_server

import ferroftp

#: checksum= algorithm values → the HASH name the server uses for them.
ALGORITHMS = {
    "sha256": "SHA-256",
    "sha512": "SHA-512",
    "sha1": "SHA-1",
    "md5": "MD5",
    "crc32": "CRC32",
}
#: Every checksum= value → the algorithm it makes the client compare (the automatic choices
#: take the strongest the server offers: SHA-256).
MODES = {**ALGORITHMS, "if-available": "SHA-256", "required": "SHA-256"}


class LoggedServer:
    """A pyftpdlib with HASH whose protocol log is kept in a file."""

    def __init__(self, server: Server, log: Path) -> None:
        self.server = server
        self.log = log

    def _lines(self, marker: str) -> list[str]:
        text = self.log.read_text(errors="replace")
        return [line.split(marker, 1)[1].strip() for line in text.splitlines() if marker in line]

    def commands(self) -> list[str]:
        """Every command the server received so far (it logs one before answering it)."""
        return self._lines("] <- ")

    def computed(self, algorithm: str, path: str, size: int) -> bool:
        """Whether the server answered a HASH with the ``algorithm`` digest of ``size`` bytes
        of ``path`` (``213 SHA-256 0-<size> <hex> <path>``). pyftpdlib logs a reply just after
        sending it, so ask once a later command of the session was answered (a NOOP)."""
        want = (algorithm, f"0-{size}", path)
        replies = (reply.split(" ") for reply in self._lines("] -> 213 "))
        return any(len(w) == 4 and (w[0], w[1], w[3]) == want for w in replies)


@pytest.fixture(scope="module")
def hash_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    log = tmp_path_factory.mktemp("hash-server") / "protocol.log"
    s = start_server("pyftpdlib", "--hash", log=log)
    yield LoggedServer(s, log)
    s.stop()


@pytest.fixture(scope="module")
def lying_server() -> Iterator[Server]:
    """HASH and the X commands, every digest well formed but wrong."""
    s = start_server("pyftpdlib", "--hash", "--hash-lie")
    yield s
    s.stop()


def connect_async(server: Server) -> Any:
    return ferroftp.connect_async(server.url, **OPTIONS)


# --- every value, both ways, against an honest server ------------------------------------------


def test_every_checksum_both_ways(hash_server: LoggedServer, tmp_path: Path) -> None:
    srv = hash_server.server
    remote, on_server = srv.dir("round-trip-sync")
    with ferroftp.connect(srv.url, **OPTIONS) as s:
        # one session: HASH's selected algorithm changes (OPTS HASH) from one transfer to the next
        for i, (mode, algorithm) in enumerate(MODES.items()):
            payload = data(100_000 + i, i)
            src = tmp_path / f"src-{mode}.bin"
            src.write_bytes(payload)
            up = f"{remote}/up-{mode}.bin"
            assert s.upload(src, up, checksum=mode) == len(payload)
            assert (on_server / f"up-{mode}.bin").read_bytes() == payload
            s.noop()
            assert hash_server.computed(algorithm, up, len(payload)), mode

            srv.put(f"round-trip-sync/down-{mode}.bin", payload)
            down = f"{remote}/down-{mode}.bin"
            target = tmp_path / f"down-{mode}.bin"
            assert s.download(down, target, checksum=mode) == len(payload)
            assert target.read_bytes() == payload
            s.noop()
            assert hash_server.computed(algorithm, down, len(payload)), mode
        # an atomic upload is compared under its temporary name, then renamed into place
        src = tmp_path / "src-sha1.bin"
        assert s.upload(src, f"{remote}/atomic.bin", atomic=True, checksum="sha1") > 0
        assert (on_server / "atomic.bin").read_bytes() == src.read_bytes()
        # None is off: no digest asked for
        srv.put("round-trip-sync/off.bin", b"off")
        s.download(f"{remote}/off.bin", tmp_path / "off.bin", checksum=None)
        assert (tmp_path / "off.bin").read_bytes() == b"off"
        assert f"HASH {remote}/off.bin" not in hash_server.commands()


def test_every_checksum_both_ways_async(hash_server: LoggedServer, tmp_path: Path) -> None:
    srv = hash_server.server
    remote, on_server = srv.dir("round-trip-async")

    async def main() -> None:
        async with await connect_async(srv) as s:
            for i, (mode, algorithm) in enumerate(MODES.items()):
                payload = data(90_000 + i, 100 + i)
                src = tmp_path / f"src-{mode}.bin"
                src.write_bytes(payload)
                up = f"{remote}/up-{mode}.bin"
                assert await s.upload(src, up, checksum=mode) == len(payload)
                assert (on_server / f"up-{mode}.bin").read_bytes() == payload
                await s.noop()
                assert hash_server.computed(algorithm, up, len(payload)), mode

                srv.put(f"round-trip-async/down-{mode}.bin", payload)
                down = f"{remote}/down-{mode}.bin"
                target = tmp_path / f"down-{mode}.bin"
                got = await s.download(down, target, checksum=mode, progress=lambda d, t: None)
                assert got == len(payload)
                assert target.read_bytes() == payload
                await s.noop()
                assert hash_server.computed(algorithm, down, len(payload)), mode

    asyncio.run(main())


def test_verify_is_the_size_check(hash_server: LoggedServer, tmp_path: Path) -> None:
    """``verify`` asks SIZE after a transfer (pyftpdlib announces no size in its 150 reply);
    ``verify=False`` does not, and a checksum replaces it."""
    srv = hash_server.server
    remote, on_server = srv.dir("verify")
    payload = data(30_000, 5)
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    for name in ("on", "off", "sum", "async-on", "async-off"):
        srv.put(f"verify/{name}.bin", payload)

    def sized(name: str) -> bool:
        return f"SIZE {remote}/{name}.bin" in hash_server.commands()

    with ferroftp.connect(srv.url, **OPTIONS) as s:
        for name, kw in (("on", {}), ("off", {"verify": False}), ("sum", {"checksum": "md5"})):
            assert s.download(f"{remote}/{name}.bin", tmp_path / f"{name}.bin", **kw) == 30_000
            assert (tmp_path / f"{name}.bin").read_bytes() == payload
            assert sized(name) == (name == "on"), name
            assert s.upload(src, f"{remote}/up-{name}.bin", **kw) == 30_000
            assert (on_server / f"up-{name}.bin").read_bytes() == payload
            assert sized(f"up-{name}") == (name == "on"), name

    async def main() -> None:
        async with await connect_async(srv) as s:
            for verify in (True, False):
                name = "async-on" if verify else "async-off"
                got = await s.download(f"{remote}/{name}.bin", tmp_path / name, verify=verify)
                assert got == 30_000
                assert sized(name) == verify
                assert await s.upload(src, f"{remote}/up-{name}.bin", verify=verify) == 30_000
                assert sized(f"up-{name}") == verify

    asyncio.run(main())


# --- a server whose digests are all wrong ------------------------------------------------------


def check_integrity(e: ferroftp.IntegrityError, algorithm: str) -> None:
    assert type(e) is ferroftp.IntegrityError
    assert (e.kind, e.code) == ("integrity", None)
    assert "checksum mismatch" in str(e) and algorithm in str(e), str(e)
    assert isinstance(e, ferroftp.Error) and isinstance(e, ftplib.Error)
    assert not isinstance(e, OSError) and not isinstance(e, ftplib.error_perm)


def lying_setup(
    server: Server, name: str, seed: int, tmp_path: Path
) -> tuple[str, Path, bytes, Path, Path]:
    """A remote directory ``name`` holding ``f.bin`` (60 kB) and ``kept.bin``; returns (remote,
    its local path, the payload, a local copy of it, an empty local directory)."""
    remote, on_server = server.dir(name)
    payload = data(60_000, seed)
    server.put(f"{name}/f.bin", payload)
    server.put(f"{name}/kept.bin", b"kept")
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    local = tmp_path / "local"
    local.mkdir()
    return remote, on_server, payload, src, local


def test_lying_server(lying_server: Server, tmp_path: Path) -> None:
    remote, on_server, payload, src, local = lying_setup(lying_server, "lie-sync", 8, tmp_path)
    (local / "old.bin").write_bytes(b"old")
    with ferroftp.connect(lying_server.url, **OPTIONS) as s:
        for mode, algorithm in MODES.items():
            for resume in (False, True):
                # an existing target keeps its content; a new one is not created; no part file
                for target in ("old.bin", "new.bin"):
                    with pytest.raises(ferroftp.IntegrityError) as info:
                        s.download(f"{remote}/f.bin", local / target, checksum=mode, resume=resume)
                    check_integrity(info.value, algorithm)
                    assert "discarded" in str(info.value)
                    assert os.listdir(local) == ["old.bin"], (mode, resume, target)
                    assert (local / "old.bin").read_bytes() == b"old"
            # a plain upload's file stays as stored (the error says so); an atomic upload's
            # temporary file is removed and the target left as it was
            plain = f"{remote}/plain-{mode}.bin"
            with pytest.raises(ferroftp.IntegrityError) as info:
                s.upload(src, plain, checksum=mode)
            check_integrity(info.value, algorithm)
            assert "left as the server stored it" in str(info.value)
            assert (on_server / f"plain-{mode}.bin").read_bytes() == payload
            with pytest.raises(ferroftp.IntegrityError) as info:
                s.upload(src, f"{remote}/kept.bin", checksum=mode, atomic=True)
            check_integrity(info.value, algorithm)
            assert (on_server / "kept.bin").read_bytes() == b"kept"
        plains = [f"plain-{m}.bin" for m in MODES]
        assert sorted(os.listdir(on_server)) == sorted(["f.bin", "kept.bin", *plains])
        # the session goes on; without a checksum the same download succeeds
        assert s.download(f"{remote}/f.bin", local / "new.bin") == len(payload)
        assert (local / "new.bin").read_bytes() == payload


def test_lying_server_async(lying_server: Server, tmp_path: Path) -> None:
    remote, on_server, _, src, local = lying_setup(lying_server, "lie-async", 9, tmp_path)

    async def main() -> None:
        async with await connect_async(lying_server) as s:
            for mode, algorithm in MODES.items():
                with pytest.raises(ferroftp.IntegrityError) as info:
                    await s.download(f"{remote}/f.bin", local / "new.bin", checksum=mode)
                check_integrity(info.value, algorithm)
                assert os.listdir(local) == [], mode
                with pytest.raises(ferroftp.IntegrityError) as info:
                    await s.upload(src, f"{remote}/kept.bin", checksum=mode, atomic=True)
                check_integrity(info.value, algorithm)
                assert (on_server / "kept.bin").read_bytes() == b"kept"
                assert sorted(os.listdir(on_server)) == ["f.bin", "kept.bin"], mode
            assert await s.size(f"{remote}/kept.bin") == 4

    asyncio.run(main())


# --- a server without checksums ----------------------------------------------------------------


def check_not_offered(e: ferroftp.PermanentError) -> None:
    assert type(e) is ferroftp.PermanentError
    assert (e.kind, e.code) == ("permanent", None)
    assert "a checksum is required" in str(e), str(e)


def test_required_checksum_against_vsftpd(servers: Servers, tmp_path: Path) -> None:
    """vsftpd offers no checksum: "required" or one algorithm fails before any data moves and
    creates nothing on either side; "if-available" transfers as usual."""
    vsftpd = servers.get("vsftpd")
    remote, on_server = vsftpd.dir("no-checksum")
    payload = data(40_000, 10)
    vsftpd.put("no-checksum/f.bin", payload)
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    local = tmp_path / "local"
    local.mkdir()
    with ferroftp.connect(vsftpd.url, **OPTIONS) as s:
        for mode in ("required", *ALGORITHMS):
            with pytest.raises(ferroftp.PermanentError) as info:
                s.download(f"{remote}/f.bin", local / "f.bin", checksum=mode)
            check_not_offered(info.value)
            for atomic in (False, True):
                with pytest.raises(ferroftp.PermanentError) as info:
                    s.upload(src, f"{remote}/new.bin", checksum=mode, atomic=atomic)
                check_not_offered(info.value)
            assert os.listdir(local) == [] and os.listdir(on_server) == ["f.bin"], mode
        assert s.download(f"{remote}/f.bin", local / "f.bin", checksum="if-available") == 40_000
        assert (local / "f.bin").read_bytes() == payload
        assert s.upload(src, f"{remote}/copy.bin", checksum="if-available") == 40_000
        assert (on_server / "copy.bin").read_bytes() == payload

    async def main() -> None:
        async with await connect_async(vsftpd) as s:
            for mode in ("required", "crc32"):
                with pytest.raises(ferroftp.PermanentError) as info:
                    await s.download(f"{remote}/f.bin", local / "async.bin", checksum=mode)
                check_not_offered(info.value)
                with pytest.raises(ferroftp.PermanentError) as info:
                    await s.upload(src, f"{remote}/async.bin", checksum=mode)
                check_not_offered(info.value)
            assert sorted(os.listdir(local)) == ["f.bin"]
            assert sorted(os.listdir(on_server)) == ["copy.bin", "f.bin"]

    asyncio.run(main())


# --- wrong arguments ---------------------------------------------------------------------------

BAD_CHECKSUMS: list[tuple[object, type[Exception]]] = [
    (1, TypeError),
    (True, TypeError),
    (b"sha256", TypeError),
    (["md5"], TypeError),
    ("sha3", ValueError),
    ("sha-256", ValueError),
    ("off", ValueError),
    ("", ValueError),
]
BAD_VERIFY: list[object] = ["yes", 1, None]


def calls(s: Any, remote: str, src: Path, target: Path) -> list[Callable[..., Any]]:
    """A session's download and upload, each taking only the keyword options."""
    return [
        lambda **kw: s.download(f"{remote}/f.bin", target, **kw),
        lambda **kw: s.upload(src, f"{remote}/g.bin", **kw),
    ]


def test_wrong_arguments(hash_server: LoggedServer, tmp_path: Path) -> None:
    srv = hash_server.server
    remote, on_server = srv.dir("wrong-arguments")
    srv.put("wrong-arguments/f.bin", b"data")
    src = tmp_path / "src.bin"
    src.write_bytes(b"data")
    target = tmp_path / "f.bin"

    def check(transfers: list[Callable[..., Any]]) -> None:
        for call in transfers:
            for value, error in BAD_CHECKSUMS:
                with pytest.raises(error, match="checksum") as info:
                    call(checksum=value)
                assert not isinstance(info.value, ferroftp.Error)
            for value in BAD_VERIFY:
                with pytest.raises(TypeError, match="verify"):
                    call(verify=value)
        assert not target.exists() and os.listdir(on_server) == ["f.bin"]

    with ferroftp.connect(srv.url, **OPTIONS) as s:
        check(calls(s, remote, src, target))
        # file objects: their transfers always check the size and compute no checksum
        sink = io.BytesIO()
        with pytest.raises(NotImplementedError, match="checksum"):
            s.download(f"{remote}/f.bin", sink, checksum="sha256")
        with pytest.raises(NotImplementedError, match="verify=False"):
            s.download(f"{remote}/f.bin", sink, verify=False)
        with pytest.raises(NotImplementedError, match="checksum"):
            s.upload(io.BytesIO(b"x"), f"{remote}/g.bin", checksum="if-available")
        with pytest.raises(NotImplementedError, match="verify=False"):
            s.upload(io.BytesIO(b"x"), f"{remote}/g.bin", verify=False)
        assert sink.getvalue() == b""
        # the defaults, spelled out, work with a file object
        assert s.download(f"{remote}/f.bin", sink, verify=True, checksum=None) == 4
        assert sink.getvalue() == b"data"

    async def main() -> None:
        async with await connect_async(srv) as s:
            check(calls(s, remote, src, target))
            with pytest.raises(NotImplementedError, match="checksum"):
                s.download(f"{remote}/f.bin", io.BytesIO(), checksum="md5")
            with pytest.raises(NotImplementedError, match="verify=False"):
                s.upload(io.BytesIO(b"x"), f"{remote}/g.bin", verify=False)

    asyncio.run(main())
    assert os.listdir(on_server) == ["f.bin"]
