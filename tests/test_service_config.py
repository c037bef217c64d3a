"""ServiceConfig from the environment, and what create_app does with it."""

from pathlib import Path

import pytest
import torch

from service import ConfigError, ServiceConfig, create_app


def test_defaults_without_environment() -> None:
    cfg = ServiceConfig.from_env({})
    assert cfg == ServiceConfig()
    assert (cfg.model_dir, cfg.default_model, cfg.max_body_bytes) == ("models", None, 2 * 2**20)
    assert (cfg.max_sequence_length, cfg.max_batch, cfg.max_horizon) == (4096, 256, 256)
    assert (cfg.api_keys, cfg.torch_threads, cfg.log_level, cfg.poll_seconds) == (
        (),
        1,
        "INFO",
        5.0,
    )
    assert cfg.keep_versions == 5
    assert cfg.serve == "promoted"


def test_every_variable_is_read() -> None:
    env = {
        "GATECAST_MODEL_DIR": "/srv/models",
        "GATECAST_DEFAULT_MODEL": "airline",
        "GATECAST_MAX_BODY_BYTES": "1000",
        "GATECAST_MAX_SEQUENCE_LENGTH": "10",
        "GATECAST_MAX_BATCH": "3",
        "GATECAST_MAX_HORIZON": "4",
        "GATECAST_API_KEYS": " one, two ,, ",
        "GATECAST_TORCH_THREADS": "2",
        "GATECAST_LOG_LEVEL": "debug",
        "GATECAST_POLL_SECONDS": "0.5",
        "GATECAST_KEEP_VERSIONS": "2",
        "GATECAST_SERVE": "Newest",
    }
    assert ServiceConfig.from_env(env) == ServiceConfig(
        model_dir="/srv/models",
        default_model="airline",
        max_body_bytes=1000,
        max_sequence_length=10,
        max_batch=3,
        max_horizon=4,
        api_keys=("one", "two"),
        torch_threads=2,
        log_level="DEBUG",
        poll_seconds=0.5,
        keep_versions=2,
        serve="newest",
    )
    assert ServiceConfig.from_env({"GATECAST_POLL_SECONDS": "0"}).poll_seconds == 0


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("GATECAST_MAX_BATCH", "many"),
        ("GATECAST_MAX_BATCH", "0"),
        ("GATECAST_MAX_BODY_BYTES", "2MiB"),
        ("GATECAST_MAX_SEQUENCE_LENGTH", "-1"),
        ("GATECAST_MAX_HORIZON", "1.5"),
        ("GATECAST_TORCH_THREADS", "0"),
        ("GATECAST_POLL_SECONDS", "-1"),
        ("GATECAST_POLL_SECONDS", "nan"),
        ("GATECAST_POLL_SECONDS", "soon"),
        ("GATECAST_LOG_LEVEL", "LOUD"),
        ("GATECAST_KEEP_VERSIONS", "0"),
        ("GATECAST_KEEP_VERSIONS", "all"),
        ("GATECAST_SERVE", "sometimes"),
    ],
)
def test_bad_values_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        ServiceConfig.from_env({var: value})


def test_create_app_reads_the_environment(monkeypatch, model_dir: Path) -> None:
    monkeypatch.setenv("GATECAST_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("GATECAST_POLL_SECONDS", "0")
    monkeypatch.setenv("GATECAST_DEFAULT_MODEL", "article-cell")
    client = create_app().test_client()
    assert client.post("/forecast", json={"sequence": [1]}).get_json()["model"] == "article-cell"
    monkeypatch.setenv("GATECAST_MAX_HORIZON", "zero")
    with pytest.raises(ConfigError, match="GATECAST_MAX_HORIZON"):
        create_app()


def test_create_app_is_the_one_in_service_app() -> None:
    """service.create_app (gunicorn's service:create_app()) is service.app's, not a wrapper."""
    import service
    import service.app

    assert service.create_app is service.app.create_app
    with pytest.raises(AttributeError, match="no attribute 'create_ap'"):
        service.create_ap  # noqa: B018


def test_bad_default_model_name_is_a_startup_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GATECAST_DEFAULT_MODEL"):
        create_app(ServiceConfig(model_dir=str(tmp_path), default_model="../etc", poll_seconds=0))


def test_create_app_sets_torch_threads(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    try:
        create_app(ServiceConfig(model_dir=str(tmp_path), torch_threads=2, poll_seconds=0))
        assert torch.get_num_threads() == 2
        create_app(ServiceConfig(model_dir=str(tmp_path), poll_seconds=0))
        assert torch.get_num_threads() == 1
        assert torch.get_num_interop_threads() >= 1  # set once per process, never an error
    finally:
        torch.set_num_threads(before)


def test_scan_thread_keeps_running_only_when_polling(tmp_path: Path) -> None:
    import threading

    from bench.common import wait_until

    def scanners() -> int:
        return sum(t.name == "gatecast-model-scan" for t in threading.enumerate())

    start = scanners()
    app = create_app(ServiceConfig(model_dir=str(tmp_path), poll_seconds=0))
    assert wait_until(lambda: scanners() == start, timeout=10)  # one scan, then it ends
    app = create_app(ServiceConfig(model_dir=str(tmp_path), poll_seconds=0.05))
    assert scanners() == start + 1
    app.extensions["gatecast"].registry.close()
    assert scanners() == start


def test_service_stays_small(model_dir: Path) -> None:
    """Workers import neither Lightning nor the training scripts; `import service` is light."""
    import subprocess
    import sys

    code = (
        "import sys, service\n"
        "assert 'torch' not in sys.modules and 'flask' not in sys.modules\n"
        "from service import ServiceConfig, create_app\n"
        f"create_app(ServiceConfig(model_dir={str(model_dir)!r}, poll_seconds=0))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('lightning', 'scripts',"
        " 'pytorch_lightning', 'pandas')]\n"
        "assert not bad, bad\n"
    )
    repo = Path(__file__).resolve().parents[1]
    subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, timeout=120, cwd=repo
    )


@pytest.mark.parametrize(("raw", "value"), [("", True), ("1", True), ("off", False), ("No", False)])
def test_gunicorn_yes_no_variables(raw: str, value: bool) -> None:
    from service.config import env_bool

    assert env_bool({"X": raw}, "X", True) is value


def test_gunicorn_bad_yes_no_variable() -> None:
    from service.config import env_bool

    with pytest.raises(ConfigError, match="GATECAST_REUSE_PORT"):
        env_bool({"GATECAST_REUSE_PORT": "maybe"}, "GATECAST_REUSE_PORT", True)


def test_cpu_quota_from_cgroup_v2_and_v1(tmp_path) -> None:
    from service.config import cpu_quota

    assert cpu_quota(str(tmp_path)) is None  # no cgroup files: no quota
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu_quota(str(tmp_path)) is None  # v1 without a limit
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("150000\n")
    assert cpu_quota(str(tmp_path)) == 1.5  # docker --cpus 1.5 on cgroup v1
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpu_quota(str(tmp_path)) is None  # v2 wins when present
    (tmp_path / "cpu.max").write_text("200000 100000\n")
    assert cpu_quota(str(tmp_path)) == 2.0
