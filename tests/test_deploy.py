"""Static checks of the container and deployment files: Dockerfile, .dockerignore,
compose.yaml and the Kubernetes manifests under deploy/k8s.

Nothing here builds or runs a container (scripts/container_smoke.sh does that with
podman); these tests parse the files and check the properties the deployment relies on,
so a careless edit fails `make test` instead of a deployment.
"""

import fnmatch
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "k8s"
APP_UID = 10001
PORT = 8000
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def gunicorn_setting(name: str) -> str:
    """A literal `name = value` line of gunicorn.conf.py (the deployment files rely on it)."""
    text = (REPO / "gunicorn.conf.py").read_text()
    match = re.search(rf"^{name} = (.+?)(?:\s+#.*)?$", text, re.M)
    assert match, f"gunicorn.conf.py has no `{name} = ...` line"
    return match.group(1)


def test_gunicorn_settings_the_deployment_relies_on() -> None:
    assert int(gunicorn_setting("graceful_timeout")) > 0  # compared with compose and k8s below
    assert gunicorn_setting("worker_tmp_dir").startswith('"/dev/shm"')
    assert 'os.environ.get("GATECAST_BIND"' in gunicorn_setting("bind")


# -- Dockerfile -----------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, args = pending.partition(" ")
        out.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends in a line continuation"
    return out


Stage = list[tuple[str, str]]


def stages() -> dict[str, Stage]:
    """The Dockerfile's build stages by name, each starting with its FROM."""
    result: dict[str, Stage] = {}
    current: Stage | None = None
    for ins in dockerfile_instructions((REPO / "Dockerfile").read_text()):
        if ins[0] == "FROM":
            _base, as_, name = ins[1].split()
            assert as_.upper() == "AS", f"unnamed stage: FROM {ins[1]}"
            current = result[name] = []
        assert current is not None, f"{ins[0]} before the first FROM"
        current.append(ins)
    return result


def args_of(stage: Stage, keyword: str) -> list[str]:
    """The arguments of every `keyword` instruction in a stage."""
    return [args for kw, args in stage if kw == keyword]


def env_of(stage: Stage) -> dict[str, str]:
    """ENV KEY=VALUE settings of a stage (the KEY=VALUE form only)."""
    env: dict[str, str] = {}
    for args in args_of(stage, "ENV"):
        for item in shlex.split(args):
            key, sep, value = item.partition("=")
            assert sep, f"use ENV KEY=VALUE, not {args!r}"
            env[key] = value
    return env


def test_dockerfile_is_multi_stage_on_the_official_slim_base() -> None:
    st = stages()
    assert list(st) == ["deps", "build", "runtime"]
    assert args_of(st["deps"], "FROM") == ["python:3.11-slim AS deps"]
    assert args_of(st["build"], "FROM") == ["python:3.11-slim AS build"]
    assert args_of(st["build"], "COPY")[:2] == [
        "--from=deps /opt/venv /opt/venv",
        "--from=deps /opt/deps.stamp /opt/deps.stamp",
    ]
    assert args_of(st["runtime"], "FROM") == ["python:3.11-slim AS runtime"]
    # the runtime stage takes only the virtual environment: dependencies, then gatecast
    assert [a for a in args_of(st["runtime"], "COPY") if a.startswith("--from")] == [
        "--from=deps /opt/venv /opt/venv",
        "--from=build /out/ /",
    ]


def test_dockerfile_no_other_line_starts_with_from() -> None:
    # The shared smoke.sh finds base images with awk on lines starting with FROM, so a
    # continued line such as "from x import y; ..." inside a RUN would read as a base image.
    lines = (REPO / "Dockerfile").read_text().splitlines()
    starts = [ln for ln in lines if ln.split()[:1] and ln.split()[0].upper() == "FROM"]
    assert starts == [
        "FROM python:3.11-slim AS deps",
        "FROM python:3.11-slim AS build",
        "FROM python:3.11-slim AS runtime",
    ]


