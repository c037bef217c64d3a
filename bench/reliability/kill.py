"""A gunicorn worker SIGKILLed in the middle of a load run, and what its clients lose.

With gthread, every client connection a worker holds carries at most one request, so the
connections it holds bound the requests it can take down. With reuse_port (one listening
socket per worker) there is one more way to fail: a client whose connection was just reset
reconnects at once, and the kernel may still hand the new connection to the dying worker's
socket, which is closed a moment later. `net.ipv4.tcp_migrate_req=1` makes the kernel move
such connections to another worker's socket instead; `in_private_netns` runs the scenario in
a network namespace of its own with that setting, leaving the host's alone.

    python -m bench.reliability.kill MODEL_DIR OUT.json ...   # used by in_private_netns
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO, repo_env, wait_until
from bench.http_client import request
from bench.reliability.load import Figures, Kind, LoadRun, Sample, figures, mixed_kinds
from bench.reliability.proc import owners_of, workers_ready
from bench.server import Running, gunicorn


@dataclass(frozen=True)
class Killed:
    """A worker SIGKILLed halfway through a load run."""

    load: Figures
    retries: int
    killed_pid: int
    connections: int  # client connections open at the kill (threads not yet done)
    mapped: int  # of those, seen on a worker (all of them, normally)
    held: int  # of those, the killed worker's: each carries at most one request
    in_flight: int  # held connections with a request sent and not answered at the kill
    failed: int  # requests that got no 200, even after `retries` retries
    failing_connections: int  # distinct connections with a failed request
    outside: int  # failed requests on connections the killed worker did not hold
    replacement: int  # pid of the worker gunicorn started instead (0: none seen)
    replaced_s: float  # from the kill until the replacement was listed
    ok_after: int  # 200s that ended after the kill
    errors: tuple[str, ...]  # the distinct first errors

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Killed":
        """Back from asdict() and JSON."""
        return cls(**{**data, "load": Figures(**data["load"]), "errors": tuple(data["errors"])})


@dataclass(frozen=True)
class Shot:
    """A worker SIGKILLed during a load run: which one, the client connections it held, when."""

    pid: int
    pids: tuple[int, ...]  # the workers just before the kill
    ports: tuple[int, ...]  # each load thread's local port at the kill (0: no connection)
    mapped: int  # open client connections seen on a worker (all of them, normally)
    held: frozenset[int]  # load threads whose connection the killed worker held
    at: float  # time.monotonic() of the kill

    def lost(self, s: Sample) -> bool:
        """Whether a sample was on one of the killed worker's connections, from the kill on."""
        return s.thread in self.held and s.port == self.ports[s.thread] and s.end >= self.at


def kill_busiest(srv: Running, run: LoadRun, freeze: bool = False) -> Shot:
    """SIGKILL the worker holding the most of the run's client connections, now.

    `freeze`: SIGSTOP it first and map the connections again, so that the map is exact even
    when clients open new connections all the time (a stopped worker accepts none).
    """
    pids = sorted(srv.worker_pids())
    owners = owners_of(srv.port, pids, lambda: run.ports)
    victim = max(pids, key=lambda p: sum(o == p for o in owners.values()))
    if freeze:
        os.kill(victim, signal.SIGSTOP)
        owners = owners_of(srv.port, pids, lambda: run.ports)
    ports = tuple(run.ports)
    held = frozenset(t for t, port in enumerate(ports) if owners.get(port) == victim)
    mapped = sum(port in owners for port in ports if port)
    os.kill(victim, signal.SIGKILL)
    return Shot(victim, tuple(pids), ports, mapped, held, time.monotonic())


def replacement(srv: Running, shot: Shot, timeout: float = 120) -> tuple[int, float]:
    """The worker gunicorn started instead (0: none seen in time) and seconds from the kill."""
    new: set[int] = set()

    def replaced() -> bool:
        new.update(srv.worker_pids() - set(shot.pids))
        return bool(new)

    wait_until(replaced, timeout=timeout)
    return (min(new) if new else 0), time.monotonic() - shot.at


