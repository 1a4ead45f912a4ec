"""Wrong argument types and values: TypeError / ValueError with a clear message, and the
session stays usable."""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from conftest import OPTIONS, Server

import ferroftp


def test_public_names() -> None:
    for name in (
        "connect",
        "connect_async",
        "Session",
        "AsyncSession",
        "Entry",
        "RemoteFile",
        "AsyncRemoteFile",
        "Error",
        "PermanentError",
        "TransientError",
        "NotFoundError",
        "AuthenticationError",
        "ConnectionError",
        "TimeoutError",
        "ProtocolError",
        "TlsError",
        "__version__",
    ):
        assert hasattr(ferroftp, name), name
        assert name in ferroftp.__all__
    assert isinstance(ferroftp.__version__, str)
    # Sessions come from connect(); there is no other constructor.
    with pytest.raises(TypeError):
        ferroftp.Session()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"timeout": -1}, ValueError, "timeout"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": float("nan")}, ValueError, "timeout"),
        ({"timeout": "10"}, TypeError, "timeout"),
        ({"connect_timeout": -5.0}, ValueError, "connect_timeout"),
        ({"tls": "sometimes"}, ValueError, "tls"),
        ({"tls": True}, TypeError, "tls"),
        ({"verify": "yes"}, TypeError, "verify"),
        ({"ca_file": 42}, TypeError, "ca_file"),
        ({"data_mode": "fast"}, ValueError, "data_mode"),
        ({"data_mode": 1}, TypeError, "data_mode"),
        ({"retries": -1}, ValueError, "retries"),
        ({"retries": 1.5}, TypeError, "retries"),
        ({"pipelining": 1}, TypeError, "pipelining"),
        ({"verify": None}, TypeError, "verify"),
        ({"tls_server_name": b"host"}, TypeError, "tls_server_name"),
        ({"buffer_size": 0}, ValueError, "buffer_size"),
        ({"buffer_size": 2**70}, ValueError, "buffer_size"),
        ({"buffer_size": 1.0}, TypeError, "buffer_size"),
        ({"timeout": 10**400}, ValueError, "timeout"),
        ({"bogus": 1}, TypeError, "bogus"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], error: type[Exception], needle: str) -> None:
    with pytest.raises(error, match=needle):
        ferroftp.connect("ftp://127.0.0.1:1", **kwargs)


@pytest.mark.parametrize("pipelining", [True, False])
def test_pipelining_on_and_off(server: Server, workdir: tuple[str, Path], pipelining: bool) -> None:
    remote, _ = workdir
    bodies = [bytes([i]) * (i * 3000) for i in range(6)]
    with ferroftp.connect(server.url, pipelining=pipelining, **OPTIONS) as s:
        for i, body in enumerate(bodies):
            s.write_bytes(f"{remote}/p{i}", body)
        for i, body in enumerate(bodies):
            assert s.read_bytes(f"{remote}/p{i}") == body
            if i == 2:
                assert s.size(f"{remote}/p{i}") == len(body)
        assert sorted(e.name for e in s.list(remote)) == [f"p{i}" for i in range(6)]


def test_bad_url_types() -> None:
    with pytest.raises(TypeError, match="url"):
        ferroftp.connect(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ferroftp.connect("ftp://127.0.0.1:1", 30.0)  # type: ignore[misc]  # options: keyword-only
    with pytest.raises(TypeError):
        ferroftp.connect_async(b"ftp://127.0.0.1:1")  # type: ignore[arg-type]


def test_bad_arguments_to_methods(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, _ = workdir
    with ferroftp.connect(server.url, **OPTIONS) as s:
        s.write_bytes(f"{remote}/f", b"f")
        bad: list[tuple[Any, type[Exception]]] = [
            (lambda: s.size(123), TypeError),
            (lambda: s.size(None), TypeError),
            (lambda: s.size(bytearray(b"/f")), TypeError),  # str or bytes only
            (lambda: s.size(memoryview(b"/f")), TypeError),
            (lambda: s.size(PurePosixPath("/f")), TypeError),
            (lambda: s.list(1), TypeError),
            (lambda: s.rename(f"{remote}/f"), TypeError),
            (lambda: s.write_bytes(f"{remote}/g", "text is not bytes"), TypeError),
            (lambda: s.write_bytes(f"{remote}/g", 12), TypeError),
            (lambda: s.download(f"{remote}/f", 12), TypeError),
            (lambda: s.download(f"{remote}/f", None), TypeError),
            (lambda: s.upload(object(), f"{remote}/g"), TypeError),
            (lambda: s.download(f"{remote}/f", tmp_path / "x", progress=5), TypeError),
            (lambda: s.download(f"{remote}/f", tmp_path / "x", resume="no"), TypeError),
            (lambda: s.mkdir(f"{remote}/d", True), TypeError),  # keyword-only
            (lambda: s.mkdir(f"{remote}/d", parents="yes"), TypeError),
            (lambda: s.open(f"{remote}/f", "r"), ValueError),
            (lambda: s.open(f"{remote}/f", "w"), ValueError),
            (lambda: s.open(f"{remote}/f", "ab"), ValueError),
            (lambda: s.quote(["NOOP"]), TypeError),
        ]
        for call, error in bad:
            with pytest.raises(error) as info:
                call()
            assert str(info.value), "the message must say what is wrong"
        with s.open(f"{remote}/f") as f, pytest.raises(TypeError):
            f.read("10")  # type: ignore[arg-type]
        with s.open(f"{remote}/g", "wb") as f:
            with pytest.raises(TypeError):
                f.write("text")  # type: ignore[arg-type]
            f.write(b"ok")
        # Nothing above broke the session.
        assert s.read_bytes(f"{remote}/g") == b"ok"
        assert s.upload(io.BytesIO(b"z"), f"{remote}/z") == 1


@pytest.mark.asyncio
async def test_bad_arguments_async(server: Server) -> None:
    async with await ferroftp.connect_async(server.url, **OPTIONS) as s:
        with pytest.raises(TypeError):
            s.size(1)  # type: ignore[arg-type]  # raised at once, before anything is awaited
        with pytest.raises(ValueError):
            s.open("/f", "rt")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            s.write_bytes("/f", "str")  # type: ignore[arg-type]
        assert await s.pwd() == "/"


def test_awaitables_need_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match="loop"):
        ferroftp.connect_async("ftp://127.0.0.1:1")