def test_dockerfile_installs_cpu_torch_then_dependencies_then_the_project() -> None:
    st = stages()
    deps_stage, build = st["deps"], st["build"]
    assert "TORCH_VERSION=2.13.0" in args_of(deps_stage, "ARG")
    assert f"TORCH_INDEX_URL={TORCH_CPU_INDEX}" in args_of(deps_stage, "ARG")
    assert env_of(deps_stage)["PIP_NO_CACHE_DIR"] == "1"
    assert "python -m venv /opt/venv" in args_of(deps_stage, "RUN")
    runs = " ".join(args_of(deps_stage, "RUN") + args_of(build, "RUN"))
    # torch: the wheelhouse without any index, else the CPU index (never PyPI's CUDA build)
    assert '--no-index --find-links /wheelhouse --no-deps "torch==${TORCH_VERSION}"' in runs
    assert '--index-url "${TORCH_INDEX_URL}" --no-deps "torch==${TORCH_VERSION}"' in runs
    assert "wheelhouse/ /wheelhouse/" in args_of(deps_stage, "COPY")
    assert "torch.version.cuda is None" in runs
    # `pip install .` twice: the dependencies (pinned torch) with no code copied yet ...
    (deps,) = [r for r in args_of(deps_stage, "RUN") if re.search(r"pip install\b.* \.\s", r)]
    assert "--constraint /opt/torch-constraint.txt" in deps
    assert "pip check" in deps
    # the README is a stand-in here, so editing it does not rebuild the 1 GB layer
    assert args_of(deps_stage, "COPY") == ["wheelhouse/ /wheelhouse/", "pyproject.toml ./"]
    assert deps.startswith('echo "# gatecast" > README.md && pip install')
    assert deps.rstrip().endswith("touch /opt/deps.stamp")
    # ... then the code, non-editable, without touching the dependencies
    project = "pip install --no-compile --no-deps --force-reinstall . && pip check"
    assert project in args_of(build, "RUN")
    assert build.index(("COPY", "service/ service/")) < build.index(("RUN", project))
    text = (REPO / "Dockerfile").read_text()
    assert not re.search(r"pip install[^\n]*(\s-e\s|--editable)", text)
    # bytecode: nothing compiled at install time; only the warm-ups write .pyc files
    assert env_of(deps_stage)["PYTHONDONTWRITEBYTECODE"] == "1"
    assert runs.count("pip install") == runs.count("pip install --no-compile") == 4
    assert 'PYTHONDONTWRITEBYTECODE= MPLBACKEND=Agg python -c "import torch, lightning' in deps


def test_dockerfile_warm_up_trains_serves_and_writes_bytecode() -> None:
    build = stages()["build"]
    (warm,) = [r for r in args_of(build, "RUN") if "--dry-run" in r]
    assert "export PYTHONDONTWRITEBYTECODE= " in warm  # empty: bytecode writing on
    # from /, so the installed package is what runs (not the sources in the WORKDIR)
    assert re.match(r"set -eu;\s+cd /;", warm)
    assert "service.__file__.startswith('/opt/venv/')" in warm
    assert "--dry-run" in warm
    assert "gatecast-article-cell" in warm
    assert "client.post('/forecast'" in warm and "r.status_code == 200" in warm
    assert warm.rstrip().endswith("rm -rf /tmp/warm")
    # then what the build stage added is cut out for the runtime's small layer
    (cut,) = [r for r in args_of(build, "RUN") if "/out" in r]
    assert "find opt/venv usr/lib/python3.11 usr/local/lib/python3.11 -newer /opt/deps.stamp" in cut
    assert build.index(("RUN", warm)) < build.index(("RUN", cut))
    assert "test -x /out/opt/venv/bin/gatecast-train" in cut


