"""Exit statuses, and the one line on stderr an error becomes."""

from __future__ import annotations

import ferroftp
from ferroftp.cli.options import name_options

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_AUTH = 4
EXIT_PARTIAL = 5
EXIT_TEMPORARY = 6
EXIT_INTERRUPTED = 130

#: Each exit status and what it means, for the help and the README.
EXIT_STATUSES = (
    (EXIT_OK, "done"),
    (EXIT_FAILED, "failed: the server refused (5xx), a TLS or local error, anything else"),
    (EXIT_USAGE, "bad usage: an unknown option, a bad URL or value"),
    (EXIT_NOT_FOUND, "a remote or local file or directory does not exist, or a glob matched none"),
    (EXIT_AUTH, "the login was refused (user, password)"),
    (EXIT_PARTIAL, "some files of several failed (each named on stderr), the others are done"),
    (EXIT_TEMPORARY, "the server could not be reached, timed out or answered 4xx: try later"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)

#: The exit status of each of the core's error kinds (``ferroftp._native.ERROR_KINDS``; a
#: kind the core gains fails the command's tests until it has its line here).
KIND_STATUS = {
    "connect": EXIT_TEMPORARY,
    "timeout": EXIT_TEMPORARY,
    "transient": EXIT_TEMPORARY,
    "auth": EXIT_AUTH,
    "not-found": EXIT_NOT_FOUND,
    "invalid-input": EXIT_USAGE,
    "cancelled": EXIT_INTERRUPTED,
    "tls": EXIT_FAILED,
    "permanent": EXIT_FAILED,
    "protocol": EXIT_FAILED,
    "io": EXIT_FAILED,
    "closed": EXIT_FAILED,
    "integrity": EXIT_FAILED,
}


class UsageError(Exception):
    """A bad argument found after parsing (exit status 2)."""


class Partial(Exception):
    """Some files of several failed, each already reported on stderr: exit status 5, or the
    status all of them share when none succeeded."""

    def __init__(self, status: int = EXIT_PARTIAL) -> None:
        super().__init__(status)
        self.status = status


def exit_status(exc: BaseException) -> int:
    """The exit status for an error that ended a command."""
    if isinstance(exc, ferroftp.Error):
        return KIND_STATUS.get(exc.kind, EXIT_FAILED)
    if isinstance(exc, FileNotFoundError):  # a local file
        return EXIT_NOT_FOUND
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, Partial):
        return exc.status
    return EXIT_FAILED


def describe(exc: BaseException) -> str:
    """The error as one line, naming this command's options where the library names its own."""
    if isinstance(exc, OSError) and not isinstance(exc, ferroftp.Error) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    if isinstance(exc, ferroftp.Error):
        # A refusal's str() is the server's reply alone (as in ftplib); the detail also says
        # which command and path it answered.
        text = name_options(getattr(exc, "detail", None) or text)
    return one_line(text)


def one_line(text: str) -> str:
    """``text`` on one line (a multi-line server reply joined with spaces)."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())
