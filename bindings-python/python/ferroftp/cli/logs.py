"""``-v``: the library's log records on stderr.

``-v`` shows the protocol: each command sent (``> RETR /pub/a``) and each reply line received
(``< 226 Transfer complete.``), read from suppaftp's command-line records, with the library's own
records (logins, retries, fallbacks). ``-vv`` adds every other record of both loggers. The
library never logs a password; PASS is shown as ``> PASS ****``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import ferroftp

#: suppaftp's level for command lines (Rust's trace).
TRACE = 5
#: The library's loggers.
LOGGERS = ("ferroftp", "suppaftp")

_IN = re.compile(r"CC IN: \[([\d,\s]*)\]$")
_OUT = re.compile(r"CC OUT: (.*)$", re.S)


def protocol_line(message: str) -> str | None:
    """A command or reply record's message as ``> command`` or ``< reply``; else ``None``."""
    found = _OUT.match(message)
    if found:
        line = found.group(1).rstrip("\r\n")
        if line.upper().startswith("PASS"):
            line = "PASS ****"
        return f"> {line}"
    found = _IN.match(message)
    if found:
        raw = bytes(int(b) for b in found.group(1).split(",") if b.strip())
        return "< " + raw.decode("utf-8", "replace").rstrip("\r\n")
    return None


class _Handler(logging.Handler):
    def __init__(self, write: Callable[[str], None], everything: bool) -> None:
        super().__init__(level=TRACE)
        self.write = write
        self.everything = everything

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            line = protocol_line(message)
            if line is None:
                if record.name.startswith("suppaftp") and not self.everything:
                    return
                line = f"[{record.name}] {message}"
            self.write(line)
        except Exception:
            self.handleError(record)


def setup(verbosity: int, write: Callable[[str], None]) -> None:
    """Sends the library's records to ``write`` (one line each) for ``-v`` (1) or ``-vv`` (2+);
    without ``-v`` none reaches stderr (not even through :mod:`logging`'s last resort, which
    would print warnings of a logger without a handler): the command reports errors itself."""
    if verbosity <= 0:
        for name in LOGGERS:
            logging.getLogger(name).addHandler(logging.NullHandler())
        return
    handler = _Handler(write, everything=verbosity >= 2)
    for name, level in (("ferroftp", logging.DEBUG), ("suppaftp", TRACE)):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    ferroftp.reset_log_cache()
