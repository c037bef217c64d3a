"""Fuzz the HTTP API from its own OpenAPI document (schemathesis) against the real gunicorn.

    .venv/bin/python -m bench.fuzz --max-examples 300

Starts gunicorn -c gunicorn.conf.py on a free loopback port with two small checkpoints
(the article's cell and an untrained 4-unit model `tiny`, the default model), fetches
GET /openapi.json and runs the schemathesis CLI on that document (so /openapi.json is
fuzzed too): the examples, coverage, fuzzing and stateful phases, positive and negative
data, every check but positive_data_acceptance. That one is off because a schema cannot
say that `state` must match the chosen model's layers and units, nor that `interval` needs
a model with residual quantiles: such schema-valid requests get a documented 400.

It prints the requests per endpoint and status class (schemathesis' own record), the
server's count from /metrics and every failed check. Exit status 1 on any failed check,
a 5xx, a traceback or 5xx line in the server log, or fewer requests than --min-requests.
"""

import argparse
import contextlib
import io
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench import common as c
from bench.checkpoints import write_untrained
from bench.http_client import Reply, request
from bench.server import Running, gunicorn

EXCLUDED_CHECKS = ("positive_data_acceptance",)
SERVER_ERROR = re.compile(r'Traceback|"exc":|"status":5\d\d')  # in gatecast's JSON log lines


@dataclass
class Campaign:
    """What one schemathesis run did, per endpoint (path template) and in total."""

    exit_code: int
    output: str
    requests: Counter[str] = field(default_factory=Counter)
    cases: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)  # "check on endpoint" -> count
    server: Counter[str] = field(default_factory=Counter)  # "endpoint status" from /metrics
    log_problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Requests sent by schemathesis."""
        return sum(self.requests.values())

    @property
    def server_errors(self) -> int:
        """5xx answers, as schemathesis saw them."""
        return sum(c["5xx"] for c in self.statuses.values())


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag with help."""
    p = c.parser("python -m bench.fuzz", __doc__)
    p.add_argument(
        "--max-examples",
        type=int,
        default=300,
        help="most test cases per operation in each schemathesis phase (300: ~2,700 requests)",
    )
    p.add_argument("--seed", type=int, default=1, help="schemathesis/Hypothesis seed")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument(
        "--api-key",
        help="start the server with this API key and send it as a bearer token "
        "(also runs schemathesis' ignored_auth check)",
    )
    p.add_argument(
        "--min-requests",
        type=int,
        default=1000,
        help="fail when fewer requests were sent (proves the campaign ran in full)",
    )
    p.add_argument(
        "--phases",
        default="examples,coverage,fuzzing,stateful",
        help="schemathesis phases to run, comma-separated",
    )
    p.add_argument("--out", help="keep the spec, schemathesis' NDJSON report and logs here")
    return p


def make_models(folder: Path) -> list[str]:
    """Write the article's cell and an untrained 4-unit model with intervals; their names."""
    from scripts import article_cell

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the checkpoint's path
        written = article_cell.main(["--model-dir", str(folder)])
    if written != 0:
        raise RuntimeError("could not write the article-cell checkpoint")
    write_untrained(folder, "tiny", normalization="window")
    return ["article-cell", "tiny"]


def fetch(srv: Running, path: str, key: str | None) -> Reply:
    """GET path (raises on a non-200 status)."""
    reply = request(srv.port, "GET", path, key=key)
    if reply.status != 200:
        raise RuntimeError(f"GET {path} answered {reply.status}: {reply.text()}")
    return reply


def endpoint_of(path: str, templates: list[str]) -> str:
    """The spec's path template a concrete path matches, or the path itself."""
    for template in templates:
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    return path


def read_report(report: Path, templates: list[str], run: Campaign) -> None:
    """Count requests, cases, statuses and failed checks from schemathesis' NDJSON events."""
    for line in report.read_text().splitlines():
        ((kind, event),) = json.loads(line).items()
        if kind != "ScenarioFinished":
            continue
        rec = event["recorder"]
        case_path: dict[str, str] = {}
        for case_id, case in rec.get("cases", {}).items():
            case_path[case_id] = endpoint_of(case["value"]["path"], templates)
            run.cases[case_path[case_id]] += 1
        for case_id, interaction in rec.get("interactions", {}).items():
            path = endpoint_of(urlsplit(interaction["request"]["uri"]).path, templates)
            status = (interaction.get("response") or {}).get("status_code")
            run.requests[path] += 1
            klass = f"{status // 100}xx" if isinstance(status, int) else "no answer"
            run.statuses.setdefault(path, Counter())[klass] += 1
            case_path.setdefault(case_id, path)
        for case_id, checks in rec.get("checks", {}).items():
            for check in checks:
                if check["status"] == "failure":
                    run.failures[f"{check['name']} on {case_path.get(case_id, '?')}"] += 1


