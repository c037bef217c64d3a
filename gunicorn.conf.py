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
    # Inference is CPU-bound, one torch thread per worker: more workers than cores only queue.
    _workers = env_int(os.environ, "GATECAST_WORKERS", max(1, min(usable_cores(), 8)))
    _threads = env_int(os.environ, "GATECAST_THREADS", 4)
    _timeout = env_int(os.environ, "GATECAST_TIMEOUT", 30)
    _reuse_port = env_bool(os.environ, "GATECAST_REUSE_PORT", False)
except ConfigError as _err:
    sys.exit(f"gatecast: {_err}")  # SystemExit: gunicorn prints it and stops

# OpenMP's thread count is per thread: this default covers threads that create_app and
# service.threads do not pin. Set before workers import torch; an operator's value wins.
os.environ.setdefault("OMP_NUM_THREADS", str(_app_config.torch_threads))

wsgi_app = "service:create_app()"
bind = os.environ.get("GATECAST_BIND", "127.0.0.1:8000")
workers = _workers
# gunicorn's gthread, except that each request is read whole, under GATECAST_READ_TIMEOUT,
# before a thread takes it: slow or stalled clients hold no thread (service/worker.py).
worker_class = "service.worker.BufferedThreadWorker"
threads = _threads
# A socket per worker spreads connections evenly, but a dying worker resets those queued on
# it: turn it on only with sysctl net.ipv4.tcp_migrate_req=1 (docs/operations.md).
reuse_port = _reuse_port

# Not preloaded: torch's thread pools do not survive fork(), so a child that inherits a
# started pool can deadlock; each worker imports torch and loads the models itself.
preload_app = False

# Heartbeat files on tmpfs, so a slow disk cannot make a healthy worker look hung.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Timeouts (seconds):
timeout = _timeout  # a worker silent this long (stuck in one request) is killed and replaced
graceful_timeout = 30  # on restart/stop, in-flight requests get this long to finish
keepalive = 5  # idle keep-alive connections are closed after this

# gunicorn >= 25.1 opens a control socket at one per-user path, where two instances on a
# host would collide: off unless GATECAST_CONTROL_SOCKET names a path (older gunicorn ignores it).
control_socket = os.environ.get("GATECAST_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
if not control_socket:
    del control_socket

# The app logs every request as JSON with its request id; gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = _app_config.log_level.lower()

# Prometheus multiprocess mode: workers write metrics files here and /metrics sums them; it
# must be set in the master, before any worker imports prometheus_client.
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
    """A worker ended: drop its live gauges from the aggregate, free its connection-board slot."""
    from prometheus_client import multiprocess  # imported late: after the variable is set

    multiprocess.mark_process_dead(worker.pid)
    leave_board = getattr(worker, "leave_board", None)  # service.worker's; a killed one can't
    if leave_board is not None:
        leave_board()


def on_exit(server: Any) -> None:
    """Master exit: remove the metrics folder if we created it."""
    if os.environ.get(_OWNED) == os.environ.get(_PROM):
        shutil.rmtree(os.environ[_OWNED], ignore_errors=True)
