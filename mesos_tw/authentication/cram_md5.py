"""
CRAM-MD5 (RFC 2195) over Mesos's authentication messages, with HMAC-MD5
from the standard library instead of a SASL library:

    client                                   master
    AuthenticateMessage{pid}          ->
                                      <-     AuthenticationMechanismsMessage{["CRAM-MD5"]}
    AuthenticationStartMessage{"CRAM-MD5"} ->
                                      <-     AuthenticationStepMessage{challenge}
    AuthenticationStepMessage{"<principal> <hex HMAC-MD5(secret, challenge)>"} ->
                                      <-     AuthenticationCompletedMessage
                                             (or ...FailedMessage, or ...ErrorMessage{error})
"""

import hmac
import secrets
import socket

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw.authentication.interfaces import IAuthenticationSession, IAuthenticator
from mesos_tw.protocols import messages_pb2 as internal

__all__ = ["AuthenticationError", "CLIENT_MESSAGES", "CRAMMD5Authenticatee",
           "CRAMMD5Authenticator", "MECHANISM", "response_to"]

MECHANISM = "CRAM-MD5"

#: What the master sends a client during authentication.
CLIENT_MESSAGES = (
    internal.AuthenticationMechanismsMessage,
    internal.AuthenticationStepMessage,
    internal.AuthenticationCompletedMessage,
    internal.AuthenticationFailedMessage,
    internal.AuthenticationErrorMessage,
)


class AuthenticationError(Exception):
    """
    The exchange went wrong (not a refusal of the credentials): the
    message says how.
    """


def response_to(challenge, principal, secret):
    """
    The client's CRAM-MD5 answer to C{challenge} (bytes).
    """
    digest = hmac.new(secret.encode("utf-8"), challenge, "md5").hexdigest()
    return f"{principal} {digest}".encode("utf-8")


@implementer(IAuthenticationSession)
class _Session:
    """
    One client's CRAM-MD5 exchange on the master.
    """

    log = Logger()

    def __init__(self, secrets_by_principal, send, clock, hostname):
        self._secrets = secrets_by_principal
        self._send = send
        self._challenge = None
        self._stamp = f"{int(clock.seconds())}@{hostname}"
        self.result = Deferred()
        send(internal.AuthenticationMechanismsMessage(mechanisms=[MECHANISM]))

    def received(self, message):
        """
        The client's start or step.
        """
        if self.result.called:
            return
        if isinstance(message, internal.AuthenticationStartMessage):
            if message.mechanism != MECHANISM:
                return self._error(f"Unsupported authentication mechanism "
                                   f"'{message.mechanism}' (offered: {MECHANISM})")
            if self._challenge is not None:
                return self._error("Authentication already started")
            self._challenge = f"<{secrets.randbits(64)}.{self._stamp}>".encode("ascii")
            self._send(internal.AuthenticationStepMessage(data=self._challenge))
        elif self._challenge is None:
            self._error("Authentication step before its start")
        else:
            self._check(message.data)

    def _check(self, data):
        principal = data.decode("utf-8", "replace").rpartition(" ")[0]
        secret = self._secrets.get(principal)
        if secret is not None and hmac.compare_digest(
                response_to(self._challenge, principal, secret), data):
            self._send(internal.AuthenticationCompletedMessage())
            self.result.callback(principal)
        else:
            self._send(internal.AuthenticationFailedMessage())
            self.result.callback(None)

    def _error(self, text):
        self._send(internal.AuthenticationErrorMessage(error=text))
        self.result.errback(AuthenticationError(text))


@implementer(IAuthenticator)
class CRAMMD5Authenticator:
    """
    The master's CRAM-MD5 authenticator (Mesos's
    C{CRAMMD5Authenticator}): principals and secrets from C{--credentials}.
    """

    def __init__(self, clock, hostname=None):
        self._clock = clock
        self._hostname = hostname or socket.gethostname()
        self._secrets = {}

    def initialize(self, credentials):
        """
        Take the C{Credentials} to check clients against.
        """
        self._secrets = {c.principal: c.secret for c in credentials.credentials} \
            if credentials is not None else {}

    def authenticate(self, send):
        """
        A new session; it offers CRAM-MD5 at once.
        """
        return _Session(self._secrets, send, self._clock, self._hostname)


class CRAMMD5Authenticatee:
    """
    A framework's or slave's side of one authentication with its master,
    over its message node.

    @ivar result: fires with C{True} once the master completes the
        authentication, C{False} when it refuses the credential, and
        fails with L{AuthenticationError} when the exchange goes wrong.
        Cancelling it abandons the attempt.
    """

    def __init__(self, node, master, credential):
        self._node = node
        self._master = master
        self._credential = credential
        self.result = Deferred()

    def start(self):
        """
        Ask the master to authenticate us.

        @return: L{result}.
        """
        self._node.send(self._master, internal.AuthenticateMessage(pid=str(self._node.upid)))
        return self.result

    def received(self, message):
        """
        A message from the master, if it is part of the exchange.

        @return: whether it was.
        """
        handler = {
            internal.AuthenticationMechanismsMessage: self._mechanisms,
            internal.AuthenticationStepMessage: self._step,
            internal.AuthenticationCompletedMessage: lambda m: self._end(True),
            internal.AuthenticationFailedMessage: lambda m: self._end(False),
            internal.AuthenticationErrorMessage: lambda m: self._fail(m.error),
        }.get(type(message))
        if handler is None:
            return False
        if not self.result.called:
            handler(message)
        return True

    def _mechanisms(self, message):
        if MECHANISM not in message.mechanisms:
            self._fail(f"The master offers no mechanism we support ({MECHANISM}): "
                       f"{', '.join(message.mechanisms) or 'none'}")
            return
        self._node.send(self._master, internal.AuthenticationStartMessage(mechanism=MECHANISM))

    def _step(self, message):
        self._node.send(self._master, internal.AuthenticationStepMessage(data=response_to(
            message.data, self._credential.principal, self._credential.secret)))

    def _end(self, completed):
        self.result.callback(completed)

    def _fail(self, text):
        self.result.errback(AuthenticationError(text))
