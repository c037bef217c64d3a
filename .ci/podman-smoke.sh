#!/bin/sh
# A copy of the team's ../shared/container/smoke.sh (build with podman on a machine with no
# Docker engine, then GET a path on loopback), for clones that have no ../shared beside them,
# such as CI's clean clone. .ci/container-smoke.sh prefers the shared original when present.
# Build a project's Dockerfile with podman and smoke-test the container on
# loopback, on a Debian 12 machine that has no Docker engine and no reachable
# container registry (only the Debian mirror and PyPI, via the host's apt/pip
# setup). Base images named by FROM (python:3.11-slim, python:3.13-slim,
# debian:bookworm/trixie) are built locally from Debian as stand-ins.
# Runs as root. Leaves the image in podman's store; removes the container.
#
# Usage: ci-container-smoke.sh [CONTEXT_DIR] [DOCKERFILE]
# Env:   IMAGE (localhost/app:ci)  CONTAINER_PORT (8000)  HOST_PORT (18000)
#        SMOKE_PATH (/)  WAIT_S (60)  RUN_ARGS (extra "podman run" args)
#        CTR_WORK (work/config dir; default: a fresh mktemp dir under /tmp)
#        BUILD_ARGS (extra "podman build" args, e.g. "--build-arg KEY=VALUE")
set -eu
CTX=${1:-.}
DOCKERFILE=${2:-$CTX/Dockerfile}
IMAGE=${IMAGE:-localhost/app:ci}
CONTAINER_PORT=${CONTAINER_PORT:-8000}
HOST_PORT=${HOST_PORT:-18000}
SMOKE_PATH=${SMOKE_PATH:-/}
WAIT_S=${WAIT_S:-60}
RUN_ARGS=${RUN_ARGS:-}
BUILD_ARGS=${BUILD_ARGS:-}
CTR_WORK=${CTR_WORK:-$(mktemp -d /tmp/ctr-ci.XXXXXX)}
CTR_NAME=ci-smoke-$$
log() { printf '\n=== [%s] %s\n' "$(date +%T)" "$*"; }
. /etc/os-release

# --- 1. tools ---------------------------------------------------------------
log "install podman, runc, debootstrap"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q podman runc debootstrap >/dev/null ||
  { apt-get update -q >/dev/null && apt-get install -y -q podman runc debootstrap >/dev/null; }

# --- 2. podman config for this VM -------------------------------------------
# crun cannot run here: "cgroups in hybrid mode not supported", so use runc.
# CAP_SYS_RESOURCE is not in the bounding set, so no rlimit may be raised:
# pin nofile/nproc to what the runtime process already has (podman lowers nproc
# to kernel.pid_max for its children).
NOFILE=$(awk '/^Max open files/ {print $5}' /proc/self/limits)
NPROC=$(awk '/^Max processes/ {print $4}' /proc/self/limits)
PIDMAX=$(cat /proc/sys/kernel/pid_max)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
{ [ "$NPROC" = unlimited ] || [ "$NPROC" -gt "$PIDMAX" ]; } && NPROC=$PIDMAX
cat > "$CTR_WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=$NPROC:$NPROC"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$CTR_WORK/containers.conf"

# --- 3. local stand-ins for the base images the Dockerfile names -------------
debian_mirror() {   # the Debian archive apt on this host uses
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk -v c="$VERSION_CODENAME" '$1=="deb" { for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i+1)==c) print $i; break } }'
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk -v c="$VERSION_CODENAME" '
        /^[ \t]*$/ { if (u && s ~ ("(^| )" c "( |$)")) print u; u=""; s=""; next }
        /^URIs:/   { u=$2 }
        /^Suites:/ { sub(/^Suites:[ \t]*/, ""); s=$0 }
        END        { if (u && s ~ ("(^| )" c "( |$)")) print u }'
  } | head -n1
}

