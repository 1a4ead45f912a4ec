#!/usr/bin/env python3
"""The main job, in Python: threads and asyncio tasks sharing ONE ferroftp session each.

It starts a pyftpdlib server on loopback (through tests/servers/serve.py) over a generated
data set, then:

1. THREADS threads share one blocking ``ferroftp.Session``: each downloads its share of the
   data set (to disk and into memory), uploads copies from files and file objects, reads them
   back through streaming files, lists, renames and removes — every byte checked (SHA-256);
2. TASKS asyncio tasks share one ``ferroftp.AsyncSession`` doing the same kinds of operations,
   with random cancellations and timeouts mixed in, each followed by a checked read;
3. a ``walk`` of the whole tree is checked against the data set.

Then it prints a short summary (operations, bytes, time), stops the server and exits 0 — or
exits 1 at the first wrong result. Run it with ``make demo`` (which builds the package into
.venv first) or ``.venv/bin/python examples/demo.py [--threads N] [--tasks N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import ferroftp

ROOT = Path(__file__).resolve().parents[1]
SERVE = ROOT / "tests" / "servers" / "serve.py"
OPTIONS = {"timeout": 30.0, "connect_timeout": 10.0}


@dataclass
class Tally:
    """Operations and bytes of one phase (thread-safe)."""

    name: str
    ops: int = 0
    bytes: int = 0
    cancelled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    seconds: float = 0.0

    def add(self, ops: int = 1, nbytes: int = 0) -> None:
        with self.lock:
            self.ops += ops
            self.bytes += nbytes


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(f"wrong result: {what}")


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def make_dataset(root: Path, files: int, seed: int = 2024) -> dict[str, bytes]:
    """Files of assorted sizes under <root>/data (remote path -> content)."""
    rng = random.Random(seed)
    dataset = {}
    for i in range(files):
        size = rng.choice([0, 1, 517, 4096, 65_536, 300_000, 1_000_000, 2_500_000])
        content = rng.randbytes(size)
        rel = f"data/d{i % 4}/f{i:03}.bin"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        dataset["/" + rel] = content
    return dataset


def start_server() -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    proc = subprocess.Popen(
        [sys.executable, str(SERVE), "pyftpdlib"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip():
        proc.wait()
        raise SystemExit("demo: the pyftpdlib server did not start (run `make setup`)")
    return proc, json.loads(line)


# -- 1. threads on one blocking Session ---------------------------------------------------


def thread_worker(
    s: ferroftp.Session, n: int, mine: list[str], dataset: dict[str, bytes], tmp: Path, t: Tally
) -> None:
    up = f"/up/t{n}"
    s.mkdir(up, parents=True)
    t.add()
    for path in mine:
        want = dataset[path]
        local = tmp / f"t{n}-{Path(path).name}"
        check(s.download(path, local) == len(want), f"download size {path}")
        check(sha(local.read_bytes()) == sha(want), f"download content {path}")
        buf = io.BytesIO()
        s.download(path, buf)
        check(buf.getvalue() == want, f"download into a file object {path}")
        copy = f"{up}/{Path(path).name}"
        check(s.upload(local, copy) == len(want), f"upload {copy}")
        check(s.size(copy) == len(want), f"size {copy}")
        with s.open(copy) as f:
            check(f.read() == want, f"streamed read {copy}")
        s.upload(io.BytesIO(want[::-1]), copy + ".rev")
        check(s.read_bytes(copy + ".rev") == want[::-1], f"read_bytes {copy}.rev")
        s.rename(copy + ".rev", copy + ".old")
        s.remove(copy + ".old")
        local.unlink()
        t.add(10, 6 * len(want))
    names = sorted(e.name for e in s.list(up))
    check(names == sorted(Path(p).name for p in mine), f"listing of {up}")
    t.add()


def run_threads(url: str, dataset: dict[str, bytes], threads: int, tmp: Path) -> Tally:
    t = Tally(f"{threads} threads, one Session")
    paths = sorted(dataset)
    errors: list[BaseException] = []
    start = time.monotonic()
    with ferroftp.connect(url, **OPTIONS) as s:

        def run(n: int) -> None:
            try:
                thread_worker(s, n, paths[n::threads], dataset, tmp, t)
            except BaseException as e:
                errors.append(e)

        workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    t.seconds = time.monotonic() - start
    if errors:
        raise errors[0]
    return t


# -- 2. tasks on one AsyncSession ---------------------------------------------------------


async def task_worker(
    s: ferroftp.AsyncSession, n: int, dataset: dict[str, bytes], t: Tally, rng: random.Random
) -> None:
    paths = sorted(dataset)
    path = paths[n % len(paths)]
    want = dataset[path]
    check(await s.read_bytes(path) == want, f"read_bytes {path}")
    check(await s.size(path) == len(want), f"size {path}")
    mine = f"/up/a{n}.bin"
    payload = rng.randbytes(rng.randrange(0, 200_000))
    check(await s.write_bytes(mine, payload) == len(payload), f"write_bytes {mine}")
    async with await s.open(mine) as f:
        check(await f.read() == payload, f"streamed read {mine}")
    # A cancelled or timed-out operation must leave the session in step.
    try:
        await asyncio.wait_for(s.read_bytes(paths[-1]), timeout=rng.choice([0.0001, 0.002, 0.02]))
    except asyncio.TimeoutError:
        t.cancelled += 1
    check(await s.read_bytes(mine) == payload, f"read after a cancellation {mine}")
    await s.rename(mine, mine + ".done")
    entries = {e.name: e for e in await s.list("/up")}
    check(entries[f"a{n}.bin.done"].size == len(payload), f"listing of {mine}.done")
    await s.remove(mine + ".done")
    check(not await s.exists(mine + ".done"), f"removed {mine}.done")
    t.add(11, len(want) + 3 * len(payload))


async def run_tasks(url: str, dataset: dict[str, bytes], tasks: int) -> Tally:
    t = Tally(f"{tasks} asyncio tasks, one AsyncSession")
    rng = random.Random(7)
    start = time.monotonic()
    async with await ferroftp.connect_async(url, **OPTIONS) as s:
        await s.mkdir("/up", parents=True)
        await asyncio.gather(
            *(task_worker(s, n, dataset, t, random.Random(rng.random())) for n in range(tasks))
        )
    t.seconds = time.monotonic() - start
    return t


# -- 3. walk --------------------------------------------------------------------------------


def run_walk(url: str, dataset: dict[str, bytes]) -> Tally:
    t = Tally("walk of the tree")
    start = time.monotonic()
    with ferroftp.connect(url, **OPTIONS) as s:
        found = {}
        for dirpath, _dirnames, _filenames in s.walk("/data"):
            for e in s.list(dirpath):
                if e.kind == "file":
                    found[e.path] = e.size
            t.add(2)
    check(found == {p: len(b) for p, b in dataset.items()}, "walk matches the data set")
    t.seconds = time.monotonic() - start
    return t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--tasks", type=int, default=32)
    parser.add_argument("--files", type=int, default=48)
    args = parser.parse_args()

    proc, info = start_server()
    try:
        root = Path(str(info["root"]))
        dataset = make_dataset(root, args.files)
        url = f"ftp://{info['user']}:{info['password']}@{info['host']}:{info['port']}"
        total = sum(len(b) for b in dataset.values())
        print(
            f"ferroftp {ferroftp.__version__} demo (Python): pyftpdlib on {info['host']}:"
            f"{info['port']}, {len(dataset)} files, {total / 1e6:.1f} MB"
        )
        with tempfile.TemporaryDirectory(prefix="ferroftp-demo-") as tmp:
            phases = [run_threads(url, dataset, args.threads, Path(tmp))]
        phases.append(asyncio.run(run_tasks(url, dataset, args.tasks)))
        phases.append(run_walk(url, dataset))
    except AssertionError as e:
        print(f"demo: FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # the launcher stops the server and removes its files
        proc.wait()

    for t in phases:
        extra = f", {t.cancelled} cancelled and recovered" if t.cancelled else ""
        print(
            f"  {t.name:36} {t.ops:5} ops  {t.bytes / 1e6:7.1f} MB  {t.seconds:6.2f} s"
            f"  ({t.bytes / 1e6 / max(t.seconds, 1e-9):6.1f} MB/s{extra})"
        )
    ops = sum(t.ops for t in phases)
    moved = sum(t.bytes for t in phases)
    seconds = sum(t.seconds for t in phases)
    print(f"  all results verified: {ops} operations, {moved / 1e6:.1f} MB in {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
