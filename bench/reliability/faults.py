"""Fault scenario: broken checkpoints in the model folder, next to a good one.

The permission cases need a server that file permissions apply to. As root they do not
(CAP_DAC_OVERRIDE), and the interpreter under /root cannot be run by another user here, so
`drop_file_caps()` gives the command prefix that starts gunicorn as root *without* the two
capabilities that bypass permission checks (setpriv, util-linux); the kernel then checks
mode bits for it like for anyone else.
"""

import json
import os
import random
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.checkpoints import publish, version_path
from bench.common import AIRLINE_TWO_YEARS, wait_until
from bench.http_client import request
from bench.server import Running
from model.atomic import TEMP_PREFIX
from model.export import load, silence_jit_deprecation

DROP = "-dac_override,-dac_read_search"


def drop_file_caps() -> tuple[str, ...] | None:
    """A command prefix under which file permissions apply; () when not root; None if
    impossible (no setpriv, or not allowed to change the capability bounding set)."""
    if os.geteuid() != 0:
        return ()
    prefix = ("setpriv", "--bounding-set", DROP, "--inh-caps", DROP)
    probe = Path("/proc/self/status")  # readable by anyone: a smoke test of setpriv itself
    try:
        done = subprocess.run([*prefix, "cat", str(probe)], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return prefix if done.returncode == 0 else None


def _rewrite_meta(good: Path, target: Path, change: dict[str, object], drop: str = "") -> None:
    """A real TorchScript checkpoint whose meta.json is changed."""
    import torch

    module, meta = load(good)
    meta = {k: v for k, v in {**meta, **change}.items() if k != drop}
    silence_jit_deprecation()
    torch.jit.save(module, str(target), _extra_files={"meta.json": json.dumps(meta)})


def write_broken(root: Path, good: Path, permissions: bool) -> dict[str, str]:
    """One model folder per kind of damage; name -> a phrase its reason must contain.

    A temporary file (`.tmp-*.part`, what an interrupted writer leaves) gets a folder of its
    own too, `broken-tempfile`; it must be ignored, so it is not in the returned dict.
    """
    import torch

    data = good.read_bytes()
    cases = {
        "broken-truncated": "zip archive",
        "broken-empty": "zip archive",
        "broken-random": "zip archive",
        "broken-no-meta": "no meta.json",
        "broken-other-format": "not a gatecast-checkpoint",
        "broken-format-version": "format version 99",
        "broken-missing-keys": "'window' is missing",
    }
    version_path(root / "broken-truncated").write_bytes(data[: len(data) // 2])
    version_path(root / "broken-empty").write_bytes(b"")
    version_path(root / "broken-random").write_bytes(random.Random(3).randbytes(len(data)))
    silence_jit_deprecation()
    plain = torch.jit.script(torch.nn.Linear(1, 1))
    torch.jit.save(plain, str(version_path(root / "broken-no-meta")))
    _rewrite_meta(good, version_path(root / "broken-other-format"), {"format": "other"})
    _rewrite_meta(good, version_path(root / "broken-format-version"), {"format_version": 99})
    _rewrite_meta(good, version_path(root / "broken-missing-keys"), {}, drop="window")
    tmp = root / "broken-tempfile"
    tmp.mkdir()
    (tmp / f"{TEMP_PREFIX}abc123.part").write_bytes(data[: len(data) // 3])
    if permissions:
        unreadable = version_path(root / "broken-unreadable-file")
        shutil.copyfile(good, unreadable)
        unreadable.chmod(0)
        folder = root / "broken-unreadable-folder"
        shutil.copyfile(good, version_path(folder))
        folder.chmod(0)
        cases["broken-unreadable-file"] = "Permission denied"
        cases["broken-unreadable-folder"] = "Permission denied"
    return cases


def ask_all(srv: Running, path: str, times: int = 8) -> list[tuple[int, object]]:
    """GET path on fresh connections (each lands on any worker): status and JSON body."""
    return [(r.status, r.json()) for r in (request(srv.port, "GET", path) for _ in range(times))]


def failed_lines(log: str) -> dict[str, str]:
    """Model name -> message of the JSON ERROR lines about checkpoints or folders."""
    out: dict[str, str] = {}
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        registry = rec.get("logger", "").endswith("registry")
        if rec.get("level") == "ERROR" and rec.get("model") and registry:
            out[rec["model"]] = rec["msg"]
    return out


@dataclass
class Broken:
    """What the service said about each broken model, before and after a good one arrived."""

    expected: dict[str, str]
    listed: dict[str, str] = field(default_factory=dict)  # name -> reason on /models
    logged: dict[str, str] = field(default_factory=dict)  # name -> JSON log message
    unexpected: list[str] = field(default_factory=list)  # names listed that should not be
    ready_before: list[tuple[int, object]] = field(default_factory=list)
    ready_after: list[tuple[int, object]] = field(default_factory=list)
    ready_after_s: float = 0.0  # good model published -> every probe of /readyz said 200
    good: str = ""  # the good model's version
    asked: int = 0  # forecasts asked of the good model while a newer broken version sat there
    served: dict[str, int] = field(default_factory=dict)  # version -> 200s among them
    listed_after: dict[str, str] = field(default_factory=dict)  # name -> status at the end


def broken_checkpoints(srv: Running, root: Path, good: Path, expected: dict[str, str]) -> Broken:
    """Only broken models first; then a good one, then a truncated newer version of it."""
    out = Broken(expected)
    out.ready_before = ask_all(srv, "/readyz")
    listing = request(srv.port, "GET", "/models").json()
    for info in listing["models"]:
        reasons = [v["reason"] for v in info["versions"] if v["status"] == "failed"]
        reason = info.get("reason") or (reasons[0] if reasons else None)
        if info["name"] in expected and reason:
            out.listed[info["name"]] = reason
        else:
            out.unexpected.append(info["name"])
    first = publish(good, root / "good")
    start = time.monotonic()

    serving = f"model good version {first.stem} serving"

    def ready_everywhere() -> bool:
        # /readyz on fresh connections may reach one worker only: each worker's log line
        # says that it serves the good version.
        out.ready_after = ask_all(srv, "/readyz")
        everywhere = srv.log_text().count(serving) >= len(srv.worker_pids())
        return everywhere and all(status == 200 for status, _ in out.ready_after)

    wait_until(ready_everywhere, timeout=60, step=0.1)
    out.ready_after_s = time.monotonic() - start
    out.good = first.stem
    newer = version_path(root / "good")
    newer.write_bytes(good.read_bytes()[:1000])  # looks half-written, at a real version name
    body = {"model": "good", "sequence": AIRLINE_TWO_YEARS}
    for _ in range(40):  # a few polls while the newer file fails
        reply = request(srv.port, "POST", "/forecast", body)
        out.asked += 1
        if reply.status == 200:
            version = reply.json()["version"]
            out.served[version] = out.served.get(version, 0) + 1
        time.sleep(0.1)
    listing = request(srv.port, "GET", "/models").json()
    out.listed_after = {info["name"]: info["status"] for info in listing["models"]}
    out.logged = failed_lines(srv.log_text())
    return out
