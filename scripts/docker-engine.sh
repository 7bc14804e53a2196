#!/usr/bin/env bash
# Makes a Docker engine answer on this machine, for the compose smoke test:
# Debian's docker.io and docker-compose (1.29) if missing, dockerd started if
# none answers, and a local node:20-bookworm-slim image (no registry can be
# reached here: ../shared/tools/offline-node-image.sh builds one from Debian
# and the host's Node.js). Needs root. It never fails the caller: when a step
# cannot be done it says which and why, and the smoke test then prints
# SKIPPED with the reason.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

say() { echo "docker-engine: $*"; }

if ! command -v docker >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then say "docker or docker-compose missing and not root: not installed"; exit 0; fi
  say "installing docker.io and docker-compose (Debian)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose) >/dev/null 2>&1 \
    || { say "apt-get install docker.io docker-compose failed"; exit 0; }
fi

if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null 2>&1 || { say "no dockerd binary"; exit 0; }
  say "starting dockerd (log: /var/log/dockerd.log)"
  (setsid dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { say "dockerd did not answer within 60 s (see /var/log/dockerd.log)"; exit 0; }
fi

if ! docker image inspect node:20-bookworm-slim >/dev/null 2>&1; then
  builder="$repo/../shared/tools/offline-node-image.sh"
  [ -x "$builder" ] || [ -f "$builder" ] || { say "no node:20-bookworm-slim image and no $builder to build one"; exit 0; }
  say "building a local node:20-bookworm-slim ($builder)"
  bash "$builder" node:20-bookworm-slim || { say "the offline node image could not be built"; exit 0; }
fi
say "engine ready: $(docker version --format '{{.Server.Version}}' 2>/dev/null), $(docker-compose version --short 2>/dev/null || echo 'no docker-compose')"
