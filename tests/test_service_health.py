"""/healthz and /readyz."""

from pathlib import Path

import pytest

from service import ServiceConfig, create_app


@pytest.mark.parametrize(
    ("default", "status", "message"),
    [
        ("tiny", 200, None),
        (None, 200, None),
        ("airline", 503, "the default model 'airline' is not loaded"),
    ],
)
def test_readyz_needs_the_default_model(
    model_dir: Path, default: str | None, status: int, message: str | None
) -> None:
    cfg = ServiceConfig(model_dir=str(model_dir), poll_seconds=0, default_model=default)
    app = create_app(cfg)
    client = app.test_client()
    r = client.get("/readyz")
    assert r.status_code == status
    if message is None:
        assert r.get_json() == {"status": "ready", "models": 2}
    else:
        assert r.get_json()["error"] == {"code": "not_ready", "message": message, "field": None}
    assert client.get("/healthz").get_json() == {"status": "ok"}
    app.extensions["gatecast"].registry.close()
