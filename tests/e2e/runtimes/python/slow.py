"""Runs past its function's timeout."""
import os
import time


def handler(event, context):
    print(f"slow start pid={os.getpid()}", flush=True)
    time.sleep(event.get("sleep", 30))
    return {"pid": os.getpid()}
