# Hand-written stubs of the extension module ferroftp._native (checked by mypy.stubtest).
import asyncio
import builtins
import datetime
import os
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, Literal, Protocol, final, overload

from typing_extensions import Self, TypeAlias

from ferroftp._helpers import AsyncOpening
from ferroftp.exceptions import Error

__version__: str

SETTINGS: tuple[dict[str, Any], ...]
"""The core's connection settings, in its order: the keyword options of :func:`connect`,
:func:`connect_async`, :class:`Pool` and :class:`AsyncPool`. One dict each: ``name``,
``kind`` (``"seconds"``, ``"flag"``, ``"count"``, ``"bytes"``, ``"choice"``, ``"path"``,
``"text"``), ``choices`` (the names a ``"choice"`` takes, else ``None``), ``optional``
(whether it takes ``None``), ``default`` and ``doc``."""

ERROR_KINDS: tuple[str, ...]
"""The core's error kinds: each is the ``kind`` of a class of :mod:`ferroftp.exceptions`."""
DATA_MODES: tuple[str, ...]
"""The core's data modes: every value ``data_mode=`` takes."""
CHECKSUMS: tuple[str, ...]
"""The core's checksum names but ``"off"``: every value ``checksum=`` takes besides ``None``
(off)."""

__all__ = [
    "CHECKSUMS",
    "DATA_MODES",
    "ERROR_KINDS",
    "SETTINGS",
    "AsyncPool",
    "AsyncPooledSession",
    "AsyncRemoteFile",
    "AsyncSession",
    "BatchProgress",
    "BatchResult",
    "Entry",
    "Pool",
    "PooledSession",
    "RemoteFile",
    "Session",
    "__version__",
    "_before_exit",
    "_error",
    "_panic_in_operation",
    "_panic_in_operation_async",
    "_refusal",
    "connect",
    "connect_async",
    "path_from_bytes",
    "path_to_bytes",
    "reset_log_cache",
]

_Progress: TypeAlias = Callable[[int, int | None], object]
"""``progress(done, total)``: bytes done so far and the total when known (else ``None``)."""

_Checksum: TypeAlias = (
    Literal["if-available", "required", "sha256", "sha512", "sha1", "md5", "crc32"] | None
)
"""``checksum=`` of ``download``/``upload``: ``None`` (off), ``"if-available"``, ``"required"``,
or one algorithm (the names of ``CHECKSUMS``)."""

_Buffer: TypeAlias = bytes | bytearray | memoryview
_StrPath: TypeAlias = str | os.PathLike[str]
_RemotePath: TypeAlias = str | bytes
"""A remote path: ``str``, or ``bytes`` holding the server's raw bytes (see :class:`Session`)."""

class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...

class _Readable(Protocol):
    def read(self, size: int, /) -> bytes | bytearray | memoryview: ...

def connect(
    url: str | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    user: str | None = None,
    password: str | None = None,
    account: str | None = None,
    timeout: float = 30.0,
    connect_timeout: float = 10.0,
    tls: Literal["none", "explicit", "implicit"] | None = None,
    verify: bool = True,
    ca_file: _StrPath | None = None,
    tls_server_name: str | None = None,
    client_cert: _StrPath | None = None,
    client_key: _StrPath | None = None,
    data_mode: Literal["auto", "epsv", "pasv", "active"] = "auto",
    retries: int = 3,
    buffer_size: int = 1048576,
    pipelining: bool = True,
) -> Session:
    """Connects and logs in to the server of ``url``.

    ``url`` is ``ftp://user:password@host:port/dir`` (``ftpes://`` = explicit TLS,
    ``ftps://`` = implicit TLS on port 990); without a user the login is anonymous. Instead
    of a URL: ``host=`` with ``port=`` (21, or 990 with ``tls="implicit"``), ``user=``,
    ``password=`` and ``account=`` (sent with ACCT when the server asks for one), no
    percent-encoding needed; ``user=``/``password=``/``account=`` also complete a URL.

    Options: ``timeout`` (seconds, for each reply and each data read/write),
    ``connect_timeout``, ``tls`` (overrides the URL's scheme), ``verify`` (check the server's
    certificate), ``ca_file`` (extra certificates to trust, PEM: CAs, or the server's own
    certificate, which pins it: trusted as it is, CA flag or not, within its dates and names),
    ``tls_server_name`` (the name the certificate must carry, when it is not the host),
    ``client_cert`` and ``client_key`` (PEM files, for a server that requires a client
    certificate), ``data_mode`` (``"auto"`` = EPSV
    falling back to PASV), ``retries`` (operations safe to repeat are retried on a fresh
    connection after a connection failure), ``buffer_size`` (the transfer buffer in bytes: the
    most a transfer allocates), ``pipelining`` (once all of a download's announced bytes are in,
    send the next data command's EPSV before its final reply is read: one round trip fewer per
    file; turn it off for a server that drops commands sent during a transfer). The options and
    their defaults are the core's settings (:data:`SETTINGS`).

    Raises ``ferroftp.Error`` subclasses (``ConnectionError``, ``AuthenticationError``,
    ``TimeoutError``, ``InvalidInputError`` for a bad URL, ...); ``ValueError`` for a bad
    option value, ``TypeError`` for an option of the wrong type or an unknown one.
    """

