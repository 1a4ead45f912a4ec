"""``ferroftp.ftplib``, the drop-in for the standard library's ``ftplib``: the same script gives
the same results with either module; one ``FTP`` object shared by 16 threads works (the
standard one does not); ``FTP_TLS`` talks to a server that requires TLS session reuse (the
standard one cannot); ``ftputil`` runs over it; and what the core cannot honour raises."""

from __future__ import annotations

import concurrent.futures
import ftplib as std_ftplib
import gc
import io
import os
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import ftputil
import ftputil.session
import pytest
from conftest import Server, data, start_server

import ferroftp
from ferroftp import ftplib as ours

#: A fixed modification time for the files a script lists, so that both runs list the same.
MTIME = 1_700_000_000

README = b"The README of a directory.\nSecond line.\n"
BIG = data(300_000, 21)
NOTES = b"first\r\nsecond\nthird\rfourth\n\nlast without newline"
UPLOAD = data(50_000, 22)


def prepare(server: Server, name: str) -> str:
    """A fresh remote directory holding the same files, with the same times, for each run."""
    remote, local = server.dir(name)
    for rel, content in [("README", README), ("big.bin", BIG), ("notes.txt", NOTES)]:
        path = server.put(f"{name}/{rel}", content)
        os.utime(path, (MTIME, MTIME))
    (local / "incoming").mkdir()
    server.own(local / "incoming")
    os.utime(local / "incoming", (MTIME, MTIME))
    return remote


def script(ftplib: ModuleType, server: Server, remote: str, tmp: Path) -> list[Any]:
    """Typical ftplib code, as the standard library's documentation and everyday scripts write
    it; returns everything it saw, for comparison.

    What ferroftp's core does not hand over is left out on purpose (see ferroftp.ftplib): the
    greeting that connect() returns (the connection opens at login; getwelcome() after it is
    the server's), and the texts of the final replies of LIST (ferroftp returns "226 Transfer
    complete.", vsftpd says "226 Directory send OK."), whose codes are compared.
    """
    seen: list[Any] = []
    ftp = ftplib.FTP(timeout=20)
    seen.append(("connect", ftp.connect(server.host, server.port)[:3]))
    seen.append(("welcome", (ftp.getwelcome() or "")[:3]))
    seen.append(("login", ftp.login(server.user, server.password)))
    seen.append(("welcome after login", ftp.getwelcome()))
    seen.append(("cwd", ftp.cwd(remote)))
    seen.append(("pwd", ftp.pwd()))
    lines: list[str] = []
    seen.append(("LIST", ftp.retrlines("LIST", lines.append)[:3], lines))
    listing: list[str] = []
    ftp.dir(listing.append)
    seen.append(("dir", listing))
    seen.append(("nlst", sorted(ftp.nlst())))
    with open(tmp / "README", "wb") as fp:
        seen.append(("retrbinary", ftp.retrbinary("RETR README", fp.write)))
    seen.append(("README", (tmp / "README").read_bytes()))
    blocks: list[bytes] = []
    seen.append(("blocks", ftp.retrbinary("RETR big.bin", blocks.append, blocksize=4096)))
    seen.append(("blocks data", b"".join(blocks), all(0 < len(b) <= 4096 for b in blocks)))
    tail: list[bytes] = []
    seen.append(("rest", ftp.retrbinary("RETR big.bin", tail.append, rest=250_000)))
    seen.append(("rest data", b"".join(tail)))
    text: list[str] = []
    seen.append(("retrlines", ftp.retrlines("RETR notes.txt", text.append), text))
    (tmp / "upload.bin").write_bytes(UPLOAD)
    sent: list[bytes] = []
    with open(tmp / "upload.bin", "rb") as fp:
        seen.append(("storbinary", ftp.storbinary("STOR upload.bin", fp, 8192, sent.append)))
    seen.append(("sent", [len(b) for b in sent]))
    seen.append(("size", ftp.size("upload.bin")))
    got: list[bytes] = []
    ftp.retrbinary("RETR upload.bin", got.append)
    seen.append(("uploaded", b"".join(got) == UPLOAD))
    sent_lines: list[bytes] = []
    stored = ftp.storlines("STOR lines.txt", io.BytesIO(b"one\ntwo\r\nthree"), sent_lines.append)
    seen.append(("storlines", stored, sent_lines))
    back: list[str] = []
    ftp.retrlines("RETR lines.txt", back.append)
    seen.append(("lines back", back))
    seen.append(("nlst", sorted(ftp.nlst())))
    try:
        facts = sorted(ftp.mlsd(facts=["type", "size"]), key=lambda item: item[0])
        seen.append(("mlsd", facts))
    except ftplib.error_perm as e:
        seen.append(("mlsd refused", str(e)))
    seen.append(("type", ftp.voidcmd("TYPE I")))  # SIZE is refused in ASCII mode
    seen.append(("rename", ftp.rename("upload.bin", "renamed.bin")))
    seen.append(("delete", ftp.delete("renamed.bin")))
    for name, action in [
        ("delete missing", lambda: ftp.delete("missing.txt")),
        ("size missing", lambda: ftp.size("missing.txt")),
        ("cwd missing", lambda: ftp.cwd("missing-dir")),
        ("retr missing", lambda: ftp.retrbinary("RETR missing.txt", print)),
        ("rmd missing", lambda: ftp.rmd("missing-dir")),
        ("unknown", lambda: ftp.sendcmd("NO-SUCH-COMMAND")),
    ]:
        try:
            action()
            seen.append((name, "no error"))
        except ftplib.all_errors as e:  # the way scripts check: by the reply's code
            seen.append((name, isinstance(e, ftplib.error_perm), str(e)[:3], str(e)))
    seen.append(("mkd", ftp.mkd("newdir")))
    seen.append(("cwd newdir", ftp.cwd("newdir")))
    seen.append(("pwd newdir", ftp.pwd()))
    seen.append(("cdup", ftp.cwd("..")))
    seen.append(("rmd", ftp.rmd("newdir")))
    seen.append(("voidcmd", ftp.voidcmd("NOOP")))
    seen.append(("sendcmd", ftp.sendcmd("SYST")))
    seen.append(("quit", ftp.quit()))
    with ftplib.FTP() as again:  # the context manager form
        again.connect(server.host, server.port, timeout=20)
        again.login(server.user, server.password)
        again.cwd(remote)
        seen.append(("with", sorted(again.nlst())))
    return seen


