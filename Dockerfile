# gatecast: one image for the batch training job and the gunicorn service; how to build,
# train and serve with it: docs/container.md.
#
# Build arguments:
#   TORCH_VERSION    torch release to install (the CPU build), default 2.13.0
#   TORCH_INDEX_URL  PyTorch's CPU wheel index, used only when wheelhouse/ holds no torch
#                    wheel; empty forbids any network fetch of torch

# deps: /opt/venv with torch and every dependency but no gatecast code, so this 1 GB layer
# is rebuilt only when pyproject.toml or the torch version change. FROM names are literal
# because FROM lines are not ARG-expanded by every builder (the podman stand-in included).
FROM python:3.11-slim AS deps

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# No pip cache and no bytecode in any layer, except the .pyc files the warm-up writes.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch first, in its own layer: most of the image, changed least often. A wheel in
# wheelhouse/ always wins and no index is contacted; else the CPU index, never PyPI's CUDA build.
COPY wheelhouse/ /wheelhouse/
RUN set -eu; \
    wheel=$(ls /wheelhouse/torch-"${TORCH_VERSION}"-*.whl /wheelhouse/torch-"${TORCH_VERSION}"+*.whl \
            2>/dev/null | head -n 1 || true); \
    if [ -n "$wheel" ]; then \
        echo "torch ${TORCH_VERSION}: from the wheelhouse ($wheel), no index"; \
        pip install --no-compile --no-index --find-links /wheelhouse --no-deps "torch==${TORCH_VERSION}"; \
    elif [ -n "${TORCH_INDEX_URL}" ]; then \
        echo "torch ${TORCH_VERSION}: from ${TORCH_INDEX_URL}"; \
        pip install --no-compile --index-url "${TORCH_INDEX_URL}" --no-deps "torch==${TORCH_VERSION}"; \
    else \
        echo "no torch-${TORCH_VERSION} wheel in wheelhouse/ and TORCH_INDEX_URL is empty" >&2; \
        exit 1; \
    fi; \
    echo "torch==${TORCH_VERSION}" > /opt/torch-constraint.txt

# Every dependency plus an empty gatecast, under a constraint that keeps the CPU torch; a
# stand-in README so editing README.md does not rebuild this layer. The stamp marks its end.
WORKDIR /src
COPY pyproject.toml ./
RUN echo "# gatecast" > README.md && pip install --no-compile --find-links /wheelhouse --constraint /opt/torch-constraint.txt . \
    && pip check \
    && python -c "import torch; assert torch.version.cuda is None, torch.__version__; print('torch', torch.__version__, 'CPU build')" \
    && PYTHONDONTWRITEBYTECODE= MPLBACKEND=Agg python -c "import torch, lightning, pandas, \
flask, pydantic, orjson, prometheus_client, gunicorn.app.wsgiapp, gunicorn.workers.gthread, \
matplotlib.pyplot" \
    && rm -rf build ./*.egg-info \
    && touch /opt/deps.stamp

# ---------------------------------------------------------------------------------------
# build: gatecast installed into that environment, tried out, and cut into a small layer.
# COPY rather than `FROM deps`: the podman smoke test takes a stage name for a base image.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
COPY --from=deps /opt/venv /opt/venv
COPY --from=deps /opt/deps.stamp /opt/deps.stamp
WORKDIR /src
COPY pyproject.toml README.md ./

# `pip install .`, not -e: the packages and the gatecast-* commands land in site-packages.
COPY model/ model/
COPY scripts/ scripts/
COPY service/ service/
RUN pip install --no-compile --no-deps --force-reinstall . && pip check

# Warm-up and self-test: a dry-run training batch, the article cell, every import and one
# POST /forecast. It writes .pyc only for what runs, which a read-only root cannot cache later.
COPY data/ data/
# From / so that Python imports the installed packages, not the sources in /src.
RUN set -eu; \
    cd /; \
    export PYTHONDONTWRITEBYTECODE= MPLBACKEND=Agg GATECAST_MODEL_DIR=/tmp/warm \
           GATECAST_POLL_SECONDS=0; \
    gatecast-train --data /src/data/airline_passengers.csv --model-dir /tmp/warm --dry-run \
        --quiet >/dev/null; \
    gatecast-article-cell --model-dir /tmp/warm >/dev/null; \
    python -c "import importlib, pkgutil; \
import gunicorn.app.wsgiapp, gunicorn.arbiter, gunicorn.workers.gthread, matplotlib.pyplot; \
[importlib.import_module(m.name) for p in ('model', 'scripts', 'service') \
 for m in pkgutil.walk_packages(importlib.import_module(p).__path__, p + '.')]; \
import service; assert service.__file__.startswith('/opt/venv/'), service.__file__; \
client = service.create_app().test_client(); \
r = client.post('/forecast', json={'sequence': [1.0, 2.0, 3.0], 'horizon': 2}); \
assert r.status_code == 200, r.get_data(as_text=True)" >/dev/null; \
    rm -rf /tmp/warm

# Everything newer than the stamp (gatecast and the warm-up's .pyc) goes under /out, so a
# code change ships a layer of a few MB, not 1 GB.
RUN cd / \
    && mkdir /out \
    && find opt/venv usr/lib/python3.11 usr/local/lib/python3.11 -newer /opt/deps.stamp \
       ! -type d -print0 2>/dev/null \
       | tar --null --no-recursion -cf - -T - | tar -C /out -xf - \
    && test -x /out/opt/venv/bin/gatecast-train \
    && test -f /out/opt/venv/lib/python3.11/site-packages/service/app.py \
    && ls /out/opt/venv/lib/python3.11/site-packages/service/__pycache__/app.*.pyc >/dev/null \
    && size=$(du -sm /out | cut -f1) \
    && { [ "$size" -lt 100 ] || { echo "the gatecast layer is $size MB: file times lost?" >&2; exit 1; }; }

# ---------------------------------------------------------------------------------------
# runtime: the same base, plus only the virtual environment, the gunicorn config and the
# bundled default series. No compilers, no pip cache, no sources, no tests.
FROM python:3.11-slim AS runtime

# HOME and MPLCONFIGDIR in /tmp: the root filesystem may be read-only. One torch thread:
# the service scales with gunicorn workers, one per core.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    GATECAST_MODEL_DIR=/models \
    GATECAST_BIND=0.0.0.0:8000 \
    GATECAST_TORCH_THREADS=1

# A fixed numeric UID so volume ownership can be set up without looking inside the image;
# /models is made before VOLUME so a new named volume is writable for training.
RUN groupadd --gid 10001 gatecast \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin gatecast \
    && mkdir -p /models \
    && chown 10001:10001 /models

# Root-owned, so the service cannot modify its own code; two layers, dependencies and
# gatecast. COPY keeps file times, so the .pyc files stay valid.
COPY --from=deps /opt/venv /opt/venv
COPY --from=build /out/ /

WORKDIR /app
COPY gunicorn.conf.py ./
COPY data/ data/

USER 10001:10001
VOLUME ["/models"]
EXPOSE 8000

# Liveness, not readiness (/readyz): 200 whenever a worker answers. No curl in the slim image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('GATECAST_BIND', '0.0.0.0:8000').rsplit(':', 1)[-1]; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:' + port + '/healthz', timeout=3).status == 200 else 1)"]

# No ENTRYPOINT, so `docker run IMAGE gatecast-train ...` replaces this command.
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