def test_dockerfile_runtime_stage() -> None:
    runtime = stages()["runtime"]
    assert args_of(runtime, "USER") == [f"{APP_UID}:{APP_UID}"]  # numeric: runAsNonRoot
    assert args_of(runtime, "EXPOSE") == [str(PORT)]
    assert args_of(runtime, "VOLUME") == ['["/models"]']
    assert args_of(runtime, "WORKDIR") == ["/app"]
    assert args_of(runtime, "CMD") == ['["gunicorn", "-c", "gunicorn.conf.py"]']
    assert args_of(runtime, "ENTRYPOINT") == []  # `docker run IMAGE gatecast-train` works
    env = env_of(runtime)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["GATECAST_MODEL_DIR"] == "/models"
    assert env["GATECAST_BIND"] == f"0.0.0.0:{PORT}"
    assert env["PATH"].startswith("/opt/venv/bin:")
    # the user and the volume's owner are created with the fixed UID
    runs = " ".join(args_of(runtime, "RUN"))
    assert f"useradd --uid {APP_UID}" in runs
    assert f"chown {APP_UID}:{APP_UID} /models" in runs
    # no compilers, package caches, sources or tests in the final image
    assert not re.search(r"apt-get|gcc|build-essential|pip install", runs)
    sources = {a.split()[0] for a in args_of(runtime, "COPY") if not a.startswith("--")}
    assert sources == {"gunicorn.conf.py", "data/"}


def test_dockerfile_healthcheck_calls_healthz_with_a_timeout() -> None:
    (check,) = args_of(stages()["runtime"], "HEALTHCHECK")
    options, _, command = check.partition(" CMD ")
    assert "--timeout=5s" in options.split()
    assert command.startswith('["python", "-c", ')  # the slim image has no curl
    assert "/healthz" in command
    assert "timeout=3" in command  # urllib's own timeout, inside HEALTHCHECK's 5 s
    assert "'0.0.0.0:8000'" in command  # default port = EXPOSE


def test_pyproject_packages_and_console_scripts_for_a_non_editable_install() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = meta["tool"]["setuptools"]["packages"]["find"]["include"]
    # what setuptools' find would pick: folders with an __init__.py matching `include`
    packages = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in REPO.glob("*/**/__init__.py")
        if ".venv" not in init.parts and "build" not in init.parts
    }
    found = {p for p in packages if any(fnmatch.fnmatchcase(p, pat) for pat in include)}
    assert {"model", "scripts", "service", "service.routes"} <= found
    assert not {p for p in found if p.split(".")[0] in {"tests", "bench"}}
    scripts = meta["project"]["scripts"]
    assert set(scripts) == {"gatecast-train", "gatecast-backtest", "gatecast-article-cell"}
    assert all(target.split(".")[0] == "scripts" for target in scripts.values())


