"""Property-based fuzzing from /openapi.json (schemathesis) against the real gunicorn.

The full campaign (>= 1,000 requests) is `python -m bench.fuzz`; this runs the same code
with fewer examples per operation (about 400 requests, some 10 s) so CI sees every endpoint fuzzed.
"""

from pathlib import Path

import pytest

from bench import fuzz


def test_endpoint_of_maps_paths_to_templates() -> None:
    templates = ["/forecast", "/models", "/models/{name}"]
    assert fuzz.endpoint_of("/models/tiny", templates) == "/models/{name}"
    assert fuzz.endpoint_of("/models", templates) == "/models"
    assert fuzz.endpoint_of("/models/a/b", templates) == "/models/a/b"


def test_server_counts_sum_the_request_counter() -> None:
    text = "\n".join(
        [
            "# TYPE gatecast_requests_total counter",
            'gatecast_requests_total{endpoint="/forecast",model="tiny",status="200"} 3.0',
            'gatecast_requests_total{endpoint="/forecast",model="",status="200"} 2.0',
            'gatecast_requests_total{endpoint="/models",model="",status="404"} 1.0',
        ]
    )
    assert fuzz.server_counts(text) == {"/forecast 200": 5, "/models 404": 1}


def test_every_flag_has_help() -> None:
    for action in fuzz.build_parser()._actions:
        assert action.help, action.dest


@pytest.mark.slow
def test_small_campaign_finds_nothing(tmp_path: Path) -> None:
    args = fuzz.build_parser().parse_args(["--max-examples", "20", "--seed", "7"])
    run = fuzz.campaign(args, tmp_path)
    assert fuzz.problems(run, min_requests=100) == [], run.output[-4000:]
    spec_paths = {
        "/forecast",
        "/models",
        "/models/{name}",
        "/models/{name}/versions/{version}/input-weights",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{name}",
        "/v2/models/{name}/versions/{version}",
        "/v2/models/{name}/ready",
        "/v2/models/{name}/versions/{version}/ready",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
    }
    assert set(run.requests) == spec_paths  # every documented endpoint, nothing else
    forecast = run.statuses["/forecast"]
    assert forecast["2xx"] > 0 and forecast["4xx"] > 0  # real models reached, bad input refused
    assert run.server_errors == 0 and not run.log_problems
