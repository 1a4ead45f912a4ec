"""The exception classes: hierarchy, ``.code``, ``.kind``, the server's text, real triggers."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import ftplib
import io
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import OPTIONS, Server, data, start_server

import ferroftp
from ferroftp import exceptions


def test_hierarchy() -> None:
    E = ferroftp
    assert issubclass(E.Error, ftplib.Error)
    assert issubclass(E.PermanentError, E.Error) and issubclass(E.PermanentError, ftplib.error_perm)
    assert issubclass(E.TransientError, E.Error) and issubclass(E.TransientError, ftplib.error_temp)
    assert issubclass(E.NotFoundError, E.PermanentError)
    assert issubclass(E.NotFoundError, FileNotFoundError)
    assert issubclass(E.AuthenticationError, E.PermanentError)
    assert issubclass(E.ConnectionError, E.Error)
    assert issubclass(E.ConnectionError, builtins.ConnectionError)
    assert issubclass(E.TimeoutError, E.Error) and issubclass(E.TimeoutError, builtins.TimeoutError)
    assert issubclass(E.ProtocolError, E.Error) and issubclass(E.ProtocolError, ftplib.error_proto)
    assert issubclass(E.TlsError, E.Error) and issubclass(E.TlsError, OSError)
    assert issubclass(E.IoError, E.Error) and issubclass(E.IoError, OSError)
    assert issubclass(E.ClosedError, E.Error)
    assert issubclass(E.CancelledError, E.Error)
    assert issubclass(E.InvalidInputError, E.Error) and issubclass(E.InvalidInputError, ValueError)
    # A checksum mismatch is neither a server's refusal nor a failed system call.
    assert E.IntegrityError.__bases__ == (E.Error,)
    assert not issubclass(E.IntegrityError, (OSError, ftplib.error_perm, ftplib.error_temp))
    # Every exported error is the same object as in ferroftp.exceptions.
    for name in exceptions.__all__:
        assert getattr(ferroftp, name) is getattr(exceptions, name)
    # Users can raise them too (e.g. in test doubles).
    e = ferroftp.NotFoundError("gone")
    assert (str(e), e.message, e.code, e.kind) == ("gone", "gone", None, "not-found")
    assert e.may_have_taken_effect is False


@pytest.mark.parametrize("kind", ferroftp._native.ERROR_KINDS)
def test_every_core_error_kind_has_its_own_class(kind: str) -> None:
    """Each of the core's error kinds becomes an exception of its own class (not the bare
    base), which names the kind: a kind added to the core without one fails here."""
    e = ferroftp._native._error(kind, "what went wrong")
    cls = type(e)
    assert cls is not ferroftp.Error and issubclass(cls, ferroftp.Error)
    assert cls.kind == e.kind == kind
    assert cls is getattr(ferroftp, cls.__name__) is getattr(exceptions, cls.__name__)
    assert (str(e), e.code, e.may_have_taken_effect) == ("what went wrong", None, False)


def test_error_classes_and_kinds_match_one_to_one() -> None:
    classes = [getattr(exceptions, n) for n in exceptions.__all__ if n != "Error"]
    assert sorted(c.kind for c in classes) == sorted(ferroftp._native.ERROR_KINDS)


def test_not_found_carries_code_and_text(session: ferroftp.Session) -> None:
    with pytest.raises(ferroftp.NotFoundError) as info:
        session.size("/no/such/file")
    e = info.value
    assert e.code == 550
    assert e.kind == "not-found"
    # As ftplib has it: str(e) and e.args[0] are the server's reply; the command moves to
    # attributes, and the whole message to e.detail.
    assert str(e)[:3] == "550" and e.args[0] == str(e)
    assert not str(e).startswith("SIZE")
    assert (e.command, e.path) == ("SIZE /no/such/file", "/no/such/file")
    assert e.detail == f"SIZE /no/such/file: the server replied {e}"
    assert e.message == str(e)
    assert isinstance(e, FileNotFoundError)


@pytest.mark.parametrize(
    ("code", "reply", "command", "cls", "path"),
    [
        (
            550,
            "550 No such file or directory.",
            "RETR /a b.txt",
            ferroftp.NotFoundError,
            "/a b.txt",
        ),
        (550, "550 Permission denied.", "DELE /x", ferroftp.PermanentError, "/x"),
        (451, "451 Local error.", "STOR /up.bin", ferroftp.TransientError, "/up.bin"),
        (530, "530 Login incorrect.", "PASS", ferroftp.AuthenticationError, None),
        (550, "550-Not here:\r\n550 really not.", "SIZE /m", ferroftp.NotFoundError, "/m"),
        (550, "550 Bad mode.", "SITE CHMOD 644 /d/f", ferroftp.NotFoundError, "/d/f"),
        (550, "550 Bad time.", "MFMT 20240101000000 /f", ferroftp.NotFoundError, "/f"),
        (500, "500 Unknown command.", "FOO bar", ferroftp.PermanentError, None),
    ],
)
def test_a_refusal_reads_as_the_server_reply(
    code: int, reply: str, command: str, cls: type, path: str | None
) -> None:
    """The core's error for a refusal (built by the core itself, so a change of its message
    fails here) becomes an exception whose str() is the reply, as ftplib's: the lines of a
    multi-line reply joined by "\n"; the command and path are attributes."""
    e = ferroftp._native._refusal(code, reply, command)
    assert type(e) is cls and e.code == code
    assert str(e) == e.args[0] == e.message == reply.replace("\r\n", "\n")
    assert str(e)[:3] == str(code)
    assert (e.command, e.path) == (command, path)
    assert e.detail == f"{command}: the server replied {reply}"
    assert e.__notes__ == [f"ferroftp: in reply to {command}"]
    # Errors that are not refusals keep their message, with no command.
    other = ferroftp._native._error("timeout", "RETR /x: no answer within 1.0 s")
    assert (other.command, other.path, other.detail) == (None, None, str(other))


def test_existing_ftplib_code_keeps_working(session: ferroftp.Session) -> None:
    """A user's `except ftplib.error_perm:` around a failing call still catches it."""
    caught = None
    try:
        session.read_bytes("/missing.txt")
    except ftplib.error_perm as e:  # as written for ftplib
        caught = e
    assert caught is not None
    assert str(caught)
    caught = None
    try:
        session.rmdir("/missing-dir")
    except ftplib.all_errors as e:
        caught = e
    assert isinstance(caught, ftplib.error_perm)
    # The session is fine afterwards.
    session.noop()


