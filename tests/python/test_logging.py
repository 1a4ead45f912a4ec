"""The library's log records reach :mod:`logging` (from the runtime's threads), under the
``ferroftp`` and ``suppaftp`` loggers, at the levels those loggers let through; no record holds
a password, whether the login succeeds or fails."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import OPTIONS, Server

import ferroftp

TRACE = 5  # suppaftp's command lines (Rust's trace level)


class Records(logging.Handler):
    """Keeps every record it is handed."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, prefix: str) -> list[str]:
        return [r.getMessage() for r in self.records if r.name.startswith(prefix)]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("ferroftp", "suppaftp")]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.propagate = False
    try:
        yield handler
    finally:
        for lg, (level, propagate) in zip(loggers, saved):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate
        ferroftp.reset_log_cache()


def test_records_reach_logging(server: Server, workdir: tuple[str, Path], records: Records) -> None:
    remote, _ = workdir
    logging.getLogger("ferroftp").setLevel(logging.DEBUG)
    logging.getLogger("suppaftp").setLevel(TRACE)
    ferroftp.reset_log_cache()
    wrong = server.url.replace(f":{server.password}@", ":not-the-password@")
    with pytest.raises(ferroftp.AuthenticationError):
        ferroftp.connect(wrong, retries=0, **OPTIONS)
    with ferroftp.connect(server.url, **OPTIONS) as s:
        s.write_bytes(f"{remote}/logged.txt", b"logged")
        assert s.read_bytes(f"{remote}/logged.txt") == b"logged"

    ours = records.messages("ferroftp")
    assert any(f"logged in to {server.host}:{server.port}" in m for m in ours), ours
    lines = records.messages("suppaftp")
    assert any(m.startswith("CC OUT: USER") for m in lines), lines
    assert any(m.startswith(f"CC OUT: STOR {remote}/logged.txt") for m in lines), lines
    every = [r.getMessage() for r in records.records]
    assert any(m.startswith("CC OUT: PASS") for m in every), every
    assert not [m for m in every if server.password in m or "not-the-password" in m]


def test_levels_are_honoured(server: Server, records: Records) -> None:
    logging.getLogger("ferroftp").setLevel(logging.WARNING)
    logging.getLogger("suppaftp").setLevel(logging.WARNING)
    ferroftp.reset_log_cache()
    with ferroftp.connect(server.url, **OPTIONS) as s:
        s.noop()
    assert records.records == []
    # A level changed later takes effect once the cache is reset.
    logging.getLogger("ferroftp").setLevel(logging.DEBUG)
    ferroftp.reset_log_cache()
    with ferroftp.connect(server.url, **OPTIONS) as s:
        s.noop()
    assert records.messages("ferroftp")
    assert records.messages("suppaftp") == []


def test_a_blocking_call_on_a_runtime_thread_is_refused(server: Server, records: Records) -> None:
    """Records are handled on the runtime's threads: a blocking call made there (here, by a
    handler) would stall the runtime, and is refused at once with the core's error."""
    main = threading.get_ident()
    refused: list[BaseException] = []

    class Calling(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if threading.get_ident() != main and not refused:
                try:
                    s.noop()
                except BaseException as e:
                    refused.append(e)

    logger = logging.getLogger("ferroftp")
    logger.setLevel(logging.DEBUG)
    ferroftp.reset_log_cache()
    calling = Calling()
    with ferroftp.connect(server.url, **OPTIONS) as s:
        logger.addHandler(calling)
        try:
            with ferroftp.connect(server.url, **OPTIONS) as other:  # logs on a runtime thread
                other.noop()
        finally:
            logger.removeHandler(calling)
        assert len(refused) == 1, records.messages("ferroftp")
        assert isinstance(refused[0], ferroftp.InvalidInputError)
        assert "inside an async runtime" in str(refused[0])
        s.noop()  # the session itself is fine
