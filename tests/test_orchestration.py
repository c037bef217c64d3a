"""Static checks of compose.yaml and the Kubernetes manifests under deploy/k8s.

Nothing here builds or runs a container (.ci/container-smoke.sh does that with
podman); these tests parse the files and check the properties the deployment relies on,
so a careless edit fails `make test` instead of a deployment.
"""

import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy_files import (
    APP_UID,
    K8S,
    PORT,
    REPO,
    gunicorn_setting,
)

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
