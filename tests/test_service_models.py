"""GET /models and /models/<name>: never a 5xx, whatever a checkpoint holds; kept versions."""

import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.checkpoints import publish, version_path
from model.export import list_checkpoints
from model.served import STATE_FILE
from service import ServiceConfig, create_app
from tests.test_service_registry import rewrite_meta

# meta.json changes that used to load and then break the listing or every interval request.
BAD_META: dict[str, tuple[Any, str]] = {
    "created-at": (lambda m: {**m, "created_at": 20261130}, "created_at"),
    "frequency": (lambda m: {**m, "frequency": {"alias": "MS"}}, "frequency"),
    "metrics": (lambda m: {**m, "metrics": ["mae", 1.0]}, "metrics"),
    "normalization": (lambda m: {**m, "normalization": "window"}, "normalization"),
    "network": (lambda m: {**m, "network": {**m["network"], "num_layers": "2"}}, "num_layers"),
    "probs-strings": (
        lambda m: {
            **m,
            "residual_quantiles": {
                **m["residual_quantiles"],
                "probs": [str(p) for p in m["residual_quantiles"]["probs"]],
            },
        },
        "residual_quantiles.probs",
    ),
    "steps-unsorted": (
        lambda m: {
            **m,
            "residual_quantiles": {
                **m["residual_quantiles"],
                "steps": [row[::-1] for row in m["residual_quantiles"]["steps"]],
            },
        },
        "quantiles must not decrease",
    ),
}


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """tiny with three versions, plus one model per kind of bad meta.json."""
    root = tmp_path_factory.mktemp("odd") / "models"
    # Nothing promoted (no served.json): the newest version is served.
    shutil.copytree(model_dir / "tiny", root / "tiny", ignore=shutil.ignore_patterns(STATE_FILE))
    good = list_checkpoints(root)["tiny"][-1]
    publish(publish(good))
    for case, (change, _) in BAD_META.items():
        version_path(root / f"bad-{case}").write_bytes(rewrite_meta(good, change))
    return root


@pytest.fixture(scope="module")
def odd_client(odd_folder: Path):
    """The service on odd_folder, keeping the 2 newest versions of each model."""
    app = create_app(ServiceConfig(model_dir=str(odd_folder), poll_seconds=0, keep_versions=2))
    yield app.test_client()
    app.extensions["gatecast"].registry.close()


def test_models_answers_and_lists_each_bad_meta_as_failed(odd_client) -> None:
    r = odd_client.get("/models")
    assert r.status_code == 200
    by_name = {m["name"]: m for m in r.get_json()["models"]}
    for case, (_, phrase) in BAD_META.items():
        info = by_name[f"bad-{case}"]
        assert info["status"] == "failed" and info["latest"] is None, case
        [version] = info["versions"]
        assert version["status"] == "failed" and version["reason"].startswith(
            "ValueError: meta.json: "
        )
        assert phrase in version["reason"], (case, version["reason"])
        one = odd_client.get(f"/models/bad-{case}")
        assert one.status_code == 200 and one.get_json() == info
    assert by_name["tiny"]["status"] == "loaded"


def test_older_versions_are_listed_as_not_kept(odd_client, odd_folder: Path) -> None:
    files = list_checkpoints(odd_folder)["tiny"]
    listing = odd_client.get("/models/tiny").get_json()
    assert [v["version"] for v in listing["versions"]] == [p.stem for p in reversed(files)]
    assert [v["status"] for v in listing["versions"]] == ["loaded", "loaded", "not_kept"]
    oldest = listing["versions"][-1]
    assert oldest["reason"] == "only the 2 newest loadable versions are kept in memory"
    assert oldest["window"] is None and oldest["latest"] is False


def test_pinned_requests_get_any_kept_version(odd_client, odd_folder: Path) -> None:
    oldest, middle, _ = list_checkpoints(odd_folder)["tiny"]
    body = {"model": "tiny", "version": middle.stem, "sequence": [1.0, 2.0, 3.0]}
    r = odd_client.post("/forecast", json=body)
    assert r.status_code == 200 and r.get_json()["version"] == middle.stem
    r = odd_client.post("/forecast", json={**body, "version": oldest.stem})
    error = r.get_json()["error"]
    assert r.status_code == 404 and error["code"] == "not_kept" and error["field"] == "version"
    assert "2 newest loadable versions" in error["message"]