def connect_async(
    url: str | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    user: str | None = None,
    password: str | None = None,
    account: str | None = None,
    timeout: float = 30.0,
    connect_timeout: float = 10.0,
    tls: Literal["none", "explicit", "implicit"] | None = None,
    verify: bool = True,
    ca_file: _StrPath | None = None,
    tls_server_name: str | None = None,
    client_cert: _StrPath | None = None,
    client_key: _StrPath | None = None,
    data_mode: Literal["auto", "epsv", "pasv", "active"] = "auto",
    retries: int = 3,
    buffer_size: int = 1048576,
    pipelining: bool = True,
) -> Awaitable[AsyncSession]:
    """The awaitable twin of :func:`connect` (call it with an event loop running)."""

@final
class Entry:
    """One entry of a directory listing."""

    @property
    def name(self) -> str:
        """The file name, without any directory part."""
    @property
    def name_bytes(self) -> bytes:
        """The file name as the server sent it; differs from ``name`` only for names that are
        not UTF-8, which ``name`` (and ``path``) carry as private-use characters that every
        method maps back to the original bytes."""
    @property
    def path(self) -> str:
        """The listed directory joined with the name."""
    @property
    def path_bytes(self) -> bytes:
        """``path`` as the server's bytes (``path_to_bytes(entry.path)``); may be passed back
        wherever a remote path is taken."""
    @property
    def kind(self) -> Literal["file", "dir", "link", "other"]:
        """What the entry is."""
    @property
    def size(self) -> int | None:
        """The size in bytes, when the listing gives one."""
    @property
    def modified(self) -> datetime.datetime | None:
        """The modification time (an aware UTC datetime), when the listing gives one."""
    @property
    def permissions(self) -> str | None:
        """Permissions as the server gave them (``"rwxr-xr-x"``, ``"0755"``, MLSD ``perm``)."""
    @property
    def target(self) -> str | None:
        """The target of a symbolic link, when the listing gives it."""
    @property
    def raw(self) -> str:
        """The listing line, unchanged."""
    def is_dir(self) -> bool:
        """Whether the entry is a directory."""
    def is_file(self) -> bool:
        """Whether the entry is a regular file."""
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Session:
    """A blocking FTP session; one object may be used by any number of threads at once.

    Operations run one at a time in arrival order, each holding the connection for its whole
    exchange. The GIL is released while an operation runs; Ctrl-C raises ``KeyboardInterrupt``
    and cancels the operation, and the session stays usable (it reconnects if it must).
    Made by :func:`connect`.

    Remote paths are ``str`` or ``bytes``. FTP names are bytes, and names that are not UTF-8
    (Latin-1, Shift-JIS, ...) are returned as ``str`` in which each byte that is not part of
    valid UTF-8 is a private-use character (U+F780 + byte - 0x80); every method maps those back,
    so a returned name or path reaches that very file. ``bytes`` are sent exactly as given:
    ``Entry.name_bytes``, ``Entry.path_bytes`` and :func:`path_to_bytes` give them. Returned
    names and paths are always ``str``, whatever type the arguments had.
    """

    def list(self, path: _RemotePath = "") -> builtins.list[Entry]:
        """Lists a directory (MLSD when the server offers it, else LIST parsed); ``""`` is the
        working directory."""
    def names(self, path: _RemotePath = "") -> builtins.list[str]:
        """The names in a directory (NLST), as ``str`` whatever the type of ``path``
        (:func:`path_to_bytes` gives a name's bytes; :meth:`list` gives ``Entry.name_bytes``)."""
    def download(
        self,
        remote: _RemotePath,
        local: _StrPath | _Writable,
        *,
        resume: bool = False,
        verify: bool = True,
        checksum: _Checksum = None,
        progress: _Progress | None = None,
    ) -> int:
        """Downloads ``remote`` to a local path, or into a binary file object (chunk by chunk
        through its ``write``); returns the byte count.

        A path receives the data under a temporary name (``.<name>.ferroftp-part``), renamed
        into place only after the server's final reply and the checks: the size (``verify``,
        the size the server announced or SIZE) and a checksum (``checksum``). With
        ``resume=True`` a download that fails or is interrupted keeps that part file, and the
        next ``resume=True`` download continues from it (REST); local paths only.

        ``checksum`` compares a digest of the received data with the server's (HASH, or
        XSHA256, XSHA512, XSHA1, XMD5, XCRC as its FEAT offers): ``"if-available"`` uses the
        strongest one offered and checks nothing more where there is none; ``"required"``
        fails with :class:`~ferroftp.PermanentError` before any data moves where there is
        none; ``"sha256"``, ``"sha512"``, ``"sha1"``, ``"md5"``, ``"crc32"`` use that one only
        (and fail the same way without it). A mismatch raises
        :class:`~ferroftp.IntegrityError` and leaves no file behind. ``verify=False`` and
        ``checksum`` are for local paths only (``NotImplementedError`` with a file object,
        whose transfer always checks the size).
        ``progress(done, total)`` is called on this thread as data arrives, while the transfer
        waits for it; calls are coalesced (each sees the latest count, so a fast transfer may
        report only a few). An exception in it stops the transfer if it is still running, and
        is raised. The session is busy with this transfer meanwhile: a callback (or a file
        object) that calls this same session from this thread would wait forever.
        """
    def upload(
        self,
        local: _StrPath | _Readable,
        remote: _RemotePath,
        *,
        resume: bool = False,
        atomic: bool = False,
        verify: bool = True,
        checksum: _Checksum = None,
        progress: _Progress | None = None,
    ) -> int:
        """Uploads a local path, or a binary file object (chunk by chunk through its ``read``),
        to ``remote``; returns the byte count once the server confirmed the transfer.

        ``resume=True`` continues from what the server already holds (REST + STOR, or APPE);
        ``atomic=True`` uploads to a temporary name beside ``remote`` and renames it into place
        after the server's final reply, so readers never see a partial file. ``verify`` checks
        the remote size afterwards (SIZE, where offered); ``checksum`` compares the server's
        digest of the stored file with the local file's, as for :meth:`download` (before an
        atomic upload's rename: a mismatch removes the temporary file and leaves ``remote`` as
        it was; a plain upload's file is left as stored). ``resume``, ``atomic``,
        ``verify=False`` and ``checksum`` are for local paths only (``NotImplementedError``
        with a file object).
        """
    def read_bytes(self, remote: _RemotePath) -> bytes:
        """Downloads ``remote`` into memory."""
    def write_bytes(self, remote: _RemotePath, data: _Buffer) -> int:
        """Uploads ``data`` to ``remote``; returns the byte count."""
    def list_raw(self, command: str) -> bytes:
        """The raw bytes of a listing command with any arguments (``"LIST -la /pub"``,
        ``"NLST"``, ``"MLSD dir"``), as the server sent them; other commands raise
        ``InvalidInputError``."""
    def welcome(self) -> str:
        """The server's greeting (its 220 reply)."""
    def read_range(self, remote: _RemotePath, offset: int, length: int) -> bytes:
        """Reads ``length`` bytes of ``remote`` from byte ``offset`` (fewer at the end of the
        file, none past it); the transfer stops once they are in, and the session stays
        usable (a server without REST sends the file from its start)."""
    def stat(self, path: _RemotePath) -> Entry:
        """One :class:`Entry` for ``path``, a file or a directory (MLST facts where offered,
        else SIZE/MDTM, or CWD for a directory); ``NotFoundError`` when there is neither."""
    def set_modified(self, path: _RemotePath, time: datetime.datetime) -> None:
        """Sets the modification time of a remote file (an aware datetime; MFMT, or MDTM with
        a time where the server has no MFMT)."""
    def chmod(self, path: _RemotePath, mode: int) -> None:
        """Sets the permissions of a remote file or directory (``SITE CHMOD``, ``mode`` such as
        ``0o644``)."""
    def size(self, path: _RemotePath) -> int:
        """The size of a remote file in bytes (SIZE)."""
    def modified(self, path: _RemotePath) -> datetime.datetime:
        """The modification time of a remote file (MDTM): an aware UTC datetime."""
    def exists(self, path: _RemotePath) -> bool:
        """Whether a remote file or directory exists."""
    def mkdir(self, path: _RemotePath, *, parents: bool = False) -> None:
        """Creates a directory; with ``parents=True`` also its missing parents (and an existing
        directory is not an error)."""
    def rmdir(self, path: _RemotePath, *, recursive: bool = False) -> None:
        """Removes a directory; with ``recursive=True`` everything in it first."""
    def remove(self, path: _RemotePath) -> None:
        """Removes a file (DELE)."""
    def rename(self, src: _RemotePath, dst: _RemotePath) -> None:
        """Renames (moves) a remote file or directory."""
    def cwd(self, path: _RemotePath) -> None:
        """Changes the working directory (restored after any reconnect)."""
    def pwd(self) -> str:
        """The working directory, as ``str`` (:func:`path_to_bytes` gives its bytes)."""
    def noop(self) -> None:
        """NOOP: checks the connection (reopening it if needed)."""
    def quote(self, line: str) -> tuple[int, str]:
        """Sends a raw command line; returns the reply's ``(code, text)`` whatever the code."""
    def command(self, line: str) -> str:
        """Sends a raw command line like :meth:`quote` and returns the reply's text (the lines
        of a multi-line reply joined by ``"\\n"``), like ``ftplib.FTP.sendcmd``; a refusal
        raises: a 4xx :class:`~ferroftp.TransientError`, a 5xx
        :class:`~ferroftp.PermanentError` (``AuthenticationError`` for 530), whose ``str()`` is
        the server's reply (``"550 ..."``) and ``command`` the line.

        Commands that change the state the session relies on (TYPE, REST, PASV, PROT, ...)
        make the session reopen its connection (logged in, in the same directory) before the
        next operation, for both methods."""
    def glob(self, pattern: _RemotePath) -> builtins.list[str]:
        """The paths matching ``pattern``, sorted: ``*``, ``?`` and ``[...]`` match within a
        name (not a leading dot), ``**`` any number of directories (``"/logs/**/*.gz"``). A
        relative pattern matches from the working directory, and gives relative paths; one
        without wildcards gives itself when it exists."""
    def open(self, path: _RemotePath, mode: Literal["rb", "wb"] = "rb") -> RemoteFile:
        """Opens a remote file for streaming reads (``"rb"``) or writes (``"wb"``).

        The file holds the session until it is closed: other operations on the session (from
        any thread) wait meanwhile — use it in a ``with`` block.
        """
    @overload
    def walk(
        self, top: _RemotePath = "/", *, detail: Literal[False] = False
    ) -> Iterator[tuple[str, builtins.list[str], builtins.list[str]]]:
        """Walks the tree under ``top`` (default: the root) like ``os.walk`` (top-down; prune
        ``dirnames`` in place): yields ``(dirpath, dirnames, filenames)``. Links are listed
        in ``filenames`` and not followed. With ``detail=True``, yields
        ``(dirpath, dirs, files)``, dicts of :class:`Entry` (sizes, times) by name, like
        ``fsspec``'s ``walk(detail=True)``: deleting a key of ``dirs`` prunes it."""
    @overload
    def walk(
        self, top: _RemotePath = "/", *, detail: Literal[True]
    ) -> Iterator[tuple[str, dict[str, Entry], dict[str, Entry]]]: ...
    @overload
    def walk(self, top: _RemotePath = "/", *, detail: bool) -> Iterator[tuple[str, Any, Any]]: ...
    def close(self) -> None:
        """Says goodbye (QUIT); later calls raise ``ferroftp.ClosedError``."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
        /,
    ) -> bool: ...

@final
class AsyncSession:
    """An asyncio FTP session; one object may be used by any number of tasks at once.

    The same methods as :class:`Session`, returning awaitables (asyncio futures, already
    running: use ``await``, ``asyncio.gather``, ``asyncio.wait_for`` or ``asyncio.ensure_future``).
    Cancelling one cancels the operation; the session stays usable. Made by
    :func:`connect_async`.
    """

    def list(self, path: _RemotePath = "") -> Awaitable[builtins.list[Entry]]:
        """See :meth:`Session.list`."""
    def names(self, path: _RemotePath = "") -> Awaitable[builtins.list[str]]:
        """See :meth:`Session.names`."""
    def download(
        self,
        remote: _RemotePath,
        local: _StrPath | _Writable,
        *,
        resume: bool = False,
        verify: bool = True,
        checksum: _Checksum = None,
        progress: _Progress | None = None,
    ) -> Awaitable[int]:
        """See :meth:`Session.download`; ``progress`` and a file object's ``write`` are called
        on the event loop's thread."""
    def upload(
        self,
        local: _StrPath | _Readable,
        remote: _RemotePath,
        *,
        resume: bool = False,
        atomic: bool = False,
        verify: bool = True,
        checksum: _Checksum = None,
        progress: _Progress | None = None,
    ) -> Awaitable[int]:
        """See :meth:`Session.upload`; ``progress`` and a file object's ``read`` are called on
        the event loop's thread."""
    def read_bytes(self, remote: _RemotePath) -> Awaitable[bytes]:
        """See :meth:`Session.read_bytes`."""
    def write_bytes(self, remote: _RemotePath, data: _Buffer) -> Awaitable[int]:
        """See :meth:`Session.write_bytes`."""
    def list_raw(self, command: str) -> Awaitable[bytes]:
        """See :meth:`Session.list_raw`."""
    def welcome(self) -> Awaitable[str]:
        """See :meth:`Session.welcome`."""
    def read_range(self, remote: _RemotePath, offset: int, length: int) -> Awaitable[bytes]:
        """See :meth:`Session.read_range`."""
    def stat(self, path: _RemotePath) -> Awaitable[Entry]:
        """See :meth:`Session.stat`."""
    def set_modified(self, path: _RemotePath, time: datetime.datetime) -> Awaitable[None]:
        """See :meth:`Session.set_modified`."""
    def chmod(self, path: _RemotePath, mode: int) -> Awaitable[None]:
        """See :meth:`Session.chmod`."""
    def size(self, path: _RemotePath) -> Awaitable[int]:
        """See :meth:`Session.size`."""
    def modified(self, path: _RemotePath) -> Awaitable[datetime.datetime]:
        """See :meth:`Session.modified`."""
    def exists(self, path: _RemotePath) -> Awaitable[bool]:
        """See :meth:`Session.exists`."""
    def mkdir(self, path: _RemotePath, *, parents: bool = False) -> Awaitable[None]:
        """See :meth:`Session.mkdir`."""
    def rmdir(self, path: _RemotePath, *, recursive: bool = False) -> Awaitable[None]:
        """See :meth:`Session.rmdir`."""
    def remove(self, path: _RemotePath) -> Awaitable[None]:
        """See :meth:`Session.remove`."""
    def rename(self, src: _RemotePath, dst: _RemotePath) -> Awaitable[None]:
        """See :meth:`Session.rename`."""
    def cwd(self, path: _RemotePath) -> Awaitable[None]:
        """See :meth:`Session.cwd`."""
    def pwd(self) -> Awaitable[str]:
        """See :meth:`Session.pwd`."""
    def noop(self) -> Awaitable[None]:
        """See :meth:`Session.noop`."""
    def quote(self, line: str) -> Awaitable[tuple[int, str]]:
        """See :meth:`Session.quote`."""
    def command(self, line: str) -> Awaitable[str]:
        """See :meth:`Session.command`."""
    def glob(self, pattern: _RemotePath) -> Awaitable[builtins.list[str]]:
        """See :meth:`Session.glob`."""
    def open(self, path: _RemotePath, mode: Literal["rb", "wb"] = "rb") -> AsyncOpening:
        """See :meth:`Session.open`: ``async with s.open(path) as f: await f.read()`` (or
        ``f = await s.open(path)``, then ``await f.close()``).

        The file is opened when the result is awaited or entered."""
    def _open(
        self, path: _RemotePath, mode: Literal["rb", "wb"] = "rb"
    ) -> asyncio.Future[AsyncRemoteFile]: ...
    @overload
    def walk(
        self, top: _RemotePath = "/", *, detail: Literal[False] = False
    ) -> AsyncIterator[tuple[str, builtins.list[str], builtins.list[str]]]:
        """See :meth:`Session.walk`: ``async for dirpath, dirnames, filenames in s.walk(top)``."""
    @overload
    def walk(
        self, top: _RemotePath = "/", *, detail: Literal[True]
    ) -> AsyncIterator[tuple[str, dict[str, Entry], dict[str, Entry]]]: ...
    @overload
    def walk(
        self, top: _RemotePath = "/", *, detail: bool
    ) -> AsyncIterator[tuple[str, Any, Any]]: ...
    def close(self) -> Awaitable[None]:
        """See :meth:`Session.close`."""
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
        /,
    ) -> Awaitable[bool]: ...

