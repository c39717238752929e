"""
A framework's or slave's authentication before it registers, as Mesos's
scheduler driver and slave do it: with each master detected (and each time
the connection to it is lost), authenticate with the credential, then
register; an attempt that errs or times out is tried again with backoff; a
refusal ends it.
"""

from twisted.internet.defer import CancelledError
from twisted.logger import Logger

from mesos_tw.authentication.cram_md5 import CLIENT_MESSAGES, CRAMMD5Authenticatee

__all__ = ["AUTHENTICATION_ATTEMPT_TIMEOUT", "ClientAuthentication"]

#: Seconds one attempt may take before it is abandoned and retried (Mesos's
#: C{--authentication_timeout_min}).
AUTHENTICATION_ATTEMPT_TIMEOUT = 5.0

#: The longest wait between attempts.
MAX_RETRY_INTERVAL = 60.0


class ClientAuthentication:
    """
    Authenticates a client with its master before its registration starts.

    @param node: the client's message node.
    @param credential: a C{mesos_pb2.Credential}, or L{None} for a client
        that does not authenticate (then C{start} goes straight on).
    @param authenticated: called with no argument once the master accepts
        us (then the client registers).
    @param refused: called with Mesos's message once the master refuses
        the credential.
    @ivar attempts: how many attempts were started (for tests and logs).
    """

    log = Logger()

    def __init__(self, clock, node, credential, authenticated, refused,
                 timeout=AUTHENTICATION_ATTEMPT_TIMEOUT):
        self._clock = clock
        self.node = node
        self.credential = credential
        self._authenticated = authenticated
        self._refused = refused
        self._timeout = timeout
        self._master = None
        self._attempt = None
        self._call = None
        self._interval = 1.0
        self.attempts = 0

    def start(self, master, delay=0.0):
        """
        Authenticate with C{master} (now, or after C{delay}), then call
        C{authenticated}; an attempt in progress is abandoned.
        """
        self.stop()
        self._master = master
        self._interval = 1.0
        if delay:
            self._call = self._clock.callLater(delay, self._begin)
        else:
            self._begin()

    def stop(self):
        """
        Abandon any attempt, and schedule none.
        """
        self._master = None
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        attempt, self._attempt = self._attempt, None
        if attempt is not None:
            attempt.result.cancel()

    def received(self, sender, message):
        """
        A message from C{sender}, if it belongs to the exchange in progress.

        @return: whether it did (authentication messages from elsewhere, or
            with no exchange in progress, are taken and dropped).
        """
        if not isinstance(message, CLIENT_MESSAGES):
            return False
        if self._attempt is not None and sender == self._master:
            self._attempt.received(message)
        else:
            self.log.warn("Ignoring {name} from {sender}: no authentication with it is in "
                          "progress", name=message.DESCRIPTOR.name, sender=str(sender))
        return True

    def _begin(self):
        self._call = None
        if self.node is None or self._master is None:
            return
        if self.credential is None:
            self._authenticated()
            return
        self.attempts += 1
        self.log.info("Authenticating with master {master}", master=str(self._master))
        attempt = self._attempt = CRAMMD5Authenticatee(self.node, self._master, self.credential)
        timeout = self._clock.callLater(self._timeout, attempt.result.cancel)
        attempt.start().addBoth(self._finished, attempt, timeout)

    def _finished(self, result, attempt, timeout):
        if timeout.active():
            timeout.cancel()
        if attempt is not self._attempt:
            return None
        self._attempt = None
        master = self._master
        if result is True:
            self.log.info("Successfully authenticated with master {master}", master=str(master))
            self._authenticated()
        elif result is False:
            self.log.error("Master {master} refused authentication", master=str(master))
            self._master = None
            self._refused("Master refused authentication")
        else:
            why = "timed out" if result.check(CancelledError) else result.getErrorMessage()
            self.log.warn("Failed to authenticate with master {master}: {why}; retrying in "
                          "{interval:g} s", master=str(master), why=why, interval=self._interval)
            self._call = self._clock.callLater(self._interval, self._begin)
            self._interval = min(self._interval * 2, MAX_RETRY_INTERVAL)
        return None
