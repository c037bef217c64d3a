"""gunicorn settings for gatecast:  gunicorn -c gunicorn.conf.py

Environment: GATECAST_BIND (127.0.0.1:8000), GATECAST_WORKERS (one per usable core, at most
8), GATECAST_THREADS (4), GATECAST_TIMEOUT (30), GATECAST_REUSE_PORT (0),
GATECAST_CONTROL_SOCKET (unset: no gunicornc socket), plus the app's own GATECAST_* settings
(service/config.py), which are checked here so that a bad value stops the master at once
with one clear line instead of every worker failing to boot.
"""

import os
import shutil
import sys
import tempfile
from typing import Any

from service.config import ConfigError, ServiceConfig, env_bool, env_int, usable_cores

try:
    _app_config = ServiceConfig.from_env()
    # Inference is CPU-bound and each worker runs torch on GATECAST_TORCH_THREADS cores
    # (default 1), so one worker per core; more workers would only queue for the same cores.
    _workers = env_int(os.environ, "GATECAST_WORKERS", max(1, min(usable_cores(), 8)))
    _threads = env_int(os.environ, "GATECAST_THREADS", 4)
    _timeout = env_int(os.environ, "GATECAST_TIMEOUT", 30)
    _reuse_port = env_bool(os.environ, "GATECAST_REUSE_PORT", False)
except ConfigError as _err:
    sys.exit(f"gatecast: {_err}")  # SystemExit: gunicorn prints it and stops

# OpenMP keeps its thread count per thread: torch.set_num_threads in create_app covers the
# worker's main thread, service.threads covers request threads, and this makes the default
# right for any other thread too (set before a worker imports torch). An operator's own
# OMP_NUM_THREADS wins.
os.environ.setdefault("OMP_NUM_THREADS", str(_app_config.torch_threads))

wsgi_app = "service:create_app()"
bind = os.environ.get("GATECAST_BIND", "127.0.0.1:8000")
workers = _workers
# gthread: each worker serves GATECAST_THREADS connections at once, so a client that sends
# its body slowly (or holds a keep-alive connection) occupies a thread, not the worker.
worker_class = "gthread"
threads = _threads
# One listening socket shared by the workers (default), or one per worker with
# GATECAST_REUSE_PORT=1 (SO_REUSEPORT): then the kernel spreads new connections evenly,
# where with a shared socket whichever worker wakes first accepts, and a few long-lived
# keep-alive clients can pile onto one worker (about a quarter of the throughput at 8 ab
# clients here; BENCHMARKS.md). Off by default because of its price: connections still
# queued on a worker's own socket when it stops or dies are reset, including a client's
# instant reconnect after a killed worker reset its connection, so a killed worker can cost
# more requests than it held (RELIABILITY.md measures it). Turn it on together with sysctl
# net.ipv4.tcp_migrate_req=1 (Linux 5.14+; docker --sysctl), which hands those connections
# to another worker's socket. Behind a load balancer that spreads many short connections,
# the shared socket balances well enough.
reuse_port = _reuse_port

# Not preloaded: each worker imports torch and loads the models itself, after the fork.
# torch's intra-op (OpenMP) and inter-op thread pools do not survive fork(): a child that
# inherits a started pool can deadlock on its first parallel op. Loading per worker costs
# start-up time and memory per worker, which is small for these models.
preload_app = False

# The heartbeat file each worker touches: on tmpfs, so a slow or busy disk cannot make the
# master think a healthy worker hung.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Timeouts (seconds):
timeout = _timeout  # a worker silent this long (stuck in one request) is killed and replaced
graceful_timeout = 30  # on restart/stop, in-flight requests get this long to finish
keepalive = 5  # idle keep-alive connections are closed after this

# gunicorn >= 25.1 opens a control socket at one fixed per-user path by default, so two
# instances on a host (tests, the benchmark, blue/green) would collide. Off unless
# GATECAST_CONTROL_SOCKET names a path for `gunicornc`. (Older gunicorn ignores these.)
control_socket = os.environ.get("GATECAST_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
if not control_socket:
    del control_socket

# The app logs every request itself, as JSON with request ids; gunicorn's own access log
# would only duplicate it. gunicorn's error log (start-up, worker deaths) goes to stderr.
accesslog = None
errorlog = "-"
loglevel = _app_config.log_level.lower()

# Prometheus multiprocess mode: every worker writes its metrics to files in this folder,
# and /metrics on any worker sums them. The variable must be set before any worker imports
# prometheus_client, so it is set here, in the master. A folder we create is fresh; one
# given by the operator is wiped of old *.db files at start (prometheus_client requires it).
_PROM = "PROMETHEUS_MULTIPROC_DIR"
_OWNED = "_GATECAST_OWNS_PROMETHEUS_DIR"  # survives gunicorn's config reload on SIGHUP
if not os.environ.get(_PROM):
    os.environ[_PROM] = tempfile.mkdtemp(prefix="gatecast-metrics-")
    os.environ[_OWNED] = os.environ[_PROM]


def on_starting(server: Any) -> None:
    """Master start: make sure the metrics folder exists and holds no stale values."""
    folder = os.environ[_PROM]
    os.makedirs(folder, exist_ok=True)
    if os.environ.get(_OWNED) != folder:
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.unlink(os.path.join(folder, name))


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: drop its live gauges from the aggregate."""
    from prometheus_client import multiprocess  # imported late: after the variable is set

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Master exit: remove the metrics folder if we created it."""
    if os.environ.get(_OWNED) == os.environ.get(_PROM):
        shutil.rmtree(os.environ[_OWNED], ignore_errors=True)
