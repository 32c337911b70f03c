#!/bin/sh
# An exec function: reads the event, logs to stderr, answers on stdout.
read -r event
echo "shell got $event" >&2
echo "[WARN] 10.0.0.1 GET /x 404 12" >&2
echo '{"ok": true}'
