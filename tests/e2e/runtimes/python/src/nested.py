"""Reached through a handler string with a folder: `src/nested.handler`."""


def handler(event, context):
    return {"module": __name__}
