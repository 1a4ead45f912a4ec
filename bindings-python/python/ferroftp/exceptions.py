"""The exceptions ferroftp raises.

Every error is a :class:`ferroftp.Error` (itself an :class:`ftplib.Error`), with the FTP reply
``code`` when the server refused something (else ``None``), a ``kind`` (the core's name for it:
``"not-found"``, ``"timeout"``, ...), ``may_have_taken_effect`` (whether the failed operation
may have changed something on the server all the same) and the ``message`` (``str(e)``).

When the server refused a command, ``str(e)`` and ``e.args[0]`` are its reply, as ftplib has
them (``"550 No such file or directory."``; the lines of a multi-line reply joined by ``"\n"``),
so ``str(e)[:3] == "550"`` checks keep working; the refused command line is ``e.command``
(``"SIZE /pub/a.txt"``), the remote path in it ``e.path`` (``"/pub/a.txt"``), and ``e.detail``
is the whole message (``"SIZE /pub/a.txt: the server replied 550 ..."``, also shown as a note
under the traceback). Other errors have ``command`` and ``path`` ``None`` and ``detail`` equal to
the message.

Each of the core's error kinds has a class of its own, which names it in its ``kind``. The
subclasses also inherit what Python code already catches::

    Error (ftplib.Error)
    ├── PermanentError (ftplib.error_perm)            5xx refusals
    │   ├── NotFoundError (FileNotFoundError)         no such file or directory
    │   └── AuthenticationError                       login refused (530)
    ├── TransientError (ftplib.error_temp)            4xx refusals: may work later
    ├── ProtocolError (ftplib.error_proto)            not valid FTP
    ├── ConnectionError (builtins.ConnectionError)    cannot connect
    ├── TimeoutError (builtins.TimeoutError)          no answer in time
    ├── TlsError (OSError)                            TLS handshake or certificate
    ├── IoError (OSError)                             local or network I/O
    ├── ClosedError                                   the session was closed
    ├── CancelledError                                the operation was interrupted
    ├── InvalidInputError (ValueError)                bad URL, option or path
    └── IntegrityError                                checksum mismatch (``checksum=``)

So ``except ftplib.error_perm:`` around a failing call keeps working, and so do
``except FileNotFoundError``, ``except TimeoutError`` and ``except OSError``.

``IntegrityError`` has no second base on purpose: it is not a server's refusal (so no
``ftplib.error_*`` class, which stand for reply codes), and not an ``OSError``, since no system
call or connection failed: a handler written for disk or network errors should not mistake
bytes that differ from the server's file for one of those. ``except ftplib.Error`` and
``except ftplib.all_errors`` still catch it, through :class:`Error`.
"""

from __future__ import annotations

import builtins
import ftplib

__all__ = [
    "AuthenticationError",
    "CancelledError",
    "ClosedError",
    "ConnectionError",
    "Error",
    "IntegrityError",
    "InvalidInputError",
    "IoError",
    "NotFoundError",
    "PermanentError",
    "ProtocolError",
    "TimeoutError",
    "TlsError",
    "TransientError",
]


class Error(ftplib.Error):
    """Base class of every ferroftp error."""

    #: The FTP reply code when the server refused something, else ``None``.
    code: int | None = None
    #: What went wrong, in the core's words (``"not-found"``, ``"timeout"``, ...).
    kind: str = "error"
    #: Whether the operation may have changed something on the server although it failed: a
    #: command that changes something (STOR, DELE, RNFR/RNTO, MKD, ...) was sent, and the
    #: connection failed before its reply (an upload cut part-way may have left part of the
    #: file). Such operations are never repeated by themselves; check before repeating one.
    may_have_taken_effect: bool = False
    #: The command line the server refused (``"SIZE /pub/a.txt"``; never a password), else
    #: ``None``.
    command: str | None = None
    #: The remote path of the refused command (``"/pub/a.txt"``), when it names one, else
    #: ``None``.
    path: str | None = None

    @property
    def message(self) -> str:
        """The message (same as ``str(e)``): the server's reply for a refusal."""
        return str(self.args[0]) if self.args else ""

    @property
    def detail(self) -> str:
        """The whole message: for a refusal, the command, then the server's reply
        (``"SIZE /pub/a.txt: the server replied 550 ..."``); else the message."""
        detail = self.__dict__.get("_detail")
        return detail if isinstance(detail, str) else self.message

    @detail.setter
    def detail(self, value: str) -> None:
        self.__dict__["_detail"] = value


class PermanentError(Error, ftplib.error_perm):
    """The server refused the command for good (a 5xx reply)."""

    kind = "permanent"


class NotFoundError(PermanentError, FileNotFoundError):
    """The remote (or local) file or directory does not exist."""

    kind = "not-found"


class AuthenticationError(PermanentError):
    """The server refused the credentials."""

    kind = "auth"


class TransientError(Error, ftplib.error_temp):
    """The server refused the command for now (a 4xx reply); it may work later."""

    kind = "transient"


class ProtocolError(Error, ftplib.error_proto):
    """The server said something that is not valid FTP, or not what the command expects."""

    kind = "protocol"


class ConnectionError(Error, builtins.ConnectionError):
    """The connection (or the server's greeting) could not be established."""

    kind = "connect"


class TimeoutError(Error, builtins.TimeoutError):
    """A connect, reply or data timeout fired."""

    kind = "timeout"


class TlsError(Error, OSError):
    """The TLS handshake or a certificate check failed."""

    kind = "tls"


class IoError(Error, OSError):
    """A local or network I/O error (disk full, connection reset, ...)."""

    kind = "io"


class ClosedError(Error):
    """The session was closed (``close()``, or the end of its ``with`` block)."""

    kind = "closed"


class CancelledError(Error):
    """The operation was interrupted before it finished (e.g. a remote file whose transfer
    was interrupted by Ctrl-C or a cancelled await can no longer be used)."""

    kind = "cancelled"


class InvalidInputError(Error, ValueError):
    """A bad argument: a malformed URL, option or path."""

    kind = "invalid-input"


class IntegrityError(Error):
    """A transfer's data does not match the server's file: the checksum the server computed
    (HASH, XSHA256, ...) differs from the one of the bytes sent or received (``checksum=`` of
    ``download``/``upload``). A download is discarded: nothing is written to the target (an
    existing file keeps its old content) and no part file is kept, even with ``resume=True``.
    An atomic upload's temporary remote file is removed; a plain upload's remote file is left
    as the server stored it (the message says so). The session stays usable, and repeating the
    transfer may help."""

    kind = "integrity"


def _by_kind() -> dict[str, type[Error]]:
    classes: dict[str, type[Error]] = {}
    for name in __all__:
        cls = globals()[name]
        if cls is not Error:
            classes[cls.kind] = cls
    return classes


#: The class of each of the core's error kinds (``ferroftp._native.ERROR_KINDS``): the one
#: mapping, made of the classes' own ``kind``.
_BY_KIND = _by_kind()


def _for_kind(kind: str) -> type[Error]:
    """The class of the core's error ``kind`` (:class:`Error` for a kind it does not know)."""
    return _BY_KIND.get(kind, Error)
