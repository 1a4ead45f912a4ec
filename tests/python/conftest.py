"""Test harness: real FTP servers on loopback, started through ``tests/servers/serve.py``.

One pyftpdlib and one vsftpd server are started once per test run (session-scoped) and shared;
every test works in a directory of its own. A server that cannot start FAILS the tests that
need it (never a skip): run ``make setup`` (vsftpd needs root).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import ferroftp

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "tests" / "servers" / "serve.py"
KINDS = ("pyftpdlib", "vsftpd")

#: Options every test session uses: generous, so that a slow CI machine never times out.
OPTIONS: dict[str, Any] = {"timeout": 20.0, "connect_timeout": 10.0}


def server_python() -> str:
    """The Python that has pyftpdlib: ``$FERROFTP_PYTHON``, else the project's ``.venv``."""
    explicit = os.environ.get("FERROFTP_PYTHON")
    if explicit:
        return explicit
    venv = ROOT / ".venv" / "bin" / "python"
    if not venv.exists():
        raise RuntimeError(f"no {venv}: run `make setup` first (or set FERROFTP_PYTHON)")
    return str(venv)


def child_pids() -> dict[int, list[int]]:
    """Every process's children, by parent pid (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


@dataclass
class Server:
    """A running test server; stopped (stdin closed) at the end of the session."""

    kind: str
    host: str
    port: int
    user: str
    password: str
    root: Path
    uid: int
    gid: int
    pid: int
    proc: subprocess.Popen[bytes] = field(repr=False)
    info: dict[str, Any] = field(repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ftp://{self.user}:{self.password}@{host}:{self.port}"

    def own(self, path: Path) -> None:
        os.chown(path, self.uid, self.gid)

    def dir(self, name: str) -> tuple[str, Path]:
        """A fresh empty directory ``/<name>`` owned by the FTP user: (remote, local)."""
        local = self.root / name
        shutil.rmtree(local, ignore_errors=True)
        local.mkdir(parents=True)
        self.own(local)
        return f"/{name}", local

    def put(self, rel: str, data: bytes) -> Path:
        """Writes a file under the root (relative path), owned by the FTP user."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.own(path)
        return path

    def processes(self) -> list[int]:
        """The server's processes: the one in ``pid`` and all its descendants."""
        children = child_pids()
        found = [self.pid]
        for pid in found:
            found.extend(children.get(pid, []))
        return found

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Freezes the server (SIGSTOP) for the block, so that transfers stall for sure."""
        frozen = self.processes()
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in frozen:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def kill_one_session(self) -> bool:
        """Kills one whole vsftpd client session, as a dropped connection would: one child of
        the listener (the session's privileged process) and its own child (the unprivileged
        one). Never the processes of two different sessions: a session whose privileged half
        alone is gone answers "500 OOPS: priv_sock_get_int" instead of closing its connection.
        False when there is no session."""
        assert self.kind == "vsftpd", "pyftpdlib serves every session in one process"
        children = child_pids()
        sessions = children.get(self.pid, [])
        if not sessions:
            return False
        for pid in [sessions[0], *children.get(sessions[0], [])]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return True

    def kill_all_sessions(self) -> bool:
        """Kills every vsftpd client session (each whole, as :meth:`kill_one_session` does): for
        a server of the test's own, where a lingering session (the launcher's readiness probe,
        on a busy machine) must not be mistaken for the test's. False when there is none."""
        assert self.kind == "vsftpd", "pyftpdlib serves every session in one process"
        children = child_pids()
        sessions = children.get(self.pid, [])
        for session in sessions:
            for pid in [session, *children.get(session, [])]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return bool(sessions)

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(kind: str, *args: str, log: Path | None = None) -> Server:
    """Starts ``serve.py kind args``; raises (the test fails) if it does not come up.

    With ``log``, the server writes every command and reply it handles to that file
    (``FERROFTP_SERVER_LOG=debug``; pyftpdlib logs a command before answering it, and a reply
    just after sending it).
    """
    env = None if log is None else dict(os.environ, FERROFTP_SERVER_LOG="debug")
    with contextlib.ExitStack() as files:
        # the child gets its own descriptor of the log file
        stderr = None if log is None else files.enter_context(open(log, "wb"))
        proc = subprocess.Popen(
            [server_python(), str(SERVE), kind, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip():
        code = proc.wait()
        raise RuntimeError(
            f"the {kind} test server did not start (launcher exit code {code}; its message is "
            "on stderr above). Is it installed? Run `make setup` (vsftpd also needs root)."
        )
    info = json.loads(line)
    return Server(
        kind=kind,
        host=info["host"],
        port=int(info["port"]),
        user=info["user"],
        password=info["password"],
        root=Path(info["root"]),
        uid=int(info["uid"]),
        gid=int(info["gid"]),
        pid=int(info["pid"]),
        proc=proc,
        info=info,
    )


class Servers:
    """Starts each kind of server on first use; stops them all at the end."""

    def __init__(self) -> None:
        self.running: dict[str, Server] = {}

    def get(self, kind: str) -> Server:
        if kind not in self.running:
            self.running[kind] = start_server(kind)
        return self.running[kind]

    def stop(self) -> None:
        for server in self.running.values():
            server.stop()


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    pool = Servers()
    yield pool
    pool.stop()


@pytest.fixture(scope="session", params=KINDS)
def server(request: pytest.FixtureRequest, servers: Servers) -> Server:
    """Each test that takes ``server`` runs once against pyftpdlib and once against vsftpd."""
    return servers.get(request.param)


@pytest.fixture
def workdir(server: Server, request: pytest.FixtureRequest) -> tuple[str, Path]:
    """A fresh remote directory for this test: (remote path, local path in the server root)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    return server.dir(f"t-{name}")


@pytest.fixture
def session(server: Server) -> Iterator[ferroftp.Session]:
    with ferroftp.connect(server.url, **OPTIONS) as s:
        yield s


def data(n: int, seed: int) -> bytes:
    """Deterministic pseudo-random bytes."""
    return random.Random(seed).randbytes(n)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """No test may be skipped: a skip is turned into a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"tests/python must not skip (skip reason: {report.longrepr})"


# Make `from conftest import ...` work for the test modules and the child-process scripts.
sys.path.insert(0, str(Path(__file__).parent))