def test_a_script_gives_the_same_results(server: Server, tmp_path: Path) -> None:
    """The same script, once with ``import ftplib``, once with ``from ferroftp import ftplib``,
    against the same server (the same files each time): every result is the same."""
    theirs_tmp, ours_tmp = tmp_path / "std", tmp_path / "ours"
    theirs_tmp.mkdir()
    ours_tmp.mkdir()
    theirs = script(std_ftplib, server, prepare(server, "script"), theirs_tmp)
    mine = script(ours, server, prepare(server, "script"), ours_tmp)
    assert [item[0] for item in mine] == [item[0] for item in theirs]
    for a, b in zip(theirs, mine):
        assert a == b, f"{a[0]}: ftplib gave {a!r}, ferroftp.ftplib {b!r}"
    # The script did see what it should (so equal results are not equally wrong ones).
    results = dict((item[0], item[1:]) for item in mine)
    assert results["README"] == (README,)
    assert results["blocks data"] == (BIG, True)
    assert results["rest data"] == (BIG[250_000:],)
    assert results["retrlines"][1] == [
        "first",
        "second",
        "third",
        "fourth",
        "",
        "last without newline",
    ]
    assert results["uploaded"] == (True,)
    assert results["delete missing"][1] == "550"
    assert results["quit"] == ("221 Goodbye.",)


def test_sixteen_threads_share_one_ftp(server: Server) -> None:
    """One ``FTP`` object, 16 threads each uploading, downloading, listing and sizing files of
    their own: every result is right."""
    remote, _ = server.dir("threads")
    payloads = {i: data(40_000 + 997 * i, 100 + i) for i in range(16)}
    ftp = ours.FTP()
    ftp.connect(server.host, server.port, timeout=30)
    ftp.login(server.user, server.password)
    ftp.cwd(remote)

    def work(i: int) -> int:
        name = f"t{i}.bin"
        for _ in range(3):
            assert (
                ftp.storbinary(f"STOR {name}", io.BytesIO(payloads[i])) == "226 Transfer complete."
            )
            blocks: list[bytes] = []
            assert ftp.retrbinary(f"RETR {name}", blocks.append, blocksize=1024) == (
                "226 Transfer complete."
            )
            assert b"".join(blocks) == payloads[i]
            assert name in ftp.nlst()
            assert ftp.size(name) == len(payloads[i])
            assert ftp.pwd() == remote
        return i

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        assert sorted(pool.map(work, range(16))) == list(range(16))
    assert sorted(ftp.nlst()) == sorted(f"t{i}.bin" for i in range(16))
    ftp.quit()


