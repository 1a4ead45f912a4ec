"""What a person sees: ``ferroftp`` with a pseudo-terminal as its stdin and stderr, as in an
interactive shell — progress bars with bytes, rate and ETA, the password prompt — and, when
stderr is not a terminal, one line per file (nothing with ``-q``)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from conftest import Servers, data
from test_cli import FERROFTP, bare, clean_env, run

if TYPE_CHECKING:
    from typing_extensions import Self

#: A bar with a known total, as tqdm draws it for this command: name, percentage, the bar,
#: bytes done and in all, the rate, the ETA.
BAR = re.compile(
    r"(?P<pct>\d+)%\|(?P<bar>[^|]*)\| (?P<done>[\d.]+[kMG]?)B/(?P<total>[\d.]+[kMG]?)B"
    r" +(?P<rate>[\d.]+[kMG]?B/s) +ETA (?P<eta>\d\d:\d\d)"
)


class Terminal:
    """``ferroftp ARGS`` with a pseudo-terminal (100 columns) as stdin and stderr; stdout is a
    pipe, read by ``read_stdout`` (all of it, at once, by default). Everything the terminal
    shows is kept in ``shown``."""

    def __init__(
        self,
        *args: str,
        env: dict[str, str],
        read_stdout: Callable[[IO[bytes]], bytes] | None = None,
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.proc = subprocess.Popen(
            [str(FERROFTP), *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=slave,
            env={**env, "TERM": "xterm"},
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.shown = bytearray()
        self.stdout = b""
        self._lock = threading.Lock()
        read = read_stdout or (lambda f: f.read())
        self._threads = [
            threading.Thread(target=self._read_terminal, daemon=True),
            threading.Thread(target=self._read_stdout, args=(read,), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read_terminal(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the command closed its side
                return
            if not chunk:
                return
            with self._lock:
                self.shown += chunk

    def _read_stdout(self, read: Callable[[IO[bytes]], bytes]) -> None:
        assert self.proc.stdout is not None
        self.stdout = read(self.proc.stdout)

    def wait_for(self, text: bytes, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if text in self.shown:
                    return
            time.sleep(0.02)
        raise AssertionError(f"{text!r} never appeared; the terminal shows {bytes(self.shown)!r}")

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def finish(self, timeout: float = 120.0) -> int:
        """Waits for the command to end; returns its exit status."""
        code = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=10)
        return code

    def text(self) -> str:
        with self._lock:
            return bytes(self.shown).decode("utf-8", "replace")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for t in self._threads:
            t.join(timeout=10)
        os.close(self.master)


def frames(shown: str) -> list[str]:
    """Every state of every line the terminal drew (bars are redrawn after a carriage return)."""
    return [f for f in re.split(r"[\r\n]", shown) if f.strip()]


def slowly(f: IO[bytes]) -> bytes:
    """Reads a pipe at about 6 MB/s, as a slow consumer would (``| sha256sum`` on a slow disk)."""
    got = bytearray()
    while chunk := f.read(65536):
        got += chunk
        time.sleep(0.01)
    return bytes(got)


def test_progress_bar_with_rate_and_eta(servers: Servers) -> None:
    """``ferroftp get URL - | consumer`` in a terminal: while the file moves, a bar with its
    percentage, bytes, rate and ETA is redrawn on stderr; the data on stdout is whole."""
    server = servers.get("pyftpdlib")
    remote, local = server.dir("cli-terminal")
    payload = data(12_000_000, 7)
    server.put(f"{local.name}/big.bin", payload)
    with Terminal(
        "get", f"{server.url}{remote}/big.bin", "-", env=clean_env(), read_stdout=slowly
    ) as term:
        assert term.finish() == 0, term.text()
        shown = term.text()
    assert hashlib.sha256(term.stdout).digest() == hashlib.sha256(payload).digest()
    bars = [(f, m) for f in frames(shown) if (m := BAR.search(f))]
    assert bars, shown
    assert all(f.startswith("big.bin ") for f, _ in bars), bars
    moving = [m for _, m in bars if 0 < int(m["pct"]) < 100]
    assert moving, f"no bar drawn while the file moved: {shown!r}"
    for m in moving:
        assert m["total"] == "12.0M", m.group(0)
        assert float(m["rate"].rstrip("kMGB/s")) > 0, m.group(0)
        assert "█" in m["bar"], m.group(0)
    final = bars[-1][1]
    assert (final["pct"], final["done"], final["eta"]) == ("100", "12.0M", "00:00"), final.group(0)
    assert "Traceback" not in shown and " -> " not in shown  # bars, not the lines for logs


def test_batch_bar(servers: Servers, tmp_path: Path) -> None:
    """Several files at once: one total bar, ``N/M files`` with bytes, rate and ETA."""
    server = servers.get("pyftpdlib")
    remote, local = server.dir("cli-terminal-batch")
    files = {f"f{i}.bin": data(1_000_000, i) for i in range(3)}
    for name, content in files.items():
        server.put(f"{local.name}/{name}", content)
    with Terminal(
        "get", "-j", "2", f"{server.url}{remote}/*.bin", str(tmp_path), env=clean_env()
    ) as term:
        assert term.finish() == 0, term.text()
        shown = term.text()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files
    last = [f for f in frames(shown) if BAR.search(f)][-1]
    assert last.startswith("3/3 files  100%|"), last
    assert BAR.search(last)["total"] == "3.00M"  # type: ignore[index]


def test_password_prompt(servers: Servers) -> None:
    """No password anywhere and stdin a terminal: the command asks (without echo)."""
    server = servers.get("pyftpdlib")
    remote, local = server.dir("cli-prompt")
    server.put(f"{local.name}/listed.txt", b"x")
    url = f"{bare(server).replace('://', f'://{server.user}@')}{remote}"
    with Terminal("ls", url, env=clean_env()) as term:
        term.wait_for(f"Password for {server.user}@{server.host}: ".encode())
        term.type(server.password.encode() + b"\n")
        assert term.finish() == 0, term.text()
        assert term.stdout == b"listed.txt\n"
        assert server.password not in term.text()
    with Terminal("ls", "--retries", "0", url, env=clean_env()) as term:
        term.wait_for(b"Password for ")
        term.type(b"not-it\n")
        assert term.finish() == 4, term.text()
        assert "530" in term.text() and "Traceback" not in term.text()


def test_lines_when_stderr_is_not_a_terminal(servers: Servers, tmp_path: Path) -> None:
    """Not a terminal: one line per file moved; with -q nothing at all."""
    server = servers.get("vsftpd")
    remote, local = server.dir("cli-lines")
    for name in ("a.bin", "b.bin"):
        server.put(f"{local.name}/{name}", data(1000, len(name)))
    url = f"{server.url}{remote}"
    for jobs in ("1", "4"):
        done = run("get", "-j", jobs, f"{url}/*.bin", str(tmp_path / jobs) + "/")
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines() == [
            f"{remote}/a.bin -> {tmp_path / jobs / 'a.bin'} (1.0 kB)",
            f"{remote}/b.bin -> {tmp_path / jobs / 'b.bin'} (1.0 kB)",
        ], done.stderr
    quiet = run("put", "-q", str(tmp_path / "1" / "a.bin"), f"{url}/c.bin")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""
