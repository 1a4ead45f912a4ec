"""What a command runs with: its arguments, its streams, its progress reporter, and the pools of
sessions to the servers it names (opened when first used, closed at the end)."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Iterator, Sequence
from typing import BinaryIO, TextIO

import ferroftp
from ferroftp.cli import credentials, options
from ferroftp.cli.progress import Reporter
from ferroftp.cli.status import UsageError
from ferroftp.cli.urls import Target


class Context:
    def __init__(
        self,
        args: argparse.Namespace,
        reporter: Reporter,
        *,
        stdout: TextIO | None = None,
        stdin: TextIO | None = None,
    ) -> None:
        self.args = args
        self.reporter = reporter
        self.stdout = stdout or sys.stdout
        self.stdin = stdin or sys.stdin
        #: Parallel sessions for commands that move or list several files.
        self.jobs: int = getattr(args, "jobs", None) or 1
        self.settings = options.chosen(args)
        #: Whether stdin is taken by the command's data (``put -``): no password prompt then.
        self.stdin_is_data = False
        self._logins: dict[tuple[str, str, int | None, str | None], credentials.Login] = {}
        self._pools: dict[tuple[str, str, int | None, str | None], ferroftp.Pool] = {}

    @property
    def out(self) -> BinaryIO:
        """Standard output for data."""
        return self.stdout.buffer

    def login(self, target: Target) -> credentials.Login:
        """Who logs in to ``target``'s server (asked once per server)."""
        found = self._logins.get(target.key)
        if found is None:
            found = credentials.resolve(
                target,
                user_option=getattr(self.args, "user", None),
                env=os.environ,
                prompt=self._prompt,
            )
            self._logins[target.key] = found
        return found

    def passwordless(self) -> bool:
        """Whether a user logs in without a password (a hint for a refused login)."""
        return any(lg.user is not None and lg.password is None for lg in self._logins.values())

    def _prompt(self, text: str) -> str | None:
        if self.stdin_is_data or not self.stdin.isatty():
            return None
        try:
            return getpass.getpass(text)
        except EOFError:
            return None

    def pool(self, target: Target) -> ferroftp.Pool:
        """The pool of up to ``jobs`` sessions to ``target``'s server."""
        pool = self._pools.get(target.key)
        if pool is None:
            login = self.login(target)
            try:
                pool = ferroftp.Pool(
                    target.server,
                    max_sessions=max(1, self.jobs),
                    user=login.user,
                    password=login.password,
                    account=login.account,
                    **self.settings,
                )
            except (ValueError, TypeError) as e:  # a bad option value: the core's own words
                raise UsageError(options.name_options(str(e), leading=True)) from None
            self._pools[target.key] = pool
        return pool

    @contextlib.contextmanager
    def session(self, target: Target) -> Iterator[ferroftp.Session]:
        """A session to ``target``'s server, borrowed from its pool for the block."""
        with self.pool(target).session() as s:
            yield s

    def close(self) -> None:
        """Says goodbye to the servers."""
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            with contextlib.suppress(ferroftp.Error):
                pool.close()

    def one_server(self, targets: Sequence[Target]) -> Target:
        """The first of ``targets``, after checking that they all name one server and user."""
        if len({t.key for t in targets}) > 1:
            raise UsageError("all the URLs of one command must name the same server and user")
        return targets[0]
