"""What is in the model folder: every name and version, loaded, not kept or failed."""

from typing import Any

from flask import Blueprint, Response

from service.checkpoint import LoadedModel
from service.checkpoint_meta import CheckpointMeta
from service.errors import ApiError, json_response
from service.schemas import ModelInfo, ModelList, VersionInfo
from service.snapshot import Entry, Failed, Snapshot
from service.state import get_state

bp = Blueprint("models", __name__)


def meta_fields(meta: CheckpointMeta) -> dict[str, Any]:
    """The descriptive fields of VersionInfo from a validated meta.json."""
    net = meta.network
    return {
        "features": {
            "calendar": list(net.calendar or []),
            "past_covariates": list(net.past_covariates or []),
            "future_covariates": list(net.future_covariates or []),
            "series": list(net.series or []) if net.series_embedding else None,
        },
        "created_at": meta.created_at,
        "window": meta.window,
        "horizon": meta.horizon,
        "decoder": meta.decoder or "recursive",
        "min_history": meta.min_history or 1,
        "hidden_size": meta.network.hidden_size,
        "layers": meta.network.num_layers,
        "normalization": meta.normalization.mode,
        "frequency": meta.frequency,
        "intervals": meta.has_intervals,
        "metrics": meta.metrics,
    }


def version_info(entry: Entry, latest: str | None) -> VersionInfo:
    """One version's listing."""
    base: dict[str, Any] = {"version": entry.version, "latest": entry.version == latest}
    if isinstance(entry, LoadedModel):
        return VersionInfo(
            status="loaded", loaded_at=entry.loaded_at, **base, **meta_fields(entry.meta)
        )
    if isinstance(entry, Failed):
        return VersionInfo(status="failed", reason=entry.reason, failed_at=entry.failed_at, **base)
    return VersionInfo(status="not_kept", reason=entry.reason, **base)


def model_info(snap: Snapshot, name: str) -> ModelInfo:
    """One name's listing, versions newest first."""
    model = snap.latest.get(name)
    latest = model.version if model is not None else None
    versions = [version_info(e, latest) for e in snap.versions[name].values()]
    return ModelInfo(
        name=name, status="loaded" if model else "failed", latest=latest, versions=versions
    )


def unlistable_info(failed: Failed) -> ModelInfo:
    """A model whose folder cannot be listed: failed, no versions, and why."""
    return ModelInfo(
        name=failed.name, status="failed", latest=None, versions=[], reason=failed.reason
    )


@bp.get("/models")
def list_models() -> Response:
    """Every model and version, and model folders that cannot be listed."""
    snap = get_state().registry.snapshot
    infos = [model_info(snap, name) for name in snap.versions]
    infos += [unlistable_info(failed) for failed in snap.unlistable.values()]
    listing = ModelList(models=sorted(infos, key=lambda info: info.name))
    return json_response(listing.model_dump(mode="json"))


@bp.get("/models/<name>")
def show_model(name: str) -> Response:
    """One model; the name is only looked up in memory."""
    snap = get_state().registry.snapshot
    if name in snap.unlistable:
        return json_response(unlistable_info(snap.unlistable[name]).model_dump(mode="json"))
    if name not in snap.versions:
        raise ApiError(404, "unknown_model", f"no model named {name!r}", "name")
    return json_response(model_info(snap, name).model_dump(mode="json"))
