"""model.served: served.json's format, atomic writes, the rollback stack and the policy."""

import fcntl
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from model import served
from model.atomic import TEMP_PREFIX
from model.served import HISTORY_KEPT, MAX_BYTES, PREVIOUS_KEPT, STATE_FILE, StateError

ROOT = Path(__file__).resolve().parents[1]


def test_the_file_holds_the_served_version_the_stack_and_the_history(tmp_path: Path) -> None:
    state = served.first("V1", at="T0").promote("V2", "lower MASE", at="T1").promote("V3", at="T2")
    served.write(tmp_path, state)
    raw = json.loads((tmp_path / STATE_FILE).read_text())
    assert raw == {
        "format": "gatecast-served",
        "format_version": 1,
        "served": "V3",
        "previous": ["V2", "V1"],
        "history": [
            {"at": "T0", "action": "first", "version": "V1", "note": None},
            {"at": "T1", "action": "promote", "version": "V2", "note": "lower MASE"},
            {"at": "T2", "action": "promote", "version": "V3", "note": None},
        ],
    }
    assert served.read(tmp_path) == state
    assert (
        tmp_path / STATE_FILE
    ).stat().st_mode & 0o777 == 0o644  # the service may be another user
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]  # no temporary file left
    assert served.read(tmp_path / "no-such-model") is None


def test_reasons_name_the_action_its_time_and_note() -> None:
    first = served.first("V1", at="T0")
    assert first.reason() == "first version, served since T0"
    assert first.promote("V2", "lower MASE", at="T1").reason() == "promoted at T1 (lower MASE)"
    assert first.promote("V2", at="T1").reason() == "promoted at T1"
    back = first.promote("V2", at="T1").rollback("spiky forecasts", at="T2")
    assert back.reason() == "rolled back at T2 (spiky forecasts)"


def test_rollback_pops_the_stack_one_step_at_a_time() -> None:
    state = served.first("V1", at="T0").promote("V2", at="T1").promote("V3", at="T2")
    once = state.rollback(at="T3")
    assert (once.served, once.previous) == ("V2", ("V1",))
    twice = once.rollback(at="T4")
    assert (twice.served, twice.previous) == ("V1", ())
    actions = [c.action for c in twice.history]
    assert actions == ["first", "promote", "promote", "rollback", "rollback"]
    with pytest.raises(StateError, match="nothing to roll back to"):
        twice.rollback()


def test_a_first_promotion_can_roll_back_to_what_was_served() -> None:
    state = served.started("V2", "V3", "try the older one", at="T0")
    assert (state.served, state.previous) == ("V2", ("V3",))
    assert state.reason() == "promoted at T0 (try the older one)"
    assert served.started("V3", "V3", None).previous == ()
    assert served.started("V3", None, None).previous == ()


def test_the_stack_and_the_history_are_bounded() -> None:
    state = served.first("V0")
    for k in range(1, HISTORY_KEPT + 5):
        state = state.promote(f"V{k}", at="T")
    assert len(state.previous) == PREVIOUS_KEPT
    assert state.previous[0] == f"V{HISTORY_KEPT + 3}"  # the most recent first
    assert len(state.history) == HISTORY_KEPT
    assert state.history[-1].version == state.served == f"V{HISTORY_KEPT + 4}"


def test_a_failed_write_leaves_the_old_state(tmp_path: Path, monkeypatch) -> None:
    old = served.first("V1", at="T0")
    served.write(tmp_path, old)

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        served.write(tmp_path, old.promote("V2"))
    assert served.read(tmp_path) == old
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]


def test_a_killed_write_leaves_the_old_state(tmp_path: Path) -> None:
    """SIGKILL after the bytes are written, before the rename: readers still see the old."""
    old = served.first("V1", at="T0")
    served.write(tmp_path, old)
    code = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from model import served
        os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
        state = served.read(Path({str(tmp_path)!r}))
        served.write(Path({str(tmp_path)!r}), state.promote("V2"))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True)
    assert proc.returncode == -9, proc.stderr
    assert served.read(tmp_path) == old
    [temporary] = [p.name for p in tmp_path.iterdir() if p.name != STATE_FILE]
    assert temporary.startswith(TEMP_PREFIX) and not temporary.endswith(".json")


