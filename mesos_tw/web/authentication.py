"""
HTTP authentication of a master's or slave's endpoints, as Mesos does it:
HTTP Basic with the C{--credentials} principals and secrets, asked for by
realm (read-only endpoints, read-write endpoints, the v1 scheduler API) as
C{--authenticate_http_readonly}, C{--authenticate_http_readwrite} and
C{--authenticate_http_frameworks} say; a request without good credentials
is answered 401 with C{WWW-Authenticate}.  The principal authenticated is
the request's C{principal} (L{None} where nothing was asked).
"""

import base64
import hmac

from twisted.logger import Logger
from twisted.web.resource import Resource

__all__ = ["AuthenticatedResource", "HTTPAuthenticator", "guarded", "master_realm",
           "principal_of", "slave_realm"]

#: Endpoints nobody authenticates for (as in Mesos: health, the redirect
#: to the leader, the version, and the UI's static files).
_OPEN_PATHS = {b"/health", b"/master/health", b"/slave(1)/health", b"/redirect",
               b"/master/redirect", b"/version"}
_OPEN_PREFIXES = (b"/static/",)


def master_realm(path):
    """
    The kind of a master endpoint: C{None} (open), C{"readonly"},
    C{"readwrite"} or C{"framework"}.
    """
    if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
        return None
    if path == b"/api/v1/scheduler":
        return "framework"
    if path in (b"/master/teardown", b"/teardown"):
        return "readwrite"
    return "readonly"


def slave_realm(path):
    """
    The kind of a slave endpoint: C{None} (open, including the v1 executor
    API, whose callers authenticate with their executor's secret) or
    C{"readonly"}.
    """
    if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES) or path == b"/api/v1/executor":
        return None
    return "readonly"


def principal_of(request):
    """
    The principal C{request} authenticated as, or L{None}.
    """
    return getattr(request, "principal", None)


class HTTPAuthenticator:
    """
    Which realms ask for credentials, and checking them.

    @param credentials: a C{Credentials} message, or L{None}.
    @param required: the kinds of endpoint that need authentication (a
        set of C{"readonly"}, C{"readwrite"}, C{"framework"}).
    @param realm_prefix: C{mesos-master} or C{mesos-agent}, for the realm
        names Mesos uses (C{mesos-master-readonly}...).
    """

    log = Logger()

    def __init__(self, credentials, required, realm_prefix):
        self.secrets = {c.principal: c.secret for c in credentials.credentials} \
            if credentials is not None else {}
        self.required = set(required)
        self.realm_prefix = realm_prefix

    def realm(self, kind):
        """
        Mesos's realm name for a kind of endpoint.
        """
        suffix = "scheduler" if kind == "framework" else kind
        return f"{self.realm_prefix}-{suffix}"

    def authenticate(self, request):
        """
        The principal of C{request}'s HTTP Basic credentials when they are
        good, else L{None}.
        """
        header = request.getHeader(b"authorization")
        if header is None:
            return None
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        principal, colon, secret = decoded.partition(":")
        expected = self.secrets.get(principal)
        if not colon or expected is None or not hmac.compare_digest(
                expected.encode("utf-8"), secret.encode("utf-8")):
            return None
        return principal


class AuthenticatedResource(Resource):
    """
    A leaf resource (a Klein app's) behind HTTP authentication.

    @param inner: the resource served once the request is authenticated.
    @param authenticator: an L{HTTPAuthenticator}.
    @param realm_of: says which kind of endpoint a path is
        (L{master_realm}, L{slave_realm}).
    """

    isLeaf = True
    log = Logger()

    def __init__(self, inner, authenticator, realm_of):
        super().__init__()
        self.inner = inner
        self.authenticator = authenticator
        self.realm_of = realm_of

    def render(self, request):
        """
        Serve C{request} if it needs no authentication or has good
        credentials; otherwise 401 asking for them.
        """
        request.principal = None
        kind = self.realm_of(request.path)
        if kind is not None and kind in self.authenticator.required:
            principal = self.authenticator.authenticate(request)
            if principal is None:
                return self._unauthorized(request, kind)
            request.principal = principal
        return self.inner.render(request)

    def _unauthorized(self, request, kind):
        realm = self.authenticator.realm(kind)
        given = request.getHeader(b"authorization") is not None
        self.log.info("Refusing {method} {path} from {address}: {why}",
                      method=request.method.decode("ascii", "replace"),
                      path=request.path.decode("utf-8", "replace"),
                      address=request.getClientAddress(),
                      why="bad credentials" if given else "no credentials")
        request.setResponseCode(401)
        request.setHeader(b"WWW-Authenticate", f'Basic realm="{realm}"'.encode("ascii"))
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        text = ("Invalid credentials" if given else "Authentication required") + \
            f" (HTTP Basic, realm {realm})\n"
        return text.encode("utf-8")


def guarded(resource, credentials, required, realm_prefix, realm_of):
    """
    C{resource} behind HTTP authentication of the C{required} kinds of
    endpoint, or as it is when none is required.
    """
    if not required:
        return resource
    return AuthenticatedResource(
        resource, HTTPAuthenticator(credentials, required, realm_prefix), realm_of)
