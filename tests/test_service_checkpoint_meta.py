"""The meta.json schema: every field's type and range; unknown keys kept."""

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from model.export import list_checkpoints, load
from service.checkpoint_meta import parse_meta

Meta = dict[str, Any]


@pytest.fixture(scope="module")
def trained(model_dir: Path) -> Meta:
    """The meta.json that training wrote for the session's tiny model."""
    return load(list_checkpoints(model_dir)["tiny"][-1])[1]


def setting(*path: str, value: Any) -> Callable[[Meta], None]:
    """A change that sets one (nested) key."""

    def change(meta: Meta) -> None:
        for key in path[:-1]:
            meta = meta[key]
        meta[path[-1]] = value

    return change


def removing(*path: str) -> Callable[[Meta], None]:
    """A change that removes one (nested) key."""

    def change(meta: Meta) -> None:
        for key in path[:-1]:
            meta = meta[key]
        del meta[path[-1]]

    return change


def quantiles(**fields: Any) -> Callable[[Meta], None]:
    """A change to residual_quantiles."""
    return lambda meta: meta["residual_quantiles"].update(fields)


NAN = float("nan")
BAD = {
    "created_at-number": (
        setting("created_at", value=5),
        "created_at: Input should be a valid string",
    ),
    "created_at-not-a-time": (setting("created_at", value="yesterday"), "created_at: Value error"),
    "frequency-list": (
        setting("frequency", value=["MS"]),
        "frequency: Input should be a valid string",
    ),
    "metrics-string": (
        setting("metrics", value="good"),
        "metrics: Input should be a valid dictionary",
    ),
    "metrics-score-text": (
        setting("metrics", "model", "mae", value="1.0"),
        "metrics.model.mae: Input should be a valid number",
    ),
    "normalization-string": (
        setting("normalization", value="window"),
        "normalization: Input should be a valid dictionary",
    ),
    "normalization-scale-zero": (
        setting("normalization", "scale", value=0.0),
        "normalization.scale: Input should be greater than 0",
    ),
    "normalization-mode": (setting("normalization", "mode", value="log"), "must be one of"),
    "hidden-size-text": (
        setting("network", "hidden_size", value="8"),
        "network.hidden_size: Input should be a valid integer",
    ),
    "window-bool": (setting("window", value=True), "window: Input should be a valid integer"),
    "horizon-zero": (
        setting("horizon", value=0),
        "horizon: Input should be greater than or equal to 1",
    ),
    "no-window": (removing("window"), "'window' is missing"),
    "no-network": (removing("network"), "'network' is missing"),
    "probs-strings": (
        lambda m: m["residual_quantiles"].update(
            probs=[str(p) for p in m["residual_quantiles"]["probs"]]
        ),
        "residual_quantiles.probs.0: Input should be a valid number",
    ),
    "probs-unsorted": (
        lambda m: m["residual_quantiles"]["probs"].reverse(),
        "probabilities must be strictly increasing",
    ),
    "probs-duplicated": (
        lambda m: m["residual_quantiles"]["probs"].__setitem__(
            1, m["residual_quantiles"]["probs"][0]
        ),
        "probabilities must be strictly increasing",
    ),
    "probs-nan": (
        lambda m: m["residual_quantiles"]["probs"].__setitem__(0, NAN),
        "residual_quantiles.probs.0: Input should be a finite number",
    ),
    "probs-outside": (
        lambda m: m["residual_quantiles"]["probs"].__setitem__(-1, 1.5),
        "strictly between 0 and 1",
    ),
    "step-nan": (
        lambda m: m["residual_quantiles"]["steps"][0].__setitem__(3, NAN),
        "residual_quantiles.steps.0.3: Input should be a finite number",
    ),
    "step-strings": (
        lambda m: m["residual_quantiles"].update(
            steps=[[str(v) for v in m["residual_quantiles"]["steps"][0]]]
        ),
        "residual_quantiles.steps.0.0: Input should be a valid number",
    ),
    "step-unsorted": (
        lambda m: m["residual_quantiles"]["steps"][0].reverse(),
        "step 1: quantiles must not decrease",
    ),
    "step-short": (
        lambda m: m["residual_quantiles"]["steps"][0].pop(),
        "each step needs one quantile per probability",
    ),
    "count-negative": (quantiles(count=-1), "count: Input should be greater than or equal to 0"),
    "space-raw": (quantiles(space="raw"), "must be 'scaled'"),
    "format-version": (setting("format_version", value=1), "format_version: Value error"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_field_of_the_wrong_type_or_range_is_refused(trained: Meta, case: str) -> None:
    change, phrase = BAD[case]
    meta = copy.deepcopy(trained)
    change(meta)
    with pytest.raises(ValueError, match=r"^meta\.json: ") as err:
        parse_meta(meta)
    assert phrase in str(err.value)


def test_what_training_writes_passes_and_unknown_keys_are_kept(trained: Meta) -> None:
    meta = copy.deepcopy(trained)
    meta["ensemble"] = "mean of 5"
    meta["context"] = 512
    meta["residual_quantiles"]["calibration"] = {"method": "conformal", "coverage": 0.9}
    parsed = parse_meta(meta)
    assert parsed.window == 12 and parsed.network.hidden_size == 8 and parsed.has_intervals
    assert parsed.model_extra == {"ensemble": "mean of 5", "context": 512}
    assert parsed.residual_quantiles.model_extra == {
        "calibration": meta["residual_quantiles"]["calibration"]
    }
    assert parsed.metrics == trained["metrics"]


def test_an_unknown_decoder_is_refused(trained: Meta) -> None:
    meta = {**copy.deepcopy(trained), "decoder": "autoregressive"}
    with pytest.raises(ValueError, match="decoder: Value error, must be one of direct, recursive"):
        parse_meta(meta)


def test_a_model_without_quantiles_has_no_intervals(trained: Meta) -> None:
    meta = copy.deepcopy(trained)
    meta["residual_quantiles"].update(steps=[], count=0)
    assert parse_meta(meta).has_intervals is False
