"""Ctrl-C during blocking calls, fork(), and the GIL being released."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest
from conftest import OPTIONS, Server, data

import ferroftp

CHILD = Path(__file__).with_name("interrupt_child.py")
#: A generous bound for "KeyboardInterrupt is prompt" (it comes within ~50 ms).
PROMPT = 10.0


class Child:
    """A child process whose stdout lines are read with a deadline."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(CHILD), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix: str, timeout: float = 60.0) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError(f"no {prefix!r} from the child within {timeout} s") from None
        if line is None or not line.startswith(prefix):
            self.proc.wait()
            assert self.proc.stderr is not None
            raise AssertionError(
                f"expected {prefix!r}, got {line!r}; child stderr:\n{self.proc.stderr.read()}"
            )
        return line


@pytest.mark.parametrize("scenario", ["transfer", "queued"])
def test_ctrl_c_interrupts_a_blocking_call(
    server: Server, workdir: tuple[str, Path], scenario: str
) -> None:
    remote, local = workdir
    server.put(f"{local.name}/big.bin", data(64_000_000, 11))
    server.put(f"{local.name}/small.bin", bytes(range(256)) * 40)
    child = Child(scenario, server.url, remote)
    child.expect("ready")
    sent = time.monotonic()
    child.proc.send_signal(signal.SIGINT)
    where = child.expect("interrupted", timeout=PROMPT)
    assert time.monotonic() - sent < PROMPT
    assert (
        where == {"transfer": "interrupted in download", "queued": "interrupted in size"}[scenario]
    )
    child.expect("ok")  # the same session worked afterwards, in that child
    assert child.proc.wait(timeout=60) == 0


def test_fork_child_uses_new_sessions(server: Server, workdir: tuple[str, Path]) -> None:
    remote, _ = workdir
    with ferroftp.connect(server.url, **OPTIONS) as s:
        s.write_bytes(f"{remote}/parent.bin", b"from the parent")
        pid = os.fork()
        if pid == 0:  # the child: a fresh runtime, new sessions, blocking and async
            code = 1
            try:
                with ferroftp.connect(server.url, **OPTIONS) as c:
                    assert c.read_bytes(f"{remote}/parent.bin") == b"from the parent"
                    c.write_bytes(f"{remote}/child.bin", b"from the child")

                async def check() -> bytes:
                    async with await ferroftp.connect_async(server.url, **OPTIONS) as a:
                        return await a.read_bytes(f"{remote}/child.bin")

                assert asyncio.run(check()) == b"from the child"
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The parent's session and runtime are unaffected.
        assert s.read_bytes(f"{remote}/child.bin") == b"from the child"
        s.write_bytes(f"{remote}/after.bin", data(100_000, 1))
        assert s.read_bytes(f"{remote}/after.bin") == data(100_000, 1)


def test_fork_while_threads_are_busy(server: Server) -> None:
    """Forks while other threads keep calling into the library: each child still gets a
    runtime of its own and works (no lock of a thread that is gone is waited for)."""
    stop = threading.Event()
    with ferroftp.connect(server.url, **OPTIONS) as s:

        def busy() -> None:
            while not stop.is_set():
                s.noop()

        threads = [threading.Thread(target=busy) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for _ in range(20):
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        with ferroftp.connect(server.url, **OPTIONS) as c:
                            c.noop()
                        code = 0
                    except BaseException:
                        traceback.print_exc()
                    finally:
                        os._exit(code)
                deadline = time.monotonic() + 60
                while True:
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        break
                    if time.monotonic() > deadline:
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                        raise AssertionError("a forked child hung")
                    time.sleep(0.01)
                assert os.waitstatus_to_exitcode(status) == 0
        finally:
            stop.set()
            for t in threads:
                t.join()


def test_gil_is_released_during_operations(server: Server, workdir: tuple[str, Path]) -> None:
    """While a call waits inside the core, other Python threads run freely."""
    remote, _ = workdir
    with ferroftp.connect(server.url, **OPTIONS) as s:
        s.write_bytes(f"{remote}/g", b"g")
        f = s.open(f"{remote}/g")  # holds the session: the next call must wait
        result: list[int] = []
        t = threading.Thread(target=lambda: result.append(s.size(f"{remote}/g")))
        t.start()
        # If the waiting thread held the GIL, this loop could not run (and the test would hang).
        counter = 0
        for _ in range(200_000):
            counter += 1
        assert counter == 200_000 and t.is_alive()
        assert f.read() == b"g"
        f.close()
        t.join()
        assert result == [1]


def test_progress_exception_keeps_the_session(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    """KeyboardInterrupt raised inside a progress callback also cancels cleanly."""
    remote, local = workdir
    server.put(f"{local.name}/p.bin", data(4_000_000, 3))
    with ferroftp.connect(server.url, **OPTIONS) as s:

        def progress(done: int, total: int | None) -> None:
            if done > 0:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            s.download(f"{remote}/p.bin", tmp_path / "p.bin", progress=progress)
        # No partial file: nothing, or (when the transfer won the race) the complete file.
        p = tmp_path / "p.bin"
        assert not p.exists() or p.read_bytes() == data(4_000_000, 3)
        assert s.read_bytes(f"{remote}/p.bin") == data(4_000_000, 3)
