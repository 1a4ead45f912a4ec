"""ferroftp's benchmark harness (issue 8): ``make bench``, or

    .venv/bin/python bench/run.py [--reps N] [--wan-reps N] [--quick] [--only W1,W2|wan|loopback]
        [--rows R1,R2]

Starts vsftpd on loopback (plain and explicit TLS, wide passive port ranges), generates the data
in a scratch directory under /tmp, builds the clients (the Rust example in release, the C client
against a release libferroftp, a release wheel of the Python binding), then runs every
(workload, row) pair once untimed to warm the caches and N more times, interleaved round-robin
(rep by rep: every workload, every row, the row order rotating each rep) so that drift hits
everyone alike. The WAN profile (workloads ``wan_*``, ``--only wan``) runs the same way against
vsftpd reached through a latency proxy (toxiproxy, 20 ms and 100 ms round-trip time). Prints
medians, min/max, CPU time of client and server, peak RSS and each ratio
ferroftp / anchor, checks the goals of the issue, and writes the same report to
bench/RESULTS.md (a --quick, --only or --rows run writes bench/RESULTS-quick.md or
bench/RESULTS-partial.md instead, so that a smoke run never replaces the real results).

Adding a row is one function decorated with ``@row(...)`` that returns the command to run for
a case, None when the row takes no part in that workload, or a string saying why it cannot.
bench/README.md says what each row measures and how.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = ROOT / ".venv" / "bin" / "python"
PY_CLIENT = BENCH / "clients" / "py_client.py"
C_CLIENT_SRC = BENCH / "clients" / "bench_client.c"
MEASURE_SRC = BENCH / "clients" / "measure.c"
SERVE = ROOT / "tests" / "servers" / "serve.py"
sys.path.insert(0, str(SERVE.parent))
from serve import (  # noqa: E402  (the same port choice and proxy as the test servers)
    LaunchError,
    passive_window,
    toxiproxy_binary,
)

# Timing bases: how a sample's time is taken.
IN_PROCESS = "in-process"  # the client's own clock, from before the connect to after the close
WHOLE = "whole process"  # process start to exit (the measure wrapper's fork to wait4)
OP = "transfer only"  # the client's clock around the operations alone (iperf3: its own)

MB = 1e6
MIB = 1 << 20


# ---------------------------------------------------------------------------------------------
# Sizes


@dataclass(frozen=True)
class Sizes:
    big: int
    small_count: int
    small_size: int
    mid_count: int
    mid_size: int
    dir_entries: int
    listings: int
    noops: int
    threads: int
    sessions: int
    ranges: int = 200
    range_size: int = 64 << 10
    wan: WanSizes | None = None

    def describe(self) -> str:
        return (
            f"a {human_bytes(self.big)} file, {self.small_count} × {human_bytes(self.small_size)},"
            f" {self.mid_count} × {human_bytes(self.mid_size)}, a directory of"
            f" {self.dir_entries} entries"
        )


@dataclass(frozen=True)
class WanSizes:
    """The WAN profile's data (bench/README.md says why these sizes)."""

    small1: int  # 4 KiB files, one session (download and upload)
    small8: int  # 4 KiB files, 8 sessions (download and upload)
    small100: int  # 4 KiB files, 8 sessions, at 100 ms
    tree_top: int  # directories below the tree's root, each with tree_sub directories
    tree_sub: int
    tree_files: int  # files spread over the tree's directories, 1-16 KiB each
    mid_count: int  # 1 MiB files, one session
    listings: int  # listings of the dir2000 directory
    fs_cat: int  # 4 KiB files read by fs.cat (the first ones of small8)
    fs_get: int  # bytes of the file fs.get_file fetches
    fs_ranges: int  # 64 KiB ranged reads of that file

    @property
    def tree_dirs(self) -> int:
        """Directories of the tree, its root included."""
        return 1 + self.tree_top * (1 + self.tree_sub)

    def describe(self) -> str:
        return (
            f"{self.small1} and {self.small8} × 4 KiB (at 100 ms: {self.small100}), a tree of"
            f" {self.tree_dirs} directories and {self.tree_files} files of 1-16 KiB,"
            f" {self.mid_count} × 1 MiB, a {human_bytes(self.fs_get)} file"
        )


FULL = Sizes(
    big=1 << 30,
    small_count=1000,
    small_size=4096,
    mid_count=100,
    mid_size=1 << 20,
    dir_entries=2000,
    listings=20,
    noops=5000,
    threads=32,
    sessions=8,
    ranges=200,
    wan=WanSizes(
        small1=40,
        small8=160,
        small100=48,
        tree_top=4,
        tree_sub=4,
        tree_files=200,
        mid_count=16,
        listings=10,
        fs_cat=48,
        fs_get=16 << 20,
        fs_ranges=20,
    ),
)
QUICK = Sizes(
    big=64 << 20,
    small_count=200,
    small_size=4096,
    mid_count=20,
    mid_size=1 << 20,
    dir_entries=500,
    listings=5,
    noops=500,
    threads=32,
    sessions=8,
    ranges=50,
    wan=WanSizes(
        small1=20,
        small8=40,
        small100=24,
        tree_top=2,
        tree_sub=2,
        tree_files=40,
        mid_count=5,
        listings=3,
        fs_cat=20,
        fs_get=4 << 20,
        fs_ranges=5,
    ),
)


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


# ---------------------------------------------------------------------------------------------
# Servers


