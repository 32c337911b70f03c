"""Imports a package that is not deployed with the function."""
import requests_that_is_not_installed  # noqa: F401


def handler(event, context):
    return "never reached"
