"""POST /forecast: values, shapes, batching, intervals and state, checked against the model."""

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from model.export import list_checkpoints, load
from model.network import QUANTITIES
from service import ServiceConfig, create_app
from tests.article_values import WORKED_EXAMPLE

SEQ = [float(100 + 5 * math.sin(k / 2) + k) for k in range(20)]


def post(client, **body):
    """POST /forecast and return (status, json)."""
    r = client.post("/forecast", json=body)
    return r.status_code, r.get_json()


def module_of(model_dir: Path, name: str):
    """The newest checkpoint of `name`, loaded directly."""
    return load(list_checkpoints(model_dir)[name][-1])[0]


def test_article_cell_worked_example(client) -> None:
    status, body = post(
        client,
        model="article-cell",
        sequence=[1],
        state={"h": [[1]], "c": [[2]]},
        return_state=True,
    )
    assert status == 200
    assert body["forecast"] == pytest.approx([0.98930], abs=1e-4)
    layer = body["internals"]["layers"][0]
    for name, value in WORKED_EXAMPLE.items():
        assert layer[name] == [[pytest.approx(value, abs=1e-4)]], name
    assert body["state"]["h"] == [[pytest.approx(WORKED_EXAMPLE["hidden_state"], abs=1e-4)]]
    assert body["state"]["c"] == [[pytest.approx(WORKED_EXAMPLE["cell_state"], abs=1e-4)]]


def test_internals_levels_agree_with_module_forward(client, model_dir: Path) -> None:
    module = module_of(model_dir, "tiny")
    with torch.inference_mode():
        expected = module.forward(torch.tensor([SEQ]), 3, None, None)[0][0].tolist()
    results = {
        mode: post(client, model="tiny", sequence=SEQ, horizon=3, internals=mode)[1]
        for mode in ("none", "last", "all")
    }
    for mode, body in results.items():
        assert body["forecast"] == pytest.approx(expected, rel=1e-5, abs=1e-5), mode
    assert "internals" not in results["none"]
    last, full = results["last"]["internals"], results["all"]["internals"]
    assert last["first_step"] == full["steps"] - 1 and full["first_step"] == 0
    for layer_last, layer_all in zip(last["layers"], full["layers"], strict=True):
        for name in QUANTITIES:
            # "last" runs one cell step after the fused kernel, "all" the batched gates and
            # the scan: the same float32 values to within rounding.
            got, want = np.asarray(layer_last[name]), np.asarray([layer_all[name][-1]])
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, err_msg=name)


def test_internals_shapes_for_longer_horizon(client) -> None:
    status, body = post(client, model="tiny", sequence=SEQ[:7], horizon=4)
    assert status == 200
    assert len(body["forecast"]) == 4
    internals = body["internals"]
    assert internals["steps"] == 7 + 4 - 1 and internals["observed_steps"] == 7
    assert len(internals["layers"]) == 2
    for layer in internals["layers"]:
        assert list(layer) == list(QUANTITIES)
        for name in QUANTITIES:
            assert np.asarray(layer[name]).shape == (10, 8), name


def test_internals_obey_the_lstm_equations(client) -> None:
    body = post(client, model="tiny", sequence=SEQ[:6], horizon=3, return_state=True)[1]
    for index, layer in enumerate(body["internals"]["layers"]):
        q = {name: np.asarray(layer[name]) for name in QUANTITIES}
        c_prev = np.vstack([np.zeros((1, 8)), q["cell_state"][:-1]])
        expected_c = q["forget_gate"] * c_prev + q["input_gate"] * q["candidate"]
        np.testing.assert_allclose(q["cell_state"], expected_c, atol=1e-5)
        np.testing.assert_allclose(
            q["hidden_state"], q["output_gate"] * np.tanh(q["cell_state"]), atol=1e-5
        )
        # The returned state is the one after the 6 observed steps, not after the forecast.
        np.testing.assert_allclose(body["state"]["h"][index], q["hidden_state"][5], atol=1e-6)
        np.testing.assert_allclose(body["state"]["c"][index], q["cell_state"][5], atol=1e-6)
        assert not np.allclose(q["hidden_state"][5], q["hidden_state"][-1])


