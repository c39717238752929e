"""
JSON responses with Mesos's C{?jsonp=callback} convention (whole, or
streamed across turns of the reactor for large documents), query-argument
parsing with clear 400s, and flag rendering for the C{/flags} endpoints.
"""

import json
import re

from mesos_tw.web.producing import produce

__all__ = ["BadRequest", "LazyList", "LazyValue", "TURN", "flags_json", "int_argument",
           "json_response", "stream_json", "text_error"]

#: How many items of lazy lists one turn of the reactor renders.
ITEMS_PER_TURN = 250

#: How many items of a plain L{LazyList} are encoded at once.
PLAIN_BATCH = 50

# One encoder for every piece: json.dumps(value, sort_keys=True) makes a new
# one per call.
_ENCODE = json.JSONEncoder(sort_keys=True).encode

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


def _wrapping(request):
    """
    The text before and after the JSON: the C{jsonp} callback's, if one is
    asked for (the content type is set to match).

    @raise BadRequest: for a malformed callback name.
    """
    callback = request.args.get(b"jsonp", [None])[0]
    if callback is None:
        request.setHeader(b"Content-Type", b"application/json")
        return "", ""
    callback = callback.decode("utf-8", "replace")
    if not _CALLBACK.match(callback):
        raise BadRequest("jsonp must be a JavaScript identifier")
    request.setHeader(b"Content-Type", b"text/javascript")
    return callback + "(", ");"


def json_response(request, value):
    """
    Render C{value} as JSON for C{request}, wrapped in the C{jsonp} callback
    if one is asked for; a malformed callback name is a 400.
    """
    try:
        before, after = _wrapping(request)
    except BadRequest as error:
        return text_error(request, 400, str(error))
    return (before + json.dumps(value, sort_keys=True) + after).encode("utf-8")


class LazyList:
    """
    A JSON array that L{stream_json} renders one item at a time, giving
    the reactor back every L{ITEMS_PER_TURN} items.  It may be the value of
    a key of the streamed document or of a dict a lazy list's C{render}
    returns.

    @param items: the items (a list taken when the document is made, so
        that what is streamed is the set of records of that moment).
    @param render: turns one item into a JSON value.
    @param plain: whether every value C{render} returns is plain JSON (no
        lazy parts): then items are encoded L{PLAIN_BATCH} at a time, in one
        call of the encoder, which is most of the cost of a long list of
        small items (50,000 slaves in a summary).
    """

    def __init__(self, items, render, plain=False):
        self.items = items
        self.render = render
        self.plain = plain


#: Marks the end of one lazy list item, or one step of a L{LazyValue}'s
#: work: L{stream_json} may give the reactor a turn there.
TURN = object()


class LazyValue:
    """
    A JSON value that takes work to make, done in steps by L{stream_json}.

    @param produce: a function returning an iterator that yields L{TURN}
        after each step of work and then the value (which may hold
        L{LazyList}s).
    """

    def __init__(self, produce):
        self.produce = produce


def _pieces(value):
    """
    The JSON text of C{value} in pieces (as C{json.dumps} with sorted keys
    writes it), with L{TURN} after each lazy list item and each step of a
    lazy value.
    """
    if isinstance(value, LazyValue):
        for piece in value.produce():
            if piece is TURN:
                yield TURN
            else:
                yield from _pieces(piece)
    elif isinstance(value, LazyList) and value.plain:
        # The encoder writes a list's items as the loop below would, ", "
        # between them: a batch's text is its list's, without the brackets.
        yield "["
        items, render = value.items, value.render
        for start in range(0, len(items), PLAIN_BATCH):
            batch = [render(item) for item in items[start:start + PLAIN_BATCH]]
            yield (", " if start else "") + _ENCODE(batch)[1:-1]
            for _ in batch:
                yield TURN
        yield "]"
    elif isinstance(value, LazyList):
        yield "["
        for index, item in enumerate(value.items):
            if index:
                yield ", "
            yield from _pieces(value.render(item))
            yield TURN
        yield "]"
    elif isinstance(value, dict) and any(
            isinstance(v, (LazyList, LazyValue)) for v in value.values()):
        yield "{"
        for index, key in enumerate(sorted(value)):
            yield (", " if index else "") + json.dumps(key) + ": "
            yield from _pieces(value[key])
        yield "}"
    else:
        yield _ENCODE(value)


def stream_json(request, document, reactor, items_per_turn=ITEMS_PER_TURN):
    """
    Write C{document} (which may hold L{LazyList}s and L{LazyValue}s) as
    JSON to C{request}, C{items_per_turn} lazy items or steps per turn of
    C{reactor} and only while the client reads (L{mesos_tw.web.producing}),
    so that a large document neither stops the process's other work nor
    waits in its memory for a slow client; wrapped in the C{jsonp}
    callback if one is asked for (a malformed name is a 400).

    @return: a Deferred firing with the body's last bytes once the rest is
        written (Klein writes them and finishes the request); cancelling
        it (the client went away) stops the rendering.
    """
    try:
        before, after = _wrapping(request)
    except BadRequest as error:
        return text_error(request, 400, str(error))
    return produce(request, reactor, _chunks(before, _pieces(document), after, items_per_turn))


def _chunks(before, pieces, after, items_per_turn):
    """
    The document's text in bytes, one chunk per C{items_per_turn} lazy
    items or steps; the last chunk is returned, not yielded, so that a
    small document is answered in one turn.
    """
    buffer, items = [before], 0
    for piece in pieces:
        if piece is not TURN:
            buffer.append(piece)
            continue
        items += 1
        if items == items_per_turn:
            yield "".join(buffer).encode("utf-8")
            buffer, items = [], 0
    buffer.append(after)
    return "".join(buffer).encode("utf-8")


def int_argument(request, name, default, minimum=0):
    """
    The integer query argument C{name}, or C{default} when absent.

    @raise BadRequest: naming the argument, if it is not an integer of at
        least C{minimum} (L{None}: any integer).
    """
    raw = request.args.get(name.encode("ascii"), [None])[0]
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {raw.decode(errors='replace')!r}")
    if minimum is not None and value < minimum:
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
