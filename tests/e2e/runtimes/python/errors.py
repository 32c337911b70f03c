"""Raises, as a handler with a bug would."""


def check(order):
    if "id" not in order:
        raise ValueError(f"order has no id: {order}")
    return order["id"]


def handler(event, context):
    return {"id": check(event)}