@final
class RemoteFile:
    """A remote file open for reading (``"rb"``) or writing (``"wb"``); see :meth:`Session.open`.

    It holds its session until closed. An operation interrupted by Ctrl-C abandons the transfer
    (the file can no longer be used; the session stays usable).
    """

    @property
    def name(self) -> str:
        """The remote path."""
    @property
    def mode(self) -> Literal["rb", "wb"]:
        """The mode the file was opened in."""
    @property
    def closed(self) -> bool:
        """Whether the file was closed."""
    @property
    def announced_size(self) -> int | None:
        """The size the server announced when the download started (in its 150 reply), if
        it did."""
    def read(self, size: int | None = -1, /) -> bytes:
        """Reads up to ``size`` bytes (fewer only at the end); all of the rest when ``size`` is
        negative or omitted; ``b""`` at the end."""
    def readall(self) -> bytes:
        """Reads all of the rest."""
    def readline(self, size: int | None = -1, /) -> bytes:
        """Reads one line, up to and including ``b"\\n"`` (at most ``size`` bytes); ``b""``
        at the end. Iterating over the file gives its lines."""
    def readlines(self, hint: int | None = -1, /) -> builtins.list[bytes]:
        """Reads the rest as a list of lines (stopping after the line that reaches ``hint``
        bytes, when given)."""
    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        """Reads into ``buffer``; returns the byte count (0 at the end)."""
    def write(self, data: _Buffer, /) -> int:
        """Writes all of ``data``; returns its length."""
    def flush(self) -> None:
        """Flushes written data to the data connection."""
    def tell(self) -> int:
        """The position: bytes read (or written) so far."""
    def seek(self, offset: int, whence: int = 0, /) -> int:
        """Moves a reader to ``offset`` (``whence``: 0 from the start, 1 from the position, 2
        from the end, which asks the server for the size); returns the new position.

        Within what was read ahead, the transfer goes on. Anywhere else, the streaming
        transfer ends (so the file no longer holds the session) and each later read is one
        ranged read of the session (REST, RETR, stopped once the bytes are in), taking the
        session's lock for itself. A writer: ``io.UnsupportedOperation``."""
    def _at_eof(self) -> bool: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def __next__(self) -> bytes: ...
    def close(self) -> None:
        """Ends the transfer and releases the session: an upload waits for the server's
        confirmation (errors are raised); a download read to its end reads the final reply; a
        download closed before its end is abandoned. Closing twice does nothing."""
    def readable(self) -> bool: ...
    def writable(self) -> bool: ...
    def seekable(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
        /,
    ) -> bool:
        """Closes the file; after an exception an upload is abandoned, not confirmed."""

