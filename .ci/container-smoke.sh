#!/bin/sh
# Container smoke test: build the Dockerfile with podman (no Docker engine on these
# machines) and prove that the one image both trains and serves:
#   1. fill wheelhouse/ with the local CPU torch wheel, build the image through the shared
#      smoke.sh, or its copy .ci/podman-smoke.sh (which also checks GET /healthz on a
#      container with no models);
#   2. train the bundled airline series in a container into a host folder;
#   3. serve that folder from a second container (read-only root filesystem, read-only
#      model mount, as in deploy/k8s);
#   4. POST /forecast on loopback and check the forecast and internals shapes;
#   5. HEALTHCHECK healthy, no process runs as root, worker heartbeats on /dev/shm;
#   6. train a second version while the service runs and promote it with gatecast-models;
#      it must be served within a few poll intervals, without a restart.
#
# Usage, as root, from the repository root:   sh .ci/container-smoke.sh
# Env: GATECAST_SHARED (../shared)  IMAGE (localhost/gatecast:smoke)
#      CTR_WORK (/var/tmp/gatecast-ctr: podman settings and the model folder, kept so
#      reruns reuse the base image and containers.conf)  API_PORT (18080)
#      HOST_PORT (18000, smoke.sh's own check)  TORCH_VERSION (2.13.0)
# Exits non-zero with a FAIL line naming the step on any failure; removes its containers.
set -eu

SHARED=${GATECAST_SHARED:-../shared}
SMOKE=$SHARED/container/smoke.sh
# The team's shared script when this clone has ../shared beside it, else the copy in .ci/.
[ -f "$SMOKE" ] || SMOKE=.ci/podman-smoke.sh
IMAGE=${IMAGE:-localhost/gatecast:smoke}
CTR_WORK=${CTR_WORK:-/var/tmp/gatecast-ctr}
API_PORT=${API_PORT:-18080}
HOST_PORT=${HOST_PORT:-18000}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
APP_UID=10001                        # the image's USER (Dockerfile)
MODELS=$CTR_WORK/models              # host folder mounted at /models
POLL=1                               # GATECAST_POLL_SECONDS for the service under test
API=gatecast-smoke-api               # fixed names: a rerun removes what a killed run left
TRAIN=gatecast-smoke-train
BASE=http://127.0.0.1:$API_PORT

