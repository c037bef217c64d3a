"""GET /models/<name>/versions/<version>/input-weights: weight_ih per layer, gate and unit."""

from pathlib import Path

import pytest
import torch
from flask import Flask

from model.export import list_checkpoints

GATES = ["input_gate", "forget_gate", "candidate", "output_gate"]  # PyTorch's i, f, g, o
# The tests read the checkpoints with torch alone, as a client without gatecast would.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")


def expected_rows(path: Path, layer: int) -> dict[str, list[list[float]]]:
    """The checkpoint's weight_ih of a layer, read with torch alone, split per gate."""
    weight = torch.jit.load(str(path)).lstm.state_dict()[f"weight_ih_l{layer}"]  # (4H, I)
    hidden = weight.shape[0] // 4
    return {g: weight[j * hidden : (j + 1) * hidden].tolist() for j, g in enumerate(GATES)}


def test_a_covariate_model_weighs_its_whole_input_vector(
    shops: Flask, covariate_models: Path
) -> None:
    path = list_checkpoints(covariate_models)["shops"][-1]
    r = shops.test_client().get(f"/models/shops/versions/{path.stem}/input-weights")
    assert r.status_code == 200
    body = r.get_json()
    assert (body["model"], body["version"]) == ("shops", path.stem)
    (layer,) = body["layers"]
    features = shops.test_client().get("/models/shops").get_json()["versions"][0]["features"]
    names = ["value", *features["calendar"], "temp", "price", "series_0", "series_1"]
    assert layer["inputs"] == names
    expected = expected_rows(path, 0)
    for gate in GATES:
        assert layer[gate] == expected[gate]  # units x inputs, exactly the checkpoint's
        assert len(layer[gate]) == 6 and all(len(row) == len(names) for row in layer[gate])


def test_deeper_layers_weigh_the_hidden_state_below(client, model_dir: Path) -> None:
    path = list_checkpoints(model_dir)["tiny"][-1]
    body = client.get(f"/models/tiny/versions/{path.stem}/input-weights").get_json()
    assert [layer["inputs"] for layer in body["layers"]] == [
        ["value"],
        [f"hidden_state.{u}" for u in range(8)],
    ]
    for k, layer in enumerate(body["layers"]):
        expected = expected_rows(path, k)
        assert {g: layer[g] for g in GATES} == expected


@pytest.mark.parametrize(
    ("url", "status", "code", "field"),
    [
        ("/models/nope/versions/1/input-weights", 404, "unknown_model", "name"),
        ("/models/tiny/versions/nope/input-weights", 404, "unknown_version", "version"),
    ],
)
def test_unknown_names_are_404(client, url: str, status: int, code: str, field: str) -> None:
    r = client.get(url)
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == code
    assert r.get_json()["error"]["field"] == field


def test_the_openapi_document_lists_it(client) -> None:
    doc = client.get("/openapi.json").get_json()
    operation = doc["paths"]["/models/{name}/versions/{version}/input-weights"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["name", "version"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/InputWeights"}
    layer = doc["components"]["schemas"]["LayerInputWeights"]
    assert set(GATES) | {"inputs"} == set(layer["properties"])
