"""The gatecast network: a fused-LSTM forecaster whose gates can be read out at full speed."""

from dataclasses import asdict, dataclass, field
from typing import Any, Final

import torch
from torch import Tensor, nn

from model.scan import linear_scan

NORMALIZATIONS = ("none", "global", "window")
DECODERS = ("direct", "recursive")

# Steps per call of the fused LSTM when only its final state is needed: a long carried
# sequence then never holds more than (B, RUN_CHUNK, H) outputs per layer at once.
RUN_CHUNK = 512

# Order of the quantities in the internals tensor's third dimension.
QUANTITIES = ("input_gate", "forget_gate", "candidate", "output_gate", "cell_state", "hidden_state")


@dataclass
class NetworkConfig:
    """Shape, decoder and scaling of the forecaster; documented fields are training flags."""

    hidden_size: int = field(
        default=64, metadata={"flag": "--hidden", "help": "LSTM units per layer"}
    )
    num_layers: int = field(default=2, metadata={"flag": "--layers", "help": "stacked LSTM layers"})
    dropout: float = field(default=0.0, metadata={"help": "dropout between LSTM layers"})
    normalization: str = field(
        default="window",
        metadata={
            "choices": NORMALIZATIONS,
            "help": "input scaling inside the model: none, global (training statistics) "
            "or window (each input window by its own mean and spread)",
        },
    )
    decoder: str = field(
        default="direct",
        metadata={
            "choices": DECODERS,
            "help": "direct: the last hidden state (with the last value and the seasonal-naive "
            "values) gives every horizon step at once; recursive: one step, fed back",
        },
    )
    series_embedding: int = field(
        default=0,
        metadata={
            "flag": "--series-embedding",
            "help": "size of a learned per-series embedding fed to the LSTM at every step, a "
            "static covariate for global models over many series (0: none)",
        },
    )
    calendar: list[str] = field(default_factory=list)  # calendar inputs (model.calendar)
    past_covariates: list[str] = field(default_factory=list)  # known up to the last value
    future_covariates: list[str] = field(default_factory=list)  # known over the horizon too
    series: list[str] = field(default_factory=list)  # the series ids the embedding knows
    context: int = 24  # steps the LSTM runs over when no state is carried in
    horizon: int = 1  # steps the direct decoder emits
    seasons: list[int] = field(default_factory=list)  # their seasonal naives feed the decoder
    head: bool = True  # False: the forecast is the top layer's hidden state (hidden_size 1)
    scale_floor: float = 1e-6  # absolute floor on the scale, so flat windows do not divide by 0
    scale_floor_rel: float = 1e-4  # plus this fraction of |mean|, so float noise is not amplified

    def __post_init__(self) -> None:
        if self.hidden_size < 1 or self.num_layers < 1:
            raise ValueError("hidden_size and num_layers must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}")
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}")
        if self.context < 1 or self.horizon < 1 or any(s < 1 for s in self.seasons):
            raise ValueError("context, horizon and seasons must be at least 1")
        if self.series_embedding < 0:
            raise ValueError("series_embedding must not be negative")
        names = [*self.calendar, *self.past_covariates, *self.future_covariates]
        if len(set(names)) != len(names):
            raise ValueError("calendar inputs and covariates need distinct names")
        if not self.head and (self.hidden_size != 1 or self.decoder != "recursive"):
            raise ValueError("a model without a head needs hidden_size 1 and the recursive decoder")

    @property
    def min_history(self) -> int:
        """Fewest observations a forecast needs: the longest season the decoder looks back."""
        return max([1, *self.seasons]) if self.decoder == "direct" else 1

    @property
    def exog_names(self) -> list[str]:
        """The exogenous inputs in their order: calendar, past covariates, future ones."""
        return [*self.calendar, *self.past_covariates, *self.future_covariates]

    @property
    def input_names(self) -> list[str]:
        """The LSTM's input vector, element by element."""
        embedding = [f"series_{k}" for k in range(self.series_embedding)]
        return ["value", *self.exog_names, *embedding]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form for checkpoints and hyperparameters."""
        return asdict(self)


def activate(pre: Tensor, dst: Tensor) -> None:
    """Write the four activated gates of pre (N, 4, ...) into dst[:, :4] (N, 6, ...).

    The candidate's tanh is taken as 2 * sigmoid(2x) - 1: the same function to within a
    few float32 ulps, and vectorized sigmoid costs a fraction of tanh on the CPU.
    """
    pre[:, 2].mul_(2.0)
    torch.sigmoid(pre, out=dst[:, :4])
    dst[:, 2].mul_(2.0).sub_(1.0)


class GateLSTM(nn.Module):
    """Forecaster: scaling, fused nn.LSTM, and a direct or recursive decoder.

    Entry points, all on raw values x of shape (B, T): `forward` (forecast, final state and
    scaling), `internals` (the same plus every gate and state of every layer and step the
    LSTM ran over), `step_inputs` (the input vector of those steps), `scale` (the
    per-sequence scale, for intervals) and `steps_run`.
    Without a carried state the LSTM runs over the last `context` observations only, the
    span it was trained on; the direct decoder also reads the last value and, per season,
    the seasonal-naive values from the whole history.

    Exogenous inputs exog (B, T + horizon, E), raw, in exog_names order, are optional: the
    calendar inputs, past covariates (read at the observed steps only; generated steps
    carry the last observed value forward) and future covariates (every step). They are
    scaled by the training statistics held in the checkpoint. Each LSTM step reads
    [value, exog of that step, series embedding]; the direct decoder adds, per horizon
    step, a learned linear term of that step's calendar inputs and future covariates.
    Absent exog or series count as the scaled zero: the training mean of a covariate, the
    centre of a calendar cycle, the zero embedding.
    """

    global_loc: Tensor
    global_scale: Tensor
    exog_loc: Tensor
    exog_scale: Tensor
    future_weight: Tensor  # (S, K): a parameter, or an empty buffer (learned)
    series_vectors: Tensor  # (series, N): likewise
    norm_mode: Final[int]
    has_head: Final[bool]
    direct: Final[bool]
    hidden_size: Final[int]
    num_layers: Final[int]
    context: Final[int]
    out_steps: Final[int]
    run_chunk: Final[int]
    seasons: list[int]
    floor_abs: Final[float]
    floor_rel: Final[float]
    n_calendar: Final[int]
    n_past: Final[int]
    n_future: Final[int]
    n_exog: Final[int]
    n_embed: Final[int]
    n_features: Final[int]
    n_known: Final[int]

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.norm_mode = NORMALIZATIONS.index(config.normalization)
        self.has_head = config.head
        self.direct = config.decoder == "direct"
        self.hidden_size = config.hidden_size
        self.num_layers = config.num_layers
        self.context = config.context
        self.out_steps = config.horizon if self.direct else 1
        self.run_chunk = RUN_CHUNK
        self.seasons = list(config.seasons) if self.direct else []
        self.floor_abs = config.scale_floor
        self.floor_rel = config.scale_floor_rel
        self.n_calendar = len(config.calendar)
        self.n_past = len(config.past_covariates)
        self.n_future = len(config.future_covariates)
        self.n_exog = self.n_calendar + self.n_past + self.n_future
        self.n_embed = config.series_embedding
        self.n_features = self.n_exog + self.n_embed
        self.n_known = self.n_calendar + self.n_future  # known at the horizon's steps
        if self.n_embed and not config.series:
            raise ValueError("a series embedding needs the series ids it is learned for")
        self.lstm = nn.LSTM(
            input_size=1 + self.n_features,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        # Direct: [last hidden state, last value, seasonal naives] -> every horizon step.
        width = config.hidden_size + (1 + len(self.seasons) * self.out_steps if self.direct else 0)
        self.head = nn.Linear(width, self.out_steps) if config.head else nn.Identity()
        # Training statistics for "global" scaling; set by set_global_stats before training.
        self.register_buffer("global_loc", torch.zeros(()))
        self.register_buffer("global_scale", torch.ones(()))
        # Exogenous inputs' training statistics (calendar inputs: 0 and 1), set_exog_stats.
        self.register_buffer("exog_loc", torch.zeros(self.n_exog))
        self.register_buffer("exog_scale", torch.ones(self.n_exog))
        # Created after the LSTM and the head, and empty without exogenous inputs, so a
        # values-only model's initial weights depend on its seed alone.
        known_steps = self.out_steps if self.direct else 0
        self.learned("future_weight", torch.zeros(known_steps, self.n_known))  # (S, K)
        vectors = torch.zeros(len(config.series) if self.n_embed else 0, self.n_embed)
        if self.n_embed:
            vectors.normal_(0.0, 0.1)
        self.learned("series_vectors", vectors)  # (series, N)

    def learned(self, name: str, value: Tensor) -> None:
        """A learned tensor: a parameter, or a buffer while it is empty, since an empty
        parameter never gets a gradient and DDP refuses parameters that get none."""
        if value.numel():
            self.register_parameter(name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)

    def set_global_stats(self, loc: float, scale: float) -> None:
        """Record the training data's mean and spread for "global" scaling."""
        self.global_loc.fill_(loc)
        self.global_scale.fill_(max(scale, self.floor_abs + self.floor_rel * abs(loc)))

    def set_exog_stats(self, loc: list[float], scale: list[float]) -> None:
        """Record each exogenous input's training mean and spread (exog_names order).

        An input that hardly varied in training (a flag never set) keeps the spread 1, so a
        value it never took is not blown up by a near-zero divisor.
        """
        if len(loc) != self.n_exog or len(scale) != self.n_exog:
            raise ValueError(f"give {self.n_exog} locations and scales")
        floor = [
            s if s > self.floor_abs + self.floor_rel * abs(m) else 1.0
            for m, s in zip(loc, scale, strict=True)
        ]
        self.exog_loc.copy_(torch.tensor(loc, dtype=self.exog_loc.dtype))
        self.exog_scale.copy_(torch.tensor(floor, dtype=self.exog_scale.dtype))

    # -- scaling ---------------------------------------------------------------------------

    @torch.jit.export
    def steps_run(self, t: int, carried: bool) -> int:
        """How many of t observations the LSTM runs over: all of them after a carried state
        (a stream goes on), else the last `context` (the span it was trained on)."""
        return t if carried else min(t, self.context)

    @torch.jit.export
    def stats(
        self, x: Tensor, loc: Tensor | None = None, scale: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Location and scale of each raw sequence: (B, T) -> (B, 1), (B, 1).

        A caller continuing a stream passes the loc and scale (B,) or (B, 1) that its first
        chunk got, so the carried state and the new inputs share one scaled space.
        """
        b = x.size(0)
        if loc is not None and scale is not None:
            return loc.reshape(b, 1).to(x.dtype), scale.reshape(b, 1).to(x.dtype)
        if loc is not None or scale is not None:
            raise ValueError("give both loc and scale, or neither")
        if self.norm_mode == 2:
            spread, loc = torch.std_mean(x, dim=1, correction=0, keepdim=True)  # (B, 1) each
            return loc, torch.maximum(spread, self.floor_abs + self.floor_rel * loc.abs())
        if self.norm_mode == 1:
            return self.global_loc.expand(b, 1), self.global_scale.expand(b, 1)
        return (
            torch.zeros(b, 1, dtype=x.dtype, device=x.device),
            torch.ones(b, 1, dtype=x.dtype, device=x.device),
        )

    @torch.jit.export
    def scale(self, x: Tensor) -> Tensor:
        """Per-sequence scale that maps scaled residuals back to raw units: (B, T) -> (B,)."""
        run = x[:, x.size(1) - self.steps_run(x.size(1), False) :]
        return self.stats(run, None, None)[1].squeeze(1)

    def features(
        self, exog: Tensor | None, series: Tensor | None, t: int, total: int, like: Tensor
    ) -> Tensor:
        """Scaled exogenous inputs and embedding of every step: (B, total, F).

        exog (B, >= total, E) raw, series (B,) int64 ids; t observed steps, after which the
        past covariates carry their last observed value forward.
        """
        b = like.size(0)
        if exog is None:
            scaled = torch.zeros(
                b, total, self.n_exog, dtype=like.dtype, device=like.device
            )  # (B, total, E)
        else:
            if exog.dim() != 3 or exog.size(0) != b or exog.size(2) != self.n_exog:
                raise ValueError(f"exog must have shape (B, T + horizon, {self.n_exog})")
            if exog.size(1) < total:
                raise ValueError(f"exog covers {exog.size(1)} steps, {total} are needed")
            scaled = (exog[:, :total].to(like.dtype) - self.exog_loc) / self.exog_scale
            if self.n_past > 0 and total > t:
                lo, hi = self.n_calendar, self.n_calendar + self.n_past
                held = scaled[:, t - 1 : t, lo:hi].expand(b, total - t, hi - lo)  # (B, H, P)
                past = torch.cat([scaled[:, :t, lo:hi], held], dim=1)  # (B, total, P)
                scaled = torch.cat([scaled[:, :, :lo], past, scaled[:, :, hi:]], dim=2)
        if self.n_embed > 0:
            if series is None:
                vec = torch.zeros(b, self.n_embed, dtype=like.dtype, device=like.device)
            else:
                vec = self.series_vectors.index_select(0, series).to(like.dtype)  # (B, N)
            embedded = vec.unsqueeze(1).expand(b, total, self.n_embed)  # (B, total, N)
            scaled = torch.cat([scaled, embedded], dim=2)
        return scaled

    def lstm_input(self, values: Tensor, feats: Tensor) -> Tensor:
        """The LSTM's input vectors: scaled values (B, R) and features (B, R, F) -> (B, R, I)."""
        if self.n_features == 0:
            return values.unsqueeze(-1)
        return torch.cat([values.unsqueeze(-1), feats], dim=2)

    def known_ahead(self, feats: Tensor) -> Tensor:
        """The features known at horizon steps: calendar and future covariates, (B, S, K)."""
        lo = self.n_calendar + self.n_past
        return torch.cat([feats[:, :, : self.n_calendar], feats[:, :, lo : self.n_exog]], dim=2)

    # -- plain path --------------------------------------------------------------------------

    def initial_state(
        self, batch: int, h0: Tensor | None, c0: Tensor | None, like: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Given or zero (h0, c0), each (L, B, H)."""
        shape = [self.num_layers, batch, self.hidden_size]
        h = torch.zeros(shape, dtype=like.dtype, device=like.device) if h0 is None else h0
        c = torch.zeros(shape, dtype=like.dtype, device=like.device) if c0 is None else c0
        if list(h.shape) != shape or list(c.shape) != shape:
            raise ValueError(f"initial state must have shape {shape}")
        return h, c

    def prepare(
        self,
        x: Tensor,
        h0: Tensor | None = None,
        c0: Tensor | None = None,
        loc: Tensor | None = None,
        scale: Tensor | None = None,
    ) -> tuple[Tensor, int, Tensor, Tensor, Tensor, Tensor]:
        """Raw x (B, T) -> scaled z (B, T), the steps the LSTM runs over (the last R of z),
        the loc and scale (B, 1) of those steps, and the initial h, c (L, B, H)."""
        t = x.size(1)
        if t < 1:
            raise ValueError("give at least one observation")
        run = self.steps_run(t, h0 is not None)
        mu, sigma = self.stats(x[:, t - run :], loc, scale)  # (B, 1)
        h, c = self.initial_state(x.size(0), h0, c0, x)
        return (x - mu) / sigma, run, mu, sigma, h, c

    def run_lstm(self, seen: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The fused LSTM over inputs seen (B, R, I), or scaled values (B, R), from state
        h, c (L, B, H): the top layer's last hidden state (B, H) and the final state
        (L, B, H) of every layer.

        Runs RUN_CHUNK steps per call, carrying the state, so memory stays (B, RUN_CHUNK, H)
        whatever R is; a training window is one chunk, so training is unaffected.
        """
        if seen.dim() == 2:
            seen = seen.unsqueeze(-1)  # (B, R, 1)
        r = seen.size(1)
        top = h[-1]
        for start in range(0, r, self.run_chunk):
            part = seen[:, start : start + self.run_chunk]  # (B, <=RUN_CHUNK, I)
            out, (h, c) = self.lstm(part, (h, c))  # out (B, <=RUN_CHUNK, H)
            top = out[:, -1]
        return top, h, c

    def readout(self, top: Tensor) -> Tensor:
        """Recursive decoder: scaled next value from the top hidden state: (B, H) -> (B, 1)."""
        return self.head(top) if self.has_head else top

    def decode(self, top: Tensor, z: Tensor, ahead: Tensor | None = None) -> Tensor:
        """Direct decoder: scaled horizon steps from the top hidden state (B, H), the scaled
        history z (B, T) (its last value and each season's naive forecast) and, given the
        features of the first S steps ahead (B, S, F), their known-ahead term: (B, S), or
        every trained step without `ahead`."""
        t = z.size(1)
        parts = [top, z[:, t - 1 :]]  # (B, H), (B, 1)
        steps = torch.arange(1, self.out_steps + 1, device=z.device)  # (S,)
        for season in self.seasons:
            if t < season:
                raise ValueError(f"this model needs at least {season} observations")
            # The value one season (or as many as it takes) before each target step.
            back = season * torch.div(steps + season - 1, season, rounding_mode="floor")
            parts.append(z.index_select(1, t - 1 + steps - back))  # (B, S)
        out = self.head(torch.cat(parts, dim=1))  # (B, S)
        if ahead is None:
            return out
        s = ahead.size(1)
        out = out[:, :s]
        if self.n_known > 0:
            known = self.known_ahead(ahead)  # (B, S, K)
            out = out + (known * self.future_weight[:s]).sum(dim=2)  # (B, S)
        return out

    def forward_scaled(
        self,
        z: Tensor,
        run: int,
        horizon: int,
        h0: Tensor,
        c0: Tensor,
        feats: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Scaled forecast (B, horizon) from scaled history z (B, T) whose last `run` steps
        the LSTM reads, and the state hT, cT (L, B, H) after them; feats (B, T + horizon, F)
        from `features` (absent: the scaled zero)."""
        t = z.size(1)
        if feats is None:
            feats = self.features(None, None, t, t + horizon, z)
        seen = self.lstm_input(z[:, t - run :], feats[:, t - run : t])  # (B, R, I)
        top, h, c = self.run_lstm(seen, h0, c0)  # (B, H), (L, B, H)
        if self.direct:
            if horizon > self.out_steps:
                raise ValueError(f"horizon {horizon} is beyond the {self.out_steps} trained")
            return self.decode(top, z, feats[:, t : t + horizon]), h, c
        h_obs, c_obs = h, c  # the state after the observed inputs is the one we hand back
        step = self.readout(top)  # (B, 1)
        preds = [step]
        for s in range(horizon - 1):
            inp = self.lstm_input(step, feats[:, t + s : t + s + 1])  # (B, 1, I)
            out, (h, c) = self.lstm(inp, (h, c))  # (B, 1, H)
            step = self.readout(out[:, -1])
            preds.append(step)
        return torch.cat(preds, dim=1), h_obs, c_obs  # (B, horizon)

    def forward(
        self,
        x: Tensor,
        horizon: int = 1,
        h0: Tensor | None = None,
        c0: Tensor | None = None,
        loc: Tensor | None = None,
        scale: Tensor | None = None,
        exog: Tensor | None = None,
        series: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Forecast `horizon` raw values for raw x (B, T), the state after x (L, B, H) and
        the loc and scale (B, 1) that x was scaled by.

        loc and scale (B,), optional: the scaling to use instead of x's own (see stats).
        exog (B, T + horizon, E) raw and series (B,) int64: see the class docstring.
        """
        if horizon < 1:
            raise ValueError("horizon must be at least 1")
        z, run, mu, sigma, h, c = self.prepare(x, h0, c0, loc, scale)
        feats = self.features(exog, series, x.size(1), x.size(1) + horizon, z)
        pred, h_t, c_t = self.forward_scaled(z, run, horizon, h, c, feats)
        return pred * sigma + mu, h_t, c_t, mu, sigma

    @torch.jit.export
    def step_inputs(
        self,
        x: Tensor,
        forecast: Tensor,
        run: int,
        loc: Tensor,
        scale: Tensor,
        exog: Tensor | None = None,
        series: Tensor | None = None,
    ) -> Tensor:
        """The LSTM's input vector at every step internals covers: the `run` observed steps
        of raw x (B, T), then (recursive) the forecast (B, horizon) fed back, scaled by loc
        and scale (B, 1): (B, run + generated, I), in input_names order."""
        t, horizon = x.size(1), forecast.size(1)
        generated = 0 if self.direct else horizon - 1
        values = torch.cat([x[:, t - run :], forecast[:, :generated]], dim=1)  # (B, R + G)
        feats = self.features(exog, series, t, t + horizon, x)  # (B, T + horizon, F)
        return self.lstm_input((values - loc) / scale, feats[:, t - run : t + generated])

    # -- internals path ----------------------------------------------------------------------

    def weights(self) -> list[Tensor]:
        """nn.LSTM's flat parameter list: per layer W_ih (4H, I), W_hh (4H, H), b_ih, b_hh."""
        flat: list[Tensor] = self.lstm._flat_weights  # type: ignore[assignment]
        return flat

    def cell_weights(self) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Per layer, in PyTorch's gate order (input, forget, cell, output): W_ih transposed
        (I, 4H), W_hh transposed (H, 4H) and the summed bias (4H,)."""
        flat = self.weights()
        w_ih_t: list[Tensor] = []
        w_hh_t: list[Tensor] = []
        biases: list[Tensor] = []
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = flat[4 * layer : 4 * layer + 4]
            w_ih_t.append(w_ih.t())
            w_hh_t.append(w_hh.t())
            biases.append(b_ih + b_hh)
        return w_ih_t, w_hh_t, biases

    @torch.jit.export
    def internals(
        self,
        x: Tensor,
        horizon: int = 1,
        h0: Tensor | None = None,
        c0: Tensor | None = None,
        loc: Tensor | None = None,
        scale: Tensor | None = None,
        exog: Tensor | None = None,
        series: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Forecast plus every gate and state of every layer and step the LSTM ran over.

        x (B, T) raw -> forecast (B, horizon) raw, internals (B, L, 6, S, H) in QUANTITIES
        order, the state after x, hT and cT (L, B, H), and the loc and scale (B, 1).
        S covers the R = steps_run(T) observed steps, plus horizon - 1 generated ones with
        the recursive decoder (the direct one feeds nothing back). exog and series: as in
        forward.
        Hidden states come from the fused kernel one layer at a time; the four gates of all
        steps are then one batched product, and the cell states one log-depth scan of
        c_t = f_t * c_(t-1) + i_t * g_t, so no Python-level step loop runs over the input.
        """
        with torch.no_grad():  # a read-out, never trained through; out= needs no autograd
            return self._internals(x, horizon, h0, c0, loc, scale, exog, series)

    @torch.jit.export
    def internals_last(
        self,
        x: Tensor,
        horizon: int = 1,
        h0: Tensor | None = None,
        c0: Tensor | None = None,
        loc: Tensor | None = None,
        scale: Tensor | None = None,
        exog: Tensor | None = None,
        series: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """internals, keeping only the last step: internals (B, L, 6, 1, H).

        The last step is the last the LSTM ran: the last observed one, or with the recursive
        decoder the last generated one. Every earlier observed step goes through the fused
        LSTM in chunks (as in forward) and nothing of it is kept, so the cost is forward's
        plus one cell step per layer and generated step.
        """
        with torch.no_grad():
            return self._internals_last(x, horizon, h0, c0, loc, scale, exog, series)

    def check_horizon(self, horizon: int) -> None:
        """Refuse a horizon below 1, or past the direct decoder's trained one."""
        if horizon < 1:
            raise ValueError("horizon must be at least 1")
        if self.direct and horizon > self.out_steps:
            raise ValueError(f"horizon {horizon} is beyond the {self.out_steps} trained")

    def _internals(
        self,
        x: Tensor,
        horizon: int,
        h0: Tensor | None,
        c0: Tensor | None,
        loc: Tensor | None,
        scale: Tensor | None,
        exog: Tensor | None,
        series: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Body of internals, run without autograd."""
        self.check_horizon(horizon)
        z, t, mu, sigma, h0_, c0_ = self.prepare(x, h0, c0, loc, scale)
        b, observed = x.size(0), x.size(1)
        hs, n_layers = self.hidden_size, self.num_layers
        feats = self.features(exog, series, observed, observed + horizon, z)  # (B, T + h, F)
        inp = self.lstm_input(z[:, observed - t :], feats[:, observed - t : observed])  # (B, R, I)
        generated = 0 if self.direct else horizon - 1
        # Every quantity is written straight into its place in the result (out=), because
        # gathering strided gate slices afterwards costs more than the gates themselves.
        result = torch.empty(b, n_layers, 6, t + generated, hs, dtype=x.dtype, device=x.device)
        seen = result.narrow(3, 0, t)  # (B, L, 6, R, H)
        flat = self.weights()
        weights = self.cell_weights()
        w_ih_t, w_hh_t, biases = weights
        h_last: list[Tensor] = []
        c_last: list[Tensor] = []
        for layer in range(n_layers):
            params = flat[4 * layer : 4 * layer + 4]  # W_ih (4H, I), W_hh (4H, H), b_ih, b_hh
            state = (h0_[layer : layer + 1], c0_[layer : layer + 1])  # (1, B, H)
            out, h_n, c_n = torch.lstm(inp, state, params, True, 1, 0.0, False, False, True)
            # All steps' input terms in one product, then each step's recurrent term from the
            # previous step's hidden state (the initial state for the first step), in place.
            pre = torch.addmm(biases[layer], inp.reshape(b * t, -1), w_ih_t[layer])
            pre = pre.view(b, t, 4 * hs)
            pre[:, 0].addmm_(state[0][0], w_hh_t[layer])
            if t > 1:
                pre[:, 1:].baddbmm_(out[:, :-1], w_hh_t[layer].expand(b, hs, 4 * hs))
            pre = pre.view(b, t, 4, hs).transpose(1, 2)  # (B, 4, R, H)
            dst = seen[:, layer]  # (B, 6, R, H)
            activate(pre, dst)
            dst[:, 5].copy_(out)
            h_last.append(h_n)
            c_last.append(c_n)
            inp = out
        # Fold the initial cell state into the first step, then scan all layers at once.
        written = seen[:, :, 0] * seen[:, :, 2]  # (B, L, R, H)
        written[:, :, 0].addcmul_(seen[:, :, 1, 0], c0_.transpose(0, 1))
        linear_scan(seen[:, :, 1], written, dim=2, out=seen[:, :, 4])
        h_t, c_t = torch.cat(h_last), torch.cat(c_last)  # (L, B, H)
        h_list, c_list = list(h_t.unbind(0)), list(c_t.unbind(0))
        dst = result.narrow(3, t, generated)  # (B, L, 6, horizon - 1 or 0, H)
        pred = self._decode_internals(inp[:, -1], z, feats, horizon, h_list, c_list, dst, weights)
        return pred * sigma + mu, result, h_t, c_t, mu, sigma

    def _internals_last(
        self,
        x: Tensor,
        horizon: int,
        h0: Tensor | None,
        c0: Tensor | None,
        loc: Tensor | None,
        scale: Tensor | None,
        exog: Tensor | None,
        series: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Body of internals_last, run without autograd."""
        self.check_horizon(horizon)
        z, t, mu, sigma, h, c = self.prepare(x, h0, c0, loc, scale)
        observed = x.size(1)
        feats = self.features(exog, series, observed, observed + horizon, z)  # (B, T + h, F)
        seen = self.lstm_input(z[:, observed - t :], feats[:, observed - t : observed])  # (B, R, I)
        if t > 1:
            _, h, c = self.run_lstm(seen[:, : t - 1], h, c)  # the state before the last step
        weights = self.cell_weights()
        result = torch.empty(
            x.size(0), self.num_layers, 6, 1, self.hidden_size, dtype=x.dtype, device=x.device
        )
        slot = result[:, :, :, 0]  # (B, L, 6, H)
        h_list, c_list = list(h.unbind(0)), list(c.unbind(0))
        top = self._cell_step(seen[:, t - 1], h_list, c_list, slot, weights)  # (B, H)
        h_t, c_t = torch.stack(h_list), torch.stack(c_list)  # (L, B, H), copies of the slot
        # Each generated step overwrites the one slot: the last one stays.
        pred = self._decode_internals(top, z, feats, horizon, h_list, c_list, result, weights)
        return pred * sigma + mu, result, h_t, c_t, mu, sigma

    def _decode_internals(
        self,
        top: Tensor,
        z: Tensor,
        feats: Tensor,
        horizon: int,
        h_list: list[Tensor],
        c_list: list[Tensor],
        dst: Tensor,
        weights: tuple[list[Tensor], list[Tensor], list[Tensor]],
    ) -> Tensor:
        """Scaled forecast (B, horizon) from the top hidden state (B, H), the scaled history
        z (B, T) and the features feats (B, T + horizon, F): the direct decoder, or the
        recursive one generating horizon - 1 steps from the state h_list, c_list and writing
        their quantities into dst (see _generate)."""
        t = z.size(1)
        if self.direct:
            return self.decode(top, z, feats[:, t : t + horizon])
        step = self.readout(top)  # (B, 1)
        preds = [step]
        if horizon > 1:
            ahead = feats[:, t : t + horizon - 1]  # (B, horizon - 1, F)
            self._generate(step, ahead, h_list, c_list, dst, horizon - 1, preds, weights)
        return torch.cat(preds, dim=1)

    def _cell_step(
        self,
        inp: Tensor,
        h_list: list[Tensor],
        c_list: list[Tensor],
        dst: Tensor,
        weights: tuple[list[Tensor], list[Tensor], list[Tensor]],
    ) -> Tensor:
        """One step of every layer: input inp (B, I), state h_list and c_list (per layer
        (B, H), replaced by the new state); writes the step's quantities into dst
        (B, L, 6, H) and returns the top layer's hidden state (B, H)."""
        hs = self.hidden_size
        w_ih_t, w_hh_t, biases = weights
        for layer in range(self.num_layers):
            q = dst[:, layer]  # (B, 6, H)
            pre = torch.addmm(biases[layer], inp, w_ih_t[layer])  # (B, 4H)
            pre = pre.addmm_(h_list[layer], w_hh_t[layer]).view(-1, 4, hs)  # (B, 4, H)
            activate(pre, q)
            # The previous cell state may be this slot itself (generation into one slot):
            # read element by element before it is written, which addcmul's out= allows.
            torch.addcmul(q[:, 0] * q[:, 2], q[:, 1], c_list[layer], out=q[:, 4])
            torch.mul(q[:, 3], q[:, 4].tanh(), out=q[:, 5])
            h_list[layer], c_list[layer] = q[:, 5], q[:, 4]
            inp = q[:, 5]
        return inp

    def _generate(
        self,
        step: Tensor,
        ahead: Tensor,
        h_list: list[Tensor],
        c_list: list[Tensor],
        dst: Tensor,
        steps: int,
        preds: list[Tensor],
        weights: tuple[list[Tensor], list[Tensor], list[Tensor]],
    ) -> None:
        """Feed predictions back `steps` times, appending each scaled prediction to preds.

        step (B, 1) scaled, ahead (B, steps, F) the features each generated step reads,
        h_list and c_list per layer (B, H); generated step s writes its
        quantities into dst (B, L, 6, S, H) at slot s % S, so S = steps keeps every step and
        S = 1 only the last.
        """
        for s in range(steps):
            inp = self.lstm_input(step, ahead[:, s : s + 1])[:, 0]  # (B, I)
            top = self._cell_step(inp, h_list, c_list, dst[:, :, :, s % dst.size(3)], weights)
            step = self.readout(top)
            preds.append(step)
