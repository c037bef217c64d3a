"""Serving speed of the real gunicorn service under a fixed request count.

runner.py   the command (`python -m bench.serve`): cases, targets, the report
load.py     the load generators: ApacheBench, or a bounded Python client
model.py    the benchmark's model (trained or reused) and its forward time alone
"""
