"""The facts the core defines once reach this face whole: its connection settings (the keyword
options of ``connect``, ``connect_async``, ``Pool``, ``AsyncPool`` and their stubs), its data
modes and its checksum names. A setting, mode or name added to the core without the Python face
fails here."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from conftest import OPTIONS, Server

import ferroftp
from ferroftp import _native

STUB = Path(ferroftp.__file__).with_name("_native.pyi")

#: The keyword options of the pools that are theirs, not the core's settings.
POOL_OWN = ("max_sessions", "wait_timeout")
#: The server and credentials as keywords (instead of, or completing, a URL).
SERVER = ("host", "port", "user", "password", "account")

#: How the stub spells each kind of setting.
STUB_TYPES = {
    "seconds": "float",
    "flag": "bool",
    "count": "int",
    "bytes": "int",
    "path": "_StrPath",
    "text": "str",
}

UNREACHABLE = "ftp://127.0.0.1:1"


def defaults() -> dict[str, Any]:
    return {s["name"]: s["default"] for s in _native.SETTINGS}


def test_the_settings_table_is_complete() -> None:
    names = [s["name"] for s in _native.SETTINGS]
    assert len(names) == len(set(names)) > 0
    for s in _native.SETTINGS:
        assert s["kind"] in (*STUB_TYPES, "choice"), f"{s['name']}: a kind this face cannot pass"
        assert (s["choices"] is not None) == (s["kind"] == "choice"), s
        if s["optional"]:
            assert s["default"] is None, s
        else:
            assert s["default"] is not None, s
        if s["kind"] == "choice":
            assert s["default"] is None or s["default"] in s["choices"], s
        assert s["doc"], s
    by_name = {s["name"]: s for s in _native.SETTINGS}
    assert by_name["data_mode"]["choices"] == _native.DATA_MODES


@pytest.mark.parametrize(
    "make",
    [ferroftp.connect, ferroftp.connect_async, ferroftp.Pool, ferroftp.AsyncPool],
    ids=["connect", "connect_async", "Pool", "AsyncPool"],
)
def test_every_setting_is_an_option(make: Any) -> None:
    """Every setting is accepted (here at its default: the unknown keyword after them is the
    first thing refused), and nothing else is."""
    name = getattr(make, "__name__", "")
    with pytest.raises(TypeError) as info:
        make(UNREACHABLE, **defaults(), not_a_setting=1)
    assert str(info.value) == f"{name}() got an unexpected keyword argument 'not_a_setting'"
    if make in (ferroftp.Pool, ferroftp.AsyncPool):  # pools connect lazily
        make(UNREACHABLE, **defaults(), max_sessions=2, wait_timeout=1.0)


def test_every_setting_at_its_default_connects(server: Server) -> None:
    options = {**defaults(), **OPTIONS}
    with ferroftp.connect(server.url, **options) as s:
        assert s.pwd() == "/"


def stub_signatures() -> dict[str, ast.arguments]:
    """The arguments of connect, connect_async, Pool.__new__ and AsyncPool.__new__ in the stub."""
    found: dict[str, ast.arguments] = {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name in ("connect", "connect_async"):
            found[node.name] = node.args
        if isinstance(node, ast.ClassDef) and node.name in ("Pool", "AsyncPool"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__new__":
                    found[node.name] = item.args
    assert sorted(found) == ["AsyncPool", "Pool", "connect", "connect_async"]
    return found


def expected_annotation(setting: dict[str, Any]) -> str:
    if setting["kind"] == "choice":
        spelled = f"Literal[{', '.join(repr(c) for c in setting['choices'])}]"
    else:
        spelled = STUB_TYPES[setting["kind"]]
    return f"{spelled} | None" if setting["optional"] else spelled


@pytest.mark.parametrize("name", ["connect", "connect_async", "Pool", "AsyncPool"])
def test_the_stub_lists_every_setting(name: str) -> None:
    """The stub spells each option out (what users and mypy see): exactly the core's settings,
    in its order, each with the type of its kind and the core's default."""
    args = stub_signatures()[name]
    assert [a.arg for a in args.args] == (["cls", "url"] if name.endswith("Pool") else ["url"])
    options = [
        (a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if a.arg not in POOL_OWN + SERVER
    ]
    assert [a.arg for a, _ in options] == [s["name"] for s in _native.SETTINGS]
    for (arg, default), setting in zip(options, _native.SETTINGS):
        assert default is not None, arg.arg
        assert ast.literal_eval(default) == setting["default"], arg.arg
        assert type(ast.literal_eval(default)) is type(setting["default"]), arg.arg
        assert arg.annotation is not None
        assert ast.unparse(arg.annotation) == expected_annotation(setting), arg.arg


def test_the_stub_names_every_checksum() -> None:
    aliases = {
        node.target.id: node.value
        for node in ast.parse(STUB.read_text()).body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }
    spelled = ast.unparse(aliases["_Checksum"])
    names = ", ".join(repr(c) for c in _native.CHECKSUMS)
    assert spelled == f"Literal[{names}] | None"


@pytest.mark.parametrize("mode", _native.DATA_MODES)
def test_every_data_mode_is_accepted(
    server: Server, workdir: tuple[str, Path], tmp_path: Path, mode: str
) -> None:
    remote, _ = workdir
    with ferroftp.connect(server.url, data_mode=mode, **OPTIONS) as s:
        s.write_bytes(f"{remote}/m", mode.encode())
        assert s.read_bytes(f"{remote}/m") == mode.encode()
        assert [e.name for e in s.list(remote)] == ["m"]
    with ferroftp.Pool(server.url, data_mode=mode.upper(), **OPTIONS) as pool:
        result = pool.download_many([(f"{remote}/m", tmp_path / "m")])
        assert result.ok == {f"{remote}/m": len(mode)}, result.failed


def test_other_data_modes_are_refused() -> None:
    with pytest.raises(ValueError, match="data_mode") as info:
        ferroftp.Pool(UNREACHABLE, data_mode="fast")
    assert not isinstance(info.value, ferroftp.Error)  # a bad argument, as Python reports one


@pytest.mark.parametrize("name", _native.CHECKSUMS)
def test_every_checksum_name_is_accepted(name: str) -> None:
    with ferroftp.Pool(UNREACHABLE) as pool:
        assert pool.download_many([], checksum=name)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="checksum"):
            pool.download_many([], checksum=name + "x")  # type: ignore[arg-type]
