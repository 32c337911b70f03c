"""Imports nothing: reports which heavy modules the runtime loaded anyway."""
import sys

HEAVY = ("botocore", "boto3", "logging", "http.client", "email", "ssl", "traceback", "asyncio")


def handler(event, context):
    return {name: name in sys.modules for name in HEAVY}