build_base() {  # build_base SUITE WITH_PYTHON(0/1) REF
  suite=$1; with_py=$2; ref=$3; root=$CTR_WORK/rootfs-$suite-$with_py
  mirror=$(debian_mirror); [ -n "$mirror" ] || { echo "no Debian mirror in apt sources" >&2; exit 1; }
  inc=ca-certificates; [ "$with_py" = 1 ] && inc="$inc,python3,python3-venv,python3-pip"
  rm -rf "$root"
  debootstrap --variant=minbase --include="$inc" "$suite" "$root" "$mirror" >"$CTR_WORK/debootstrap-$suite.log" 2>&1 ||
    { tail -20 "$CTR_WORK/debootstrap-$suite.log"; exit 1; }
  if [ "$suite" = "$VERSION_CODENAME" ] && ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    rm -f "$root/etc/apt/sources.list"      # same archive + updates/security as the host
    for f in /etc/apt/sources.list.d/*.sources; do
      grep -q "^Suites:.*$VERSION_CODENAME" "$f" && grep -q '^URIs:.*debian' "$f" && cp "$f" "$root/etc/apt/sources.list.d/"
    done
  fi
  # this VM reaches PyPI through a TLS-intercepting proxy: trust the host's extra CAs
  if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1
  fi
  pyver=none
  if [ "$with_py" = 1 ]; then            # behave like the official python image
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
    ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
    ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"; ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip3"
    pyver=$(chroot "$root" python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
         "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
         "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
  find "$root/usr/lib" -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null || true
  : > "$root/etc/resolv.conf"
  tar --numeric-owner -C "$root" -cf "$root.tar" .
  cmd='["bash"]'; [ "$with_py" = 1 ] && cmd='["python3"]'
  podman import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' \
    -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    -c 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
    -c "ENV PYTHON_VERSION=$pyver" -c "CMD $cmd" "$root.tar" "$ref" >/dev/null
  rm -rf "$root" "$root.tar"
  echo "built $ref from Debian $suite (python: $pyver)"
}

log "base images"
# external FROM references (skip flags, ARG-expanded refs and earlier stage names)
STAGES=$(awk 'toupper($1)=="FROM" { for(i=2;i<=NF;i++) if (toupper($i)=="AS") print $(i+1) }' "$DOCKERFILE")
for ref in $(awk 'toupper($1)=="FROM" { for(i=2;i<=NF;i++) if ($i !~ /^--/) { print $i; break } }' "$DOCKERFILE" | sort -u); do
  echo " $STAGES " | grep -q " $ref " && continue
  [ "$ref" = scratch ] && continue
  case $ref in *'$'*) echo "cannot resolve FROM $ref (ARG); pre-tag it" >&2; exit 1 ;; esac
  if podman image exists "$ref"; then echo "have $ref"; continue; fi
  name=${ref##*/}; repo=${name%%[:@]*}; tag=${name#"$repo"}; tag=${tag#:}; [ -n "$tag" ] || tag=latest
  # a short name (FROM python:3.11-slim) resolves to localhost/python:3.11-slim
  # with --pull=never; a fully-qualified FROM gets exactly that name
  case $ref in */*) loc=$ref ;; *) loc=localhost/$repo:$tag ;; esac
  case "$repo:$tag" in
    python:3.11*|python:3-*bookworm*) build_base bookworm 1 "$loc" ;;
    python:3.13*|python:3-*trixie*)   build_base trixie 1 "$loc" ;;
    python:3*)  echo "WARNING: no Debian suite ships $repo:$tag; using bookworm's Python 3.11" >&2
                build_base bookworm 1 "$loc" ;;
    debian:bookworm*|debian:12*) build_base bookworm 0 "$loc" ;;
    debian:trixie*|debian:13*)   build_base trixie 0 "$loc" ;;
    *) echo "no local recipe for base image $ref (no registry here)" >&2; exit 1 ;;
  esac
done

# --- 4. build -----------------------------------------------------------------
log "build $IMAGE"
# --network host: RUN steps resolve and reach PyPI / the Debian mirror exactly
# like the host; --format docker keeps HEALTHCHECK; --pull=never: no registry.
# shellcheck disable=SC2086
timeout 1800 podman build --pull=never --network host --format docker $BUILD_ARGS \
  -f "$DOCKERFILE" -t "$IMAGE" "$CTX"

# --- 5. run + smoke test on loopback -----------------------------------------
log "run $IMAGE"
cleanup() { podman rm -f -t 5 "$CTR_NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT
# shellcheck disable=SC2086
podman run -d --name "$CTR_NAME" -p "127.0.0.1:$HOST_PORT:$CONTAINER_PORT" $RUN_ARGS "$IMAGE" 2>&1 |
  grep -v 'unable to get systemd connection' || true   # no systemd: no healthcheck timer (harmless)
podman container exists "$CTR_NAME"
url=http://127.0.0.1:$HOST_PORT$SMOKE_PATH
i=0
until curl -fs -m 3 -o "$CTR_WORK/body" "$url"; do
  i=$((i+1))
  if [ "$i" -ge "$WAIT_S" ] || [ "$(podman inspect -f '{{.State.Running}}' "$CTR_NAME")" != true ]; then
    echo "FAIL: $url not answering after ${i}s" >&2; podman logs "$CTR_NAME" 2>&1 | tail -50; exit 1
  fi
  sleep 1
done
echo "OK: GET $url -> $(head -c 200 "$CTR_WORK/body")"
if [ -n "$(podman inspect -f '{{if .Config.Healthcheck}}yes{{end}}' "$CTR_NAME")" ]; then
  podman healthcheck run "$CTR_NAME" && echo "OK: HEALTHCHECK healthy" ||
    { echo "FAIL: HEALTHCHECK" >&2; podman logs "$CTR_NAME" 2>&1 | tail -50; exit 1; }
fi
echo "container user: $(podman exec "$CTR_NAME" id)"
podman logs "$CTR_NAME" 2>&1 | tail -5
log "smoke test passed"
