"""Cost of the internals path against the plain forecast, TorchScript and eager.

python -m bench.internals            # T = 16..256, hidden 64, 2 layers, batch 1, 1 thread
"""

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch

from model.export import script, silence_jit_deprecation
from model.network import GateLSTM, NetworkConfig


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    lengths = [16, 32, 64, 128, 256]
    p.add_argument("--steps", type=int, nargs="+", default=lengths, help="sequence lengths T")
    p.add_argument("--hidden", type=int, default=64, help="LSTM units per layer")
    p.add_argument("--layers", type=int, default=2, help="LSTM layers")
    p.add_argument("--batch", type=int, default=1, help="sequences per call")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--calls", type=int, default=300, help="calls per timing round")
    p.add_argument("--rounds", type=int, default=7, help="timing rounds (the median is reported)")
    p.add_argument("--quick", action="store_true", help="few calls, for a smoke run")
    return p


silence_jit_deprecation()


@torch.jit.script
def step_loop(z: torch.Tensor, weights: list[torch.Tensor], hidden: int) -> torch.Tensor:
    """The obvious internals: one step at a time, gates by matrix products (for comparison)."""
    b, t = z.size(0), z.size(1)
    layers = len(weights) // 4
    h = [torch.zeros(b, hidden) for _ in range(layers)]
    c = [torch.zeros(b, hidden) for _ in range(layers)]
    frames: list[torch.Tensor] = []
    for step in range(t):
        inp = z[:, step : step + 1]
        for k in range(layers):
            w_ih, w_hh, b_ih, b_hh = weights[4 * k : 4 * k + 4]
            pre = inp @ w_ih.t() + h[k] @ w_hh.t() + b_ih + b_hh
            i, f, g, o = pre.chunk(4, 1)
            i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
            c[k] = f * c[k] + i * g
            h[k] = o * c[k].tanh()
            frames.append(torch.stack([i, f, g, o, c[k], h[k]], 1))
            inp = h[k]
    return torch.stack(frames, 2)


def timed(fn: Callable[[], object], calls: int, rounds: int) -> float:
    """Median over rounds of the mean microseconds per call, after a warm-up."""
    for _ in range(max(20, calls // 10)):
        fn()
    per_round = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        per_round.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(per_round)


def main(argv: list[str] | None = None) -> None:
    """Print a markdown table of microseconds per call and internals/plain ratios."""
    args = build_parser().parse_args(argv)
    calls, rounds = (30, 3) if args.quick else (args.calls, args.rounds)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # A context as long as the longest sequence: the network runs over every step sent.
    cfg = NetworkConfig(hidden_size=args.hidden, num_layers=args.layers, context=max(args.steps))
    eager = GateLSTM(cfg).eval()
    scripted = script(eager)
    print(
        f"hidden {args.hidden}, layers {args.layers}, batch {args.batch}, "
        f"threads {args.threads}, torch {torch.__version__}; microseconds per call "
        f"(median of {rounds} rounds x {calls} calls)\n"
    )
    columns = ["T", "plain (TS)", "internals (TS)", "ratio (TS)", "plain (eager)"]
    columns += ["internals (eager)", "ratio (eager)", "step loop (TS)", "ratio"]
    print("| " + " | ".join(columns) + " |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    weights = [w.detach() for w in eager.weights()]
    worst = 0.0
    with torch.inference_mode():
        for steps in args.steps:
            x = torch.randn(args.batch, steps).cumsum(1)
            row = []
            for net in (scripted, eager):
                plain = timed(partial(net, x, 1), calls, rounds)
                inside = timed(partial(net.internals, x, 1), calls, rounds)
                row += [plain, inside, inside / plain]
            loop = timed(partial(step_loop, x, weights, args.hidden), calls, rounds)
            row += [loop, loop / row[0]]
            worst = max(worst, row[2])
            cells = [f"**{v:.2f}x**" if k in (2, 5, 7) else f"{v:.0f}" for k, v in enumerate(row)]
            print(f"| {steps} | " + " | ".join(cells) + " |")
    verdict = "meets" if worst <= 2.0 else "MISSES"
    print(f"\nworst TorchScript ratio {worst:.2f}x: {verdict} the 2x target")


if __name__ == "__main__":
    main()
