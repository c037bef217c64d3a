"""Command-line flags built from config dataclasses, so each default is written once.

A dataclass field becomes a flag when its metadata has `help`; `flag` renames it (default
--field-name), and `choices`, `nargs` and `metavar` pass through to argparse; `sep` makes
a list field one value split at that separator (`--cols a,b`). A field without a default
is a required flag.
"""

import argparse
import dataclasses
import types
import typing
from typing import Any, TypeVar

C = TypeVar("C")
Group = argparse.ArgumentParser | argparse._ArgumentGroup
PASSED_THROUGH = ("choices", "nargs", "metavar")


def command_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A command's parser, showing each flag's default in --help."""
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def flag_name(field: dataclasses.Field[Any]) -> str:
    """The flag a config field is set by."""
    name: str = field.metadata.get("flag", "--" + field.name.replace("_", "-"))
    return name


def _base_type(hint: Any) -> Any:
    """int for `int`, `int | None` and `list[int]`: what argparse converts each value to."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is list:
        return typing.get_args(hint)[0]
    return hint


def split_at(sep: str) -> Any:
    """An argparse type: the value split at sep, blanks dropped (`a, b,` -> [a, b])."""

    def split(value: str) -> list[str]:
        return [part.strip() for part in value.split(sep) if part.strip()]

    return split


def add_flags(group: Group, cls: type, prefix: str) -> None:
    """One flag per documented field of `cls`; each lands in the namespace as prefix + name."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if "help" not in field.metadata:
            continue
        opts = {k: v for k, v in field.metadata.items() if k in PASSED_THROUGH}
        if "choices" not in opts:  # the field's name, not the prefixed dest, in --help
            opts.setdefault("metavar", field.name.upper())
        dest, text = prefix + field.name, field.metadata["help"]
        kind = _base_type(hints[field.name])
        if "sep" in field.metadata:
            kind = split_at(field.metadata["sep"])
        if kind is bool:
            group.add_argument(flag_name(field), dest=dest, action="store_true", help=text)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            group.add_argument(
                flag_name(field), dest=dest, type=kind, required=True, help=text, **opts
            )
        else:
            default = field.default
            if field.default_factory is not dataclasses.MISSING:
                default = field.default_factory()
            group.add_argument(
                flag_name(field), dest=dest, type=kind, default=default, help=text, **opts
            )


def from_flags(cls: type[C], args: argparse.Namespace, prefix: str, **given: Any) -> C:
    """An instance of `cls` from the flags add_flags made, plus fields given directly."""
    values = {
        f.name: getattr(args, prefix + f.name)
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if "help" in f.metadata
    }
    return cls(**values, **given)
