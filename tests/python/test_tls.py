"""FTPS through the Python options: explicit TLS (pyftpdlib, vsftpd), implicit TLS (vsftpd),
certificate checks (ca_file, verify) and TlsError."""

from __future__ import annotations

import asyncio
import shutil
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


def test_pinned_self_signed_certificate() -> None:
    """A self-signed CA:TRUE certificate (``openssl req -x509``) given itself as ``ca_file``
    is trusted; without it the error says how to pin it."""
    srv = start_server("vsftpd", "--tls", "explicit", "--cert", "self-signed")
    try:
        remote, _ = srv.dir("pinned")
        with ferroftp.connect(tls_url(srv), ca_file=srv.info["cafile"], **OPTIONS) as s:
            s.write_bytes(f"{remote}/p.bin", b"pinned")
            assert s.read_bytes(f"{remote}/p.bin") == b"pinned"
        with pytest.raises(ferroftp.TlsError, match="ca_file"):
            ferroftp.connect(tls_url(srv), retries=0, **OPTIONS)
    finally:
        srv.stop()


def test_tls_server_name() -> None:
    """A certificate issued for another name than the host connected to: refused, then
    accepted with ``tls_server_name``."""
    srv = start_server("pyftpdlib", "--tls", "explicit", "--cert-name", "ftp.example.test")
    try:
        cafile = srv.info["cafile"]
        with pytest.raises(ferroftp.TlsError, match="tls_server_name"):
            ferroftp.connect(tls_url(srv), ca_file=cafile, retries=0, **OPTIONS)
        with ferroftp.connect(
            tls_url(srv), ca_file=cafile, tls_server_name="ftp.example.test", **OPTIONS
        ) as s:
            s.write_bytes("/n.bin", b"named")
            assert s.read_bytes("/n.bin") == b"named"
    finally:
        srv.stop()


def test_client_certificate() -> None:
    """vsftpd with ``require_cert``: our client certificate is accepted, none is refused."""
    srv = start_server("vsftpd", "--tls", "explicit", "--client-ca")
    try:
        remote, _ = srv.dir("client")
        cert = {"client_cert": srv.info["client_cert"], "client_key": srv.info["client_key"]}
        with ferroftp.connect(tls_url(srv), ca_file=srv.info["cafile"], **cert, **OPTIONS) as s:
            s.write_bytes(f"{remote}/c.bin", b"with a client certificate")
            assert s.read_bytes(f"{remote}/c.bin") == b"with a client certificate"
        with pytest.raises(ferroftp.TlsError, match="requires a client certificate"):
            ferroftp.connect(tls_url(srv), ca_file=srv.info["cafile"], retries=0, **OPTIONS)
    finally:
        srv.stop()


def test_tls_option_types() -> None:
    with pytest.raises(TypeError, match="tls_server_name must be a str"):
        ferroftp.connect("ftpes://127.0.0.1:1", tls_server_name=b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="client_cert must be a path"):
        ferroftp.connect("ftpes://127.0.0.1:1", client_cert=3)  # type: ignore[arg-type]
    with pytest.raises(ferroftp.InvalidInputError, match="client_key"):
        ferroftp.connect("ftpes://127.0.0.1:1", client_cert="/c.pem")


def test_uploads_over_a_slow_link() -> None:
    """Through a 20 ms latency proxy to vsftpd (which requires TLS session reuse on data
    connections), a pool's uploads and downloads all succeed with every byte right."""
    srv = start_server("vsftpd", "--tls", "explicit", "--rtt-ms", "20")
    try:
        remote, local = srv.dir("slow")
        src = local.parent / "slow-src"
        src.mkdir(exist_ok=True)
        try:
            items = []
            for i in range(40):
                (src / f"f{i}").write_bytes(data(4096, i))
                items.append((str(src / f"f{i}"), f"{remote}/f{i}"))
            with ferroftp.Pool(
                tls_url(srv), max_sessions=4, ca_file=srv.info["cafile"], **OPTIONS
            ) as pool:
                result = pool.upload_many(items)
                assert not result.failed, result.failed
                back = [(f"{remote}/f{i}", str(src / f"b{i}")) for i in range(40)]
                result = pool.download_many(back)
                assert not result.failed, result.failed
            for i in range(40):
                assert (local / f"f{i}").read_bytes() == data(4096, i)
                assert (src / f"b{i}").read_bytes() == data(4096, i)
        finally:
            shutil.rmtree(src, ignore_errors=True)
    finally:
        srv.stop()
