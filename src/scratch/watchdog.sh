#!/bin/sh
# Watchdog of a throwaway server: if the Backtrack process that created the
# datadir dies without cleaning up (kill -9, OOM), stop every process still
# using the datadir (the server, or mariadb-install-db while it bootstraps)
# and remove the datadir. Exits as soon as the owner removed the datadir.
# Usage: watchdog.sh OWNER_PID DATADIR
owner=$1 dir=$2
case "$dir" in
  */backtrack-scratch-*) ;;
  *) exit 2 ;;
esac
while kill -0 "$owner" 2>/dev/null; do
  [ -d "$dir" ] || exit 0
  sleep 0.5
done
# "[-]-datadir=" matches the servers' command lines but not this script's or pkill's.
pattern="[-]-datadir=$dir"
pkill -TERM -f -- "$pattern" 2>/dev/null
i=0
while pgrep -f -- "$pattern" >/dev/null 2>&1 && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
pkill -KILL -f -- "$pattern" 2>/dev/null
sleep 0.2
rm -rf "$dir"
