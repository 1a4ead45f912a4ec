"""A drop-in for the standard library's :mod:`ftplib`, over a ferroftp session.

Change one import and existing code keeps working::

    from ferroftp import ftplib          # instead of: import ftplib

    with ftplib.FTP("ftp.example.com") as ftp:
        ftp.login("user", "secret")
        ftp.cwd("pub")
        with open("README", "wb") as fp:
            ftp.retrbinary("RETR README", fp.write)

The names are the standard module's (``FTP``, ``FTP_TLS``, ``error_reply``, ``error_temp``,
``error_perm``, ``error_proto``, ``all_errors``, ``Error``, ``CRLF``, ...), and so are the
exception classes: the very same objects, so ``except ftplib.error_perm`` catches what either
module raises, and ``str(e)`` is the server's reply (``str(e)[:3] == "550"``). The methods
take the same arguments and return the same values, and callbacks get the same blocks and
lines. What changes is underneath:

* One ``FTP`` object may be shared by any number of threads: each call runs on its own, in
  arrival order (the standard ``FTP`` mixes up replies and data then).
* ``FTP_TLS`` reuses the control connection's TLS session on the data connections, which
  servers such as vsftpd (``require_ssl_reuse=YES``, its default) and ProFTPD require: the
  standard ``FTP_TLS`` fails there. Every data connection of an ``FTP_TLS`` session is
  protected, as after ``prot_p()``.
* Data connections use EPSV, falling back to PASV (``set_pasv(False)``: active mode); the
  control connection has TCP keepalive; every reply and data read has a timeout (the
  ``timeout`` argument, else 30 seconds); a dropped connection is reopened (logged in, back in
  the working directory) for the next call.
* ``retrbinary``/``storbinary``/``retrlines``/``storlines`` stream: blocks and lines reach the
  callback as they arrive, never the whole file at once.

What ferroftp's core cannot do the standard way is said in each method's docstring; such a
method raises :class:`NotImplementedError` with the reason instead of doing something subtly
different. In short:

* The connection opens at :meth:`FTP.login` (the core connects and logs in at once):
  :meth:`FTP.connect` only records the server, and returns a stand-in greeting, ``"220 ..."``
  (:meth:`FTP.getwelcome` gives the server's own once logged in); errors of an unreachable
  server come from ``login``.
* The texts of a few replies the core reads itself are not handed over: ``login`` returns
  ``"230 Login successful."``, ``quit`` ``"221 Goodbye."`` and the transfer methods (and
  ``voidresp`` after ``transfercmd``) ``"226 Transfer complete."``: the codes are what the
  server confirmed, the texts the usual ones. Every other reply (``sendcmd``, ``voidcmd``,
  ``cwd``, ``delete``, ``rename``, ``size``, ``mkd``, ``pwd``, ..., and every error) is the
  server's own.
* Transfers are binary (TYPE I): ``retrlines`` splits the data into lines as the standard
  module does (CRLF, CR or LF), and ``storlines`` sends LF line ends, as a Unix server stores
  an ASCII upload (vsftpd, which by default stores ASCII uploads as sent, keeps the standard
  module's CRLF).
* Listings are the server's own lines (``LIST``, ``NLST``, ``MLSD`` with any arguments);
  ``mlsd`` gives only the requested ``facts`` of the server's default set.
* ``transfercmd``/``ntransfercmd`` hand out a stand-in for the data socket (``recv``,
  ``sendall``, ``makefile``, ``close``) for ``RETR`` and ``STOR``, not a raw socket;
  ``source_address``, ``prot_c``, ``ccc``, ``putcmd``, ``getline`` and other raw-socket
  methods raise.
"""

from __future__ import annotations

import contextlib
import ftplib as _std
import io
import os
import socket
import ssl
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal

import ferroftp
from ferroftp._native import RemoteFile, Session

if TYPE_CHECKING:
    from typing_extensions import Self

# The standard module's own objects: its exceptions are the very same classes.
B_CRLF = _std.B_CRLF
CRLF = _std.CRLF
FTP_PORT = _std.FTP_PORT
MAXLINE = _std.MAXLINE
MSG_OOB = _std.MSG_OOB
Error = _std.Error
all_errors = _std.all_errors
error_perm = _std.error_perm
error_proto = _std.error_proto
error_reply = _std.error_reply
error_temp = _std.error_temp
parse150 = _std.parse150
parse227 = _std.parse227
parse229 = _std.parse229
parse257 = _std.parse257


def print_line(line: str) -> None:
    """Default retrlines callback to print a line."""
    print(line)


__all__ = [
    "CRLF",
    "FTP",
    "FTP_TLS",
    "Error",
    "all_errors",
    "error_perm",
    "error_proto",
    "error_reply",
    "error_temp",
]

