"""fsspec's own abstract test suite (``fsspec.tests.abstract``: copy, get, put, open, pipe) run
against :class:`ferroftp.fsspec.FTPFileSystem` on the loopback servers (pyftpdlib and vsftpd).

How it is wired: fsspec's classes ask for a handful of fixtures (``fs``, ``fs_path``,
``fs_join``, ``fs_sanitize_path``, ``supports_empty_directories``; the local side comes with
their defaults). :class:`FTPFixtures` provides them: ``fs`` is one filesystem per server for the
whole module (its pool is closed at the end), and ``fs_path`` a fresh directory per test, made
and removed through the server's root on the local disk, so that a failing test leaves nothing
behind. The scenarios themselves (``fs_bulk_operations_scenario_0``, ``fs_target``, ...) are
fsspec's, unchanged.

No case is skipped: FTP's limits are covered by the filesystem itself (copies stream between two
sessions, as FTP has no server-side copy). A case that an FTP limit ever made impossible would
be listed in ``FTP_LIMITS`` with the limit as its reason; it is then marked ``xfail(strict=True)``
with that reason, which tests/python/conftest.py lets through (a plain skip it turns into a
failure), and a case that starts passing fails, so the list cannot go stale.
"""

from __future__ import annotations

import posixpath
import re
import shutil
from collections.abc import Callable, Iterator

import pytest
from conftest import OPTIONS, Server
from fsspec.tests.abstract import AbstractFixtures
from fsspec.tests.abstract.copy import AbstractCopyTests
from fsspec.tests.abstract.get import AbstractGetTests
from fsspec.tests.abstract.open import AbstractOpenTests
from fsspec.tests.abstract.pipe import AbstractPipeTests
from fsspec.tests.abstract.put import AbstractPutTests

from ferroftp.fsspec import FTPFileSystem

#: Cases an FTP limit makes impossible: {test name (without parameters): the limit}. Empty.
FTP_LIMITS: dict[str, str] = {}


@pytest.fixture(scope="module")
def ftp_fs(server: Server) -> Iterator[FTPFileSystem]:
    fs = FTPFileSystem(
        host=server.host,
        port=server.port,
        username=server.user,
        password=server.password,
        skip_instance_cache=True,
        **OPTIONS,
    )
    yield fs
    fs.close()


class FTPFixtures(AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture(autouse=True)
    def _ftp_limits(self, request: pytest.FixtureRequest) -> None:
        limit = FTP_LIMITS.get(getattr(request.node, "originalname", request.node.name))
        if limit is not None:
            request.applymarker(pytest.mark.xfail(reason=f"FTP limit: {limit}", strict=True))

    @pytest.fixture
    def fs(self, ftp_fs: FTPFileSystem) -> FTPFileSystem:
        return ftp_fs

    @pytest.fixture
    def fs_path(self, server: Server, request: pytest.FixtureRequest) -> Iterator[str]:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
        remote, local = server.dir(f"abstract-{name}")
        try:
            yield remote
        finally:
            shutil.rmtree(local, ignore_errors=True)

    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        return posixpath.join

    @pytest.fixture
    def fs_sanitize_path(self) -> Callable[[str], str]:
        return lambda path: path

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return True


class TestFTPCopy(AbstractCopyTests, FTPFixtures):  # type: ignore[misc]
    pass


class TestFTPGet(AbstractGetTests, FTPFixtures):  # type: ignore[misc]
    pass


class TestFTPPut(AbstractPutTests, FTPFixtures):  # type: ignore[misc]
    pass


class TestFTPOpen(AbstractOpenTests, FTPFixtures):  # type: ignore[misc]
    pass


class TestFTPPipe(AbstractPipeTests, FTPFixtures):  # type: ignore[misc]
    pass