def test_one_change_at_a_time_holds_the_folder_lock(tmp_path: Path) -> None:
    def try_lock() -> None:
        fd = os.open(tmp_path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)

    with served.locked(tmp_path), pytest.raises(BlockingIOError):
        try_lock()  # another promotion waits here
    try_lock()  # released


def good() -> dict:
    """A valid file's content."""
    return served.first("V1", at="T0").to_json()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{", "served.json is not JSON"),
        (b"\xff\xfe", "served.json is not JSON"),
        (json.dumps([1]).encode(), "not a gatecast-served file"),
        (json.dumps({**good(), "format": "other"}).encode(), "not a gatecast-served file"),
        (json.dumps({**good(), "format_version": 2}).encode(), "format version 2"),
        (json.dumps({**good(), "served": 3}).encode(), "served: not a version"),
        (json.dumps({**good(), "served": "../../etc"}).encode(), "served: not a version"),
        (json.dumps({**good(), "previous": "V0"}).encode(), "must be lists"),
        (json.dumps({**good(), "previous": [None]}).encode(), "previous.0: not a version"),
        (
            json.dumps(
                {**good(), "history": [{"at": "T", "action": "x", "version": "V"}]}
            ).encode(),
            "history.0: needs a time",
        ),
        (
            json.dumps(
                {**good(), "history": [{"at": "T", "action": "promote", "version": "V", "note": 1}]}
            ).encode(),
            "history.0.note: not text",
        ),
    ],
    ids=[
        "truncated",
        "not-utf8",
        "a-list",
        "other-format",
        "format-version",
        "served-number",
        "served-path",
        "previous-string",
        "previous-null",
        "bad-action",
        "note-number",
    ],
)
def test_a_bad_file_is_refused_with_the_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / STATE_FILE).write_bytes(content)
    with pytest.raises(StateError, match=reason) as err:
        served.read(tmp_path)
    assert str(tmp_path) not in str(err.value)  # no server paths in reasons


def test_only_a_regular_file_of_sensible_size_is_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / STATE_FILE)  # opening it must not wait for a writer
    with pytest.raises(StateError, match="not a regular file"):
        served.read(tmp_path)
    (tmp_path / STATE_FILE).unlink()
    (tmp_path / STATE_FILE).mkdir()
    with pytest.raises(StateError, match="not a regular file"):
        served.read(tmp_path)
    (tmp_path / STATE_FILE).rmdir()
    (tmp_path / STATE_FILE).write_bytes(b" " * (MAX_BYTES + 1))
    with pytest.raises(StateError, match="larger than"):
        served.read(tmp_path)


def test_choose_follows_the_policy_and_says_why() -> None:
    loaded = ["V3", "V2", "V1"]
    state = served.first("V1", at="T0").promote("V2", "lower MASE", at="T1")
    assert served.choose("promoted", state, loaded, {}) == ("V2", "promoted at T1 (lower MASE)")
    assert served.choose("newest", state, loaded, {}) == ("V3", "newest: GATECAST_SERVE=newest")
    assert served.choose("promoted", None, loaded, {}) == ("V3", "newest: nothing promoted")
    assert served.choose("promoted", None, [], {}) == (None, "newest: nothing promoted")
    broken = {"V2": "it is a FIFO, not a regular file"}
    assert served.choose("promoted", state, ["V3", "V1"], broken) == (
        "V3",
        "newest: the promoted version V2 cannot be served (it is a FIFO, not a regular file)",
    )
    assert served.choose("promoted", state, ["V3"], {}) == (
        "V3",
        "newest: the promoted version V2 cannot be served (its checkpoint is not in the folder)",
    )
