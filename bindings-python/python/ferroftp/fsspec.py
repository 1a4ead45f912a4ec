"""An fsspec filesystem over ferroftp: ``ftp://`` and ``ftps://`` for pandas, Dask and every
other fsspec caller.

Installing ferroftp registers :class:`FTPFileSystem` for the ``ftp`` and ``ftps`` protocols
through fsspec's ``fsspec.specs`` entry point, so that ``fsspec.open("ftp://…")``,
``fsspec.filesystem("ftp", host=…)``, ``pd.read_csv("ftp://…")`` and
``dask.dataframe.read_csv("ftp://…/*.csv")`` run on it::

    import fsspec

    fs = fsspec.filesystem("ftp", host="ftp.example.com", username="me", password="pw")
    fs.ls("/pub")                      # detail dicts: name, size, type, mtime, raw, ...
    fs.cat(["/pub/a.csv", "/pub/b.csv"])   # fetched in parallel over the pool's sessions
    with fs.open("/pub/big.bin") as f:     # random access: ranged reads, read-ahead cache
        f.seek(1 << 30)
        f.read(65536)

It is an fsspec ``AsyncFileSystem`` over a :class:`ferroftp.AsyncPool` (up to
``max_sessions`` sessions, opened when first needed): the bulk calls (``cat``, ``get``, ``put``,
``rm``, ``find``, ``cp``) fan out over the pool's sessions instead of queueing on one connection.

The constructor takes the arguments of fsspec's own FTP filesystem (``host``, ``port``,
``username``, ``password``, ``acct``, ``block_size``, ``tempdir``, ``timeout``, ``encoding``,
``tls``), every option of :func:`ferroftp.connect` (``ca_file``, ``verify``, ``data_mode``, ...)
and ``max_sessions``, ``wait_timeout``, ``atomic``. URL credentials (``ftp://user:pw@host/…``,
percent-encoded) become ``username``/``password``; ``ftps://`` means TLS: explicit (AUTH TLS),
or implicit on port 990 or with ``tls="implicit"``.

Instances pickle as their constructor arguments (fsspec's way), so Dask ships them to its workers,
where each process opens its own pool when the filesystem is first used there; after ``fork()``
the child likewise opens a pool of its own (and a new fsspec event loop) and never touches the
parent's connections.

To keep fsspec's own FTP implementation for the ``ftp`` protocol instead::

    import fsspec
    fsspec.register_implementation(
        "ftp", "fsspec.implementations.ftp.FTPFileSystem", clobber=True
    )

(or use ``fsspec.implementations.ftp.FTPFileSystem`` directly).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import datetime
import errno
import logging
import os
import posixpath
import tempfile
import types
import uuid
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator
from glob import has_magic
from typing import Any, Literal, NoReturn
from urllib.parse import unquote

from fsspec.asyn import (  # type: ignore[import-untyped]
    AbstractAsyncStreamedFile,
    AsyncFileSystem,
    get_loop,
    sync,
    sync_wrapper,
)
from fsspec.callbacks import DEFAULT_CALLBACK, NoOpCallback  # type: ignore[import-untyped]
from fsspec.spec import AbstractBufferedFile, _Cached  # type: ignore[import-untyped]
from fsspec.utils import other_paths  # type: ignore[import-untyped]

import ferroftp
from ferroftp._native import (
    SETTINGS,
    AsyncPool,
    AsyncPooledSession,
    AsyncRemoteFile,
    AsyncSession,
    Entry,
)
from ferroftp.exceptions import AuthenticationError, Error, NotFoundError, PermanentError

__all__ = ["FTPFile", "FTPFileSystem", "FTPStreamedFile"]

log = logging.getLogger("ferroftp.fsspec")
log.addHandler(logging.NullHandler())

#: The read-ahead block of files opened for reading, and the write buffer of files opened for
#: writing (``block_size=`` changes it). Each block read is one ranged transfer (REST + RETR).
DEFAULT_BLOCK_SIZE = 4 << 20

#: Bytes moved per step when copying a remote file to another remote file.
COPY_CHUNK = 1 << 20

#: Reading to the end of a file: a length no file reaches.
TO_THE_END = 1 << 62

#: Refusals (of STOR, MKD, RNTO, DELE, ...) that mean "not allowed": PermissionError.
REFUSED = (550, 553, 532)

#: Words of a refusal that says the path (or its directory) does not exist.
MISSING_WORDS = ("no such file", "no such directory", "not found", "does not exist")

#: The option names of ferroftp's connections (``connect``'s keyword options).
SETTING_NAMES = frozenset(s["name"] for s in SETTINGS)

#: fsspec's ``tls=`` strings: its own FTP filesystem connects with implicit TLS for any of them
#: (``ImplicitFTPTLS``) at the protocol version it names.
FSSPEC_TLS_IMPLICIT = frozenset({"tls", "sslv23", "tlsv1_2"})
FSSPEC_TLS_TOO_OLD = frozenset({"tlsv1", "tlsv1_1"})

#: Pools this process inherited through fork(): their connections belong to the parent, and
#: dropping them here could disturb the parent's event registrations, so they are kept.
_INHERITED: list[AsyncPool] = []


def _oserror(exc: BaseException, path: str | None) -> BaseException:
    """The exception fsspec callers expect for a ferroftp error (the error itself when it
    already is one): a refused login or a refused change is a ``PermissionError``."""
    if isinstance(exc, AuthenticationError):
        return PermissionError(errno.EACCES, f"login refused: {exc}")
    if isinstance(exc, NotFoundError):
        return exc
    if isinstance(exc, PermanentError) and exc.code in REFUSED:
        text = str(exc).lower()
        if any(words in text for words in MISSING_WORDS):
            # e.g. pyftpdlib's "550 No such file or directory." to a STOR into a missing
            # directory: the core classifies only lookups (RETR, SIZE, CWD, ...) as not-found
            return FileNotFoundError(errno.ENOENT, str(exc), path)
        return PermissionError(errno.EACCES, str(exc), path)
    return exc


def _raise(exc: BaseException, path: str | None) -> NoReturn:
    """Raises ``_oserror(exc, path)``, chained to ``exc`` when it is another exception."""
    new = _oserror(exc, path)
    if new is exc:
        raise exc
    raise new from exc


@contextlib.contextmanager
def _errors(path: str | None) -> Iterator[None]:
    """Translates the ferroftp errors raised in the block (see :func:`_oserror`)."""
    try:
        yield
    except Error as e:
        _raise(e, path)


def _refused_before_data(exc: BaseException) -> bool:
    """Whether an upload failed with the server refusing it before any data moved: then the
    remote file was not touched (and must not be removed)."""
    return isinstance(exc, NotFoundError) or (
        isinstance(exc, PermanentError) and exc.code in (*REFUSED, 450, 501, 502, 504)
    )


def _tls_mode(tls: object, port: int | None) -> Literal["none", "explicit", "implicit"] | None:
    """ferroftp's ``tls=`` for fsspec's: False/None plain, True explicit, ``"implicit"``/
    ``"explicit"``/``"none"`` as they are, and fsspec's protocol names implicit."""
    if tls is None or tls is False:
        return None
    if tls is True:
        return "implicit" if port == 990 else "explicit"
    if isinstance(tls, str):
        low = tls.lower()
        if low in ("none", "explicit", "implicit"):
            return low  # type: ignore[return-value]
        if low in FSSPEC_TLS_IMPLICIT:
            return "implicit"
        if low in FSSPEC_TLS_TOO_OLD:
            raise ValueError(
                f"tls={tls!r}: ferroftp speaks TLS 1.2 and 1.3 only (rustls); use tls=True "
                "(explicit) or tls='implicit'"
            )
    raise ValueError(
        f"tls={tls!r}: expected False, True (explicit TLS), 'explicit', 'implicit' or one of "
        f"fsspec's {sorted(FSSPEC_TLS_IMPLICIT)} (implicit TLS)"
    )