def test_batch_of_mixed_lengths_matches_single_requests_in_order(client) -> None:
    sequences = [SEQ[:5], SEQ[:12], SEQ[3:8], SEQ, SEQ[:12][::-1]]
    status, batch = post(
        client,
        model="tiny",
        sequences=sequences,
        horizon=2,
        internals="last",
        return_state=True,
        interval=0.8,
        id="batch-1",
    )
    assert status == 200
    assert batch["id"] == "batch-1"
    for key in ("forecast", "interval", "internals", "state"):
        assert len(batch[key]) == len(sequences), key
    for k, seq in enumerate(sequences):
        single = post(
            client,
            model="tiny",
            sequence=seq,
            horizon=2,
            internals="last",
            return_state=True,
            interval=0.8,
        )[1]
        assert batch["forecast"][k] == pytest.approx(single["forecast"], abs=1e-5)
        assert batch["interval"][k]["lower"] == pytest.approx(single["interval"]["lower"], abs=1e-4)
        np.testing.assert_allclose(batch["state"][k]["h"], single["state"]["h"], atol=1e-5)
        np.testing.assert_allclose(
            batch["internals"][k]["layers"][1]["cell_state"],
            single["internals"]["layers"][1]["cell_state"],
            atol=1e-5,
        )
        # The tiny model runs over its last 12 observations (its window) at most.
        run = min(len(seq), 12)
        assert batch["internals"][k]["observed_steps"] == run
        assert batch["context"][k] == {"first_step": len(seq) - run, "steps": run}
    # Different inputs, different answers: the order really is the request's.
    assert batch["forecast"][1] != batch["forecast"][4]


def test_interval_brackets_the_forecast(client, model_dir: Path) -> None:
    status, body = post(
        client, model="tiny", sequence=SEQ, horizon=3, interval=0.98, internals="none"
    )
    assert status == 200
    interval = body["interval"]
    assert interval["level"] == 0.98
    for low, mid, high in zip(interval["lower"], body["forecast"], interval["upper"], strict=True):
        assert low < mid < high
    narrow = post(client, model="tiny", sequence=SEQ, horizon=3, interval=0.5, internals="none")[1][
        "interval"
    ]
    assert narrow["upper"][0] - narrow["lower"][0] < interval["upper"][0] - interval["lower"][0]


def test_interval_offsets_follow_the_quantiles(tmp_path: Path, make_checkpoint) -> None:
    make_checkpoint(tmp_path, "plain")  # quantiles spread evenly over [-2, 2], global scale 2
    app = create_app(ServiceConfig(model_dir=str(tmp_path), poll_seconds=0))
    body = (
        app.test_client()
        .post("/forecast", json={"sequence": [9.0, 11.0], "interval": 0.9, "internals": "none"})
        .get_json()
    )
    # 10 calibration residuals: split conformal widens 0.9 to 0.9 * 11 / 10 = 0.99, so p=0.005
    # and 0.995, the table's ends at -2 and 2 in scaled units; times scale 2.
    assert body["interval"]["lower"][0] == pytest.approx(body["forecast"][0] - 4.0, abs=1e-4)
    assert body["interval"]["upper"][0] == pytest.approx(body["forecast"][0] + 4.0, abs=1e-4)


@pytest.mark.parametrize("name", ["article-cell", "plain"])
def test_state_round_trip_equals_the_concatenated_sequence(
    tmp_path: Path, model_dir: Path, make_checkpoint, name: str
) -> None:
    make_checkpoint(tmp_path, "plain", hidden=5, layers=2, normalization="global")
    # A copy: the registry refuses files that link outside the model folder.
    shutil.copytree(model_dir / "article-cell", tmp_path / "article-cell")
    client = create_app(ServiceConfig(model_dir=str(tmp_path), poll_seconds=0)).test_client()
    head, tail = [0.5, -0.2, 1.3, 0.7], [0.1, 0.9, -0.4]
    first = post(client, model=name, sequence=head, return_state=True, internals="none")[1]
    second = post(
        client, model=name, sequence=tail, state=first["state"], horizon=2, return_state=True
    )[1]
    whole = post(client, model=name, sequence=head + tail, horizon=2, return_state=True)[1]
    np.testing.assert_allclose(second["forecast"], whole["forecast"], atol=1e-5)
    np.testing.assert_allclose(second["state"]["h"], whole["state"]["h"], atol=1e-5)
    np.testing.assert_allclose(second["state"]["c"], whole["state"]["c"], atol=1e-5)
    # The internals of the tail are the last steps of the whole run.
    for a, b in zip(second["internals"]["layers"], whole["internals"]["layers"], strict=True):
        np.testing.assert_allclose(a["cell_state"], b["cell_state"][len(head) :], atol=1e-5)


