"""The ``ferroftp`` command: list, get, put, remove, make directories and mirror over FTP/FTPS.

::

    ferroftp ls ftp://user:pw@host/pub
    ferroftp get ftp://host/pub/big.iso [big.iso]
    ferroftp put notes.txt ftp://host/inbox/
    ferroftp rm ftp://host/inbox/a.txt ftp://host/inbox/b.txt
    ferroftp mkdir -p ftp://host/a/b/c
    ferroftp mirror --jobs 8 ftp://host/pub ./pub           # download a tree
    ferroftp mirror --reverse --jobs 8 ./site ftp://host/www  # upload a tree

Credentials come from the URL, else from ``FERROFTP_USER``/``FERROFTP_PASSWORD``, else from
``~/.netrc`` (the host's entry, then ``default``); without any the login is anonymous.

Exit status: 0 done; 1 failed (network, refusal, local error); 2 bad usage; 3 a remote or local
path does not exist; 4 the login was refused; 5 a batch finished with some files failed.
"""

from __future__ import annotations

import argparse
import netrc
import os
import posixpath
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, unquote, urlsplit

import ferroftp

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_AUTH = 4
EXIT_PARTIAL = 5

SCHEMES = ("ftp", "ftpes", "ftps")


class UsageError(Exception):
    """A bad argument found after parsing (exit status 2)."""


@dataclass(frozen=True)
class Target:
    """A remote location: the server's URL (with credentials) and a path on it."""

    server: str
    path: str
    host: str


def parse_url(
    text: str, env: dict[str, str] | None = None, netrc_file: str | None = None
) -> Target:
    """Splits ``ftp://[user[:password]@]host[:port]/path`` into the server's URL, with the
    credentials filled in from the environment or ``~/.netrc`` when the URL has none, and the
    remote path (percent-decoded)."""
    env = dict(os.environ) if env is None else env
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise UsageError(
            f"not an FTP URL: {text!r} (expected ftp://host/path, ftpes:// or ftps://)"
        )
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if user is None and "FERROFTP_USER" in env:
        user = env["FERROFTP_USER"]
        password = env.get("FERROFTP_PASSWORD", password)
    if user is None:
        found = _from_netrc(parts.hostname, netrc_file)
        if found is not None:
            user, password = found
    host = parts.hostname
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    if user is not None:
        creds = quote(user, safe="")
        if password is not None:
            creds += ":" + quote(password, safe="")
        netloc = f"{creds}@{netloc}"
    path = unquote(parts.path) or "/"
    return Target(server=f"{parts.scheme}://{netloc}", path=path, host=host)


def _from_netrc(host: str, netrc_file: str | None) -> tuple[str, str] | None:
    path = netrc_file or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.exists(path):
        return None
    try:
        auth = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError) as e:
        raise UsageError(f"cannot read {path}: {e}") from None
    if auth is None:
        return None
    login, _account, password = auth
    return login, password or ""


