"""What ``ferroftp`` does when things go wrong: the documented exit status and exactly one clear
line on stderr, never a traceback — bad usage, a missing file, a wrong password, a server that
cannot be reached or does not answer, a batch in which some files fail, Ctrl-C, a closed
stdout."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from conftest import Server, Servers, data
from test_cli import FERROFTP, clean_env, ok, run

from ferroftp import _native
from ferroftp.cli import (
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_PARTIAL,
    EXIT_TEMPORARY,
    EXIT_USAGE,
)
from ferroftp.cli.status import KIND_STATUS, exit_status

#: A generous bound for "the command ends promptly" (it takes well under a second).
PROMPT = 10.0


def one_line(done: subprocess.CompletedProcess[str], status: int, *words: str) -> str:
    """Asserts the exit status and exactly one line on stderr naming ``words``; returns it."""
    assert done.returncode == status, (done.args, done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, (done.args, done.stderr)
    assert lines[0].startswith("ferroftp"), lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_exit_statuses(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, local = workdir
    url = f"{server.url}{remote}"
    server.put(f"{local.name}/there.txt", b"there")

    # 3: what is named does not exist
    one_line(run("get", f"{url}/nope.bin", str(tmp_path / "n.bin")), EXIT_NOT_FOUND, "nope.bin")
    assert not list(tmp_path.iterdir())  # nothing left behind
    one_line(run("ls", f"{url}/nope"), EXIT_NOT_FOUND, "nope")
    one_line(run("stat", f"{url}/nope"), EXIT_NOT_FOUND, "nope")
    one_line(run("get", f"{url}/*.nothing"), EXIT_NOT_FOUND, "no match for", "*.nothing")
    line = one_line(run("put", str(tmp_path / "absent.bin"), f"{url}/"), EXIT_NOT_FOUND)
    assert line == f"ferroftp: {tmp_path / 'absent.bin'}: No such file or directory", line
    one_line(run("put", str(tmp_path / "*.none"), f"{url}/"), EXIT_NOT_FOUND, "no match")
    one_line(run("rm", f"{url}/nope"), EXIT_NOT_FOUND, "nope")
    one_line(run("mirror", f"{url}/nope", str(tmp_path / "m")), EXIT_NOT_FOUND, "nope")

    # 4: the login is refused; the password is not repeated
    wrong = url.replace(f":{server.password}@", ":wrong-password@")
    line = one_line(run("ls", "--retries", "0", wrong), EXIT_AUTH, "530")
    assert "wrong-password" not in line

    # 1: the server refuses (5xx)
    one_line(run("mkdir", f"{url}/there.txt"), EXIT_FAILED, "MKD")
    one_line(run("quote", url, "NO-SUCH-COMMAND"), EXIT_FAILED, "NO-SUCH-COMMAND")


def test_every_error_kind_has_an_exit_status() -> None:
    """A kind of error the core gains fails here until the command knows its exit status."""
    assert set(KIND_STATUS) == set(_native.ERROR_KINDS)
    for kind, status in KIND_STATUS.items():
        assert exit_status(_native._error(kind, "message")) == status, kind


def test_bad_usage(tmp_path: Path) -> None:
    """Exit status 2 and one line each, with the way to the help; no server is contacted."""
    url = "ftp://127.0.0.1:1/dir"
    for args, words in [
        (["ls", "http://example.org/"], ["not an FTP URL"]),
        (["frobnicate", url], ["unknown command 'frobnicate'"]),
        ([], ["a command is missing"]),
        (["ls", url, "--frobnicate"], ["unrecognized arguments: --frobnicate"]),
        (["get"], ["required"]),
        (["ls", url, "--timeout", "soon"], ["--timeout", "not a number of seconds"]),
        (["ls", url, "--connect-timeout", "-1"], ["--connect-timeout must be a positive"]),
        (["ls", url, "--data-mode", "sideways"], ["invalid choice: 'sideways'"]),
        (["get", url + "/there.txt", "--jobs", "0"], ["--jobs", "at least 1"]),
        (["chmod", "u+x", url + "/there.txt"], ["not an octal mode"]),
        (["mirror", str(tmp_path), str(tmp_path)], ["one of each"]),
        (["mv", url + "/there.txt", "ftp://other-host/x"], ["same server"]),
        (["put", "-", url + "/"], ["one URL naming the remote file"]),
    ]:
        one_line(run(*args), EXIT_USAGE, *words)


def test_partial_batches(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    """Several files, some failing: each failure is one line, the others are done, and the
    exit status is 5; when all fail for one reason, it is that reason's status."""
    remote, local = workdir
    url = f"{server.url}{remote}"
    server.put(f"{local.name}/a.txt", b"a")
    (local / "d").mkdir()
    server.own(local / "d")
    out = tmp_path / "out"
    # a directory among the files a wildcard matched: left out, said so, exit status 5
    done = run("get", "-q", f"{url}/*", str(out) + "/")
    one_line(done, EXIT_PARTIAL, f"{remote}/d", "a directory")
    assert (out / "a.txt").read_bytes() == b"a"

    src = tmp_path / "src"
    src.mkdir()
    for name in ("x.bin", "y.bin"):
        (src / name).write_bytes(name.encode())
    for jobs in ("1", "2"):  # one at a time, and a batch
        done = run("put", "-q", "-j", jobs, str(src / "x.bin"), str(src / "y.bin"), f"{url}/no/")
        lines = done.stderr.splitlines()
        assert len(lines) == 2 and "Traceback" not in done.stderr, done.stderr
        assert "x.bin" in lines[0] and "y.bin" in lines[1], lines
        # all failed for one reason: that reason's status (STOR refused: 550 or 553)
        assert done.returncode == EXIT_FAILED, done


