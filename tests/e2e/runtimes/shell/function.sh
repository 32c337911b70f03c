# The handler of the shell custom runtime: logs the event on stderr and
# answers JSON naming the runtime, the request and the shell's pid.
function handler () {
  EVENT_DATA=$1
  echo "shell handler got: $EVENT_DATA" 1>&2
  echo "{\"runtime\": \"shell\", \"requestId\": \"$2\", \"pid\": $$, \"event\": $EVENT_DATA, \"execEnv\": \"${AWS_EXECUTION_ENV:-}\"}"
}