STEP=setup
SUMMARY=""
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '\n=== [%s] %s\n' "$(date +%T)" "$*"; }
fail() { echo "FAIL ($STEP): $*" >&2; exit 1; }
note() { SUMMARY="$SUMMARY$(printf '  %-44s %s' "$1" "$2")
"; }

remove_containers() {
  for c in "$API" "$TRAIN"; do podman rm -f -v -t 5 "$c" >/dev/null 2>&1 || true; done
}
on_exit() {
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "container smoke test FAILED at step: $STEP (exit $rc)" >&2
    if podman container exists "$API" 2>/dev/null; then
      echo "--- last lines of the service container's log:" >&2
      podman logs "$API" 2>&1 | tail -30 >&2
    fi
  fi
  remove_containers
}
trap on_exit EXIT
trap 'exit 130' INT TERM   # run the EXIT trap on Ctrl-C too

[ "$(id -u)" = 0 ] || fail "run as root (podman builds and runs rootful here)"
[ -f Dockerfile ] && [ -f pyproject.toml ] || fail "run from the repository root"
[ -f "$SMOKE" ] || fail "$SMOKE not found"
command -v python3 >/dev/null || fail "python3 not found"
mkdir -p "$CTR_WORK"
# podman settings from an earlier run (runc, rlimits), so a failure before smoke.sh has
# written them can still remove leftover containers in the EXIT trap.
if [ -f "$CTR_WORK/containers.conf" ]; then export CONTAINERS_CONF="$CTR_WORK/containers.conf"; fi
T_ALL=$(now)

# --- 1. wheelhouse + build (smoke.sh: tools, podman config, base image, build, /healthz) ---
STEP="1 wheelhouse"
log "$STEP"
t=$(now)
wheel=""
for f in wheelhouse/torch-"$TORCH_VERSION"-*.whl wheelhouse/torch-"$TORCH_VERSION"+*.whl; do
  [ -f "$f" ] && wheel=$f && break
done
if [ -n "$wheel" ]; then
  echo "have $wheel"
else
  # On these machines pip finds the CPU wheel on local disk: a copy, not a download.
  python3 -m pip download -q --no-deps "torch==$TORCH_VERSION" -d wheelhouse ||
    fail "pip download torch==$TORCH_VERSION"
fi
note "wheelhouse (torch wheel)" "$(since "$t") s"

STEP="1 build (shared smoke.sh)"
log "$STEP"
t=$(now)
# The image this tag names now (if any): removed below once a rebuild replaces it, so
# reruns after code changes do not pile up 1 GB images. (Build-cache layers stay.)
OLD_ID=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
# TORCH_INDEX_URL empty: the Dockerfile takes torch from wheelhouse/ anyway, and must never
# fall back to download.pytorch.org, which cannot be reached here (fail fast instead).
# CTR_WORK is ours, so its containers.conf stays for the podman calls below.
# --image-volume tmpfs: smoke.sh runs the image with no models (/healthz still answers 200)
# and removes the container without its volumes; a tmpfs leaves no anonymous volume behind.
CTR_WORK=$CTR_WORK IMAGE=$IMAGE SMOKE_PATH=/healthz HOST_PORT=$HOST_PORT \
  RUN_ARGS="--image-volume tmpfs" \
  BUILD_ARGS="--build-arg TORCH_VERSION=$TORCH_VERSION --build-arg TORCH_INDEX_URL=" \
  sh "$SMOKE" . Dockerfile || fail "shared smoke.sh failed (build or GET /healthz)"
note "build + smoke.sh (/healthz, no models)" "$(since "$t") s"
export CONTAINERS_CONF="$CTR_WORK/containers.conf"   # runc and rlimits, as smoke.sh set up
remove_containers                                     # stale ones from a killed run
NEW_ID=$(podman image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
  podman rmi "$OLD_ID" >/dev/null 2>&1 && echo "removed the superseded image $(printf %.12s "$OLD_ID")" || true
fi

SIZE=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image $IMAGE: $SIZE bytes"
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$IMAGE"
note "image size" "$SIZE bytes ($(awk -v s="$SIZE" 'BEGIN { printf "%.0f", s / 1e6 }') MB)"

# --- 2. train in a container into a host folder -------------------------------------------
STEP="2 train"
log "$STEP"
# The container runs as UID 10001, not root: the host folder is given to that UID (chown,
# not chmod 0777, so no other host user can plant a checkpoint for the service to load).
rm -rf "$MODELS"
mkdir -p "$MODELS"
chown "$APP_UID:$APP_UID" "$MODELS"
# Training containers: the same read-only root filesystem as the service (the Kubernetes
# Job has readOnlyRootFilesystem too), and --no-healthcheck: nothing listens on 8000 in a
# training run, so the image's HEALTHCHECK means nothing there.
train() {  # train SEED: one run of the image's gatecast-train into $MODELS
  podman run --rm --name "$TRAIN" --no-healthcheck --read-only --read-only-tmpfs=false \
    --tmpfs /tmp -v "$MODELS:/models" "$IMAGE" \
    gatecast-train --data data/airline_passengers.csv --model-dir /models --name airline \
    --epochs 5 --seed "$1" --quiet
}
t=$(now)
train 0 || fail "gatecast-train in the container"
note "train (5 epochs, in a container)" "$(since "$t") s"
podman run --rm --name "$TRAIN" --no-healthcheck -v "$MODELS:/models" "$IMAGE" \
  gatecast-article-cell --model-dir /models >/dev/null || fail "gatecast-article-cell"
V1=$(ls "$MODELS/airline" | sed -n 's/\.pt$//p' | sort | tail -n 1)
[ -n "$V1" ] || fail "no checkpoint in $MODELS/airline"
owner=$(stat -c %u "$MODELS/airline/$V1.pt")
[ "$owner" = "$APP_UID" ] || fail "checkpoint owned by uid $owner, expected $APP_UID"
echo "checkpoint airline/$V1.pt (owner uid $owner)"

# --- 3. serve that folder -------------------------------------------------------------------
STEP="3 serve"
log "$STEP"
# As in deploy/k8s: read-only root filesystem with a tmpfs on /tmp only (podman's own
# /dev/shm stays), and the models mounted read-only: the service never writes there.
t=$(now)
podman run -d --name "$API" -p "127.0.0.1:$API_PORT:8000" \
  --read-only --read-only-tmpfs=false --tmpfs /tmp \
  -v "$MODELS:/models:ro" \
  -e GATECAST_POLL_SECONDS=$POLL -e GATECAST_WORKERS=2 -e GATECAST_DEFAULT_MODEL=airline \
  "$IMAGE" 2>&1 | grep -v 'unable to get systemd connection' || true
podman container exists "$API" || fail "service container did not start"
i=0
until [ "$(curl -s -m 3 -o /dev/null -w '%{http_code}' "$BASE/readyz" || true)" = 200 ]; do
  i=$((i + 1))
  [ "$(podman inspect -f '{{.State.Running}}' "$API")" = true ] || fail "service container exited"
  [ "$i" -lt 120 ] || fail "/readyz not 200 after 60 s"
  sleep 0.5
done
note "service start to /readyz 200" "$(since "$t") s"
STARTED=$(podman inspect -f '{{.State.StartedAt}} restarts={{.RestartCount}}' "$API")

# --- 4. POST /forecast --------------------------------------------------------------------
STEP="4 forecast"
log "$STEP"
# Prints the served version; checks: 30 values, horizon 3 -> 3 forecasts, 24 steps (the
# model's window: a direct decoder generates none), 2 layers, each quantity 24 x 64.
forecast() {
  python3 - "$BASE" <<'EOF'
import json, sys, time, urllib.request

base = sys.argv[1]
body = {"model": "airline", "sequence": [100.0 + 3 * k + 20 * (k % 12 > 5) for k in range(30)],
        "horizon": 3, "internals": "all"}
req = urllib.request.Request(base + "/forecast", data=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
t = time.perf_counter()
with urllib.request.urlopen(req, timeout=10) as r:
    status, out = r.status, json.load(r)
ms = (time.perf_counter() - t) * 1000
def check(cond, what):
    if not cond:
        sys.exit(f"bad /forecast answer: {what}")
check(status == 200, f"status {status}")
check(out.get("model") == "airline", f"model {out.get('model')!r}")
fc = out.get("forecast")
check(isinstance(fc, list) and len(fc) == 3 and all(isinstance(v, float) for v in fc),
      f"forecast {fc!r}")
inner = out.get("internals") or {}
# The default model is direct with a 24-month window: it runs over the last 24 of the 30.
check(out.get("context") == {"first_step": 6, "steps": 24}, f"context {out.get('context')!r}")
check(inner.get("steps") == 24, f"internals.steps {inner.get('steps')!r}")
check(inner.get("observed_steps") == 24, f"internals.observed_steps {inner.get('observed_steps')!r}")
layers = inner.get("layers") or []
check(len(layers) == 2, f"{len(layers)} layers")
for n, layer in enumerate(layers):
    for q in ("input_gate", "forget_gate", "candidate", "output_gate", "cell_state",
              "hidden_state"):
        m = layer.get(q)
        check(isinstance(m, list) and len(m) == 24 and all(len(row) == 64 for row in m),
              f"layer {n} {q} is not 24 x 64")
print(out["version"], f"{ms:.0f}")
EOF
}
out=$(forecast) || fail "POST /forecast"
VERSION=${out% *}
echo "OK: POST /forecast -> version $VERSION, forecast 3, internals 2 layers x 6 x 24 x 64 (${out#* } ms)"
[ "$VERSION" = "$V1" ] || fail "served version $VERSION, expected $V1"
note "POST /forecast (30 values, horizon 3, internals)" "${out#* } ms"

# --- 5. healthcheck, non-root, heartbeat on /dev/shm ---------------------------------------
STEP="5 healthcheck and user"
log "$STEP"
podman healthcheck run "$API" >/dev/null || fail "HEALTHCHECK is not healthy"
echo "OK: HEALTHCHECK healthy"
uid=$(podman exec "$API" id -u)
[ "$uid" = "$APP_UID" ] || fail "podman exec id -u gave $uid, expected $APP_UID"
podman top "$API" user huser pid ppid args
# Every process, the gunicorn master (ppid 0 in the container) included, runs as 10001.
root_procs=$(podman top "$API" user huser | awk 'NR > 1 && ($1 == "root" || $1 == "0" || $2 == "root" || $2 == "0")' | wc -l)
[ "$root_procs" -eq 0 ] || fail "$root_procs process(es) run as root"
master_uid=$(podman top "$API" user ppid args | awk 'NR > 1 && $2 == 0 && /gunicorn/ { print $1 }')
[ -n "$master_uid" ] && [ "$master_uid" != root ] && [ "$master_uid" != 0 ] ||
  fail "gunicorn master user is '$master_uid'"
echo "OK: no root process (uid $uid; gunicorn master user $master_uid)"
# gunicorn.conf.py puts the workers' heartbeat files on /dev/shm. They are unlinked at
# once, so look at open file descriptors (the master holds each one too): one distinct
# file per worker.
beats=$(podman exec "$API" sh -c 'ls -l /proc/[0-9]*/fd 2>/dev/null' |
  grep -o '/dev/shm/wgunicorn-[^ ]*' | sort -u | wc -l)
[ "$beats" -eq 2 ] || fail "$beats worker heartbeat file(s) on /dev/shm, expected 2"
echo "OK: $beats worker heartbeat files on /dev/shm (one per worker)"
mem=$(podman stats --no-stream --format '{{.MemUsage}}' "$API" 2>/dev/null || echo "n/a")
note "service memory (2 workers, 2 models)" "$mem"

# --- 6. a new version is served without a restart -------------------------------------------
STEP="6 hot reload"
log "$STEP"
t=$(now)
train 1 || fail "second gatecast-train"
V2=$(ls "$MODELS/airline" | sed -n 's/\.pt$//p' | sort | tail -n 1)
[ "$V2" != "$V1" ] || fail "the second training run wrote no new version"
note "second training run" "$(since "$t") s"
# GATECAST_SERVE=promoted (the default): the first version stays served until this.
podman run --rm --name "$TRAIN" --no-healthcheck -v "$MODELS:/models" "$IMAGE" \
  gatecast-models promote airline "$V2" --model-dir /models --note "smoke test" >/dev/null ||
  fail "gatecast-models promote"
t=$(now)
# Each worker rescans on its own, so ask until 6 answers in a row (new connections, spread
# over both workers) all carry the new version; give up after 10 poll intervals.
ok=0
i=0
while [ "$ok" -lt 6 ]; do
  out=$(forecast) || fail "POST /forecast during reload"
  if [ "${out% *}" = "$V2" ]; then ok=$((ok + 1)); else ok=0; fi
  i=$((i + 1))
  [ "$(awk -v s="$(since "$t")" -v p=$POLL 'BEGIN { print (s > 10 * p) }')" = 0 ] ||
    fail "version $V2 not served by every worker within $((10 * POLL)) s (last: ${out% *})"
  sleep 0.2
done
[ "$(podman inspect -f '{{.State.StartedAt}} restarts={{.RestartCount}}' "$API")" = "$STARTED" ] ||
  fail "the service container restarted"
echo "OK: version $V2 served by 6 requests in a row, container not restarted ($STARTED)"
note "new version served (poll ${POLL} s, after the file)" "$(since "$t") s"

STEP="done"
log "container smoke test passed in $(since "$T_ALL") s"
printf '%s' "$SUMMARY"
