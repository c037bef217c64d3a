"""The tutorial article's worked example and training example, reproduced."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from model.article import article_cell, article_config
from model.export import script
from model.lightning import Forecaster
from model.network import QUANTITIES
from tests.article_values import WORKED_EXAMPLE as EXPECTED


@pytest.mark.parametrize("compiled", [False, True])
def test_worked_example(compiled: bool) -> None:
    net = script(article_cell()) if compiled else article_cell()
    x = torch.tensor([[1.0]])  # input 1
    h0 = torch.tensor([[[1.0]]])  # short-term memory 1
    c0 = torch.tensor([[[2.0]]])  # long-term memory 2
    forecast, internals, h_t, c_t, *_ = net.internals(x, 1, h0, c0)
    for name, value in EXPECTED.items():
        got = internals[0, 0, QUANTITIES.index(name), 0, 0].item()
        assert got == pytest.approx(value, abs=1e-4), name
    assert forecast.item() == pytest.approx(0.98930, abs=1e-4)
    assert h_t.item() == pytest.approx(0.98930, abs=1e-4)
    assert c_t.item() == pytest.approx(2.92299, abs=1e-4)
    plain, _, _, *_ = net(x, 1, h0, c0)
    assert plain.item() == pytest.approx(0.98930, abs=1e-4)


@pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no `val_dataloader`")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_example(seed: int) -> None:
    """[0, 0.5, 0.25, 1] -> 0 and [1, 0.5, 0.25, 1] -> 1, Adam, zero initial state."""
    x = torch.tensor([[0.0, 0.5, 0.25, 1.0], [1.0, 0.5, 0.25, 1.0]])
    y = torch.tensor([[0.0], [1.0]])
    L.seed_everything(seed, verbose=False)
    module = Forecaster(network=article_config().to_dict(), lr=0.1, weight_decay=0.0, loss="mse")
    trainer = L.Trainer(
        max_epochs=1000,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
    )
    trainer.fit(module, DataLoader(TensorDataset(x, y), batch_size=2))
    with torch.no_grad():
        got = module(x).flatten().tolist()
    assert got[0] == pytest.approx(0.0, abs=0.05)
    assert got[1] == pytest.approx(1.0, abs=0.05)
