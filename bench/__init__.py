"""Benchmarks, reliability scenarios and the real-gunicorn harness the tests share.

    common.py        shared helpers: REPO, polling, training runs, result tables, command lines
    server.py        start the real gunicorn on a free loopback port (`gunicorn()`, `Running`)
    http_client.py   the one HTTP client: `request()` and raw `exchange()`, both give a `Reply`
    checkpoints.py   checkpoints without training: untrained ones, copies published as versions
    reliability/     load and fault scenarios (`python -m bench.reliability`)
    serve/           serving speed under ApacheBench (`python -m bench.serve`)
    fuzz.py          schemathesis against the real service (`python -m bench.fuzz`)
    internals.py     cost of the internals path (`python -m bench.internals`)
    training.py      training throughput (`python -m bench.training`)
    accuracy.py      one-step accuracy against naive baselines (`python -m bench.accuracy`)
    datasets.py      the accuracy benchmark's public series

bench imports model and scripts (and runs service under gunicorn); tests import bench; nothing in
bench imports tests.
"""
