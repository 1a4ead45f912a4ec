"""Child process of test_habits.py: a script that configures no logging, whose connection
drops in the middle of a download that the library then retries successfully.

Usage: ``python quiet_child.py URL REMOTE_FILE SIZE SERVER_PID [debug]``. It downloads
``REMOTE_FILE`` (``SIZE`` bytes) from the vsftpd server whose listener is ``SERVER_PID``,
freezes the server's session once part of the data has arrived (the transfer times out, its
stream is dropped and the download is retried on a new connection), checks that the download
is complete and prints ``ok`` on stdout. With ``debug``, it first
configures logging (``logging.basicConfig(level=DEBUG)``), so the records the library emits
show on stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from conftest import child_pids

import ferroftp

#: The session's timeout: a stalled transfer fails after it and is retried.
TIMEOUT = 1.0


def stall_session(listener: int) -> Callable[[], None]:
    """Freezes the newest vsftpd session (its processes) for longer than the session's
    timeout, as a connection that stops answering would; returns what lets them go on."""
    children = child_pids()
    frozen = [max(children[listener])]
    for pid in frozen:
        frozen.extend(children.get(pid, []))
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)

    def thaw() -> None:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    return thaw


def main() -> None:
    url, remote, size, listener = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if sys.argv[5:] == ["debug"]:
        logging.basicConfig(level=logging.DEBUG)
        ferroftp.reset_log_cache()
    thaws: list[Callable[[], None]] = []

    def progress(done: int, total: int | None) -> None:
        if not thaws and 0 < done < size:
            thaws.append(stall_session(listener))

    try:
        with (
            tempfile.TemporaryDirectory() as scratch,
            ferroftp.connect(url, timeout=TIMEOUT, retries=3) as s,
        ):
            target = Path(scratch) / "big.bin"
            assert s.download(remote, target, progress=progress) == size
            assert target.stat().st_size == size
            assert len(thaws) == 1, "the session was not stalled"
            s.noop()
    finally:
        for thaw in thaws:
            thaw()
    sys.stdout.write("ok\n")


if __name__ == "__main__":
    main()
