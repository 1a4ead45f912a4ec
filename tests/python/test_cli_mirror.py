"""``ferroftp mirror`` both ways against both servers: trees copied byte for byte with their
times, a second run copying nothing, ``--delete`` and ``--dry-run`` (a plan printed, nothing
changed), ``--exclude``/``--include``, ``--newer-only``/``--size-only``, and a batch in which
one file fails. The planning itself is checked without a server too."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Server, data
from test_cli import ok, run

from ferroftp.cli import EXIT_PARTIAL
from ferroftp.cli.mirror import Filters, make_plan, reason_to_copy
from ferroftp.cli.walk import Node, Tree

#: A time well in the past (whole seconds), given to source files so that copies must carry it.
PAST = int(time.time()) - 3 * 86400 + 37


def write_tree(
    root: Path, files: dict[str, bytes], own: Callable[[Path], None] | None = None
) -> None:
    """Writes ``files`` (relative path: content) under ``root``, each with the time ``PAST``;
    ``own`` gives each file and directory to the FTP user."""
    root.mkdir(parents=True, exist_ok=True)
    if own:
        own(root)
    for rel, content in files.items():
        path = root / rel
        for parent in reversed(path.relative_to(root).parents[:-1]):
            (root / parent).mkdir(exist_ok=True)
            if own:
                own(root / parent)
        path.write_bytes(content)
        os.utime(path, (PAST, PAST))
        if own:
            own(path)


def snapshot(root: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every file (content, mtime in ns) and directory (``None``) under ``root``."""
    found: dict[str, tuple[bytes, int] | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        found[rel] = None if path.is_dir() else (path.read_bytes(), path.stat().st_mtime_ns)
    return found


def contents(root: Path) -> dict[str, bytes]:
    return {k: v[0] for k, v in snapshot(root).items() if v is not None}


def test_mirror_both_ways(server: Server, workdir: tuple[str, Path], tmp_path: Path) -> None:
    remote, local = workdir
    url = f"{server.url}{remote}/tree"
    src = tmp_path / "src"
    files = {f"d{i % 3}/sub/f{i}.bin": data(1000 + i * 97, i) for i in range(40)}
    write_tree(src, files)
    (src / "empty").mkdir()

    up = run("mirror", "--jobs", "4", str(src), url)
    assert up.returncode == 0, up.stderr
    assert up.stdout == "40 transferred (115.7 kB), 0 skipped, 0 deleted, 0 failed\n", up.stdout
    assert contents(local / "tree") == files
    assert (local / "tree" / "empty").is_dir()
    for name in files:  # the local times went along (MFMT, or vsftpd's MDTM with a time)
        assert (local / "tree" / name).stat().st_mtime == PAST, name
    # stderr is not a terminal: one line per file
    lines = up.stderr.splitlines()
    assert len(lines) == 40 and all(" -> " in line for line in lines), up.stderr
    again = run("mirror", str(src), url)
    assert again.stdout.startswith("0 transferred (0 B), 40 skipped"), again.stdout
    assert run("mirror", "--reverse", "-q", str(src), url).stdout == ""  # older scripts' flag

    dest = tmp_path / "dest"
    down = run("mirror", "-j", "3", url, str(dest))
    assert down.returncode == 0, down.stderr
    assert down.stdout.startswith("40 transferred"), down.stdout
    assert contents(dest) == files
    assert (dest / "empty").is_dir()
    for name in files:  # the remote listing's time (vsftpd's LIST: to the minute)
        assert abs((dest / name).stat().st_mtime - PAST) < 60, name
    again = run("mirror", url, str(dest))
    assert again.stdout.startswith("0 transferred (0 B), 40 skipped"), again.stdout


@pytest.mark.parametrize("direction", ["up", "down"])
def test_mirror_delete_dry_run_then_for_real(
    server: Server, workdir: tuple[str, Path], tmp_path: Path, direction: str
) -> None:
    """``--delete --dry-run`` prints the plan (copies with their reasons, directories to make,
    files and directories to delete) and changes nothing on either side; the same line
    without ``--dry-run`` makes DEST a copy of SOURCE, keeping what ``--exclude`` leaves out."""
    remote, local = workdir
    source = {
        "keep.txt": b"same on both sides",
        "changed.txt": b"the source's version",
        "new.txt": b"only in the source",
        "sub/deep.txt": b"in a new directory",
        "skip.tmp": b"excluded: not copied",
    }
    target = {
        "keep.txt": b"same on both sides",
        "changed.txt": b"old",
        "stale.txt": b"only at the destination",
        "old/inner.txt": b"in a stale directory",
        "notes.tmp": b"excluded: kept",
    }
    if direction == "up":
        src_dir, dest_dir = tmp_path / "src", local / "dest"
        write_tree(src_dir, source)
        write_tree(dest_dir, target, own=server.own)
        src_arg, dest_arg = str(src_dir), f"{server.url}{remote}/dest"
        src_show, dest_show, verb = str(src_dir), f"{remote}/dest", "put"
    else:
        src_dir, dest_dir = local / "src", tmp_path / "dest"
        write_tree(src_dir, source, own=server.own)
        write_tree(dest_dir, target)
        src_arg, dest_arg = f"{server.url}{remote}/src", str(dest_dir)
        src_show, dest_show, verb = f"{remote}/src", str(dest_dir), "get"
    before = (snapshot(src_dir), snapshot(dest_dir))

    plan = run("mirror", "--delete", "--dry-run", "--exclude", "*.tmp", src_arg, dest_arg)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines() == [
        f"mkdir   {dest_show}/sub",
        f"{verb}     {src_show}/changed.txt -> {dest_show}/changed.txt (20 B, size differs)",
        f"{verb}     {src_show}/new.txt -> {dest_show}/new.txt (18 B, new)",
        f"{verb}     {src_show}/sub/deep.txt -> {dest_show}/sub/deep.txt (18 B, new)",
        f"delete  {dest_show}/old/inner.txt",
        f"delete  {dest_show}/stale.txt",
        f"rmdir   {dest_show}/old",
        "dry run: 3 to transfer (56 B), 1 up to date, 3 to delete; nothing was changed",
    ], plan.stdout
    assert (snapshot(src_dir), snapshot(dest_dir)) == before

    real = run("mirror", "--delete", "--exclude", "*.tmp", src_arg, dest_arg)
    assert real.returncode == 0, real.stderr
    assert real.stdout == "3 transferred (56 B), 1 skipped, 3 deleted, 0 failed\n"
    expected = {k: v for k, v in source.items() if k != "skip.tmp"}
    assert contents(dest_dir) == {**expected, "notes.tmp": b"excluded: kept"}
    assert not (dest_dir / "old").exists()
    assert snapshot(src_dir) == before[0]


def test_mirror_filters_and_comparisons(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    remote, local = workdir
    write_tree(
        local / "src",
        {
            "a.csv": b"1,2",
            "b.csv": b"3,4",
            "c.txt": b"text",
            "cache/x.csv": b"in a directory left out",
            "logs/today.log": b"log",
            "logs/old.gz": b"old log",
        },
        own=server.own,
    )
    url = f"{server.url}{remote}/src"
    only_csv = tmp_path / "csv"
    ok("mirror", "-q", "--include", "*.csv", "--exclude", "cache/", url, str(only_csv))
    assert contents(only_csv) == {"a.csv": b"1,2", "b.csv": b"3,4"}  # cache/ not even made
    assert sorted(p.name for p in only_csv.iterdir()) == ["a.csv", "b.csv", "logs"]
    most = tmp_path / "most"
    ok("mirror", "-q", "--exclude", "cache", "--exclude", "logs/*.gz", url, str(most))
    assert sorted(contents(most)) == ["a.csv", "b.csv", "c.txt", "logs/today.log"]

    # Size and time: a local copy with the same size but another time is replaced by
    # default, left with --size-only; a newer local file survives --newer-only.
    os.utime(most / "a.csv", (PAST - 3600, PAST - 3600))
    (most / "b.csv").write_bytes(b"NEWER")  # newer than the source (now), another size
    same = ("--exclude", "cache", "--exclude", "logs/*.gz")
    default = run("mirror", "-n", url, str(most), *same)
    assert "a.csv (3 B, time differs)" in default.stdout, default.stdout
    assert "b.csv (3 B, size differs)" in default.stdout, default.stdout
    size_only = run("mirror", "--size-only", "-n", url, str(most), *same)
    assert "a.csv" not in size_only.stdout and "b.csv (3 B, size differs)" in size_only.stdout
    newer_only = run("mirror", "--newer-only", url, str(most), *same)
    assert newer_only.returncode == 0, newer_only.stderr
    assert newer_only.stdout.startswith("1 transferred (3 B), 3 skipped"), newer_only.stdout
    assert (most / "b.csv").read_bytes() == b"NEWER"
    assert abs((most / "a.csv").stat().st_mtime - PAST) < 60  # the listing's time
    both = run("mirror", "--newer-only", "--size-only", url, str(most))
    assert both.returncode == 2 and "not allowed with" in both.stderr, both


def test_a_batch_with_a_failing_file(
    server: Server, workdir: tuple[str, Path], tmp_path: Path
) -> None:
    """One file fails: the others arrive, each failure is one line on stderr, exit status 5."""
    remote, local = workdir
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.bin").write_bytes(b"ok")
    (src / "locked.bin").write_bytes(b"locked")
    (local / "batch").mkdir()
    server.own(local / "batch")
    (local / "batch" / "locked.bin").mkdir()  # a directory where a file should go
    server.own(local / "batch" / "locked.bin")
    partial = run("mirror", "-q", str(src), f"{server.url}{remote}/batch")
    assert partial.returncode == EXIT_PARTIAL, (partial.stdout, partial.stderr)
    (line,) = partial.stderr.splitlines()
    assert line.startswith("ferroftp: ") and "locked.bin" in line, line
    assert (local / "batch" / "ok.bin").read_bytes() == b"ok"
    shown = run("mirror", str(src), f"{server.url}{remote}/batch")  # not -q: the summary
    assert shown.returncode == EXIT_PARTIAL
    assert shown.stdout == "0 transferred (0 B), 1 skipped, 0 deleted, 1 failed\n"


def node(rel: str, size: int | None = 10, mtime: float | None = 1000.0, **kw: object) -> Node:
    return Node(rel, False, size, mtime, **kw)  # type: ignore[arg-type]


def test_filters() -> None:
    keep = Filters(((False, "*.tmp"), (True, "keep.tmp"), (False, "build/"))).keep
    assert not keep("a/x.tmp", False) and not keep("keep.tmp", False)  # the first match wins
    assert keep("a/x.txt", False) and keep("build", False)  # build/ matches directories only
    assert not keep("a/build", True) and keep("a/b", True)
    only = Filters(((True, "*.csv"), (False, "logs/*"))).keep
    assert only("d/a.csv", False) and not only("d/a.txt", False)
    assert only("logs", True) and not only("logs/sub", True) and only("logs/x.csv", False)
    rooted = Filters(((False, "/top/*.log"),)).keep
    assert not rooted("top/a.log", False) and rooted("other/top/a.log", False)
    assert Filters().keep("anything", False)


def test_comparisons() -> None:
    src = node("f")
    assert reason_to_copy(src, None) == "new"
    assert reason_to_copy(src, Node("f", True, None, None)) == "in place of a directory"
    assert reason_to_copy(src, node("f", size=11)) == "size differs"
    assert reason_to_copy(src, node("f", mtime=1000.9)) is None  # within a second
    assert reason_to_copy(src, node("f", mtime=1002.0)) == "time differs"
    assert reason_to_copy(src, node("f", mtime=1030.0, precision=60.0)) is None  # LIST: minutes
    assert reason_to_copy(src, node("f", mtime=1002.0), size_only=True) is None
    assert reason_to_copy(src, node("f", mtime=None)) is None  # no time: the size decides
    assert reason_to_copy(src, node("f", mtime=900.0, size=3), newer_only=True) == "newer"
    assert reason_to_copy(src, node("f", mtime=2000.0, size=3), newer_only=True) is None


def test_plan() -> None:
    src = Tree(nodes={n.rel: n for n in [node("a"), Node("d", True, None, None), node("d/b")]})
    dst = Tree(
        nodes={
            n.rel: n
            for n in [
                node("a"),
                node("z"),
                Node("old", True, None, None),
                node("old/y"),
                Node("kept", True, None, None),
            ]
        },
        left_out={"kept/x.tmp"},
    )
    plan = make_plan(src, dst, delete=True)
    assert plan.mkdirs == ["d"]
    assert [(n.rel, why) for n, why in plan.copies] == [("d/b", "new")]
    assert plan.up_to_date == ["a"]
    assert plan.deletes == ["old/y", "z"]
    assert plan.rmdirs == ["old"]  # kept/ holds a file the filters protect
    assert make_plan(src, dst, delete=False).deletes == []
