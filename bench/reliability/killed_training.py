"""Training SIGKILLed at spread-out moments while the service polls the same model folder.

Kills at fractions of a full run's duration land mostly in training; one more run is killed
the moment its temporary checkpoint file appears, i.e. in the middle of the write. Whatever
happens, /models must never list a failed version, and every visible file must load whole.
"""

import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import REPO, repo_env
from bench.http_client import request
from bench.server import Running
from model.atomic import TEMP_PREFIX
from model.export import list_checkpoints, load


def _temps(folder: Path) -> set[str]:
    """Temporary files in folder."""
    if not folder.is_dir():
        return set()
    return {n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX)}


def _kill_at_write(proc: subprocess.Popen[bytes], folder: Path, timeout: float) -> bool:
    """SIGKILL proc as soon as a new temporary file shows up in folder; whether it did."""
    before = set(os.listdir(folder)) if folder.is_dir() else set()
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            names = []
        if any(n.startswith(TEMP_PREFIX) and n not in before for n in names):
            proc.send_signal(signal.SIGKILL)
            return True
        time.sleep(0.0005)
    proc.kill()
    return False


def start_training(train: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the training command from the repository root, its output discarded."""
    quiet = subprocess.DEVNULL
    return subprocess.Popen(train, cwd=REPO, env=env, stdout=quiet, stderr=quiet)


@dataclass
class KilledTraining:
    """Training runs SIGKILLed at spread-out moments while the service polls their folder."""

    full_run_s: float
    kills_at_s: list[float]  # each run's age when it was killed
    outcomes: list[str]  # "killed", or how a run that finished first exited
    polls: int  # /models answers read during and after the kills
    failures_seen: list[str]  # failed versions or names ever listed (must stay empty)
    listed: list[str]  # versions listed at the end
    statuses: list[str]  # their statuses at the end
    loadable: int  # visible .pt files that load whole
    temp_left: int  # temporary files the killed runs left behind (invisible to the service)


def killed_training(
    srv: Running,
    root: Path,
    train: list[str],
    name: str,
    fractions: list[float],
    poll: float,
    at_write: bool = True,
) -> KilledTraining:
    """One full run to time it, one run per fraction killed at that point of it, and (with
    at_write) one killed the moment its temporary checkpoint file appears."""
    env = repo_env()
    seen: list[str] = []
    polls = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.1):
            try:
                listing = request(srv.port, "GET", "/models", timeout=10).json()
            except OSError as err:
                seen.append(f"/models unreachable: {err}")
                continue
            polls[0] += 1
            for info in listing["models"]:
                if info.get("reason"):
                    seen.append(f"{info['name']}: {info['reason']}")
                failed = [v for v in info["versions"] if v["status"] == "failed"]
                seen.extend(f"{info['name']}/{v['version']}: {v['reason']}" for v in failed)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.monotonic()
    subprocess.run(train, cwd=REPO, env=env, check=True, capture_output=True, timeout=600)
    full = time.monotonic() - start
    rng = random.Random(7)
    kills: list[float] = []
    outcomes: list[str] = []
    for fraction in fractions:
        began = time.monotonic()
        proc = start_training(train, env)
        time.sleep(full * fraction * rng.uniform(0.9, 1.05))
        kills.append(round(time.monotonic() - began, 2))
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(60)
        outcomes.append("killed" if code == -signal.SIGKILL else f"exit {code}")
    if at_write:
        began = time.monotonic()
        proc = start_training(train, env)
        temps = _temps(root / name)
        hit = _kill_at_write(proc, root / name, timeout=10 * full)
        kills.append(round(time.monotonic() - began, 2))
        code = proc.wait(60)
        left = _temps(root / name) - temps
        caught = "killed mid-write" if left else "killed right after its rename"
        outcomes.append(caught if hit else f"exit {code} (write not caught)")
    time.sleep(2 * poll + 0.5)  # every worker has scanned the folder after the last kill
    stop.set()
    watcher.join(15)
    listing = request(srv.port, "GET", f"/models/{name}").json()
    visible = list_checkpoints(root)[name]
    loadable = 0
    for path in visible:
        _, meta = load(path)
        loadable += meta["version"] == path.stem
    return KilledTraining(
        full_run_s=full,
        kills_at_s=kills,
        outcomes=outcomes,
        polls=polls[0],
        failures_seen=seen,
        listed=[v["version"] for v in listing["versions"]],
        statuses=[v["status"] for v in listing["versions"]],
        loadable=loadable,
        temp_left=len(_temps(root / name)),
    )
