"""ferroftp: FTP/FTPS sessions that are safe to share between threads and asyncio tasks.

::

    import ferroftp

    with ferroftp.connect("ftp://user:pw@127.0.0.1:2121", timeout=30.0) as s:
        for entry in s.list("/pub"):
            print(entry.name, entry.size, entry.modified)
        s.download("/pub/big.iso", "big.iso", progress=lambda done, total: ...)

    async with await ferroftp.connect_async("ftp://user:pw@127.0.0.1:2121") as s:
        sizes = await asyncio.gather(*(s.size(p) for p in paths))

Every operation of a session holds the session's fair lock for its whole exchange, so any number
of threads (``Session``) or tasks (``AsyncSession``) may share one session and get correct,
serialized results. The GIL is released while operations run; Ctrl-C interrupts a blocking call
(and cancelling an awaitable cancels the operation) without leaving the session out of step.

For parallel transfers, use several sessions: a :class:`Pool` (or :class:`AsyncPool`)::

    with ferroftp.Pool("ftp://user:pw@127.0.0.1:2121", max_sessions=8) as pool:
        result = pool.download_many([("/pub/a", "a"), ("/pub/b", "b")])
        pool.download_tree("/pub", "mirror")
        with pool.session() as s:
            s.rename("/pub/a", "/pub/a.done")

Errors are :mod:`ferroftp.exceptions` classes, which also inherit the ``ftplib``, ``OSError``
and ``ValueError`` classes that existing code catches.

Log records of the library go to :mod:`logging`, under the loggers ``ferroftp`` (sessions, pools,
transfers: DEBUG) and ``suppaftp`` (the FTP client: DEBUG, and every command line at level 5);
both carry a :class:`logging.NullHandler`, and what the library recovers from by itself is logged
at DEBUG, so a script that configures no logging sees nothing.
Passwords never appear in them. Levels are read once per logger; after changing one, call
:func:`reset_log_cache`::

    logging.basicConfig(level=logging.DEBUG)
    ferroftp.reset_log_cache()
"""

from __future__ import annotations

import logging

# A library's loggers carry a NullHandler (the logging HOWTO's rule): a script that configured
# no logging sees nothing on stderr (not even through logging's last-resort handler).
for _name in ("ferroftp", "suppaftp"):
    logging.getLogger(_name).addHandler(logging.NullHandler())
del _name

from ferroftp import exceptions  # noqa: E402
from ferroftp._native import (  # noqa: E402
    AsyncPool,
    AsyncPooledSession,
    AsyncRemoteFile,
    AsyncSession,
    BatchProgress,
    BatchResult,
    Entry,
    Pool,
    PooledSession,
    RemoteFile,
    Session,
    __version__,
    connect,
    connect_async,
    path_from_bytes,
    path_to_bytes,
    reset_log_cache,
)
from ferroftp.exceptions import (  # noqa: E402
    AuthenticationError,
    CancelledError,
    ClosedError,
    ConnectionError,
    Error,
    IntegrityError,
    InvalidInputError,
    IoError,
    NotFoundError,
    PermanentError,
    ProtocolError,
    TimeoutError,
    TlsError,
    TransientError,
)

__all__ = [
    "AsyncPool",
    "AsyncPooledSession",
    "AsyncRemoteFile",
    "AsyncSession",
    "AuthenticationError",
    "BatchProgress",
    "BatchResult",
    "CancelledError",
    "ClosedError",
    "ConnectionError",
    "Entry",
    "Error",
    "IntegrityError",
    "InvalidInputError",
    "IoError",
    "NotFoundError",
    "PermanentError",
    "Pool",
    "PooledSession",
    "ProtocolError",
    "RemoteFile",
    "Session",
    "TimeoutError",
    "TlsError",
    "TransientError",
    "__version__",
    "connect",
    "connect_async",
    "exceptions",
    "path_from_bytes",
    "path_to_bytes",
    "reset_log_cache",
]
