"""Parsers and constants shared by the static deployment-file tests (no container is run)."""

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "k8s"
APP_UID = 10001
PORT = 8000
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def gunicorn_setting(name: str) -> str:
    """A literal `name = value` line of gunicorn.conf.py (the deployment files rely on it)."""
    text = (REPO / "gunicorn.conf.py").read_text()
    match = re.search(rf"^{name} = (.+?)(?:\s+#.*)?$", text, re.M)
    assert match, f"gunicorn.conf.py has no `{name} = ...` line"
    return match.group(1)


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, args = pending.partition(" ")
        out.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends in a line continuation"
    return out


Stage = list[tuple[str, str]]


def stages() -> dict[str, Stage]:
    """The Dockerfile's build stages by name, each starting with its FROM."""
    result: dict[str, Stage] = {}
    current: Stage | None = None
    for ins in dockerfile_instructions((REPO / "Dockerfile").read_text()):
        if ins[0] == "FROM":
            _base, as_, name = ins[1].split()
            assert as_.upper() == "AS", f"unnamed stage: FROM {ins[1]}"
            current = result[name] = []
        assert current is not None, f"{ins[0]} before the first FROM"
        current.append(ins)
    return result


def args_of(stage: Stage, keyword: str) -> list[str]:
    """The arguments of every `keyword` instruction in a stage."""
    return [args for kw, args in stage if kw == keyword]


def env_of(stage: Stage) -> dict[str, str]:
    """ENV KEY=VALUE settings of a stage (the KEY=VALUE form only)."""
    env: dict[str, str] = {}
    for args in args_of(stage, "ENV"):
        for item in shlex.split(args):
            key, sep, value = item.partition("=")
            assert sep, f"use ENV KEY=VALUE, not {args!r}"
            env[key] = value
    return env
