"""What is in the model folder: every name and version, loaded, available or failed."""

from typing import Any

from flask import Blueprint, Response

from service.checkpoint import LoadedModel, has_intervals
from service.errors import ApiError, json_response
from service.registry import Registry
from service.schemas import ModelInfo, ModelList, VersionInfo
from service.snapshot import Available, Entry, Failed, Snapshot
from service.state import get_state

bp = Blueprint("models", __name__)


def meta_fields(meta: dict[str, Any] | None) -> dict[str, Any]:
    """The descriptive fields of VersionInfo from a meta.json (all None without one)."""
    if meta is None:
        return {}
    net = meta.get("network", {})
    norm = meta.get("normalization", {})
    return {
        "created_at": meta.get("created_at"),
        "window": meta.get("window"),
        "horizon": meta.get("horizon"),
        "hidden_size": net.get("hidden_size"),
        "layers": net.get("num_layers"),
        "normalization": norm.get("mode", net.get("normalization")),
        "frequency": meta.get("frequency"),
        "intervals": has_intervals(meta),
        "metrics": meta.get("metrics"),
    }


def version_info(registry: Registry, entry: Entry, latest: str | None) -> VersionInfo:
    """One version's listing."""
    shown = registry.loaded_or_failed(entry)
    base: dict[str, Any] = {"version": entry.version, "latest": entry.version == latest}
    if isinstance(shown, LoadedModel):
        return VersionInfo(
            status="loaded", loaded_at=shown.loaded_at, **base, **meta_fields(shown.meta)
        )
    if isinstance(shown, Failed):
        return VersionInfo(status="failed", reason=shown.reason, failed_at=shown.failed_at, **base)
    meta = entry.meta if isinstance(entry, Available) else None
    return VersionInfo(status="available", **base, **meta_fields(meta))


def model_info(registry: Registry, snap: Snapshot, name: str) -> ModelInfo:
    """One name's listing, versions newest first."""
    model = snap.latest.get(name)
    latest = model.version if model is not None else None
    versions = [version_info(registry, e, latest) for e in snap.versions[name].values()]
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
    registry = get_state().registry
    snap = registry.snapshot
    infos = [model_info(registry, snap, name) for name in snap.versions]
    infos += [unlistable_info(failed) for failed in snap.unlistable.values()]
    listing = ModelList(models=sorted(infos, key=lambda info: info.name))
    return json_response(listing.model_dump(mode="json"))


@bp.get("/models/<name>")
def show_model(name: str) -> Response:
    """One model; the name is only looked up in memory."""
    registry = get_state().registry
    snap = registry.snapshot
    if name in snap.unlistable:
        return json_response(unlistable_info(snap.unlistable[name]).model_dump(mode="json"))
    if name not in snap.versions:
        raise ApiError(404, "unknown_model", f"no model named {name!r}", "name")
    return json_response(model_info(registry, snap, name).model_dump(mode="json"))
