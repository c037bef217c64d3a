"""Shared pytest fixtures."""

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, str | bytes], str]:
    """Write a small CSV (text or raw bytes) under tmp_path and return its path as a string."""

    def write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return str(path)

    return write


@pytest.fixture(scope="session")
def sine_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200-point monthly series with trend and a yearly cycle."""
    import math

    path = tmp_path_factory.mktemp("data") / "sine.csv"
    lines = ["month,value"]
    for k in range(200):
        year, month = 1990 + k // 12, k % 12 + 1
        value = 100 + 0.5 * k + 10 * math.sin(2 * math.pi * k / 12)
        lines.append(f"{year}-{month:02d}-01,{value:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, sine_csv: Path) -> Path:
    """A model folder made once per session: a tiny trained model 'tiny' and 'article-cell'."""
    from scripts import article_cell, train

    root = tmp_path_factory.mktemp("models")
    train.run(
        [
            "--data",
            str(sine_csv),
            "--name",
            "tiny",
            "--model-dir",
            str(root),
            "--window",
            "12",
            "--hidden",
            "8",
            "--layers",
            "2",
            "--epochs",
            "3",
            "--horizon",
            "2",
            # Recursive, no seasonal input: any horizon and any history length are served.
            "--decoder",
            "recursive",
            "--season",
            "1",
            # Values only: tests compare it with module(x) called without exogenous inputs.
            "--no-calendar",
            "--quiet",
        ]
    )
    assert article_cell.main(["--model-dir", str(root)]) == 0
    return root


@pytest.fixture(scope="session")
def copy_models(model_dir: Path) -> Callable[[Path], Path]:
    """Copy the session's model folder to `parent`/models, without training logs and without
    served.json: nothing is promoted in a copy, so it serves each model's newest version."""
    import shutil

    from model.served import STATE_FILE

    def copy(parent: Path) -> Path:
        root = parent / "models"
        shutil.copytree(model_dir, root, ignore=shutil.ignore_patterns("_logs", STATE_FILE))
        return root

    return copy


@pytest.fixture(scope="session")
def app(model_dir: Path):
    """The service on the session's model folder, polling off; shared, so treat it as
    read-only (tests that change models, metrics or logging build their own app)."""
    from service import ServiceConfig, create_app

    application = create_app(ServiceConfig(model_dir=str(model_dir), poll_seconds=0))
    yield application
    application.extensions["gatecast"].registry.close()


@pytest.fixture
def client(app):
    """A Flask test client for `app`."""
    return app.test_client()


@pytest.fixture(scope="session")
def make_checkpoint() -> Callable[..., Path]:
    """Write an untrained GateLSTM checkpoint (seeded weights) without running training."""
    from bench.checkpoints import write_untrained

    return write_untrained


@pytest.fixture(scope="session")
def publish_copy() -> Callable[[Path], Path]:
    """Copy a checkpoint to a newer version of the same model, atomically (temp + rename)."""
    from bench.checkpoints import publish

    return publish


@pytest.fixture(scope="session")
def covariate_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A long CSV of two daily series driven by a price (known ahead) and a temperature."""
    import datetime as dt
    import math

    path = tmp_path_factory.mktemp("data") / "shops.csv"
    lines = ["series_id,date,value,price,temp"]
    for shop, base in (("north", 100.0), ("south", 60.0)):
        for k in range(90):
            day = dt.date(2024, 1, 1) + dt.timedelta(days=k)
            price = 8.0 if (k // 10) % 3 == 0 else 10.0
            temp = 10 + 8 * math.sin(2 * math.pi * k / 45)
            value = base + 20 * (10 - price) + 0.5 * temp + 5 * (day.weekday() >= 5)
            lines.append(f"{shop},{day.isoformat()},{value:.3f},{price},{temp:.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def covariate_models(tmp_path_factory: pytest.TempPathFactory, covariate_csv: Path) -> Path:
    """A model folder made once per session: 'shops', a tiny global model of covariate_csv
    with calendar inputs, a past and a future covariate and a series embedding."""
    from scripts import train

    root = tmp_path_factory.mktemp("covariate-models")
    train.run(
        [
            "--data",
            str(covariate_csv),
            "--name",
            "shops",
            "--model-dir",
            str(root),
            "--future-covariates",
            "price",
            "--past-covariates",
            "temp",
            "--series-embedding",
            "2",
            "--window",
            "8",
            "--horizon",
            "3",
            "--season",
            "1",
            "--hidden",
            "6",
            "--layers",
            "1",
            "--max-steps",
            "40",
            "--quiet",
        ]
    )
    return root


@pytest.fixture(scope="session")
def shops(covariate_models: Path):
    """The service on the covariate model folder, batching off; shared, so read-only."""
    from service import ServiceConfig, create_app

    app = create_app(ServiceConfig(model_dir=str(covariate_models), poll_seconds=0, batch_max=0))
    yield app
    app.extensions["gatecast"].registry.close()


@pytest.fixture
def folder(tmp_path: Path, copy_models: Callable[[Path], Path], publish_copy) -> Path:
    """A model folder with tiny in three versions (oldest the trained one), nothing promoted."""
    from model.export import list_checkpoints

    root = copy_models(tmp_path)
    publish_copy(publish_copy(list_checkpoints(root)["tiny"][-1]))
    return root
