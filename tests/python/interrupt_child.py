"""Child process of test_signals.py: a blocking call that the parent interrupts with SIGINT.

Usage: ``python interrupt_child.py SCENARIO URL REMOTE_DIR``. It prints one line per step on
stdout: ``ready`` (about to block) once the blocking call is under way, ``interrupted <where>``
when KeyboardInterrupt arrived, then ``ok`` after checking that the session still works
(exit status 0), or a traceback (exit status 1).

Scenarios:

* ``transfer``: a download in the middle of its data transfer, stalled for sure because its
  local target is a FIFO that nobody reads (the core writes non-regular files directly).
* ``queued``: a call waiting for the session's lock, which another thread holds with an open
  remote file.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import traceback
from typing import Any

import ferroftp

OPTIONS: dict[str, Any] = {"timeout": 60.0, "connect_timeout": 10.0}


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def transfer(s: ferroftp.Session, remote: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        stalled_download(s, remote, os.path.join(scratch, "fifo"))


def stalled_download(s: ferroftp.Session, remote: str, fifo: str) -> None:
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # never read: the writer stalls
    announced = False

    def progress(done: int, total: int | None) -> None:
        nonlocal announced
        if not announced:
            announced = True
            say("ready")

    try:
        s.download(f"{remote}/big.bin", fifo, progress=progress)
        say("finished")  # must not happen: the download cannot complete
    except KeyboardInterrupt:
        say("interrupted in download")
    os.close(reader)  # lets the abandoned write fail (EPIPE) and its thread end
    expected = bytes(range(256)) * 40
    assert s.read_bytes(f"{remote}/small.bin") == expected
    assert s.size(f"{remote}/big.bin") > 0
    assert s.list(remote)


def queued(s: ferroftp.Session, remote: str) -> None:
    opened = threading.Event()
    release = threading.Event()
    expected = bytes(range(256)) * 40

    def hold() -> None:
        with s.open(f"{remote}/small.bin") as f:
            opened.set()
            release.wait()
            assert f.read() == expected

    holder = threading.Thread(target=hold)
    holder.start()
    opened.wait()

    def profile(frame: object, event: str, arg: object) -> None:
        # Announce right before the native call starts (no Python runs between the two).
        if event == "c_call" and getattr(arg, "__name__", "") == "size":
            sys.setprofile(None)
            say("ready")

    try:
        sys.setprofile(profile)
        s.size(f"{remote}/small.bin")
        say("finished")  # must not happen: the lock is held
    except KeyboardInterrupt:
        say("interrupted in size")
    finally:
        sys.setprofile(None)
    release.set()
    holder.join()
    assert s.size(f"{remote}/small.bin") == len(expected)
    assert s.read_bytes(f"{remote}/small.bin") == expected


def main() -> int:
    scenario, url, remote = sys.argv[1:4]
    # This stands for an interactive program, where Ctrl-C raises KeyboardInterrupt. A process
    # started from a background job of a non-interactive shell inherits SIGINT ignored, and
    # Python then leaves it ignored: give it Python's own handler in every case.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with ferroftp.connect(url, **OPTIONS) as s:
            {"transfer": transfer, "queued": queued}[scenario](s, remote)
        say("ok")
        return 0
    except BaseException:
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
