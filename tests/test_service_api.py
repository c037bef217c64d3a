"""/models, health, /metrics, the OpenAPI document, request ids and logs (API keys: test_access)."""

import json
import re
import shutil
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from model.export import list_checkpoints
from service import ServiceConfig, create_app

KEY = "k-123456789abcdef"


def schema_validator(doc: dict, name: str) -> Draft202012Validator:
    """A validator for one component schema, its $refs resolved inside the document."""
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", **doc})


def test_models_lists_every_model_with_its_metadata(client, model_dir: Path) -> None:
    body = client.get("/models").get_json()
    by_name = {m["name"]: m for m in body["models"]}
    assert set(by_name) == {"tiny", "article-cell"}
    tiny = by_name["tiny"]
    assert tiny["status"] == "loaded"
    assert tiny["latest"] == list_checkpoints(model_dir)["tiny"][-1].stem
    version = tiny["versions"][0]
    assert version["status"] == "loaded" and version["latest"] is True
    assert (version["window"], version["hidden_size"], version["layers"]) == (12, 8, 2)
    assert version["normalization"] == "window" and version["frequency"] == "MS"
    assert version["horizon"] == 2 and version["intervals"] is True
    assert set(version["metrics"]) >= {"model", "naive"}
    assert version["loaded_at"] and version["reason"] is None
    assert by_name["article-cell"]["versions"][0]["intervals"] is False
    assert client.get("/models/tiny").get_json() == tiny


def test_models_lists_failed_checkpoints_with_reasons(tmp_path: Path, model_dir: Path) -> None:
    shutil.copytree(model_dir / "tiny", tmp_path / "tiny")
    (tmp_path / "tiny" / "29991231T000000000000Z.pt").write_bytes(b"\x00" * 100)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "20260101T000000000000Z.pt").write_bytes(b"PK junk")
    client = create_app(ServiceConfig(model_dir=str(tmp_path), poll_seconds=0)).test_client()
    by_name = {m["name"]: m for m in client.get("/models").get_json()["models"]}
    assert by_name["broken"]["status"] == "failed" and by_name["broken"]["latest"] is None
    failed = by_name["broken"]["versions"][0]
    assert failed["status"] == "failed" and failed["reason"] and failed["failed_at"]
    newest, served = by_name["tiny"]["versions"]
    assert newest["status"] == "failed" and served["status"] == "loaded" and served["latest"]
    assert client.get("/readyz").get_json() == {"status": "ready", "models": 1}


def test_unknown_model_in_models_route(client) -> None:
    r = client.get("/models/nope")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_model"


def test_health_and_readiness(client) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready", "models": 2}


def test_metrics_count_requests_models_and_failures(tmp_path: Path, model_dir: Path) -> None:
    shutil.copytree(model_dir / "tiny", tmp_path / "tiny")
    (tmp_path / "tiny" / "29991231T000000000000Z.pt").write_bytes(b"junk")
    client = create_app(ServiceConfig(model_dir=str(tmp_path), poll_seconds=0)).test_client()
    for _ in range(3):
        assert client.post("/forecast", json={"sequence": [1, 2]}).status_code == 200
    client.post("/forecast", json={"model": "nope", "sequence": [1]})
    client.get("/healthz")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    text = r.get_data(as_text=True)
    assert 'gatecast_requests_total{endpoint="/forecast",model="tiny",status="200"} 3.0' in text
    # An unknown model name from a request never becomes a label value.
    assert 'gatecast_requests_total{endpoint="/forecast",model="",status="404"} 1.0' in text
    assert 'gatecast_request_duration_seconds_count{endpoint="/forecast"} 4.0' in text
    assert 'gatecast_request_duration_seconds_count{endpoint="/healthz"} 1.0' in text
    assert "gatecast_models_loaded 1.0" in text
    assert 'gatecast_model_load_failures_total{model="tiny"} 1.0' in text


