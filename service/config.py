"""Service settings: a typed dataclass, built from GATECAST_* environment variables.

Standard library only (model.served is too), so gunicorn.conf.py can validate the environment
in the master process (and fail before forking workers) without importing torch or Flask.
"""

import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from model.served import POLICIES, PROMOTED

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIB = 1024 * 1024
# A batch delay is a latency every batched request may pay: past a second it is a mistake.
MAX_BATCH_DELAY_US = 1_000_000


class ConfigError(ValueError):
    """A setting that makes no sense; str(err) names the setting and the bad value."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the app reads at start-up; each field has an environment variable."""

    # GATECAST_MODEL_DIR: checkpoint root, laid out as <dir>/<name>/<version>.pt.
    model_dir: str = "models"
    # GATECAST_DEFAULT_MODEL: model used when a request names none (unset: only when
    # exactly one model is loaded).
    default_model: str | None = None
    # GATECAST_MAX_BODY_BYTES: request bodies above this get 413 before they are read.
    max_body_bytes: int = 2 * MIB
    # GATECAST_MAX_SEQUENCE_LENGTH: most observations in one sequence.
    max_sequence_length: int = 4096
    # GATECAST_MAX_BATCH: most sequences in one request.
    max_batch: int = 256
    # GATECAST_MAX_HORIZON: most steps forecast.
    max_horizon: int = 256
    # GATECAST_MAX_INTERNALS_VALUES: most gate/state numbers one response may carry
    # (sequences x layers x 6 x steps x units); 4M is a 4096-step sequence of a 2 x 64 model,
    # about 45 MB of JSON. Bigger requests get 400 before any model work: ask for
    # internals "last" or "none", or send fewer or shorter sequences.
    max_internals_values: int = 4_000_000
    # GATECAST_MAX_REQUEST_STEPS: most LSTM steps one request may run, over all its sequences
    # (each runs over its last `context` values, or all of them after a carried state, plus
    # any generated steps). A request's CPU time is proportional to it; the default is what
    # a full 2 MiB body can hold.
    max_request_steps: int = 1_048_576
    # GATECAST_API_KEYS: comma-separated bearer tokens; empty means no authentication.
    api_keys: tuple[str, ...] = field(default=(), repr=False)  # never printed or logged
    # GATECAST_TORCH_THREADS: intra-op threads per worker process (1: one core per worker,
    # scale with more workers instead).
    torch_threads: int = 1
    # GATECAST_LOG_LEVEL: DEBUG, INFO, WARNING, ERROR or CRITICAL.
    log_level: str = "INFO"
    # GATECAST_POLL_SECONDS: how often the model folder is rescanned; 0 disables polling.
    poll_seconds: float = 5.0
    # GATECAST_KEEP_VERSIONS: newest loadable versions of each model kept in memory (each
    # worker loads them at every scan; a request may pin any of them). Older versions are
    # listed on /models as not kept.
    keep_versions: int = 5
    # GATECAST_SERVE: which version a request without "version" gets. promoted: the one
    # chosen with gatecast-models (<name>/served.json; the newest while nothing is
    # promoted); newest: the newest loadable version, whatever is promoted.
    serve: str = PROMOTED
    # GATECAST_READ_TIMEOUT: seconds a client has to send a whole request, headers and body,
    # from its first byte (or from the end of its previous request); then 408. Under gunicorn
    # the request is read without holding a thread (service.worker).
    read_timeout: float = 20.0
    # GATECAST_BATCH_MAX: most sequences one model call runs for concurrent requests that a
    # worker batches together (service.batching); 0 turns batching off. A request with more
    # sequences runs on its own.
    batch_max: int = 256
    # GATECAST_BATCH_DELAY_US: longest the first request of a batch waits, in microseconds,
    # for forecasts already in the worker to join; 0: only requests that arrive while a call
    # for the same model runs join. A request that comes alone never waits.
    batch_delay_us: int = 0

    def __post_init__(self) -> None:
        for name in (
            "max_body_bytes",
            "max_sequence_length",
            "max_batch",
            "max_horizon",
            "max_internals_values",
            "max_request_steps",
            "torch_threads",
            "keep_versions",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, name)}", name)
        if self.batch_max < 0:
            raise ConfigError(f"must be 0 (off) or more, got {self.batch_max}", "batch_max")
        if not 0 <= self.batch_delay_us <= MAX_BATCH_DELAY_US:
            raise ConfigError(
                f"must be 0 to {MAX_BATCH_DELAY_US} microseconds, got {self.batch_delay_us}",
                "batch_delay_us",
            )
        if not 0 < self.read_timeout < math.inf:  # also rejects NaN
            raise ConfigError(
                f"must be a positive number of seconds, got {self.read_timeout}", "read_timeout"
            )
        if not 0 <= self.poll_seconds < math.inf:  # also rejects NaN
            raise ConfigError(
                f"must be 0 or a finite number, got {self.poll_seconds}", "poll_seconds"
            )
        if self.serve not in POLICIES:
            raise ConfigError(f"must be one of {', '.join(POLICIES)}", "serve")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"must be one of {', '.join(LOG_LEVELS)}", "log_level")
        if not self.model_dir:
            raise ConfigError("must not be empty", "model_dir")
        if any(not key or key != key.strip() for key in self.api_keys):
            raise ConfigError("keys must be non-empty, with no spaces around them", "api_keys")

    @property
    def log_level_number(self) -> int:
        """The level as the logging module's number."""
        return int(logging.getLevelName(self.log_level))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ServiceConfig":
        """Read GATECAST_* variables (unset or empty: the default); raises ConfigError."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in fields(cls):
            var = env_name(item.name)
            raw = env.get(var, "")
            if raw.strip() == "":
                continue
            parse, kind = _PARSERS[item.name]
            try:
                values[item.name] = parse(raw.strip())
            except ValueError:
                raise ConfigError(f"{var}={raw!r} is not {kind}", item.name) from None
        try:
            return cls(**values)
        except ConfigError as err:
            var = env_name(err.field) if err.field else "GATECAST_*"
            raise ConfigError(f"{var} {err}", err.field) from None


# How each field is read from its variable, and what a bad value should have been.
_PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "model_dir": (str, "a folder"),
    "default_model": (str, "a model name"),
    "max_body_bytes": (int, "an integer number of bytes"),
    "max_sequence_length": (int, "an integer"),
    "max_batch": (int, "an integer"),
    "max_horizon": (int, "an integer"),
    "max_internals_values": (int, "an integer"),
    "max_request_steps": (int, "an integer"),
    "api_keys": (lambda raw: tuple(k.strip() for k in raw.split(",") if k.strip()), "keys"),
    "torch_threads": (int, "an integer"),
    "log_level": (lambda raw: raw.upper(), "a level"),
    "poll_seconds": (float, "a number of seconds"),
    "read_timeout": (float, "a number of seconds"),
    "keep_versions": (int, "an integer"),
    "serve": (lambda raw: raw.lower(), "a policy"),
    "batch_max": (int, "an integer number of sequences"),
    "batch_delay_us": (int, "an integer number of microseconds"),
}


def env_name(field_name: str) -> str:
    """The environment variable behind a config field."""
    return f"GATECAST_{field_name.upper()}"


def env_int(environ: Mapping[str, str], var: str, default: int, minimum: int = 1) -> int:
    """An integer variable for gunicorn.conf.py; raises ConfigError on a bad value."""
    raw = environ.get(var, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{var}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{var} must be at least {minimum}, got {value}")
    return value


def env_bool(environ: Mapping[str, str], var: str, default: bool) -> bool:
    """A yes/no variable for gunicorn.conf.py (1/0, true/false, yes/no, on/off)."""
    raw = environ.get(var, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{var}={raw!r} is not one of 1/0, true/false, yes/no, on/off")


def cpu_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """CPUs a cgroup CPU quota allows (docker --cpus, Kubernetes limits.cpu), or None.

    A quota leaves the affinity mask alone, so without this a container limited to one CPU
    on a 16-core host would start 8 workers that fight over that one CPU.
    """
    try:  # cgroup v2: "<quota> <period>" or "max <period>"
        with open(f"{root}/cpu.max") as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1: a quota of -1 means none
        with open(f"{root}/cpu/cpu.cfs_quota_us") as f:
            quota_us = int(f.read())
        with open(f"{root}/cpu/cpu.cfs_period_us") as f:
            period_us = int(f.read())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def usable_cores() -> int:
    """Cores this process may use: affinity mask or cpuset, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return cores