def test_window_scaled_stream_continues_with_loc_and_scale(client) -> None:
    """Under window scaling the state lives in the first chunk's scaled space: send it back."""
    head, tail = SEQ[:12], SEQ[12:20]
    first = post(client, model="tiny", sequence=head, return_state=True, internals="none")[1]
    state = first["state"]
    assert state["scale"] > 0 and state["loc"] == pytest.approx(float(np.mean(head)), rel=1e-5)
    second = post(client, model="tiny", sequence=tail, state=state, return_state=True)[1]
    zeros = [[0.0] * 8, [0.0] * 8]
    start = {"h": zeros, "c": zeros, "loc": state["loc"], "scale": state["scale"]}
    whole = post(client, model="tiny", sequence=head + tail, state=start, return_state=True)[1]
    np.testing.assert_allclose(second["forecast"], whole["forecast"], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(second["state"]["c"], whole["state"]["c"], atol=1e-5)
    assert second["state"]["loc"] == state["loc"]  # the stream keeps its scaling
    # Without loc and scale the tail is scaled by its own statistics: a different forecast.
    own = {"h": state["h"], "c": state["c"]}
    alone = post(client, model="tiny", sequence=tail, state=own, internals="none")[1]
    assert alone["forecast"] != pytest.approx(second["forecast"], rel=1e-3)
    bad = post(client, model="tiny", sequence=tail, state={**own, "loc": 1.0})
    assert bad[0] == 400 and bad[1]["error"]["field"] == "state"


def test_one_state_per_sequence_in_a_batch(tmp_path: Path, make_checkpoint) -> None:
    make_checkpoint(tmp_path, "plain", hidden=3, layers=1)
    client = create_app(ServiceConfig(model_dir=str(tmp_path), poll_seconds=0)).test_client()
    states = [
        {"h": [[0.1, 0.2, 0.3]], "c": [[1.0, 0.0, -1.0]]},
        {"h": [[0.0, 0.0, 0.0]], "c": [[0.0, 0.0, 0.0]]},
    ]
    seqs = [[1.0, 2.0], [3.0]]
    batch = post(client, sequences=seqs, state=states, internals="none")[1]
    for seq, state, forecast in zip(seqs, states, batch["forecast"], strict=True):
        single = post(client, sequence=seq, state=state, internals="none")[1]
        assert forecast == pytest.approx(single["forecast"], abs=1e-6)
    shared = post(client, sequences=seqs, state=states[0], internals="none")[1]
    assert shared["forecast"][0] == pytest.approx(batch["forecast"][0], abs=1e-6)
    assert shared["forecast"][1] != pytest.approx(batch["forecast"][1], abs=1e-6)


def test_model_may_be_omitted_with_one_model_or_a_default(
    tmp_path: Path, model_dir: Path, make_checkpoint
) -> None:
    make_checkpoint(tmp_path, "only")
    client = create_app(ServiceConfig(model_dir=str(tmp_path), poll_seconds=0)).test_client()
    assert post(client, sequence=[1.0, 2.0])[1]["model"] == "only"
    cfg = ServiceConfig(model_dir=str(model_dir), poll_seconds=0, default_model="article-cell")
    client = create_app(cfg).test_client()
    assert post(client, sequence=[1.0])[1]["model"] == "article-cell"


def test_response_carries_model_version_and_raw_units(client, model_dir: Path) -> None:
    version = list_checkpoints(model_dir)["tiny"][-1].stem
    body = post(client, model="tiny", sequence=[v * 1000 for v in SEQ], internals="none")[1]
    assert body["version"] == version and body["horizon"] == 1 and body["id"] is None
    assert 50_000 < body["forecast"][0] < 200_000  # window scaling maps back to raw units
    assert set(body) == {"id", "model", "version", "horizon", "forecast", "context"}