#: What :meth:`FTP.connect` returns (and :meth:`FTP.getwelcome` gives before login): ferroftp's
#: core opens the connection when it logs in.
WELCOME = "220 ferroftp.ftplib: the connection opens at login (the greeting is not available)"
#: What :meth:`FTP.login` returns (the core reads the server's reply itself).
LOGIN_REPLY = "230 Login successful."
#: What the transfer methods return once the server confirmed a transfer (the core reads the
#: server's final reply itself).
TRANSFER_REPLY = "226 Transfer complete."
#: What :meth:`FTP.quit` returns (the core says goodbye itself).
QUIT_REPLY = "221 Goodbye."
#: What :meth:`FTP_TLS.auth` returns before the login (the core negotiates TLS at login).
AUTH_REPLY = "234 AUTH TLS successful."

#: The buffer of a download read by line.
_READ = 256 * 1024
#: The bytes of one ranged read (REST + RETR, stopped once they are in) of a download from an
#: offset: each is a data connection of its own.
_RANGE = 4 * 1024 * 1024


def _unsupported(what: str, why: str) -> NotImplementedError:
    return NotImplementedError(f"ferroftp.ftplib: {what} is not supported: {why}")


class _ControlSocket:
    """What ``FTP.sock`` is once logged in: a stand-in for the control connection's socket,
    which ferroftp's core owns. ``gettimeout()``/``settimeout()`` keep a value (the session
    keeps the timeout it was opened with); nothing else of a socket is offered."""

    def __init__(self, timeout: float | None) -> None:
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def settimeout(self, value: float | None) -> None:
        self._timeout = value

    def __getattr__(self, name: str) -> Any:
        raise _unsupported(f"FTP.sock.{name}", "the control connection belongs to ferroftp's core")


class _RemoteRaw(io.RawIOBase):
    """A raw stream over a :class:`ferroftp.RemoteFile` (for ``io.BufferedReader``,
    ``io.TextIOWrapper`` and ``makefile``)."""

    def __init__(self, file: RemoteFile) -> None:
        super().__init__()
        self._file = file

    def readable(self) -> bool:
        return self._file.readable()

    def writable(self) -> bool:
        return self._file.writable()

    def readinto(self, buffer: Any) -> int:
        return self._file.readinto(buffer)

    def write(self, data: Any) -> int:
        return self._file.write(data)

    def close(self) -> None:  # the transfer ends with the data connection, not with this
        super().close()