class Server:
    """tests/servers/serve.py vsftpd, serving until stopped; with ``rtt_ms``, reached through
    serve.py's latency proxy (toxiproxy on 127.0.0.2 in front of the control port and every
    passive port, half the round-trip time added each way)."""

    def __init__(
        self, root: Path, passive: tuple[int, int], tls: bool, rtt_ms: int | None = None
    ) -> None:
        argv = [str(PYTHON), str(SERVE), "vsftpd", "--root", str(root)]
        argv += ["--passive-ports", f"{passive[0]}-{passive[1]}", "--max-cons", "200"]
        argv += ["--stop-after", str(6 * 3600)]
        if tls:
            argv += ["--tls", "explicit"]
        if rtt_ms is not None:
            argv += ["--rtt-ms", str(rtt_ms)]
        self.passive = passive
        self.tls = tls
        self.rtt_ms = rtt_ms
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"bench: vsftpd did not start (launcher exit {self.proc.wait()})")
        self.info: dict[str, Any] = json.loads(line)
        self.listener = psutil.Process(self.info["pid"])

    def url(self) -> str:
        i = self.info
        scheme = "ftpes" if self.tls else "ftp"
        return f"{scheme}://{i['user']}:{i['password']}@{i['host']}:{i['port']}/"

    def ftp_url(self, path: str) -> str:
        """The plain ``ftp://`` URL of a path (curl and lftp ask for TLS by option)."""
        i = self.info
        return f"ftp://{i['user']}:{i['password']}@{i['host']}:{i['port']}/{path.lstrip('/')}"

    def sessions(self) -> list[psutil.Process]:
        try:
            return self.listener.children(recursive=True)
        except psutil.Error:
            return []

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Waits until every session process has exited (and been reaped by the listener)."""
        end = time.monotonic() + timeout
        while self.sessions() and time.monotonic() < end:
            time.sleep(0.005)

    def cpu(self) -> float:
        """CPU seconds used so far by the listener and every session process, exited or not.

        Exited sessions count through the listener's reaped-children times: each session's
        privileged parent reaps its unprivileged child, and the listener reaps the session.
        """
        t = self.listener.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for p in self.sessions():
            with contextlib.suppress(psutil.Error):
                c = p.cpu_times()
                total += c.user + c.system + c.children_user + c.children_system
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_wan_server(root: Path, rtt: int, avoid: tuple[int, int] | None) -> Server:
    """A vsftpd behind the latency proxy, its passive window clear of ``avoid`` and of every
    port something already holds on the proxy's address (other latency proxies on this machine
    listen on 127.0.0.2 too); a few attempts, since a port can be taken in between."""
    last = ""
    for _ in range(5):
        for _ in range(50):
            window = passive_window(WAN_PASSIVE_PORTS, avoid=avoid)
            if all(bindable(PROXY_HOST, port) for port in range(window[0], window[1] + 1)):
                break
        try:
            return Server(root, window, tls=False, rtt_ms=rtt)
        except SystemExit as e:
            last = str(e)
            log(f"bench: the {rtt} ms server did not start ({last}); another window")
    raise SystemExit(f"bench: the {rtt} ms server did not start: {last}")


#: The latency proxy's address (serve.py's default --proxy-host).
PROXY_HOST = "127.0.0.2"


def bindable(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# The environment of a run


@dataclass
class Env:
    sizes: Sizes
    scratch: Path
    root: Path
    out: Path
    #: Where the small-file workloads write (a tmpfs: see `MEMORY_OUT`).
    out_mem: Path
    lists: Path
    plain: Server
    tls: Server
    #: The WAN profile's servers by round-trip time in ms (only those a chosen workload uses).
    wan: dict[int, Server]
    measure: Path
    rust_client: Path | None
    c_client: Path | None
    c_missing: str
    python_missing: str
    python_module: str
    python_path: str
    uid: int = 0
    gid: int = 0

    @property
    def big_local(self) -> Path:
        return self.root / "big.bin"

    def names(self, kind: str) -> Path:
        return self.lists / f"{kind}.txt"

    def server(self, w: Workload) -> Server:
        """The server a workload runs against."""
        return self.wan[w.rtt] if w.rtt else self.tls if w.tls else self.plain

    @property
    def wan_sizes(self) -> WanSizes:
        assert self.sizes.wan is not None
        return self.sizes.wan


def write_random(path: Path, size: int) -> None:
    block = os.urandom(min(size, 16 * MIB))
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def generate_data(env: Env, loopback: bool, wan: bool) -> None:
    """The data of the chosen workloads (the listing directory is shared by both profiles)."""
    s, root = env.sizes, env.root
    files: list[tuple[str, str, int, int, str]] = []  # (list name, dir, count, size, pattern)
    if loopback:
        write_random(root / "big.bin", s.big)
        files += [
            ("small", "small", s.small_count, s.small_size, "f{:04d}.bin"),
            ("mid", "mid", s.mid_count, s.mid_size, "m{:03d}.bin"),
        ]
    if wan:
        w = env.wan_sizes
        files += [
            ("wan-s1", "wan/s1", w.small1, 4096, "f{:04d}.bin"),
            ("wan-s8", "wan/s8", w.small8, 4096, "f{:04d}.bin"),
            ("wan-s100", "wan/s100", w.small100, 4096, "f{:04d}.bin"),
            ("wan-mid", "wan/mid", w.mid_count, MIB, "m{:03d}.bin"),
        ]
    for kind, where, count, size, pattern in files:
        (root / where).mkdir(parents=True)
        names = []
        for i in range(count):
            name = pattern.format(i)
            (root / where / name).write_bytes(os.urandom(size))
            names.append(f"/{where}/{name}")
        env.names(kind).write_text("\n".join(names) + "\n")
    if wan:
        w = env.wan_sizes
        env.names("wan-fs").write_text(
            "\n".join(env.names("wan-s8").read_text().split()[: w.fs_cat]) + "\n"
        )
        write_random(root / "wan" / "get.bin", w.fs_get)
        make_tree(root / "wan" / "tree", w)
        # The upload rows' sources: local directories of 4 KiB files.
        for kind, count in (("up1", w.small1), ("up8", w.small8)):
            src = env.scratch / "src" / kind
            src.mkdir(parents=True)
            for i in range(count):
                (src / f"u{i:04d}.bin").write_bytes(os.urandom(4096))
    listing = root / "dir2000"
    listing.mkdir()
    for i in range(s.dir_entries):
        (listing / f"entry-{i:05d}.dat").write_bytes(b"x" * (i % 97))
    (root / "up").mkdir()
    for path in [root, *root.rglob("*")]:
        os.chown(path, env.uid, env.gid)
    os.sync()


def make_tree(top: Path, w: WanSizes) -> None:
    """The WAN profile's tree: ``tree_top`` directories with ``tree_sub`` subdirectories each,
    the files dealt round-robin over every directory (the root included), 1-16 KiB each."""
    dirs = [top]
    for i in range(w.tree_top):
        d = top / f"d{i:02d}"
        dirs += [d, *(d / f"s{j:02d}" for j in range(w.tree_sub))]
    for d in dirs:
        d.mkdir(parents=True)
    for i in range(w.tree_files):
        size = 1024 + (i * 4093) % (15 * 1024)
        (dirs[i % len(dirs)] / f"t{i:04d}.bin").write_bytes(os.urandom(size))


def files_below(top: Path) -> dict[str, int]:
    """{relative path: size} of every file below ``top`` (empty when it does not exist)."""
    if not top.is_dir():
        return {}
    return {str(p.relative_to(top)): p.stat().st_size for p in top.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------------------------
# Workloads


@dataclass(frozen=True)
class Variant:
    label: str = ""
    threads: int = 0


@dataclass
class Workload:
    key: str
    title: str
    unit: str
    higher_better: bool = True
    tls: bool = False
    variants: tuple[Variant, ...] = (Variant(),)
    # "report", "limit_curl", "best:F", "vs:ROW:F", "shared:F", "noop:F", "rss:MIB"
    goal: str = "report"
    #: The WAN profile: the round-trip time (ms) of the latency proxy; 0 on loopback.
    rtt: int = 0
    #: WAN: the protocol's floor in round trips per item (file, listing, read) at this
    #: workload's parallelism, through the proxy (bench/README.md, "The WAN profile").
    floor: float = 0.0
    #: WAN: what an item is, for the round trips per item.
    item: str = "file"

    @property
    def throughput(self) -> bool:
        return self.key not in ("noop", "stream")

    def amount(self, env: Env) -> float:
        """What one run moves, in the numerator of the unit (MB, files, listings)."""
        s = env.sizes
        return {
            "dl_null": s.big / MB,
            "dl_file": s.big / MB,
            "upload": s.big / MB,
            "ftps": s.big / MB,
            "stream": s.big / MB,
            "small1": s.small_count,
            "small8": s.small_count,
            "mid1": s.mid_count * s.mid_size / MB,
            "list": s.listings,
            "shared": s.small_count,
            "noop": s.noops,
            "fs_cat": s.small_count,
            "fs_get": s.big / MB,
            "fs_ranges": s.ranges,
            **self.wan_amounts(env),
        }[self.key]

    def wan_amounts(self, env: Env) -> dict[str, float]:
        w = env.sizes.wan
        if w is None:
            return {}
        return {
            "wan_dl1": w.small1,
            "wan_dl8": w.small8,
            "wan_up1": w.small1,
            "wan_up8": w.small8,
            "wan_tree_dl": w.tree_files,
            "wan_tree_up": w.tree_files,
            "wan_mid": w.mid_count * MIB / MB,
            "wan_list": w.listings,
            "wan100_dl8": w.small100,
            "wan_fs_cat": w.fs_cat,
            "wan_fs_get": w.fs_get / MB,
            "wan_fs_ranges": w.fs_ranges,
        }

    def items(self, env: Env) -> int:
        """WAN: the files (listings, reads) one run moves, for the round trips per item."""
        w = env.wan_sizes
        return {
            "wan_mid": w.mid_count,
            "wan_fs_get": 1,
        }.get(self.key) or round(self.amount(env))


def workloads(sizes: Sizes) -> list[Workload]:
    big = human_bytes(sizes.big)
    n, k = sizes.small_count, sizes.sessions
    return [
        Workload("dl_null", f"{big} download → /dev/null", "MB/s", goal="limit_curl"),
        Workload("dl_file", f"{big} download → file", "MB/s", goal="best:1.1"),
        Workload("upload", f"{big} upload", "MB/s", goal="best:1.1"),
        Workload("small1", f"{n} × 4 KiB, one session", "files/s", goal="best:1.3"),
        # Its wall time is vsftpd's (the server's CPU on the same 2 cores), so its goal is the
        # client's CPU for the same files (issue 17).
        Workload("small8", f"{n} × 4 KiB, {k} sessions", "files/s", goal="cpu:curl:0.7"),
        Workload("mid1", f"{sizes.mid_count} × 1 MiB, one session", "MB/s"),
        Workload(
            "list",
            f"{sizes.listings} listings of a {sizes.dir_entries}-entry dir, parsed",
            "listings/s",
            goal="vs:ftplib:2.0",
        ),
        Workload(
            "shared",
            f"{n} reads of 4 KiB: {sizes.threads} threads sharing one session vs serially",
            "files/s",
            variants=(Variant("serial", 1), Variant(f"{sizes.threads} threads", sizes.threads)),
            goal="shared:0.95",
        ),
        Workload(
            "noop",
            f"NOOP round trip, {sizes.noops} calls (blocking API)",
            "µs/call",
            higher_better=False,
            goal="noop:1.2",
        ),
        Workload(
            "stream", f"peak RSS while streaming {big}", "MiB", higher_better=False, goal="rss:64"
        ),
        Workload("ftps", f"(FTPS) {big} download over explicit TLS → /dev/null", "MB/s", tls=True),
        # fsspec (issue 14): ferroftp.fsspec.FTPFileSystem against fsspec's own FTPFileSystem.
        Workload("fs_cat", f"fsspec cat of {n} × 4 KiB", "files/s", goal="vs:fsspec:3.0"),
        Workload("fs_get", f"fsspec get of the {big} file → file", "MB/s", goal="vs:fsspec:3.0"),
        Workload(
            "fs_ranges",
            f"fsspec: {sizes.ranges} random {human_bytes(sizes.range_size)} ranged reads of the"
            f" {big} file",
            "reads/s",
            goal="vs:fsspec:3.0",
        ),
        *wan_workloads(sizes),
    ]


def wan_workloads(sizes: Sizes) -> list[Workload]:
    """The WAN profile: vsftpd through the latency proxy at 20 ms (one row at 100 ms). Goals of
    issue 17 (ratios against the best anchor in the same run, at 20 ms). ``floor``: the least
    round trips per item the protocol allows here (bench/README.md explains each)."""
    w = sizes.wan
    if w is None:
        return []
    k = sizes.sessions
    tree = f"a tree of {w.tree_dirs} dirs / {w.tree_files} files"
    # A tree's floor: every directory is listed (or made) like a file is moved, over k
    # sessions; the chain of levels (a directory's listing before its subdirectories') at 1.5
    # round trips a level bounds it from below as well.
    levels = 3 if w.tree_sub else 2 if w.tree_top else 1
    tree_dl = max((w.tree_files + w.tree_dirs) * 0.5 / k, levels * 1.5) / w.tree_files
    tree_up = max(w.tree_files * 1.0 / k, 1.0) / w.tree_files
    return [
        Workload("wan_dl1", f"20 ms: {w.small1} × 4 KiB download, one session", "files/s",
                 goal="vs:curl:3.0", rtt=20, floor=0.5),
        Workload("wan_dl8", f"20 ms: {w.small8} × 4 KiB download, {k} sessions", "files/s",
                 goal="best:2.5", rtt=20, floor=0.5 / k),
        Workload("wan_up1", f"20 ms: {w.small1} × 4 KiB upload, one session", "files/s",
                 goal="best:1.5", rtt=20, floor=1.0),
        Workload("wan_up8", f"20 ms: {w.small8} × 4 KiB upload, {k} sessions", "files/s",
                 goal="best:1.5", rtt=20, floor=1.0 / k),
        Workload("wan_tree_dl", f"20 ms: download of {tree}, {k} sessions", "files/s",
                 goal="vs:lftp:2.5", rtt=20, floor=tree_dl),
        Workload("wan_tree_up", f"20 ms: upload of {tree}, {k} sessions", "files/s",
                 rtt=20, floor=tree_up),
        Workload("wan_mid", f"20 ms: {w.mid_count} × 1 MiB download, one session", "MB/s",
                 rtt=20, floor=0.5),
        Workload("wan_list",
                 f"20 ms: {w.listings} listings of a {sizes.dir_entries}-entry dir, one after"
                 " another", "listings/s", rtt=20, floor=1.5, item="listing"),
        Workload("wan100_dl8", f"100 ms: {w.small100} × 4 KiB download, {k} sessions",
                 "files/s", rtt=100, floor=0.5 / k),
        Workload("wan_fs_cat", f"20 ms: fsspec cat of {w.fs_cat} × 4 KiB", "files/s",
                 rtt=20, floor=0.5 / k),
        Workload("wan_fs_get", f"20 ms: fsspec get of a {human_bytes(w.fs_get)} file → file",
                 "MB/s", rtt=20, floor=1.5),
        Workload("wan_fs_ranges",
                 f"20 ms: fsspec: {w.fs_ranges} random {human_bytes(sizes.range_size)} ranged"
                 f" reads of the {human_bytes(w.fs_get)} file", "reads/s", rtt=20, floor=1.5,
                 item="read"),
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Rows, commands and samples


@dataclass
class Cmd:
    argv: list[str]
    note: str = ""
    # Turns what the command printed into the client JSON's fields.
    parse: Callable[[str], dict[str, Any]] | None = None
    # Runs untimed before the command; what it returns is handed to after().
    before: Callable[[], Any] | None = None
    # Runs after the command; may return {"server_cpu": seconds} (iperf3's own server).
    after: Callable[[Any], dict[str, Any]] | None = None
    # Extra environment variables of the command.
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Sample:
    wall: float  # whole process, start to exit
    inproc: float | None  # the client's own time, connect to close (library rows)
    op: float | None  # the client's time of the operations alone (iperf3: its own)
    client_cpu: float
    server_cpu: float
    rss_kib: int
    stalls: int | None = None  # curl's transfers of a second or more


@dataclass
class Tool:
    key: str
    label: str
    kind: str  # "library", "cli" or "limit"
    face: str | None  # "Rust", "Python", "C" for ferroftp's rows; None for anchors
    build: Callable[[Case, Env, Path], Cmd | str | None]

    @property
    def basis(self) -> str:
        return {"library": IN_PROCESS, "cli": WHOLE, "limit": OP}[self.kind]


@dataclass
class Case:
    workload: Workload
    variant: Variant
    tool: Tool
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    unavailable: str = ""
    note: str = ""
    #: WAN: the failure of the warm-up run, after which the case is not run again.
    given_up: str = ""

    @property
    def label(self) -> str:
        v = f", {self.variant.label}" if self.variant.label else ""
        return f"{self.tool.label}{v}"

    @property
    def basis(self) -> str:
        """The timing basis of this case's main number."""
        return OP if self.workload.key == "noop" else self.tool.basis


