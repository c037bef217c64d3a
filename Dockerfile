# gatecast: one image for the batch training job and the gunicorn service.
#
#   docker build -t gatecast .
#   docker run --rm -v gatecast-models:/models gatecast gatecast-train \
#       --data data/airline_passengers.csv --name airline --model-dir /models --quiet
#   docker run -d -p 127.0.0.1:8000:8000 -v gatecast-models:/models gatecast
#
# Build arguments:
#   TORCH_VERSION    torch release to install (the CPU build), default 2.13.0
#   TORCH_INDEX_URL  PyTorch's CPU wheel index, used only when wheelhouse/ holds no torch
#                    wheel; set it empty to forbid any network fetch of torch
#
# Where torch comes from, in this order (one RUN step below decides):
#   1. wheelhouse/ in the build context holds torch-$TORCH_VERSION*.whl: pip installs
#      exactly that file with --no-index --find-links, and never contacts any index for
#      torch. This is how the image builds where download.pytorch.org cannot be reached
#      (fill it with `pip download --no-deps torch==2.13.0 -d wheelhouse`; see
#      .ci/container-smoke.sh). A wheel found there always wins, so a build never
#      waits on an unreachable index just because a build argument was not set.
#   2. otherwise TORCH_INDEX_URL (default: the CPU index), with --index-url, so PyPI's
#      multi-GB CUDA build can never be chosen.
#   3. neither: the build stops with one clear line.
# torch goes in with --no-deps either way; its small pure-Python dependencies (sympy,
# networkx, ...) are then resolved from PyPI with the project's own, under a constraint
# that pins torch, so no later step can swap the CPU build for another one.

# ---------------------------------------------------------------------------------------
# deps: a virtual environment in /opt/venv with torch (CPU) and every dependency, but no
# gatecast code, so that it (and the runtime layer copied from it, about 1 GB) is rebuilt
# and pushed only when pyproject.toml or the torch version change.
# (Literal base image names: the FROM lines are not ARG-expanded, so every builder,
# including the podman stand-in used by .ci/container-smoke.sh, resolves them.)
FROM python:3.11-slim AS deps

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# No pip cache in any layer. No bytecode either, except where a warm-up step below writes
# it on purpose: pip installs with --no-compile.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch first, in its own layer: it is most of the image and changes least often.
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

# The dependencies: with no package folders copied yet, `pip install .` installs every
# dependency plus an empty gatecast (setuptools needs the package's readme: a stand-in, so
# that editing README.md does not rebuild this layer). Then bytecode for the heavy imports
# that training and serving share; the build stage's warm-up adds the rest.
# /opt/deps.stamp marks where this stage ends.
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
# build: gatecast itself into that environment, tried out, and cut into a small layer.
# (`FROM python:3.11-slim` plus COPY rather than `FROM deps`: the shared podman smoke test
# mistakes a FROM that names an earlier stage for a base image. COPY keeps file times,
# which the -newer cut at the end relies on.)
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
COPY --from=deps /opt/venv /opt/venv
COPY --from=deps /opt/deps.stamp /opt/deps.stamp
WORKDIR /src
COPY pyproject.toml README.md ./

# Installed like any user would (`pip install .`, not -e): the packages model, scripts
# and service land in site-packages with their console scripts (gatecast-train,
# gatecast-backtest, gatecast-article-cell).
COPY model/ model/
COPY scripts/ scripts/
COPY service/ service/
RUN pip install --no-compile --no-deps --force-reinstall . && pip check

# Warm-up, which is also a build-time self-test of the installed package: train one dry-run
# batch, write the article cell, import every gatecast module and the gunicorn worker, and
# answer one POST /forecast through the app. Bytecode writing is on, so with the deps
# stage's step exactly the modules that training and serving load get a .pyc (about
# 85 MB, against about 230 MB for compiling every file of torch, sympy, pandas, ...).
# Without them each worker spends several seconds more compiling torch at every start,
# and on a read-only root filesystem nothing could cache them later.
COPY data/ data/
# It runs from / so that Python imports the installed packages, not the sources in /src.
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

# What this stage added (gatecast's package, dist-info and console scripts, which replace
# the empty ones file for file, and the warm-up's new .pyc files, the standard library's
# included: about 0.5 s less start-up per process), laid out under /out for one small
# COPY: a code change then ships a layer of a few MB, not 1 GB.
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

# PATH: the venv first, so `gunicorn`, `python` and the gatecast-* commands are its own.
# HOME and MPLCONFIGDIR point at /tmp: the root filesystem may be read-only (Kubernetes
# readOnlyRootFilesystem, `docker run --read-only --tmpfs /tmp`) and matplotlib wants a
# writable config folder. GATECAST_TORCH_THREADS=1: scale with gunicorn workers (one
# per core, GATECAST_WORKERS), not with torch threads per worker.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    GATECAST_MODEL_DIR=/models \
    GATECAST_BIND=0.0.0.0:8000 \
    GATECAST_TORCH_THREADS=1

# A fixed numeric UID/GID (10001), so volume ownership (chown 10001, Kubernetes
# runAsUser/fsGroup) can be set up without looking inside the image. /models is created
# owned by it before VOLUME, so a new named volume starts out writable for training.
RUN groupadd --gid 10001 gatecast \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin gatecast \
    && mkdir -p /models \
    && chown 10001:10001 /models

# The venv, root-owned (the service cannot modify its own code), in two layers: the
# dependencies (about 1 GB, changes with pyproject.toml) and gatecast with the warm-up's
# bytecode (a few MB, changes with the code). COPY keeps file times, so the .pyc files
# stay valid.
COPY --from=deps /opt/venv /opt/venv
COPY --from=build /out/ /

WORKDIR /app
COPY gunicorn.conf.py ./
COPY data/ data/

USER 10001:10001
VOLUME ["/models"]
EXPOSE 8000

# /healthz answers 200 whenever a worker answers (even with no models yet: readiness is
# /readyz). The slim image has no curl, so python's urllib; the port follows GATECAST_BIND.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('GATECAST_BIND', '0.0.0.0:8000').rsplit(':', 1)[-1]; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:' + port + '/healthz', timeout=3).status == 200 else 1)"]

# No ENTRYPOINT: `docker run IMAGE gatecast-train ...` simply replaces this command.
# gunicorn.conf.py (in the WORKDIR) takes the bind address, workers and threads from
# GATECAST_* variables.
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