# -- .dockerignore ----------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex (Go filepath.Match plus `**`, like Docker)."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignore_excludes(rules: list[str], path: str) -> bool:
    """Whether Docker leaves `path` out of the build context: the last rule that matches
    the path or one of its parent folders decides (moby's patternmatcher)."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule[1:] if negate else rule
        pattern = pattern.strip().strip("/")
        regex = _pattern_regex(pattern)
        if any(regex.match(c) for c in candidates):
            excluded = not negate
    return excluded


def dockerignore_rules() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        "models/airline/20261129T004512123456Z.pt",
        "models/_logs/airline/20261129T004512123456Z/metrics.csv",
        "tests/test_deploy.py",
        "bench/results/container.md",
        "runs/x/metrics.csv",
        "build/lib/model/network.py",
        "gatecast.egg-info/PKG-INFO",
        "model/__pycache__/network.cpython-311.pyc",
        "service/routes/__pycache__/health.cpython-311.pyc",
        ".mypy_cache/3.11/x.json",
        "compose.yaml",
        "deploy/k8s/deployment.yaml",
        "Dockerfile",
        "scripts/container_smoke.sh",
    ],
)
def test_dockerignore_leaves_out(path: str) -> None:
    assert dockerignore_excludes(dockerignore_rules(), path)


def test_dockerignore_keeps_everything_the_dockerfile_copies() -> None:
    rules = dockerignore_rules()
    sources = [
        args.split()[-2]
        for stage in stages().values()
        for args in args_of(stage, "COPY")
        if not args.startswith("--from")
    ]
    assert "wheelhouse/" in sources
    files: list[str] = ["wheelhouse/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"]
    for src in sources:
        path = REPO / src
        found = [path] if path.is_file() else list(path.rglob("*"))
        files += [
            p.relative_to(REPO).as_posix()
            for p in found
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".sh"}
        ]
    assert "model/network.py" in files and "data/airline_passengers.csv" in files
    assert "wheelhouse/.gitkeep" in files
    kept_out = [f for f in files if dockerignore_excludes(rules, f)]
    assert kept_out == []


def test_dockerignore_names_the_usual_suspects_explicitly() -> None:
    rules = set(dockerignore_rules())
    assert {".git", ".venv", "models", "tests"} <= rules
    assert "!wheelhouse/" in rules


# -- compose.yaml ----------------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return data


def test_compose_train_then_api_on_one_image_and_one_volume() -> None:
    compose = load_compose()
    train, api = compose["services"]["train"], compose["services"]["api"]
    assert set(compose["services"]) == {"train", "api"}
    assert train["image"] == api["image"] == "gatecast:latest"
    assert train["build"]["context"] == api["build"]["context"] == "."
    assert api["depends_on"] == {"train": {"condition": "service_completed_successfully"}}
    assert train["volumes"] == ["models:/models"]
    assert api["volumes"] == ["models:/models:ro"]
    assert "models" in compose["volumes"]
    assert train["restart"] == "no"
    assert train["healthcheck"] == {"disable": True}  # the image's check is the service's


def test_compose_train_command() -> None:
    command = load_compose()["services"]["train"]["command"]
    assert command[:2] == ["sh", "-c"]
    script = command[2]
    assert script.startswith("set -e;")
    assert (
        "gatecast-train --data data/airline_passengers.csv --name airline "
        "--model-dir /models --quiet" in script
    )
    assert "gatecast-article-cell --model-dir /models" in script
    assert "$" not in script  # compose would interpolate it
    result = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_compose_api_port_healthcheck_and_workers() -> None:
    api = load_compose()["services"]["api"]
    assert api["ports"] == [f"127.0.0.1:{PORT}:{PORT}"]
    test = api["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert f"http://127.0.0.1:{PORT}/healthz" in test[3]
    assert api["healthcheck"]["timeout"] == "5s"
    env = api["environment"]
    assert int(env["GATECAST_WORKERS"]) * int(env["GATECAST_TORCH_THREADS"]) == api["cpus"]
    assert env["GATECAST_DEFAULT_MODEL"] == "airline"
    assert api["read_only"] is True and api["tmpfs"] == ["/tmp"]
    grace = int(gunicorn_setting("graceful_timeout"))
    assert int(api["stop_grace_period"].removesuffix("s")) > grace


# -- Kubernetes ------------------------------------------------------------------------------


def k8s_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


def one(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in k8s_documents() if d["kind"] == kind]
    return doc


def cpu_cores(quantity: str) -> float:
    """A Kubernetes CPU quantity ("2", "1500m") in cores."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def env_map(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def test_k8s_kinds_and_kustomization() -> None:
    docs = k8s_documents()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["Deployment", "Job", "Kustomization", "PersistentVolumeClaim", "Service"]
    kustomization = one("Kustomization")
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_k8s_same_image_everywhere() -> None:
    images = {
        c["image"]
        for kind in ("Deployment", "Job")
        for c in one(kind)["spec"]["template"]["spec"]["containers"]
    }
    (image,) = images
    (entry,) = one("Kustomization")["images"]
    assert image == f"{entry['name']}:{entry['newTag']}"


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_k8s_pods_run_as_the_image_user_with_resources(kind: str) -> None:
    pod = one(kind)["spec"]["template"]["spec"]
    ctx = pod["securityContext"]
    assert ctx["runAsNonRoot"] is True
    assert ctx["runAsUser"] == ctx["runAsGroup"] == ctx["fsGroup"] == APP_UID
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
        # a read-only root filesystem needs a writable /tmp (HOME, matplotlib, metrics)
        assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}
        res = container["resources"]
        assert set(res["requests"]) == {"cpu", "memory"}
        assert set(res["limits"]) == {"cpu", "memory"}
        assert cpu_cores(res["requests"]["cpu"]) <= cpu_cores(res["limits"]["cpu"])


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_k8s_volumes_match_mounts_and_the_pvc(kind: str) -> None:
    pod = one(kind)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for c in pod["containers"] for m in c["volumeMounts"]}
    assert set(mounts) == set(volumes)  # every mount has a volume, every volume is used
    claim = volumes["models"]["persistentVolumeClaim"]["claimName"]
    assert claim == one("PersistentVolumeClaim")["metadata"]["name"]
    assert mounts["models"]["mountPath"] == "/models"
    assert volumes["tmp"] == {"name": "tmp", "emptyDir": volumes["tmp"]["emptyDir"]}