TOOLS: list[Tool] = []
Builder = Callable[["Case", "Env", Path], "Cmd | str | None"]


def row(key: str, label: str, kind: str, face: str | None = None) -> Callable[[Builder], Builder]:
    """Registers a row: ``build(case, env, out_dir)`` returns its command for the case, None
    when the row takes no part in that workload, or a string saying why it cannot."""

    def register(fn: Builder) -> Builder:
        TOOLS.append(Tool(key, label, kind, face, fn))
        return fn

    return register


def client_args(key: str, case: Case, env: Env, out: Path) -> list[str] | None:
    """The common command line of the library clients (Rust, C, Python) for workload ``key``."""
    if key.startswith("wan"):
        return wan_client_args(key, case, env, out)
    s = env.sizes
    server = env.tls if key == "ftps" else env.plain
    base = ["--url", server.url()]
    if key == "ftps":
        base += ["--ca-file", server.info["cafile"]]
    if key in ("dl_null", "ftps"):
        return ["download", *base, "--remote", "/big.bin", "--local", os.devnull]
    if key == "dl_file":
        return ["download", *base, "--remote", "/big.bin", "--local", str(out / "big.bin")]
    if key == "upload":
        remote = f"/up/{case.tool.key}.bin"
        return ["upload", *base, "--local", str(env.big_local), "--remote", remote]
    if key in ("small1", "small8", "mid1"):
        names = str(env.names("mid" if key == "mid1" else "small"))
        sessions = str(s.sessions if key == "small8" else 1)
        return ["files", *base, "--names", names, "--local-dir", str(out), "--sessions", sessions]
    if key == "list":
        count, expect = str(s.listings), str(s.dir_entries)
        return ["list", *base, "--remote", "/dir2000", "--count", count, "--expect", expect]
    if key == "shared":
        names, threads = str(env.names("small")), str(case.variant.threads)
        return ["read-many", *base, "--names", names, "--threads", threads]
    if key == "noop":
        return ["noop", *base, "--count", str(s.noops)]
    if key == "stream":
        return ["stream", *base, "--remote", "/big.bin"]
    return None


#: The WAN profile's small-file downloads: (the list of names, sessions).
WAN_FILES = {
    "wan_dl1": ("wan-s1", 1),
    "wan_dl8": ("wan-s8", 8),
    "wan100_dl8": ("wan-s100", 8),
    "wan_mid": ("wan-mid", 1),
}
#: The WAN profile's uploads: (the local source directory under scratch/src, sessions).
WAN_UPLOADS = {"wan_up1": ("up1", 1), "wan_up8": ("up8", 8)}


def wan_target(case: Case, env: Env) -> Path:
    """Where a WAN upload row writes, in the served directory (/up/wan-ROW)."""
    return env.root / "up" / f"wan-{case.tool.key}"


def wan_client_args(key: str, case: Case, env: Env, out: Path) -> list[str] | None:
    """The library clients' command line of a WAN workload (the fsspec ones aside)."""
    w, server = env.wan_sizes, env.server(case.workload)
    base = ["--url", server.url()]
    remote_up = f"/up/wan-{case.tool.key}"
    if key in WAN_FILES:
        names, n = WAN_FILES[key]
        names_file = str(env.names(names))
        return [
            "files",
            *base,
            "--names",
            names_file,
            "--local-dir",
            str(out),
            "--sessions",
            str(n),
        ]
    if key in WAN_UPLOADS:
        src, n = WAN_UPLOADS[key]
        local = str(env.scratch / "src" / src)
        return [
            "upload-files",
            *base,
            "--local-dir",
            local,
            "--remote-dir",
            remote_up,
            "--sessions",
            str(n),
        ]
    k = str(env.sizes.sessions)
    if key == "wan_tree_dl":
        return [
            "tree-get",
            *base,
            "--remote",
            "/wan/tree",
            "--local-dir",
            str(out / "tree"),
            "--sessions",
            k,
        ]
    if key == "wan_tree_up":
        local = str(env.root / "wan" / "tree")
        return [
            "tree-put",
            *base,
            "--local",
            local,
            "--remote",
            f"{remote_up}/tree",
            "--sessions",
            k,
        ]
    if key == "wan_list":
        count, expect = str(w.listings), str(env.sizes.dir_entries)
        return ["list", *base, "--remote", "/dir2000", "--count", count, "--expect", expect]
    return None


#: The fsspec workloads: both rows run bench/clients/py_client.py with the same code on an
#: fsspec filesystem (ferroftp.fsspec's, or fsspec's own ftplib-based one).
FSSPEC_WORKLOADS = {"fs_cat": "fs-cat", "fs_get": "fs-get", "fs_ranges": "fs-ranges"}
#: The filesystems' own timeout in the WAN profile: fsspec's ranged read waits that long for
#: the reply to its ABOR (bench/README.md), which is then its failure.
WAN_FS_TIMEOUT = 10


def fsspec_args(key: str, env: Env, out: Path) -> list[str] | None:
    """The py_client.py command line of an fsspec workload (None for the others)."""
    if key.startswith("wan_fs_"):
        return wan_fsspec_args(key, env, out)
    if key not in FSSPEC_WORKLOADS:
        return None
    s = env.sizes
    base = [FSSPEC_WORKLOADS[key], "--url", env.plain.url()]
    if key == "fs_cat":
        return [*base, "--names", str(env.names("small"))]
    if key == "fs_get":
        return [*base, "--remote", "/big.bin", "--local", str(out / "big.bin")]
    count, size = str(s.ranges), str(s.range_size)
    return [*base, "--remote", "/big.bin", "--count", count, "--size", size]


def wan_fsspec_args(key: str, env: Env, out: Path) -> list[str]:
    w = env.wan_sizes
    url = env.wan[20].url()
    base = [FSSPEC_WORKLOADS[key[4:]], "--url", url, "--timeout", str(WAN_FS_TIMEOUT)]
    if key == "wan_fs_cat":
        return [*base, "--names", str(env.names("wan-fs"))]
    if key == "wan_fs_get":
        return [*base, "--remote", "/wan/get.bin", "--local", str(out / "get.bin")]
    count, size = str(w.fs_ranges), str(env.sizes.range_size)
    return [*base, "--remote", "/wan/get.bin", "--count", count, "--size", size]


def batch_note(key: str, face: str, sessions: int) -> str:
    """What a ferroftp row calls in a WAN workload (``sessions``: the pool's, where the
    workload does not fix it)."""
    if key in WAN_UPLOADS:
        sessions = WAN_UPLOADS[key][1]
        return f"upload_many, {sessions} session(s)"
    if key in ("wan_tree_dl", "wan_tree_up"):
        op = "download_tree" if key == "wan_tree_dl" else "upload_tree"
        return f"{op}, {sessions} sessions"
    if key in WAN_FILES:
        n = WAN_FILES[key][1]
        if face == "Rust":
            return f"Pool::download_many({n})"
        if face == "C":
            return f"ferroftp_pool_download_many, {n} session(s)"
        return f"Pool.download_many, {n} session(s)"
    return ""


def parse_json(text: str) -> dict[str, Any]:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise ValueError(f"no JSON line in the output: {text[-300:]!r}")
    return dict(json.loads(lines[-1]))


# --- ferroftp's rows -------------------------------------------------------------------------


@row("rust", "ferroftp (Rust)", "library", face="Rust")
def rust_row(case: Case, env: Env, out: Path) -> Cmd | str | None:
    if env.rust_client is None:
        return "the Rust client did not build"
    args = client_args(case.workload.key, case, env, out)
    if not args:
        return None
    k = case.workload.key
    n = env.sizes.sessions if k == "small8" else 1
    note = f"Pool::download_many({n})" if k in ("small1", "small8", "mid1") else ""
    note = note or batch_note(k, "Rust", env.sizes.sessions)
    return Cmd([str(env.rust_client), *args], note=note, parse=parse_json)


@row("python", "ferroftp (Python)", "library", face="Python")
def python_row(case: Case, env: Env, out: Path) -> Cmd | str | None:
    if env.python_missing:
        return env.python_missing
    k = case.workload.key
    fs_args = fsspec_args(k, env, out)
    if fs_args:
        argv = [str(PYTHON), str(PY_CLIENT), "ferroftp", *fs_args]
        note = "ferroftp.fsspec.FTPFileSystem (AsyncPool of 8)"
        return Cmd(argv, note=note, parse=parse_json, env={"PYTHONPATH": env.python_path})
    args = client_args(case.workload.key, case, env, out)
    if not args:
        return None
    n = env.sizes.sessions if k == "small8" else 1
    note = f"Pool.download_many, {n} session(s)" if k in ("small1", "small8", "mid1") else ""
    note = note or batch_note(k, "Python", env.sizes.sessions)
    argv = [str(PYTHON), str(PY_CLIENT), "ferroftp", *args]
    return Cmd(argv, note=note, parse=parse_json, env={"PYTHONPATH": env.python_path})


@row("c", "ferroftp (C)", "library", face="C")
def c_row(case: Case, env: Env, out: Path) -> Cmd | str | None:
    if env.c_client is None:
        return env.c_missing
    key, note = case.workload.key, ""
    if key == "stream":
        key, note = "dl_null", "download → /dev/null (the C API has no streaming reader)"
    elif key in ("small1", "small8", "mid1"):
        n = env.sizes.sessions if key == "small8" else 1
        note = f"ferroftp_pool_download_many, {n} session(s)"
    args = client_args(key, case, env, out)
    note = note or batch_note(key, "C", env.sizes.sessions)
    return Cmd([str(env.c_client), *args], note=note, parse=parse_json) if args else None


# --- library anchors -------------------------------------------------------------------------