@final
class AsyncRemoteFile:
    """The awaitable twin of :class:`RemoteFile`; see :meth:`AsyncSession.open`."""

    @property
    def name(self) -> str:
        """The remote path."""
    @property
    def mode(self) -> Literal["rb", "wb"]:
        """The mode the file was opened in."""
    @property
    def closed(self) -> bool:
        """Whether the file was closed."""
    @property
    def announced_size(self) -> int | None:
        """See :attr:`RemoteFile.announced_size`."""
    def read(self, size: int | None = -1, /) -> Awaitable[bytes]:
        """See :meth:`RemoteFile.read`."""
    def readline(self, size: int | None = -1, /) -> Awaitable[bytes]:
        """See :meth:`RemoteFile.readline`; ``async for line in f`` gives the lines."""
    def readinto(self, buffer: bytearray | memoryview, /) -> Awaitable[int]:
        """See :meth:`RemoteFile.readinto` (the buffer is filled when the awaitable is
        done)."""
    def write(self, data: _Buffer, /) -> Awaitable[int]:
        """See :meth:`RemoteFile.write`."""
    def flush(self) -> Awaitable[None]:
        """See :meth:`RemoteFile.flush`."""
    def tell(self) -> int:
        """See :meth:`RemoteFile.tell`."""
    def seek(self, offset: int, whence: int = 0, /) -> Awaitable[int]:
        """See :meth:`RemoteFile.seek`."""
    def seekable(self) -> bool: ...
    def __aiter__(self) -> AsyncIterator[bytes]: ...
    def __anext__(self) -> Awaitable[bytes]: ...
    def close(self) -> Awaitable[None]:
        """See :meth:`RemoteFile.close`."""
    def readable(self) -> bool: ...
    def writable(self) -> bool: ...
    def _abandon(self) -> None: ...
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
        /,
    ) -> Awaitable[bool]:
        """Closes the file; after an exception an upload is abandoned, not confirmed."""