def test_k8s_pvc_is_shared() -> None:
    pvc = one("PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["spec"]["resources"]["requests"]["storage"]


def test_k8s_deployment_probes_env_and_mounts() -> None:
    deployment = one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": PORT}

    def probe(name: str) -> tuple[str, int]:
        get = container[name]["httpGet"]
        port = get["port"]
        return get["path"], ports[port] if isinstance(port, str) else port

    assert probe("readinessProbe") == ("/readyz", PORT)
    assert probe("livenessProbe") == ("/healthz", PORT)
    assert probe("startupProbe") == ("/healthz", PORT)

    env = env_map(container)
    assert env["GATECAST_MODEL_DIR"] == "/models"
    assert env["GATECAST_BIND"] == f"0.0.0.0:{PORT}"
    cpu_limit = cpu_cores(container["resources"]["limits"]["cpu"])
    assert int(env["GATECAST_WORKERS"]) == max(1, int(cpu_limit))
    assert int(env["GATECAST_WORKERS"]) * int(env["GATECAST_TORCH_THREADS"]) <= cpu_limit

    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["models"]["readOnly"] is True  # the service only reads checkpoints
    assert mounts["dshm"]["mountPath"] == "/dev/shm"  # gunicorn heartbeat files
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    # the Deployment's selector picks its own pods
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # gunicorn's graceful_timeout fits in the termination grace period after the preStop
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    grace = int(gunicorn_setting("graceful_timeout"))
    assert pod["terminationGracePeriodSeconds"] > pause + grace


def test_k8s_service_targets_the_deployment() -> None:
    service, deployment = one("Service"), one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}


def test_k8s_job_trains_into_the_pvc() -> None:
    job = one("Job")
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in {"Never", "OnFailure"}
    (container,) = pod["containers"]
    assert container["command"] == ["gatecast-train"]
    args = container["args"]
    assert args[args.index("--model-dir") + 1] == "/models"
    assert args[args.index("--data") + 1] == "data/airline_passengers.csv"
    assert args[args.index("--name") + 1] == "airline"
    cpu_limit = cpu_cores(container["resources"]["limits"]["cpu"])
    assert int(env_map(container)["OMP_NUM_THREADS"]) == int(cpu_limit)
    # the Deployment serves what the Job trains
    (api,) = one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert env_map(api)["GATECAST_DEFAULT_MODEL"] == "airline"


# -- the smoke script ------------------------------------------------------------------------


def test_container_smoke_script_parses_and_uses_the_shared_smoke_test() -> None:
    script = REPO / "scripts" / "container_smoke.sh"
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = script.read_text()
    assert "set -eu" in text.splitlines()
    assert "SHARED=${GATECAST_SHARED:-../shared}" in text
    assert "trap on_exit EXIT" in text
