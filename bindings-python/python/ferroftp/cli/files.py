"""``get``, ``put`` and ``cat``: files down and up, with wildcards and ``-`` for stdin/stdout."""

from __future__ import annotations

import argparse
import os
import posixpath
from pathlib import Path

import ferroftp
from ferroftp.cli.context import Context
from ferroftp.cli.globs import Match, expand_local, expand_remote
from ferroftp.cli.options import add_jobs
from ferroftp.cli.status import EXIT_OK, UsageError
from ferroftp.cli.transfers import Job, Outcome, conclude, transfer
from ferroftp.cli.urls import Target, is_url, parse_url


def _targets(ctx: Context, urls: list[str]) -> tuple[Target, list[Target]]:
    for u in urls:
        if not is_url(u):
            raise UsageError(f"not a URL: {u!r} (expected ftp://host/path)")
    targets = [parse_url(u) for u in urls]
    return ctx.one_server(targets), targets


def add_get_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths",
        nargs="+",
        metavar="URL... [DEST]",
        help="remote files (wildcards allowed), then where to put them: a file, a directory, "
        "or - for stdout (default: the current directory)",
    )
    p.add_argument(
        "-c", "--resume", action="store_true", help="continue partial downloads (one at a time)"
    )
    add_jobs(p, "files downloaded at once")


def run_get(ctx: Context, args: argparse.Namespace) -> int:
    items: list[str] = args.paths
    dest = items[-1] if len(items) > 1 and not is_url(items[-1]) else None
    server, targets = _targets(ctx, items[:-1] if dest is not None else items)
    if dest == "-" and ctx.stdout.isatty():
        ctx.reporter.silence()  # the data goes to the terminal: no bars or lines among it
    with ctx.session(server) as s:
        matches = [m for t in targets for m in expand_remote(s, t)]
        if ctx.reporter.bars:  # a bar with a percentage and an ETA needs the sizes
            matches = [_sized(s, m) for m in matches]
    outcome = Outcome()
    files = []
    for m in matches:
        if m.is_dir:
            ctx.reporter.say(f"ferroftp: {m.path}: a directory, left out (mirror copies trees)")
            outcome.refused += 1
        else:
            files.append(m)
    several = len(matches) > 1 or any(t.pattern is not None for t in targets)
    if dest == "-":
        jobs = [Job(m.path, ctx.out, m.size) for m in files]
    else:
        into = Path(dest) if dest is not None else Path(".")
        if dest is not None and not (into.is_dir() or dest.endswith(("/", os.sep))):
            if several:
                raise UsageError(f"{dest} is not a directory (there are several files to get)")
            jobs = [Job(m.path, into, m.size) for m in files]
        else:
            if any(not posixpath.basename(m.path) for m in files):
                raise UsageError("a URL to get ends in /: name a file (mirror copies trees)")
            into.mkdir(parents=True, exist_ok=True)
            jobs = [Job(m.path, into / posixpath.basename(m.path), m.size) for m in files]
    if jobs:
        done = transfer(ctx, server, jobs, upload=False, resume=args.resume)
        outcome.ok, outcome.failed = done.ok, done.failed
    if dest == "-":
        ctx.out.flush()
    conclude(ctx, outcome)
    return EXIT_OK


def _sized(s: ferroftp.Session, m: Match) -> Match:
    """``m`` with its size, asked of the server (SIZE) when no listing gave it."""
    if m.entry is not None or m.size is not None:
        return m
    try:
        return Match(m.path, known_size=s.size(m.path))
    except ferroftp.Error:
        return m  # the download will say what is wrong


def add_put_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths",
        nargs="+",
        metavar="LOCAL... URL",
        help="local files (wildcards allowed; - for stdin), then the remote file or directory "
        "(a URL ending in / keeps the local names)",
    )
    p.add_argument(
        "-c", "--resume", action="store_true", help="continue partial uploads (one at a time)"
    )
    add_jobs(p, "files uploaded at once")


def run_put(ctx: Context, args: argparse.Namespace) -> int:
    items: list[str] = args.paths
    if len(items) < 2 or not is_url(items[-1]):
        raise UsageError("put takes local files, then the URL to put them at")
    server, _ = _targets(ctx, items[-1:])
    if server.pattern is not None:
        raise UsageError("the URL to put files at cannot have wildcards")
    sources = expand_local(items[:-1])
    outcome = Outcome()
    if "-" in sources:
        if len(sources) > 1 or server.path.endswith("/"):
            raise UsageError("put - (stdin) takes one URL naming the remote file")
        ctx.stdin_is_data = True
        jobs = [Job(server.path, ctx.stdin.buffer)]
    else:
        paths = []
        for name in sources:
            path = Path(name)
            if path.is_dir():
                ctx.reporter.say(f"ferroftp: {name}: a directory, left out (mirror copies trees)")
                outcome.refused += 1
            elif not path.exists():
                raise FileNotFoundError(2, "No such file or directory", name)
            else:
                paths.append(path)
        into = server.path.endswith("/") or len(sources) > 1
        if not into:
            with ctx.session(server) as s:
                into = _is_dir(s, server.path)
        jobs = [
            Job(
                posixpath.join(server.path, p.name) if into else server.path,
                p,
                p.stat().st_size,
            )
            for p in paths
        ]
    if jobs:
        done = transfer(ctx, server, jobs, upload=True, resume=args.resume)
        outcome.ok, outcome.failed = done.ok, done.failed
    conclude(ctx, outcome)
    return EXIT_OK


def _is_dir(s: ferroftp.Session, path: str) -> bool:
    try:
        return s.stat(path).kind == "dir"
    except ferroftp.NotFoundError:
        return False


def add_cat_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("urls", nargs="+", metavar="URL", help="remote files (wildcards allowed)")


def run_cat(ctx: Context, args: argparse.Namespace) -> int:
    server, targets = _targets(ctx, args.urls)
    with ctx.session(server) as s:
        for t in targets:
            for m in expand_remote(s, t):
                s.download(m.path, ctx.out)
    ctx.out.flush()
    return EXIT_OK
