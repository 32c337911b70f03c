#!/bin/sh
# Test handler: reads the event, logs a line to stderr and exits 3
# (a function error: Runtime.ExitError "exit status 3").
cat >/dev/null
echo "exit3.sh: giving up with status 3" >&2
exit 3