def test_the_standard_ftp_mixes_up_threads(server: Server) -> None:
    """The standard library's ``FTP`` shared by two threads: one lists (nlst) while the other
    is in the middle of a download (held there, in its callback, until the listing is over:
    a fixed interleaving, so the outcome does not depend on timing). The two share one
    control connection and one data connection, so at least one of them fails or gets wrong
    data (which one depends on the server: vsftpd leaves the listing without its replies,
    pyftpdlib hands the listing the data connection and the download times out). Sixteen
    threads racing fail the same way, but only most of the time; this shows it every time."""
    remote, local = server.dir("std-race")
    payload = data(40_000_000, 3)  # far more than the sockets' buffers hold
    server.put(f"{local.name}/big.bin", payload)
    server.put(f"{local.name}/small.txt", b"x")
    ftp = std_ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=3)
    ftp.login(server.user, server.password)
    ftp.cwd(remote)
    downloading = threading.Event()
    listed = threading.Event()
    received: list[bytes] = []
    outcome: dict[str, Any] = {}

    def callback(block: bytes) -> None:
        if not downloading.is_set():
            downloading.set()
            listed.wait(20)
        received.append(block)

    def download() -> None:
        try:
            ftp.retrbinary("RETR big.bin", callback)
            outcome["download"] = b"".join(received) == payload
        except std_ftplib.all_errors as e:
            outcome["download"] = e

    def listing() -> None:
        downloading.wait(20)
        try:
            outcome["nlst"] = sorted(ftp.nlst()) == ["big.bin", "small.txt"]
        except std_ftplib.all_errors as e:
            outcome["nlst"] = e
        finally:
            listed.set()

    threads = [threading.Thread(target=download), threading.Thread(target=listing)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ftp.close()
    assert set(outcome) == {"download", "nlst"}
    assert outcome != {"download": True, "nlst": True}, "the standard FTP got it right?"


@pytest.fixture(scope="module")
def reuse_server() -> Iterator[Server]:
    """vsftpd with explicit TLS and ``require_ssl_reuse=YES`` (serve.py's vsftpd TLS setup)."""
    srv = start_server("vsftpd", "--tls", "explicit")
    yield srv
    srv.stop()


def test_ftp_tls_with_required_session_reuse(reuse_server: Server) -> None:
    """The standard ``FTP_TLS`` cannot open a data connection on a server that requires the
    control connection's TLS session to be reused there (its 522); ours, the very same code,
    transfers, lists and checks the certificate through the given context."""
    srv = reuse_server
    remote, local = srv.dir("tls")
    srv.put(f"{local.name}/a.bin", BIG)
    conf = Path(Path(f"/proc/{srv.pid}/cmdline").read_text().split("\0")[1])
    assert "require_ssl_reuse=YES" in conf.read_text()

    def run(ftplib: ModuleType) -> list[Any]:
        context = ssl.create_default_context(cafile=srv.info["cafile"])
        ftps = ftplib.FTP_TLS(context=context, timeout=20)
        ftps.connect(srv.host, srv.port)
        seen: list[Any] = [ftps.login(srv.user, srv.password), ftps.prot_p()]
        blocks: list[bytes] = []
        seen.append(ftps.retrbinary(f"RETR {remote}/a.bin", blocks.append))
        seen.append(b"".join(blocks) == BIG)
        seen.append(ftps.storbinary(f"STOR {remote}/b.bin", io.BytesIO(b"up")))
        seen.append(sorted(ftps.nlst(remote)))
        seen.append(ftps.quit())
        return seen

    with pytest.raises(std_ftplib.all_errors) as info:
        run(std_ftplib)
    assert "522" in str(info.value) and "reuse" in str(info.value), info.value
    assert run(ours) == [
        "230 Login successful.",
        "200 PROT now Private.",
        "226 Transfer complete.",
        True,
        "226 Transfer complete.",
        [f"{remote}/a.bin", f"{remote}/b.bin"],
        "221 Goodbye.",
    ]
    assert (local / "b.bin").read_bytes() == b"up"
    # An untrusted certificate (a context without the server's CA) is refused.
    ftps = ours.FTP_TLS(context=ssl.create_default_context(), timeout=20)
    ftps.connect(srv.host, srv.port)
    with pytest.raises(ferroftp.TlsError):
        ftps.login(srv.user, srv.password)
    # The context's CA certificates went to a temporary file; an FTP_TLS never closed still
    # removes it once it is gone.
    cas = ftps._ca_file
    assert cas is not None and os.path.exists(cas)
    del ftps
    gc.collect()
    assert not os.path.exists(cas)


def test_ftputil_runs_over_ours(tmp_path: Path) -> None:
    """ftputil, a library written for ftplib's ``FTP`` class, given ours through its
    ``session_factory``: it lists (parsing LIST output), uploads, downloads, stats and walks a
    tree."""
    srv = start_server("vsftpd")
    try:
        remote, local = srv.dir("ftputil")
        (tmp_path / "a.bin").write_bytes(BIG)
        (tmp_path / "b.txt").write_text("hello\nworld\n")
        factory = ftputil.session.session_factory(base_class=ours.FTP, port=srv.port)
        with ftputil.FTPHost(srv.host, srv.user, srv.password, session_factory=factory) as host:
            tree = f"{remote}/tree"
            host.makedirs(f"{tree}/sub/deeper")
            host.upload(str(tmp_path / "a.bin"), f"{tree}/a.bin")
            host.upload(str(tmp_path / "b.txt"), f"{tree}/sub/b.txt")
            assert sorted(host.listdir(tree)) == ["a.bin", "sub"]
            assert host.path.isdir(f"{tree}/sub") and host.path.isfile(f"{tree}/a.bin")
            assert host.stat(f"{tree}/a.bin").st_size == len(BIG)
            assert host.path.getsize(f"{tree}/sub/b.txt") == len("hello\nworld\n")
            host.download(f"{tree}/a.bin", str(tmp_path / "a-back.bin"))
            assert (tmp_path / "a-back.bin").read_bytes() == BIG
            with host.open(f"{tree}/sub/b.txt") as f:
                assert f.read() == "hello\nworld\n"
            with host.open(f"{tree}/sub/written.bin", "wb") as f:
                f.write(b"through ftputil's file object")
            walked = [(d, sorted(ds), sorted(fs)) for d, ds, fs in host.walk(tree)]
            assert walked == [
                (tree, ["sub"], ["a.bin"]),
                (f"{tree}/sub", ["deeper"], ["b.txt", "written.bin"]),
                (f"{tree}/sub/deeper", [], []),
            ]
            host.rename(f"{tree}/sub/b.txt", f"{tree}/c.txt")
            host.remove(f"{tree}/c.txt")
            host.rmtree(f"{tree}/sub")
            assert host.listdir(tree) == ["a.bin"]
        assert (local / "tree" / "a.bin").read_bytes() == BIG
    finally:
        srv.stop()


def test_transfercmd_and_voidresp(server: Server) -> None:
    """``transfercmd`` hands out a stand-in for the data socket (RETR, STOR); ``voidresp``
    gives the transfer's outcome, as scripts that drive transfers themselves expect."""
    remote, local = server.dir("transfercmd")
    server.put(f"{local.name}/a.bin", BIG)
    ftp = ours.FTP(timeout=20)
    ftp.connect(server.host, server.port)
    ftp.login(server.user, server.password)
    conn, size = ftp.ntransfercmd(f"RETR {remote}/a.bin")
    assert size in (None, len(BIG))
    with conn.makefile("rb") as f:
        assert f.read() == BIG
    conn.close()
    assert ftp.voidresp() == "226 Transfer complete."
    with (
        ftp.transfercmd(f"STOR {remote}/up.txt") as conn,
        conn.makefile("w", encoding="utf-8") as f,
    ):
        f.write("text through makefile\n")
    assert ftp.voidresp() == "226 Transfer complete."
    assert (local / "up.txt").read_text() == "text through makefile\n"
    conn = ftp.transfercmd(f"RETR {remote}/a.bin", rest=299_990)
    assert conn.recv(100) == BIG[299_990:]
    conn.close()
    assert ftp.voidresp() == "226 Transfer complete."
    # A download closed before its end: the outcome is the server's kind of refusal (426).
    conn = ftp.transfercmd(f"RETR {remote}/a.bin")
    assert conn.recv(10) == BIG[:10]
    conn.close()
    with pytest.raises(std_ftplib.error_temp, match=r"^426"):
        ftp.voidresp()
    assert ftp.pwd() == "/"
    ftp.close()


def test_abort_from_a_callback_and_active_mode(server: Server) -> None:
    remote, local = server.dir("abort")
    server.put(f"{local.name}/big.bin", data(20_000_000, 4))
    ftp = ours.FTP(timeout=20)
    ftp.connect(server.host, server.port)
    ftp.login(server.user, server.password)
    blocks: list[bytes] = []

    def callback(block: bytes) -> None:
        blocks.append(block)
        if len(blocks) == 3:
            assert ftp.abort()[:3] == "426"

    with pytest.raises(std_ftplib.error_temp, match=r"^426"):
        ftp.retrbinary(f"RETR {remote}/big.bin", callback)
    assert len(blocks) == 3
    # Any other call from a callback would wait for the transfer forever: it is refused.
    with pytest.raises(RuntimeError, match="callback"):
        ftp.retrbinary(f"RETR {remote}/big.bin", lambda block: ftp.size(f"{remote}/big.bin"))
    assert ftp.abort()[:3] in {"225", "226"}  # outside a transfer: the server's reply
    ftp.set_pasv(False)  # active mode from now on (the session reopens, in the same place)
    ftp.cwd(remote)
    assert ftp.storbinary("STOR act.txt", io.BytesIO(b"active")) == "226 Transfer complete."
    assert sorted(ftp.nlst()) == ["act.txt", "big.bin"]
    assert (local / "act.txt").read_bytes() == b"active"
    assert ftp.pwd() == remote
    ftp.quit()


def test_what_cannot_be_honoured_raises(server: Server) -> None:
    """Each method that cannot keep ftplib's meaning over ferroftp's core raises
    NotImplementedError saying why, instead of doing something else."""
    remote, _ = server.dir("unsupported")
    ftp = ours.FTP(timeout=20)
    with pytest.raises(std_ftplib.error_perm, match=r"^530"):
        ftp.pwd()  # before login: the connection opens at login
    ftp.connect(server.host, server.port)
    ftp.login(server.user, server.password)
    cases = [
        (lambda: ftp.transfercmd("LIST"), "RETR and STOR"),
        (lambda: ftp.transfercmd(f"APPE {remote}/x"), "RETR and STOR"),
        (lambda: ftp.transfercmd(f"STOR {remote}/x", rest=5), "offset"),
        (lambda: ftp.storbinary(f"STOR {remote}/x", io.BytesIO(b"x"), rest=1), "offset"),
        (lambda: ftp.storbinary(f"APPE {remote}/x", io.BytesIO(b"x")), "STOR"),
        (lambda: ftp.retrbinary("LIST", print), "RETR"),
        (lambda: ftp.putcmd("NOOP"), "reads its reply"),
        (lambda: ftp.getline(), "reads every reply"),
        (lambda: ftp.makepasv(), "opens data connections"),
        (lambda: ftp.voidresp(), "reads every other reply"),
        (lambda: ftp.sock.fileno(), "core"),
        (lambda: ours.FTP(source_address=("127.0.0.1", 0)).connect("127.0.0.1", 21), "local"),
    ]
    for call, why in cases:
        with pytest.raises(NotImplementedError, match=why):
            call()
    tls = ours.FTP_TLS()
    with pytest.raises(NotImplementedError, match="protects every data connection"):
        tls.prot_c()
    with pytest.raises(ValueError, match="not using TLS"):
        tls.ccc()
    assert ftp.pwd() == "/"  # nothing of that disturbed the session
    ftp.quit()


def test_the_module_has_the_standard_names() -> None:
    for name in std_ftplib.__all__:
        assert hasattr(ours, name), name
    for name in ("Error", "error_reply", "error_temp", "error_perm", "error_proto", "all_errors"):
        assert getattr(ours, name) is getattr(std_ftplib, name)
    assert ours.CRLF == "\r\n" and ours.FTP_PORT == 21
    for name in dir(std_ftplib.FTP_TLS):
        if not name.startswith("_"):
            assert hasattr(ours.FTP_TLS, name), name
    ftp = ours.FTP(timeout=5, encoding="latin-1")
    assert (ftp.host, ftp.port, ftp.timeout, ftp.encoding) == ("", 21, 5, "latin-1")
    assert ftp.sock is None and ftp.passiveserver is True
    with pytest.raises(ValueError, match="Non-blocking"):
        ours.FTP().connect("127.0.0.1", 21, timeout=0)
    with pytest.raises(ValueError, match="newline"):
        ftp.sendcmd("NOOP\r\nQUIT")
