"""Serving speed of the real gunicorn service under a fixed request count.

runner.py       the command (`python -m bench.serve`): cases, targets, the report
load.py         the load generators: ApacheBench, or a bounded Python client
model.py        the benchmark's model (trained or reused) and its forward time alone
peer.py         KServe next to gatecast on the same checkpoint, in the same run
kserve_peer.py  the KServe server, run by KServe's own virtual environment's python
in_process.py   the app's own cost per request, without HTTP (`python -m bench.serve.in_process`)
"""
