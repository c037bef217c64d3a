"""Static checks of .dockerignore against what the Dockerfile copies.

Nothing here builds or runs a container (.ci/container-smoke.sh does that with
podman); these tests parse the files and check the properties the deployment relies on,
so a careless edit fails `make test` instead of a deployment.
"""

import re

import pytest

from tests.deploy_files import (
    REPO,
    args_of,
    stages,
)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex (Go filepath.Match plus `**`, like Docker)."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignore_excludes(rules: list[str], path: str) -> bool:
    """Whether Docker leaves `path` out of the build context: the last rule that matches
    the path or one of its parent folders decides (moby's patternmatcher)."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule[1:] if negate else rule
        pattern = pattern.strip().strip("/")
        regex = _pattern_regex(pattern)
        if any(regex.match(c) for c in candidates):
            excluded = not negate
    return excluded


def dockerignore_rules() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        "models/airline/20261129T004512123456Z.pt",
        "models/_logs/airline/20261129T004512123456Z/metrics.csv",
        "tests/test_deploy.py",
        "bench/results/container.md",
        "runs/x/metrics.csv",
        "build/lib/model/network.py",
        "gatecast.egg-info/PKG-INFO",
        "model/__pycache__/network.cpython-311.pyc",
        "service/routes/__pycache__/health.cpython-311.pyc",
        ".mypy_cache/3.11/x.json",
        "compose.yaml",
        "deploy/k8s/deployment.yaml",
        "Dockerfile",
        ".ci/container-smoke.sh",
    ],
)
def test_dockerignore_leaves_out(path: str) -> None:
    assert dockerignore_excludes(dockerignore_rules(), path)


def test_dockerignore_keeps_everything_the_dockerfile_copies() -> None:
    rules = dockerignore_rules()
    sources = [
        args.split()[-2]
        for stage in stages().values()
        for args in args_of(stage, "COPY")
        if not args.startswith("--from")
    ]
    assert "wheelhouse/" in sources
    files: list[str] = ["wheelhouse/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"]
    for src in sources:
        path = REPO / src
        found = [path] if path.is_file() else list(path.rglob("*"))
        files += [
            p.relative_to(REPO).as_posix()
            for p in found
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".sh"}
        ]
    assert "model/network.py" in files and "data/airline_passengers.csv" in files
    assert "wheelhouse/.gitkeep" in files
    kept_out = [f for f in files if dockerignore_excludes(rules, f)]
    assert kept_out == []


def test_dockerignore_names_the_usual_suspects_explicitly() -> None:
    rules = set(dockerignore_rules())
    assert {".git", ".venv", "models", "tests"} <= rules
    assert "!wheelhouse/" in rules


# -- compose.yaml ----------------------------------------------------------------------------
