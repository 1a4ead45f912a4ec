"""Dask through ``ferroftp.fsspec``: ``dask.dataframe.read_csv``/``to_csv`` and
``dask.bag.read_text`` on ``ftp://`` URLs, run on a ``distributed`` LocalCluster of two worker
processes (started once for the module): the filesystem travels to the workers pickled, and each
worker reads and writes over a pool of its own.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import dask.bag as db
import dask.dataframe as dd
import pandas as pd
import pytest
from conftest import OPTIONS, Server
from distributed import Client, LocalCluster

from ferroftp.fsspec import FTPFileSystem

WORKERS = 2


@pytest.fixture(autouse=True)
def _close_cached_filesystems() -> Iterator[None]:
    """fsspec keeps the instances that URLs made (``fsspec.open``, pandas, Dask's client side):
    each test's are closed (their sessions say goodbye) and forgotten when it ends."""
    yield
    for cached in list(FTPFileSystem._cache.values()):
        cached.close()
    FTPFileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    cluster = LocalCluster(
        n_workers=WORKERS,
        threads_per_worker=2,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.fixture
def rdir(server: Server, request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    name = "dask-" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name)[:80]
    remote, local = server.dir(name)
    try:
        yield remote, local
    finally:
        shutil.rmtree(local, ignore_errors=True)


def url(server: Server, path: str) -> str:
    user, password = quote(server.user, safe=""), quote(server.password, safe="")
    return f"ftp://{user}:{password}@{server.host}:{server.port}{path}"


def write_csvs(server: Server, local: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        rows = 200 + 37 * i
        frame = pd.DataFrame(
            {
                "part": i,
                "row": range(rows),
                "value": [(i * 1000 + r) * 0.25 for r in range(rows)],
                "label": [f"p{i}-r{r}" for r in range(rows)],
            }
        )
        path = local / f"part-{i:02}.csv"
        path.write_bytes(frame.to_csv(index=False).encode())
        server.own(path)
        paths.append(path)
    return paths


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal frames. Text columns compare as Python strings: Dask reads text as pyarrow-backed
    strings (missing values <NA>), pandas as its default strings (missing values NaN)."""
    text = {
        c: object
        for c in expected.columns
        if isinstance(got[c].dtype, pd.StringDtype) or isinstance(expected[c].dtype, pd.StringDtype)
    }
    pd.testing.assert_frame_equal(got.astype(text), expected.astype(text))


def pools_in_this_process() -> int:
    """On a worker: how many FTPFileSystem instances opened sessions from this process."""
    return sum(
        1
        for fs in list(FTPFileSystem._cache.values())
        if fs._pool is not None and fs._pool_pid == os.getpid() and fs._pool.open_sessions > 0
    )


def test_read_csv_directory_on_a_cluster(
    server: Server, client: Client, rdir: tuple[str, Path]
) -> None:
    remote, local = rdir
    paths = write_csvs(server, local, 6)
    frame = dd.read_csv(url(server, f"{remote}/*.csv"), storage_options=OPTIONS)
    assert frame.npartitions == 6
    got = frame.compute().reset_index(drop=True)
    expected = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    assert_same(got, expected)
    # The reading was done by the worker processes, over pools of their own.
    pools = client.run(pools_in_this_process)
    assert len(pools) == WORKERS
    assert sum(pools.values()) >= 1
    # a computation on the cluster, not only a transfer
    totals = frame.groupby("part")["value"].sum().compute().sort_index()
    pd.testing.assert_series_equal(totals, expected.groupby("part")["value"].sum())


def test_bag_read_text(server: Server, client: Client, rdir: tuple[str, Path]) -> None:
    remote, local = rdir
    paths = write_csvs(server, local, 4)
    lines = db.read_text(url(server, f"{remote}/*.csv"), storage_options=OPTIONS)
    assert lines.npartitions == 4
    assert lines.count().compute() == sum(len(p.read_text().splitlines()) for p in paths)
    headers = lines.filter(lambda line: line.startswith("part,")).count().compute()
    assert headers == 4


def test_to_csv_and_read_back(server: Server, client: Client, rdir: tuple[str, Path]) -> None:
    remote, local = rdir
    frame = pd.DataFrame(
        {"id": range(2000), "square": [i * i for i in range(2000)], "name": "x" * 3}
    )
    written = dd.from_pandas(frame, npartitions=4).to_csv(
        url(server, f"{remote}/out/part-*.csv"), index=False, storage_options=OPTIONS
    )
    assert len(written) == 4
    names = sorted(os.listdir(local / "out"))
    assert names == [f"part-{i}.csv" for i in range(4)]  # and no temporary file left
    from_disk = pd.concat([pd.read_csv(local / "out" / n) for n in names], ignore_index=True)
    assert_same(from_disk, frame)
    back = dd.read_csv(url(server, f"{remote}/out/*.csv"), storage_options=OPTIONS)
    assert_same(back.compute().reset_index(drop=True), frame)