def kill_worker(
    srv: Running, kinds: list[Kind], requests: int, concurrency: int, retries: int = 0
) -> Killed:
    """SIGKILL the worker holding the most client connections once half the run is done."""
    workers_ready(srv)
    run = LoadRun(
        srv.port, kinds, requests, concurrency, retries=retries, backoff=0.2, shared=True
    ).start()
    wait_until(lambda: run.completed() >= requests // 2, timeout=300)
    shot = kill_busiest(srv, run)
    new, replaced_s = replacement(srv, shot)
    samples = run.join(timeout=600)
    failed = [s for s in samples if s.status != 200]
    return Killed(
        load=figures(samples, run.finished - run.started),
        retries=retries,
        killed_pid=shot.pid,
        connections=sum(bool(port) for port in shot.ports),
        mapped=shot.mapped,
        held=len(shot.held),
        in_flight=sum(s.thread in shot.held and s.start <= shot.at < s.end for s in samples),
        failed=len(failed),
        failing_connections=len({s.thread for s in failed}),
        outside=sum(s.thread not in shot.held for s in failed),
        replacement=new,
        replaced_s=replaced_s,
        ok_after=sum(s.status == 200 and s.end > shot.at for s in samples),
        errors=tuple(sorted({s.error.split(":")[0] for s in samples if s.error})),
    )


def kill_runs(
    srv: Running, kinds: list[Kind], requests: int, concurrency: int, retries: int, runs: int
) -> list[Killed]:
    """`runs` kills in a row on one server (each kills a worker, gunicorn replaces it)."""
    out = []
    for _ in range(runs):  # kill_worker first waits for both workers to be ready
        out.append(kill_worker(srv, kinds, requests, concurrency, retries))
    return out


NETNS_SETUP = 'ip link set lo up && echo 1 > /proc/sys/net/ipv4/tcp_migrate_req && exec "$@"'


def netns_usable() -> bool:
    """Whether a private network namespace can be made (root, unshare, ip, the sysctl)."""
    if not (shutil.which("unshare") and shutil.which("ip")):
        return False
    cmd = ["unshare", "--net", "sh", "-c", NETNS_SETUP, "sh", "true"]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def in_private_netns(
    model_dir: Path, requests: int, concurrency: int, runs: int, env: dict[str, str]
) -> list[Killed]:
    """Kill runs in a network namespace of their own with net.ipv4.tcp_migrate_req=1."""
    with tempfile.TemporaryDirectory(prefix="gatecast-netns-") as tmp:
        out = Path(tmp) / "killed.json"
        sizes = [str(requests), str(concurrency), str(runs)]
        child = [sys.executable, "-m", "bench.reliability.kill", str(model_dir), str(out)]
        cmd = ["unshare", "--net", "sh", "-c", NETNS_SETUP, "sh", *child, *sizes, json.dumps(env)]
        limit = 600 + 60 * runs
        done = subprocess.run(
            cmd, cwd=REPO, env=repo_env(), capture_output=True, text=True, timeout=limit
        )
        if done.returncode != 0:
            raise RuntimeError(f"kill runs in a private netns failed:\n{done.stderr[-3000:]}")
        return [Killed.from_json(d) for d in json.loads(out.read_text())]


def main(argv: list[str]) -> int:
    """MODEL_DIR OUT REQUESTS CONCURRENCY RUNS ENV_JSON: kill runs, results as JSON."""
    model_dir, out = Path(argv[0]), Path(argv[1])
    requests, concurrency, runs = int(argv[2]), int(argv[3]), int(argv[4])
    env = json.loads(argv[5])
    with tempfile.TemporaryDirectory(prefix="gatecast-netns-") as tmp:
        log = Path(tmp) / "gunicorn.log"
        with gunicorn(model_dir, log, env=env, ready_path="/readyz") as srv:
            kinds = mixed_kinds(request(srv.port, "GET", "/models").json()["models"])
            results = kill_runs(srv, kinds, requests, concurrency, 0, runs)
    out.write_text(json.dumps([asdict(r) for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