class Progress:
    """One line on stderr, rewritten as a transfer or a batch moves (only on a terminal)."""

    def __init__(self, out: TextIO, enabled: bool) -> None:
        self.out = out
        self.enabled = enabled
        self.last = 0.0
        self.shown = False

    def bytes(self, label: str) -> Callable[[int, int | None], None]:
        def show(done: int, total: int | None) -> None:
            of = f" / {_size(total)}" if total else ""
            pct = f"  {done * 100 // total}%" if total else ""
            self._line(f"{label}  {_size(done)}{of}{pct}", done == total)

        return show

    def batch(self, p: ferroftp.BatchProgress) -> None:
        total = f" / {_size(p.bytes_total)}" if p.bytes_total is not None else ""
        self._line(
            f"{p.files_done}/{p.files_total} files  {_size(p.bytes_done)}{total}",
            p.files_done == p.files_total,
        )

    def _line(self, text: str, final: bool) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self.last < 0.1:
            return
        self.last = now
        self.out.write("\r" + text.ljust(60))
        self.out.flush()
        self.shown = True

    def end(self) -> None:
        if self.shown:
            self.out.write("\n")
            self.out.flush()
            self.shown = False


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "timeout": args.timeout,
        "connect_timeout": args.timeout,
        "retries": args.retries,
        "verify": not args.insecure,
    }
    for name in ("ca_file", "tls_server_name", "client_cert", "client_key"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return options


def cmd_ls(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    target = parse_url(args.url)
    with ferroftp.connect(target.server, **_options(args)) as s:
        for e in sorted(s.list(target.path), key=lambda e: e.name):
            size = "-" if e.size is None else str(e.size)
            when = e.modified.strftime("%Y-%m-%d %H:%M") if e.modified else "-"
            out.write(f"{e.kind:<5} {size:>12}  {when:<16}  {e.name}\n")
    return EXIT_OK


def cmd_get(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    target = parse_url(args.url)
    name = posixpath.basename(target.path.rstrip("/"))
    local = Path(args.local) if args.local else Path(name)
    if local.is_dir():
        local = local / name
    with ferroftp.connect(target.server, **_options(args)) as s:
        s.download(target.path, local, resume=args.resume, progress=progress.bytes(name))
    progress.end()
    return EXIT_OK


def cmd_put(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    target = parse_url(args.url)
    local = Path(args.local)
    remote = target.path
    if remote.endswith("/"):
        remote += local.name
    with ferroftp.connect(target.server, **_options(args)) as s:
        s.upload(
            local, remote, resume=args.resume, atomic=True, progress=progress.bytes(local.name)
        )
    progress.end()
    return EXIT_OK


def cmd_rm(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    targets = [parse_url(u) for u in args.urls]
    servers = {t.server for t in targets}
    if len(servers) > 1:
        raise UsageError("rm: all URLs must name the same server")
    with ferroftp.connect(targets[0].server, **_options(args)) as s:
        for t in targets:
            if args.recursive:
                s.rmdir(t.path, recursive=True)
            else:
                s.remove(t.path)
    return EXIT_OK


def cmd_mkdir(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    target = parse_url(args.url)
    with ferroftp.connect(target.server, **_options(args)) as s:
        s.mkdir(target.path, parents=args.parents)
    return EXIT_OK


def cmd_mirror(args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    if args.reverse:
        local, target = Path(args.source), parse_url(args.dest)
        if not local.is_dir():
            raise FileNotFoundError(f"{local} is not a directory")
    else:
        target, local = parse_url(args.source), Path(args.dest)
    with ferroftp.Pool(target.server, max_sessions=args.jobs, **_options(args)) as pool:
        if args.reverse:
            result = pool.upload_tree(
                local, target.path, skip_existing=args.skip_existing, progress=progress.batch
            )
        else:
            result = pool.download_tree(
                target.path, local, skip_existing=args.skip_existing, progress=progress.batch
            )
    progress.end()
    for path, exc in sorted(result.failed.items()):
        print(f"ferroftp: {path}: {exc}", file=sys.stderr)
    out.write(
        f"{len(result.ok)} transferred ({_size(result.bytes)}), {len(result.skipped)} skipped, "
        f"{len(result.failed)} failed\n"
    )
    return EXIT_PARTIAL if result.failed else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferroftp",
        description="FTP/FTPS transfers (ftp://, ftpes:// explicit TLS, ftps:// implicit TLS).",
        epilog="Exit status: 0 done, 1 failed, 2 bad usage, 3 not found, 4 login refused, "
        "5 some files of a batch failed.",
    )
    parser.add_argument("--version", action="version", version=f"ferroftp {ferroftp.__version__}")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per reply (30)")
    parser.add_argument("--retries", type=int, default=3, help="retries after a lost connection")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    tls = parser.add_argument_group("TLS (ftpes://, ftps://)")
    tls.add_argument(
        "--ca-file",
        metavar="PEM",
        help="certificates to trust: a private CA, or the server's own certificate (pinned)",
    )
    tls.add_argument(
        "--insecure", action="store_true", help="do not check the server's certificate (tests)"
    )
    tls.add_argument(
        "--tls-server-name", metavar="NAME", help="the name the server's certificate carries"
    )
    tls.add_argument("--client-cert", metavar="PEM", help="client certificate (with --client-key)")
    tls.add_argument("--client-key", metavar="PEM", help="the client certificate's private key")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ls", help="list a remote directory")
    p.add_argument("url")
    p.set_defaults(run=cmd_ls)

    p = sub.add_parser("get", help="download a file")
    p.add_argument("url")
    p.add_argument("local", nargs="?", help="file or directory (default: the remote name)")
    p.add_argument("--resume", action="store_true", help="continue a partial download")
    p.set_defaults(run=cmd_get)

    p = sub.add_parser("put", help="upload a file (a URL ending in / keeps the local name)")
    p.add_argument("local")
    p.add_argument("url")
    p.add_argument("--resume", action="store_true", help="continue a partial upload")
    p.set_defaults(run=cmd_put)

    p = sub.add_parser("rm", help="remove remote files")
    p.add_argument("urls", nargs="+", metavar="url")
    p.add_argument(
        "-r", "--recursive", action="store_true", help="remove directories and all in them"
    )
    p.set_defaults(run=cmd_rm)

    p = sub.add_parser("mkdir", help="make a remote directory")
    p.add_argument("url")
    p.add_argument("-p", "--parents", action="store_true", help="make missing parents too")
    p.set_defaults(run=cmd_mkdir)

    p = sub.add_parser("mirror", help="copy a directory tree down (or up with --reverse)")
    p.add_argument("source", help="URL (or local directory with --reverse)")
    p.add_argument("dest", help="local directory (or URL with --reverse)")
    p.add_argument("-R", "--reverse", action="store_true", help="upload the local tree")
    p.add_argument("-j", "--jobs", type=int, default=4, help="parallel sessions (4)")
    p.add_argument(
        "--skip-existing", action="store_true", help="skip files whose size (and time) match"
    )
    p.set_defaults(run=cmd_mirror)
    return parser


#: The library's option names in its messages, and this command's for them.
OPTION_NAMES = {
    "ca_file": "--ca-file",
    "tls_server_name": "--tls-server-name",
    "client_cert": "--client-cert",
    "client_key": "--client-key",
    "verify=false": "--insecure",
}


def message(exc: BaseException) -> str:
    """The error's text, naming this command's options where the library names its own."""
    text = str(exc)
    if isinstance(exc, ferroftp.Error):
        text = exc.detail  # a refusal's str() is the server's reply alone
        for name, option in OPTION_NAMES.items():
            text = re.sub(rf"\b{re.escape(name)}\b", option, text)
    return text


def exit_status(exc: BaseException) -> int:
    """The exit status for an error that ended a command."""
    if isinstance(exc, ferroftp.AuthenticationError):
        return EXIT_AUTH
    if isinstance(exc, FileNotFoundError):  # NotFoundError is one, and so are local ones
        return EXIT_NOT_FOUND
    if isinstance(exc, (UsageError, ferroftp.InvalidInputError)):
        return EXIT_USAGE
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "jobs", 1) < 1:
        parser.error("--jobs must be at least 1")
    progress = Progress(sys.stderr, enabled=not args.quiet and sys.stderr.isatty())
    try:
        status: int = args.run(args, sys.stdout, progress)
    except (ferroftp.Error, OSError, UsageError) as e:
        progress.end()
        print(f"ferroftp: {message(e)}", file=sys.stderr)
        return exit_status(e)
    except KeyboardInterrupt:
        progress.end()
        print("ferroftp: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
