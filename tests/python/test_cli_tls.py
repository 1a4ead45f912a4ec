"""``ferroftp`` over explicit TLS: every kind of command with ``--ca-file`` (ftpes://, and
ftp:// with ``--tls explicit``), ``--insecure``, a pinned self-signed certificate, a client
certificate, and the refusals' one-line errors naming this command's options (exit status 1)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import data, start_server
from test_cli import ok, run
from test_cli_mirror import contents, write_tree

from ferroftp.cli import EXIT_FAILED


def test_explicit_tls_with_ca_file(tmp_path: Path) -> None:
    srv = start_server("pyftpdlib", "--tls", "explicit")
    try:
        remote, local = srv.dir("cli-tls")
        auth = f"{srv.user}:{srv.password}@{srv.host}:{srv.port}"
        ca = ("--ca-file", srv.info["cafile"])
        for url in (f"ftpes://{auth}{remote}", f"ftp://{auth}{remote}"):
            tls = ("--tls", "explicit") if url.startswith("ftp:") else ()
            name = url.split(":", 1)[0]
            payload = data(200_000, len(name))
            (tmp_path / f"{name}.bin").write_bytes(payload)
            ok("put", str(tmp_path / f"{name}.bin"), f"{url}/", *ca, *tls)
            assert (local / f"{name}.bin").read_bytes() == payload
            (entry,) = [
                json.loads(x)
                for x in ok("ls", "--json", f"{url}/{name}.bin", *ca, *tls).splitlines()
            ]
            assert entry["size"] == len(payload)
            ok("get", *ca, *tls, f"{url}/{name}.bin", str(tmp_path / f"{name}.down"))
            assert (tmp_path / f"{name}.down").read_bytes() == payload

        files = {f"d{i % 2}/f{i}.txt": f"file {i}".encode() for i in range(6)}
        write_tree(tmp_path / "tree", files)
        ok("mirror", "-j", "3", *ca, str(tmp_path / "tree"), f"ftpes://{auth}{remote}/tree")
        assert contents(local / "tree") == files
        ok("mirror", f"ftp://{auth}{remote}/tree", str(tmp_path / "back"), "--tls=explicit", *ca)
        assert contents(tmp_path / "back") == files

        # Without --ca-file the throw-away CA is unknown: one line saying what to pass.
        refused = run("ls", "--retries", "0", f"ftpes://{auth}{remote}")
        assert refused.returncode == EXIT_FAILED, refused
        (line,) = refused.stderr.splitlines()
        assert "pass --ca-file" in line and "--insecure" in line, line
        ok("ls", "--insecure", f"ftpes://{auth}{remote}")
    finally:
        srv.stop()


def test_pinned_certificate_and_client_certificate(tmp_path: Path) -> None:
    """A pinned self-signed certificate (--ca-file), a client certificate
    (--client-cert/--client-key), and the refusals' one-line errors with exit status 1."""
    srv = start_server("vsftpd", "--tls", "explicit", "--cert", "self-signed", "--client-ca")
    try:
        remote, local = srv.dir("cli-tls")
        (local / "t.txt").write_bytes(b"over TLS")
        srv.own(local / "t.txt")
        url = f"ftpes://{srv.user}:{srv.password}@{srv.host}:{srv.port}{remote}/t.txt"
        pin = ("--ca-file", srv.info["cafile"])
        cert = ("--client-cert", srv.info["client_cert"], "--client-key", srv.info["client_key"])
        ok(*pin, *cert, "get", url, str(tmp_path / "t.txt"))
        assert (tmp_path / "t.txt").read_bytes() == b"over TLS"

        refused = run("--retries", "0", *cert, "get", url, str(tmp_path / "u.txt"))
        assert refused.returncode == EXIT_FAILED, refused.stderr
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert "pass that certificate itself as --ca-file" in refused.stderr, refused.stderr
        refused = run("--retries", "0", *pin, "get", url, str(tmp_path / "u.txt"))
        assert refused.returncode == EXIT_FAILED, refused.stderr
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert "requires a client certificate" in refused.stderr, refused.stderr
        assert not (tmp_path / "u.txt").exists()
    finally:
        srv.stop()
