"""Checkpoints: format, torch-only loading, atomic writes, names."""

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

from model import atomic, export
from model.article import article_cell
from model.network import GateLSTM, NetworkConfig

ROOT = Path(__file__).resolve().parents[1]


def tiny() -> GateLSTM:
    """A small random network."""
    torch.manual_seed(0)
    return GateLSTM(NetworkConfig(hidden_size=4, num_layers=2, horizon=3, seasons=[4])).eval()


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    net = tiny()
    path = export.save(net, {"window": 12, "note": "hello"}, tmp_path, "demo")
    assert path.parent == tmp_path / "demo" and path.suffix == ".pt"
    assert export.VERSION_RE.match(path.stem)
    module, meta = export.load(path)
    assert meta["format"] == export.FORMAT and meta["format_version"] == export.FORMAT_VERSION
    assert meta["name"] == "demo" and meta["version"] == path.stem and meta["note"] == "hello"
    x = torch.randn(3, 12)
    torch.testing.assert_close(module(x, 2)[0], net(x, 2)[0].detach())
    torch.testing.assert_close(module.internals(x, 2)[1], net.internals(x, 2)[1])
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_jit_deprecation_is_silenced_exactly(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = export.save(tiny(), {}, tmp_path, "demo")
        export.load(path)
        warnings.warn("something else", DeprecationWarning, stacklevel=1)
    messages = [str(w.message) for w in caught]
    assert not any("torch.jit" in m for m in messages)
    assert "something else" in messages


def test_loads_with_nothing_but_torch(tmp_path: Path) -> None:
    path = export.save(article_cell(), {"window": 1}, tmp_path, "article-cell")
    code = textwrap.dedent(
        f"""
        import json, sys, torch
        extra = {{"meta.json": ""}}
        m = torch.jit.load({str(path)!r}, _extra_files=extra)
        meta = json.loads(extra["meta.json"])
        x = torch.tensor([[1.0]]); h = torch.tensor([[[1.0]]]); c = torch.tensor([[[2.0]]])
        f, h1, c1, _loc, _scale = m(x, 1, h, c)
        _, internals, *_ = m.internals(x, 2, h, c)
        banned = [n for n in ("lightning", "model", "scripts", "service", "pandas", "flask")
                  if n in sys.modules]
        print(json.dumps({{"f": f.item(), "c": c1.item(), "shape": list(internals.shape),
                          "name": meta["name"], "banned": banned}}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    got = json.loads(out.stdout)
    assert got["banned"] == []
    assert got["name"] == "article-cell"
    assert got["f"] == pytest.approx(0.98930, abs=1e-4)
    assert got["c"] == pytest.approx(2.92299, abs=1e-4)
    assert got["shape"] == [1, 1, 6, 2, 1]


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_save(module: object, f: object, _extra_files: object) -> None:
        f.write(b"PK\x03\x04 half an archive")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(torch.jit, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export.save(tiny(), {}, tmp_path, "demo")
    assert list((tmp_path / "demo").iterdir()) == []


def test_killed_write_leaves_no_checkpoint(tmp_path: Path) -> None:
    """SIGKILL in the middle of writing the archive: only a hidden temp file may remain."""
    code = textwrap.dedent(
        f"""
        import os, signal, torch
        from model import export
        from model.network import GateLSTM, NetworkConfig
        real = torch.jit.save
        def dying_save(module, f, _extra_files):
            real(module, f, _extra_files=_extra_files)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # after the bytes, before fsync and rename
        torch.jit.save = dying_save
        export.save(GateLSTM(NetworkConfig(hidden_size=4)), {{}}, {str(tmp_path)!r}, "demo")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True)
    assert proc.returncode == -9
    left = [p.name for p in (tmp_path / "demo").iterdir()]
    assert left and all(n.startswith(atomic.TEMP_PREFIX) and not n.endswith(".pt") for n in left)
    assert export.list_checkpoints(tmp_path) == {}


def test_names_and_versions_are_checked(tmp_path: Path) -> None:
    for bad in ("", "../x", "a/b", ".hidden", "_logs", "x" * 200, "sp ace", "ü"):
        with pytest.raises(ValueError, match="invalid model name"):
            export.save(tiny(), {}, tmp_path, bad)
    with pytest.raises(ValueError, match="invalid version"):
        export.save(tiny(), {}, tmp_path, "ok", version="../../etc")
    export.save(tiny(), {}, tmp_path, "ok", version="20260101T000000000000Z")
    with pytest.raises(FileExistsError):
        export.save(tiny(), {}, tmp_path, "ok", version="20260101T000000000000Z")
    assert [p.name for p in tmp_path.iterdir()] == ["ok"]


def test_versions_sort_by_time_and_junk_is_ignored(tmp_path: Path) -> None:
    first = export.save(tiny(), {}, tmp_path, "m", version="20260101T000000000000Z")
    second = export.save(tiny(), {}, tmp_path, "m")
    (tmp_path / "m" / ".tmp-abc.part").write_bytes(b"partial")
    (tmp_path / "m" / "notes.txt").write_text("x")
    (tmp_path / "m" / "latest.pt").write_bytes(b"not a version name")
    (tmp_path / "_logs").mkdir()
    assert export.list_checkpoints(tmp_path) == {"m": [first, second]}


def test_foreign_archives_are_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(torch.nn.Linear(1, 1)), str(plain))
    with pytest.raises(ValueError, match=r"no meta\.json"):
        export.load(plain)
    wrong = tmp_path / "wrong.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(
            torch.jit.script(torch.nn.Linear(1, 1)),
            str(wrong),
            _extra_files={"meta.json": json.dumps({"format": "other"})},
        )
    with pytest.raises(ValueError, match="not a gatecast-checkpoint"):
        export.load(wrong)
    assert not os.path.exists(tmp_path / "m")
