"""
What the master's HTTP apps share: serving a route only on the leading
master (a standby redirects to the leader), and rendering a page.
"""

from functools import wraps

from twisted.internet.defer import Deferred
from twisted.web.template import Element

from mesos_tw.web.json import BadRequest, text_error
from mesos_tw.web.layout import render_page

__all__ = ["leader_only", "redirect_to_leader"]


def leader_only(route):
    """
    Serve C{route}, given the leading L{Master} after the request, when we
    lead (a L{BadRequest} it raises is a 400); elsewhere redirect to the
    leader.
    """

    @wraps(route)
    def serve(self, request, *args, **kwargs):
        leadership = self.leadership
        if leadership.elected and leadership.master is not None:
            try:
                result = route(self, request, leadership.master, *args, **kwargs)
            except BadRequest as error:
                return text_error(request, 400, str(error))
            if isinstance(result, Deferred):
                return result.addCallback(_html, request)
            return _html(result, request)
        leader = leadership.leader
        if leader is None or leader == leadership.pid:
            request.setHeader(b"Retry-After", b"1")
            return text_error(request, 503, "no leading master is elected; try again shortly")
        return redirect_to_leader(request, leader, request.uri)

    return serve


def redirect_to_leader(request, leader, path):
    """
    Answer C{request} with a 307 to C{path} on the L{UPID} C{leader}, in the
    scheme the request came in (Mesos sends a protocol-relative C{//host:port}
    for the client to complete the same way; an absolute URL also serves
    clients that do not resolve relative locations).
    """
    scheme = b"https" if request.isSecure() else b"http"
    request.setResponseCode(307)
    request.setHeader(b"Location", b"%s://%s:%d%s" % (
        scheme, leader.host.encode("ascii"), leader.port, path))
    return b""


def _html(result, request):
    """
    A page (an L{Element}) as HTML bytes; anything else as it is.
    """
    return render_page(request, result) if isinstance(result, Element) else result
