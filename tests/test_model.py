"""The network: internals equal the fused path and a plain step-by-step LSTM."""

import pytest
import torch
from torch import Tensor

from model.export import script
from model.network import QUANTITIES, RUN_CHUNK, GateLSTM, NetworkConfig
from model.scan import linear_scan


def reference(net: GateLSTM, x: Tensor, horizon: int, h0: Tensor, c0: Tensor) -> Tensor:
    """Every gate and state by the textbook equations, one step at a time: (B, L, 6, S, H)."""
    w = [p.detach() for p in net.weights()]
    loc, scale = net.stats(x)
    z = (x - loc) / scale
    h, c = list(h0.unbind(0)), list(c0.unbind(0))
    steps, pred = [], torch.zeros(0)
    for t in range(x.size(1) + horizon - 1):
        inp = z[:, t : t + 1] if t < x.size(1) else pred
        frame = []
        for layer in range(net.num_layers):
            wi, wh, bi, bh = w[4 * layer : 4 * layer + 4]
            pre = inp @ wi.T + h[layer] @ wh.T + bi + bh
            i, f, g, o = pre.chunk(4, dim=1)
            i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
            c[layer] = f * c[layer] + i * g
            h[layer] = o * c[layer].tanh()
            frame.append(torch.stack([i, f, g, o, c[layer], h[layer]], dim=1))
            inp = h[layer]
        steps.append(torch.stack(frame, dim=1))
        pred = net.readout(inp)
    return torch.stack(steps, dim=3)


def make(
    hidden: int, layers: int, normalization: str = "window", seed: int = 0, **more: object
) -> GateLSTM:
    """A randomly initialised recursive network in eval mode that reads all its input."""
    torch.manual_seed(seed)
    shape: dict = {"decoder": "recursive", "context": 1024, **more}
    cfg = NetworkConfig(hidden_size=hidden, num_layers=layers, normalization=normalization, **shape)
    return GateLSTM(cfg).eval()


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("hidden", [1, 64])
@pytest.mark.parametrize("steps", [1, 2, 17, 200])
@pytest.mark.parametrize("batch", [1, 16])
def test_internals_match_fused_path(layers: int, hidden: int, steps: int, batch: int) -> None:
    net = make(hidden, layers)
    scripted = script(net)
    x = torch.randn(batch, steps).cumsum(1) + 10.0
    with torch.no_grad():
        forecast, h_t, c_t, *_ = scripted(x, 1)
        f_int, internals, h_int, c_int, *_ = scripted.internals(x, 1)
        loc, scale = net.stats(x)
        top, _ = net.lstm(((x - loc) / scale).unsqueeze(-1))  # fused hidden states (B, T, H)
    assert internals.shape == (batch, layers, 6, steps, hidden)
    hidden_states = internals[:, -1, QUANTITIES.index("hidden_state")]
    torch.testing.assert_close(hidden_states, top, atol=1e-5, rtol=0)
    torch.testing.assert_close(f_int, forecast, atol=1e-5, rtol=1e-6)
    torch.testing.assert_close(h_int, h_t, atol=1e-5, rtol=0)
    torch.testing.assert_close(c_int, c_t, atol=1e-5, rtol=0)
    # The final cell state of the scan agrees with the kernel's own final cell state.
    torch.testing.assert_close(internals[:, :, 4, -1], c_t.transpose(0, 1), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("layers", "hidden", "steps", "horizon"), [(1, 1, 1, 1), (2, 8, 9, 5)])
def test_internals_match_textbook_lstm(layers: int, hidden: int, steps: int, horizon: int) -> None:
    net = make(hidden, layers, seed=3)
    x = torch.randn(3, steps) * 4 + 2
    h0, c0 = torch.randn(layers, 3, hidden), torch.randn(layers, 3, hidden) * 2
    forecast, internals, h_t, c_t, *_ = script(net).internals(x, horizon, h0, c0)
    expected = reference(net, x, horizon, h0, c0)
    torch.testing.assert_close(internals, expected, atol=1e-5, rtol=0)
    # The state handed back is the one after the observed steps, before generated ones.
    torch.testing.assert_close(h_t, expected[:, :, 5, steps - 1].transpose(0, 1), atol=1e-5, rtol=0)
    torch.testing.assert_close(c_t, expected[:, :, 4, steps - 1].transpose(0, 1), atol=1e-5, rtol=0)
    plain, _, _, *_ = net(x, horizon, h0, c0)
    torch.testing.assert_close(forecast, plain.detach(), atol=1e-5, rtol=1e-6)


