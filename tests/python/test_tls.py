"""FTPS through the Python options: explicit TLS (pyftpdlib, vsftpd), implicit TLS (vsftpd),
certificate checks (ca_file, verify) and TlsError."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from conftest import OPTIONS, Server, data, start_server

import ferroftp

CASES = [("pyftpdlib", "explicit"), ("vsftpd", "explicit"), ("vsftpd", "implicit")]


@pytest.fixture(scope="module", params=CASES, ids=[f"{k}-{t}" for k, t in CASES])
def tls_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    kind, mode = request.param
    srv = start_server(kind, "--tls", mode)
    yield srv
    srv.stop()


def tls_url(srv: Server) -> str:
    scheme = "ftps" if srv.info["tls"] == "implicit" else "ftpes"
    return f"{scheme}://{srv.user}:{srv.password}@{srv.host}:{srv.port}"


def test_tls_round_trip(tls_server: Server) -> None:
    remote, local = tls_server.dir("tls")
    payload = data(300_000, 31)
    with ferroftp.connect(tls_url(tls_server), ca_file=tls_server.info["cafile"], **OPTIONS) as s:
        s.write_bytes(f"{remote}/t.bin", payload)
        assert s.read_bytes(f"{remote}/t.bin") == payload
        assert [e.name for e in s.list(remote)] == ["t.bin"]
        assert s.size(f"{remote}/t.bin") == len(payload)
    assert (local / "t.bin").read_bytes() == payload


def test_tls_option_overrides_the_scheme(tls_server: Server) -> None:
    if tls_server.info["tls"] != "explicit":
        # implicit TLS needs TLS from the first byte: the option works the same way
        url = f"ftp://{tls_server.user}:{tls_server.password}@127.0.0.1:{tls_server.port}"
        mode = "implicit"
    else:
        url = tls_server.url
        mode = "explicit"
    with ferroftp.connect(url, tls=mode, ca_file=tls_server.info["cafile"], **OPTIONS) as s:
        assert s.pwd() == "/"


def test_tls_async(tls_server: Server) -> None:
    async def main() -> bytes:
        url = tls_url(tls_server)
        async with await ferroftp.connect_async(
            url, ca_file=tls_server.info["cafile"], **OPTIONS
        ) as s:
            await s.write_bytes("/a.bin", b"async over TLS")
            return await s.read_bytes("/a.bin")

    assert asyncio.run(main()) == b"async over TLS"


def test_untrusted_certificate_is_a_tls_error(tls_server: Server) -> None:
    with pytest.raises(ferroftp.TlsError) as info:
        ferroftp.connect(tls_url(tls_server), retries=0, **OPTIONS)
    assert info.value.code is None
    assert info.value.kind == "tls"
    assert isinstance(info.value, OSError)
    # Without verification (testing only) the same server is accepted.
    with ferroftp.connect(tls_url(tls_server), verify=False, **OPTIONS) as s:
        s.noop()
