#!/usr/bin/env bash
# A private Docker daemon for the engine and e2e tests, apart from any Docker the machine runs:
#   tests/dockerd.sh start|stop|restart|status      (needs root and Debian's docker.io)
# Its own socket, data root, exec root and pid file, all named after O3_DOCKERD_NAME (default
# o3-ci). The data root is kept between runs, so built stand-in images are reused; `restart`
# is a host reboot as the site's containers see it (restart: always brings them back).
# `start` prints the DOCKER_HOST to use.
set -euo pipefail
name="${O3_DOCKERD_NAME:-o3-ci}"
sock="/run/$name.sock"; pidfile="/run/$name.pid"; exec_root="/run/$name"
data_root="${O3_DOCKERD_DATA_ROOT:-/var/lib/$name}"; log="/tmp/$name-dockerd.log"
export DOCKER_HOST="unix://$sock"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start() {
  if running; then echo "$DOCKER_HOST"; return; fi
  rm -f "$sock" "$pidfile"
  mkdir -p "$data_root"
  # setsid: the daemon outlives this script and is not killed with the caller's process group.
  setsid dockerd --data-root "$data_root" --exec-root "$exec_root" --pidfile "$pidfile" \
    -H "$DOCKER_HOST" >>"$log" 2>&1 < /dev/null &
  for _ in $(seq 120); do
    docker info >/dev/null 2>&1 && { echo "$DOCKER_HOST"; return; }
    sleep 0.5
  done
  echo "dockerd ($name) did not come up; its log ($log) ends with:" >&2
  tail -20 "$log" >&2
  exit 1
}

stop() {
  if running; then
    local pid; pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  umount "$exec_root"/netns/* 2>/dev/null || true
  rm -rf "$exec_root" "$sock" "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if running; then echo "running: $DOCKER_HOST"; else echo "stopped"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
