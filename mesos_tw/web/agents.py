"""
How the master's UI reads a slave's own HTTP endpoints (its state and its
sandbox files): the slave pages are rendered by the master, which asks the
slave, so the browser only ever talks to the master it opened (no
cross-origin requests, no slave addresses it cannot reach, no slave
certificates or credentials of its own); downloads are relayed at the pace
the browser reads.
"""

import json
from urllib.parse import urlencode

from treq.client import HTTPClient
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.web.client import Agent, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

__all__ = ["BodyRelay", "SlaveUnavailable", "SlaveClient", "slave_url"]

#: Seconds a slave has to answer the master's UI before the page says so.
SLAVE_TIMEOUT = 10.0


class SlaveUnavailable(Exception):
    """
    A slave that did not answer, or answered with an error.

    @ivar code: the HTTP status to give the browser: the slave's own 4xx,
        or 502 when it could not be reached or failed.
    """

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def slave_url(pid, endpoint, scheme="http", **params):
    """
    The URL of C{endpoint} on the slave whose C{UPID} text is C{pid}
    (C{slave(1)@host:port}), with query C{params}.
    """
    address = pid.split("@", 1)[-1]
    query = ("?" + urlencode(params)) if params else ""
    return f"{scheme}://{address}{endpoint}{query}"


@implementer(IPolicyForHTTPS)
class _TLSPolicy:
    """
    Twisted's HTTPS client policy from a L{mesos_tw.protocols.tls.TLSConfig}
    (our certificate for mutual TLS, the CA, verification).
    """

    def __init__(self, tls):
        self.tls = tls

    def creatorForNetloc(self, hostname, port):
        return self.tls.client_creator(hostname.decode("ascii"))


class SlaveClient:
    """
    Reads JSON from slaves over HTTP.

    @param reactor: the reactor its requests and timeouts run on.
    @param http: a treq-like client (C{get(url, ...)} giving responses with
        C{code} and C{content()}); by default one on an L{Agent} of
        C{reactor}.  Tests give a L{treq.testing.StubTreq}.
    @param tls: the master's L{TLSConfig}: slaves are asked over HTTPS
        when it is enabled.
    @param authorization: the C{Authorization} header of the browser's
        request, passed on, so that a slave asking for credentials
        (C{--authenticate_http_readonly}) gets the user's.
    """

    def __init__(self, reactor, http=None, timeout=SLAVE_TIMEOUT, authorization=None,
                 tls=None):
        self.reactor = reactor
        self.scheme = "https" if tls is not None and tls.enabled else "http"
        self.headers = {b"Authorization": [authorization]} if authorization else {}
        if http is None:
            agent = Agent(reactor, connectTimeout=timeout) if self.scheme == "http" else \
                Agent(reactor, connectTimeout=timeout, contextFactory=_TLSPolicy(tls))
            http = HTTPClient(agent)
        self.http = http
        self.timeout = timeout

    def get_json(self, pid, endpoint, **params):
        """
        GET C{endpoint} (with query C{params}) on slave C{pid}: a Deferred
        firing with the decoded JSON, or failing with L{SlaveUnavailable}.
        """
        url = slave_url(pid, endpoint, self.scheme, **params)
        d = self.http.get(url, headers=self.headers, timeout=self.timeout,
                          reactor=self.reactor)

        def unreachable(failure):
            reason = failure.getErrorMessage() or failure.type.__name__
            raise SlaveUnavailable(502, f"slave {pid} did not answer: {reason}")

        def read(response):
            d = response.content()
            d.addCallback(lambda body: (response.code, body))
            return d

        def decode(answer):
            code, body = answer
            text = body.decode("utf-8", "replace").strip()
            if code != 200:
                raise SlaveUnavailable(code if 400 <= code < 500 else 502,
                                       text or f"slave {pid} answered {code}")
            try:
                return json.loads(text)
            except ValueError:
                raise SlaveUnavailable(502, f"slave {pid} sent something that is not JSON")

        d.addCallbacks(read, unreachable)
        d.addCallback(decode)
        return d

    def relay(self, pid, endpoint, request, **params):
        """
        GET C{endpoint} (with query C{params}) on slave C{pid} and write its
        body to C{request} as it arrives, pausing the slave's response while
        C{request}'s client does not read.

        @return: a Deferred firing (with C{b""}) once it is all written, or
            failing with L{SlaveUnavailable} when the slave did not answer
            200 (nothing was written then).
        """
        url = slave_url(pid, endpoint, self.scheme, **params)
        d = self.http.get(url, headers=self.headers, timeout=self.timeout,
                          reactor=self.reactor, unbuffered=True)

        def unreachable(failure):
            reason = failure.getErrorMessage() or failure.type.__name__
            raise SlaveUnavailable(502, f"slave {pid} did not answer: {reason}")

        def refused(body, code):
            text = body.decode("utf-8", "replace").strip()
            raise SlaveUnavailable(code if 400 <= code < 500 else 502,
                                   text or f"slave {pid} answered {code}")

        def answered(response):
            if response.code != 200:
                return response.content().addCallback(refused, response.code)
            for name in (b"content-type", b"content-disposition"):
                values = response.headers.getRawHeaders(name)
                if values:
                    request.setHeader(name, values[0])
            if isinstance(response.length, int):
                request.setHeader(b"content-length", b"%d" % response.length)
            done = Deferred()
            response.deliverBody(BodyRelay(request, done, f"{url}"))
            return done

        d.addCallbacks(answered, unreachable)
        return d


@implementer(IPushProducer)
class BodyRelay(Protocol):
    """
    Writes a response's body to a request as it arrives; the request's
    client pausing pauses the response (its connection stops being read).

    @param done: fired with C{b""} when the body has ended.
    """

    log = Logger()

    def __init__(self, request, done, source):
        self.request = request
        self.done = done
        self.source = source

    def connectionMade(self):
        self.request.registerProducer(self, True)

    def dataReceived(self, data):
        self.request.write(data)

    def connectionLost(self, reason):
        self.request.unregisterProducer()
        if not reason.check(ResponseDone, PotentialDataLoss):
            # Cut short: close the browser's connection rather than let a
            # partial file look whole.
            self.log.warn("Relaying {source} failed: {error}", source=self.source,
                          error=reason.getErrorMessage())
            self.request.transport.loseConnection()
        self.done.callback(b"")

    def pauseProducing(self):
        self.transport.pauseProducing()

    def resumeProducing(self):
        self.transport.resumeProducing()

    def stopProducing(self):
        self.transport.stopProducing()