def _split_url(url: str) -> dict[str, Any]:
    """``host``, ``port``, ``username``, ``password`` (percent-decoded) and, for ``ftps://``,
    ``tls`` from an ``ftp://`` or ``ftps://`` URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return {}
    netloc = rest.split("/", 1)[0]
    out: dict[str, Any] = {}
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if user:
            out["username"] = unquote(user)
        if colon:
            out["password"] = unquote(password)
    host, port = hostport, ""
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    elif ":" in hostport:
        host, _, port = hostport.rpartition(":")
    if host:
        out["host"] = host
    if port:
        out["port"] = int(port)
    if scheme.lower() == "ftps":
        out["tls"] = "implicit" if port == "990" else True
    return out


class _FileSystemMeta(_Cached):  # type: ignore[misc]
    """fsspec's metaclass of filesystems (its instance cache), named here so that type checkers
    (and stubtest) see that :class:`FTPFileSystem` has one."""


class FTPFileSystem(AsyncFileSystem, metaclass=_FileSystemMeta):  # type: ignore[misc]
    """fsspec's filesystem for ``ftp://`` and ``ftps://``, over a :class:`ferroftp.AsyncPool`.

    Arguments as fsspec's own ``FTPFileSystem``: ``host`` (a name, an address, or a whole
    ``ftp://user:pw@host:port`` URL), ``port`` (21, or 990 with implicit TLS), ``username`` and
    ``password`` (anonymous without), ``acct`` (sent with ACCT when asked), ``block_size`` (the
    read-ahead block and write buffer of :meth:`open`, default 4 MiB), ``tempdir`` (where files
    written inside a transaction wait for the commit; default: beside their target),
    ``timeout`` (seconds per reply or data read/write), ``encoding`` (of remote names; UTF-8
    names that are not valid UTF-8 keep their bytes either way), ``tls`` (False plain, True
    explicit TLS, ``"implicit"``, or fsspec's ``"tls"``/``"tlsv1_2"``, which mean implicit TLS).

    ferroftp's own: every option of :func:`ferroftp.connect` (``ca_file``, ``verify``,
    ``tls_server_name``, ``client_cert``, ``client_key``, ``data_mode``, ``retries``,
    ``connect_timeout``, ``buffer_size``, ``pipelining``), ``max_sessions`` (the pool's size,
    default 8), ``wait_timeout`` (how long a call waits for a free session; None: as long as it
    takes) and ``atomic`` (default False; True: writes go to a temporary name beside the
    target and are renamed into place once the server confirmed them; ``open``, ``pipe_file``,
    ``put_file`` and ``cp_file`` also take ``atomic=`` per call).

    A write that fails leaves nothing half-written: the partial file (the target, or the
    temporary one) is removed, unless the server refused the upload before it began, when the
    target was never touched. Missing parent directories of a written file are created.
    """

    protocol = ("ftp", "ftps")
    root_marker = "/"
    # set by fsspec's AsyncFileSystem
    _pid: int
    _loop: Any
    asynchronous: bool

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        acct: str | None = None,
        block_size: int | None = None,
        tempdir: str | None = None,
        timeout: float = 30.0,
        encoding: str = "utf-8",
        tls: bool | str | None = False,
        *,
        max_sessions: int = 8,
        wait_timeout: float | None = None,
        atomic: bool = False,
        **kwargs: Any,
    ) -> None:
        for ours, theirs in (("user", "username"), ("account", "acct"), ("url", "host")):
            if ours in kwargs:
                raise TypeError(f"FTPFileSystem: {ours}= is spelled {theirs}= here (fsspec's name)")
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in SETTING_NAMES}
        super().__init__(**kwargs)
        if host is not None and "://" in host:
            parsed = _split_url(host)
            host = parsed.get("host")
            port = port if port is not None else parsed.get("port")
            username = username if username is not None else parsed.get("username")
            password = password if password is not None else parsed.get("password")
            if tls is False and "tls" in parsed:
                tls = parsed["tls"]
        if not host:
            raise ValueError("FTPFileSystem: no host (pass host=, or use an ftp://host/ URL)")
        if block_size is not None and (not isinstance(block_size, int) or block_size <= 0):
            raise ValueError(f"block_size={block_size!r}: expected a positive number of bytes")
        "".encode(encoding)  # LookupError for an unknown encoding, now rather than later
        self.host = host
        self.port = port
        self.username = username
        self.tempdir = tempdir
        self.timeout = timeout
        self.encoding = encoding
        self.tls = tls
        self.blocksize = block_size or DEFAULT_BLOCK_SIZE
        self.atomic = bool(atomic)
        self.max_sessions = max_sessions
        self._utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        self._pool_args: dict[str, Any] = {
            "host": host,
            "port": port,
            "user": username,
            "password": password,
            "account": acct,
            "timeout": timeout,
            "tls": _tls_mode(tls, port),
            "max_sessions": max_sessions,
            "wait_timeout": wait_timeout,
            **options,
        }
        # Made now (it opens no connection until used), so that a bad option is an error of
        # the constructor; a process that did not make it (fork) makes its own.
        self._pool: AsyncPool | None = AsyncPool(**self._pool_args)
        self._pool_pid = os.getpid()
        self._copy_slots: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    # --- processes, pools, sessions --------------------------------------------------------

    @property
    def loop(self) -> Any:
        """fsspec's IO loop of this process (a child after fork() gets a loop of its own; fsspec's
        own property refuses to work there)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            if not self.asynchronous:
                self._loop = get_loop()
        return self._loop

    def _get_pool(self) -> AsyncPool:
        """This process's pool, made on first use in a process (the one made by the constructor
        in the process that made the instance)."""
        pid = os.getpid()
        if self._pool is None or self._pool_pid != pid:
            if self._pool is not None and self._pool_pid != pid:
                _INHERITED.append(self._pool)
            self._pool = AsyncPool(**self._pool_args)
            self._pool_pid = pid
        return self._pool

    async def _borrow(self) -> tuple[AsyncPooledSession, AsyncSession]:
        """Borrows one session of the pool: ``(lease, session)``; ``lease.__aexit__`` gives it
        back. A borrower cancelled while the pool is lending (fsspec cancels the rest of a
        batch when one call fails) holds no session: the pool's lend is cancellation-safe."""
        lease = self._get_pool().session()
        with _errors(None):
            return lease, await lease.__aenter__()

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        """Borrows one session of the pool for the block."""
        lease, session = await self._borrow()
        try:
            yield session
        finally:
            await lease.__aexit__(None, None, None)

    async def _close(self) -> None:
        """Closes this process's pool (its idle sessions say goodbye); a later call opens a new
        one."""
        pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            await pool.close()

    close = sync_wrapper(_close)

    # --- paths and names -------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        """``/a/b`` for ``ftp://user:pw@host:21/a/b/``, ``ftps://host/a/b``, ``a/b`` or
        ``/a/b``: absolute, without the trailing slash (``/`` for the root)."""
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = os.fspath(path)
        for proto in cls.protocol:
            if path.startswith(f"{proto}::"):
                path = path[len(proto) + 2 :]
            if path.lower().startswith(f"{proto}://"):
                rest = path[len(proto) + 3 :]
                slash = rest.find("/")
                path = rest[slash:] if slash >= 0 else "/"
                break
        return "/" + path.strip("/") if path.strip("/") else "/"

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        return _split_url(path)

    def unstrip_protocol(self, name: str) -> str:
        if name.startswith(("ftp://", "ftps://")):
            return name
        scheme = "ftps" if self._pool_args["tls"] in ("explicit", "implicit") else "ftp"
        return f"{scheme}://{self.host}{'' if self.port is None else f':{self.port}'}{name}"

    @property
    def fsid(self) -> str:
        return f"ftp_{self.host}_{self.port or 21}"

    def _wire(self, path: str) -> str | bytes:
        """A path as ferroftp takes it: ``str`` for UTF-8 servers, else the encoded bytes."""
        if self._utf8:
            return path
        return path.encode(self.encoding, "surrogateescape")

    def _name(self, name: str) -> str:
        """A name ferroftp returned, decoded with the filesystem's encoding."""
        if self._utf8:
            return name
        return ferroftp.path_to_bytes(name).decode(self.encoding, "surrogateescape")

    def _details(self, path: str, e: Entry, kind: str | None = None) -> dict[str, Any]:
        kind = kind or e.kind
        type_ = {"file": "file", "dir": "directory"}.get(kind, kind)
        return {
            "name": path,
            "size": (e.size or 0) if type_ == "file" else 0,
            "type": type_,
            "mtime": e.modified,
            "permissions": e.permissions,
            "target": e.target,
            "islink": e.kind == "link",
            "raw": e.raw,
        }

    # --- looking ---------------------------------------------------------------------------

    async def _stat(self, s: AsyncSession, path: str) -> dict[str, Any]:
        with _errors(path):
            return self._details(path, await s.stat(self._wire(path)))

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        async with self._session() as s:
            return await self._stat(s, path)

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        async with self._session() as s:
            try:
                entries = await s.list(self._wire(path))
            except NotFoundError:
                entries = None
            except Error as e:
                _raise(e, path)
            base = posixpath.basename(path)
            ambiguous = entries is None or not entries
            # A server may answer LIST of a file with that one file (by its name or its path).
            ambiguous |= bool(
                entries
                and len(entries) == 1
                and entries[0].kind != "dir"
                and (self._name(entries[0].name) in (base, path) or "/" in entries[0].name)
            )
            if ambiguous:
                info = await self._stat(s, path)
                if info["type"] != "directory":
                    return [info] if detail else [path]
                if not entries:
                    return []
            assert entries is not None
            out = []
            links = []
            for entry in entries:
                name = self._name(entry.name)
                if name in (".", ".."):
                    continue
                full = posixpath.join(path, name)
                out.append(self._details(full, entry))
                if entry.kind == "link":
                    links.append(len(out) - 1)
            for i in links:  # what a link stands for: a file or a directory
                with contextlib.suppress(OSError, Error):
                    target = await s.stat(self._wire(out[i]["name"]))
                    out[i].update(self._details(out[i]["name"], target), islink=True)
        out.sort(key=lambda d: d["name"])
        return out if detail else [d["name"] for d in out]

    async def _find(
        self, path: str, maxdepth: int | None = None, withdirs: bool = False, **kwargs: Any
    ) -> Any:
        """As fsspec's, but each level's directories are listed at once, over the pool."""
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        path = self._strip_protocol(path)
        detail = kwargs.pop("detail", False)
        out: dict[str, dict[str, Any]] = {}
        try:
            top = await self._info(path)
        except FileNotFoundError:
            return {} if detail else []
        if top["type"] != "directory":
            out[path] = top
        else:
            if withdirs and path != "/":
                out[path] = top
            level, depth = [path], 1
            while level:
                listings = await asyncio.gather(
                    *(self._ls(d, detail=True) for d in level), return_exceptions=True
                )
                level = []
                for listing in listings:
                    if isinstance(listing, BaseException):
                        if isinstance(listing, (OSError, Error)):
                            continue  # gone meanwhile, or not readable: as fsspec's walk
                        raise listing
                    for info in listing:
                        if info["type"] == "directory":
                            if withdirs:
                                out[info["name"]] = info
                            if maxdepth is None or depth < maxdepth:
                                level.append(info["name"])
                        else:
                            out[info["name"]] = info
                depth += 1
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    async def _du(
        self,
        path: str,
        total: bool = True,
        maxdepth: int | None = None,
        withdirs: bool = False,
        **kwargs: Any,
    ) -> Any:
        found = await self._find(path, maxdepth=maxdepth, withdirs=withdirs, detail=True)
        sizes = {name: info.get("size") or 0 for name, info in found.items()}
        return sum(sizes.values()) if total else sizes

    async def _exists(self, path: str, **kwargs: Any) -> bool:
        try:
            await self._info(path)
        except FileNotFoundError:
            return False
        return True

    async def _modified(self, path: str) -> datetime.datetime:
        path = self._strip_protocol(path)
        async with self._session() as s:
            info = await self._stat(s, path)
            if info["mtime"] is None and path != "/":
                # e.g. a directory on a server without MLST: its parent's listing has the time
                with contextlib.suppress(OSError, Error):
                    parent = self._parent(path)
                    for e in await s.list(self._wire(parent)):
                        if self._name(e.name) == posixpath.basename(path):
                            info["mtime"] = e.modified
        if info["mtime"] is None:
            raise NotImplementedError(f"{path}: the server tells no modification time")
        mtime: datetime.datetime = info["mtime"]
        return mtime

    modified = sync_wrapper(_modified)

    # --- reading ---------------------------------------------------------------------------

    async def _refused(self, s: AsyncSession, path: str, exc: BaseException) -> NoReturn:
        """Raises for a call on the file ``path`` (RETR, DELE) that failed with ``exc``.

        Servers answer "550" alike for a missing path, a directory and a file they may not
        touch ("550 Failed to open file."), so a 550 is followed by a look at the path:
        ``IsADirectoryError`` for a directory, ``PermissionError`` for a file that is there,
        ``FileNotFoundError`` when there is nothing."""
        kind = None
        if isinstance(exc, (NotFoundError, PermanentError)):
            with contextlib.suppress(OSError, Error):
                kind = (await self._stat(s, path))["type"]
        if kind == "directory":
            raise IsADirectoryError(errno.EISDIR, "is a directory", path) from exc
        if kind is not None and isinstance(exc, PermanentError) and exc.code in REFUSED:
            raise PermissionError(errno.EACCES, str(exc), path) from exc
        _raise(exc, path)

    async def _read_range(self, path: str, start: int, length: int) -> bytes:
        """``length`` bytes of ``path`` from ``start``: one call of the pool, which borrows a
        session for this one read."""
        pool = self._get_pool()
        try:
            if start == 0 and length >= TO_THE_END:
                return await pool.read_bytes(self._wire(path))
            return await pool.read_range(self._wire(path), start, length)
        except Error as e:
            failure: Error = e
        async with self._session() as s:
            await self._refused(s, path, failure)

    @staticmethod
    def _span(start: int | None, end: int | None) -> tuple[int, int | None] | None:
        """``(offset, length)`` of a read from ``start`` to ``end`` as the pool's ``read_many``
        takes it (``length`` None: the whole file); None when a bound counts from the end
        (its size is needed first)."""
        start = start or 0
        if start < 0 or (end is not None and end < 0):
            return None
        if end is None:
            return (0, None) if start == 0 else (start, TO_THE_END)
        return start, max(0, end - start)

    async def _read_many(
        self, paths: list[str], starts: list[int | None], ends: list[int | None]
    ) -> list[Any]:
        """The reads of ``cat``/``cat_ranges`` in one call of the pool, fanned out over its
        sessions; a read that failed (or counts from the end of its file) is done again by
        :meth:`_cat_file`, for the exception fsspec callers expect. Each item: bytes or the
        exception."""
        spans = [self._span(a, b) for a, b in zip(starts, ends)]
        reads = [
            (self._wire(p), span[0], span[1])
            for p, span in zip(paths, spans)
            if span is not None and span[1] != 0
        ]
        got = iter(await self._get_pool().read_many(reads) if reads else [])
        out: list[Any] = []
        again: list[int] = []
        for i, span in enumerate(spans):
            if span is not None and span[1] == 0:
                out.append(b"")
                continue
            value = next(got) if span is not None else None
            if value is None or isinstance(value, BaseException):
                again.append(i)
            out.append(value)
        if again:
            redone = await asyncio.gather(
                *(self._cat_file(paths[i], start=starts[i], end=ends[i]) for i in again),
                return_exceptions=True,
            )
            for i, again_value in zip(again, redone):
                out[i] = again_value
        return out

    async def _cat(
        self,
        path: Any,
        recursive: bool = False,
        on_error: str = "raise",
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """As fsspec's, but the files are read by one call of the pool, fanned out over its
        sessions (each borrowed once for many files)."""
        if kwargs:
            return await super()._cat(
                path, recursive=recursive, on_error=on_error, batch_size=batch_size, **kwargs
            )
        paths = await self._expand_path(path, recursive=recursive)
        out = await self._read_many(paths, [None] * len(paths), [None] * len(paths))
        if on_error == "raise":
            failed = next((v for v in out if isinstance(v, BaseException)), None)
            if failed is not None:
                raise failed
        if len(paths) > 1 or isinstance(path, list) or paths[0] != self._strip_protocol(path):
            return {
                k: v
                for k, v in zip(paths, out)
                if on_error != "omit" or not isinstance(v, BaseException)
            }
        return out[0]

    async def _cat_ranges(
        self,
        paths: list[str],
        starts: Any,
        ends: Any,
        max_gap: int | None = None,
        batch_size: int | None = None,
        on_error: str = "return",
        **kwargs: Any,
    ) -> list[Any]:
        """As fsspec's, but the ranges are read by one call of the pool, fanned out over its
        sessions."""
        if max_gap is not None:
            raise NotImplementedError
        if not isinstance(paths, list):
            raise TypeError
        if not isinstance(starts, Iterable):
            starts = [starts] * len(paths)
        if not isinstance(ends, Iterable):
            ends = [ends] * len(paths)
        starts, ends = list(starts), list(ends)
        if len(starts) != len(paths) or len(ends) != len(paths):
            raise ValueError
        out = await self._read_many([self._strip_protocol(p) for p in paths], starts, ends)
        if on_error != "return":
            failed = next((v for v in out if isinstance(v, BaseException)), None)
            if failed is not None:
                raise failed
        return out

    async def _cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        start = start or 0
        if start < 0 or (end is not None and end < 0):
            size = (await self._info(path))["size"]
            start = max(0, size + start) if start < 0 else start
            end = size + end if end is not None and end < 0 else end
        if end is None:
            return await self._read_range(path, start, TO_THE_END)
        if end <= start:
            return b""
        return await self._read_range(path, start, end - start)

    async def _get_file(
        self, rpath: str, lpath: Any, callback: Any = DEFAULT_CALLBACK, **kwargs: Any
    ) -> None:
        rpath = self._strip_protocol(rpath)
        progress = None
        if not isinstance(callback, NoOpCallback):

            def progress(done: int, total: int | None) -> None:
                if total is not None:
                    callback.set_size(total)
                callback.absolute_update(done)

        async with self._session() as s:
            if isinstance(lpath, (str, os.PathLike)) and os.path.isdir(lpath):  # noqa: ASYNC240
                # fsspec made it already (the directories of a recursive get)
                if (await self._stat(s, rpath))["type"] == "directory":
                    return
                raise IsADirectoryError(errno.EISDIR, "is a local directory", os.fspath(lpath))
            try:
                await s.download(self._wire(rpath), lpath, progress=progress)
            except Error as e:
                try:
                    await self._refused(s, rpath, e)
                except IsADirectoryError:
                    if isinstance(lpath, (str, os.PathLike)):
                        os.makedirs(lpath, exist_ok=True)  # fsspec's get of a directory
                        return
                    raise

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> FTPFile:
        path = self._strip_protocol(path)
        atomic = kwargs.pop("atomic", self.atomic)
        if mode == "rb":
            kwargs.pop("size", None)
            info = self.info(path)
            if info["type"] == "directory":
                raise IsADirectoryError(errno.EISDIR, "is a directory", path)
            f = FTPFile(
                self,
                path,
                mode,
                block_size=block_size or self.blocksize,
                autocommit=autocommit,
                cache_options=cache_options,
                size=info["size"],
                **kwargs,
            )
            f.details = info
            return f
        if mode not in ("wb", "xb"):
            raise NotImplementedError(
                f"mode {mode!r}: FTP files open as 'rb', 'wb' or 'xb' (appending is not offered)"
            )
        if mode == "xb" and self.exists(path):
            raise FileExistsError(errno.EEXIST, "exists", path)
        return FTPFile(
            self,
            path,
            mode,
            block_size=block_size or self.blocksize,
            autocommit=autocommit,
            cache_options=cache_options,
            atomic=atomic,
            **kwargs,
        )

    async def open_async(self, path: str, mode: str = "rb", **kwargs: Any) -> FTPStreamedFile:
        """The asynchronous file of fsspec (``asynchronous=True`` instances): ``"rb"`` reads
        with ranged reads, ``"wb"``/``"xb"`` streams an upload."""
        if "b" not in mode or kwargs.get("compression"):
            raise ValueError("open_async: binary modes only, without compression")
        path = self._strip_protocol(path)
        atomic = kwargs.pop("atomic", self.atomic)
        if mode == "rb":
            info = await self._info(path)
            if info["type"] == "directory":
                raise IsADirectoryError(errno.EISDIR, "is a directory", path)
            return FTPStreamedFile(self, path, mode, size=info["size"], **kwargs)
        if mode not in ("wb", "xb"):
            raise NotImplementedError(f"mode {mode!r}: FTP files open as 'rb', 'wb' or 'xb'")
        if mode == "xb" and await self._exists(path):
            raise FileExistsError(errno.EEXIST, "exists", path)
        block = kwargs.pop("block_size", None) or self.blocksize
        return FTPStreamedFile(self, path, "wb", block_size=block, atomic=atomic, **kwargs)

    # --- writing ---------------------------------------------------------------------------

    def _temp_name(self, path: str, in_transaction: bool = False) -> str:
        folder = self.tempdir if in_transaction and self.tempdir else self._parent(path)
        name = posixpath.basename(path)
        return posixpath.join(folder, f".{name}.ferroftp-{uuid.uuid4().hex[:12]}.part")

    async def _ensure_parent(self, s: AsyncSession, path: str) -> bool:
        """After a refused write of ``path``: creates its parent directory if it is missing;
        whether a second try may succeed (the parent is a directory now: made here, or by a
        concurrent call in the meantime)."""
        parent = self._parent(path)
        if parent == "/":
            return False
        try:
            return bool((await self._stat(s, parent))["type"] == "directory")
        except FileNotFoundError:
            pass
        with _errors(parent):
            await s.mkdir(self._wire(parent), parents=True)
        return True

    async def _remove_quietly(self, s: AsyncSession | None, path: str) -> None:
        """Removes what a failed write left at ``path``, if anything (best effort: the error
        that made the write fail is the one to raise)."""
        try:
            if s is None:
                async with self._session() as fresh:
                    await fresh.remove(self._wire(path))
            else:
                await s.remove(self._wire(path))
        except (OSError, Error) as e:
            log.debug("could not remove the partial file %s: %s", path, e)

    async def _replace(self, s: AsyncSession, temp: str, path: str) -> None:
        """Renames ``temp`` to ``path`` (over an existing file; for a server whose RNTO refuses
        an existing target, that target is removed first)."""
        try:
            await s.rename(self._wire(temp), self._wire(path))
        except PermanentError as first:
            if not await s.exists(self._wire(path)):
                await self._remove_quietly(s, temp)
                _raise(first, path)
            try:
                await s.remove(self._wire(path))
                await s.rename(self._wire(temp), self._wire(path))
            except Error as e:
                await self._remove_quietly(s, temp)
                _raise(e, path)
        except BaseException:
            await self._remove_quietly(None, temp)
            raise

    async def _set_modified(self, path: str, when: datetime.datetime) -> None:
        path = self._strip_protocol(path)
        async with self._session() as s:
            with _errors(path):
                await s.set_modified(self._wire(path), when)

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        """Creates an empty file (``truncate``), or sets an existing file's modification time
        to now (MFMT, or MDTM with a time)."""
        if truncate or not self.exists(path):
            with self.open(path, "wb", **kwargs):
                pass
        else:
            now = datetime.datetime.now(datetime.timezone.utc)
            sync(self.loop, self._set_modified, path, now)

    async def _create_check(self, path: str, mode: str) -> None:
        if mode == "create" and await self._exists(path):
            raise FileExistsError(errno.EEXIST, "exists", path)
        if mode not in ("create", "overwrite"):
            raise ValueError(f"mode={mode!r}: expected 'overwrite' or 'create'")

    async def _pipe_file(
        self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        path = self._strip_protocol(path)
        await self._create_check(path, mode)
        upload = _Upload(self, path, atomic=kwargs.pop("atomic", self.atomic))
        await upload.start()
        await upload.write(value)
        await upload.finish()

    async def _put_file(
        self,
        lpath: Any,
        rpath: str,
        mode: str = "overwrite",
        callback: Any = DEFAULT_CALLBACK,
        **kwargs: Any,
    ) -> None:
        rpath = self._strip_protocol(rpath)
        # (a stat of a local path: no need to leave the event loop for it)
        if isinstance(lpath, (str, os.PathLike)) and os.path.isdir(lpath):  # noqa: ASYNC240
            await self._makedirs(rpath, exist_ok=True)
            return
        await self._create_check(rpath, mode)
        atomic = bool(kwargs.pop("atomic", self.atomic))
        progress = None
        if not isinstance(callback, NoOpCallback):
            if isinstance(lpath, (str, os.PathLike)):
                callback.set_size(os.path.getsize(lpath))  # noqa: ASYNC240 (a stat)

            def progress(done: int, total: int | None) -> None:
                callback.absolute_update(done)

        async with self._session() as s:
            for attempt in (1, 2):
                try:
                    await s.upload(lpath, self._wire(rpath), atomic=atomic, progress=progress)
                    return
                except Error as e:
                    if _refused_before_data(e):
                        if attempt == 1 and await self._ensure_parent(s, rpath):
                            continue  # the parent directory was missing: it is there now
                    elif not atomic:
                        await self._remove_quietly(s, rpath)
                    _raise(e, rpath)

    async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copies a remote file to another remote path: FTP has no server-side copy, so the
        bytes stream from one session into another (or, with a pool of one session, through a
        local temporary file). A directory is created instead of copied."""
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        atomic = bool(kwargs.pop("atomic", self.atomic))
        if self.max_sessions < 2:
            await self._cp_through_disk(path1, path2, atomic)
            return
        loop = asyncio.get_running_loop()
        slots = self._copy_slots.get(loop)
        if slots is None:
            # each copy holds two sessions: at most half the pool copies at once, so that no
            # two copies can each hold one session and wait for the other's
            slots = self._copy_slots[loop] = asyncio.Semaphore(self.max_sessions // 2)
        async with slots, self._session() as s:
            try:
                source = await s.open(self._wire(path1), "rb")
            except Error as e:
                try:
                    await self._refused(s, path1, e)
                except IsADirectoryError:
                    await self._makedirs(path2, exist_ok=True)
                    return
            async with source:
                upload = _Upload(self, path2, atomic=atomic)
                await upload.start()
                try:
                    while chunk := await source.read(COPY_CHUNK):
                        await upload.write(chunk)
                except BaseException:
                    await upload.abort()
                    raise
                await upload.finish()

    async def _cp_through_disk(self, path1: str, path2: str, atomic: bool) -> None:
        with tempfile.TemporaryDirectory(prefix="ferroftp-cp-") as tmp:
            local = os.path.join(tmp, "data")
            await self._get_file(path1, local)
            if os.path.isdir(local):  # noqa: ASYNC240 (a stat)
                await self._makedirs(path2, exist_ok=True)
                return
            await self._put_file(local, path2, atomic=atomic)

    # --- changing the tree -----------------------------------------------------------------

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        async with self._session() as s:
            try:
                await s.mkdir(self._wire(path), parents=False)
                return
            except Error as e:
                failure: Error = e
            with contextlib.suppress(FileNotFoundError):
                await self._stat(s, path)
                raise FileExistsError(errno.EEXIST, "exists", path) from failure
            parent = self._parent(path)
            if not await s.exists(self._wire(parent)):
                if not create_parents:
                    raise FileNotFoundError(
                        errno.ENOENT, "the parent directory does not exist", path
                    ) from failure
                with _errors(path):
                    await s.mkdir(self._wire(path), parents=True)
                return
            _raise(failure, path)

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        path = self._strip_protocol(path)
        if path == "/":
            if not exist_ok:
                raise FileExistsError(errno.EEXIST, "exists", path)
            return
        async with self._session() as s:
            try:
                info = await self._stat(s, path)
            except FileNotFoundError:
                info = None
            if info is not None:
                if not exist_ok or info["type"] != "directory":
                    raise FileExistsError(errno.EEXIST, "exists", path)
                return
            with _errors(path):
                await s.mkdir(self._wire(path), parents=True)

    async def _rmdir(self, path: str) -> None:
        path = self._strip_protocol(path)
        async with self._session() as s:
            try:
                await s.rmdir(self._wire(path))
                return
            except Error as e:
                failure: Error = e
            info = await self._stat(s, path)  # FileNotFoundError when it is not there
            if info["type"] != "directory":
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", path) from failure
            entries: list[Entry] = []
            with contextlib.suppress(OSError, Error):
                entries = await s.list(self._wire(path))
            if entries:
                raise OSError(errno.ENOTEMPTY, "directory not empty", path) from failure
            _raise(failure, path)

    rmdir = sync_wrapper(_rmdir)

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        async with self._session() as s:
            try:
                await s.remove(self._wire(path))
            except Error as e:
                await self._refused(s, path, e)

    async def _rm(
        self,
        path: Any,
        recursive: bool = False,
        maxdepth: int | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Removes files, and directories: with ``recursive``, with everything in them (one
        ``rmdir(recursive=True)`` per tree); without, only empty ones (as fsspec's own FTP
        filesystem does)."""
        if recursive and maxdepth is not None:
            # Only part of each tree: what lies within maxdepth, deepest first.
            found = await self._expand_path(path, recursive=True, maxdepth=maxdepth)
            tops = list(found)
        else:
            tops = await self._expand_path(path, recursive=False)
        infos = await asyncio.gather(*(self._info(p) for p in tops))
        if recursive and maxdepth is None:
            roots = [i for i in infos if not any(_under(i["name"], o["name"]) for o in infos)]
            await asyncio.gather(*(self._rm_tree(i) for i in roots))
            return
        await asyncio.gather(*(self._rm_file(i["name"]) for i in infos if i["type"] != "directory"))
        for info in sorted(
            (i for i in infos if i["type"] == "directory"), key=lambda i: i["name"], reverse=True
        ):
            await self._rmdir(info["name"])

    async def _rm_tree(self, info: dict[str, Any]) -> None:
        if info["type"] != "directory":
            await self._rm_file(info["name"])
            return
        async with self._session() as s:
            with _errors(info["name"]):
                await s.rmdir(self._wire(info["name"]), recursive=True)

    async def _mv(
        self,
        path1: Any,
        path2: Any,
        recursive: bool = False,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Moves files or directories by renaming them on the server (RNFR/RNTO): no data
        moves. As fsspec's ``mv``: into ``path2`` when it is an existing directory (or ends
        with ``/``); globs and lists move each match."""
        if isinstance(path1, str) and not has_magic(path1):
            source = self._strip_protocol(path1)
            if isinstance(path2, list):
                raise ValueError("mv: one source, several destinations")
            target = self._strip_protocol(path2)
            if source == target:
                return
            if path2.endswith("/") or await self._isdir(target):
                target = posixpath.join(target, posixpath.basename(source))
            await self._rename(source, target)
            return
        sources = (
            [self._strip_protocol(p) for p in path1]
            if isinstance(path1, list) and isinstance(path2, list)
            else await self._expand_path(path1, recursive=False, maxdepth=maxdepth)
        )
        if isinstance(path2, list):
            targets = [self._strip_protocol(p) for p in path2]
        else:
            exists = path2.endswith("/") or await self._isdir(path2)
            targets = other_paths(sources, self._strip_protocol(path2), exists=exists, flatten=True)
        if len(sources) != len(targets):
            raise ValueError("mv: as many destinations as sources are needed")
        # A match inside another match moves with it.
        pairs = [(a, b) for a, b in zip(sources, targets) if not any(_under(a, o) for o in sources)]
        for a, b in pairs:
            await self._rename(a, b)

    mv = sync_wrapper(_mv)

    async def _rename(self, source: str, target: str) -> None:
        async with self._session() as s:
            try:
                await s.rename(self._wire(source), self._wire(target))
                return
            except Error as e:
                failure: Error = e
            # What went wrong: no source, no destination directory, or a refusal.
            await self._stat(s, source)
            if not await s.exists(self._wire(self._parent(target))):
                raise FileNotFoundError(
                    errno.ENOENT, "the destination directory does not exist", target
                ) from failure
            _raise(failure, target)


def _under(path: str, other: str) -> bool:
    """Whether ``path`` lies inside the directory ``other`` (not ``other`` itself)."""
    return path != other and path.startswith(other.rstrip("/") + "/")


class _Upload:
    """One streaming upload of a remote file, holding one session of the pool until it is
    finished or aborted: to the target itself, or (atomic, or inside a transaction) to a
    temporary name that :meth:`commit` renames into place. Any failure removes what was
    written and raises the error."""

    def __init__(
        self, fs: FTPFileSystem, path: str, *, atomic: bool = False, autocommit: bool = True
    ) -> None:
        self.fs = fs
        self.target = path
        self.autocommit = autocommit
        self.staged = atomic or not autocommit
        self.path = fs._temp_name(path, in_transaction=not autocommit) if self.staged else path
        self.lease: AsyncPooledSession | None = None
        self.session: AsyncSession | None = None
        self.file: AsyncRemoteFile | None = None
        self.written = False  # whether the server took the upload (STOR accepted)
        self.failed = False  # aborted: never started again (a later close() must not)

    async def start(self) -> None:
        if self.failed:
            raise ValueError(f"{self.target}: this upload failed and was abandoned")
        self.lease, self.session = await self.fs._borrow()
        try:
            for attempt in (1, 2):
                try:
                    self.file = await self.session.open(self.fs._wire(self.path), "wb")
                    break
                except Error as e:
                    if (
                        attempt == 1
                        and _refused_before_data(e)
                        and await self.fs._ensure_parent(self.session, self.path)
                    ):
                        continue  # the parent directory was missing: it is there now
                    _raise(e, self.target)
            self.written = True
        except BaseException:
            await self._release()
            raise

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        assert self.file is not None, "start() first"
        try:
            await self.file.write(data)
        except BaseException as e:
            await self.abort()
            if isinstance(e, Error):
                _raise(e, self.target)
            raise

    async def finish(self) -> None:
        """Ends the upload once the server confirmed it; renames it into place when atomic
        (outside a transaction)."""
        assert self.file is not None, "start() first"
        try:
            await self.file.close()
        except BaseException as e:
            await self.abort()
            if isinstance(e, Error):
                _raise(e, self.target)
            raise
        self.file = None
        try:
            if self.staged and self.autocommit:
                await self.commit()
        finally:
            await self._release()

    async def commit(self) -> None:
        if not self.staged:
            return
        if self.session is not None:
            await self.fs._replace(self.session, self.path, self.target)
        else:
            async with self.fs._session() as s:
                await self.fs._replace(s, self.path, self.target)

    async def discard(self) -> None:
        if self.staged:
            await self.fs._remove_quietly(self.session, self.path)

    async def abort(self) -> None:
        """Abandons the upload and removes what it wrote."""
        self.failed = True
        if self.file is not None:
            self.file._abandon()
            self.file = None
        if self.written:
            self.written = False
            await self.fs._remove_quietly(self.session, self.path)
        await self._release()

    async def _release(self) -> None:
        lease, self.lease, self.session = self.lease, None, None
        if lease is not None:
            await lease.__aexit__(None, None, None)


class FTPFile(AbstractBufferedFile, metaclass=abc.ABCMeta):  # type: ignore[misc]
    """A file of :class:`FTPFileSystem` (``fs.open``). Reading: ``block_size`` bytes at a time
    by ranged reads (REST + RETR, stopped once the block is in), through fsspec's cache
    (``cache_type="readahead"`` by default), so seeking costs nothing until the next read.
    Writing: the data streams to the server as the buffer fills (``block_size``), on one
    session held until :meth:`close`; leaving a ``with`` block by an exception abandons the
    upload and removes the partial file."""

    closed: bool

    def __init__(
        self,
        fs: FTPFileSystem,
        path: str,
        mode: str = "rb",
        block_size: int | str = "default",
        autocommit: bool = True,
        cache_type: str = "readahead",
        cache_options: dict[str, Any] | None = None,
        atomic: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            fs,
            path,
            mode=mode,
            block_size=block_size,
            autocommit=autocommit,
            cache_type=cache_type,
            cache_options=cache_options,
            **kwargs,
        )
        self._upload = (
            _Upload(fs, path, atomic=atomic, autocommit=autocommit) if mode != "rb" else None
        )

    def _fetch_range(self, start: int, end: int) -> bytes:
        """One ranged read, by a blocking call of the pool on this thread (GIL released): no
        hop through fsspec's event loop thread. A failed read is done again through the loop,
        for the exception fsspec callers expect."""
        if end <= start:
            return b""
        fs: FTPFileSystem = self.fs
        try:
            return fs._get_pool().blocking().read_range(fs._wire(self.path), start, end - start)
        except Error:
            pass
        data: bytes = sync(fs.loop, fs._read_range, self.path, start, end - start)
        return data

    def _initiate_upload(self) -> None:
        pass  # the upload starts with the first block (see _upload_chunk)

    def _upload_chunk(self, final: bool = False) -> bool:
        assert self._upload is not None
        loop = self.fs.loop
        try:
            if self._upload.file is None:
                sync(loop, self._upload.start)
            sync(loop, self._upload.write, self.buffer.getvalue())
            if final:
                sync(loop, self._upload.finish)
        except BaseException:
            self.closed = True  # the upload was abandoned (and removed): nothing to close
            raise
        return True

    def commit(self) -> None:
        if self._upload is not None:
            sync(self.fs.loop, self._upload.commit)

    def discard(self) -> None:
        if self._upload is not None:
            sync(self.fs.loop, self._upload.discard)

    def abort(self) -> None:
        """Abandons a file open for writing: the upload stops and nothing of it stays on the
        server (the target keeps what it had, unless the upload had begun writing to it)."""
        if self._upload is not None and not self.closed:
            try:
                sync(self.fs.loop, self._upload.abort)
            finally:
                self.closed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if exc_type is not None and self._upload is not None:
            self.abort()
        else:
            self.close()


class FTPStreamedFile(AbstractAsyncStreamedFile, metaclass=abc.ABCMeta):  # type: ignore[misc]
    """The asynchronous file of :meth:`FTPFileSystem.open_async`: ``await f.read(n)`` is one
    ranged read; writes stream to the server as the buffer fills."""

    closed: bool

    def __init__(
        self,
        fs: FTPFileSystem,
        path: str,
        mode: str = "rb",
        block_size: int | str = "default",
        atomic: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(fs, path, mode=mode, block_size=block_size, cache_type="none", **kwargs)
        self._upload = _Upload(fs, path, atomic=atomic) if mode != "rb" else None

    async def _fetch_range(self, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        data: bytes = await self.fs._read_range(self.path, start, end - start)
        return data

    async def _upload_chunk(self, final: bool = False) -> bool:
        assert self._upload is not None
        try:
            if self._upload.file is None:
                await self._upload.start()
            await self._upload.write(self.buffer.getvalue())
            if final:
                await self._upload.finish()
        except BaseException:
            self.closed = True  # the upload was abandoned (and removed): nothing to close
            raise
        return True

    async def abort(self) -> None:
        """See :meth:`FTPFile.abort`."""
        if self._upload is not None and not self.closed:
            try:
                await self._upload.abort()
            finally:
                self.closed = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if exc_type is not None and self._upload is not None:
            await self.abort()
        else:
            await self.close()
