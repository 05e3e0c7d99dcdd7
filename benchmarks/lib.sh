# Shell helpers shared by the benchmark scripts in this folder. Source it after defining log() and
# setting here= (this folder); it defines functions only.

# Waits up to $2 seconds for process $1 to exit; true if it did.
wait_exit() {
  local pid="$1" deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# Stops `kagami demo` started with setsid as process group $1 (so the signal also reaches the
# launcher's build): SIGTERM, then SIGKILL if it has not stopped within 60 s.
stop_demo_group() {
  local pid="$1"
  log "stopping kagami demo (SIGTERM)"
  kill -TERM -- "-$pid" 2>/dev/null || true
  if ! wait_exit "$pid" 60; then
    log "kagami demo did not stop within 60 s; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Prints $1 distinct free TCP ports on 127.0.0.1, below Linux's ephemeral range, one per line.
free_ports() {
  PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" python3 -c 'import sys; from benchlib import free_ports; print(*free_ports(int(sys.argv[1])), sep="\n")' "$1"
}