class _DataConnection:
    """What :meth:`FTP.transfercmd` returns: a stand-in for the data connection's socket,
    over a remote file of the session (which holds the session until the transfer ends).

    ``recv``, ``recv_into``, ``send``, ``sendall``, ``makefile``, ``close``, ``settimeout``,
    ``gettimeout`` and the context manager work as a socket's; ``close()`` ends the transfer
    (an upload waits for the server's confirmation) and :meth:`FTP.voidresp` reports its
    outcome.
    """

    def __init__(self, owner: FTP, file: RemoteFile) -> None:
        self._owner = owner
        self._file = file
        self._timeout = owner._timeout_value()
        self.closed = False
        self.outcome: BaseException | None = None
        self.finished = False

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self._file.read(bufsize)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        view = memoryview(buffer)
        return self._file.readinto(view[:nbytes] if nbytes else view)

    def send(self, data: Any, flags: int = 0) -> int:
        return self._file.write(data)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._file.write(data)

    def makefile(
        self,
        mode: str = "r",
        buffering: int | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> Any:
        """As ``socket.makefile``: a buffered binary file (``"rb"``, ``"wb"``), or a text one
        (``"r"``, ``"w"``) with ``encoding``, ``errors`` and ``newline``."""
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        binary = "b" in mode
        raw = _RemoteRaw(self._file)
        if buffering is None:
            buffering = -1
        if buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if not binary:
                raise ValueError("unbuffered streams must be binary")
            return raw
        buffer: io.BufferedReader | io.BufferedWriter = (
            io.BufferedReader(raw, buffering) if "r" in mode else io.BufferedWriter(raw, buffering)
        )
        if binary:
            return buffer
        text = io.TextIOWrapper(buffer, encoding, errors, newline)
        text.mode = mode  # type: ignore[misc]
        return text

    def settimeout(self, value: float | None) -> None:
        self._timeout = value

    def gettimeout(self) -> float | None:
        return self._timeout

    def shutdown(self, how: int) -> None:
        pass

    def unwrap(self) -> _DataConnection:
        return self

    def fileno(self) -> int:
        raise _unsupported(
            "the data connection's fileno()", "the connection belongs to ferroftp's core"
        )

    def close(self) -> None:
        """Ends the transfer: an upload is confirmed by the server, a download read to its
        end reads the final reply (one closed before its end is abandoned). The outcome is
        what :meth:`FTP.voidresp` reports."""
        if self.closed:
            return
        self.closed = True
        complete = self._file.mode == "wb" or self._file._at_eof()
        try:
            self._file.close()
        except BaseException as e:
            self.outcome = e
        else:
            if not complete:
                self.outcome = error_temp(
                    "426 ferroftp.ftplib: the data connection was closed before the end of "
                    "the file; the transfer is abandoned"
                )
        self.finished = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _BlockWriter:
    """The file object a download writes to: hands ``callback`` blocks of ``blocksize``."""

    def __init__(self, owner: FTP, callback: Callable[[bytes], object], blocksize: int) -> None:
        self._owner = owner
        self._callback = callback
        self._blocksize = max(1, blocksize)
        self._pending = bytearray()

    def write(self, data: bytes) -> int:
        self._pending += data
        size = self._blocksize
        while len(self._pending) >= size:
            block = bytes(self._pending[:size])
            del self._pending[:size]
            self._deliver(block)
        return len(data)

    def _deliver(self, block: bytes) -> None:
        self._callback(block)
        if self._owner._abort_requested:
            raise _Aborted()

    def finish(self) -> None:
        if self._pending:
            block, self._pending = bytes(self._pending), bytearray()
            self._deliver(block)


class _BlockReader:
    """The file object an upload reads from: reads ``blocksize`` at a time from ``fp`` and
    hands each block to ``callback``."""

    def __init__(
        self,
        owner: FTP,
        fp: Any,
        blocksize: int,
        callback: Callable[[bytes], object] | None,
        lines: bool,
    ) -> None:
        self._owner = owner
        self._fp = fp
        self._blocksize = blocksize
        self._callback = callback
        self._lines = lines

    def read(self, size: int = -1) -> bytes:
        if self._owner._abort_requested:
            raise _Aborted()
        if self._lines:
            maxline = self._owner.maxline
            buf = self._fp.readline(maxline + 1)
            if len(buf) > maxline:
                raise Error(f"got more than {maxline} bytes")
            if buf and buf[-2:] != B_CRLF:
                if buf[-1] in B_CRLF:
                    buf = buf[:-1]
                buf = buf + B_CRLF
            if buf and self._callback:
                self._callback(buf)  # the line as the standard module sends it
            # Stored as a server stores an ASCII upload on Unix: with LF line ends.
            return bytes(buf[:-2]) + b"\n" if buf else b""
        buf = self._fp.read(self._blocksize)
        if buf and self._callback:
            self._callback(buf)
        return bytes(buf)


class _Aborted(Exception):
    """A transfer stopped by :meth:`FTP.abort` from its callback."""


class FTP:
    """An FTP client, as the standard library's :class:`ftplib.FTP`, over a ferroftp session:
    safe to share between threads. See the module's documentation for what differs."""

    debugging = 0
    host = ""
    port = FTP_PORT
    maxline = MAXLINE
    sock: Any = None
    file: Any = None
    welcome: str | None = None
    passiveserver = True
    trust_server_pasv_ipv4_address = False
    lastresp = ""
    #: TLS for the session: ``None`` (plain FTP) or ``"explicit"`` (``FTP_TLS``).
    _tls: Literal["explicit"] | None = None

    def __init__(
        self,
        host: str = "",
        user: str = "",
        passwd: str = "",
        acct: str = "",
        timeout: float | None = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
        source_address: tuple[str, int] | None = None,
        *,
        encoding: str = "utf-8",
    ) -> None:
        self.encoding = encoding
        self.source_address = source_address
        self.timeout = timeout
        self._lock = threading.RLock()
        self._session: Session | None = None
        self._credentials: tuple[str, str, str] | None = None
        self._pending: _DataConnection | None = None
        self._pending_thread: int | None = None
        self._in_transfer: int | None = None
        self._abort_requested = False
        if host:
            self.connect(host)
            if user:
                self.login(user, passwd, acct)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *args: object) -> None:
        if self.sock is not None:
            try:
                self.quit()
            except (OSError, EOFError):
                pass
            finally:
                if self.sock is not None:
                    self.close()

    # --- connecting -----------------------------------------------------------------------

    def connect(
        self,
        host: str = "",
        port: int = 0,
        timeout: float = -999,
        source_address: tuple[str, int] | None = None,
    ) -> str:
        """Records the server (``host``, ``port``, ``timeout``) for :meth:`login`, which
        opens the connection (ferroftp's core connects and logs in at once); returns a
        stand-in greeting (:data:`WELCOME`). ``source_address`` is not supported (the core
        binds no local address): ``NotImplementedError``."""
        if host != "":
            self.host = host
        if port > 0:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        if self.timeout is not None and not self.timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        if source_address is not None:
            self.source_address = source_address
        if self.source_address is not None:
            raise _unsupported("source_address", "ferroftp's core binds no local address")
        sys.audit("ftplib.connect", self, self.host, self.port)
        self.welcome = WELCOME
        return self.welcome

    def getwelcome(self) -> str | None:
        """The server's greeting once :meth:`login` opened the connection; before that the
        stand-in :meth:`connect` returned (:data:`WELCOME`)."""
        if self.debugging:
            print("*welcome*", self.sanitize(self.welcome or ""))
        return self.welcome

    def login(self, user: str = "", passwd: str = "", acct: str = "") -> str:
        """Connects and logs in (anonymously by default, as the standard module does);
        returns :data:`LOGIN_REPLY`. A refusal raises ``error_perm`` with the server's reply
        (a :class:`ferroftp.AuthenticationError`); an unreachable server raises ``OSError``
        (:class:`ferroftp.ConnectionError`, ``TimeoutError``)."""
        if not user:
            user = "anonymous"
        if not passwd:
            passwd = ""
        if not acct:
            acct = ""
        if user == "anonymous" and passwd in {"", "-"}:
            passwd = passwd + "anonymous@"
        with self._lock:
            self._settle()
            self._credentials = (user, passwd, acct)
            self._open(None)
        return LOGIN_REPLY

    def _timeout_value(self) -> float | None:
        timeout = self.timeout
        if timeout is socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
            return None
        return timeout

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "data_mode": "auto" if self.passiveserver else "active",
        }
        timeout = self._timeout_value()
        if timeout is not None:
            options["timeout"] = float(timeout)
            options["connect_timeout"] = float(timeout)
        return options

    def _open(self, cwd: str | None) -> None:
        """(Re)opens the session with the recorded credentials and options; back in ``cwd``."""
        assert self._credentials is not None
        if not self.host:
            raise ValueError("no host: call connect() first")
        user, passwd, acct = self._credentials
        old, self._session = self._session, None
        if old is not None:
            with contextlib.suppress(ferroftp.Error):
                old.close()
        session = ferroftp.connect(
            host=self.host,
            port=self.port,
            user=user,
            password=passwd,
            account=acct or None,
            tls=self._tls or "none",
            **self._tls_options(),
            **self._options(),
        )
        if cwd is not None:
            session.cwd(cwd)
        self._session = session
        self.welcome = session.welcome()
        self.sock = _ControlSocket(self._timeout_value())

    def _tls_options(self) -> dict[str, Any]:
        return {}

    def _live(self) -> Session:
        """The session, for a command: refuses before :meth:`login`, and from a callback of
        a transfer (which holds the session: the call would wait for it forever)."""
        if self._in_transfer == threading.get_ident():
            raise RuntimeError(
                "ferroftp.ftplib: a transfer's callback cannot use its FTP object (the "
                "transfer holds the session until it ends; abort() is the exception)"
            )
        self._settle()
        session = self._session
        if session is None:
            raise error_perm("530 ferroftp.ftplib: not logged in (the connection opens at login())")
        return session

    def _settle(self) -> None:
        """Ends a transfer this thread opened with :meth:`transfercmd` and left open, so that
        the next command does not wait for it forever."""
        pending = self._pending
        if pending is not None and self._pending_thread == threading.get_ident():
            pending.close()
            self._pending = None
            self._pending_thread = None

    def set_debuglevel(self, level: int) -> None:
        """Sets the debugging level: 1 prints commands and replies (as the standard module)."""
        self.debugging = level

    debug = set_debuglevel

    def set_pasv(self, val: bool) -> None:
        """Passive (EPSV, else PASV: the default) or active (``False``) data connections; a
        change after the login reopens the session (in the same working directory)."""
        val = bool(val)
        with self._lock:
            changed = val != self.passiveserver
            self.passiveserver = val
            if changed and self._session is not None:
                self._open(self._live().pwd())

    def sanitize(self, s: str) -> str:
        if s[:5] in {"pass ", "PASS "}:
            i = len(s.rstrip("\r\n"))
            s = s[:5] + "*" * (i - 5) + s[i:]
        return repr(s)

    # --- commands -------------------------------------------------------------------------

    def sendcmd(self, cmd: str) -> str:
        """Sends a command and returns the server's reply (lines joined by ``"\\n"``); a 4xx
        raises ``error_temp``, a 5xx ``error_perm``, anything but 1xx-3xx ``error_proto``.

        Commands that change what the session relies on (TYPE, REST, PASV, PORT, PROT, ...)
        make it reopen its connection (logged in, in the same directory) before the next
        call, so they have no lasting effect."""
        if "\r" in cmd or "\n" in cmd:
            raise ValueError("an illegal newline character should not be contained")
        sys.audit("ftplib.sendcmd", self, cmd)
        if self.debugging:
            print("*cmd*", self.sanitize(cmd))
        with self._lock:
            session = self._live()
            try:
                resp = session.command(cmd)
            except ferroftp.Error as e:
                if self.debugging:
                    print("*resp*", self.sanitize(str(e)))
                if e.code is not None:
                    self.lastresp = str(e)[:3]
                raise
        if self.debugging:
            print("*resp*", self.sanitize(resp))
        self.lastresp = resp[:3]
        if resp[:1] not in {"1", "2", "3"}:
            raise error_proto(resp)
        return resp

    def voidcmd(self, cmd: str) -> str:
        """Sends a command and expects a 2xx reply (else ``error_reply``)."""
        resp = self.sendcmd(cmd)
        if resp[:1] != "2":
            raise error_reply(resp)
        return resp

    def putline(self, line: str) -> None:
        """Not supported: a command is never sent without reading its reply (use
        :meth:`sendcmd`)."""
        raise _unsupported("putline", "ferroftp sends a command and reads its reply at once")

    def putcmd(self, line: str) -> None:
        """Not supported: see :meth:`putline`."""
        raise _unsupported("putcmd", "ferroftp sends a command and reads its reply at once")

    def getline(self) -> str:
        """Not supported: ferroftp reads every reply itself."""
        raise _unsupported("getline", "ferroftp reads every reply itself")

    def getmultiline(self) -> str:
        """Not supported: ferroftp reads every reply itself."""
        raise _unsupported("getmultiline", "ferroftp reads every reply itself")

    def getresp(self) -> str:
        """After :meth:`transfercmd`: the transfer's final reply, as :meth:`voidresp`.
        Otherwise not supported (ferroftp reads every reply itself)."""
        return self.voidresp()

    def voidresp(self) -> str:
        """After :meth:`transfercmd`: ends the transfer (closing its data connection if need
        be) and returns its final reply (:data:`TRANSFER_REPLY`), or raises its error."""
        pending = self._pending
        if pending is None:
            raise _unsupported(
                "voidresp without a transfer", "ferroftp reads every other reply itself"
            )
        self._pending = None
        self._pending_thread = None
        pending.close()
        if pending.outcome is not None:
            raise pending.outcome
        self.lastresp = TRANSFER_REPLY[:3]
        return TRANSFER_REPLY

    def abort(self) -> str:
        """Aborts a transfer. From a callback of :meth:`retrbinary`, :meth:`retrlines`,
        :meth:`storbinary` or :meth:`storlines` (on the thread running it) the transfer stops
        once the callback returns: its data connection is closed, the session goes on, and
        the method raises ``error_temp`` (``"426 ..."``); this returns ``"426 ..."`` (a
        stand-in: the core reads the server's reply itself). Otherwise ABOR is sent and the
        server's reply (``225``/``226``) returned."""
        if self._in_transfer == threading.get_ident():
            self._abort_requested = True
            return "426 ferroftp.ftplib: transfer aborted"
        with self._lock:
            resp = self._live().command("ABOR")
        if resp[:3] not in {"426", "225", "226"}:
            raise error_proto(resp)
        return resp

    def makepasv(self) -> tuple[str, int]:
        """Not supported: the core opens data connections itself (EPSV, else PASV)."""
        raise _unsupported("makepasv", "ferroftp's core opens data connections itself")

    def makeport(self) -> socket.socket:
        """Not supported: the core opens data connections itself (``set_pasv(False)``: active
        mode)."""
        raise _unsupported("makeport", "ferroftp's core opens data connections itself")

    def sendport(self, host: str, port: int) -> str:
        """Not supported: the core opens data connections itself."""
        raise _unsupported("sendport", "ferroftp's core opens data connections itself")

    def sendeprt(self, host: str, port: int) -> str:
        """Not supported: the core opens data connections itself."""
        raise _unsupported("sendeprt", "ferroftp's core opens data connections itself")

    def acct(self, password: str) -> str:
        """Sends ``ACCT`` (the account is better given to :meth:`login`, which sends it when
        the server asks for one)."""
        return self.voidcmd("ACCT " + password)

    # --- data connections -----------------------------------------------------------------

    @staticmethod
    def _split(cmd: str) -> tuple[str, str]:
        verb, _, arg = cmd.partition(" ")
        return verb.upper(), arg

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[Any, int | None]:
        """Starts a transfer: returns a stand-in for the data connection's socket (see
        :class:`_DataConnection`) and the size the server announced (else ``None``).

        Only ``RETR path`` (with ``rest``: from that byte on, through ranged reads) and
        ``STOR path`` (without ``rest``) can be honoured: the core opens no data connection
        for other commands, nor an upload at an offset (``NotImplementedError``). The transfer
        holds the session until the connection is closed; then :meth:`voidresp` gives its
        outcome."""
        verb, path = self._split(cmd)
        if verb not in {"RETR", "STOR"} or not path:
            raise _unsupported(
                f"transfercmd({cmd!r})",
                "ferroftp's core opens data connections for RETR and STOR of a path only",
            )
        if verb == "STOR" and rest is not None:
            raise _unsupported(
                "STOR with rest", "ferroftp's core has no upload at an offset (REST + STOR)"
            )
        with self._lock:
            session = self._live()
            self._settle()
            file = session.open(path, "rb" if verb == "RETR" else "wb")
            size = file.announced_size
            if rest is not None:
                file.seek(int(rest))
                size = None if size is None else max(0, size - int(rest))
            conn = _DataConnection(self, file)
            self._pending = conn
            self._pending_thread = threading.get_ident()
        return conn, size

    def transfercmd(self, cmd: str, rest: int | str | None = None) -> Any:
        """Like :meth:`ntransfercmd`, but returns only the connection."""
        return self.ntransfercmd(cmd, rest)[0]

    def _transfer(self, work: Callable[[Session], None]) -> str:
        """Runs a transfer method's work on the session, with :meth:`abort` honoured."""
        with self._lock:
            session = self._live()
            self._in_transfer = threading.get_ident()
            self._abort_requested = False
            try:
                work(session)
            except _Aborted:
                raise error_temp("426 ferroftp.ftplib: transfer aborted") from None
            except ferroftp.CancelledError:
                if self._abort_requested:
                    raise error_temp("426 ferroftp.ftplib: transfer aborted") from None
                raise
            finally:
                self._in_transfer = None
                self._abort_requested = False
        self.lastresp = TRANSFER_REPLY[:3]
        return TRANSFER_REPLY

    def retrbinary(
        self,
        cmd: str,
        callback: Callable[[bytes], object],
        blocksize: int = 8192,
        rest: int | str | None = None,
    ) -> str:
        """Downloads ``RETR path``, calling ``callback`` with each block of ``blocksize``
        bytes (the last one shorter) as the data arrives; ``rest``: from that byte on (ranged
        reads). Returns :data:`TRANSFER_REPLY` once the server confirmed the transfer (and
        its size checked out). Other commands than RETR: ``NotImplementedError``."""
        verb, path = self._split(cmd)
        if verb != "RETR" or not path:
            raise _unsupported(
                f"retrbinary({cmd!r})", "ferroftp's core downloads with RETR of a path only"
            )

        def work(session: Session) -> None:
            writer = _BlockWriter(self, callback, blocksize)
            if rest is None:
                session.download(path, writer)
            else:
                offset = int(rest)
                while True:
                    chunk = session.read_range(path, offset, _RANGE)
                    writer.write(chunk)
                    offset += len(chunk)
                    if len(chunk) < _RANGE:
                        break
            writer.finish()

        return self._transfer(work)

    def retrlines(self, cmd: str, callback: Callable[[str], object] | None = None) -> str:
        """Downloads ``RETR path`` (or lists: ``LIST``, ``NLST``, ``MLSD``), calling
        ``callback`` (default: print) with each line, its line end (CRLF, CR or LF)
        stripped, decoded with :attr:`encoding`; returns :data:`TRANSFER_REPLY`.

        ``LIST``, ``NLST`` and ``MLSD`` (with any arguments, such as ``LIST -la``) give the
        server's own lines."""
        if callback is None:
            callback = print_line
        verb, arg = self._split(cmd)
        if verb in {"LIST", "NLST", "MLSD"}:
            lines = self._listing(verb, arg)
            return self._transfer(lambda _session: _each(lines, callback))
        if verb != "RETR" or not arg:
            raise _unsupported(
                f"retrlines({cmd!r})",
                "ferroftp's core transfers RETR of a path, and lists with LIST, NLST, MLSD",
            )
        maxline = self.maxline

        def work(session: Session) -> None:
            with session.open(arg, "rb") as file:
                text = io.TextIOWrapper(
                    io.BufferedReader(_RemoteRaw(file), _READ), encoding=self.encoding
                )
                while True:
                    line = text.readline(maxline + 1)
                    if len(line) > maxline:
                        raise Error(f"got more than {maxline} bytes")
                    if self.debugging > 2:
                        print("*retr*", repr(line))
                    if not line:
                        break
                    if line[-2:] == CRLF:
                        line = line[:-2]
                    elif line[-1:] == "\n":
                        line = line[:-1]
                    callback(line)
                    if self._abort_requested:
                        raise _Aborted()
                text.detach()

        return self._transfer(work)

    def _listing(self, verb: str, arg: str) -> list[str]:
        """The server's own lines of a listing command (with its arguments)."""
        with self._lock:
            session = self._live()
            command = f"{verb} {arg.strip()}" if arg.strip() else verb
            data = session.list_raw(command).decode(self.encoding, "surrogateescape")
            lines = data.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            return [line[:-1] if line.endswith("\r") else line for line in lines]

    def storbinary(
        self,
        cmd: str,
        fp: Any,
        blocksize: int = 8192,
        callback: Callable[[bytes], object] | None = None,
        rest: int | str | None = None,
    ) -> str:
        """Uploads ``fp`` (read ``blocksize`` bytes at a time) with ``STOR path``, calling
        ``callback`` with each block; returns :data:`TRANSFER_REPLY` once the server confirmed
        the transfer (and, where it offers SIZE, the size checked out). ``rest`` and commands
        other than STOR (APPE, STOU): ``NotImplementedError`` (no upload at an offset in the
        core)."""
        path = self._store_path(cmd, rest, "storbinary")
        reader = _BlockReader(self, fp, blocksize, callback, lines=False)
        return self._transfer(lambda session: _upload(session, reader, path))

    def storlines(
        self, cmd: str, fp: Any, callback: Callable[[bytes], object] | None = None
    ) -> str:
        """Uploads the lines of ``fp`` (a binary file: ``readline``) with ``STOR path``;
        returns :data:`TRANSFER_REPLY`. ``callback`` gets each line as the standard module
        sends it (ending with CRLF). The core transfers in binary (TYPE I), so the lines are
        sent as a server on Unix stores an ASCII upload: ending with LF (a server that stores
        ASCII uploads unconverted, as vsftpd does by default, would keep CRLF from the
        standard module)."""
        path = self._store_path(cmd, None, "storlines")
        reader = _BlockReader(self, fp, 0, callback, lines=True)
        return self._transfer(lambda session: _upload(session, reader, path))

    def _store_path(self, cmd: str, rest: int | str | None, method: str) -> str:
        verb, path = self._split(cmd)
        if verb != "STOR" or not path:
            raise _unsupported(
                f"{method}({cmd!r})", "ferroftp's core uploads with STOR of a path only"
            )
        if rest is not None:
            raise _unsupported(
                f"{method} with rest", "ferroftp's core has no upload at an offset (REST)"
            )
        return path

    # --- listings -------------------------------------------------------------------------

    def nlst(self, *args: str) -> list[str]:
        """The names in a directory (NLST), without their directory part."""
        cmd = "NLST"
        for arg in args:
            cmd = cmd + (" " + arg)
        files: list[str] = []
        self.retrlines(cmd, files.append)
        return files

    def dir(self, *args: Any) -> None:
        """Lists a directory in long form (LIST; see :meth:`retrlines`); the last argument
        may be a callback for each line (default: print)."""
        cmd = "LIST"
        func = None
        if args[-1:] and not isinstance(args[-1], str):
            args, func = args[:-1], args[-1]
        for arg in args:
            if arg:
                cmd = cmd + (" " + arg)
        self.retrlines(cmd, func)

    def mlsd(
        self, path: str = "", facts: Iterable[str] = ()
    ) -> Iterator[tuple[str, dict[str, str]]]:
        """Yields ``(name, facts)`` for each entry of the MLSD listing of ``path``, as the
        standard module parses the server's lines. With ``facts``, ``OPTS MLST`` is sent as
        the standard module does (its refusal raises), but the listing has the server's
        default facts, of which only those asked for are given: facts outside that default
        set are missing."""
        wanted = [f.lower() for f in facts]
        if wanted:
            # The server's answer (or refusal) is its own; the session then reopens its
            # connection (OPTS changes its state), so the facts are picked here.
            self.sendcmd("OPTS MLST " + ";".join(facts) + ";")
        lines = self._listing("MLSD", path)
        for line in lines:
            facts_found, _, name = line.rstrip(CRLF).partition(" ")
            entry: dict[str, str] = {}
            for fact in facts_found[:-1].split(";"):
                key, _, value = fact.partition("=")
                if not wanted or key.lower() in wanted:
                    entry[key.lower()] = value
            yield (name, entry)

    # --- files and directories ------------------------------------------------------------

    def rename(self, fromname: str, toname: str) -> str:
        """Renames (RNFR, RNTO: no other call of this object comes between them)."""
        with self._lock:
            resp = self.sendcmd("RNFR " + fromname)
            if resp[0] != "3":
                raise error_reply(resp)
            return self.voidcmd("RNTO " + toname)

    def delete(self, filename: str) -> str:
        resp = self.sendcmd("DELE " + filename)
        if resp[:3] in {"250", "200"}:
            return resp
        raise error_reply(resp)

    def cwd(self, dirname: str) -> str:
        """Changes the working directory (kept across reconnects)."""
        if dirname == "..":
            try:
                return self.voidcmd("CDUP")
            except error_perm as msg:
                if msg.args[0][:3] != "500":
                    raise
        elif dirname == "":
            dirname = "."
        return self.voidcmd("CWD " + dirname)

    def size(self, filename: str) -> int | None:
        resp = self.sendcmd("SIZE " + filename)
        if resp[:3] == "213":
            return int(resp[3:].strip())
        return None

    def mkd(self, dirname: str) -> str:
        resp = self.voidcmd("MKD " + dirname)
        if not resp.startswith("257"):
            return ""
        return parse257(resp)

    def rmd(self, dirname: str) -> str:
        return self.voidcmd("RMD " + dirname)

    def pwd(self) -> str:
        resp = self.voidcmd("PWD")
        if not resp.startswith("257"):
            return ""
        return parse257(resp)

    def quit(self) -> str:
        """Says goodbye and closes the session; returns :data:`QUIT_REPLY`."""
        with self._lock:
            self._live()
            self.close()
        return QUIT_REPLY

    def close(self) -> None:
        """Closes the session (QUIT) without raising."""
        with self._lock:
            session, self._session = self._session, None
            self.sock = None
            self.file = None
            pending, self._pending = self._pending, None
            if pending is not None:
                with contextlib.suppress(Exception):
                    pending.close()
            if session is not None:
                with contextlib.suppress(ferroftp.Error):
                    session.close()