def py_anchor(lib: str, case: Case, env: Env, out: Path) -> Cmd | str | None:
    k = case.workload.key
    if k in ("shared", "stream"):
        return None
    args = client_args(k, case, env, out)
    if not args:
        return None
    notes = []
    if lib == "aioftp" and k in ("dl_null", "dl_file", "small1", "small8", "mid1"):
        notes.append("download_stream")
    if lib == "aioftp" and k == "upload":
        notes.append("upload_stream")
    if k == "small8":
        what = "tasks, one client" if lib == "aioftp" else "threads, one connection"
        notes.append(f"{env.sizes.sessions} {what} each")
    if lib == "ftplib" and k in ("list", "wan_list"):
        notes.append("LIST lines split into fields")
    notes += wan_anchor_notes(lib, k, env)
    argv = [str(PYTHON), str(PY_CLIENT), lib, *args]
    return Cmd(argv, note=", ".join(notes), parse=parse_json)


def wan_anchor_notes(lib: str, k: str, env: Env) -> list[str]:
    """How ftplib and aioftp do a WAN workload."""
    n = env.sizes.sessions
    each = "tasks, one client each" if lib == "aioftp" else "threads, one connection each"
    if k in WAN_FILES or k in WAN_UPLOADS:
        many = (WAN_FILES.get(k) or WAN_UPLOADS[k])[1] > 1
        stream = "download_stream" if k in WAN_FILES else "upload_stream"
        notes = [stream] if lib == "aioftp" else []
        return notes + ([f"{n} {each}"] if many else [])
    if k == "wan_tree_dl":
        walk = "list(recursive=True) (LIST)" if lib == "aioftp" else "a LIST per directory"
        return [f"walk on one connection ({walk}), then the files over {n} {each}"]
    if k == "wan_tree_up":
        return [f"MKD of every directory on one connection, then the files over {n} {each}"]
    return []


@row("ftplib", "ftplib", "library")
def ftplib_row(case: Case, env: Env, out: Path) -> Cmd | str | None:
    if case.workload.key == "ftps":
        return "ftplib does not resume the TLS session on data connections (vsftpd requires it)"
    return py_anchor("ftplib", case, env, out)


@row("aioftp", "aioftp 0.28.3", "library")
def aioftp_row(case: Case, env: Env, out: Path) -> Cmd | str | None:
    if case.workload.key == "ftps":
        return (
            "aioftp does the data connection's TLS handshake before RETR, vsftpd only after it:"
            " the transfer never starts"
        )
    return py_anchor("aioftp", case, env, out)


@row("fsspec", "fsspec's FTPFileSystem", "library")
def fsspec_row(case: Case, env: Env, out: Path) -> Cmd | str | None:
    args = fsspec_args(case.workload.key, env, out)
    if not args:
        return None
    note = "fsspec.implementations.ftp (ftplib, one connection)"
    if case.workload.key == "wan_fs_ranges":
        # Seen with ftplib's debug log: the server has sent the whole file into the proxy (226),
        # and the line ending of ABOR, sent as TCP urgent data, never reaches it.
        note += (
            "; each range ends with ABOR, whose last byte ftplib sends as TCP urgent data:"
            " toxiproxy does not pass that byte on, so vsftpd never answers (bench/README.md)"
        )
    return Cmd([str(PYTHON), str(PY_CLIENT), "fsspec", *args], note=note, parse=parse_json)


# --- CLI anchors -----------------------------------------------------------------------------


def lftp_script(env: Env, tls: bool, commands: str, server: Server | None = None) -> list[str]:
    server = server or (env.tls if tls else env.plain)
    i = server.info
    settings = [
        "set cmd:fail-exit yes",
        "set net:max-retries 1",
        "set net:timeout 60",
        "set xfer:clobber on",
    ]
    if tls:
        settings += [
            "set ftp:ssl-force yes",
            "set ftp:ssl-protect-data yes",
            f"set ssl:ca-file {i['cafile']}",
        ]
    else:
        settings.append("set ftp:ssl-allow no")
    if server.rtt_ms is not None:
        # PASV replies name the proxy already; this is what a client behind NAT would set.
        settings += ["set ftp:ignore-pasv-address yes", "set cache:enable no"]
    opened = f"open -u {i['user']},{i['password']} -p {i['port']} {i['host']}"
    return ["lftp", "-c", "; ".join([*settings, opened, commands])]


@row("lftp", "lftp 4.9", "cli")
def lftp_row(case: Case, env: Env, out: Path) -> Cmd | str | None:
    k, s = case.workload.key, env.sizes
    if case.workload.rtt:
        return lftp_wan(case, env, out)
    if k in ("dl_null", "ftps"):
        return Cmd(lftp_script(env, k == "ftps", "get /big.bin -o /dev/null"))
    if k == "dl_file":
        return Cmd(lftp_script(env, False, f"get /big.bin -o {out / 'big.bin'}"))
    if k == "upload":
        return Cmd(lftp_script(env, False, f"put {env.big_local} -o /up/lftp.bin"))
    if k in ("small1", "mid1"):
        src = "/mid" if k == "mid1" else "/small"
        return Cmd(lftp_script(env, False, f"mirror {src} {out}"), note="mirror (lists the dir)")
    if k == "small8":
        cmd = f"mirror -P {s.sessions} /small {out}"
        return Cmd(lftp_script(env, False, cmd), note=f"mirror -P {s.sessions}")
    return None


def lftp_wan(case: Case, env: Env, out: Path) -> Cmd | str | None:
    k, n = case.workload.key, env.sizes.sessions
    server = env.server(case.workload)

    def script(
        commands: str, note: str, parse: Callable[[str], dict[str, Any]] | None = None
    ) -> Cmd:
        return Cmd(lftp_script(env, False, commands, server), note=note, parse=parse)

    if k in WAN_FILES:
        src = f"/wan/{WAN_FILES[k][0].split('-', 1)[1]}"
        par = f" -P {n}" if WAN_FILES[k][1] > 1 else ""
        return script(f"mirror{par} {src} {out}", f"mirror{par} (lists the dir)")
    if k in WAN_UPLOADS:
        src, sessions = WAN_UPLOADS[k]
        par = f" -P {n}" if sessions > 1 else ""
        local = env.scratch / "src" / src
        return script(f"mirror -R{par} {local} /up/wan-lftp", f"mirror -R{par}")
    if k == "wan_tree_dl":
        return script(f"mirror -P {n} /wan/tree {out / 'tree'}", f"mirror -P {n}")
    if k == "wan_tree_up":
        local = env.root / "wan" / "tree"
        return script(f"mirror -R -P {n} {local} /up/wan-lftp/tree", f"mirror -R -P {n}")
    if k == "wan_list":
        count = env.wan_sizes.listings
        # `cls -l` would ask again for every entry (about a round trip each); `cls` prints the
        # names of the entries it parsed from LIST.
        listings = "; ".join(["cls /dir2000"] * count)
        return script(listings, "cls (LIST parsed by lftp, cache off)", parse=count_lines)
    return None


def count_lines(text: str) -> dict[str, Any]:
    """The lines a CLI printed (lftp's listings: one line per entry)."""
    return {"files": len(text.splitlines())}


def curl_config(env: Env, kind: str, out: Path, server: Server | None = None) -> Path:
    """A curl config file fetching every file of ``kind`` into ``out``, in one invocation."""
    path = out / "curl.cfg"
    server = server or env.plain
    with open(path, "w") as f:
        for name in env.names(kind).read_text().split():
            f.write(f'url = "{server.ftp_url(name)}"\n')
            f.write(f'output = "{out / name.rsplit("/", 1)[-1]}"\n')
    return path


def curl_count(text: str) -> dict[str, Any]:
    """The byte count curl printed with -w (%{size_download} or %{size_upload})."""
    return {"bytes": int(text.strip() or 0)}


def curl_stalls(text: str) -> dict[str, Any]:
    """Counts the transfers that took a second or more (-w "%{time_total}\\n" for each).

    curl 7.88 now and then waits exactly 1.0 s before opening a data connection on a reused
    control connection (its transfer loop sleeps for its default 1000 ms poll timeout); the
    count shows how much of a run that is.
    """
    return {"stalls": sum(float(t) >= 0.95 for t in text.split())}


@row("curl", "curl 7.88", "cli")
def curl_row(case: Case, env: Env, out: Path) -> Cmd | str | None:
    k, s = case.workload.key, env.sizes
    base = ["curl", "-sS", "--fail", "--no-progress-meter"]
    if case.workload.rtt:
        return curl_wan(case, env, out, base)
    if k == "dl_null":
        url = env.plain.ftp_url("/big.bin")
        return Cmd([*base, "-o", os.devnull, "-w", "%{size_download}", url], parse=curl_count)
    if k == "ftps":
        url = env.tls.ftp_url("/big.bin")
        tls = ["--ssl-reqd", "--cacert", env.tls.info["cafile"]]
        argv = [*base, *tls, "-o", os.devnull, "-w", "%{size_download}", url]
        return Cmd(argv, note="--ssl-reqd", parse=curl_count)
    if k == "dl_file":
        return Cmd([*base, "-o", str(out / "big.bin"), env.plain.ftp_url("/big.bin")])
    if k == "upload":
        url = env.plain.ftp_url("/up/curl.bin")
        return Cmd([*base, "-T", str(env.big_local), "-w", "%{size_upload}", url], parse=curl_count)
    each = ["-w", "%{time_total}\\n", "-K", str(out / "curl.cfg")]
    if k in ("small1", "mid1"):
        kind = "mid" if k == "mid1" else "small"
        return Cmd(
            [*base, *each],
            note="one process, every URL (-K)",
            parse=curl_stalls,
            before=lambda: curl_config(env, kind, out),
        )
    if k == "small8":
        return Cmd(
            [*base, "-Z", "--parallel-max", str(s.sessions), *each],
            note=f"-Z --parallel-max {s.sessions}",
            parse=curl_stalls,
            before=lambda: curl_config(env, "small", out),
        )
    return None


