#!/bin/sh
# Watchdog of a throwaway server: if the Backtrack process that started it
# dies without cleaning up (kill -9, OOM), stop the server and remove its
# datadir. Exits as soon as the owner removed the datadir itself.
# Usage: watchdog.sh OWNER_PID SERVER_PID DATADIR
owner=$1 server=$2 dir=$3
while kill -0 "$owner" 2>/dev/null; do
  [ -d "$dir" ] || exit 0
  sleep 0.5
done
if kill -0 "$server" 2>/dev/null; then
  kill -TERM "$server" 2>/dev/null
  i=0
  while kill -0 "$server" 2>/dev/null && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
  kill -KILL "$server" 2>/dev/null
fi
case "$dir" in
  */backtrack-scratch-*) rm -rf "$dir" ;;
esac
