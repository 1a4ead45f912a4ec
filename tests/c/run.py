#!/usr/bin/env python3
"""Driver of the C tests (run by `make test-c` with the project's venv Python).

    run.py --lib-dir DIR            build tests/c/*.c against include/ferroftp.h and DIR/libferroftp.so
                                    (through a link named as its SONAME), start pyftpdlib and vsftpd
                                    (tests/servers/serve.py; also vsftpd with 3 connections at most,
                                    pyftpdlib with honest and lying checksum commands, explicit and
                                    implicit FTPS servers, also with a self-signed, an expired and a
                                    misnamed certificate and one that requires a client certificate,
                                    a vsftpd whose sessions test_effect kills, and a pyftpdlib with a
                                    password full of URL characters that asks for an account), run
                                    the test binaries against them under valgrind (see RUNS; one run
                                    is native: test_stream's 1 GiB download), then install into a
                                    temporary prefix, check the versioned library, its links and its
                                    SONAME, build examples/c (pkg-config) and examples/cpp (CMake
                                    find_package) against it and run them
    run.py --lib-dir DIR --demo     build examples/c against the build tree and run it against a
                                    loopback pyftpdlib server (the C part of `make demo`)

A server that cannot start, or a missing tool, fails the run loudly: nothing is ever skipped.
Valgrind: definitely, indirectly and possibly lost blocks are errors; tests/c/valgrind.supp lists
(and explains) the few "possibly lost" blocks of the process-wide runtime that lives until exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TESTS = ["test_api", "test_threads", "test_futures", "test_transfer", "test_pool", "test_names",
         "test_checksum", "test_tls", "test_effect", "test_stream", "test_log", "test_login"]
# (server kind, extra serve.py arguments, test programs, EXTRA argument(s)[, "native"]): every
# test program but test_tls and test_login against the two plain servers (which offer no
# checksum: test_checksum checks that a required one fails); test_pool again against a vsftpd
# that allows only 3 connections (with a pool of 10); test_checksum against pyftpdlib with HASH
# and the X commands, honest and lying; test_tls against explicit FTPS on both servers and
# implicit FTPS on vsftpd (pyftpdlib has no implicit mode), given the server's CA file; then
# test_tls's certificate runs (the mode after the CA file): a pinned self-signed certificate,
# the same expired, a certificate issued for another name (tls_server_name), and a server that
# requires a client certificate; test_effect against a vsftpd of its own, given its listener's
# pid: it kills the server's session processes in the middle of transfers
# (ferroftp_last_error_may_have_taken_effect); test_login and test_log against a pyftpdlib whose
# password holds `@ / : # % ?` and a space and that asks for an account (ACCT), given host, port,
# user, password and account separately (ferroftp_server); test_stream's 1 GiB download hashed
# on the fly, natively (its other runs, under valgrind, download 10 MiB: valgrind would take
# many minutes over 1 GiB; flat memory is checked in both, meaningfully in this one).
# The EXTRA element is one argument or a list of them; each of SERVER_VALUES is replaced by that
# value (a path, the pid, a credential) from the server's JSON line. A run marked "native" runs
# without valgrind.
PLAIN = ["test_api", "test_threads", "test_futures", "test_transfer", "test_pool", "test_names",
         "test_checksum", "test_stream", "test_log"]
LOGIN_PASSWORD = "p@ss/w:rd#1 %41?"
LOGIN_ACCOUNT = "acc@/:#1"
LOGIN = ["host", "port", "user", "password", "account"]
RUNS = [
    ("pyftpdlib", [], PLAIN, None),
    ("vsftpd", [], PLAIN, None),
    ("vsftpd", ["--max-cons", "3"], ["test_pool"], "limited"),
    ("pyftpdlib", ["--hash"], ["test_checksum"], "honest"),
    ("pyftpdlib", ["--hash", "--hash-lie"], ["test_checksum"], "lying"),
    ("pyftpdlib", ["--tls", "explicit"], ["test_tls"], "cafile"),
    ("vsftpd", ["--tls", "explicit"], ["test_tls"], "cafile"),
    ("vsftpd", ["--tls", "implicit"], ["test_tls"], "cafile"),
    ("vsftpd", ["--tls", "explicit", "--cert", "self-signed"], ["test_tls"], ["cafile", "pinned"]),
    ("vsftpd", ["--tls", "explicit", "--cert", "expired"], ["test_tls"], ["cafile", "expired"]),
    ("pyftpdlib", ["--tls", "explicit", "--cert-name", "ftp.example.test"], ["test_tls"],
     ["cafile", "server-name"]),
    ("vsftpd", ["--tls", "explicit", "--client-ca"], ["test_tls"],
     ["cafile", "client-auth", "client_cert", "client_key"]),
    ("vsftpd", [], ["test_effect"], "pid"),
    ("pyftpdlib", ["--password", LOGIN_PASSWORD, "--account", LOGIN_ACCOUNT],
     ["test_login", "test_log"], LOGIN),
    ("vsftpd", [], ["test_stream"], ["1024", "big-only"], "native"),
]
SERVER_VALUES = ("cafile", "client_cert", "client_key", "pid", "host", "port", "user", "password",
                 "account")
CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1"]
VALGRIND = [
    "valgrind",
    "--error-exitcode=1",
    "--leak-check=full",
    "--num-callers=40",
    "--errors-for-leak-kinds=definite,indirect,possible",
    "--show-leak-kinds=definite,indirect,possible",
    f"--suppressions={HERE / 'valgrind.supp'}",
    "--quiet",
]
# A guard against hangs only; nothing asserts on time.
HANG_GUARD = 1800


def die(message: str) -> None:
    print(f"run.py: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            die(f"{tool} is not installed; run `make setup`")


def run(cmd: list[str], what: str, **kw) -> None:
    print(f"+ {' '.join(str(c) for c in cmd)}", flush=True)
    try:
        r = subprocess.run(cmd, timeout=HANG_GUARD, **kw)
    except subprocess.TimeoutExpired:
        die(f"{what} hung for {HANG_GUARD} s")
    if r.returncode != 0:
        die(f"{what} (exit status {r.returncode})")


class Server:
    """One loopback FTP server started through tests/servers/serve.py; stopped by stop()."""

    def __init__(self, kind: str, extra: list[str] | None = None) -> None:
        self.kind = kind
        self.label = " ".join([kind, *(extra or [])])
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/servers/serve.py"), kind, *(extra or [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.strip():
            self.proc.wait()
            die(f"the {kind} server did not start (see its message above); run `make setup`")
        info = json.loads(line)
        self.root = info["root"]
        host = info["host"]
        host = f"[{host}]" if ":" in host else host
        scheme = {"explicit": "ftpes", "implicit": "ftps"}.get(info.get("tls", "none"), "ftp")
        user, password = (urllib.parse.quote(info[k], safe="") for k in ("user", "password"))
        self.url = f"{scheme}://{user}:{password}@{host}:{info['port']}"
        self.cafile = info.get("cafile")
        if info.get("tls", "none") != "none" and not self.cafile:
            die(f"the {self.label} server did not say where its CA file is")
        self.values = {name: str(info[name]) for name in SERVER_VALUES if info.get(name)}

    def args(self, extra: str | list[str] | None) -> list[str]:
        """The EXTRA argument(s) of a run, with SERVER_VALUES names replaced by their values."""
        if extra is None:
            return []
        out = []
        for arg in [extra] if isinstance(extra, str) else extra:
            if arg in SERVER_VALUES:
                if arg not in self.values:
                    die(f"the {self.label} server did not give its {arg}")
                arg = self.values[arg]
            out.append(arg)
        return out

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def check_header(build: Path) -> None:
    """The header alone compiles as C11 and C++17 with warnings as errors."""
    src = build / "header_only.c"
    src.write_text('#include <ferroftp.h>\nint main(void) { return ferroftp_version() == 0; }\n')
    inc = f"-I{ROOT / 'include'}"
    run(["gcc", *CFLAGS, "-pedantic", inc, "-c", str(src), "-o", str(build / "h.o")], "header as C11")
    cpp = build / "header_only.cpp"
    cpp.write_text('#include <ferroftp.h>\nint main() { return ferroftp_version() == nullptr; }\n')
    run(
        ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", inc, "-c", str(cpp),
         "-o", str(build / "hpp.o")],
        "header as C++17",
    )


def soname(lib: Path) -> str:
    """The SONAME of a shared library (`readelf -d`)."""
    out = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        if "(SONAME)" in line and "[" in line:
            return line.split("[", 1)[1].split("]", 1)[0]
    die(f"{lib} has no SONAME (readelf -d: {out.stderr.strip() or 'none listed'})")
    return ""


def lib_links(build: Path, lib_dir: Path) -> Path:
    """A directory holding libferroftp.so and a link named as its SONAME (libferroftp.so.0), both
    to the library in `lib_dir`: a program linked with -lferroftp asks the loader for the
    SONAME, and cargo makes no such link in its target directory."""
    lib = lib_dir / "libferroftp.so"
    links = build / "lib"
    links.mkdir(exist_ok=True)
    for name in ["libferroftp.so", soname(lib)]:
        (links / name).symlink_to(lib)
    return links


def build_tests(build: Path, lib_dir: Path, names: list[str]) -> dict[str, Path]:
    out = {}
    for name in names:
        exe = build / name
        run(
            ["gcc", *CFLAGS, f"-I{ROOT / 'include'}", f"-I{HERE}", str(HERE / f"{name}.c"),
             "-o", str(exe), f"-L{lib_dir}", "-lferroftp", "-lpthread", f"-Wl,-rpath,{lib_dir}"],
            f"building {name}",
        )
        out[name] = exe
    return out


def header_major() -> str:
    """FERROFTP_VERSION_MAJOR of include/ferroftp.h."""
    for line in (ROOT / "include/ferroftp.h").read_text().splitlines():
        if line.startswith("#define FERROFTP_VERSION_MAJOR "):
            return line.split()[2]
    die("include/ferroftp.h defines no FERROFTP_VERSION_MAJOR")
    return ""


def needed(exe: Path) -> list[str]:
    """The shared libraries a program asks the loader for (`readelf -d`)."""
    out = subprocess.run(["readelf", "-d", str(exe)], capture_output=True, text=True, check=False)
    return [line.split("[", 1)[1].split("]", 1)[0] for line in out.stdout.splitlines()
            if "(NEEDED)" in line and "[" in line]


def install_test(build: Path, server: Server) -> None:
    """make install into a temporary prefix: the versioned library and its links, its SONAME
    (readelf -d) the header's major version; examples/c (example.c, and stream.c streaming a
    download to stdout) through pkg-config only, examples/cpp through CMake's
    find_package(ferroftp); each asks the loader for the SONAME and runs against the loopback
    server."""
    prefix = build / "prefix"
    make = os.environ.get("MAKE", "make")
    run([make, "-C", str(ROOT), "--no-print-directory", "install", f"PREFIX={prefix}",
         "C_PROFILE=debug"], "make install")
    major = header_major()
    soname_ = f"libferroftp.so.{major}"
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib/pkgconfig"))
    version = subprocess.run(["pkg-config", "--modversion", "ferroftp"], env=env,
                             capture_output=True, text=True, check=False).stdout.strip()
    if not version.startswith(f"{major}."):
        die(f"pkg-config says ferroftp {version!r}, the header's major version is {major}")
    versioned = f"libferroftp.so.{version}"
    for f in ["include/ferroftp.h", f"lib/{versioned}", "lib/libferroftp.a",
              "lib/pkgconfig/ferroftp.pc", "lib/cmake/ferroftp/ferroftpConfig.cmake",
              "lib/cmake/ferroftp/ferroftpConfigVersion.cmake"]:
        if not (prefix / f).is_file() or (prefix / f).is_symlink():
            die(f"make install did not install {f}")
    for link, target in [(soname_, versioned), ("libferroftp.so", soname_)]:
        path = prefix / "lib" / link
        if not path.is_symlink() or os.readlink(path) != target:
            die(f"make install did not make the link lib/{link} -> {target}")
    lib = prefix / "lib" / versioned
    if soname(lib) != soname_:
        die(f"the installed {versioned} has SONAME {soname(lib)}, not {soname_}")
    cmake_config = (prefix / "lib/cmake/ferroftp/ferroftpConfig.cmake").read_text()
    if "IMPORTED_NO_SONAME" in cmake_config or f'IMPORTED_SONAME "{soname_}"' not in cmake_config:
        die("the CMake package does not declare the library's SONAME")
    print(f"installed: lib/{versioned} (SONAME {soname_}), lib/{soname_} -> {versioned}, "
          f"lib/libferroftp.so -> {soname_}", flush=True)

    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "ferroftp"], env=env,
                           capture_output=True, text=True, check=False)
    if flags.returncode != 0:
        die(f"pkg-config cannot find ferroftp: {flags.stderr.strip()}")
    print(f"pkg-config: ferroftp {version}: {flags.stdout.strip()}", flush=True)
    run_env = dict(os.environ, LD_LIBRARY_PATH=str(prefix / "lib"))
    built = {}
    for name in ["example", "stream"]:
        exe = build / f"{name}_pkgconfig"
        run(["gcc", *CFLAGS, str(ROOT / f"examples/c/{name}.c"), "-o", str(exe),
             *flags.stdout.split()], f"building examples/c/{name}.c with pkg-config")
        built[name] = exe
    run([str(built["example"]), server.url + "/"], "examples/c (installed, pkg-config)",
        env=run_env)
    # stream.c: a file the runner puts on the server's disk, to stdout, whole and from an offset.
    data = os.urandom(3 * 1024 * 1024 + 77)
    remote = f"stream-example-{os.getpid()}.bin"
    (Path(server.root) / remote).write_bytes(data)
    try:
        for offset in [0, 1234567]:
            print(f"+ {built['stream']} {server.url}/ /{remote} {offset} > (compared)", flush=True)
            got = subprocess.run([str(built["stream"]), server.url + "/", "/" + remote,
                                  str(offset)], env=run_env, capture_output=True,
                                 timeout=HANG_GUARD, check=False)
            if got.returncode != 0 or got.stdout != data[offset:]:
                die(f"examples/c/stream.c from byte {offset}: exit status {got.returncode}, "
                    f"{len(got.stdout)} bytes (want {len(data) - offset}): "
                    f"{got.stderr.decode(errors='replace').strip()}")
    finally:
        (Path(server.root) / remote).unlink()

    cmake_build = build / "cmake"
    run(["cmake", "-S", str(ROOT / "examples/cpp"), "-B", str(cmake_build),
         f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Debug"],
        "configuring examples/cpp (find_package(ferroftp))")
    run(["cmake", "--build", str(cmake_build)], "building examples/cpp")
    built["cpp"] = cmake_build / "ferroftp_cpp_example"
    for name, exe in built.items():
        if soname_ not in needed(exe):
            die(f"{exe.name} does not ask for {soname_} (NEEDED: {needed(exe)})")
    run([str(built["cpp"]), server.url + "/"], "examples/cpp (installed, CMake)", env=run_env)


def demo(lib_dir: Path) -> None:
    need("gcc", "readelf")
    with tempfile.TemporaryDirectory(prefix="ferroftp-c-demo-") as tmp:
        lib_dir = lib_links(Path(tmp), lib_dir)
        exe = Path(tmp) / "example"
        run(["gcc", *CFLAGS, f"-I{ROOT / 'include'}", str(ROOT / "examples/c/example.c"),
             "-o", str(exe), f"-L{lib_dir}", "-lferroftp", f"-Wl,-rpath,{lib_dir}"],
            "building examples/c")
        server = Server("pyftpdlib")
        try:
            run([str(exe), server.url + "/"], "examples/c against pyftpdlib")
        finally:
            server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--lib-dir", required=True, type=Path, help="directory of libferroftp.so")
    p.add_argument("--demo", action="store_true", help="build and run examples/c only")
    p.add_argument("--no-valgrind", action="store_true", help="run the tests natively (debugging)")
    p.add_argument("--only", action="append", metavar="TEST",
                   help="run only this test program (repeatable; no install test; debugging)")
    args = p.parse_args()
    lib_dir = args.lib_dir.resolve()
    if not (lib_dir / "libferroftp.so").is_file():
        die(f"{lib_dir}/libferroftp.so is missing; build it (cargo build -p ferroftp-c)")
    if args.demo:
        demo(lib_dir)
        return
    need("gcc", "g++", "cmake", "pkg-config", "readelf",
         *([] if args.no_valgrind else ["valgrind"]))
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ferroftp-c-tests-") as tmp:
        build = Path(tmp)
        check_header(build)
        exes = build_tests(build, lib_links(build, lib_dir), args.only or TESTS)
        servers = []
        try:
            results = []
            for kind, extra, tests, extra_arg, *native in RUNS:
                if args.only and not set(args.only) & set(tests):
                    continue
                server = Server(kind, extra)
                servers.append(server)
                for name in tests:
                    if args.only and name not in args.only:
                        continue
                    t0 = time.monotonic()
                    valgrind = not (args.no_valgrind or native)
                    argv = [str(exes[name]), server.url, server.root, server.kind,
                            *server.args(extra_arg)]
                    how = " under valgrind" if valgrind else " natively"
                    run([*(VALGRIND if valgrind else []), *argv], f"{name} against {server.label}{how}")
                    results.append(f"{name} [{server.label}]{how if native else ''} ok in "
                                   f"{time.monotonic() - t0:.1f} s")
            if not args.only:
                install_test(build, servers[0])
                results.append("install (libferroftp.so.X.Y.Z, links, SONAME) + pkg-config "
                               "(examples/c: example.c, stream.c) + CMake find_package "
                               "(examples/cpp) ok")
        finally:
            for server in servers:
                server.stop()
    print("\n".join(["", "C tests:", *("  " + r for r in results)]))
    print(f"C tests: all passed in {time.monotonic() - start:.0f} s"
          + ("" if args.no_valgrind else " (under valgrind, zero errors and leaks, but for the "
             "runs marked natively)"), flush=True)


if __name__ == "__main__":
    main()
