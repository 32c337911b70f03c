"""A handler as the Lambda docs write one. Module-level state lives as long
as the instance: `count` grows with each warm invocation."""
import json
import logging
import os
import time

logger = logging.getLogger()
logger.setLevel("INFO")

count = 0
loaded_at = time.time()
print("app.py loaded")  # init-time output goes to the log too


def handler(event, context):
    global count
    count += 1
    print(f"print from the handler: count={count}")
    logger.info("logging from the handler: %s", json.dumps(event))
    if isinstance(event, dict) and event.get("sleep"):
        time.sleep(event["sleep"])  # keeps the instance busy (concurrency tests)
    if isinstance(event, dict) and event.get("warn"):
        logger.warning("line one\nline two")
    return {
        "count": count,
        "pid": os.getpid(),
        "remaining": context.get_remaining_time_in_millis(),
        "event": event,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": context.client_context and context.client_context.custom,
        "env": {k: os.environ.get(k) for k in (
            "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "TZ", "_X_AMZN_TRACE_ID", "GREETING")},
        "cwd": os.getcwd(),
    }


def not_json(event, context):
    return {"when": {1, 2}}  # a set: json cannot encode it


def big(event, context):
    return "x" * event["size"]  # past Lambda's 6 MB answer limit when asked
