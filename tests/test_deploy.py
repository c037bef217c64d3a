"""Static checks of the Dockerfile, gunicorn.conf.py, pyproject.toml and the smoke script.

Nothing here builds or runs a container (.ci/container-smoke.sh does that with
podman); these tests parse the files and check the properties the deployment relies on,
so a careless edit fails `make test` instead of a deployment.
"""

import fnmatch
import re
import subprocess
import tomllib

from tests.deploy_files import (
    APP_UID,
    PORT,
    REPO,
    TORCH_CPU_INDEX,
    args_of,
    env_of,
    gunicorn_setting,
    stages,
)


def test_gunicorn_settings_the_deployment_relies_on() -> None:
    assert int(gunicorn_setting("graceful_timeout")) > 0  # compared with compose and k8s below
    assert gunicorn_setting("worker_tmp_dir").startswith('"/dev/shm"')
    assert 'os.environ.get("GATECAST_BIND"' in gunicorn_setting("bind")


# -- Dockerfile -----------------------------------------------------------------------------


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
    assert set(scripts) == {
        "gatecast-train",
        "gatecast-backtest",
        "gatecast-article-cell",
        "gatecast-forecast",
        "gatecast-models",
    }
    assert all(target.split(".")[0] == "scripts" for target in scripts.values())


def test_the_client_is_an_extra_that_the_image_leaves_out() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "gatecast_client*" in meta["tool"]["setuptools"]["packages"]["find"]["include"]
    client = meta["project"]["optional-dependencies"]["client"]
    assert any(dep.startswith("urllib3") for dep in client)
    assert not any(dep.startswith("urllib3") for dep in meta["project"]["dependencies"])
    # the image installs gatecast without extras and never copies the client's code
    text = (REPO / "Dockerfile").read_text()
    assert "gatecast_client" not in text
    assert not re.search(r"pip install[^\n]*\.\[", text)


# -- the smoke script ------------------------------------------------------------------------


def test_container_smoke_script_parses_and_uses_the_shared_smoke_test() -> None:
    script = REPO / ".ci" / "container-smoke.sh"
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = script.read_text()
    assert "set -eu" in text.splitlines()
    assert "SHARED=${GATECAST_SHARED:-../shared}" in text
    assert '[ -f "$SMOKE" ] || SMOKE=.ci/podman-smoke.sh' in text  # CI's clone has no ../shared
    copy = REPO / ".ci" / "podman-smoke.sh"
    result = subprocess.run(["sh", "-n", str(copy)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "trap on_exit EXIT" in text