def test_generated_steps_feed_predictions_back() -> None:
    net = make(4, 2)
    x = torch.randn(2, 10)
    five, _, _, *_ = net(x, 5)
    one, h, c, *_ = net(x, 1)
    # Continuing from the returned state with the first prediction gives the second one.
    loc, scale = net.stats(x)
    z1 = ((one - loc) / scale).detach()
    nxt, _, _ = net.forward_scaled(z1, 1, 1, h, c)
    torch.testing.assert_close(five[:, 1:2], (nxt * scale + loc).detach(), atol=1e-5, rtol=0)


def test_state_carries_over_between_calls() -> None:
    net = make(8, 2, normalization="none")
    x = torch.randn(2, 30)
    whole, h_all, c_all, *_ = net(x, 1)
    _, h, c, *_ = net(x[:, :12], 1)
    rest, h_rest, c_rest, *_ = net(x[:, 12:], 1, h, c)
    torch.testing.assert_close(rest, whole, atol=1e-5, rtol=0)
    torch.testing.assert_close(h_rest, h_all, atol=1e-5, rtol=0)
    torch.testing.assert_close(c_rest, c_all, atol=1e-5, rtol=0)


def test_stream_continues_in_one_scaled_space() -> None:
    """With window scaling, passing the first chunk's loc and scale makes chunks compose."""
    net = script(make(8, 2, normalization="window"))
    x = torch.randn(3, 40).cumsum(1) * 5 + 50
    loc, scale = net.stats(x[:, :16])
    whole, h_all, c_all, *_ = net(x, 2, None, None, loc, scale)
    _, h, c, *_ = net(x[:, :16], 1, None, None, loc, scale)
    rest, h_rest, c_rest, *_ = net(x[:, 16:], 2, h, c, loc.flatten(), scale.flatten())
    torch.testing.assert_close(rest, whole, atol=1e-4, rtol=1e-6)
    torch.testing.assert_close((h_rest, c_rest), (h_all, c_all), atol=1e-5, rtol=0)
    f_int, _, h_int, _, *_ = net.internals(x[:, 16:], 2, h, c, loc, scale)
    torch.testing.assert_close(f_int, rest, atol=1e-4, rtol=1e-6)
    torch.testing.assert_close(h_int, h_rest, atol=1e-5, rtol=0)
    with pytest.raises(Exception, match="give both loc and scale"):
        net(x, 1, None, None, loc, None)


def test_wrong_state_shape_is_refused() -> None:
    net = make(4, 2)
    with pytest.raises(ValueError, match="initial state must have shape"):
        net(torch.zeros(1, 3), 1, torch.zeros(1, 1, 4), torch.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="horizon"):
        net.internals(torch.zeros(1, 3), 0)


def test_window_scaling_is_affine_equivariant() -> None:
    net = make(8, 1, normalization="window")
    x = torch.randn(4, 20)
    base, _, _, *_ = net(x, 3)
    moved, _, _, *_ = net(x * 250.0 + 1e4, 3)
    torch.testing.assert_close(moved, base * 250.0 + 1e4, atol=1e-2, rtol=1e-5)


def test_flat_window_gives_finite_forecast_near_the_level() -> None:
    net = make(8, 2, normalization="window")
    for level in (0.0, 5.0, -3e6):
        forecast, _, _, *_ = net(torch.full((1, 12), level), 2)
        assert torch.isfinite(forecast).all()
        assert forecast.sub(level).abs().max() <= 1e-3 * max(1.0, abs(level))


def test_global_and_no_scaling() -> None:
    net = make(4, 1, normalization="global")
    net.set_global_stats(100.0, 20.0)
    loc, scale = net.stats(torch.zeros(3, 5))
    assert loc.flatten().tolist() == [100.0] * 3 and scale.flatten().tolist() == [20.0] * 3
    loc, scale = make(4, 1, normalization="none").stats(torch.ones(2, 5) * 7)
    assert loc.flatten().tolist() == [0.0, 0.0] and scale.flatten().tolist() == [1.0, 1.0]


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="normalization"):
        NetworkConfig(normalization="minmax")
    with pytest.raises(ValueError, match="without a head"):
        NetworkConfig(hidden_size=4, head=False)
    with pytest.raises(ValueError, match="decoder"):
        NetworkConfig(decoder="seq2seq")


def direct(context: int = 8, horizon: int = 4, seasons: tuple[int, ...] = (6,)) -> GateLSTM:
    """A randomly initialised direct-decoder network in eval mode."""
    torch.manual_seed(1)
    cfg = NetworkConfig(
        hidden_size=8, num_layers=2, context=context, horizon=horizon, seasons=list(seasons)
    )
    return GateLSTM(cfg).eval()


