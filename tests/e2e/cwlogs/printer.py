import json


def handler(event, context):
    tag = event.get("tag", "none") if isinstance(event, dict) else "api"
    print(f"plain line tag={tag}")
    print(f"ERROR something failed tag={tag}")
    print(json.dumps({"level": "warn", "tag": tag, "ms": 250, "ok": False, "user": None}))
    return {"tag": tag, "stream": context.log_stream_name}
