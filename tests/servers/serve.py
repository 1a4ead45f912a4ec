#!/usr/bin/env python3
"""Start a real FTP server on loopback for the ferroftp test suites.

Usage::

    python tests/servers/serve.py {pyftpdlib|vsftpd} [--root DIR] [--max-cons N]
        [--tls {none,explicit,implicit}] [--host 127.0.0.1|::1]
        [--passive-ports LO-HI] [--anonymous] [--stop-after SECONDS]
        [--hash | --hash-x-only] [--hash-lie] [--rtt-ms MS [--proxy-host 127.0.0.2]]
        [--cert {ca|self-signed|expired}] [--cert-name NAME]... [--client-ca]
        [--refuse-data-tls N] [--account ACCOUNT] [--password PASSWORD]

The launcher picks a free loopback port, starts the server, waits until the
server really greets with ``220`` and then prints exactly one line of JSON on
stdout, e.g.::

    {"kind": "pyftpdlib", "host": "127.0.0.1", "port": 40123, "user": "ferro",
     "password": "s3cret", "root": "/tmp/ferroftp-root-x", "uid": 0, "gid": 0,
     "pid": 4242, "tls": "none", "anonymous": false}

(plus ``"cafile"``, the certificate to trust, when TLS is on, and
``"client_cert"``/``"client_key"`` with ``--client-ca``).  It then serves until its stdin reaches
EOF (the parent closed the pipe or died), it receives SIGTERM/SIGINT/SIGHUP,
or ``--stop-after`` seconds have passed.  At exit it stops the server, kills
every process it started and removes the temporary files it created; it exits
0.  Any failure to start prints a message on stderr and exits 2.

With ``--rtt-ms MS`` the server is reached through a latency proxy
(toxiproxy): the control port and every passive port are proxied from
``--proxy-host`` (127.0.0.2) to the same port on ``--host`` (127.0.0.1), with
half of MS added in each direction; ``host`` in the JSON is then the proxy's
address (``direct_host`` the server's) and passive replies name the proxy.
toxiproxy's server is found as ``$FERROFTP_TOXIPROXY``, ``toxiproxy-server`` on
the PATH, or ``.tools/bin/toxiproxy-server`` (``make setup`` builds it).

Environment: ``FERROFTP_SERVER_LOG=1`` makes the servers log the FTP protocol
on stderr.

Only the Python standard library is needed, plus pyftpdlib in pyftpdlib mode
and, for TLS, pyopenssl (whose ``cryptography`` makes the certificates).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import fcntl
import ipaddress
import json
import logging
import os
import pwd
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

PY_USER = "ferro"
VSFTPD_USER = "ferroftp-test"
# The user anonymous vsftpd sessions run as.  It must NOT be able to write
# the root: vsftpd refuses a writable chroot root for anonymous sessions even
# with allow_writeable_chroot=YES (that option is for local users only).
VSFTPD_ANON_USER = "ferroftp-anon"
# The home must exist: vsftpd chdir()s there before it goes to local_root.
VSFTPD_HOME = "/"
PASSWORD = "s3cret"
PYFTPDLIB_PERMS = "elradfmwMT"
PAM_SERVICE = "ferroftp-test"
PAM_FILE = Path("/etc/pam.d") / PAM_SERVICE
PAM_CONTENT = (
    "# Written by ferroftp tests/servers/serve.py: plain pam_unix for the\n"
    "# ferroftp-test user (Debian's vsftpd service requires a shell in /etc/shells).\n"
    "auth\trequired\tpam_unix.so nodelay\n"
    "account\trequired\tpam_unix.so\n"
)
SETUP_LOCK = Path("/run/lock/ferroftp-test-setup.lock")
SECURE_CHROOT_DIR = Path("/var/run/vsftpd/empty")
VSFTPD_CANDIDATES = ("/usr/sbin/vsftpd", "/usr/local/sbin/vsftpd")

STARTUP_TIMEOUT = 15.0
DEFAULT_STOP_AFTER = 3600.0
DEFAULT_VSFTPD_MAX_CONS = 200
PASV_WINDOW = 1000
PASV_LOW, PASV_HIGH = 10000, 65000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PORT_ATTEMPTS = 5

LOG_ENABLED = os.environ.get("FERROFTP_SERVER_LOG", "") not in {"", "0"}


class LaunchError(Exception):
    """A problem that prevents the server from starting (exit code 2)."""


class PortInUse(LaunchError):
    """The chosen port was taken before the server could bind it (retry)."""


class Stopped(Exception):
    """A stop was requested (stdin EOF or a signal) before the server was ready."""


def log(msg: str) -> None:
    """Print a diagnostic line on stderr."""
    sys.stderr.write(f"serve.py: {msg}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Stop conditions
# --------------------------------------------------------------------------


class StopSignal:
    """Collects every reason to stop: stdin EOF, signals, the deadline."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason = ""

    def set(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    def wait(self, timeout: float) -> bool:
        return self.event.wait(timeout)

    def install(self) -> None:
        """Install signal handlers and start the stdin watcher thread."""

        def on_signal(signum: int, _frame: object) -> None:
            self.set(signal.Signals(signum).name)

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, on_signal)

        def watch_stdin() -> None:
            try:
                while os.read(0, 65536):
                    pass
            except OSError:
                pass
            self.set("stdin EOF")

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _fd_safe_ioloop() -> Any:
    """A pyftpdlib IO loop that never hands an event to the wrong socket.

    pyftpdlib's loop polls once, then dispatches each (fd, event) by looking the fd up in its
    socket map. When handling one event closes a socket and opens another that gets the same
    fd number (EPSV closes the old data channel and opens a passive listener), a later event of
    the same batch for the *old* socket (its hang-up) goes to the *new* listener, which closes
    itself: the next transfer then waits for a data connection that is never accepted (seen as
    a STOR hanging for 30 s after a refused RETR). This loop dispatches only to the object that
    owned the fd when the batch was polled.

    The same reuse bites through the channels' own bookkeeping: a channel keeps the fd number
    it was created with, so a channel that is closed late (after its socket's fd was reused by
    a new control connection) unregisters the *new* connection, or changes its poll events, and
    that connection is never read again (seen as a login stalling until the client's connect
    timeout, after an active-mode session). `_own_fds_only` makes a channel touch the loop's
    registration of its fd only while it is the fd's owner.
    """
    from pyftpdlib.ioloop import Poll

    _own_fds_only()

    class FdSafePoll(Poll):  # type: ignore[misc, valid-type]
        def poll(self, timeout: float | None) -> None:
            try:
                events = self._poller.poll(
                    -1 if timeout is None else int(timeout * 1000)
                )
            except InterruptedError:
                return
            owners = {fd: self.socket_map.get(fd) for fd, _ in events}
            for fd, event in events:
                inst = self.socket_map.get(fd)
                if inst is None or inst is not owners[fd]:
                    continue
                if event & self._ERROR and not event & self.READ:
                    inst.handle_close()
                else:
                    if event & self.READ and inst.readable():
                        _pyftpdlib_read(inst)
                    if event & self.WRITE and inst.writable():
                        _pyftpdlib_write(inst)

    return FdSafePoll()