def test_longer_history_runs_over_the_same_context() -> None:
    net = direct(context=8, seasons=(6,))
    x = torch.randn(2, 40).cumsum(1)
    whole, h, _c, loc, scale = net(x, 4)
    last, h8, _c8, _loc8, scale8 = net(x[:, -8:], 4)
    torch.testing.assert_close(whole, last)
    torch.testing.assert_close(h, h8)
    torch.testing.assert_close(scale, scale8)
    # The scaling comes from the steps the LSTM runs over, not the whole history.
    torch.testing.assert_close(loc[:, 0], x[:, -8:].mean(1))
    forecast, internals, *_ = net.internals(x, 3)
    assert internals.shape == (2, 2, 6, 8, 8)  # the last 8 observed steps, nothing generated
    torch.testing.assert_close(forecast, whole[:, :3])
    assert net.steps_run(40, False) == 8 and net.steps_run(40, True) == 40
    assert script(net).steps_run(5, False) == 5


def test_direct_decoder_reads_the_seasonal_naive() -> None:
    net = direct(context=4, horizon=3, seasons=(6,))
    x = torch.randn(1, 12)
    base = net(x, 3)[0]
    # Changing the value one season before the first target step changes the forecast;
    # the same change to an older value outside the context and the season does not.
    bumped, older = x.clone(), x.clone()
    bumped[0, 12 - 6] += 5.0
    older[0, 0] += 5.0
    assert not torch.allclose(net(bumped, 3)[0], base)
    torch.testing.assert_close(net(older, 3)[0], base)


def test_direct_decoder_limits() -> None:
    net = direct(horizon=4, seasons=(6,))
    with pytest.raises(ValueError, match="beyond the 4 trained"):
        net(torch.randn(1, 10), 5)
    with pytest.raises(ValueError, match="beyond the 4 trained"):
        net.internals(torch.randn(1, 10), 5)
    with pytest.raises(ValueError, match="at least 6 observations"):
        net(torch.randn(1, 5), 1)
    assert net.config.min_history == 6


def test_scan_matches_loop_and_does_not_overflow() -> None:
    torch.manual_seed(0)
    for steps in (1, 2, 3, 8, 33, 256):
        a = torch.rand(2, steps, 5) * 0.02  # strong forgetting: a cumprod closed form breaks
        b = torch.randn(2, steps, 5)
        state, expected = torch.zeros(2, 5), []
        for t in range(steps):
            state = a[:, t] * state + b[:, t]
            expected.append(state)
        got = linear_scan(a, b, dim=1)
        torch.testing.assert_close(got, torch.stack(expected, dim=1), atol=1e-6, rtol=0)
        assert torch.isfinite(got).all()


@pytest.mark.parametrize("decoder", ["recursive", "direct"])
@pytest.mark.parametrize(
    ("steps", "horizon", "carried"), [(1, 1, False), (9, 1, True), (700, 4, True)]
)
def test_internals_last_is_the_last_step_of_internals(
    decoder: str, steps: int, horizon: int, carried: bool
) -> None:
    torch.manual_seed(2)
    cfg = NetworkConfig(
        hidden_size=8, num_layers=2, decoder=decoder, context=16, horizon=4, seasons=[]
    )
    scripted = script(GateLSTM(cfg).eval())
    x = torch.randn(3, steps).cumsum(1) + 5.0
    state = (torch.randn(2, 3, 8) * 0.1, torch.randn(2, 3, 8) * 0.1) if carried else (None, None)
    with torch.no_grad():
        full = scripted.internals(x, horizon, *state)
        last = scripted.internals_last(x, horizon, *state)
        plain = scripted(x, horizon, *state)
    assert last[1].shape == (3, 2, 6, 1, 8)
    torch.testing.assert_close(last[1], full[1][:, :, :, -1:], atol=1e-5, rtol=0)
    for got, want in zip(last[:1] + last[2:], full[:1] + full[2:], strict=True):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(last[0], plain[0], atol=1e-4, rtol=1e-5)


def test_a_long_carried_run_goes_in_chunks_with_the_same_result() -> None:
    net = make(16, 2)
    x = torch.randn(2, 3 * RUN_CHUNK + 5).cumsum(1)  # four chunks, the last a short one
    z = (x - x.mean(1, keepdim=True)) / x.std(1, correction=0, keepdim=True)
    h0 = c0 = torch.zeros(2, 2, 16)
    with torch.no_grad():
        top, h, c = net.run_lstm(z, h0, c0)
        out, (h_all, c_all) = net.lstm(z.unsqueeze(-1), (h0, c0))  # one call over every step
    torch.testing.assert_close(top, out[:, -1], atol=1e-5, rtol=0)
    torch.testing.assert_close(h, h_all, atol=1e-5, rtol=0)
    torch.testing.assert_close(c, c_all, atol=1e-5, rtol=0)
