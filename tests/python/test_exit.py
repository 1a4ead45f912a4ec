"""A script whose last statement awaits a ferroftp call exits cleanly.

The runtime's threads complete asyncio futures through ``call_soon_threadsafe``, with the GIL;
one still inside Python when the interpreter finalizes used to crash the process (about 7% of
runs). Each script here runs many times in subprocesses: all must exit 0 with nothing on stderr.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import Servers

#: Runs of each script: with a 7% failure rate, all 200 pass with probability 5e-7.
RUNS = 200

BARE_POOL = """
import asyncio, sys, ferroftp

async def main():
    pool = ferroftp.AsyncPool(sys.argv[1], max_sessions=2)
    async with pool.session() as s:
        await s.noop()
    await pool.close()

asyncio.run(main())
"""

FSSPEC_NO_CLOSE = """
import sys
from ferroftp.fsspec import FTPFileSystem

fs = FTPFileSystem(sys.argv[1], skip_instance_cache=True)
fs.ls("/")
"""


def run_many(script: str, url: str, runs: int) -> list[subprocess.CompletedProcess[bytes]]:
    def one(_: int) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-c", script, url], capture_output=True, timeout=120, check=False
        )

    with ThreadPoolExecutor(4) as ex:
        return list(ex.map(one, range(runs)))


@pytest.mark.parametrize(
    ("script", "runs"), [(BARE_POOL, RUNS), (FSSPEC_NO_CLOSE, RUNS // 2)], ids=["pool", "fsspec"]
)
def test_last_statement_awaits_ferroftp(servers: Servers, script: str, runs: int) -> None:
    if script is FSSPEC_NO_CLOSE:
        pytest.importorskip("fsspec")
    server = servers.get("pyftpdlib")
    done = run_many(script, server.url, runs)
    failed = [d for d in done if d.returncode != 0 or d.stderr]
    assert not failed, (
        f"{len(failed)} of {runs} runs failed; the first: exit {failed[0].returncode}, "
        f"stderr {failed[0].stderr.decode(errors='replace')[-2000:]!r}"
    )