def _own_fds_only() -> None:
    """Patches pyftpdlib's channels to leave an fd's registration to its current owner."""
    from pyftpdlib.ioloop import AsyncChat

    if getattr(AsyncChat, "_ferroftp_own_fds_only", False):
        return
    del_channel = AsyncChat.del_channel
    modify = AsyncChat.modify_ioloop_events

    def owns(inst: Any) -> bool:
        owner = inst.ioloop.socket_map.get(inst._fileno)
        if owner is not None:
            return owner is inst
        # Not registered: only a channel whose socket still has that fd may register it.
        try:
            return bool(
                inst.socket is not None and inst.socket.fileno() == inst._fileno
            )
        except OSError:
            return False

    def guarded_del_channel(self: Any, map: Any = None) -> None:
        if self._fileno is None or self.ioloop.socket_map.get(self._fileno) is self:
            del_channel(self, map)

    def guarded_modify(self: Any, events: int, logdebug: bool = False) -> None:
        if owns(self):
            modify(self, events, logdebug)

    AsyncChat.del_channel = guarded_del_channel
    AsyncChat.modify_ioloop_events = guarded_modify
    AsyncChat._ferroftp_own_fds_only = True


def _pyftpdlib_read(inst: Any) -> None:
    from pyftpdlib.ioloop import _read

    _read(inst)


def _pyftpdlib_write(inst: Any) -> None:
    from pyftpdlib.ioloop import _write

    _write(inst)


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str) -> int:
    """Return a TCP port that was free on ``host`` a moment ago."""
    with socket.socket(family_of(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def ephemeral_ports() -> tuple[int, int]:
    """The kernel's range of ports for outgoing connections (Linux's default if unknown)."""
    try:
        lo, hi = (int(v) for v in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return lo, hi


def passive_window(width: int, avoid: tuple[int, int] | None = None) -> tuple[int, int]:
    """A random window of ``width`` passive ports clear of the ephemeral range (and of ``avoid``).

    vsftpd binds a passive port at random within its window and tries 9 ports at most before
    it gives up and its session process dies (the client then reads "500 OOPS:
    priv_sock_get_int"). A port held by a client socket in TIME_WAIT cannot be bound, even with
    SO_REUSEADDR, and a test run leaves thousands of those; so the window stays out of the
    ephemeral range, where no outgoing connection takes a port.
    """
    eph_lo, eph_hi = ephemeral_ports()
    spans = [(PASV_LOW, eph_lo - 1), (eph_hi + 1, PASV_HIGH)]
    if avoid is not None:
        spans = [
            part
            for lo, hi in spans
            for part in ((lo, min(hi, avoid[0] - 1)), (max(lo, avoid[1] + 1), hi))
        ]
    starts = [(lo, hi - width + 1) for lo, hi in spans if hi - lo + 1 >= width]
    if not starts:
        raise LaunchError(
            f"no room for {width} passive ports outside the ephemeral range {eph_lo}-{eph_hi}"
        )
    total = sum(last - first + 1 for first, last in starts)
    pick = random.randrange(total)
    for first, last in starts:
        if pick <= last - first:
            return first + pick, first + pick + width - 1
        pick -= last - first + 1
    raise AssertionError("unreachable")


def parse_port_range(text: str) -> tuple[int, int]:
    try:
        lo_s, hi_s = text.split("-", 1)
        lo, hi = int(lo_s), int(hi_s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO-HI, got {text!r}") from None
    if not (1024 <= lo <= hi <= 65535):
        raise argparse.ArgumentTypeError(f"bad passive port range {text!r}")
    return lo, hi


def loopback_host(text: str) -> str:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from None
    if not addr.is_loopback:
        raise argparse.ArgumentTypeError(
            f"only loopback addresses are allowed: {text!r}"
        )
    return str(addr)


def probe_context(certs: Certs | None) -> ssl.SSLContext:
    """A client context for the readiness probe of an implicit-TLS server: it only waits for
    the greeting, so it trusts any certificate (some tests serve expired or misnamed ones),
    and presents the client certificate when the server requires one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if certs is not None and certs.client_cert is not None:
        assert certs.client_key is not None
        ctx.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    return ctx


def probe_banner(
    host: str,
    port: int,
    *,
    implicit_tls: Certs | None,
    deadline: float,
    alive: Callable[[], bool],
    stop: StopSignal,
) -> str:
    """Connect until the server greets with 220; QUIT; return the banner line."""
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if stop.is_set():
            raise Stopped(stop.reason)
        if not alive():
            raise LaunchError("the server process exited during startup")
        try:
            sock = socket.create_connection((host, port), timeout=2.0)
        except OSError as exc:
            last_error = str(exc)
            time.sleep(0.02)
            continue
        try:
            if implicit_tls is not None:
                sock = probe_context(implicit_tls).wrap_socket(
                    sock, server_hostname=host
                )
            f = sock.makefile("rb")
            line = f.readline(4096).decode("utf-8", "replace").rstrip("\r\n")
            if not line.startswith("220"):
                raise LaunchError(f"unexpected greeting from the server: {line!r}")
            # Multi-line 220 replies ("220-...") end with "220 ...".
            while line.startswith("220-"):
                line = f.readline(4096).decode("utf-8", "replace").rstrip("\r\n")
            sock.sendall(b"QUIT\r\n")
            with contextlib.suppress(OSError):
                while f.readline(4096):
                    pass
            f.close()
            return line
        except (OSError, ssl.SSLError) as exc:
            last_error = str(exc)
            time.sleep(0.05)
        finally:
            with contextlib.suppress(OSError):
                sock.close()
    raise LaunchError(
        f"the server did not greet on {host} port {port} within "
        f"{STARTUP_TIMEOUT:.0f} s (last error: {last_error})"
    )


def wait_until(cond: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


# --------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Certs:
    """The files of a TLS server: what a client trusts (``cafile``: the CA, or for a
    self-signed certificate the certificate itself), the server's certificate and key, and,
    with ``--client-ca``, the CA the server checks clients against and a client certificate
    it accepts."""

    cafile: Path
    certfile: Path
    keyfile: Path
    client_cafile: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None


DEFAULT_CERT_NAMES = ("localhost", "127.0.0.1", "127.0.0.2", "::1")


def make_certs(
    workdir: Path, kind: str, names: list[str] | None, client_ca: bool
) -> Certs:
    """Creates the certificates of ``--cert KIND`` for ``names`` (default: localhost and the
    loopback addresses), with the ``cryptography`` package (pyopenssl's own dependency).

    - ``ca``: a throw-away CA and a server certificate (CA:FALSE) it signed;
    - ``self-signed``: one self-signed certificate with CA:TRUE, as
      ``openssl req -x509`` makes it (most private servers run on one);
    - ``expired``: the same, expired yesterday.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise LaunchError(
            "TLS needs the 'cryptography' package: pip install pyopenssl"
        ) from None

    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30))
    if kind == "expired":
        valid = (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1))

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def alt_name(n: str) -> x509.GeneralName:
        try:
            return x509.IPAddress(ipaddress.ip_address(n))
        except ValueError:
            return x509.DNSName(n)

    def issue(
        subject: x509.Name,
        key: Any,
        issuer: tuple[x509.Name, Any] | None,
        *,
        ca: bool,
        usage: Any = None,
        sans: list[str] | None = None,
    ) -> x509.Certificate:
        issuer_name, issuer_key = issuer or (subject, key)
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid[0])
            .not_valid_after(valid[1])
            .add_extension(
                x509.BasicConstraints(ca=ca, path_length=None), critical=True
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                critical=False,
            )
        )
        if usage is not None:
            b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if sans:
            b = b.add_extension(
                x509.SubjectAlternativeName([alt_name(n) for n in sans]), critical=False
            )
        if issuer is not None:
            b = b.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    issuer_key.public_key()
                ),
                critical=False,
            )
        return b.sign(issuer_key, hashes.SHA256())

    def pem(cert: x509.Certificate, path: Path) -> Path:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def private(key: Any, path: Path) -> Path:
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                )
            )
        return path

    sans = list(names or DEFAULT_CERT_NAMES)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server_auth = ExtendedKeyUsageOID.SERVER_AUTH
    if kind == "ca":
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = name("ferroftp test CA")
        ca_cert = issue(ca_name, ca_key, None, ca=True)
        leaf = issue(
            name(sans[0]),
            key,
            (ca_name, ca_key),
            ca=False,
            usage=server_auth,
            sans=sans,
        )
        certs = Certs(pem(ca_cert, workdir / "ca.pem"), pem(leaf, workdir / "cert.pem"),
                      private(key, workdir / "key.pem"))  # fmt: skip
    else:
        cert = issue(name(sans[0]), key, None, ca=True, sans=sans)
        certfile = pem(cert, workdir / "cert.pem")
        certs = Certs(certfile, certfile, private(key, workdir / "key.pem"))
    if client_ca:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = name("ferroftp test client CA")
        client_key = ec.generate_private_key(ec.SECP256R1())
        client = issue(
            name("ferroftp test client"), client_key, (ca_name, ca_key), ca=False,
            usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        )  # fmt: skip
        certs.client_cafile = pem(
            issue(ca_name, ca_key, None, ca=True), workdir / "client-ca.pem"
        )
        certs.client_cert = pem(client, workdir / "client-cert.pem")
        certs.client_key = private(client_key, workdir / "client-key.pem")
    return certs


