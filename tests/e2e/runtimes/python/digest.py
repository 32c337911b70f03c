"""Answers the length and SHA-256 of event["data"]: a large event must arrive whole."""
import hashlib


def handler(event, context):
    data = event["data"].encode("utf-8")
    return {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
