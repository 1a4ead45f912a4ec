"""The ``ferroftp`` command, run as a process against the real servers: every subcommand, where
credentials come from, and the exit statuses a script can branch on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import Server, data, start_server

from ferroftp import cli


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ferroftp", "--timeout", "20", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=120,
    )


def bare(server: Server) -> str:
    """The server's URL without credentials."""
    parts = urlsplit(server.url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"


def test_put_ls_get_rm(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, local = workdir
    payload = data(300_000, 3)
    (tmp_path / "a b.bin").write_bytes(payload)
    url = f"{server.url}{remote}"
    done = run("put", str(tmp_path / "a b.bin"), f"{url}/")
    assert done.returncode == 0, done.stderr
    assert (local / "a b.bin").read_bytes() == payload

    listed = run("ls", url)
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()
    assert line.startswith("file") and line.endswith("  a b.bin")
    assert str(len(payload)) in line.split()

    down = tmp_path / "down"
    down.mkdir()
    got = run("get", f"{url}/a%20b.bin", str(down))
    assert got.returncode == 0, got.stderr
    assert (down / "a b.bin").read_bytes() == payload

    made = run("mkdir", "-p", f"{url}/x/y/z")
    assert made.returncode == 0, made.stderr
    assert (local / "x" / "y" / "z").is_dir()
    gone = run("rm", f"{url}/a%20b.bin")
    assert gone.returncode == 0, gone.stderr
    assert not (local / "a b.bin").exists()
    gone = run("rm", "-r", f"{url}/x")
    assert gone.returncode == 0, gone.stderr
    assert not (local / "x").exists()


def test_mirror_both_ways(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, local = workdir
    src = tmp_path / "src"
    files = {f"d{i % 3}/sub/f{i}.bin": data(1000 + i * 97, i) for i in range(40)}
    for name, content in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(content)
    up = run("mirror", "--reverse", "--jobs", "4", str(src), f"{server.url}{remote}/tree")
    assert up.returncode == 0, up.stderr
    assert up.stdout.startswith("40 transferred"), up.stdout
    for name, content in files.items():
        assert (local / "tree" / name).read_bytes() == content

    dest = tmp_path / "dest"
    down = run("mirror", "-j", "4", f"{server.url}{remote}/tree", str(dest))
    assert down.returncode == 0, down.stderr
    for name, content in files.items():
        assert (dest / name).read_bytes() == content
    again = run("mirror", "--skip-existing", f"{server.url}{remote}/tree", str(dest))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 transferred"), again.stdout
    assert "40 skipped" in again.stdout


def test_credentials_from_env_and_netrc(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    server.put(f"{local.name}/c.txt", b"credentials")
    url = f"{bare(server)}{remote}/c.txt"
    env = {"FERROFTP_USER": server.user, "FERROFTP_PASSWORD": server.password}
    got = run("get", url, str(tmp_path / "env.txt"), env=env)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "env.txt").read_bytes() == b"credentials"

    home = tmp_path / "home"
    home.mkdir()
    rc = home / ".netrc"
    rc.write_text(f"machine {server.host} login {server.user} password {server.password}\n")
    rc.chmod(0o600)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FERROFTP_USER")}
    got = subprocess.run(
        [sys.executable, "-m", "ferroftp", "get", url, str(tmp_path / "netrc.txt")],
        capture_output=True,
        text=True,
        env={**clean, "HOME": str(home)},
        timeout=120,
    )
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "netrc.txt").read_bytes() == b"credentials"


def test_exit_statuses(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, local = workdir
    missing = run("get", f"{server.url}{remote}/nope.bin", str(tmp_path / "nope.bin"))
    assert missing.returncode == cli.EXIT_NOT_FOUND, missing.stderr
    assert "nope.bin" in missing.stderr
    assert not (tmp_path / "nope.bin").exists()
    wrong = server.url.replace(f":{server.password}@", ":wrong@")
    refused = run("--retries", "0", "ls", f"{wrong}/")
    assert refused.returncode == cli.EXIT_AUTH, refused.stderr
    assert "wrong" not in refused.stderr
    assert run("ls", "http://example.invalid/").returncode == cli.EXIT_USAGE
    assert run("frobnicate").returncode == cli.EXIT_USAGE
    no_local = run("put", str(tmp_path / "absent.bin"), f"{server.url}{remote}/")
    assert no_local.returncode == cli.EXIT_NOT_FOUND, no_local.stderr
    # A batch in which one file fails: the rest arrive, and the status says "partial".
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.bin").write_bytes(b"ok")
    (src / "locked.bin").write_bytes(b"locked")
    (local / "batch").mkdir()
    server.own(local / "batch")
    (local / "batch" / "locked.bin").mkdir()  # a directory where a file should go
    server.own(local / "batch" / "locked.bin")
    partial = run("mirror", "--reverse", str(src), f"{server.url}{remote}/batch")
    assert partial.returncode == cli.EXIT_PARTIAL, (partial.stdout, partial.stderr)
    assert "locked.bin" in partial.stderr
    assert (local / "batch" / "ok.bin").read_bytes() == b"ok"


@pytest.mark.parametrize(
    ("url", "server", "path"),
    [
        ("ftp://h/p/a.txt", "ftp://h", "/p/a.txt"),
        ("ftpes://u:p%40ss@h:2121/a%20b/", "ftpes://u:p%40ss@h:2121", "/a b/"),
        ("ftps://[::1]:990", "ftps://[::1]:990", "/"),
    ],
)
def test_url_parsing(url: str, server: str, path: str, tmp_path: Path) -> None:
    target = cli.parse_url(url, env={}, netrc_file=str(tmp_path / "none"))
    assert (target.server, target.path) == (server, path)


def test_netrc_default_entry(tmp_path: Path) -> None:
    rc = tmp_path / "netrc"
    rc.write_text("default login anon password me@example.org\n")
    rc.chmod(0o600)
    target = cli.parse_url("ftp://h/x", env={}, netrc_file=str(rc))
    assert target.server == "ftp://anon:me%40example.org@h"


def test_tls_trust_options(tmp_path: Path) -> None:
    """The TLS options: a pinned self-signed certificate (--ca-file), a client certificate
    (--client-cert/--client-key), and the refusals' one-line errors with exit status 1."""
    srv = start_server("vsftpd", "--tls", "explicit", "--cert", "self-signed", "--client-ca")
    try:
        remote, local = srv.dir("cli-tls")
        (local / "t.txt").write_bytes(b"over TLS")
        srv.own(local / "t.txt")
        url = f"ftpes://{srv.user}:{srv.password}@{srv.host}:{srv.port}{remote}/t.txt"
        pin = ("--ca-file", srv.info["cafile"])
        cert = ("--client-cert", srv.info["client_cert"], "--client-key", srv.info["client_key"])
        got = run(*pin, *cert, "get", url, str(tmp_path / "t.txt"))
        assert got.returncode == 0, got.stderr
        assert (tmp_path / "t.txt").read_bytes() == b"over TLS"

        refused = run("--retries", "0", *cert, "get", url, str(tmp_path / "u.txt"))
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert "pass that certificate itself as --ca-file" in refused.stderr, refused.stderr
        refused = run("--retries", "0", *pin, "get", url, str(tmp_path / "u.txt"))
        assert refused.returncode == 1, refused.stderr
        assert "requires a client certificate" in refused.stderr, refused.stderr
        assert not (tmp_path / "u.txt").exists()
    finally:
        srv.stop()