# --------------------------------------------------------------------------
# Checksum commands (pyftpdlib: --hash, --hash-x-only, --hash-lie)
# --------------------------------------------------------------------------
# pyftpdlib implements none of them. These are real implementations over the
# served file: HASH with OPTS HASH and its FEAT line (draft-bryan-ftpext-hash),
# and XSHA256, XSHA512, XSHA1, XMD5, XCRC. --hash-lie makes every digest wrong
# (computed over the file plus one NUL byte) so clients can test mismatches.

# HASH name -> (hashlib name, or "" for CRC-32, and its X command)
HASH_ALGORITHMS = {
    "SHA-256": ("sha256", "XSHA256"),
    "SHA-512": ("sha512", "XSHA512"),
    "SHA-1": ("sha1", "XSHA1"),
    "MD5": ("md5", "XMD5"),
    "CRC32": ("", "XCRC"),
}


def file_digest(path: str, algorithm: str, lie: bool) -> str:
    """The hex digest of the file at ``path`` (CRC32: uppercase, no leading zeros)."""
    import hashlib
    import zlib

    name = HASH_ALGORITHMS[algorithm][0]
    crc = 0
    h = hashlib.new(name) if name else None
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            if h is not None:
                h.update(chunk)
            else:
                crc = zlib.crc32(chunk, crc)
    if lie:
        if h is not None:
            h.update(b"\0")
        else:
            crc = zlib.crc32(b"\0", crc)
    return h.hexdigest() if h is not None else f"{crc:X}"


class HashCommands:
    """Mixin for pyftpdlib's FTPHandler adding the checksum commands."""

    hash_feat = True  # HASH in FEAT (False: only the X commands)
    hash_lie = False
    _hash_selected = "SHA-256"

    def _hash_target(self, arg: str) -> str | None:
        """The real path of a readable regular file named by ``arg``, or None (replied)."""
        path = self.fs.ftp2fs(arg)
        if not self.fs.validpath(path) or not self.authorizer.has_perm(
            self.username, "r", path
        ):
            self.respond("550 Not enough privileges.")
            return None
        if not self.fs.isfile(self.fs.realpath(path)):
            self.respond(f"550 {self.fs.fs2ftp(path)} is not a regular file.")
            return None
        return path

    def ftp_FEAT(self, line: str) -> None:
        saved = self._extra_feats
        extra = [cmd for _, cmd in HASH_ALGORITHMS.values()]
        if self.hash_feat:
            names = [
                a + ("*" if a == self._hash_selected else "") for a in HASH_ALGORITHMS
            ]
            extra.append("HASH " + ";".join(names))
        self._extra_feats = [*saved, *extra]
        try:
            super().ftp_FEAT(line)
        finally:
            self._extra_feats = saved

    def ftp_OPTS(self, line: str) -> None:
        cmd, _, arg = line.strip().partition(" ")
        if not (self.hash_feat and cmd.upper() == "HASH"):
            super().ftp_OPTS(line)
            return
        arg = arg.strip().upper()
        if arg and arg not in HASH_ALGORITHMS:
            self.respond(f"501 Unknown algorithm {arg}.")
            return
        if arg:
            self._hash_selected = arg
        self.respond(f"200 {self._hash_selected}")

    def ftp_HASH(self, arg: str) -> None:
        path = self._hash_target(arg)
        if path is None:
            return
        alg = self._hash_selected
        size = os.path.getsize(path)
        digest = file_digest(path, alg, self.hash_lie)
        self.respond(f"213 {alg} 0-{size} {digest} {self.fs.fs2ftp(path)}")

    def _x_command(self, arg: str, algorithm: str) -> None:
        # "path" or "quoted path" [start [end]]; ranges are not supported here.
        if arg.startswith('"'):
            name, _, rest = arg[1:].partition('"')
            if rest.strip():
                self.respond("504 Ranges are not supported.")
                return
            arg = name
        path = self._hash_target(arg)
        if path is None:
            return
        self.respond(f"250 {file_digest(path, algorithm, self.hash_lie)}")

    def ftp_XSHA256(self, arg: str) -> None:
        self._x_command(arg, "SHA-256")

    def ftp_XSHA512(self, arg: str) -> None:
        self._x_command(arg, "SHA-512")

    def ftp_XSHA1(self, arg: str) -> None:
        self._x_command(arg, "SHA-1")

    def ftp_XMD5(self, arg: str) -> None:
        self._x_command(arg, "MD5")

    def ftp_XCRC(self, arg: str) -> None:
        self._x_command(arg, "CRC32")