def test_server_unreachable_or_silent(tmp_path: Path) -> None:
    """Exit status 6 (try later) when nothing listens, and when a server never greets."""
    line = one_line(run("ls", "--retries", "0", "ftp://127.0.0.1:1/"), EXIT_TEMPORARY)
    assert "connect to 127.0.0.1:1" in line, line
    with socket.socket() as silent:  # accepts connections (the backlog) and says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        started = time.monotonic()
        done = run("ls", f"ftp://127.0.0.1:{port}/", "--connect-timeout", "1", "--retries", "0")
        one_line(done, EXIT_TEMPORARY)
        assert time.monotonic() - started < PROMPT


def interrupt(proc: subprocess.Popen[bytes]) -> tuple[str, float]:
    """Sends SIGINT to a running command; returns its stderr and how long it took to end."""
    assert proc.poll() is None, "the command ended before Ctrl-C"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        err = proc.communicate(timeout=PROMPT)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return err.decode(), time.monotonic() - started


def assert_interrupted(proc: subprocess.Popen[bytes], err: str, took: float) -> None:
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert err == "ferroftp: interrupted\n", err
    assert took < PROMPT / 2


def test_ctrl_c_while_the_server_stalls(servers: Servers, tmp_path: Path) -> None:
    """Ctrl-C while a frozen server keeps the command waiting: exit status 130 at once (no
    goodbye to a server that does not answer), one line, nothing left behind."""
    server = servers.get("pyftpdlib")
    remote, local = server.dir("cli-ctrl-c")
    server.put(f"{local.name}/f.bin", b"never sent")
    with server.paused():
        proc = subprocess.Popen(
            [str(FERROFTP), "get", f"{server.url}{remote}/f.bin", str(tmp_path / "f.bin")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        time.sleep(1.0)  # connected (the kernel accepts), waiting for the greeting
        err, took = interrupt(proc)
    assert_interrupted(proc, err, took)
    assert os.listdir(tmp_path) == []


def test_ctrl_c_during_a_transfer(servers: Servers) -> None:
    """Ctrl-C in the middle of a download (held up by a stdout nobody reads): 130, one line."""
    server = servers.get("vsftpd")
    remote, local = server.dir("cli-ctrl-c-transfer")
    server.put(f"{local.name}/big.bin", data(8_000_000, 5))
    proc = subprocess.Popen(
        [str(FERROFTP), "get", f"{server.url}{remote}/big.bin", "-"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,  # never read: the download stops when the pipe is full
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    time.sleep(1.5)
    err, took = interrupt(proc)
    assert_interrupted(proc, err, took)
    ok("ls", f"{server.url}{remote}")  # the server is fine


def test_a_closed_stdout(servers: Servers) -> None:
    """``ferroftp cat … | head``: when the reader goes away the command ends quietly, with the
    status of a process killed by SIGPIPE (141)."""
    server = servers.get("pyftpdlib")
    remote, local = server.dir("cli-closed-stdout")
    server.put(f"{local.name}/big.bin", data(4_000_000, 6))
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"'{FERROFTP}' cat '{server.url}{remote}/big.bin' | head -c 10 >/dev/null; "
            "echo ${PIPESTATUS[0]}",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )
    assert done.stdout.strip() == "141", done
    assert done.stderr == "", done.stderr
    ok("ls", f"{server.url}{remote}")  # the server is fine
