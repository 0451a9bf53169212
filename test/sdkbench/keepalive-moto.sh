#!/bin/bash
# Stands in for herald-moto, with its arguments (-H 127.0.0.1 -p PORT): moto
# on a free port, and on PORT the sdkbench front, which keeps its clients'
# connections alive as AWS does (moto closes each after one request). It lets
# a tool that starts moto itself measure over kept connections:
#
#   go test -c -o .build/sdkbench.test ./test/sdkbench
#   HERALD_MOTO_SERVER=$PWD/test/sdkbench/keepalive-moto.sh go run ./tools/herald-cost
#
# The front's CPU, like moto's, is another process's. Stopping the process
# group stops both.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
moto=${HERALD_REAL_MOTO:-$root/.venv/moto/bin/herald-moto}
front=${HERALD_SDKBENCH_BIN:-$root/.build/sdkbench.test}
[ -x "$front" ] || { echo "no $front: go test -c -o .build/sdkbench.test ./test/sdkbench" >&2; exit 1; }
port=""
while [ $# -gt 0 ]; do case "$1" in -p) port=$2; shift 2;; *) shift;; esac; done
[ -n "$port" ] || { echo "usage: $0 -H 127.0.0.1 -p PORT" >&2; exit 2; }
motoport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$moto" -H 127.0.0.1 -p "$motoport" &
for _ in $(seq 300); do (echo >"/dev/tcp/127.0.0.1/$motoport") 2>/dev/null && break; sleep 0.1; done
HERALD_SDKBENCH_FRONT_FOR=http://127.0.0.1:$motoport HERALD_SDKBENCH_FRONT_ADDR=127.0.0.1:$port exec "$front" -test.run='^$'
