"""The JSON log lines of service.logs."""

import json
import logging

from service.logs import configure_logging, log_fields


def test_log_fields_writes_one_json_line_with_the_fields(capsys) -> None:
    configure_logging(logging.INFO)
    access = logging.getLogger("gatecast.access")
    capsys.readouterr()
    fields: dict[str, object] = {"request_id": "r-1", "status": 201, "model": None}
    log_fields(access, logging.INFO, "request", fields)
    log_fields(access, logging.DEBUG, "request", {"request_id": "r-2"})  # below the level
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert (line["level"], line["logger"], line["msg"]) == ("INFO", "gatecast.access", "request")
    assert (line["request_id"], line["status"], line["model"]) == ("r-1", 201, None)
    assert "method" not in line  # only the fields given