def path_to_bytes(path: str, /) -> bytes:
    """The server's bytes for a remote path or name the library gave as ``str``
    (``Session.pwd()``, ``Session.names()``, ``Entry.path``, ...): UTF-8, except that the
    private-use characters standing for bytes that are not UTF-8 become those bytes."""

def path_from_bytes(raw: bytes, /) -> str:
    """The ``str`` form of the server's bytes ``raw``, as a listing would give it; passing it as
    a path is the same as passing ``raw``. ``path_to_bytes(path_from_bytes(raw)) == raw`` for
    every ``raw``."""

def reset_log_cache() -> None:
    """Re-reads the levels of the ``ferroftp`` and ``suppaftp`` loggers of :mod:`logging`: call it
    after changing them (a logger's level is cached after its first record, so that records
    nobody listens to cost nothing)."""

def _before_exit() -> None:
    """The ``atexit`` hook registered on import: from then on, no thread of ferroftp's runtime
    enters Python (awaitables still running never complete), and those inside are waited for,
    so that none is in Python when the interpreter finalizes."""

def _panic_in_operation() -> None:
    """Test hook: panics inside a spawned blocking operation."""

def _panic_in_operation_async() -> Awaitable[None]:
    """Test hook: panics inside an awaitable operation."""

def _error(kind: str, message: str, /) -> Error:
    """Test hook: the exception a core error of ``kind`` (one of :data:`ERROR_KINDS`) with
    ``message`` becomes."""