def test_openapi_document_is_valid_and_matches_responses(client) -> None:
    doc = client.get("/openapi.json").get_json()
    validate(doc)  # OpenAPI 3.1 structure, schemas included
    request_schema = doc["components"]["schemas"]["ForecastRequest"]
    assert request_schema["properties"]["sequence"]["anyOf"][0]["maxItems"] == 4096
    assert request_schema["properties"]["horizon"]["maximum"] == 256
    response = schema_validator(doc, "ForecastResponse")
    for body in [
        {
            "model": "tiny",
            "sequence": [1, 2, 3],
            "horizon": 2,
            "interval": 0.5,
            "return_state": True,
        },
        {
            "model": "tiny",
            "sequences": [[1, 2], [3]],
            "internals": "last",
            "return_state": True,
            "interval": 0.9,
        },
        {"model": "tiny", "sequence": [1], "internals": "none"},
    ]:
        request_validator = schema_validator(doc, "ForecastRequest")
        request_validator.validate(body)
        r = client.post("/forecast", json=body)
        assert r.status_code == 200
        response.validate(r.get_json())
    errors = schema_validator(doc, "ErrorResponse")
    errors.validate(client.post("/forecast", json={"model": "x", "sequence": [1]}).get_json())
    schema_validator(doc, "ModelList").validate(client.get("/models").get_json())
    schema_validator(doc, "Ready").validate(client.get("/readyz").get_json())
    # The schema refuses what the service refuses.
    request_validator = schema_validator(doc, "ForecastRequest")
    refused: list[dict[str, Any]] = [
        {"sequence": [1], "sequences": [[1]]},
        {},
        {"sequence": []},
        {"sequence": [True]},
        {"sequence": [1], "extra": 1},
        {"sequence": [1], "internals": "x"},
    ]
    for bad in refused:
        assert not request_validator.is_valid(bad), bad
        assert client.post("/forecast", json={"model": "tiny", **bad}).status_code == 400


def test_openapi_reflects_configured_limits_and_auth(model_dir: Path) -> None:
    cfg = ServiceConfig(model_dir=str(model_dir), poll_seconds=0, max_batch=7, api_keys=(KEY,))
    client = create_app(cfg).test_client()
    doc = client.get("/openapi.json", headers={"Authorization": f"Bearer {KEY}"}).get_json()
    validate(doc)
    sequences = doc["components"]["schemas"]["ForecastRequest"]["properties"]["sequences"]
    assert sequences["anyOf"][0]["maxItems"] == 7
    assert doc["security"] == [{"bearer": []}]
    assert "401" in doc["paths"]["/forecast"]["post"]["responses"]


def test_request_id_is_echoed_or_made(client) -> None:
    r = client.get("/healthz", headers={"X-Request-Id": "abc-123.x:y_z"})
    assert r.headers["X-Request-Id"] == "abc-123.x:y_z"
    for bad in ["has space", "x" * 129, "semi;colon", "new\\nline", ""]:
        made = client.get("/healthz", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", made), bad
    r = client.post(
        "/forecast", data=b"{", content_type="application/json", headers={"X-Request-Id": "err-1"}
    )
    assert r.status_code == 400 and r.headers["X-Request-Id"] == "err-1"
    assert (
        client.get("/nowhere", headers={"X-Request-Id": "nf-1"}).headers["X-Request-Id"] == "nf-1"
    )


def test_one_json_log_line_per_request(model_dir: Path, capsys) -> None:
    client = create_app(ServiceConfig(model_dir=str(model_dir), poll_seconds=0)).test_client()
    capsys.readouterr()
    client.post(
        "/forecast",
        json={"model": "tiny", "sequence": [1, 2]},
        headers={"X-Request-Id": "log-test-1"},
    )
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    access = [line for line in lines if line.get("request_id") == "log-test-1"]
    assert len(access) == 1
    line = access[0]
    assert line["level"] == "INFO" and line["msg"] == "request"
    assert (line["method"], line["path"], line["status"]) == ("POST", "/forecast", 200)
    assert line["model"] == "tiny" and line["version"]
    assert line["duration_ms"] >= 0 and line["ts"].endswith("+00:00")
    client.get("/healthz", headers={"X-Request-Id": "log-test-2"})
    health = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert [(h["model"], h["version"], h["status"]) for h in health] == [(None, None, 200)]
