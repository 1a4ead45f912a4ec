"""Changing the remote side: ``rm``, ``mkdir``, ``rmdir``, ``mv``, ``chmod``, and ``quote`` for
a raw command."""

from __future__ import annotations

import argparse
import posixpath

import ferroftp
from ferroftp.cli.context import Context
from ferroftp.cli.globs import Match, expand_remote
from ferroftp.cli.status import EXIT_FAILED, EXIT_OK, EXIT_TEMPORARY, UsageError, one_line
from ferroftp.cli.urls import Target, is_url, parse_url


def _targets(ctx: Context, urls: list[str]) -> tuple[Target, list[Target]]:
    targets = [parse_url(u) for u in urls]
    return ctx.one_server(targets), targets


def _matches(s: ferroftp.Session, targets: list[Target], missing_ok: bool = False) -> list[Match]:
    found: list[Match] = []
    for t in targets:
        try:
            found.extend(expand_remote(s, t))
        except FileNotFoundError:
            if not missing_ok:
                raise
    return found


def add_rm_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("urls", nargs="+", metavar="URL", help="remote files (wildcards allowed)")
    p.add_argument(
        "-r", "--recursive", action="store_true", help="remove directories and all in them"
    )
    p.add_argument(
        "-f", "--force", action="store_true", help="no error for files that do not exist"
    )


def run_rm(ctx: Context, args: argparse.Namespace) -> int:
    server, targets = _targets(ctx, args.urls)
    with ctx.session(server) as s:
        for m in _matches(s, targets, missing_ok=args.force):
            try:
                if args.recursive and (m.is_dir or (m.entry is None and _is_dir(s, m.path))):
                    s.rmdir(m.path, recursive=True)
                else:
                    s.remove(m.path)
            except ferroftp.NotFoundError:
                if not args.force:
                    raise
    return EXIT_OK


def _is_dir(s: ferroftp.Session, path: str) -> bool:
    try:
        return s.stat(path).kind == "dir"
    except ferroftp.NotFoundError:
        return False


def add_mkdir_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("urls", nargs="+", metavar="URL", help="directories to make")
    p.add_argument(
        "-p",
        "--parents",
        action="store_true",
        help="make missing parents too; no error if it exists",
    )


def run_mkdir(ctx: Context, args: argparse.Namespace) -> int:
    server, targets = _targets(ctx, args.urls)
    with ctx.session(server) as s:
        for t in targets:
            s.mkdir(t.path, parents=args.parents)
    return EXIT_OK


def add_rmdir_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("urls", nargs="+", metavar="URL", help="directories (wildcards allowed)")
    p.add_argument("-r", "--recursive", action="store_true", help="remove what they hold first")


def run_rmdir(ctx: Context, args: argparse.Namespace) -> int:
    server, targets = _targets(ctx, args.urls)
    with ctx.session(server) as s:
        for m in _matches(s, targets):
            s.rmdir(m.path, recursive=args.recursive)
    return EXIT_OK


def add_mv_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths",
        nargs="+",
        metavar="URL... DEST",
        help="remote files or directories (wildcards allowed), then the new name: a URL, a "
        "path (absolute, or relative to the first one's directory), or a directory to move "
        "them into",
    )


def run_mv(ctx: Context, args: argparse.Namespace) -> int:
    items: list[str] = args.paths
    if len(items) < 2:
        raise UsageError("mv takes the URLs to move, then their new name or directory")
    server, targets = _targets(ctx, items[:-1])
    dest = items[-1]
    if is_url(dest):
        moved = parse_url(dest)
        if moved.key != server.key:
            raise UsageError("mv renames on one server: the new name must be on the same server")
        new = moved.path
    elif dest.startswith("/"):
        new = dest
    else:
        new = posixpath.join(posixpath.dirname(server.path.rstrip("/")) or "/", dest)
    with ctx.session(server) as s:
        sources = _matches(s, targets)
        into = new.endswith("/") or len(sources) > 1 or _is_dir(s, new)
        if len(sources) > 1 and not (new.endswith("/") or _is_dir(s, new)):
            raise UsageError(f"{new} is not a directory (there are several paths to move)")
        for m in sources:
            to = posixpath.join(new, posixpath.basename(m.path.rstrip("/"))) if into else new
            s.rename(m.path, to)
    return EXIT_OK


def add_chmod_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("mode", metavar="MODE", help="octal permissions, such as 644 or 0755")
    p.add_argument("urls", nargs="+", metavar="URL", help="remote files (wildcards allowed)")


def run_chmod(ctx: Context, args: argparse.Namespace) -> int:
    text: str = args.mode
    try:
        mode = int(text.removeprefix("0o"), 8)
    except ValueError:
        raise UsageError(f"not an octal mode: {text!r} (such as 644 or 0755)") from None
    if not 0 <= mode <= 0o7777:
        raise UsageError(f"not a file mode: {text!r} (0 to 7777, octal)")
    server, targets = _targets(ctx, args.urls)
    with ctx.session(server) as s:
        for m in _matches(s, targets):
            s.chmod(m.path, mode)
    return EXIT_OK


def add_quote_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="URL", help="the server")
    p.add_argument(
        "command",
        nargs="+",
        metavar="COMMAND",
        help="the raw command and its arguments (after -- when one starts with -)",
    )


def run_quote(ctx: Context, args: argparse.Namespace) -> int:
    server = parse_url(args.url)
    line = " ".join(args.command)
    with ctx.session(server) as s:
        code, text = s.quote(line)
    if code >= 400:
        ctx.reporter.say(f"ferroftp: {line.split()[0]}: {one_line(text)}")
        return EXIT_TEMPORARY if code < 500 else EXIT_FAILED
    ctx.stdout.write(text.replace("\r\n", "\n").rstrip("\n") + "\n")
    return EXIT_OK
