"""Choose the served version of each model: list, promote, roll back (its served.json).

gatecast-models list [NAME]
gatecast-models promote NAME VERSION [--note TEXT]
gatecast-models rollback NAME [--note TEXT]

A version is checked as the service would load it (opened, meta.json validated, a trial
run) before it is promoted; the running service serves the change within one scan.
"""

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from model import served
from model.export import check_name, check_version
from model.served import NEWEST, ServedState, StateError
from scripts.pipeline.evaluate import format_table
from scripts.pipeline.flags import command_parser
from service.checkpoint import CheckpointError, LoadedModel, load_checkpoint
from service.config import ServiceConfig
from service.model_folder import Found, list_folder

SCORES = (("mae", "MAE"), ("rmse", "RMSE"), ("smape", "sMAPE"), ("mase", "MASE"))
MAX_NOTE = 200  # characters: a note is shown in /models and in one-line logs


class CommandError(Exception):
    """Bad input: reported in one line, exit 2."""


@dataclass(frozen=True)
class Version:
    """One checkpoint file as the service sees it: its loaded model, or why it cannot load."""

    version: str
    model: LoadedModel | None
    problem: str | None


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand each for list, promote and rollback."""
    p = command_parser(
        "gatecast-models",
        "List each model's versions with their validation scores and which one is served, "
        "promote a version, or roll back to the one served before. The choice is kept in "
        "MODEL_DIR/NAME/served.json, which the running service reads within "
        "GATECAST_POLL_SECONDS.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--model-dir",
        help="checkpoint root folder (default: GATECAST_MODEL_DIR, else models)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    formatter = argparse.ArgumentDefaultsHelpFormatter
    listing = sub.add_parser(
        "list",
        parents=[common],
        formatter_class=formatter,
        help="versions with their validation scores, and which is served and why",
    )
    listing.add_argument("name", nargs="?", help="one model (default: every model)")
    promote = sub.add_parser(
        "promote", parents=[common], formatter_class=formatter, help="serve VERSION of NAME"
    )
    promote.add_argument("name", help="model name")
    promote.add_argument("version", help="the version to serve, e.g. 20261130T224005123456Z")
    promote.add_argument("--note", help="why; kept in the history and shown on /models")
    rollback = sub.add_parser(
        "rollback",
        parents=[common],
        formatter_class=formatter,
        help="serve the version that was served before the current one",
    )
    rollback.add_argument("name", help="model name")
    rollback.add_argument("--note", help="why; kept in the history and shown on /models")
    return p


def check_note(note: str | None) -> str | None:
    """A note is one line of at most MAX_NOTE characters (None: no note)."""
    if note is not None and (len(note) > MAX_NOTE or not note.isprintable()):
        raise CommandError(f"--note: one printable line of at most {MAX_NOTE} characters")
    return note


def settings(args: argparse.Namespace) -> tuple[Path, str]:
    """The model folder and the serving policy, as the service reads them from GATECAST_*."""
    env = {var: os.environ.get(var, "") for var in ("GATECAST_MODEL_DIR", "GATECAST_SERVE")}
    cfg = ServiceConfig.from_env(env)  # ConfigError names a bad value
    return Path(args.model_dir or cfg.model_dir), cfg.serve


def scan(root: Path, name: str) -> list[Found]:
    """One model's checkpoint files, newest first; raises CommandError if there is none."""
    check_name(name)
    try:
        listing = list_folder(root)
    except OSError as err:
        raise CommandError(f"cannot list the model folder {root}: {err}") from None
    if name in listing.unlistable:
        raise CommandError(f"model {name!r}: {listing.unlistable[name]}")
    if name not in listing.models:
        raise CommandError(f"no model named {name!r} in {root}")
    return listing.models[name]


def load(name: str, found: Found) -> Version:
    """Load one version as the service would, or say why it cannot be served."""
    if found.problem is not None or found.stamp is None:
        return Version(found.version, None, found.problem or "it cannot be read")
    try:
        model = load_checkpoint(found.path, name, found.version, found.stamp)
    except CheckpointError as err:
        return Version(found.version, None, str(err))
    return Version(found.version, model, None)


def servable(name: str, found: list[Found], version: str) -> None:
    """Raise CommandError unless `version` of `name` exists and loads."""
    entry = next((f for f in found if f.version == version), None)
    if entry is None:
        raise CommandError(f"model {name!r} has no version {version!r}")
    problem = load(name, entry).problem
    if problem is not None:
        raise CommandError(f"version {version} of {name!r} cannot be served: {problem}")


def read_state(folder: Path) -> ServedState | None:
    """The model's served.json; CommandError if it cannot be read (never overwritten then)."""
    try:
        return served.read(folder)
    except StateError as err:
        raise CommandError(f"model {folder.name!r}: {err}; fix or remove it") from None


