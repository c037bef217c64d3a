"""Write the tutorial article's hand-set LSTM cell as an ordinary checkpoint.

python -m scripts.article_cell --model-dir models
"""

import argparse
import datetime as dt
import platform
import sys

import lightning
import torch

from model.article import ARTICLE_COLOURS, ARTICLE_WEIGHTS, article_cell
from model.export import check_name, save
from model.intervals import PROBS
from scripts.pipeline.flags import command_parser


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = command_parser(
        "gatecast-article-cell",
        "Write the article's one-unit LSTM (hand-set weights, no head, no scaling) "
        "to MODEL_DIR/NAME/VERSION.pt so the service can replay its worked example.",
    )
    p.add_argument("--model-dir", default="models", help="checkpoint root folder")
    p.add_argument("--name", default="article-cell", help="model name (letters, digits, _ . -)")
    return p


def meta() -> dict[str, object]:
    """meta.json for a model that was set by hand, not trained."""
    net = article_cell()
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "network": net.config.to_dict(),
        "normalization": {"mode": "none", "loc": 0.0, "scale": 1.0},
        "window": 1,
        "horizon": 1,
        "decoder": "recursive",
        "min_history": 1,
        "frequency": None,
        "season": 1,
        "series": [],
        "data": None,
        "training": None,
        "metrics": {},
        "residual_quantiles": {"probs": list(PROBS), "steps": [], "count": 0, "space": "scaled"},
        "article": {
            "weights": {
                k: dict(zip(("short_term", "input", "bias"), v, strict=True))
                for k, v in ARTICLE_WEIGHTS.items()
            },
            "colours": ARTICLE_COLOURS,
            "example": {"long_term_memory": 2.0, "short_term_memory": 1.0, "input": 1.0},
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "lightning": lightning.__version__,
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Write the checkpoint; exit 2 with one line on a bad name or folder."""
    args = build_parser().parse_args(argv)
    try:
        path = save(article_cell(), meta(), args.model_dir, check_name(args.name))
    except (ValueError, OSError) as err:
        print(f"gatecast-article-cell: error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
