"""Logs at every level through the root logger, leaving its level alone:
what reaches the log depends on AWS_LAMBDA_LOG_LEVEL (WARNING without it)."""
import logging


def handler(event, context):
    logging.debug("debug line")
    logging.info("info line")
    logging.warning("warning line")
    logging.error("error line")
    return "logged"