def refusing_dtp_handler(every: int) -> type:
    """pyftpdlib's TLS data channel refusing every ``every``-th TLS data connection once its
    handshake is done and before any data moves, with the reply vsftpd gives when a data
    connection did not resume the control connection's TLS session."""
    from pyftpdlib.handlers import TLS_DTPHandler

    count = 0

    class RefusingDTPHandler(TLS_DTPHandler):  # type: ignore[misc]
        def __init__(self, sock: Any, cmd_channel: Any) -> None:
            nonlocal count
            count += 1
            self._refuse = count % every == 0
            super().__init__(sock, cmd_channel)

        def send(self, data: Any) -> int:
            # A write before the handshake is seen done (pushing a RETR's first block) would
            # finish the handshake inside OpenSSL and send data: hold it back.
            if self._refuse:
                return 0
            return int(super().send(data))

        def handle_ssl_established(self) -> None:
            if self._refuse:
                self._resp = (
                    "522 SSL connection failed: session reuse required",
                    logging.getLogger("pyftpdlib").debug,
                )
                self.close()
                return
            super().handle_ssl_established()

    return RefusingDTPHandler


class AccountRequired:
    """pyftpdlib asking for an account after the password (332, then ACCT), as mainframe and
    some corporate servers do (``--account ACCOUNT``)."""

    account = ""
    _pending: tuple[Any, Any, Any] | None = None

    def handle_auth_success(self, home: Any, password: Any, msg_login: Any) -> None:
        self._pending = (home, password, msg_login)
        self.respond("332 Need account for login.")  # type: ignore[attr-defined]

    def ftp_ACCT(self, line: str) -> None:
        if self._pending is None:
            self.respond("503 Login with USER and PASS first.")  # type: ignore[attr-defined]
        elif line != self.account:
            self._pending = None
            self.respond("530 Wrong account.")  # type: ignore[attr-defined]
        else:
            pending, self._pending = self._pending, None
            super().handle_auth_success(*pending)  # type: ignore[misc]


def add_account(
    args: argparse.Namespace, bases: tuple[type, ...], attrs: dict[str, Any]
) -> tuple[tuple[type, ...], dict[str, Any]]:
    """The handler's bases and attributes with ``--account``."""
    if not args.account:
        return bases, attrs
    cmds = dict(attrs.get("proto_cmds") or bases[-1].proto_cmds)  # type: ignore[attr-defined]
    cmds["ACCT"] = {
        "perm": None,
        "auth": False,
        "arg": True,
        "help": "Syntax: ACCT <SP> account.",
    }
    return (AccountRequired, *bases), {
        **attrs,
        "proto_cmds": cmds,
        "account": args.account,
    }


def add_hash_commands(
    args: argparse.Namespace, base: type, attrs: dict[str, Any]
) -> tuple[tuple[type, ...], dict[str, Any]]:
    """The bases and attributes of the pyftpdlib handler class, with the checksum
    commands when ``--hash`` or ``--hash-x-only`` was given."""
    if not (args.hash or args.hash_x_only):
        return (base,), attrs
    cmds = dict(base.proto_cmds)  # type: ignore[attr-defined]
    verbs = [cmd for _, cmd in HASH_ALGORITHMS.values()]
    if args.hash:
        verbs.append("HASH")
    for verb in verbs:
        cmds[verb] = {
            "perm": None,
            "auth": True,
            "arg": True,
            "help": f"Syntax: {verb} <SP> file-name.",
        }
    attrs = {
        **attrs,
        "proto_cmds": cmds,
        "hash_feat": bool(args.hash),
        "hash_lie": bool(args.hash_lie),
    }
    return (HashCommands, base), attrs


# --------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------


