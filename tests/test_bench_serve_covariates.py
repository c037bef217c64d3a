"""bench.serve.covariates end to end in its --dry-run form: two tiny models, real gunicorn,
every case answered, and the report's ratios and verdicts."""

from pathlib import Path

import pytest

from bench.serve import covariates


@pytest.mark.slow
def test_dry_run_measures_every_case_and_reports_the_target(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    assert (
        covariates.main(["--dry-run", "--model-dir", str(tmp_path / "m"), "--output", str(out)])
        == 0
    )
    text = out.read_text()
    rows = [
        line.split(" | ")
        for line in text.splitlines()
        if line.startswith("| none") or line.startswith("| all")
    ]
    assert len(rows) == 2 * 2 * 6  # internals x concurrency x cases
    assert all(row[-1].rstrip(" |") == "0" for row in rows)  # no failed request
    plain = [row for row in rows if row[2] == "plain" and row[3] == "none"]
    assert all(row[7] == "1.000" for row in plain)
    assert text.count("(target <= 1.3x)") == 4  # the covariates cases at c=1
    assert "horizon 3" not in text and "horizon " in text


def test_bodies_carry_what_each_model_reads() -> None:
    import json

    plain = json.loads(covariates.body("plain", 0, 5, 2, "none"))
    assert "timestamps" not in plain and "covariates" not in plain
    full = json.loads(covariates.body("covariates", 31, 5, 2, "all", times=True, covariates=True))
    assert full["timestamps"][0] == "2020-02-01" and len(full["timestamps"]) == 5
    assert len(full["covariates"]["temp"]) == 5 and len(full["covariates"]["price"]) == 7
