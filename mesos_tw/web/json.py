"""
JSON responses with Mesos's C{?jsonp=callback} convention, query-argument
parsing with clear 400s, and flag rendering for the C{/flags} endpoints.
"""

import json
import re

__all__ = ["BadRequest", "flags_json", "int_argument", "json_response", "text_error"]

_CALLBACK = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$.]*$")


class BadRequest(ValueError):
    """
    A request argument that cannot be used; the message says why.
    """


def text_error(request, code, message):
    """
    An error response: status C{code} and a one-line text body.
    """
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
    return (message + "\n").encode("utf-8")


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
        return text_error(request, 400, "jsonp must be a JavaScript identifier")
    request.setHeader(b"Content-Type", b"text/javascript")
    return callback.encode("ascii") + b"(" + body + b");"


def int_argument(request, name, default, minimum=0):
    """
    The integer query argument C{name}, or C{default} when absent.

    @raise BadRequest: naming the argument, if it is not an integer of at
        least C{minimum}.
    """
    raw = request.args.get(name.encode("ascii"), [None])[0]
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {raw.decode(errors='replace')!r}")
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}")
    return value


def flags_json(options, names):
    """
    C{{"flags": {name: text}}} for the flags C{names} of parsed C{options}.
    """
    flags = {}
    for name in names:
        value = options.get(name)
        if value is not None:
            flags[name] = str(value)
    return {"flags": flags}
