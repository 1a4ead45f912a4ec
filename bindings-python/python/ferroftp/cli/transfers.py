"""Moving files: one at a time on one session (each with its bar, and a total bar for several),
or several at once through the pool's batch calls (a total bar); then one line per file when
stderr is not a terminal, and one line per failed file."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Union

import ferroftp
from ferroftp.cli.context import Context
from ferroftp.cli.progress import Bar, BatchBar, size
from ferroftp.cli.status import EXIT_PARTIAL, Partial, describe, exit_status
from ferroftp.cli.urls import Target

#: A local side: a path, or a binary stream (stdin, stdout).
Local = Union[Path, BinaryIO]


@dataclass(frozen=True)
class Job:
    """One file to move: the remote path, the local side and the size when known."""

    remote: str
    local: Local
    size: int | None = None

    @property
    def local_name(self) -> str:
        return "-" if not isinstance(self.local, Path) else str(self.local)

    @property
    def label(self) -> str:
        return os.path.basename(self.remote.rstrip("/")) or self.remote


@dataclass
class Outcome:
    """What moved (remote path: bytes) and what failed (remote path: error)."""

    ok: dict[str, int] = field(default_factory=dict)
    failed: dict[str, BaseException] = field(default_factory=dict)
    #: Items that were not even tried, each already reported (a directory given to ``get``).
    refused: int = 0
    #: Files left alone because they were up to date (``mirror``).
    skipped: int = 0

    @property
    def bytes(self) -> int:
        return sum(self.ok.values())


def _total(jobs: Sequence[Job]) -> int | None:
    sizes = [j.size for j in jobs]
    return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)


def _line(job: Job, n: int, upload: bool) -> str:
    ends = (job.local_name, job.remote) if upload else (job.remote, job.local_name)
    return f"{ends[0]} -> {ends[1]} ({size(n)})"


def transfer(
    ctx: Context,
    target: Target,
    jobs: Sequence[Job],
    *,
    upload: bool,
    resume: bool = False,
) -> Outcome:
    """Moves ``jobs`` to or from ``target``'s server; reports each failure when there are
    several (a single one is raised). Several files go through the pool's batch calls unless
    ``--jobs 1``, ``--resume`` or a stream asks for one at a time."""
    one_by_one = (
        len(jobs) == 1
        or ctx.jobs == 1
        or resume
        or any(not isinstance(j.local, Path) for j in jobs)
    )
    if one_by_one:
        return _one_by_one(ctx, target, jobs, upload=upload, resume=resume)
    return _batch(ctx, target, jobs, upload=upload)


def _one_by_one(
    ctx: Context, target: Target, jobs: Sequence[Job], *, upload: bool, resume: bool
) -> Outcome:
    reporter = ctx.reporter
    outcome = Outcome()
    overall: BatchBar | None = reporter.batch(len(jobs), _total(jobs)) if len(jobs) > 1 else None
    base = 0
    try:
        with ctx.session(target) as s:
            for i, job in enumerate(jobs):
                with reporter.bar(job.label, job.size, leave=overall is None) as bar:

                    def show(
                        done: int, total: int | None, bar: Bar = bar, base: int = base
                    ) -> None:
                        bar.update(done, total)
                        if overall is not None:
                            overall.update(base + done)

                    path = isinstance(job.local, Path)  # else a stream: no resume, no rename
                    try:
                        if upload:
                            n = s.upload(
                                job.local,
                                job.remote,
                                resume=resume and path,
                                atomic=path and not resume,
                                progress=show,
                            )
                        else:
                            n = s.download(
                                job.remote, job.local, resume=resume and path, progress=show
                            )
                    except (ferroftp.Error, OSError) as e:
                        if len(jobs) == 1 or getattr(e, "errno", None) == errno.EPIPE:
                            raise  # one file's error is the command's; a closed pipe ends all
                        outcome.failed[job.remote] = e
                        continue
                    finally:
                        if overall is not None:
                            overall.set_files(i + 1)
                outcome.ok[job.remote] = n
                base += n
                reporter.done(_line(job, n, upload))
    finally:
        if overall is not None:
            overall.close()
    return outcome


def _batch(ctx: Context, target: Target, jobs: Sequence[Job], *, upload: bool) -> Outcome:
    pool = ctx.pool(target)
    by_remote = {j.remote: j for j in jobs}
    with ctx.reporter.batch(len(jobs), _total(jobs)) as bar:
        if upload:
            result = pool.upload_many(
                [(j.local, j.remote) for j in jobs if isinstance(j.local, Path)],
                progress=bar.batch,
            )
        else:
            result = pool.download_many(
                [(j.remote, j.local) for j in jobs if isinstance(j.local, Path)],
                progress=bar.batch,
            )
    outcome = Outcome(ok=dict(result.ok), failed=dict(result.failed))
    for remote, n in sorted(outcome.ok.items()):
        ctx.reporter.done(_line(by_remote[remote], n, upload))
    return outcome


def conclude(ctx: Context, outcome: Outcome) -> None:
    """Reports each failed file on stderr and raises :class:`Partial` when any failed (or was
    refused): exit status 5, or the status all failures share when nothing succeeded."""
    for path, exc in sorted(outcome.failed.items()):
        text = describe(exc)
        ctx.reporter.say(f"ferroftp: {text}" if path in text else f"ferroftp: {path}: {text}")
    if not outcome.failed and not outcome.refused:
        return
    statuses = {exit_status(e) for e in outcome.failed.values()}
    if not (outcome.ok or outcome.skipped or outcome.refused) and len(statuses) == 1:
        raise Partial(statuses.pop())
    raise Partial(EXIT_PARTIAL)