def _refusal(code: int, reply: str, command: str, /) -> Error:
    """Test hook: the exception the core's error for the server's refusal ``reply`` (with reply
    code ``code``) of the command line ``command`` becomes."""

_BatchProgressCallback: TypeAlias = Callable[[BatchProgress], object]
"""``progress(p)``: called with a :class:`BatchProgress` as files and bytes move."""

@final
class BatchProgress:
    """A batch's progress: files and bytes done and in all."""

    @property
    def files_done(self) -> int:
        """Files finished, successfully or not."""
    @property
    def files_total(self) -> int:
        """Files in the batch."""
    @property
    def bytes_done(self) -> int:
        """Bytes transferred so far (never decreases)."""
    @property
    def bytes_total(self) -> int | None:
        """Bytes in the batch, when every file's size is known."""

@final
class BatchResult:
    """What a batch did. True when no file failed."""

    @property
    def ok(self) -> dict[str, int]:
        """``{remote path: bytes}`` of the files transferred."""
    @property
    def failed(self) -> dict[str, BaseException]:
        """``{remote path: exception}`` of the files that failed (``ferroftp.Error`` subclasses)."""
    @property
    def skipped(self) -> builtins.list[str]:
        """Remote paths a tree transfer left alone because they already matched."""
    @property
    def bytes(self) -> int:
        """Bytes transferred by the files in :attr:`ok`."""
    def raise_first(self) -> None:
        """Raises the exception of the first failed path (in path order), if any."""
    def __bool__(self) -> bool: ...

