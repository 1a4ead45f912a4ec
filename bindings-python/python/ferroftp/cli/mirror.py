"""``mirror``: a directory tree down (``mirror URL DIR``) or up (``mirror DIR URL``).

Both trees are listed first (remote directories over up to ``--jobs`` sessions at once), which
gives a plan: directories to make, files to copy (missing, or differing in size or time; with
``--newer-only`` only missing or newer ones; with ``--size-only`` sizes alone), and with
``--delete`` files and directories to delete. ``--dry-run`` prints the plan; otherwise remote
directories are made one depth at a time (each depth over up to ``--jobs`` sessions), the copies
go through the pool's batch calls, copied files get the source's time (MFMT, or MDTM where the
server has no MFMT; on the local side the remote time), and deletions come last.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import fnmatch
import os
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import ferroftp
from ferroftp.cli.context import Context
from ferroftp.cli.options import add_jobs
from ferroftp.cli.progress import size
from ferroftp.cli.status import EXIT_OK, UsageError, describe
from ferroftp.cli.transfers import Outcome, conclude
from ferroftp.cli.urls import is_url, parse_url
from ferroftp.cli.walk import Node, Tree, utc, walk_local, walk_remote

T = TypeVar("T")


class Rule(argparse.Action):
    """``--include``/``--exclude``: appended in command-line order to ``args.rules``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        rules = list(getattr(namespace, "rules", None) or [])
        rules.append((option_string == "--include", str(values)))
        namespace.rules = rules


@dataclass(frozen=True)
class Filters:
    """``--include``/``--exclude`` rules: the first that matches decides; when none matches, a
    file is copied unless the first rule is an ``--include``. A pattern with a ``/`` is matched
    against the path from the top of the tree, one without against the name; one ending in
    ``/`` matches only directories. A directory is left out (not entered) only when an
    ``--exclude`` matches it first."""

    rules: tuple[tuple[bool, str], ...] = ()

    def keep(self, rel: str, is_dir: bool) -> bool:
        for include, pattern in self.rules:
            if self._matches(pattern, rel, is_dir):
                return include or False
        if is_dir:
            return True
        return not (self.rules and self.rules[0][0])

    @staticmethod
    def _matches(pattern: str, rel: str, is_dir: bool) -> bool:
        if pattern.endswith("/"):
            if not is_dir:
                return False
            pattern = pattern.rstrip("/")
        if "/" in pattern:
            return fnmatch.fnmatchcase(rel, pattern.lstrip("/"))
        return fnmatch.fnmatchcase(posixpath.basename(rel), pattern)


@dataclass
class Plan:
    """What a mirror does, by path relative to the tops."""

    mkdirs: list[str] = field(default_factory=list)
    #: Files to copy, with the reason.
    copies: list[tuple[Node, str]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    rmdirs: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(n.size or 0 for n, _ in self.copies)


def reason_to_copy(
    src: Node, dst: Node | None, *, newer_only: bool = False, size_only: bool = False
) -> str | None:
    """Why ``src`` must be copied over ``dst`` (``None``: it is up to date)."""
    if dst is None:
        return "new"
    if dst.is_dir:
        return "in place of a directory"
    tolerance = max(src.precision, dst.precision)
    times = src.mtime is not None and dst.mtime is not None
    if newer_only:
        if times:
            assert src.mtime is not None and dst.mtime is not None
            return "newer" if src.mtime - dst.mtime >= tolerance else None
        return None if src.size == dst.size else "size differs"
    if src.size is None or src.size != dst.size:
        return "size differs"
    if not size_only and times:
        assert src.mtime is not None and dst.mtime is not None
        if abs(src.mtime - dst.mtime) >= tolerance:
            return "time differs"
    return None


def make_plan(
    src: Tree, dst: Tree, *, delete: bool, newer_only: bool = False, size_only: bool = False
) -> Plan:
    plan = Plan()
    for rel, node in sorted(src.nodes.items()):
        there = dst.nodes.get(rel)
        if node.is_dir:
            if there is None:
                plan.mkdirs.append(rel)
            continue
        why = reason_to_copy(node, there, newer_only=newer_only, size_only=size_only)
        if why is None:
            plan.up_to_date.append(rel)
        else:
            plan.copies.append((node, why))
    if delete:
        for rel, node in sorted(dst.nodes.items()):
            if rel in src.nodes:
                continue
            if not node.is_dir:
                plan.deletes.append(rel)
            elif not any(kept.startswith(rel + "/") for kept in dst.left_out):
                plan.rmdirs.append(rel)
        plan.rmdirs.sort(key=lambda rel: (-rel.count("/"), rel))
    return plan


def add_mirror_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help="a URL (download) or a local directory")
    p.add_argument("dest", metavar="DEST", help="a local directory (download) or a URL")
    p.add_argument(
        "--delete",
        action="store_true",
        help="delete what DEST has and SOURCE has not (what the filters leave out is kept)",
    )
    p.add_argument("-n", "--dry-run", action="store_true", help="print the plan; change nothing")
    p.add_argument(
        "--exclude",
        metavar="GLOB",
        action=Rule,
        dest="rules",
        help="leave out matching files and directories (a GLOB with / matches the path from "
        "the top, else the name; repeatable; the first matching rule decides)",
    )
    p.add_argument(
        "--include",
        metavar="GLOB",
        action=Rule,
        dest="rules",
        help="copy matching files (when the first rule is an --include, only what a rule "
        "includes is copied)",
    )
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--newer-only",
        action="store_true",
        help="copy only files missing at DEST or newer in SOURCE (by more than the listing's "
        "time precision); by default a file is copied when its size or time differs",
    )
    how.add_argument(
        "--size-only",
        action="store_true",
        help="compare sizes only (for servers whose times cannot be set)",
    )
    p.add_argument(
        "-R",
        "--reverse",
        action="store_true",
        help="upload (accepted for older scripts: the direction follows the arguments)",
    )
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="accepted for older scripts: files that match are always skipped",
    )
    add_jobs(p, "sessions at once, listing and copying")


