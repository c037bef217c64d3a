"""gatecast-models: list, promote, roll back, and one-line errors; the trainer's first state."""

import subprocess
import sys
from pathlib import Path

import pytest

from model import served
from model.export import list_checkpoints, load
from model.served import STATE_FILE
from scripts import models as command
from scripts.train import serve_first

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands read GATECAST_SERVE and GATECAST_MODEL_DIR: none set unless a test does."""
    monkeypatch.delenv("GATECAST_SERVE", raising=False)
    monkeypatch.delenv("GATECAST_MODEL_DIR", raising=False)


def versions(root: Path) -> list[str]:
    """tiny's versions, oldest first."""
    return [p.stem for p in list_checkpoints(root)["tiny"]]


def state_of(root: Path) -> served.ServedState:
    """tiny's served.json, which must be there."""
    state = served.read(root / "tiny")
    assert state is not None
    return state


def run(root: Path, *argv: str) -> int:
    """The command in-process, on `root`."""
    return command.main([*argv, "--model-dir", str(root)])


def test_training_serves_a_models_first_version_only(model_dir: Path, tmp_path: Path) -> None:
    [trained] = list_checkpoints(model_dir)["tiny"]
    state = served.read(model_dir / "tiny")
    assert state is not None and state.served == trained.stem and state.previous == ()
    assert [c.action for c in state.history] == ["first"]
    assert state.reason().startswith("first version, served since ")
    # A model that already has versions, or a served.json, is left alone.
    copy = tmp_path / "m"
    copy.mkdir()
    first = copy / trained.name
    first.write_bytes(trained.read_bytes())
    assert serve_first(first) is True
    written = served.read(copy)
    assert written is not None and written.served == trained.stem
    assert [c.action for c in written.history] == ["first"]
    assert serve_first(first) is False  # served.json is there now
    (copy / STATE_FILE).unlink()
    (copy / "20990101T000000000000Z.pt").write_bytes(trained.read_bytes())
    assert serve_first(first) is False and not (copy / STATE_FILE).exists()


def test_promote_then_roll_back(folder: Path, capsys) -> None:
    oldest, middle, newest = versions(folder)
    assert run(folder, "promote", "tiny", middle, "--note", "lower MASE") == 0
    assert capsys.readouterr().out == f"tiny: serving {middle} (was {newest})\n"
    state = state_of(folder)
    assert (state.served, state.previous) == (middle, (newest,))
    assert state.reason().startswith("promoted at ") and state.reason().endswith("(lower MASE)")
    assert run(folder, "promote", "tiny", oldest) == 0
    assert state_of(folder).previous == (middle, newest)
    assert run(folder, "rollback", "tiny", "--note", "spiky") == 0
    assert capsys.readouterr().out.endswith(f"tiny: serving {middle} (was {oldest})\n")
    state = state_of(folder)
    assert (state.served, state.previous) == (middle, (newest,))
    assert state.reason().startswith("rolled back at ") and state.reason().endswith("(spiky)")
    assert run(folder, "rollback", "tiny") == 0
    assert state_of(folder).served == newest
    assert [c.action for c in state_of(folder).history] == [
        "promote",
        "promote",
        "rollback",
        "rollback",
    ]


def test_promoting_the_served_version_changes_nothing(folder: Path, capsys) -> None:
    _, middle, _ = versions(folder)
    assert run(folder, "promote", "tiny", middle) == 0
    before = (folder / "tiny" / STATE_FILE).read_bytes()
    capsys.readouterr()
    assert run(folder, "promote", "tiny", middle) == 0
    assert capsys.readouterr().out == f"tiny: {middle} is already served; nothing changed\n"
    assert (folder / "tiny" / STATE_FILE).read_bytes() == before


def test_list_shows_scores_and_what_is_served_and_why(folder: Path, capsys, monkeypatch) -> None:
    oldest, middle, newest = versions(folder)
    scores = load(folder / "tiny" / f"{oldest}.pt")[1]["metrics"]["model"]
    assert run(folder, "list") == 0
    out = capsys.readouterr().out
    assert f"tiny: serving {newest} (newest: nothing promoted)" in out
    assert "article-cell: serving " in out  # every model, when none is named
    assert run(folder, "promote", "tiny", middle, "--note", "lower MASE") == 0
    capsys.readouterr()
    assert run(folder, "list", "tiny") == 0
    head, header, _, *rows = capsys.readouterr().out.splitlines()
    assert head.startswith(f"tiny: serving {middle} (promoted at ")
    assert head.endswith(f"(lower MASE)); rollback goes to {newest}")
    labels = ["served", "version", "created", "MAE", "RMSE", "sMAPE", "MASE", "status"]
    assert header.split() == labels
    cells = [row.split() for row in rows]
    assert [c[-1] for c in cells] == ["loads"] * 3
    assert [c[0] for c in cells] == [newest, "*", oldest]  # newest first, the served one marked
    assert cells[1][1] == middle
    assert cells[1][3:7] == [f"{scores[k]:.4g}" for k in ("mae", "rmse", "smape", "mase")]
    monkeypatch.setenv("GATECAST_SERVE", "newest")
    assert run(folder, "list", "tiny") == 0
    assert capsys.readouterr().out.startswith(
        f"tiny: serving {newest} (newest: GATECAST_SERVE=newest)"
    )