class Server:
    """Common interface of the two server kinds."""

    kind = ""

    def __init__(self, args: argparse.Namespace, workdir: Path, root: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.root = root
        self.certs: Certs | None = None
        self.info: dict[str, Any] = {}

    def start(self, stop: StopSignal) -> dict[str, Any]:
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def failure(self) -> str:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class PyftpdlibServer(Server):
    """pyftpdlib's async FTPServer running in a thread of this process."""

    kind = "pyftpdlib"

    def __init__(self, args: argparse.Namespace, workdir: Path, root: Path) -> None:
        super().__init__(args, workdir, root)
        self.server: Any = None
        self.thread: threading.Thread | None = None
        self._quit = threading.Event()
        self._crashed: BaseException | None = None

    def start(self, stop: StopSignal) -> dict[str, Any]:
        args = self.args
        if args.tls == "implicit":
            raise LaunchError(
                "implicit TLS is not supported by pyftpdlib (use --tls explicit, "
                "or the vsftpd server for implicit TLS)"
            )
        try:
            from pyftpdlib.authorizers import DummyAuthorizer
            from pyftpdlib.handlers import FTPHandler
            from pyftpdlib.servers import FTPServer
        except ImportError as exc:
            raise LaunchError(
                f"pyftpdlib is not importable by {sys.executable} ({exc}); "
                "install it with: pip install pyftpdlib pyopenssl"
            ) from None

        from pyftpdlib.log import config_logging

        # Configure pyftpdlib's logger ourselves: its IO loop would otherwise
        # install an INFO handler that logs every command on stderr.
        if os.environ.get("FERROFTP_SERVER_LOG", "").lower() == "debug":
            config_logging(level=logging.DEBUG)
        else:
            config_logging(level=logging.INFO if LOG_ENABLED else logging.WARNING)

        authorizer = DummyAuthorizer()
        password = args.password or PASSWORD
        authorizer.add_user(PY_USER, password, str(self.root), perm=PYFTPDLIB_PERMS)
        if args.anonymous:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "write permissions assigned to anon"
                authorizer.add_anonymous(str(self.root), perm=PYFTPDLIB_PERMS)

        base: type = FTPHandler
        # auth_failed_timeout: answer a wrong password at once, not after 3 s.
        attrs: dict[str, Any] = {"authorizer": authorizer, "auth_failed_timeout": 0}
        if args.tls == "explicit":
            try:
                from pyftpdlib.handlers import TLS_FTPHandler
            except ImportError:
                raise LaunchError(
                    "TLS with pyftpdlib needs pyopenssl: pip install pyopenssl"
                ) from None
            self.certs = make_certs(self.workdir, args.cert, args.cert_name, False)
            base = TLS_FTPHandler
            if args.refuse_data_tls:
                attrs["dtp_handler"] = refusing_dtp_handler(args.refuse_data_tls)
            attrs.update(
                certfile=str(self.certs.certfile),
                keyfile=str(self.certs.keyfile),
                ssl_context=None,
                tls_control_required=True,
                tls_data_required=True,
            )
        if args.passive_ports:
            lo, hi = args.passive_ports
            attrs["passive_ports"] = list(range(lo, hi + 1))
        if args.rtt_ms is not None:
            attrs["masquerade_address"] = args.proxy_host
        handler = type(
            "FerroftpHandler", *add_account(args, *add_hash_commands(args, base, attrs))
        )

        try:
            server = FTPServer((args.host, 0), handler, ioloop=_fd_safe_ioloop())
        except OSError as exc:
            raise LaunchError(f"cannot listen on {args.host}: {exc}") from None
        if args.max_cons:
            # pyftpdlib's max_cons counts every socket of its IO loop (the
            # listening socket and data channels too), so it gets headroom;
            # max_cons_per_ip counts control connections only and makes the
            # (N+1)th connection get "421 Too many connections from the same
            # IP address." -- on loopback every client has the same IP.
            server.max_cons = 3 * args.max_cons + 1
            server.max_cons_per_ip = args.max_cons
        self.server = server
        port = int(server.address[1])

        def run() -> None:
            try:
                while not self._quit.is_set():
                    server.ioloop.loop(timeout=0.1, blocking=False)
            except BaseException as exc:  # noqa: BLE001 - reported by alive()
                self._crashed = exc
            finally:
                with contextlib.suppress(Exception):
                    server.close_all()

        self.thread = threading.Thread(target=run, name="pyftpdlib", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        probe_banner(
            args.host,
            port,
            implicit_tls=None,
            deadline=deadline,
            alive=self.alive,
            stop=stop,
        )
        # Make sure the probe connection is forgotten before anyone counts.
        wait_until(lambda: not server.ip_map, 2.0)
        return {
            "kind": self.kind,
            "host": args.host,
            "port": port,
            "user": PY_USER,
            "password": password,
            **({"account": args.account} if args.account else {}),
            "root": str(self.root),
            "uid": os.getuid(),
            "gid": os.getgid(),
            "pid": os.getpid(),
            **(
                {"anon_uid": os.getuid(), "anon_gid": os.getgid()}
                if args.anonymous
                else {}
            ),
        }

    def alive(self) -> bool:
        if self._crashed is not None:
            return False
        return self.thread is not None and self.thread.is_alive()

    def failure(self) -> str:
        return f"pyftpdlib crashed: {self._crashed!r}"

    def stop(self) -> None:
        self._quit.set()
        if self.thread is not None:
            self.thread.join(5.0)


def _proc_table() -> dict[int, int]:
    """Map pid -> ppid for every process visible in /proc."""
    table: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[-1].split()
        with contextlib.suppress(IndexError, ValueError):
            table[int(entry)] = int(fields[1])
    return table


def descendants(pid: int) -> set[int]:
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for p, pp in table.items():
        children.setdefault(pp, []).append(p)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in found:
                found.add(c)
                todo.append(c)
    return found


def kill_marked(marker: str, timeout: float = 3.0) -> None:
    """SIGKILL every process whose command line contains ``marker``.

    vsftpd's processes all carry the path of their (unique, temporary) config
    file on their command line, whatever their parent or session is.
    """
    needle = marker.encode()
    me = os.getpid()
    end = time.monotonic() + timeout
    while True:
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if needle in cmdline:  # zombies have an empty cmdline
                found = True
                with contextlib.suppress(OSError):
                    os.kill(int(entry), signal.SIGKILL)
        if not found or time.monotonic() > end:
            return
        time.sleep(0.02)


def start_reaper(paths: list[Path], marker: str | None) -> int:
    """Fork a detached process that cleans up if this launcher is SIGKILLed.

    The reaper (a grandchild in a session of its own, so that neither a
    process-group kill nor a "kill the launcher's children" sweep reaches it)
    waits for EOF on a pipe whose only writer is this process.  If the
    launcher wrote ``done`` first, it exits; otherwise the launcher died
    abruptly and the reaper kills the processes carrying ``marker`` and
    removes ``paths``.  Must be called before any thread is started.
    Returns the pipe's write end.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                os.close(w)
                _reaper_main(r, paths, marker)
        finally:
            os._exit(0)
    os.close(r)
    os.waitpid(pid, 0)
    return w


def _reaper_main(r: int, paths: list[Path], marker: str | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    # Hold nothing of the launcher's (pipes the test reads, sockets...).
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd != r:
            with contextlib.suppress(OSError):
                os.close(fd)
    data = b""
    while True:
        try:
            chunk = os.read(r, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    if b"done" in data:
        return
    if marker:
        kill_marked(marker)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _vsftpd_binary() -> str:
    for cand in VSFTPD_CANDIDATES:
        if os.access(cand, os.X_OK):
            return cand
    found = shutil.which("vsftpd")
    if found:
        return found
    raise LaunchError("vsftpd is not installed (apt-get install vsftpd)")


def _set_password(user: str, password: str) -> None:
    res = subprocess.run(
        ["chpasswd"],
        check=False,
        input=f"{user}:{password}\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    if res.returncode != 0:
        raise LaunchError(f"chpasswd failed: {res.stderr.strip()}")


def _password_ok(user: str, password: str) -> bool:
    """True if /etc/shadow already holds ``password`` for ``user``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # removed in Python 3.13: then always re-set
    except ImportError:
        return False
    try:
        with open("/etc/shadow", encoding="utf-8") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name == user:
                    hashed = rest.split(":", 1)[0]
                    return bool(hashed) and crypt.crypt(password, hashed) == hashed
    except OSError:
        pass
    return False


def _run_admin(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), check=False, capture_output=True, text=True, timeout=30
    )


def _ensure_user(name: str) -> tuple[pwd.struct_passwd, bool]:
    """Create system user ``name`` if missing; return (entry, created)."""
    created = False
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        res = _run_admin(
            "useradd", "-M", "-d", VSFTPD_HOME, "-s", "/usr/sbin/nologin", name
        )
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            raise LaunchError(f"useradd {name} failed: {res.stderr.strip()}") from None
        created = True
    if not os.path.isdir(pw.pw_dir):
        # vsftpd chdir()s to the home directory before local_root/anon_root
        # and fails with "500 OOPS: cannot change directory" if it is
        # missing (e.g. a user made earlier with -d /nonexistent).
        res = _run_admin("usermod", "-d", VSFTPD_HOME, name)
        if res.returncode != 0:
            raise LaunchError(f"usermod {name} failed: {res.stderr.strip()}")
        pw = pwd.getpwnam(name)
    return pw, created


def ensure_system_setup(
    anonymous: bool,
) -> tuple[pwd.struct_passwd, pwd.struct_passwd | None]:
    """Create the vsftpd test users and PAM service (idempotent, locked).

    Returns the entries of the login user and (if ``anonymous``) of the user
    that anonymous sessions run as.
    """
    SETUP_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(SETUP_LOCK, "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pw, created = _ensure_user(VSFTPD_USER)
            if created or not _password_ok(VSFTPD_USER, PASSWORD):
                _set_password(VSFTPD_USER, PASSWORD)
            anon_pw = _ensure_user(VSFTPD_ANON_USER)[0] if anonymous else None
            try:
                current: str | None = PAM_FILE.read_text(encoding="utf-8")
            except OSError:
                current = None
            if current != PAM_CONTENT:
                tmp = PAM_FILE.with_name(f".{PAM_FILE.name}.{os.getpid()}")
                tmp.write_text(PAM_CONTENT, encoding="utf-8")
                os.chmod(tmp, 0o644)
                os.replace(tmp, PAM_FILE)
            SECURE_CHROOT_DIR.mkdir(parents=True, exist_ok=True)
            os.chmod(SECURE_CHROOT_DIR, 0o755)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return pw, anon_pw


class VsftpdServer(Server):
    """vsftpd run in the foreground from a generated config file."""

    kind = "vsftpd"

    def __init__(self, args: argparse.Namespace, workdir: Path, root: Path) -> None:
        super().__init__(args, workdir, root)
        self.proc: subprocess.Popen[bytes] | None = None
        self.binary = ""
        self.logfile = workdir / "vsftpd.log"
        self.outfile = workdir / "vsftpd.out"
        self.conf = workdir / "vsftpd.conf"
        self._tail_stop = threading.Event()
        self._tail_pos = 0

    def _supports(self, option: str) -> bool:
        try:
            data = Path(self.binary).read_bytes()
        except OSError:
            return False
        return b"\0" + option.encode() + b"\0" in data

    def _config(self, port: int) -> str:
        args = self.args
        ipv6 = ":" in args.host
        if args.passive_ports:
            pasv_lo, pasv_hi = args.passive_ports
        else:
            pasv_lo, pasv_hi = passive_window(PASV_WINDOW)
        max_cons = args.max_cons or DEFAULT_VSFTPD_MAX_CONS
        opts: list[tuple[str, str]] = [
            ("background", "NO"),
            ("listen", "NO" if ipv6 else "YES"),
            ("listen_ipv6", "YES" if ipv6 else "NO"),
            ("listen_address6" if ipv6 else "listen_address", args.host),
            ("listen_port", str(port)),
            ("local_enable", "YES"),
            ("write_enable", "YES"),
            ("local_umask", "022"),
            ("chroot_local_user", "YES"),
            ("allow_writeable_chroot", "YES"),
            ("local_root", str(self.root)),
            ("pam_service_name", PAM_SERVICE),
            ("pasv_enable", "YES"),
            ("pasv_min_port", str(pasv_lo)),
            ("pasv_max_port", str(pasv_hi)),
            ("port_enable", "YES"),
            ("connect_from_port_20", "NO"),
            ("max_clients", str(max_cons)),
            ("max_per_ip", str(max_cons)),
            ("dual_log_enable", "NO"),
            ("vsftpd_log_file", str(self.logfile)),
            ("secure_chroot_dir", str(SECURE_CHROOT_DIR)),
            ("use_localtime", "NO"),
            ("ls_recurse_enable", "NO"),
            ("idle_session_timeout", "600"),
            ("data_connection_timeout", "300"),
            ("hide_ids", "NO"),
            # Fail wrong logins at once (the defaults add 1 s + PAM's 2 s).
            ("delay_failed_login", "0"),
        ]
        if LOG_ENABLED:
            opts += [
                ("xferlog_enable", "YES"),
                ("xferlog_std_format", "NO"),
                ("log_ftp_protocol", "YES"),
            ]
        else:
            opts += [("xferlog_enable", "NO"), ("log_ftp_protocol", "NO")]
        if args.rtt_ms is not None:
            opts.append(("pasv_address", args.proxy_host))
        elif not ipv6:
            opts.append(("pasv_address", "127.0.0.1"))
        if self._supports("seccomp_sandbox"):
            opts.append(("seccomp_sandbox", "NO"))
        if self._supports("utf8_filesystem"):
            opts.append(("utf8_filesystem", "YES"))
        if args.anonymous:
            opts += [
                ("anonymous_enable", "YES"),
                ("anon_root", str(self.root)),
                # vsftpd never lets anonymous sessions write to their root
                # directory itself; they can write where ferroftp-anon may.
                ("ftp_username", VSFTPD_ANON_USER),
                ("no_anon_password", "YES"),
                ("anon_upload_enable", "YES"),
                ("anon_mkdir_write_enable", "YES"),
                ("anon_other_write_enable", "YES"),
                ("anon_world_readable_only", "NO"),
                ("anon_umask", "022"),
            ]
        else:
            opts.append(("anonymous_enable", "NO"))
        if args.tls != "none":
            assert self.certs is not None
            opts += [
                ("ssl_enable", "YES"),
                ("rsa_cert_file", str(self.certs.certfile)),
                ("rsa_private_key_file", str(self.certs.keyfile)),
                ("force_local_logins_ssl", "YES"),
                ("force_local_data_ssl", "YES"),
                ("require_ssl_reuse", "YES"),
                ("ssl_ciphers", "HIGH"),
                ("ssl_sslv2", "NO"),
                ("ssl_sslv3", "NO"),
            ]
            if self._supports("ssl_tlsv1_2"):
                opts += [
                    ("ssl_tlsv1", "NO"),
                    ("ssl_tlsv1_1", "NO"),
                    ("ssl_tlsv1_2", "YES"),
                ]
                if self._supports("ssl_tlsv1_3"):
                    opts.append(("ssl_tlsv1_3", "YES"))
            else:
                # vsftpd 3.0.3 (Debian 12) only knows ssl_tlsv1; with it on,
                # OpenSSL negotiates up to TLS 1.3.
                opts.append(("ssl_tlsv1", "YES"))
            if args.anonymous:
                opts += [
                    ("allow_anon_ssl", "YES"),
                    ("force_anon_logins_ssl", "YES"),
                    ("force_anon_data_ssl", "YES"),
                ]
            if args.tls == "implicit":
                opts.append(("implicit_ssl", "YES"))
            if self.certs.client_cafile is not None:
                opts += [
                    ("require_cert", "YES"),
                    ("validate_cert", "YES"),
                    ("ca_certs_file", str(self.certs.client_cafile)),
                ]
        return "".join(f"{k}={v}\n" for k, v in opts)

    def start(self, stop: StopSignal) -> dict[str, Any]:
        args = self.args
        self.binary = _vsftpd_binary()
        if os.geteuid() != 0:
            raise LaunchError("the vsftpd server needs root (run the tests as root)")
        pw, anon_pw = ensure_system_setup(bool(args.anonymous))
        os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o755)
        if args.tls != "none":
            self.certs = make_certs(
                self.workdir, args.cert, args.cert_name, args.client_ca
            )

        deadline = time.monotonic() + STARTUP_TIMEOUT
        for attempt in range(PORT_ATTEMPTS):
            port = free_port(args.host)
            try:
                self._launch(port, deadline, stop)
                break
            except PortInUse:
                if attempt == PORT_ATTEMPTS - 1:
                    raise
        # Wait until vsftpd has reaped the probe session, so that it does not
        # count against max_clients/max_per_ip of the caller.
        assert self.proc is not None
        pid = self.proc.pid
        wait_until(lambda: not descendants(pid), 2.0)
        if LOG_ENABLED:
            log(f"vsftpd log file: {self.logfile}")
            threading.Thread(
                target=self._tail_log, name="vsftpd-log", daemon=True
            ).start()
        info: dict[str, Any] = {
            "kind": self.kind,
            "host": args.host,
            "port": port,
            "user": VSFTPD_USER,
            "password": PASSWORD,
            "root": str(self.root),
            "uid": pw.pw_uid,
            "gid": pw.pw_gid,
            "pid": pid,
        }
        if anon_pw is not None:
            info["anon_uid"], info["anon_gid"] = anon_pw.pw_uid, anon_pw.pw_gid
        return info

    def _launch(self, port: int, deadline: float, stop: StopSignal) -> None:
        conf = self.conf
        fd = os.open(str(conf), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self._config(port))
        argv = [self.binary, str(conf)]
        setpriv = shutil.which("setpriv")
        if setpriv:
            # Kill vsftpd's listener if this launcher is SIGKILLed itself.
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        with open(self.outfile, "wb") as out:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: killpg at exit
                close_fds=True,
            )
        proc = self.proc
        implicit = self.certs if self.args.tls == "implicit" else None
        try:
            probe_banner(
                self.args.host,
                port,
                implicit_tls=implicit,
                deadline=deadline,
                alive=self.alive,
                stop=stop,
            )
        except LaunchError:
            time.sleep(0.05)
            output = self._output()
            if proc.poll() is not None:
                self.proc = None
                if "bind" in output and "listening" in output:
                    raise PortInUse(output) from None
                output = output or "(no output)"
                raise LaunchError(
                    f"vsftpd exited with code {proc.returncode}: {output}"
                ) from None
            raise

    def _output(self) -> str:
        try:
            return self.outfile.read_text(errors="replace").strip()
        except OSError:
            return ""

    def _tail_log(self) -> None:
        while not self._tail_stop.wait(0.2):
            self._tail_pos = self._copy_log(self._tail_pos)

    def _copy_log(self, pos: int) -> int:
        try:
            with open(self.logfile, "rb") as f:
                f.seek(pos)
                data = f.read()
        except OSError:
            return pos
        if data:
            sys.stderr.write(data.decode("utf-8", "replace"))
            sys.stderr.flush()
        return pos + len(data)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def failure(self) -> str:
        code = self.proc.returncode if self.proc else None
        return f"vsftpd exited unexpectedly (code {code}): {self._output()}"

    def stop(self) -> None:
        self._tail_stop.set()
        proc = self.proc
        if proc is not None:
            # Snapshot the tree first: once the listener dies, its session
            # processes are re-parented and can no longer be found from it.
            victims = descendants(proc.pid)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, sig)  # start_new_session: pgid == pid
                for pid in victims:  # in case a session left the group
                    with contextlib.suppress(OSError):
                        os.kill(pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(0.5 if sig == signal.SIGTERM else 5.0)
        kill_marked(str(self.conf))  # anything that escaped the tree
        if LOG_ENABLED:
            self._tail_pos = self._copy_log(self._tail_pos)


# --------------------------------------------------------------------------
# Latency proxy (--rtt-ms): toxiproxy in front of the server
# --------------------------------------------------------------------------

TOXIPROXY_ENV = "FERROFTP_TOXIPROXY"
TOXIPROXY_LOCAL = (
    Path(__file__).resolve().parents[2] / ".tools" / "bin" / "toxiproxy-server"
)
# Passive ports a proxied server uses: each one is a proxy of its own.
PROXIED_PASV_WINDOW = 48


def toxiproxy_binary() -> str:
    found = os.environ.get(TOXIPROXY_ENV) or shutil.which("toxiproxy-server")
    if found:
        return found
    if os.access(TOXIPROXY_LOCAL, os.X_OK):
        return str(TOXIPROXY_LOCAL)
    raise LaunchError(
        "--rtt-ms needs toxiproxy's server: run `make setup` (it builds "
        f"{TOXIPROXY_LOCAL}) or set {TOXIPROXY_ENV}"
    )


class LatencyProxy:
    """toxiproxy forwarding ``proxy_host:port`` to ``host:port`` for each port, adding
    half of ``rtt_ms`` in each direction (toxiproxy's ``latency`` toxic, which delays
    every chunk without limiting throughput)."""

    def __init__(self, workdir: Path, host: str, proxy_host: str, rtt_ms: int) -> None:
        self.workdir = workdir
        self.host = host
        self.proxy_host = proxy_host
        self.rtt_ms = rtt_ms
        self.config = workdir / "toxiproxy.json"  # also the marker of its process
        self.proc: subprocess.Popen[bytes] | None = None
        self.api = ""

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.api + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=5.0) as resp:
            return json.loads(resp.read() or b"null")

    def start(self, ports: list[int], deadline: float) -> None:
        self.config.write_text(
            json.dumps(
                [
                    {
                        "name": f"p{port}",
                        "listen": f"{self.proxy_host}:{port}",
                        "upstream": f"{self.host}:{port}",
                        "enabled": True,
                    }
                    for port in ports
                ]
            )
        )
        api_port = free_port("127.0.0.1")
        self.api = f"http://127.0.0.1:{api_port}"
        argv = [
            toxiproxy_binary(), "-host", "127.0.0.1", "-port", str(api_port),
            "-config", str(self.config),
        ]  # fmt: skip
        setpriv = shutil.which("setpriv")
        if setpriv:
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        env = dict(os.environ, LOG_LEVEL="debug" if LOG_ENABLED else "error")
        with open(self.workdir / "toxiproxy.log", "wb") as out:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True, env=env,
            )  # fmt: skip
        names: set[str] = set()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LaunchError(f"toxiproxy exited: {self.output()}")
            try:
                names = set(self._request("GET", "/proxies"))
            except (OSError, ValueError):
                names = set()
            if len(names) == len(ports):
                break
            time.sleep(0.05)
        else:
            raise LaunchError(f"toxiproxy did not start its proxies: {self.output()}")
        up = self.rtt_ms // 2
        for name in names:
            for stream, ms in (("upstream", up), ("downstream", self.rtt_ms - up)):
                self._request(
                    "POST", f"/proxies/{name}/toxics",
                    {"name": f"latency_{stream}", "type": "latency", "stream": stream,
                     "toxicity": 1.0, "attributes": {"latency": ms, "jitter": 0}},
                )  # fmt: skip

    def output(self) -> str:
        try:
            return (self.workdir / "toxiproxy.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5.0)
        kill_marked(str(self.config))
        if LOG_ENABLED:
            sys.stderr.write(self.output())


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Start a loopback FTP server for the ferroftp tests and "
        "print one line of JSON describing it.",
    )
    p.add_argument("kind", choices=("pyftpdlib", "vsftpd"))
    p.add_argument(
        "--root", type=Path, help="directory served as / (default: a temp dir)"
    )
    p.add_argument(
        "--max-cons", type=int, default=0, metavar="N",
        help="maximum concurrent control connections (default: pyftpdlib's own "
        f"limit; vsftpd {DEFAULT_VSFTPD_MAX_CONS})",
    )  # fmt: skip
    p.add_argument("--tls", choices=("none", "explicit", "implicit"), default="none")
    p.add_argument(
        "--cert", choices=("ca", "self-signed", "expired"), default="ca",
        help="the server certificate: issued by a throw-away CA (default), self-signed "
        "with CA:TRUE as `openssl req -x509` makes it, or that one expired",
    )  # fmt: skip
    p.add_argument(
        "--cert-name", action="append", metavar="NAME",
        help="a name (DNS or IP) the certificate is issued for, instead of localhost and "
        "the loopback addresses (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--client-ca", action="store_true",
        help="vsftpd: require a client certificate (the JSON names one it accepts)",
    )  # fmt: skip
    p.add_argument(
        "--refuse-data-tls", type=int, default=0, metavar="N",
        help="pyftpdlib: refuse every Nth TLS data connection with 522, as vsftpd refuses "
        "one that did not resume the TLS session",
    )  # fmt: skip
    p.add_argument("--host", type=loopback_host, default="127.0.0.1")
    p.add_argument("--passive-ports", type=parse_port_range, metavar="LO-HI")
    p.add_argument(
        "--anonymous", action="store_true", help="also allow anonymous login"
    )
    p.add_argument(
        "--hash", action="store_true",
        help="pyftpdlib: add HASH (with OPTS HASH) and XSHA256/XSHA512/XSHA1/XMD5/XCRC",
    )  # fmt: skip
    p.add_argument(
        "--hash-x-only", action="store_true",
        help="pyftpdlib: add only XSHA256/XSHA512/XSHA1/XMD5/XCRC (no HASH)",
    )  # fmt: skip
    p.add_argument(
        "--hash-lie", action="store_true",
        help="with --hash or --hash-x-only: every digest is wrong",
    )  # fmt: skip
    p.add_argument(
        "--account", metavar="ACCOUNT",
        help="pyftpdlib: ask for this account (332, ACCT) after the password",
    )  # fmt: skip
    p.add_argument(
        "--password", metavar="PASSWORD",
        help=f"pyftpdlib: the user's password instead of {PASSWORD!r} (any characters: "
        "clients must percent-encode it in a URL)",
    )  # fmt: skip
    p.add_argument(
        "--rtt-ms", type=int, metavar="MS",
        help="reach the server through toxiproxy, adding MS of round-trip time",
    )  # fmt: skip
    p.add_argument(
        "--proxy-host", type=loopback_host, default="127.0.0.2",
        help="the latency proxy's address (default 127.0.0.2)",
    )  # fmt: skip
    p.add_argument(
        "--stop-after", type=float, default=DEFAULT_STOP_AFTER, metavar="SECONDS",
        help=f"exit by itself after this long (default {DEFAULT_STOP_AFTER:.0f})",
    )  # fmt: skip
    args = p.parse_args(argv)
    if args.max_cons < 0:
        p.error("--max-cons must be positive")
    if (args.hash or args.hash_x_only) and args.kind != "pyftpdlib":
        p.error(
            "--hash and --hash-x-only are for pyftpdlib (vsftpd has no checksum commands)"
        )
    if args.hash_lie and not (args.hash or args.hash_x_only):
        p.error("--hash-lie needs --hash or --hash-x-only")
    if args.tls == "none" and (
        args.cert != "ca" or args.cert_name or args.client_ca or args.refuse_data_tls
    ):
        p.error("--cert, --cert-name, --client-ca and --refuse-data-tls need --tls")
    if args.account and args.kind != "pyftpdlib":
        p.error("--account is for pyftpdlib")
    if args.password is not None and (args.kind != "pyftpdlib" or not args.password):
        p.error("--password is for pyftpdlib, and must not be empty")
    if args.client_ca and args.kind != "vsftpd":
        p.error("--client-ca is for vsftpd")
    if args.refuse_data_tls and args.kind != "pyftpdlib":
        p.error("--refuse-data-tls is for pyftpdlib")
    if args.refuse_data_tls < 0:
        p.error("--refuse-data-tls must be positive")
    if args.rtt_ms is not None:
        if args.rtt_ms < 0:
            p.error("--rtt-ms must be 0 or more")
        if (
            family_of(args.host) != family_of(args.proxy_host)
            or args.host == args.proxy_host
        ):
            p.error("--proxy-host must be another address of --host's family")
        if args.passive_ports is None:
            args.passive_ports = passive_window(PROXIED_PASV_WINDOW)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = StopSignal()

    workdir = Path(tempfile.mkdtemp(prefix=f"ferroftp-{args.kind}-")).resolve()
    owned_root = args.root is None
    server: Server | None = None
    proxy: LatencyProxy | None = None
    root: Path | None = None
    reaper_fd = -1
    try:
        if owned_root:
            root = Path(tempfile.mkdtemp(prefix="ferroftp-root-")).resolve()
            os.chmod(root, 0o755)
        else:
            root = args.root.resolve()
            root.mkdir(parents=True, exist_ok=True)
        # vsftpd and toxiproxy carry a file of the workdir on their command line.
        reaper_fd = start_reaper(
            [workdir, root] if owned_root else [workdir], str(workdir)
        )
        stop.install()  # starts a thread: only after the fork above
        cls = PyftpdlibServer if args.kind == "pyftpdlib" else VsftpdServer
        server = cls(args, workdir, root)
        info = server.start(stop)
        if args.rtt_ms is not None:
            proxy = LatencyProxy(workdir, args.host, args.proxy_host, args.rtt_ms)
            lo, hi = args.passive_ports
            proxy.start(
                [info["port"], *range(lo, hi + 1)], time.monotonic() + STARTUP_TIMEOUT
            )
            info.update(host=args.proxy_host, direct_host=args.host, rtt_ms=args.rtt_ms)
        info["tls"] = args.tls
        info["anonymous"] = bool(args.anonymous)
        certs = server.certs
        if certs is not None:
            info["cafile"] = str(certs.cafile)
            if certs.client_cert is not None:
                info["client_cert"] = str(certs.client_cert)
                info["client_key"] = str(certs.client_key)
        try:
            sys.stdout.write(json.dumps(info) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            stop.set("stdout closed")
        # Nothing else may go to the caller's pipe; let it see EOF.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)

        deadline = time.monotonic() + args.stop_after
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                stop.set(f"--stop-after {args.stop_after:g} s elapsed")
                log(f"stopping the {args.kind} server: {stop.reason}")
                break
            stop.wait(min(left, 0.5))
            if not server.alive():
                log(server.failure())
                return 2
            if proxy is not None and not proxy.alive():
                log(f"toxiproxy exited unexpectedly: {proxy.output()}")
                return 2
        if LOG_ENABLED:
            log(f"stopping ({stop.reason})")
        return 0
    except Stopped as exc:
        log(f"stopped before the server was ready ({exc}); spawn with stdin=PIPE")
        return 2
    except LaunchError as exc:
        log(f"cannot start {args.kind}: {exc}")
        return 2
    finally:
        if proxy is not None:
            proxy.stop()
        if server is not None:
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                log(f"error while stopping the server: {exc!r}")
        shutil.rmtree(workdir, ignore_errors=True)
        if owned_root and root is not None:
            shutil.rmtree(root, ignore_errors=True)
        if reaper_fd >= 0:
            with contextlib.suppress(OSError):
                os.write(reaper_fd, b"done\n")
                os.close(reaper_fd)


if __name__ == "__main__":
    sys.exit(main())