@dataclass(frozen=True)
class Sides:
    """The two tops of a mirror, and which way it goes."""

    remote: str
    local: Path
    upload: bool

    def remote_path(self, rel: str) -> str:
        return posixpath.join(self.remote, rel) if rel else self.remote

    def local_path(self, rel: str) -> Path:
        return self.local / rel if rel else self.local

    def source(self, rel: str) -> str:
        return str(self.local_path(rel)) if self.upload else self.remote_path(rel)

    def dest(self, rel: str) -> str:
        return self.remote_path(rel) if self.upload else str(self.local_path(rel))


def run_mirror(ctx: Context, args: argparse.Namespace) -> int:
    if is_url(args.source) == is_url(args.dest):
        raise UsageError("mirror copies between a URL and a local directory: give one of each")
    upload = is_url(args.dest)
    if args.reverse and not upload:
        raise UsageError("--reverse uploads: give the local directory first, then the URL")
    target = parse_url(args.dest if upload else args.source)
    if target.pattern is not None:
        raise UsageError("mirror takes a directory URL without wildcards (see --include)")
    sides = Sides(
        target.path.rstrip("/") or "/", Path(args.dest if not upload else args.source), upload
    )
    keep = Filters(tuple(args.rules or ())).keep
    pool = ctx.pool(target)
    if upload:
        if not sides.local.is_dir():
            raise FileNotFoundError(2, "No such directory", str(sides.local))
        src = walk_local(sides.local, keep)
        dst = walk_remote(pool, sides.remote, ctx.jobs, keep)
    else:
        src = walk_remote(pool, sides.remote, ctx.jobs, keep)
        if not src.exists:
            raise ferroftp.NotFoundError(f"{sides.remote}: no such directory on the server")
        dst = walk_local(sides.local, keep)
    plan = make_plan(
        src, dst, delete=args.delete, newer_only=args.newer_only, size_only=args.size_only
    )
    if args.dry_run:
        _print_plan(ctx, sides, plan)
        return EXIT_OK
    outcome = _execute(ctx, pool, sides, plan, dst_exists=dst.exists)
    removals = plan.deletes + plan.rmdirs
    deleted = sum(1 for rel in removals if sides.dest(rel) not in outcome.failed)
    if not ctx.reporter.quiet:
        ctx.stdout.write(
            f"{len(outcome.ok)} transferred ({size(outcome.bytes)}), "
            f"{len(plan.up_to_date)} skipped, {deleted} deleted, {len(outcome.failed)} failed\n"
        )
        ctx.stdout.flush()
    conclude(ctx, outcome)
    return EXIT_OK


def _print_plan(ctx: Context, sides: Sides, plan: Plan) -> None:
    out = ctx.stdout
    verb = "put" if sides.upload else "get"
    for rel in plan.mkdirs:
        out.write(f"mkdir   {sides.dest(rel)}\n")
    for node, why in plan.copies:
        amount = "" if node.size is None else f"{size(node.size)}, "
        out.write(
            f"{verb}     {sides.source(node.rel)} -> {sides.dest(node.rel)} ({amount}{why})\n"
        )
    for rel in plan.deletes:
        out.write(f"delete  {sides.dest(rel)}\n")
    for rel in plan.rmdirs:
        out.write(f"rmdir   {sides.dest(rel)}\n")
    out.write(
        f"dry run: {len(plan.copies)} to transfer ({size(plan.bytes)}), "
        f"{len(plan.up_to_date)} up to date, {len(plan.deletes) + len(plan.rmdirs)} to delete; "
        "nothing was changed\n"
    )


def _each(
    ctx: Context,
    pool: ferroftp.Pool,
    items: Sequence[T],
    run: Callable[[ferroftp.Session, T], None],
) -> dict[int, BaseException]:
    """Runs ``run(session, item)`` for each item over up to ``jobs`` pooled sessions at once;
    returns the errors by item index."""
    errors: dict[int, BaseException] = {}

    def one(i: int) -> None:
        with pool.session() as s:
            try:
                run(s, items[i])
            except (ferroftp.Error, OSError) as e:
                errors[i] = e

    executor = concurrent.futures.ThreadPoolExecutor(max(1, ctx.jobs), "ferroftp-mirror")
    try:
        for future in [executor.submit(one, i) for i in range(len(items))]:
            future.result()
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    return errors