def test_permanent_error(session: ferroftp.Session, workdir: tuple[str, Path]) -> None:
    remote, _ = workdir
    session.mkdir(f"{remote}/d")
    with pytest.raises(ferroftp.PermanentError) as info:
        session.mkdir(f"{remote}/d")
    assert info.value.code is not None and 500 <= info.value.code < 600
    assert not isinstance(info.value, ferroftp.NotFoundError)


def test_authentication_error(server: Server) -> None:
    url = server.url.replace(f":{server.password}@", ":wrong-password@")
    with pytest.raises(ferroftp.AuthenticationError) as info:
        ferroftp.connect(url, **OPTIONS)
    assert info.value.code == 530
    assert info.value.kind == "auth"
    assert isinstance(info.value, ftplib.error_perm)
    assert "wrong-password" not in str(info.value)


@pytest.mark.asyncio
async def test_authentication_error_async(server: Server) -> None:
    url = server.url.replace(f":{server.password}@", ":wrong-password@")
    with pytest.raises(ferroftp.AuthenticationError):
        await ferroftp.connect_async(url, **OPTIONS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_error() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(ferroftp.ConnectionError) as info:
        ferroftp.connect(f"ftp://u:p@127.0.0.1:{port}", retries=0, **OPTIONS)
    assert isinstance(info.value, builtins.ConnectionError)
    assert info.value.code is None
    with pytest.raises(builtins.ConnectionError):  # as plain Python code would catch it
        ferroftp.connect(f"ftp://u:p@127.0.0.1:{port}", retries=0, **OPTIONS)


@contextlib.contextmanager
def fake_server(greeting: bytes | None) -> Iterator[int]:
    """A loopback TCP server that sends `greeting` (or nothing) and then keeps silent."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conns.append(conn)
            if greeting is not None:
                conn.sendall(greeting)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        t.join()
        for c in conns:
            c.close()
        listener.close()


def test_timeout_error() -> None:
    with fake_server(None) as port:  # accepts, never greets
        with pytest.raises(ferroftp.TimeoutError) as info:
            ferroftp.connect(
                f"ftp://u:p@127.0.0.1:{port}", connect_timeout=0.5, timeout=0.5, retries=0
            )
        assert isinstance(info.value, builtins.TimeoutError)
        assert info.value.code is None
        assert info.value.kind == "timeout"


def test_garbage_greeting_is_an_error() -> None:
    with fake_server(b"hello, I am not an FTP server\r\n") as port:
        with pytest.raises(ferroftp.Error) as info:
            ferroftp.connect(f"ftp://u:p@127.0.0.1:{port}", connect_timeout=2, timeout=2, retries=0)
        assert isinstance(info.value, (ferroftp.ProtocolError, ferroftp.ConnectionError))


def test_transient_error_on_421() -> None:
    """A server at its connection limit answers 421: a TransientError (ftplib.error_temp)."""
    srv = start_server("pyftpdlib", "--max-cons", "1")
    try:
        with ferroftp.connect(srv.url, **OPTIONS) as first:
            first.noop()
            with pytest.raises(ferroftp.TransientError) as info:
                ferroftp.connect(srv.url, retries=0, **OPTIONS)
            assert info.value.code == 421
            assert isinstance(info.value, ftplib.error_temp)
            first.noop()
    finally:
        srv.stop()


def test_invalid_input_is_a_value_error(session: ferroftp.Session) -> None:
    for url in ("http://example.com/", "ftp://", "not a url", "ftp://h:99999/"):
        with pytest.raises(ferroftp.InvalidInputError) as info:
            ferroftp.connect(url)
        assert isinstance(info.value, ValueError)
        assert info.value.code is None
    with pytest.raises(ValueError):  # a path smuggling a second command
        session.size("/a\r\nDELE /b")
    session.noop()


def test_local_errors(session: ferroftp.Session, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, _ = workdir
    session.write_bytes(f"{remote}/f", b"data")
    with pytest.raises(FileNotFoundError) as info:
        session.upload(tmp_path / "does-not-exist", f"{remote}/g")
    assert isinstance(info.value, ferroftp.Error)
    assert info.value.code is None
    with pytest.raises(ferroftp.Error):
        session.download(f"{remote}/f", tmp_path / "no" / "such" / "dir" / "f")
    with pytest.raises(ValueError):
        session.download(f"{remote}/f", tmp_path)  # a directory


def test_file_object_errors_surface(
    session: ferroftp.Session, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, _ = workdir
    session.write_bytes(f"{remote}/f", b"x" * 1_000_000)

    class Broken(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: object) -> int:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        session.download(f"{remote}/f", Broken())
    # A text-mode file object is refused clearly.
    with open(tmp_path / "t.txt", "w") as text, pytest.raises(TypeError):
        session.download(f"{remote}/f", text)
    with open(tmp_path / "t.txt", "w+") as text:
        text.write("abc")
        text.seek(0)
        with pytest.raises(TypeError, match="binary"):
            session.upload(text, f"{remote}/g")
    assert session.read_bytes(f"{remote}/f") == b"x" * 1_000_000


def test_progress_exception_cancels_and_is_raised(
    session: ferroftp.Session, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, _ = workdir
    session.write_bytes(f"{remote}/p", b"p" * 3_000_000)

    def progress(done: int, total: int | None) -> None:
        raise LookupError("stop here")

    with pytest.raises(LookupError, match="stop here"):
        session.download(f"{remote}/p", tmp_path / "p", progress=progress)
    # No partial file: nothing, or (when the transfer won the race) the complete file.
    assert not (tmp_path / "p").exists() or (tmp_path / "p").stat().st_size == 3_000_000
    assert session.size(f"{remote}/p") == 3_000_000


def test_panics_become_exceptions() -> None:
    """A Rust panic in an operation never crashes the interpreter: it is an exception."""
    with pytest.raises(BaseException, match="test panic") as info:
        ferroftp._native._panic_in_operation()
    assert type(info.value).__name__ == "PanicException"

    async def main() -> None:
        await ferroftp._native._panic_in_operation_async()

    with pytest.raises(BaseException, match="test panic") as info:
        asyncio.run(main())
    assert type(info.value).__name__ == "PanicException"


# --- may_have_taken_effect -----------------------------------------------------------------


def test_refusals_and_missing_files_have_not_taken_effect(
    session: ferroftp.Session, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    src = tmp_path / "src.bin"
    src.write_bytes(b"data")
    with pytest.raises(ferroftp.Error) as info:  # STOR refused: no such directory
        session.upload(src, f"{remote}/no/such/dir/f.bin")
    assert info.value.code is not None and 500 <= info.value.code < 600
    assert info.value.may_have_taken_effect is False
    with pytest.raises(ferroftp.NotFoundError) as missing:
        session.size(f"{remote}/missing")
    assert missing.value.may_have_taken_effect is False
    with pytest.raises(ferroftp.Error) as gone:
        session.remove(f"{remote}/missing")
    assert gone.value.may_have_taken_effect is False
    assert os.listdir(local) == []


@pytest.mark.parametrize("face", ["blocking", "async"])
def test_an_upload_cut_midway_may_have_taken_effect(tmp_path: Path, face: str) -> None:
    """The server's session dies while an upload's data flows (its processes are killed, as a
    cut connection would do): the error says the upload may have taken effect (part of the file
    may be there), and the session reconnects for the next operation."""
    srv = start_server("vsftpd")  # of its own: its one session is ours
    try:
        remote, local = srv.dir("cut")
        src = tmp_path / "big.bin"
        size = 32_000_000
        src.write_bytes(data(size, 11))
        killed: list[bool] = []

        def progress(done: int, total: int | None) -> None:
            # The transfer waits while this runs: it is part-way for sure. (Small writes make
            # it yield to the progress gate several times; a loopback transfer in 1 MiB writes
            # may finish in one go, and report only its end.)
            if not killed and 0 < done < size:
                killed.append(srv.kill_all_sessions())

        def check(e: ferroftp.Error) -> None:
            assert killed == [True]
            assert e.may_have_taken_effect is True, e
            assert "may have taken effect" in str(e)

        if face == "blocking":
            with ferroftp.connect(srv.url, retries=1, buffer_size=16384, **OPTIONS) as s:
                with pytest.raises(ferroftp.Error) as info:
                    s.upload(src, f"{remote}/big.bin", progress=progress)
                check(info.value)
                assert s.pwd() == "/"
        else:

            async def main() -> None:
                async with await ferroftp.connect_async(
                    srv.url, retries=1, buffer_size=16384, **OPTIONS
                ) as s:
                    with pytest.raises(ferroftp.Error) as info:
                        await s.upload(src, f"{remote}/big.bin", progress=progress)
                    check(info.value)
                    assert await s.pwd() == "/"

            asyncio.run(main())
        assert (local / "big.bin").stat().st_size < size  # the part the server got
    finally:
        srv.stop()