def test_list_marks_a_version_that_will_not_load(folder: Path, capsys) -> None:
    broken = folder / "tiny" / "20991231T000000000000Z.pt"
    broken.write_bytes(b"PK junk")
    assert run(folder, "list", "tiny") == 0
    head, _, _, first, *_ = capsys.readouterr().out.splitlines()
    assert head.startswith(f"tiny: serving {versions(folder)[-2]} (newest: nothing promoted)")
    assert first.split()[0] == broken.stem and "cannot load: " in first


def junk_version(root: Path) -> str:
    """A newest version of tiny that will not load."""
    path = root / "tiny" / "20991231T000000000000Z.pt"
    path.write_bytes(b"PK junk")
    return path.stem


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["promote", "nope", "20260101T000000000000Z"], "no model named 'nope'"),
        (["promote", "tiny", "20990101T000000000000Z"], "model 'tiny' has no version"),
        (["promote", "tiny", "latest"], "invalid version 'latest'"),
        (["promote", "../tiny", "20990101T000000000000Z"], "invalid model name"),
        (["rollback", "tiny"], "nothing to roll back for 'tiny'"),
        (["rollback", "nope"], "no model named 'nope'"),
        (["list", "nope"], "no model named 'nope'"),
        (["promote", "tiny", "20990101T000000000000Z", "--note", "a\nb"], "--note: one"),
        (["rollback", "tiny", "--note", "x" * 201], "at most 200 characters"),
    ],
    ids=[
        "unknown-model",
        "unknown-version",
        "bad-version",
        "bad-name",
        "no-state",
        "rb-model",
        "ls",
        "note-lines",
        "note-long",
    ],
)
def test_bad_input_is_one_line_and_exit_2(folder: Path, capsys, argv, message: str) -> None:
    assert run(folder, *argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("gatecast-models: error: ") and message in err
    assert not (folder / "tiny" / STATE_FILE).exists()


def test_a_version_that_will_not_load_is_not_promoted(folder: Path, capsys) -> None:
    bad = junk_version(folder)
    assert run(folder, "promote", "tiny", bad) == 2
    err = capsys.readouterr().err
    assert f"gatecast-models: error: version {bad} of 'tiny' cannot be served: " in err
    assert err.count("\n") == 1 and not (folder / "tiny" / STATE_FILE).exists()


def test_no_rollback_to_a_version_that_no_longer_loads(folder: Path, capsys) -> None:
    _, middle, newest = versions(folder)
    assert run(folder, "promote", "tiny", middle) == 0
    before = (folder / "tiny" / STATE_FILE).read_bytes()
    (folder / "tiny" / f"{newest}.pt").write_bytes(b"PK junk")  # the rollback target
    capsys.readouterr()
    assert run(folder, "rollback", "tiny") == 2
    err = capsys.readouterr().err
    assert f"version {newest} of 'tiny' cannot be served: " in err and err.count("\n") == 1
    assert (folder / "tiny" / STATE_FILE).read_bytes() == before
    (folder / "tiny" / f"{newest}.pt").unlink()
    assert run(folder, "rollback", "tiny") == 2
    assert f"model 'tiny' has no version '{newest}'" in capsys.readouterr().err


def test_rolling_back_past_the_first_promotion_is_refused(folder: Path, capsys) -> None:
    _, middle, _ = versions(folder)
    assert run(folder, "promote", "tiny", middle) == 0
    assert run(folder, "rollback", "tiny") == 0
    assert run(folder, "rollback", "tiny") == 2
    assert "nothing to roll back to" in capsys.readouterr().err


def test_a_broken_state_file_is_never_overwritten(folder: Path, capsys) -> None:
    _, middle, _ = versions(folder)
    (folder / "tiny" / STATE_FILE).write_text("{half")
    for argv in (["promote", "tiny", middle], ["rollback", "tiny"]):
        assert run(folder, *argv) == 2
        err = capsys.readouterr().err
        assert "served.json is not JSON" in err and "fix or remove it" in err
        assert (folder / "tiny" / STATE_FILE).read_text() == "{half"
    assert run(folder, "list", "tiny") == 0  # still listed, with the problem
    assert "served.json is not JSON" in capsys.readouterr().out


def test_a_bad_policy_or_missing_folder_is_one_line(folder: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GATECAST_SERVE", "sometimes")
    assert run(folder, "list") == 2
    err = capsys.readouterr().err
    assert err.startswith("gatecast-models: error: GATECAST_SERVE") and err.count("\n") == 1
    monkeypatch.delenv("GATECAST_SERVE")
    assert command.main(["list", "--model-dir", str(folder / "missing")]) == 2
    assert "cannot list the model folder" in capsys.readouterr().err


def test_the_model_folder_defaults_to_gatecast_model_dir(folder: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GATECAST_MODEL_DIR", str(folder))
    assert command.main(["list", "tiny"]) == 0
    assert capsys.readouterr().out.startswith("tiny: serving ")


def test_the_console_command_exits_2_with_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.models", "rollback", "nope", "--model-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"gatecast-models: error: no model named 'nope' in {tmp_path}\n"


def test_every_flag_and_argument_has_help() -> None:
    [commands] = [a for a in command.build_parser()._actions if a.dest == "command"]
    assert isinstance(commands.choices, dict) and set(commands.choices) == set(command.COMMANDS)
    for name, sub in commands.choices.items():
        for action in sub._actions:
            assert action.help, (name, action.dest)