def _execute(
    ctx: Context, pool: ferroftp.Pool, sides: Sides, plan: Plan, *, dst_exists: bool
) -> Outcome:
    outcome = Outcome(skipped=len(plan.up_to_date))
    say = ctx.reporter.done
    # Directories, parents first; the files of one that cannot be made are not tried.
    broken: list[str] = []
    if sides.upload:
        if not dst_exists:
            with pool.session() as s:
                s.mkdir(sides.remote, parents=True)
        # One depth at a time, each depth's directories over up to ``jobs`` sessions at once.
        depths: dict[int, list[str]] = {}
        for rel in plan.mkdirs:
            depths.setdefault(rel.count("/"), []).append(rel)
        for _, level in sorted(depths.items()):
            errors = _each(ctx, pool, level, lambda s, rel: s.mkdir(sides.remote_path(rel)))
            for i, e in sorted(errors.items()):
                outcome.failed[sides.remote_path(level[i])] = e
                broken.append(level[i] + "/")
    else:
        sides.local.mkdir(parents=True, exist_ok=True)
        for rel in plan.mkdirs:
            try:
                sides.local_path(rel).mkdir(exist_ok=True)
            except OSError as e:
                outcome.failed[str(sides.local_path(rel))] = e
                broken.append(rel + "/")
    copies = [n for n, _ in plan.copies if not any(n.rel.startswith(b) for b in broken)]
    if copies:
        pairs = [(sides.local_path(n.rel), sides.remote_path(n.rel)) for n in copies]
        sizes = [n.size for n in copies]
        total = None if None in sizes else sum(s or 0 for s in sizes)
        with ctx.reporter.batch(len(copies), total) as bar:
            if sides.upload:
                result = pool.upload_many(pairs, progress=bar.batch)
            else:
                result = pool.download_many([(r, lo) for lo, r in pairs], progress=bar.batch)
        outcome.ok.update(result.ok)
        outcome.failed.update(result.failed)
        verb = "put" if sides.upload else "get"
        done = [n for n in copies if sides.remote_path(n.rel) in result.ok]
        for n in done:
            amount = size(result.ok[sides.remote_path(n.rel)])
            say(f"{verb} {sides.source(n.rel)} -> {sides.dest(n.rel)} ({amount})")
        _set_times(ctx, pool, sides, [n for n in done if n.mtime is not None])
    # Deletions last, files before their directories (deepest first).
    if plan.deletes:
        if sides.upload:
            errors = _each(ctx, pool, plan.deletes, lambda s, rel: s.remove(sides.remote_path(rel)))
        else:
            errors = {}
            for i, rel in enumerate(plan.deletes):
                try:
                    sides.local_path(rel).unlink()
                except OSError as e:
                    errors[i] = e
        for i, rel in enumerate(plan.deletes):
            if i in errors:
                outcome.failed[sides.dest(rel)] = errors[i]
            else:
                say(f"delete {sides.dest(rel)}")
    if plan.rmdirs:
        with pool.session() as s:
            for rel in plan.rmdirs:
                try:
                    if sides.upload:
                        s.rmdir(sides.remote_path(rel))
                    else:
                        os.rmdir(sides.local_path(rel))
                except (ferroftp.Error, OSError) as e:
                    outcome.failed[sides.dest(rel)] = e
                else:
                    say(f"rmdir {sides.dest(rel)}")
    return outcome


def _set_times(ctx: Context, pool: ferroftp.Pool, sides: Sides, nodes: list[Node]) -> None:
    """Gives copied files the source's time: locally with utime, remotely with MFMT (or MDTM);
    a server that can set none is asked once, and a time that could not be set is a warning."""
    if not nodes:
        return
    if not sides.upload:
        for n in nodes:
            assert n.mtime is not None
            try:
                os.utime(sides.local_path(n.rel), (n.mtime, n.mtime))
            except OSError as e:
                ctx.reporter.say(f"ferroftp: warning: {describe(e)}")
        return

    def set_time(s: ferroftp.Session, n: Node) -> None:
        assert n.mtime is not None
        s.set_modified(sides.remote_path(n.rel), utc(n.mtime))

    with pool.session() as s:
        try:
            set_time(s, nodes[0])
        except ferroftp.PermanentError as e:
            if e.code in (500, 501, 502, 504):
                ctx.reporter.say(
                    "ferroftp: warning: the server cannot set file times (MFMT, MDTM): "
                    "use --size-only or --newer-only to compare"
                )
                return
            ctx.reporter.say(f"ferroftp: warning: {describe(e)}")
    for _, error in sorted(_each(ctx, pool, nodes[1:], set_time).items()):
        ctx.reporter.say(f"ferroftp: warning: {describe(error)}")