def write_state(folder: Path, state: ServedState) -> None:
    """Replace served.json atomically; CommandError if the folder cannot be written."""
    try:
        served.write(folder, state)
    except OSError as err:
        raise CommandError(f"cannot write {folder / served.STATE_FILE}: {err.strerror}") from None


def score(value: float | None) -> str:
    """A validation score for the table."""
    return "-" if value is None else f"{value:.4g}"


def describe(root: Path, name: str, policy: str) -> str:
    """One model: what is served and why, then every version with its scores."""
    versions = [load(name, f) for f in scan(root, name)]
    loaded = [v.version for v in versions if v.model is not None]
    problems = {v.version: v.problem or "" for v in versions if v.model is None}
    try:
        state = None if policy == NEWEST else served.read(root / name)
    except StateError as err:
        head = f"{name}: {err}; the service keeps serving the version it served"
        return f"{head}\n{table(versions, None)}"
    chosen, reason = served.choose(policy, state, loaded, problems)
    head = f"{name}: serving {chosen or 'nothing'} ({reason})"
    if state is not None and state.previous:
        head += f"; rollback goes to {state.previous[0]}"
    return f"{head}\n{table(versions, chosen)}"


def table(versions: list[Version], chosen: str | None) -> str:
    """The versions, newest first, with their validation scores (one-step, from meta.json)."""
    rows = [["served", "version", "created", *(label for _, label in SCORES), "status"]]
    for v in versions:
        meta = v.model.meta if v.model is not None else None
        scores = meta.metrics.get("model", {}) if meta is not None else {}
        rows.append(
            [
                "*" if v.version == chosen else "",
                v.version,
                (meta.created_at or "-")[:19] if meta is not None else "-",
                *(score(scores.get(key)) for key, _ in SCORES),
                "loads" if v.problem is None else f"cannot load: {v.problem}",
            ]
        )
    return format_table(rows)


def run_list(args: argparse.Namespace, root: Path, policy: str) -> None:
    """Print every model, or the one named."""
    if args.name is not None:
        print(describe(root, args.name, policy))
        return
    try:
        listing = list_folder(root)
    except OSError as err:
        raise CommandError(f"cannot list the model folder {root}: {err}") from None
    if not listing.models and not listing.unlistable:
        raise CommandError(f"no models in {root}")
    parts = [describe(root, name, policy) for name in sorted(listing.models)]
    parts += [f"{name}: {reason}" for name, reason in sorted(listing.unlistable.items())]
    print("\n\n".join(parts))


def run_promote(args: argparse.Namespace, root: Path, policy: str) -> None:
    """Serve a version: checked to load first, then written to served.json."""
    name, version = check_name(args.name), check_version(args.version)
    note = check_note(args.note)
    found = scan(root, name)
    servable(name, found, version)
    folder = root / name
    with served.locked(folder):
        state = read_state(folder)
        if state is not None and state.served == version:
            print(f"{name}: {version} is already served; nothing changed")
            return
        if state is None:  # the service served the newest loadable version: roll back to it
            was = next((f.version for f in found if load(name, f).model is not None), None)
            new = served.started(version, was, note)
        else:
            was, new = state.served, state.promote(version, note)
        write_state(folder, new)
    print(f"{name}: serving {version} (was {was or 'nothing'})")
    warn_policy(policy)


def run_rollback(args: argparse.Namespace, root: Path, policy: str) -> None:
    """Serve the version served before the current one."""
    name, note = check_name(args.name), check_note(args.note)
    found = scan(root, name)
    folder = root / name
    with served.locked(folder):
        state = read_state(folder)
        if state is None:
            raise CommandError(f"nothing to roll back for {name!r}: no version was promoted")
        try:
            new = state.rollback(note)
        except StateError as err:
            raise CommandError(f"model {name!r}: {err}") from None
        servable(name, found, new.served)
        write_state(folder, new)
    print(f"{name}: serving {new.served} (was {state.served})")
    warn_policy(policy)


def warn_policy(policy: str) -> None:
    """Say so when this environment's GATECAST_SERVE ignores promotions."""
    if policy == NEWEST:
        print(
            "note: GATECAST_SERVE=newest here; a service run that way serves the newest "
            "version whatever is promoted",
            file=sys.stderr,
        )


COMMANDS = {"list": run_list, "promote": run_promote, "rollback": run_rollback}


def main(argv: list[str] | None = None) -> int:
    """Console entry point: exit 0 on success, 2 with one line on bad input."""
    args = build_parser().parse_args(argv)
    try:
        root, policy = settings(args)
        COMMANDS[args.command](args, root, policy)
    except (CommandError, ValueError) as err:  # ValueError: names, versions, GATECAST_*
        print(f"gatecast-models: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
