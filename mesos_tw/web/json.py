"""
JSON responses with Mesos's C{?jsonp=callback} convention.
"""

import json
import re

__all__ = ["json_response"]

_CALLBACK = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$.]*$")


def json_response(request, value):
    """
    Render C{value} as JSON for C{request}, wrapped in the C{jsonp} callback
    if one is asked for; a malformed callback name is a 400.
    """
    body = json.dumps(value, sort_keys=True).encode("utf-8")
    callback = request.args.get(b"jsonp", [None])[0]
    if callback is None:
        request.setHeader(b"Content-Type", b"application/json")
        return body
    callback = callback.decode("utf-8", "replace")
    if not _CALLBACK.match(callback):
        request.setResponseCode(400)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        return b"jsonp must be a JavaScript identifier\n"
    request.setHeader(b"Content-Type", b"text/javascript")
    return callback.encode("ascii") + b"(" + body + b");"