def curl_wan(case: Case, env: Env, out: Path, base: list[str]) -> Cmd | str | None:
    k, n = case.workload.key, env.sizes.sessions
    server = env.server(case.workload)
    # curl asks for EPSV first (vsftpd answers it: the control host is used); for PASV it
    # would take the reply's address, which this option replaces with the control host's.
    base = [*base, "--ftp-skip-pasv-ip"]
    cfg = ["-K", str(out / "curl.cfg")]
    # Stalls of 1 s (bench/README.md) are counted at 20 ms; at 100 ms a transfer's own time,
    # with its connect and login, comes near a second by itself.
    each, parse = (
        (["-w", "%{time_total}\\n"], curl_stalls) if case.workload.rtt < 100 else ([], None)
    )
    parallel = ["-Z", "--parallel-max", str(n)]
    if k in WAN_FILES:
        kind, sessions = WAN_FILES[k]
        argv = [*base, *(parallel if sessions > 1 else []), *each, *cfg]
        note = f"-Z --parallel-max {n}" if sessions > 1 else "one process, every URL (-K)"
        return Cmd(argv, note=note, parse=parse, before=lambda: curl_config(env, kind, out, server))
    if k in WAN_UPLOADS:
        src, sessions = WAN_UPLOADS[k]
        local = env.scratch / "src" / src
        pairs = [(p, f"/up/wan-curl/{p.name}") for p in sorted(local.iterdir())]
        argv = [*base, *(parallel if sessions > 1 else []), *each, *cfg]
        note = f"-T, -Z --parallel-max {n}" if sessions > 1 else "-T, one process, every file (-K)"
        return Cmd(
            argv, note=note, parse=parse, before=lambda: curl_upload_config(server, pairs, out)
        )
    if k == "wan_tree_dl":
        return (
            "curl cannot walk a remote tree (no recursive download); a list of the tree's URLs"
            " made beforehand would leave out the listing this row measures"
        )
    if k == "wan_tree_up":
        top = env.root / "wan" / "tree"
        pairs = [
            (p, f"/up/wan-curl/tree/{p.relative_to(top)}")
            for p in sorted(top.rglob("*"))
            if p.is_file()
        ]
        argv = [*base, "--ftp-create-dirs", *parallel, *each, *cfg]
        note = f"-T of every file of the local walk, --ftp-create-dirs, -Z --parallel-max {n}"
        return Cmd(
            argv, note=note, parse=parse, before=lambda: curl_upload_config(server, pairs, out)
        )
    if k == "wan_list":

        def listings() -> Path:
            path = out / "curl.cfg"
            url = server.ftp_url("/dir2000/")
            count = env.wan_sizes.listings
            lines = [f'url = "{url}"\noutput = "{out / f"list{i}.txt"}"\n' for i in range(count)]
            path.write_text("".join(lines))
            return path

        return Cmd(
            [*base, *each, *cfg],
            note="-K, LIST text (not parsed; lines counted)",
            parse=parse,
            before=listings,
        )
    return None


def curl_upload_config(server: Server, pairs: list[tuple[Path, str]], out: Path) -> Path:
    """A curl config file uploading each (local, remote) pair, in one invocation."""
    path = out / "curl.cfg"
    lines = [
        f'upload-file = "{local}"\nurl = "{server.ftp_url(remote)}"\n' for local, remote in pairs
    ]
    path.write_text("".join(lines))
    return path


