"""Dies in the middle of an invocation when asked to."""
import os


def handler(event, context):
    if event.get("crash"):
        print("about to exit")
        os._exit(1)
    return {"pid": os.getpid()}