def _each(lines: list[str], callback: Callable[[str], object]) -> None:
    for line in lines:
        callback(line)


def _upload(session: Session, reader: _BlockReader, path: str) -> None:
    session.upload(reader, path)


def _remove_file(path: str) -> None:
    """Removes ``path`` if it is still there."""
    with contextlib.suppress(OSError):
        os.unlink(path)


class FTP_TLS(FTP):
    """:class:`FTP` with TLS (explicit, ``AUTH TLS``), as the standard library's
    :class:`ftplib.FTP_TLS`, reusing the TLS session on data connections as servers require.

    The certificate check follows ``context``: its ``verify_mode`` (``CERT_NONE``: no check —
    the default context is the standard module's, which checks nothing) and the CA
    certificates loaded into it from files (``load_verify_locations(cafile=...)``); a client
    certificate is taken from ``certfile``/``keyfile`` (not from ``context``). Every data
    connection is protected (as after :meth:`prot_p`).
    """

    ssl_version = ssl.PROTOCOL_TLS_CLIENT

    def __init__(
        self,
        host: str = "",
        user: str = "",
        passwd: str = "",
        acct: str = "",
        keyfile: str | None = None,
        certfile: str | None = None,
        context: ssl.SSLContext | None = None,
        timeout: float | None = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
        source_address: tuple[str, int] | None = None,
        *,
        encoding: str = "utf-8",
    ) -> None:
        if context is not None and keyfile is not None:
            raise ValueError("context and keyfile arguments are mutually exclusive")
        if context is not None and certfile is not None:
            raise ValueError("context and certfile arguments are mutually exclusive")
        if keyfile is not None or certfile is not None:
            import warnings

            warnings.warn(
                "keyfile and certfile are deprecated, use a custom context instead",
                DeprecationWarning,
                2,
            )
        self.keyfile = keyfile
        self.certfile = certfile
        if context is None:
            context = ssl._create_stdlib_context(  # type: ignore[attr-defined]
                self.ssl_version, certfile=certfile, keyfile=keyfile
            )
        self.context = context
        self._prot_p = False
        self._secure = False
        self._ca_file: str | None = None
        self._ca_cleanup: weakref.finalize[[str], FTP_TLS] | None = None
        super().__init__(host, user, passwd, acct, timeout, source_address, encoding=encoding)

    def login(self, user: str = "", passwd: str = "", acct: str = "", secure: bool = True) -> str:
        """Logs in over TLS (``secure=False``: in the clear); see :meth:`FTP.login`."""
        if secure and not self._secure:
            self.auth()
        return super().login(user, passwd, acct)

    def auth(self) -> str:
        """Asks for TLS on the control connection: the core negotiates it at the login, so
        before it this returns :data:`AUTH_REPLY`; once logged in over TLS, ``ValueError``
        as the standard module."""
        if self._secure and self._session is not None:
            raise ValueError("Already using TLS")
        self._secure = True
        self._tls = "explicit"
        return AUTH_REPLY

    def ccc(self) -> str:
        """Not supported: the core keeps TLS on the control connection."""
        if not self._secure:
            raise ValueError("not using TLS")
        raise _unsupported("ccc", "ferroftp's core keeps TLS on the control connection")

    def prot_p(self) -> str:
        """Sends PBSZ 0 and PROT P; returns the server's reply. (Data connections are always
        protected: the session reopens its connection before the next call, protected as
        before.)"""
        self.voidcmd("PBSZ 0")
        resp = self.voidcmd("PROT P")
        self._prot_p = True
        return resp

    def prot_c(self) -> str:
        """Not supported: every data connection of a TLS session is protected."""
        raise _unsupported("prot_c", "ferroftp protects every data connection of a TLS session")

    def _tls_options(self) -> dict[str, Any]:
        if not self._secure:
            return {}
        options: dict[str, Any] = {}
        if self.context.verify_mode == ssl.CERT_NONE:
            options["verify"] = False
        else:
            ca_file = self._context_cas()
            if ca_file is not None:
                options["ca_file"] = ca_file
        if self.certfile is not None:
            options["client_cert"] = self.certfile
            options["client_key"] = self.keyfile or self.certfile
        return options

    def _context_cas(self) -> str | None:
        """A PEM file of the CA certificates loaded into :attr:`context` (none: the system's)."""
        if self._ca_file is not None:
            return self._ca_file
        certs = self.context.get_ca_certs(binary_form=True)
        if not certs:
            return None
        fd, name = tempfile.mkstemp(prefix="ferroftp-ftplib-", suffix=".pem")
        with os.fdopen(fd, "w") as f:
            for der in certs:
                f.write(ssl.DER_cert_to_PEM_cert(der))
        self._ca_file = name
        # Removed by close(), or else when this object is collected or the interpreter exits
        # (scripts that never close their FTP_TLS must not leave the file behind).
        self._ca_cleanup = weakref.finalize(self, _remove_file, name)
        return name

    def close(self) -> None:
        super().close()
        self._ca_file = None
        cleanup = getattr(self, "_ca_cleanup", None)
        if cleanup is not None:
            cleanup()
