""".env.example against what the code reads, both ways, read from the tree at test time.

A variable counts as read when ``service/`` or ``workers/`` names it as a string
literal in ``os.environ.get("X")``, ``os.environ["X"]``, ``os.getenv("X")``,
``env.get("X")`` (any receiver whose name ends in ``env``/``environ``),
``"X" in os.environ``, ``reader.<method>("X")``, or as a key of
``service.settings.VARIABLES``. Names built at run time (the credential
pattern ``{NAME}_API_KEY``) are checked by behaviour instead.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import dramatiq

from service.settings import VARIABLES, Settings
from workers.credentials import credentials_from_env, env_prefix

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / ".env.example"
SOURCE_DIRS = ("service", "workers")
ASSIGNMENT = re.compile(r"^(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
ENV_RECEIVERS = re.compile(r"(^|\.)(env|environ|_env|environment)$")
READ_METHODS = {"get", "setdefault", "pop", "getenv"}
# Listed on purpose although service/ and workers/ do not read them: where each is read.
EXTRAS = {
    "TEST_REDIS_URL": ROOT / "tests",
    "TEST_DATABASE_URL": ROOT / "tests",
    "dramatiq_queue_prefetch": Path(dramatiq.__file__).parent,
}
CREDENTIAL_SUFFIXES = ("API_KEY", "SECRET", "PASSWORD")


# ---------------------------------------------------------------- what the code reads


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_env(expr: ast.AST) -> bool:
    return bool(ENV_RECEIVERS.search(ast.unparse(expr)))


def _call_reads(node: ast.Call) -> str | None:
    name = _literal(node.args[0]) if node.args else None
    func = node.func
    if name is None:
        return None
    if isinstance(func, ast.Name) and func.id == "getenv":
        return name
    if not isinstance(func, ast.Attribute):
        return None
    receiver = ast.unparse(func.value)
    from_env = func.attr in READ_METHODS and (_is_env(func.value) or receiver == "os")
    from_reader = receiver == "reader" and name.isupper()
    return name if from_env or from_reader else None


def _names_read(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Call):
            name = _call_reads(node)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            # env["X"] = ... sets a child's environment: not a read
            name = _literal(node.slice) if _is_env(node.value) else None
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In | ast.NotIn):
            name = _literal(node.left) if _is_env(node.comparators[0]) else None
        if name is not None:
            yield name


def _variables_keys(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        target: ast.expr
        value: ast.expr | None
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if (
            isinstance(target, ast.Name)
            and target.id == "VARIABLES"
            and isinstance(value, ast.Dict)
        ):
            yield from (key for key in map(_literal, value.keys) if key is not None)


def names_read_under(*folders: Path) -> set[str]:
    names: set[str] = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            names.update(_names_read(tree))
            names.update(_variables_keys(tree))
    return names


def code_reads() -> set[str]:
    return names_read_under(*(ROOT / folder for folder in SOURCE_DIRS))


# ---------------------------------------------------------------- what the file lists


def example_lines() -> list[str]:
    return ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()


def example_entries() -> dict[str, tuple[str, bool, str]]:
    """name -> (value, active, the comment line right above it)."""
    entries: dict[str, tuple[str, bool, str]] = {}
    lines = example_lines()
    for index, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match:
            commented, name, value = match.groups()
            assert name not in entries, f".env.example lists {name} twice"
            above = lines[index - 1] if index else ""
            entries[name] = (value, commented is None, above)
    return entries


# ---------------------------------------------------------------- the scanner itself


def test_scanner_finds_every_way_the_code_reads_a_variable() -> None:
    source = """
import os
from os import getenv
os.environ.get("A"); os.environ["B"]; os.getenv("C"); getenv("D")
env.get("E"); self.env.get("F", ""); reader.env.get("G"); reader.text("H")
if "I" in os.environ: pass
os.environ.setdefault("J", "1")
VARIABLES: dict[str, tuple[str, str]] = {"K": ("", "")}
other.get("NOT_ENV"); os.environ.get(name)
env["WRITTEN"] = "1"; os.environ["ALSO_WRITTEN"] = "1"
"""
    tree = ast.parse(source)
    assert set(_names_read(tree)) | set(_variables_keys(tree)) == set("ABCDEFGHIJK")


def test_scanner_sees_what_settings_and_credentials_read() -> None:
    reads = code_reads()
    assert set(VARIABLES) <= reads
    assert {"DATABASE_URL", "REDIS_URL", "REDIS_HOST"} <= reads


# ---------------------------------------------------------------- both directions


def test_every_variable_the_code_reads_is_listed() -> None:
    missing = code_reads() - set(example_entries())
    assert not missing, f"add to .env.example (with its meaning above it): {sorted(missing)}"


def test_every_listed_variable_is_read_by_the_code_or_a_documented_extra() -> None:
    unread = set(example_entries()) - code_reads() - set(EXTRAS)
    assert not unread, f".env.example lists variables nothing reads: {sorted(unread)}"


def test_documented_extras_are_read_where_the_file_says() -> None:
    entries = example_entries()
    for name, folder in EXTRAS.items():
        assert name in entries
        assert not entries[name][1], f"{name} is not a service setting: keep it commented"
        assert name in names_read_under(folder), f"nothing under {folder} reads {name}"


# ---------------------------------------------------------------- content


def test_every_setting_shows_its_default_with_its_meaning_above() -> None:
    entries = example_entries()
    for name, (default, meaning) in VARIABLES.items():
        value, _active, above = entries[name]
        assert value == default, f"{name}: .env.example says {value!r}, default is {default!r}"
        assert above == f"# {meaning}", f"{name}: the line above should be '# {meaning}'"


def test_the_example_values_are_a_valid_configuration() -> None:
    env = {name: value for name, (value, active, _) in example_entries().items() if active}
    assert Settings.from_env(env) == Settings.from_env({})


def test_the_credential_pattern_is_what_the_workers_read() -> None:
    listed = [line for line in example_lines() if line.startswith("# {NAME}_")]
    assert listed == [f"# {{NAME}}_{suffix}=" for suffix in CREDENTIAL_SUFFIXES]
    prefix = env_prefix("binance-eu")
    env = {line[2:-1].replace("{NAME}", prefix): f"v-{line}" for line in listed}
    found = credentials_from_env("binance-eu", env)
    assert set(found) == {"apiKey", "secret", "password"}
    assert sorted(found.values()) == sorted(env.values())