@final
class PooledSession:
    """``with pool.session() as s``: lends one :class:`Session` for the block."""

    def __enter__(self) -> Session: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
        /,
    ) -> bool: ...

@final
class AsyncPooledSession:
    """``async with pool.session() as s``: lends one :class:`AsyncSession` for the block."""

    def __aenter__(self) -> Awaitable[AsyncSession]: ...
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
        /,
    ) -> Awaitable[bool]: ...

@final
class Pool:
    """Up to ``max_sessions`` sessions to one server, for parallel transfers.

    Sessions are opened when first needed, reused, checked with NOOP after idling and closed
    after a longer idle. When the server refuses a connection as "too many", the pool carries
    on with the sessions it has and tries one more later. Safe to share between threads.
    ``wait_timeout`` bounds how long a caller waits for a free session (``None``: no limit);
    the other options are those of :func:`connect`.
    """

    def __new__(
        cls,
        url: str | None = None,
        *,
        max_sessions: int = 8,
        wait_timeout: float | None = None,
        host: str | None = None,
        port: int | None = None,
        user: str | None = None,
        password: str | None = None,
        account: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        tls: Literal["none", "explicit", "implicit"] | None = None,
        verify: bool = True,
        ca_file: _StrPath | None = None,
        tls_server_name: str | None = None,
        client_cert: _StrPath | None = None,
        client_key: _StrPath | None = None,
        data_mode: Literal["auto", "epsv", "pasv", "active"] = "auto",
        retries: int = 3,
        buffer_size: int = 1048576,
        pipelining: bool = True,
    ) -> Self: ...
    def download_many(
        self,
        items: Iterable[tuple[_RemotePath, _StrPath]],
        *,
        progress: _BatchProgressCallback | None = None,
        stop_on_error: bool = False,
        checksum: _Checksum = None,
    ) -> BatchResult:
        """Downloads ``(remote, local)`` pairs with up to ``max_sessions`` sessions at once.

        One failing file does not stop the others unless ``stop_on_error``; failures are in the
        result. Downloads are retried on a fresh connection where that is safe. ``checksum`` is
        that of :meth:`Session.download`, for every file (a mismatch fails that file with
        ``IntegrityError``)."""
    def upload_many(
        self,
        items: Iterable[tuple[_StrPath, _RemotePath]],
        *,
        progress: _BatchProgressCallback | None = None,
        stop_on_error: bool = False,
        checksum: _Checksum = None,
    ) -> BatchResult:
        """Uploads ``(local, remote)`` pairs with up to ``max_sessions`` sessions at once."""
    def download_tree(
        self,
        remote: _RemotePath,
        local: _StrPath,
        *,
        skip_existing: bool = False,
        progress: _BatchProgressCallback | None = None,
        stop_on_error: bool = False,
        checksum: _Checksum = None,
    ) -> BatchResult:
        """Mirrors the remote directory ``remote`` into ``local`` (created as needed), listing
        each remote directory once. ``skip_existing`` leaves files whose size (and time, where
        known) already match.

        Directories are listed in parallel over the pool's sessions while files already move,
        so ``files_total`` and ``bytes_total`` of the progress grow as the walk finds files.
        A top directory that cannot be listed raises; a subdirectory that cannot be listed is
        in ``failed`` under its remote path (its subtree left out), like a file that fails."""
    def upload_tree(
        self,
        local: _StrPath,
        remote: _RemotePath,
        *,
        skip_existing: bool = False,
        progress: _BatchProgressCallback | None = None,
        stop_on_error: bool = False,
        checksum: _Checksum = None,
    ) -> BatchResult:
        """Mirrors the local directory ``local`` into ``remote`` (created as needed).

        Remote directories are made in parallel over the pool's sessions, each before its
        files, while files already move (the progress totals grow as the walk finds files). A
        top directory that cannot be read or made raises; a subdirectory that cannot be read,
        made or listed is in ``failed`` under its remote path, like a file that fails."""
    def session(self) -> PooledSession:
        """Borrows one session: ``with pool.session() as s: ...``. Do not keep ``s`` beyond
        the block."""
    @property
    def open_sessions(self) -> int:
        """Sessions open now (idle or lent)."""
    @property
    def limit(self) -> int:
        """How many sessions the pool may open now (lowered while the server refuses more)."""
    def close(self) -> None:
        """Closes the pool: idle sessions say goodbye; later calls raise ``ClosedError``."""
    def read_range(self, remote: _RemotePath, offset: int, length: int) -> bytes:
        """:meth:`Session.read_range` on a session borrowed for this one read."""
    def read_bytes(self, remote: _RemotePath) -> bytes:
        """:meth:`Session.read_bytes` on a session borrowed for this one read."""
    def read_many(
        self, reads: Iterable[tuple[_RemotePath, int, int | None]]
    ) -> list[bytes | Error]:
        """Many reads at once over the pool's sessions (each borrowed once for a run of
        reads): ``reads`` are ``(remote, offset, length)`` (``length`` None: the whole file);
        one item per read, in order: its bytes, or its exception (one failing read does not
        stop the others)."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
        /,
    ) -> bool: ...

@final
class AsyncPool:
    """:class:`Pool` for asyncio: the same methods, returning awaitables."""

    def __new__(
        cls,
        url: str | None = None,
        *,
        max_sessions: int = 8,
        wait_timeout: float | None = None,
        host: str | None = None,
        port: int | None = None,
        user: str | None = None,
        password: str | None = None,
        account: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        tls: Literal["none", "explicit", "implicit"] | None = None,
        verify: bool = True,
        ca_file: _StrPath | None = None,
        tls_server_name: str | None = None,
        client_cert: _StrPath | None = None,
        client_key: _StrPath | None = None,
        data_mode: Literal["auto", "epsv", "pasv", "active"] = "auto",
        retries: int = 3,
        buffer_size: int = 1048576,
        pipelining: bool = True,
    ) -> Self: ...
    def download_many(
        self,
        items: Iterable[tuple[_RemotePath, _StrPath]],
        *,
        progress: _BatchProgressCallback | None = None,
        stop_on_error: bool = False,
        checksum: _Checksum = None,
    ) -> Awaitable[BatchResult]:
        """See :meth:`Pool.download_many`."""
    def upload_many(
        self,
        items: Iterable[tuple[_StrPath, _RemotePath]],
        *,
        progress: _BatchProgressCallback | None = None,
        stop_on_error: bool = False,
        checksum: _Checksum = None,
    ) -> Awaitable[BatchResult]:
        """See :meth:`Pool.upload_many`."""
    def download_tree(
        self,
        remote: _RemotePath,
        local: _StrPath,
        *,
        skip_existing: bool = False,
        progress: _BatchProgressCallback | None = None,
        stop_on_error: bool = False,
        checksum: _Checksum = None,
    ) -> Awaitable[BatchResult]:
        """See :meth:`Pool.download_tree`."""
    def upload_tree(
        self,
        local: _StrPath,
        remote: _RemotePath,
        *,
        skip_existing: bool = False,
        progress: _BatchProgressCallback | None = None,
        stop_on_error: bool = False,
        checksum: _Checksum = None,
    ) -> Awaitable[BatchResult]:
        """See :meth:`Pool.upload_tree`."""
    def read_range(self, remote: _RemotePath, offset: int, length: int) -> Awaitable[bytes]:
        """See :meth:`Pool.read_range`."""
    def read_bytes(self, remote: _RemotePath) -> Awaitable[bytes]:
        """See :meth:`Pool.read_bytes`."""
    def read_many(
        self, reads: Iterable[tuple[_RemotePath, int, int | None]]
    ) -> Awaitable[list[bytes | Error]]:
        """See :meth:`Pool.read_many`."""
    def blocking(self) -> Pool:
        """A blocking :class:`Pool` over the same sessions (for a thread without an event
        loop: no hop through a loop's thread)."""
    def session(self) -> AsyncPooledSession:
        """Borrows one session: ``async with pool.session() as s: ...``."""
    @property
    def open_sessions(self) -> int:
        """See :attr:`Pool.open_sessions`."""
    @property
    def limit(self) -> int:
        """See :attr:`Pool.limit`."""
    def close(self) -> Awaitable[None]:
        """See :meth:`Pool.close`."""
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
        /,
    ) -> Awaitable[bool]: ...