def server_counts(metrics: str) -> Counter[str]:
    """gatecast_requests_total summed by endpoint and status, from /metrics text."""
    counts: Counter[str] = Counter()
    sample = re.compile(r"gatecast_requests_total\{(.*)\} ([0-9.e+]+)$")
    for line in metrics.splitlines():
        if m := sample.match(line):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            counts[f"{labels.get('endpoint')} {labels.get('status')}"] += int(float(m.group(2)))
    return counts


def campaign(args: argparse.Namespace, work: Path) -> Campaign:
    """Start gunicorn, run schemathesis against it, collect the figures."""
    models = work / "models"
    models.mkdir(parents=True, exist_ok=True)
    make_models(models)
    # A default model, so a request without `model` is served rather than refused.
    env = {"GATECAST_WORKERS": str(args.workers), "GATECAST_DEFAULT_MODEL": "tiny"}
    headers: dict[str, str] = {}
    if args.api_key:
        env["GATECAST_API_KEYS"] = args.api_key
        headers["Authorization"] = f"Bearer {args.api_key}"
    with gunicorn(models, work / "gunicorn.log", env=env, ready_path="/readyz") as srv:
        spec = work / "openapi.json"
        document = fetch(srv, "/openapi.json", args.api_key).json()
        spec.write_text(json.dumps(document))
        templates = list(document["paths"])
        report = work / "schemathesis.ndjson"
        options = c.flags(
            url=srv.url,
            checks="all",
            exclude_checks=",".join(EXCLUDED_CHECKS),
            mode="all",
            max_examples=args.max_examples,
            seed=args.seed,
            phases=args.phases,
            workers=1,
            generation_database="none",
            request_timeout=30,
            report="ndjson",
            report_ndjson_path=report,
        )
        cmd = [sys.executable, "-m", "schemathesis.cli", "run", str(spec), *options]
        cmd += ["--continue-on-failure", "--no-color"]
        for name, value in headers.items():
            cmd += ["--header", f"{name}: {value}"]
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=3600)
        run = Campaign(proc.returncode, proc.stdout + proc.stderr)
        run.server = server_counts(fetch(srv, "/metrics", args.api_key).text())
    read_report(report, templates, run)
    log = srv.log_text()
    run.log_problems = [line for line in log.splitlines() if SERVER_ERROR.search(line)]
    return run


def print_report(run: Campaign) -> None:
    """The figures as markdown tables."""
    print("| endpoint | cases | requests | 2xx | 4xx | 5xx |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in sorted(run.requests):
        s = run.statuses.get(path, Counter())
        row = (path, run.cases[path], run.requests[path], s["2xx"], s["4xx"], s["5xx"])
        print("| " + " | ".join(map(str, row)) + " |")
    total = (run.total, sum(run.cases.values()), run.server_errors)
    print(f"\ntotal: {total[0]} requests, {total[1]} cases, {total[2]} 5xx")
    print("\nserver's own count (gatecast_requests_total, endpoint status: requests):")
    for key, count in sorted(run.server.items()):
        print(f"  {key}: {count}")
    print(f"\nfailed checks: {sum(run.failures.values())}")
    for name, count in sorted(run.failures.items()):
        print(f"  {name}: {count}")
    print(f"server log lines with a traceback or a 500: {len(run.log_problems)}")
    print(f"schemathesis exit status: {run.exit_code}")


def problems(run: Campaign, min_requests: int) -> list[str]:
    """Why the campaign failed; empty when it passed."""
    out = []
    if run.exit_code != 0:
        out.append(f"schemathesis exited with {run.exit_code}")
    if run.failures:
        out.append(f"{sum(run.failures.values())} failed checks")
    if run.server_errors or any(k.split()[-1].startswith("5") for k in run.server):
        out.append("the server answered 5xx")
    if any(c["no answer"] for c in run.statuses.values()):
        out.append("some requests got no answer")
    if run.log_problems:
        out.append("the server log has a traceback or a 500")
    if run.total < min_requests:
        out.append(f"only {run.total} requests, fewer than {min_requests}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the campaign, print the figures; 0 when it passed."""
    args = build_parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gatecast-fuzz-") as tmp:
        work = Path(args.out) if args.out else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        run = campaign(args, work.resolve())
    print_report(run)
    if failed := problems(run, args.min_requests):
        print("\n" + run.output[-6000:], file=sys.stderr)
        print(f"FAILED: {'; '.join(failed)}", file=sys.stderr)
        return 1
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
