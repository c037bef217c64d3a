"""Logs as one JSON object per line on stderr, through the standard logging module."""

import datetime as dt
import logging
import sys
from typing import TextIO

import orjson

# Extra fields copied into the JSON line; an allow-list, so nothing else (headers, keys,
# bodies) can end up in the log by accident.
FIELDS = ("request_id", "method", "path", "status", "duration_ms", "model", "version")
_HANDLER_MARK = "_gatecast_handler"


class JsonFormatter(logging.Formatter):
    """ts, level, logger, msg, the request fields that are set, and exc for tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        """One line of JSON."""
        line: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = record.__dict__
        for key in FIELDS:
            if key in fields:  # given, even as null (a request with no model has model null)
                line[key] = fields[key]
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (pytest swaps it between tests)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Emit to the current sys.stderr."""
        self.stream = sys.stderr
        super().emit(record)


def log_fields(logger: logging.Logger, level: int, msg: str, fields: dict[str, object]) -> None:
    """logger.log(level, msg, extra=fields) without looking up the caller's file and line.

    The JSON line never shows them, and on the request path the lookup (a walk up the
    stack) cost more than building and writing the line itself.
    """
    if logger.isEnabledFor(level):
        record = logger.makeRecord(
            logger.name, level, "(unknown file)", 0, msg, (), None, "(unknown function)", fields
        )
        logger.handle(record)


def configure_logging(level: int) -> logging.Logger:
    """Send the `gatecast` loggers to stderr as JSON; idempotent, so many apps can call it."""
    logger = logging.getLogger("gatecast")
    for handler in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    setattr(handler, _HANDLER_MARK, True)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # one line per event, not again through the root logger
    return logger
