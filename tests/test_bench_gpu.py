"""bench.gpu's checks in their CPU form (the GPU run needs a CUDA machine)."""

import pytest

from bench import gpu


@pytest.mark.slow
def test_dry_run_trains_both_models_and_checks_every_entry_point(capsys) -> None:
    assert gpu.main(["--dry-run", "--max-steps", "20"]) == 0
    out = capsys.readouterr().out
    for name in ("airline", "shop"):
        assert f"{name}: trained with --accelerator cpu" in out
        assert f"{name}: CPU forward, internals" in out


def test_without_cuda_it_refuses_to_pretend(capsys, monkeypatch) -> None:
    monkeypatch.setattr(gpu.torch.cuda, "is_available", lambda: False)
    assert gpu.main([]) == 2
    assert "no CUDA device" in capsys.readouterr().err
