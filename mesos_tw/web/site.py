"""
The HTTP server of a master's or slave's port, bounded against clients
that would hold it: a request must arrive whole within a deadline (408
otherwise), and its body may not pass a size (413).
"""

from twisted.logger import Logger
from twisted.web.http import HTTPChannel
from twisted.web.server import Request, Site

__all__ = ["BoundedSite", "MAX_REQUEST_BYTES", "REQUEST_TIMEOUT"]

#: The largest request body accepted (the v1 APIs' calls are the largest:
#: Mesos's scheduler calls are far smaller).
MAX_REQUEST_BYTES = 4 * 1024 * 1024

#: Seconds a client has from the first byte of a request to its last.
REQUEST_TIMEOUT = 10.0


def _plain_response(code, reason, text):
    """
    A whole HTTP response that closes the connection, written without a
    request (the request never got that far).
    """
    body = (text + "\n").encode("utf-8")
    return (b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (code, reason, len(body), body))


class _BoundedRequest(Request):
    """
    A request whose body is refused once it passes the site's limit,
    whether its length was announced or it comes in chunks.
    """

    _body_bytes = 0

    def handleContentChunk(self, data):
        if self.channel is None or self.channel.refused:
            return
        self._body_bytes += len(data)
        limit = self.channel.site.max_request_bytes
        if self._body_bytes > limit:
            self.channel.refuse(413, b"Content Too Large",
                                f"the request body is over the limit of {limit} bytes")
            return
        super().handleContentChunk(data)


class _BoundedChannel(HTTPChannel):
    """
    An HTTP connection that must deliver each request whole within the
    site's C{request_timeout} (from its first byte), and whose requests'
    bodies are bounded.

    @ivar refused: whether the connection was answered with an error and is
        closing; nothing more it sends is read.
    @ivar on_identified: called once, when the first request has arrived
        whole (the listening port's
        L{mesos_tw.protocols.guard.ConnectionGuard} stops counting the
        connection then), or L{None}.
    """

    log = Logger()
    refused = False
    on_identified = None
    _deadline = None
    _busy = False

    def dataReceived(self, data):
        if self.refused:
            return
        if self._deadline is None and not self._busy:
            self._deadline = self.site.reactor.callLater(
                self.site.request_timeout, self._too_slow)
        super().dataReceived(data)

    def allHeadersReceived(self):
        limit = self.site.max_request_bytes
        if self.length is not None and self.length > limit:
            self.refuse(413, b"Content Too Large", f"the request body of {self.length} bytes "
                        f"is over the limit of {limit} bytes")
            return
        super().allHeadersReceived()

    def allContentReceived(self):
        if self.refused:
            return
        self._cancel_deadline()
        self._busy = True
        if self.on_identified is not None:
            identified, self.on_identified = self.on_identified, None
            identified()
        super().allContentReceived()

    def requestDone(self, request):
        self._busy = False
        super().requestDone(request)

    def _too_slow(self):
        self._deadline = None
        self.refuse(408, b"Request Timeout",
                    f"the request did not arrive whole within {self.site.request_timeout:g} s")

    def refuse(self, code, reason, text):
        """
        Answer C{code} saying why, and close the connection.
        """
        if self.refused:
            return
        self.refused = True
        self._cancel_deadline()
        self.log.warn("Refusing an HTTP request from {address}: {why}",
                      address=self.transport.getPeer(), why=text)
        self.transport.write(_plain_response(code, reason, text))
        self.transport.loseConnection()

    def _cancel_deadline(self):
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def connectionLost(self, reason):
        self._cancel_deadline()
        super().connectionLost(reason)


class BoundedSite(Site):
    """
    A L{Site} whose connections are L{_BoundedChannel}s.

    @param reactor: what the deadlines are timed with.
    @param max_request_bytes: the largest request body accepted.
    @param request_timeout: seconds from a request's first byte to its last.
    """

    protocol = _BoundedChannel
    requestFactory = _BoundedRequest

    def __init__(self, resource, reactor, max_request_bytes=MAX_REQUEST_BYTES,
                 request_timeout=REQUEST_TIMEOUT, **kwargs):
        super().__init__(resource, reactor=reactor, **kwargs)
        self.max_request_bytes = max_request_bytes
        self.request_timeout = request_timeout
