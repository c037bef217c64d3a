"""The model's exogenous inputs from loaded series: calendar inputs and covariates.

The calendar inputs come from model.calendar, the one function the service calls too;
this module only picks the recipe that fits the data's frequency and lays the inputs out
as the network reads them (model.network.NetworkConfig.exog_names).
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from pandas.tseries.frequencies import to_offset

from model.calendar import calendar_features, recipe
from model.network import NetworkConfig
from scripts.pipeline.csv_series import DataConfig, DataError, Series

DAY = pd.Timedelta(days=1)


def calendar_kind(freq: str | None) -> str | None:
    """The model.calendar RECIPES key that fits a pandas frequency; None when none does."""
    try:
        off = to_offset(freq) if freq else None
    except ValueError:
        return None
    if off is None:
        return None
    code = off.rule_code.split("-")[0]
    if code in ("D", "B", "C") and off.n == 1:
        return "daily"
    if isinstance(off, pd.offsets.Tick):
        step = pd.Timedelta(off)
        return "sub_daily" if step < DAY else "daily" if step == DAY else None
    if code == "W":
        return "weekly"
    kinds = {"M": "monthly", "Q": "quarterly", "Y": "yearly", "A": "yearly"}
    return kinds.get(code.lstrip("BC")[:1])


def calendar_names(series: list[Series], freq: str | None, enabled: bool) -> list[str]:
    """The calendar inputs a model of these series gets: the frequency's recipe when every
    series has timestamps and calendar inputs are enabled, else none."""
    if not enabled or any(s.wall is None for s in series):
        return []
    kind = calendar_kind(freq)
    return recipe(kind) if kind else []


def with_inputs(
    net: NetworkConfig, series: list[Series], data: DataConfig, calendar: list[str]
) -> NetworkConfig:
    """The network config with its exogenous inputs and, for an embedding, its series ids."""
    ids = [s.name for s in series] if net.series_embedding else []
    return replace(
        net,
        calendar=calendar,
        past_covariates=list(data.past_covariates),
        future_covariates=list(data.future_covariates),
        series=ids,
    )


def exog_matrix(s: Series, net: NetworkConfig) -> np.ndarray:
    """One series' raw exogenous inputs, one row per step, in exog_names order: (n, E)."""
    columns = []
    if net.calendar:
        if s.wall is None:
            raise DataError(f"series {s.name!r} has no timestamps for calendar inputs")
        columns.append(calendar_features(torch.from_numpy(s.wall), net.calendar).numpy())
    for name in [*net.past_covariates, *net.future_covariates]:
        columns.append(s.covariates[name].astype(np.float32)[:, None])
    if not columns:
        return np.zeros((len(s.values), 0), dtype=np.float32)
    return np.concatenate(columns, axis=1).astype(np.float32)


def exog_stats(
    matrices: list[np.ndarray], parts: list[int], net: NetworkConfig
) -> tuple[list[float], list[float]]:
    """Mean and spread of each exogenous input over the first parts[k] rows of each series'
    matrix (its training part); calendar inputs keep 0 and 1, as they are already scaled."""
    rows = np.concatenate([m[:n] for m, n in zip(matrices, parts, strict=True)]).astype(float)
    loc = [0.0] * len(net.calendar)
    scale = [1.0] * len(net.calendar)
    covariates = rows[:, len(net.calendar) :]
    loc += [float(v) for v in covariates.mean(axis=0)] if len(rows) else []
    scale += [float(v) for v in covariates.std(axis=0)] if len(rows) else []
    if len(loc) != len(net.exog_names):  # no training rows: unscaled covariates
        loc, scale = [0.0] * len(net.exog_names), [1.0] * len(net.exog_names)
    return loc, scale