@row("iperf3", "loopback limit (iperf3, 1 stream)", "limit")
def iperf3_row(case: Case, env: Env, out: Path) -> Cmd | str | None:
    if case.workload.key != "dl_null":
        return None
    port = free_port()
    server_argv = ["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)]

    def start() -> subprocess.Popen[bytes]:
        server = subprocess.Popen(server_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Wait for it to listen: a client that connects too early gets "connection refused".
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not listening(port):
            time.sleep(0.01)
        return server

    def stop(server: subprocess.Popen[bytes]) -> dict[str, Any]:
        # The one-off server exits after its client; if the client never came, kill it.
        deadline = time.monotonic() + 10
        pid, status, ru = os.wait4(server.pid, os.WNOHANG)
        while not pid and time.monotonic() < deadline:
            time.sleep(0.01)
            pid, status, ru = os.wait4(server.pid, os.WNOHANG)
        if not pid:
            server.kill()
            pid, status, ru = os.wait4(server.pid, 0)
        server.returncode = os.waitstatus_to_exitcode(status)
        return {"server_cpu": ru.ru_utime + ru.ru_stime}

    def parse(text: str) -> dict[str, Any]:
        received = json.loads(text)["end"]["sum_received"]
        return {"bytes": int(received["bytes"]), "op_s": float(received["seconds"])}

    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-R", "-n", str(env.sizes.big), "-J"]
    return Cmd(argv, note="-R (server sends), -n size", parse=parse, before=start, after=stop)


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (read from /proc: no probe connection, which
    a one-off iperf3 server would take for its client)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(parts[1] == want and parts[3] == "0A" for parts in (line.split() for line in f))


# ---------------------------------------------------------------------------------------------
# Running one sample


#: The workloads whose files go to a tmpfs. Measured here (perf, ext4 mounted with `discard`):
#: after a run's 1000 files are deleted, each new file's inode allocation scans the block
#: group's recently deleted inodes (`recently_deleted`, 65% of ferroftp's CPU), about 0.5 ms a
#: file for every client alike, which buries the clients' own cost. The 1 GiB download to a
#: file stays on the disk: that row is about the disk.
#: Passive ports of each WAN server: each is a toxiproxy listener of its own. 8 sessions bind
#: at random within the window (vsftpd tries 9 ports, then the session dies).
WAN_PASSIVE_PORTS = 100

MEMORY_OUT = ("small1", "small8", "wan_dl1", "wan_dl8", "wan100_dl8", "wan_tree_dl", "wan_list")


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs mounted at ``path`` (created) for the duration."""
    path.mkdir()
    argv = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)]
    done = subprocess.run(argv, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench: cannot mount a tmpfs at {path}: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def run_case(case: Case, env: Env, timeout: float) -> Sample | str:
    """Runs one case once: a Sample, or a string saying what went wrong."""
    base = env.out_mem if case.workload.key in MEMORY_OUT else env.out
    out = base / case.tool.key
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if case.workload.key in WAN_UPLOADS or case.workload.key == "wan_tree_up":
        target = wan_target(case, env)  # the row writes into it (a tree: below it)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        os.chown(target, env.uid, env.gid)
    cmd = case.tool.build(case, env, out)
    if not isinstance(cmd, Cmd):
        return "not applicable"
    server = env.server(case.workload)
    report = env.out / "measure.txt"
    stdout_path, stderr_path = env.out / "stdout", env.out / "stderr"
    state = None
    try:
        state = cmd.before() if cmd.before else None
        server.wait_idle()
        cpu0 = server.cpu()
        with open(stdout_path, "wb") as so, open(stderr_path, "wb") as se:
            proc = subprocess.Popen(
                [str(env.measure), str(report), *cmd.argv],
                stdin=subprocess.DEVNULL,
                stdout=so,
                stderr=se,
                cwd=out,
                env={**os.environ, **cmd.env},
                start_new_session=True,
            )
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return f"killed after {timeout:.0f} s"
            except BaseException:  # Ctrl-C, SIGTERM: leave nothing running
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
        extra = cmd.after(state) if cmd.after else {}
        server.wait_idle()
        cpu1 = server.cpu()
        if code != 0:
            err = stderr_path.read_text(errors="replace").strip().splitlines()
            # A Python traceback's marker lines (^^^^) say nothing.
            err = [x for x in err if x.strip().strip("^~ ")]
            return f"exit {code}: {' | '.join(err[-3:])[:300]}"
        wall, user, system, maxrss = report.read_text().split()
        parsed = cmd.parse(stdout_path.read_text(errors="replace")) if cmd.parse else {}
        problem = verify(case, env, out, parsed)
        if problem:
            return problem
        inproc, op = parsed.get("elapsed_s"), parsed.get("op_s")
        return Sample(
            wall=float(wall),
            inproc=float(inproc) if inproc is not None else None,
            op=float(op) if op is not None else None,
            client_cpu=float(user) + float(system),
            server_cpu=float(extra.get("server_cpu", cpu1 - cpu0)),
            rss_kib=int(maxrss),
            stalls=parsed.get("stalls"),
        )
    except (OSError, ValueError, KeyError) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        if isinstance(state, subprocess.Popen) and state.poll() is None:
            state.kill()  # a helper server (iperf3) whose client never came
            state.wait()
        cleanup(case, env, out)


def verify(case: Case, env: Env, out: Path, parsed: dict[str, Any]) -> str:
    """Checks that the run did the whole job; an empty string when it did."""
    s, k = env.sizes, case.workload.key
    reported = parsed.get("bytes")
    if k in ("dl_null", "ftps", "stream") and reported is not None and reported != s.big:
        return f"moved {reported} bytes, expected {s.big}"
    if k == "dl_file":
        got = (out / "big.bin").stat().st_size if (out / "big.bin").exists() else -1
        if got != s.big:
            return f"the downloaded file has {got} bytes, expected {s.big}"
    if k == "upload":
        target = env.root / "up" / f"{case.tool.key}.bin"
        got = target.stat().st_size if target.exists() else -1
        if got != s.big:
            return f"the uploaded file has {got} bytes, expected {s.big}"
    if k in ("small1", "small8", "mid1"):
        count, size = (s.mid_count, s.mid_size) if k == "mid1" else (s.small_count, s.small_size)
        files = [p for p in out.iterdir() if p.name.endswith(".bin")]
        wrong = [p.name for p in files if p.stat().st_size != size]
        if len(files) != count or wrong:
            return f"{len(files)} files downloaded ({len(wrong)} of a wrong size), not {count}"
    if k == "shared" and reported != s.small_count * s.small_size:
        return f"read {reported} bytes, expected {s.small_count * s.small_size}"
    if k == "fs_cat" and reported != s.small_count * s.small_size:
        return f"cat gave {reported} bytes, expected {s.small_count * s.small_size}"
    if k == "fs_get":
        got = (out / "big.bin").stat().st_size if (out / "big.bin").exists() else -1
        if got != s.big or reported != s.big:
            return f"get wrote {got} bytes (reported {reported}), expected {s.big}"
    if k == "fs_ranges" and reported != s.ranges * s.range_size:
        return f"read {reported} bytes in ranges, expected {s.ranges * s.range_size}"
    if k == "noop" and parsed.get("ops") != s.noops:
        return f"{parsed.get('ops')} NOOPs, expected {s.noops}"
    if case.workload.rtt:
        return verify_wan(case, env, out, parsed)
    return ""


def verify_wan(case: Case, env: Env, out: Path, parsed: dict[str, Any]) -> str:
    """verify() of the WAN profile's workloads."""
    w, k = env.wan_sizes, case.workload.key
    reported = parsed.get("bytes")
    if k in WAN_FILES or k in WAN_UPLOADS:
        if k in WAN_FILES:
            count = len(env.names(WAN_FILES[k][0]).read_text().split())
            size, where = (MIB if k == "wan_mid" else 4096), out
        else:
            count, size, where = (
                (w.small1 if k == "wan_up1" else w.small8),
                4096,
                wan_target(case, env),
            )
        files = [p for p in where.iterdir() if p.name.endswith(".bin")] if where.is_dir() else []
        wrong = [p.name for p in files if p.stat().st_size != size]
        if len(files) != count or wrong:
            verb = "downloaded" if k in WAN_FILES else "uploaded"
            return f"{len(files)} files {verb} ({len(wrong)} of a wrong size), not {count}"
    if k in ("wan_tree_dl", "wan_tree_up"):
        want = files_below(env.root / "wan" / "tree")
        got = files_below(out / "tree" if k == "wan_tree_dl" else wan_target(case, env) / "tree")
        if got != want:
            missing, wrong = (
                set(want) - set(got),
                [p for p in want if p in got and got[p] != want[p]],
            )
            return (
                f"the tree has {len(got)} files, expected {len(want)} ({len(missing)} missing,"
                f" {len(wrong)} of a wrong size, {len(set(got) - set(want))} extra)"
            )
    if k == "wan_list":
        expect = w.listings * env.sizes.dir_entries
        if case.tool.key == "curl":
            lines = sum(len(p.read_text().splitlines()) for p in out.glob("list*.txt"))
            if lines != expect:
                return f"{lines} LIST lines in the listings, expected {expect}"
        elif case.tool.key == "lftp":
            if parsed.get("files") != expect:
                return f"{parsed.get('files')} entries listed, expected {expect}"
        elif parsed.get("ops") != w.listings:
            return f"{parsed.get('ops')} listings, expected {w.listings}"
    if k == "wan_fs_cat" and reported != w.fs_cat * 4096:
        return f"cat gave {reported} bytes, expected {w.fs_cat * 4096}"
    if k == "wan_fs_get":
        size = (out / "get.bin").stat().st_size if (out / "get.bin").exists() else -1
        if size != w.fs_get or reported != w.fs_get:
            return f"get wrote {size} bytes (reported {reported}), expected {w.fs_get}"
    if k == "wan_fs_ranges" and reported != w.fs_ranges * env.sizes.range_size:
        return f"read {reported} bytes in ranges, expected {w.fs_ranges * env.sizes.range_size}"
    return ""


#: The workloads that write to the disk: dirty pages are flushed after each of their runs.
SYNC_AFTER: tuple[str, ...] = ("dl_file", "upload", "small1", "small8", "mid1", "fs_get")
SYNC_AFTER += ("wan_up1", "wan_up8", "wan_tree_up", "wan_mid", "wan_fs_get")


def cleanup(case: Case, env: Env, out: Path) -> None:
    """Untimed: removes what the run wrote, then flushes dirty pages so that no run pays for
    the write-back of the one before."""
    shutil.rmtree(out, ignore_errors=True)
    if case.workload.key == "upload":
        with contextlib.suppress(FileNotFoundError):
            (env.root / "up" / f"{case.tool.key}.bin").unlink()
    if case.workload.key in WAN_UPLOADS or case.workload.key == "wan_tree_up":
        shutil.rmtree(wan_target(case, env), ignore_errors=True)
    if case.workload.key in SYNC_AFTER:
        os.sync()


# ---------------------------------------------------------------------------------------------
# Statistics


def metric(case: Case, sample: Sample, basis: str, env: Env) -> float | None:
    """The workload's number for one sample on a timing basis (None when not available)."""
    w = case.workload
    if w.key == "stream":
        return sample.rss_kib / 1024
    t = {WHOLE: sample.wall, IN_PROCESS: sample.inproc, OP: sample.op}[basis]
    if t is None or t <= 0:
        return None
    if w.key == "noop":
        return t / env.sizes.noops * 1e6
    return w.amount(env) / t


@dataclass
class Stat:
    median: float
    low: float
    high: float


def case_stat(case: Case, basis: str, env: Env) -> Stat | None:
    values = [v for v in (metric(case, s, basis, env) for s in case.samples) if v is not None]
    if not values:
        return None
    return Stat(statistics.median(values), min(values), max(values))


def median_of(case: Case, attr: str) -> float | None:
    values = [getattr(s, attr) for s in case.samples if getattr(s, attr) is not None]
    return statistics.median(values) if values else None


def round_trips(case: Case, env: Env) -> float | None:
    """WAN: the round trips per item (file, listing, read) a case's main number implies: its
    time (the main number's basis) per item, divided by the round-trip time (the median over
    the samples)."""
    w = case.workload
    times = [{WHOLE: s.wall, IN_PROCESS: s.inproc, OP: s.op}[case.basis] for s in case.samples]
    values = [t / w.items(env) / (w.rtt / 1000) for t in times if t]
    return statistics.median(values) if values else None


def rtt_text(case: Case, env: Env) -> str:
    """``1.83 (floor 0.50)``: round trips per item against the protocol's floor."""
    r = round_trips(case, env)
    return f"{fmt(r)} (floor {case.workload.floor:.2g})" if r is not None else "—"


def fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def faces(cases: list[Case], variant: Variant | None = None) -> list[Case]:
    """ferroftp's rows that have samples (of one variant)."""
    return [
        c for c in cases if c.tool.face and c.samples and (variant is None or c.variant == variant)
    ]


def anchors(cases: list[Case]) -> list[Case]:
    return [c for c in cases if not c.tool.face and c.samples]


def ratio(face: Case, anchor: Case, env: Env) -> float | None:
    """ferroftp ÷ anchor (>1: ferroftp is better), each on its own timing basis; against the
    loopback limit, ferroftp's transfer time alone."""
    face_basis = OP if anchor.tool.kind == "limit" else face.basis
    f, a = case_stat(face, face_basis, env), case_stat(anchor, anchor.basis, env)
    if not f or not a or not a.median or not f.median:
        return None
    r = f.median / a.median
    return r if face.workload.higher_better else 1 / r


# ---------------------------------------------------------------------------------------------
# The report


def table(w: Workload, cases: list[Case], env: Env) -> list[str]:
    better = "higher is better" if w.higher_better else "lower is better"
    lines = [f"### {w.title}", "", f"{w.unit}, {better}.", ""]
    ratio_faces = faces(cases, w.variants[0]) if w.key != "shared" else []
    head = ["row", "timed", "median", "min", "max"]
    if w.throughput:
        head.append("whole-process median")
    if w.rtt:
        head.append(f"round trips per {w.item}")
    head += ["client CPU s", "server CPU s", "peak RSS MiB"]
    head += [f"{f.tool.face} ÷ row" for f in ratio_faces]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in cases:
        if c.unavailable or not c.samples:
            if c.unavailable:
                why = f"n/a: {c.unavailable}"
            elif c.given_up:
                why = f"**FAILED** in the warm-up (not run again): {c.given_up[:300]}"
                why += f" — {c.note}" if c.note else ""
            else:
                # An anchor (or a face) that ran and failed: never a number, always the reason.
                failed = "; ".join(sorted(set(c.failures)))[:300] or "no samples"
                why = f"**FAILED** (every run, {len(c.failures)}): {failed}"
            cells = [c.label, "", why.replace("|", "/")] + [""] * (len(head) - 3)
            lines.append("| " + " | ".join(cells) + " |")
            continue
        st = case_stat(c, c.basis, env)
        timed = {OP: "operations only", IN_PROCESS: IN_PROCESS, WHOLE: WHOLE}[c.basis]
        if w.key == "noop":
            timed = "in-process, the NOOP loop only"
        if w.key == "stream":
            timed = "peak RSS of the client process"
        if c.tool.kind == "limit":
            timed = "iperf3's own (transfer only)"
        failed = f"{len(c.failures)} runs failed: {'; '.join(sorted(set(c.failures)))[:200]}"
        details = [x for x in (c.note, failed if c.failures else "") if x]
        stalls = [x.stalls for x in c.samples if x.stalls is not None]
        if stalls and not any(stalls):
            details.append("no transfer took ≥ 1 s")
        elif stalls:
            # For the reader only (goals use what was measured): the rate without those waits.
            rates = [w.amount(env) / (x.wall - x.stalls) for x in c.samples if x.stalls is not None]
            details.append(
                f"transfers of ≥ 1 s per run: median {statistics.median(stalls):g}, max"
                f" {max(stalls)}; {fmt(statistics.median(rates))} {w.unit} without 1 s per such"
                " transfer (bench/README.md)"
            )
        if details:
            timed += "; " + "; ".join(details).replace("|", "/")
        cells = [c.label, timed]
        cells += [fmt(st.median), fmt(st.low), fmt(st.high)] if st else ["—"] * 3
        if w.throughput:
            whole = case_stat(c, WHOLE, env)
            cells.append(fmt(whole.median) if whole and c.tool.kind != "limit" else "—")
        if w.rtt:
            cells.append(rtt_text(c, env))
        rss = median_of(c, "rss_kib")
        cells += [
            fmt(median_of(c, "client_cpu")),
            fmt(median_of(c, "server_cpu")),
            fmt(rss / 1024 if rss is not None else None),
        ]
        for f in ratio_faces:
            cells.append("" if c.tool.face else fmt(ratio(f, c, env)) + "×")
        lines.append("| " + " | ".join(cells) + " |")
    if w.key == "stream":
        rates = []
        for c in cases:
            t = median_of(c, "op")
            if t:
                rates.append(f"{c.tool.label} {fmt(env.sizes.big / MB / t)} MB/s")
        lines += ["", "Transfer rate of these runs (operations only): " + ", ".join(rates) + "."]
    lines.append("")
    return lines


def cpu_note(c: Case) -> str:
    """What bounds a run: the CPU seconds of client and server against the wall time."""
    wall = median_of(c, "wall")
    cc, sc = median_of(c, "client_cpu"), median_of(c, "server_cpu")
    if not wall or cc is None or sc is None:
        return ""
    busy = (cc + sc) / wall
    return (
        f"client {fmt(cc)} s + server {fmt(sc)} s CPU in {fmt(wall)} s (whole process)"
        f" = {busy:.2f} of {os.cpu_count()} cores busy"
    )


def goal_lines(w: Workload, cases: list[Case], env: Env) -> list[str]:
    """One line per ferroftp row and goal: the goal, the measured value, PASS / MISS."""
    out: list[str] = []
    kind, _, arg = w.goal.partition(":")

    # Anchors that ran and failed every run: named on the goal lines (never ranked).
    failed = [c for c in cases if not c.tool.face and not c.samples and c.failures]
    failed_note = "; ".join(f"{c.tool.label} FAILED ({c.failures[0][:120]})" for c in failed)

    def line(face: Case, text: str, value: float | None, ok: Callable[[float], bool]) -> None:
        verdict = "n/a" if value is None else ("PASS" if ok(value) else "MISS")
        extra = f" — {cpu_note(face)}" if verdict == "MISS" else ""
        if w.rtt:
            text += f"; {rtt_text(face, env)} round trips per {w.item}"
        if failed_note:
            text += f" [{failed_note}]"
        out.append(f"- {w.title}, {face.label}: {text}: **{verdict}**{extra}")

    def anchor(key: str) -> Case | None:
        return next((c for c in anchors(cases) if c.tool.key == key), None)

    def vs(face: Case, other: Case | None) -> float | None:
        return ratio(face, other, env) if other else None

    main = faces(cases, w.variants[0])
    if kind == "limit_curl":
        limit, curl = anchor("iperf3"), anchor("curl")
        for f in main:
            r = vs(f, limit)
            line(f, f"≥ 0.9× loopback limit (transfer only): {fmt(r)}×", r, lambda x: x >= 0.9)
            r = vs(f, curl)
            line(f, f"≥ 1.1× curl: {fmt(r)}×", r, lambda x: x >= 1.1)
    elif kind == "best":
        factor = float(arg)
        ranked = [(case_stat(a, a.basis, env), a) for a in anchors(cases) if a.tool.kind != "limit"]
        ranked = [(st, a) for st, a in ranked if st]
        best = max(ranked, key=lambda p: p[0].median)[1] if ranked else None
        name = best.tool.label if best else "—"
        for f in main:
            r = vs(f, best)
            line(f, f"≥ {factor}× best ({name}): {fmt(r)}×", r, lambda x: x >= factor)
    elif kind == "vs":
        key, factor_text = arg.split(":")
        for f in main:
            r = vs(f, anchor(key))
            line(f, f"≥ {factor_text}× {key}: {fmt(r)}×", r, lambda x: x >= float(factor_text))
    elif kind == "shared":
        serial, many = w.variants
        for f in faces(cases, many):
            base = next((c for c in faces(cases, serial) if c.tool is f.tool), None)
            a = case_stat(f, IN_PROCESS, env)
            b = case_stat(base, IN_PROCESS, env) if base else None
            r = a.median / b.median if a and b else None
            line(f, f"÷ serial ≥ {arg}: {fmt(r)}×", r, lambda x: x >= float(arg))
    elif kind == "noop":
        rust = next((c for c in main if c.tool.face == "Rust"), None)
        for f in main:
            if f is rust:
                continue
            a = case_stat(f, OP, env)
            b = case_stat(rust, OP, env) if rust else None
            r = a.median / b.median if a and b else None
            line(f, f"per-call time ÷ Rust core's ≤ {arg}: {fmt(r)}×", r, lambda x: x <= float(arg))
    elif kind == "cpu":
        # Client CPU (whole process, start-up included) for the same files as the anchor.
        key, factor_text = arg.split(":")
        other = anchor(key)
        theirs = median_of(other, "client_cpu") if other else None
        for f in main:
            mine = median_of(f, "client_cpu")
            r = mine / theirs if mine is not None and theirs else None
            line(
                f,
                f"client CPU ≤ {factor_text}× {key}'s: {fmt(mine)} s against {fmt(theirs)} s"
                f" = {fmt(r)}×",
                r,
                lambda x: x <= float(factor_text),
            )
    elif kind == "rss":
        for f in main:
            st = case_stat(f, IN_PROCESS, env)
            high = st.high if st else None
            line(f, f"peak RSS < {arg} MiB: max {fmt(high)} MiB", high, lambda x: x < float(arg))
    return out


def machine_lines() -> list[str]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = psutil.virtual_memory().total / (1 << 30)
    return [
        f"- nproc: {os.cpu_count()}; CPU: {model}; memory: {mem:.1f} GiB",
        f"- kernel: {platform.release()} ({platform.platform()})",
    ]


def first_line(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    text = (r.stdout or r.stderr).strip().splitlines()
    return text[0] if text else "?"


def versions_line(env: Env) -> str:
    def deb(pkg: str) -> str:
        return f"{pkg} {first_line(['dpkg-query', '-W', '-f=${Version}', pkg])}"

    import aioftp
    import fsspec

    parts = [
        deb("vsftpd"),
        first_line(["curl", "--version"]).split(" (")[0],
        deb("lftp"),
        first_line(["iperf3", "--version"]).split(" (")[0],
        f"Python {platform.python_version()}",
        f"aioftp {aioftp.__version__}",
        f"fsspec {fsspec.__version__}",
        first_line(["rustc", "--version"]),
        first_line([os.environ.get("CC", "cc"), "--version"]),
    ]
    return "; ".join(parts)


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], check=False, capture_output=True, text=True
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return head + (" (with uncommitted changes)" if dirty else "")


METHOD = """
- One vsftpd on 127.0.0.1 per protocol (tests/servers/serve.py), passive ports {plain} (explicit \
TLS: {tls}); data: {data}, served from a scratch directory under /tmp, page cache warm.
- {reps} timed repetitions after one untimed warm-up pass of every case, interleaved \
round-robin: for each repetition, every workload, every row (the row order rotates by one each \
repetition). Medians, min and max over the repetitions.
- **in-process** (library rows: ferroftp Rust/C/Python, ftplib, aioftp): the client's own clock \
from before the connect to after the session is closed (no interpreter start-up, no imports). \
**whole process** (CLI rows: curl, lftp): process start to exit (fork to wait4 in a small C \
wrapper). **transfer only**: the client's clock around the operations alone, without connect and \
close; used for the NOOP loop and, against iperf3's own measurement of its transfer, for the \
loopback-limit ratio. Every other ratio ferroftp ÷ row compares each row's main number \
(in-process for libraries, whole process for CLI tools); the whole-process column shows every \
row on the same footing. MB = 10^6 bytes.
- CPU: client = user + system time of the client process (wait4, whole process); server = \
vsftpd's listener and session processes (exited ones through their reaped children's times), \
read once the sessions have exited; for iperf3, its server process. Peak RSS: ru_maxrss of the \
client process (started from a small C wrapper, so none of the harness's memory counts).
- Between runs, untimed: outputs removed and dirty pages flushed (sync).
- The 4 KiB files (one session and 8 sessions) are written to a tmpfs; every other download \
goes to the disk. On this kind of machine (ext4 mounted with `discard`), once a run's files are \
deleted, each new file's inode allocation scans the recently deleted ones (perf: 65% of \
ferroftp's CPU in ext4's `recently_deleted`), about 0.5 ms a file for every client alike.
"""


WAN_METHOD = """
- **WAN profile** (bench/README.md, "The WAN profile"): a vsftpd per round-trip time \
({rtts} ms), each reached through tests/servers/serve.py's latency proxy: toxiproxy listening on \
127.0.0.2 for the control port and each of {ports} passive ports ({windows}), forwarding to \
127.0.0.1 with half the round-trip time added in each direction. Data: {data}. Clients are \
given the proxy's address; curl with `--ftp-skip-pasv-ip` and lftp with \
`ftp:ignore-pasv-address` (vsftpd's PASV replies name the proxy already).
- WAN workloads: {reps} timed repetitions (within the same round-robin passes as the loopback \
ones); a WAN case that fails in the warm-up is not run again and is reported as failed with its \
reason. The filesystems of the fsspec rows get a {fs_timeout} s timeout.
- **Round trips per item** (file, listing, read): a row's main time (in-process for \
libraries, connect and login included; whole process for CLI tools) per item, divided by the \
round-trip time, next to the protocol's floor for that workload through this proxy, where a \
TCP connect is local and costs no round trip (bench/README.md derives each floor). For 8 \
sessions both are per item of the whole run: a session's own figure is 8 times larger.
"""


def wan_method(env: Env, info: RunInfo) -> list[str]:
    windows = ", ".join(f"{s.passive[0]}-{s.passive[1]} at {r} ms" for r, s in env.wan.items())
    return (
        WAN_METHOD.format(
            rtts=" and ".join(str(r) for r in env.wan),
            ports=WAN_PASSIVE_PORTS,
            windows=windows,
            data=env.wan_sizes.describe(),
            reps=info.wan_reps,
            fs_timeout=WAN_FS_TIMEOUT,
        )
        .strip()
        .splitlines()
    )


@dataclass
class RunInfo:
    started: datetime.datetime
    load_before: str
    load_after: str
    minutes: float
    reps: int
    wan_reps: int


def report(env: Env, cases: list[Case], chosen: list[Workload], info: RunInfo) -> str:
    command = os.environ.get("FERROFTP_BENCH_COMMAND", "")
    argv = " ".join(["bench/run.py", *(shlex.quote(a) for a in sys.argv[1:])])
    produced = f"`{command}`, which ran `{argv}`" if command else f"`{argv}`"
    faces_line = [
        "- ferroftp (Rust): core/examples/bench_client.rs, release build"
        + ("" if env.rust_client else " — did not build"),
        "- ferroftp (C): bench/clients/bench_client.c against a release libferroftp"
        + (f" — {env.c_missing}" if env.c_missing else ""),
        "- ferroftp (Python): bench/clients/py_client.py with a release wheel built by the harness"
        + (f" — {env.python_missing}" if env.python_missing else f" ({env.python_module})"),
    ]
    busy = float(info.load_before.split()[0]) > 0.5
    when = f"{info.started:%Y-%m-%d %H:%M} UTC"
    plain, tls = env.plain.passive, env.tls.passive
    lines = [
        "# ferroftp benchmarks",
        "",
        f"Produced by {produced} on {when} in {info.minutes:.1f} min, at commit {git_commit()}."
        + " Every number below comes from that run.",
        "",
        "## Machine",
        "",
        *machine_lines(),
        f"- load average (1, 5, 15 min): {info.load_before} before the run, {info.load_after}"
        " after" + (" — **the machine was busy: these numbers are noisy**" if busy else ""),
        f"- {versions_line(env)}",
        "",
        "## Method",
        "",
        *METHOD.format(
            plain=f"{plain[0]}-{plain[1]}",
            tls=f"{tls[0]}-{tls[1]}",
            data=env.sizes.describe()
            if any(not w.rtt for w in chosen)
            else "only the listing directory (no loopback workload ran)",
            reps=info.reps,
        )
        .strip()
        .splitlines(),
        *(wan_method(env, info) if env.wan else []),
        *faces_line,
        "",
        "## Goals",
        "",
    ]
    goals: list[str] = []
    tables: list[str] = []
    for w in chosen:
        group = [c for c in cases if c.workload.key == w.key]
        goals += goal_lines(w, group, env)
        tables += table(w, group, env)
    lines += goals or ["- (none among the workloads run)"]
    lines += ["", "## Results", "", *tables]
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# Building the clients


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cargo_artifacts(argv: list[str]) -> list[dict[str, Any]]:
    log(f"building: {' '.join(argv)}")
    proc = subprocess.run(
        [*argv, "--message-format=json-render-diagnostics"],
        check=False,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed (exit {proc.returncode})")
    artifacts = []
    for line in proc.stdout.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            msg = json.loads(line)
            if msg.get("reason") == "compiler-artifact":
                artifacts.append(msg)
    return artifacts


def compile_c(argv: list[str]) -> str:
    """Compiles with the C compiler; an error message, or an empty string."""
    log(f"building: {' '.join(argv)}")
    r = subprocess.run(argv, check=False, capture_output=True, text=True)
    return r.stderr.strip()[:300] if r.returncode != 0 else ""


def build_rust() -> Path | None:
    try:
        for a in cargo_artifacts(["cargo", "build", "--release", "--example", "bench_client"]):
            if a["target"]["name"] == "bench_client" and a.get("executable"):
                return Path(a["executable"])
    except RuntimeError as e:
        log(f"  {e}")
    return None


def build_c(scratch: Path) -> tuple[Path | None, str]:
    header = ROOT / "include" / "ferroftp.h"
    if not (ROOT / "bindings-c" / "Cargo.toml").exists() or not header.exists():
        return None, "not available yet (no bindings-c crate or include/ferroftp.h)"
    try:
        artifacts = cargo_artifacts(["cargo", "build", "--release", "-p", "ferroftp-c"])
    except RuntimeError as e:
        return None, f"not available yet ({e})"
    libs = [
        Path(name)
        for a in artifacts
        if a["target"]["name"] == "ferroftp" and "cdylib" in a["target"]["crate_types"]
        for name in a.get("filenames", [])
        if name.endswith(".so")
    ]
    if not libs:
        return None, "not available yet (no libferroftp.so was built)"
    # The library's SONAME is libferroftp.so.MAJOR (bindings-c/build.rs), which is what the
    # client will ask the loader for; cargo makes no link of that name: one in the scratch dir.
    lib = scratch / "lib"
    lib.mkdir(exist_ok=True)
    major = ROOT.joinpath("Cargo.toml").read_text().split('version = "', 1)[1].split(".", 1)[0]
    for name in ["libferroftp.so", f"libferroftp.so.{major}"]:
        (lib / name).unlink(missing_ok=True)
        (lib / name).symlink_to(libs[0])
    exe = scratch / "bench_client_c"
    cc = os.environ.get("CC", "cc")
    argv = [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(header.parent)]
    argv += [str(C_CLIENT_SRC), "-L", str(lib), "-lferroftp", f"-Wl,-rpath,{lib}", "-lpthread"]
    error = compile_c([*argv, "-o", str(exe)])
    if error:
        return None, f"not available yet (the C client does not compile: {error})"
    return exe, ""


def build_python(scratch: Path) -> tuple[str, str, str]:
    """(why not available, module path, PYTHONPATH) of the Python binding's release build.

    The row runs when `import ferroftp` works in the venv; it then measures a release wheel
    built here and installed into the scratch directory (the venv's own, usually a debug
    `maturin develop` build, is left alone)."""
    probe = [str(PYTHON), "-c", "import ferroftp"]
    if subprocess.run(probe, check=False, capture_output=True).returncode != 0:
        return "not available yet (`import ferroftp` fails in .venv)", "", ""
    maturin = ROOT / ".venv" / "bin" / "maturin"
    manifest = ROOT / "bindings-python" / "Cargo.toml"
    if not maturin.exists() or not manifest.exists():
        return "not available (no maturin in .venv, or no bindings-python/Cargo.toml)", "", ""
    wheels, target = scratch / "wheels", scratch / "pylib"
    argv = [str(maturin), "build", "--release", "--quiet", "-m", str(manifest)]
    argv += ["-i", str(PYTHON), "-o", str(wheels)]
    log(f"building: {' '.join(argv)}")
    r = subprocess.run(argv, check=False, cwd=ROOT, capture_output=True, text=True)
    built = sorted(wheels.glob("ferroftp-*.whl")) if r.returncode == 0 else []
    if not built:
        return f"not available (the release wheel did not build: {r.stderr[-300:]})", "", ""
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    r = subprocess.run([*pip, str(built[-1])], check=False, capture_output=True, text=True)
    if r.returncode != 0:
        return f"not available (pip could not unpack the wheel: {r.stderr[-300:]})", "", ""
    where = subprocess.run(
        [str(PYTHON), "-c", "import ferroftp; print(ferroftp.__file__)"],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(target)},
    ).stdout.strip()
    if not where.startswith(str(target)):
        return f"not available (the release build is not the one imported: {where})", "", ""
    return "", f"{built[-1].name}", str(target)


# ---------------------------------------------------------------------------------------------


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


@contextlib.contextmanager
def scratch_dir(need: int) -> Iterator[Path]:
    base = Path(tempfile.gettempdir())
    free = shutil.disk_usage(base).free
    if free < need:
        raise SystemExit(
            f"bench: {need / (1 << 30):.1f} GiB free needed in {base}, {free / (1 << 30):.1f} GiB"
            " free"
        )
    path = Path(tempfile.mkdtemp(prefix="ferroftp-bench-", dir=base))
    path.chmod(0o755)  # the FTP user must be able to reach the root below it
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_all(
    cases: list[Case], chosen: list[Workload], env: Env, reps: int, wan_reps: int, timeout: float
) -> None:
    """The warm-up pass, then the repetitions: loopback workloads ``reps`` times, the WAN
    profile's ``wan_reps`` times (each within the same round-robin passes). A WAN case that
    fails in the warm-up is not run again (a failure there, such as a client waiting for its
    timeout, costs seconds each time): it is reported as failed, with the reason."""
    runnable = [c for c in cases if not c.unavailable]
    last = max(wan_reps if w.rtt else reps for w in chosen) if chosen else 0
    for rep in range(last + 1):
        warm = rep == 0
        for w in chosen:
            n = wan_reps if w.rtt else reps
            if rep > n:
                continue
            label = "warm-up" if warm else f"rep {rep}/{n}"
            group = [c for c in runnable if c.workload is w and not c.given_up]
            shift = rep % len(group) if group else 0
            for c in group[shift:] + group[:shift]:
                result = run_case(c, env, timeout)
                if isinstance(result, str):
                    c.failures.append(result)
                    log(f"[{label}] {w.key}: {c.label}: FAILED: {result}")
                    if warm and w.rtt:
                        c.given_up = result
                elif not warm:
                    c.samples.append(result)
                    v = metric(c, result, c.basis, env)
                    log(f"[{label}] {w.key}: {c.label}: {fmt(v)} {w.unit}")
        if warm:
            for c in runnable:
                if not c.given_up:
                    c.failures.clear()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--reps", type=int, default=None, help="timed repetitions (default 5, quick 2)")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run of ~1 minute")
    p.add_argument(
        "--wan-reps", type=int, default=None, help="WAN repetitions (default 3, quick 1)"
    )
    p.add_argument(
        "--only",
        default="",
        help="comma-separated workloads (default: all); `wan` is every WAN workload, `loopback`"
        " every other",
    )
    p.add_argument("--rows", default="", help="comma-separated rows (default: all)")
    p.add_argument("--output", default=None, help="the report file (see above)")
    p.add_argument("--timeout", type=float, default=120, help="seconds per run before a kill")
    args = p.parse_args()
    sizes = QUICK if args.quick else FULL
    reps = args.reps or (2 if args.quick else 5)
    wan_reps = args.wan_reps or (1 if args.quick else 3)
    all_workloads = workloads(sizes)
    groups = {
        "wan": [w.key for w in all_workloads if w.rtt],
        "loopback": [w.key for w in all_workloads if not w.rtt],
    }
    known_w, known_r = [w.key for w in all_workloads], [t.key for t in TOOLS]
    only = [y for x in args.only.split(",") if x for y in groups.get(x, [x])]
    rows = [x for x in args.rows.split(",") if x]
    if set(only) - set(known_w) or set(rows) - set(known_r):
        raise SystemExit(
            f"bench: known workloads: {known_w} (groups: wan, loopback); known rows: {known_r}"
        )
    chosen = [w for w in all_workloads if not only or w.key in only]
    loopback = any(not w.rtt for w in chosen)
    rtts = sorted({w.rtt for w in chosen if w.rtt})
    tools = [t for t in TOOLS if not rows or t.key in rows]
    name = "RESULTS-quick.md" if args.quick else "RESULTS-partial.md" if only or rows else ""
    output = Path(args.output or BENCH / (name or "RESULTS.md")).resolve()
    for tool in ("curl", "lftp", "iperf3", os.environ.get("CC", "cc")):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is missing; run bench/setup.sh")
    if os.geteuid() != 0:
        raise SystemExit("bench: vsftpd needs root (the launcher runs it as a root daemon)")
    if rtts:
        try:
            toxiproxy_binary()
        except LaunchError as e:
            raise SystemExit(f"bench: the WAN profile (--only loopback leaves it out): {e}") from e

    started = datetime.datetime.now(datetime.UTC)
    load_before = loadavg()
    if float(load_before.split()[0]) > 0.5:
        log(f"bench: warning: load average {load_before}: the numbers will be noisy")
    t0 = time.monotonic()
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(scratch_dir((3 * sizes.big if loopback else 0) + 512 * MIB))
        measure = scratch / "measure"
        cc = [os.environ.get("CC", "cc"), "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"]
        error = compile_c([*cc, str(MEASURE_SRC), "-o", str(measure)])
        if error:
            raise SystemExit(f"bench: the measure wrapper does not compile: {error}")
        # Only the faces whose rows run are built (a --rows run of Python rows builds no Rust).
        keys = {t.key for t in tools}
        rust = build_rust() if "rust" in keys else None
        c_client, c_missing = build_c(scratch) if "c" in keys else (None, "not run")
        py_missing, py_module, py_path = (
            build_python(scratch) if "python" in keys else ("not run", "", "")
        )
        for face, missing in (("C", c_missing), ("Python", py_missing)):
            if missing:
                log(f"ferroftp ({face}): {missing}")
        root, out, lists = scratch / "root", scratch / "out", scratch / "lists"
        for d in (root, out, lists):
            d.mkdir()
        out_mem = stack.enter_context(tmpfs(scratch / "out-mem", "256m"))
        plain_ports = passive_window(3000)
        tls_ports = passive_window(3000, avoid=plain_ports)
        servers: list[Server] = []
        old_term = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            servers.append(Server(root, plain_ports, tls=False))
            servers.append(Server(root, tls_ports, tls=True))
            # The WAN profile: a vsftpd per round-trip time behind serve.py's latency proxy (a
            # toxiproxy listener per port on 127.0.0.2: the windows must not overlap).
            wan: dict[int, Server] = {}
            window: tuple[int, int] | None = None
            for rtt in rtts:
                wan[rtt] = start_wan_server(root, rtt, window)
                servers.append(wan[rtt])
                window = wan[rtt].passive
            env = Env(
                sizes=sizes,
                scratch=scratch,
                root=root,
                out=out,
                out_mem=out_mem,
                lists=lists,
                plain=servers[0],
                tls=servers[1],
                wan=wan,
                measure=measure,
                rust_client=rust,
                c_client=c_client,
                c_missing=c_missing,
                python_missing=py_missing,
                python_module=py_module,
                python_path=py_path,
                uid=servers[0].info["uid"],
                gid=servers[0].info["gid"],
            )
            described = [sizes.describe() if loopback else ""]
            described += [f"WAN: {sizes.wan.describe()}" if rtts and sizes.wan else ""]
            log(f"generating data in {root}: {'; '.join(x for x in described if x)}")
            generate_data(env, loopback, bool(rtts))
            cases = []
            for w in chosen:
                for v in w.variants:
                    for t in tools:
                        c = Case(w, v, t)
                        built = t.build(c, env, out / "probe")
                        if built is None:
                            continue
                        if isinstance(built, str):
                            c.unavailable = built
                        else:
                            c.note = built.note
                        cases.append(c)
            run_all(cases, chosen, env, reps, wan_reps, args.timeout)
            info = RunInfo(
                started, load_before, loadavg(), (time.monotonic() - t0) / 60, reps, wan_reps
            )
            text = report(env, cases, chosen, info)
        finally:
            for s in servers:
                s.stop()
            signal.signal(signal.SIGTERM, old_term)
    print(text)
    output.write_text(text)
    log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
