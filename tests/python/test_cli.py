"""The ``ferroftp`` command, run as a process (the installed console script) against the real
servers: every command and option, where credentials come from, and the connection options made
from the core's settings table. Failures and exit statuses: ``test_cli_failures.py``; mirror:
``test_cli_mirror.py``; what a person sees in a terminal: ``test_cli_terminal.py``."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import Server, Servers, data

from ferroftp import _native
from ferroftp.cli import credentials, options
from ferroftp.cli.parser import COMMANDS, parse
from ferroftp.cli.urls import parse_url

#: The installed console script (``[project.scripts]``), beside the venv's Python.
FERROFTP = Path(sys.executable).with_name("ferroftp")


def clean_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a run: no FERROFTP_* variables, HOME without a .netrc (unless
    ``home`` has one), never a terminal's TERM (stderr is a pipe here anyway)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERROFTP_")}
    env["HOME"] = str(home) if home is not None else "/nonexistent"
    env.update(extra)
    return env


def run(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """Runs ``ferroftp ARGS --timeout 20`` (an option after the arguments, as people write
    them); stdout and stderr as text."""
    done = subprocess.run(
        [str(FERROFTP), *args, "--timeout", "20"],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        env=env if env is not None else clean_env(),
        cwd=cwd,
        timeout=120,
    )
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def ok(*args: str, **kw: object) -> str:
    """Runs the command, asserts exit status 0, and returns its stdout."""
    done = run(*args, **kw)  # type: ignore[arg-type]
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def bare(server: Server) -> str:
    """The server's URL without credentials."""
    parts = urlsplit(server.url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"


def test_the_installed_command_and_python_m() -> None:
    assert FERROFTP.exists(), f"{FERROFTP}: the console script is not installed"
    version = subprocess.run(
        [sys.executable, "-m", "ferroftp", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("ferroftp "), version
    top = ok("--help")
    for command in COMMANDS:
        assert re.search(rf"^  {command.name} +{re.escape(command.summary)}$", top, re.M), top
        helped = ok(command.name, "--help")
        assert helped.startswith(f"usage: ferroftp {command.name} [OPTIONS]"), helped
        assert "example" in helped and command.examples[0] in helped, helped
        assert "exit status: 0 done" in helped, helped


def test_put_ls_get_rm(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, local = workdir
    payload = data(300_000, 3)
    (tmp_path / "a b.bin").write_bytes(payload)
    url = f"{server.url}{remote}"
    ok("put", str(tmp_path / "a b.bin"), f"{url}/")
    assert (local / "a b.bin").read_bytes() == payload

    assert ok("ls", url).splitlines() == ["a b.bin"]
    (line,) = ok("ls", "-l", url).splitlines()
    assert line.startswith("-") and line.endswith("  a b.bin"), line
    assert str(len(payload)) in line.split(), line
    (obj,) = [json.loads(x) for x in ok("ls", "--json", url).splitlines()]
    assert set(obj) == {"name", "path", "type", "size", "mtime", "permissions", "target"}
    assert (obj["name"], obj["path"], obj["type"], obj["size"]) == (
        "a b.bin",
        f"{remote}/a b.bin",
        "file",
        len(payload),
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", obj["mtime"]), obj
    assert ok("ls", "-l", f"{url}/a%20b.bin").endswith(f"  {remote}/a b.bin\n")

    down = tmp_path / "down"
    down.mkdir()
    ok("get", f"{url}/a%20b.bin", str(down))
    assert (down / "a b.bin").read_bytes() == payload
    ok("get", f"{url}/a%20b.bin", cwd=down / "..")  # default: the remote name, here
    assert (tmp_path / "a b.bin").read_bytes() == payload

    ok("mkdir", "-p", f"{url}/x/y/z")
    assert (local / "x" / "y" / "z").is_dir()
    tree = [json.loads(x) for x in ok("ls", "-R", "--json", url).splitlines()]
    assert [(o["path"], o["type"]) for o in tree] == [
        (f"{remote}/a b.bin", "file"),
        (f"{remote}/x", "dir"),
        (f"{remote}/x/y", "dir"),
        (f"{remote}/x/y/z", "dir"),
    ]
    assert ok("ls", "-R", url).splitlines() == ["a b.bin", "x", "x/y", "x/y/z"]
    ok("rm", f"{url}/a%20b.bin")
    assert not (local / "a b.bin").exists()
    ok("rm", "-r", f"{url}/x")
    assert not (local / "x").exists()
    assert ok("ls", url) == ""


def test_wildcards_and_streams(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    """Wildcards on both sides (batch transfers with --jobs, and one at a time), ``-`` for
    stdout and stdin, ``cat``, and ``get … - | sha256sum``."""
    remote, local = workdir
    url = f"{server.url}{remote}"
    src = tmp_path / "src"
    src.mkdir()
    files = {f"r{i}.csv": data(20_000 + i, i) for i in range(5)}
    for name, content in files.items():
        (src / name).write_bytes(content)
    (src / "skip.txt").write_bytes(b"not a csv")
    ok("mkdir", f"{url}/in")
    ok("put", "--jobs", "3", str(src / "*.csv"), f"{url}/in/")  # a local wildcard, batched
    assert sorted(p.name for p in (local / "in").iterdir()) == sorted(files)
    ok("mkdir", f"{url}/one")
    ok("put", "-j", "1", str(src / "skip.txt"), str(src / "r0.csv"), f"{url}/one/")
    assert (local / "one" / "skip.txt").read_bytes() == b"not a csv"

    out = tmp_path / "out"
    ok("get", f"{url}/in/*.csv", str(out) + "/")  # remote wildcard, --jobs 4: a batch
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files
    one = tmp_path / "one"
    ok("get", "-j", "1", f"{url}/in/r[13].csv", f"{url}/in/r0.csv", str(one) + "/")
    assert sorted(p.name for p in one.iterdir()) == ["r0.csv", "r1.csv", "r3.csv"]
    ok("get", f"{url}/in/r2.csv", str(tmp_path / "renamed.csv"))
    assert (tmp_path / "renamed.csv").read_bytes() == files["r2.csv"]

    # A wildcard character percent-encoded is a literal one.
    server.put(f"{local.name}/in/star*.txt", b"literal star")
    server.put(f"{local.name}/in/starX.txt", b"no")
    ok("get", f"{url}/in/star%2A.txt", str(tmp_path / "star.txt"))
    assert (tmp_path / "star.txt").read_bytes() == b"literal star"

    # Streams: get -, cat, put -, and a pipe into sha256sum.
    big = data(3_000_000, 9)
    server.put(f"{local.name}/in/big.bin", big)
    assert run_bytes("get", f"{url}/in/big.bin", "-") == big
    piped = subprocess.run(
        f"'{FERROFTP}' get '{url}/in/big.bin' - | sha256sum",
        shell=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.split()[0] == hashlib.sha256(big).hexdigest()
    assert run_bytes("cat", f"{url}/in/r0.csv", f"{url}/in/r1.csv") == (
        files["r0.csv"] + files["r1.csv"]
    )
    assert run_bytes("get", f"{url}/in/r[01].csv", "-") == files["r0.csv"] + files["r1.csv"]
    ok("put", "-", f"{url}/in/stdin.bin", stdin=big)
    assert (local / "in" / "stdin.bin").read_bytes() == big


def run_bytes(*args: str) -> bytes:
    """Runs the command, asserts exit status 0, and returns its stdout's bytes."""
    done = subprocess.run(
        [str(FERROFTP), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=clean_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_mv_stat_chmod_quote_rmdir(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    url = f"{server.url}{remote}"
    for name in ("a.txt", "b.log", "c.log"):
        server.put(f"{local.name}/{name}", name.encode())
    ok("mkdir", f"{url}/logs")

    ok("mv", f"{url}/a.txt", "a2.txt")  # a name relative to the source's directory
    ok("mv", f"{url}/*.log", f"{remote}/logs/")  # several, into a directory
    ok("mv", f"{url}/a2.txt", f"{url}/logs")  # a URL naming a directory: into it
    ok("mv", f"{url}/logs/a2.txt", f"{url}/logs/a3.txt")  # a URL naming the new file
    assert sorted(p.name for p in (local / "logs").iterdir()) == ["a3.txt", "b.log", "c.log"]

    ok("chmod", "640", f"{url}/logs/*.log")
    for name in ("b.log", "c.log"):
        assert (local / "logs" / name).stat().st_mode & 0o777 == 0o640

    (info,) = [json.loads(x) for x in ok("stat", "--json", f"{url}/logs/a3.txt").splitlines()]
    assert (info["path"], info["type"], info["size"]) == (f"{remote}/logs/a3.txt", "file", 5)
    assert info["mtime"] is not None
    shown = ok("stat", f"{url}/logs")
    assert re.search(r"^type: +dir$", shown, re.M), shown
    both = [json.loads(x) for x in ok("stat", "--json", f"{url}/logs/*.log").splitlines()]
    assert [o["name"] for o in both] == ["b.log", "c.log"]

    assert ok("quote", f"{url}/", "NOOP").startswith("200")
    feat = ok("quote", f"{url}/", "FEAT")
    assert feat.startswith("211") and "SIZE" in feat, feat
    done = run("quote", f"{url}/", "NO-SUCH-COMMAND")
    assert done.returncode == 1, done
    assert done.stderr.startswith("ferroftp: NO-SUCH-COMMAND: 5") and done.stderr.count("\n") == 1

    ok("mkdir", f"{url}/empty")
    ok("rmdir", f"{url}/empty")
    assert not (local / "empty").exists()
    ok("rmdir", "-r", f"{url}/logs")
    assert not (local / "logs").exists()
    ok("rm", "-f", f"{url}/no-such-file", f"{url}/*.nothing")  # -f: missing is fine


#: Where an option goes on the line: before the command, between the command and its
#: arguments, between the arguments, at the end.
PLACES = (
    ["{o}", "get", "{u}", "{d}"],
    ["get", "{o}", "{u}", "{d}"],
    ["get", "{u}", "{o}", "{d}"],
    ["get", "{u}", "{d}", "{o}"],
)


def test_options_anywhere(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    """The data-mode shorthands and settings, each somewhere else on the line; ``-v`` shows
    the data command they chose, and never the password."""
    remote, local = workdir
    server.put(f"{local.name}/f.bin", data(100_000, 1))
    modes = {
        ("--passive",): "> PASV",
        ("--epsv",): "> EPSV",
        ("--active",): "> (PORT|EPRT) ",
        ("--data-mode", "pasv"): "> PASV",
        ("--no-pipelining", "--buffer-size", "8K"): "> (EPSV|PASV)",
        ("--data-mode=active", "--retries=1"): "> (PORT|EPRT) ",
        ("--connect-timeout", "5", "--epsv"): "> EPSV",
        ("--tls", "none", "--passive"): "> PASV",
    }
    for i, (option, shown) in enumerate(modes.items()):
        dest = tmp_path / f"f{i}.bin"
        line: list[str] = []
        for word in PLACES[i % len(PLACES)]:
            if word == "{o}":
                line.extend(["-v", *option])
            else:
                line.append(word.format(u=f"{server.url}{remote}/f.bin", d=str(dest)))
        done = run(*line)
        assert done.returncode == 0, (line, done.stderr)
        assert dest.read_bytes() == data(100_000, 1)
        assert re.search(f"^{shown}", done.stderr, re.M), (option, done.stderr)
        assert "> PASS ****" in done.stderr and server.password not in done.stderr


def test_connection_options_come_from_the_core() -> None:
    """Each setting of the core's table is an option, with the core's doc, choices and default;
    its value reaches the pool only when given; the shorthands stand for settings the core has;
    and a kind of setting this command cannot read fails here (the core gained one)."""
    helped = ok("--help")
    flat = " ".join(helped.split())
    for row in _native.SETTINGS:
        name, kind = row["name"], row["kind"]
        assert kind in (*options.KINDS, *options.SPECIAL_KINDS), f"{name}: kind {kind} unread"
        flag = options.option(name)
        assert flag in helped, (flag, helped)
        if row["choices"] is not None:
            assert f"{flag} {{{','.join(row['choices'])}}}" in flat, flag
        if row["default"] is not None and kind != "flag":
            assert f"(default: {row['default']})" in flat, (flag, row["default"])
        first_words = " ".join(options.name_options(row["doc"]).split()[:4])
        assert first_words in flat, (flag, first_words)

    url = "ftp://h/x"
    _, args = parse(["ls", url])
    assert options.chosen(args) == {}  # nothing given: the core's defaults apply
    given = [
        "--timeout=5",
        "--connect-timeout",
        "2.5",
        "--tls",
        "explicit",
        "--no-verify",
        "--ca-file",
        "~/ca.pem",
        "--tls-server-name",
        "example.org",
        "--client-cert",
        "c.pem",
        "--client-key",
        "k.pem",
        "--data-mode",
        "active",
        "--retries",
        "0",
        "--buffer-size",
        "2M",
        "--no-pipelining",
    ]
    _, args = parse(["ls", url, *given])
    assert options.chosen(args) == {
        "timeout": 5.0,
        "connect_timeout": 2.5,
        "tls": "explicit",
        "verify": False,
        "ca_file": os.path.expanduser("~/ca.pem"),
        "tls_server_name": "example.org",
        "client_cert": "c.pem",
        "client_key": "k.pem",
        "data_mode": "active",
        "retries": 0,
        "buffer_size": 2 << 20,
        "pipelining": False,
    }
    assert set(options.chosen(args)) == {row["name"] for row in _native.SETTINGS}
    for flag, name, value, _ in options.SHORTHANDS:
        _, args = parse([flag, "ls", url])
        assert options.chosen(args) == {name: value}


def test_a_setting_of_an_unknown_kind_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    row = {"name": "color", "kind": "color", "choices": None, "optional": True, "doc": "A color."}
    monkeypatch.setattr(options, "SETTINGS", (*_native.SETTINGS, {**row, "default": None}))
    with pytest.raises(RuntimeError, match="color is of a kind this command cannot read"):
        parse(["ls", "ftp://h/"])


def test_credentials(servers: Servers, tmp_path: Path) -> None:
    """The environment, --user, ~/.netrc for the host, and ~/.netrc for the password of a user
    the URL names without one (which used to log in with an empty password)."""
    server = servers.get("vsftpd")
    remote, local = server.dir("cli-credentials")
    server.put(f"{local.name}/c.txt", b"credentials")
    url = f"{bare(server)}{remote}/c.txt"
    user_only = url.replace("://", f"://{server.user}@")

    env = clean_env(FERROFTP_USER=server.user, FERROFTP_PASSWORD=server.password)
    assert run_env(["cat", url], env) == b"credentials"
    assert run_env(["cat", user_only], clean_env(FERROFTP_PASSWORD=server.password)) == (
        b"credentials"
    )
    assert run_env(["cat", "-u", f"{server.user}:{server.password}", url], clean_env()) == (
        b"credentials"
    )

    home = tmp_path / "home"
    home.mkdir()
    rc = home / ".netrc"
    rc.write_text(f"machine {server.host} login {server.user} password {server.password}\n")
    rc.chmod(0o600)
    assert run_env(["cat", url], clean_env(home)) == b"credentials"
    assert run_env(["cat", user_only], clean_env(home)) == b"credentials"
    # FERROFTP_PASSWORD of another user is not this user's password
    other = clean_env(home, FERROFTP_USER="someone-else", FERROFTP_PASSWORD="nope")
    assert run_env(["cat", user_only], other) == b"credentials"

    # Without a password anywhere (and stdin not a terminal): refused, with a hint.
    refused = run("cat", "--retries", "0", user_only, env=clean_env())
    assert refused.returncode == 4, refused
    assert "no password was given" in refused.stderr and refused.stderr.count("\n") == 1


def run_env(args: list[str], env: dict[str, str]) -> bytes:
    done = subprocess.run(
        [str(FERROFTP), *args], stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=120
    )
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


@pytest.mark.parametrize(
    ("url", "server", "path", "pattern"),
    [
        ("ftp://h/p/a.txt", "ftp://h", "/p/a.txt", None),
        ("FTPES://u:p%40ss@h:2121/a%20b/", "ftpes://h:2121", "/a b/", None),
        ("ftps://[::1]:990", "ftps://[::1]:990", "/", None),
        ("ftp://h/l/2024-*/app?.log", "ftp://h", "/l/2024-*/app?.log", "/l/2024-*/app?.log"),
        ("ftp://h/a%2A/b*", "ftp://h", "/a*/b*", "/a[*]/b*"),
    ],
)
def test_url_parsing(url: str, server: str, path: str, pattern: str | None) -> None:
    target = parse_url(url)
    assert (target.server, target.path, target.pattern) == (server, path, pattern)


def test_credentials_order(tmp_path: Path) -> None:
    rc = tmp_path / "netrc"
    rc.write_text(
        "machine h login alice password from-netrc account acct\n"
        "default login anon password me@example.org\n"
    )
    rc.chmod(0o600)

    def login(url: str, user: str | None = None, **env: str) -> credentials.Login:
        asked: list[str] = []

        def prompt(text: str) -> str:
            asked.append(text)
            return "typed"

        found = credentials.resolve(
            parse_url(url), user_option=user, env=env, netrc_file=str(rc), prompt=prompt
        )
        assert len(asked) <= 1
        return found

    assert login("ftp://bob:pw@h/") == credentials.Login("bob", "pw")
    assert login("ftp://h/") == credentials.Login("alice", "from-netrc", "acct")
    assert login("ftp://alice@h/") == credentials.Login("alice", "from-netrc", "acct")
    assert login("ftp://bob@h/") == credentials.Login("bob", "typed")
    assert login("ftp://h/", "carol:pw2") == credentials.Login("carol", "pw2")
    assert login("ftp://h/", "carol") == credentials.Login("carol", "typed")
    assert login("ftp://h/", FERROFTP_USER="dan", FERROFTP_PASSWORD="e") == credentials.Login(
        "dan", "e"
    )
    assert login("ftp://bob@h/", FERROFTP_USER="dan", FERROFTP_PASSWORD="e").password == "typed"
    assert login("ftp://bob@h/", FERROFTP_PASSWORD="e").password == "e"
    assert login("ftp://other/") == credentials.Login("anon", "me@example.org")
    assert credentials.resolve(
        parse_url("ftp://other/"), user_option=None, env={}, netrc_file=str(tmp_path / "none")
    ) == credentials.Login(None, None)
