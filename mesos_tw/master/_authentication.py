"""
The master's side of framework and slave authentication (Mesos's
C{Master::authenticate} and the checks of registration): sessions with the
C{--authenticators} plugin, the principals authenticated, and the refusal
of unauthenticated registrations when C{--authenticate_frameworks} or
C{--authenticate_agents} asks.  Mixed into L{mesos_tw.master.master.Master}.
"""

from mesos_tw.protocols import messages_pb2 as internal

__all__ = ["AUTHENTICATION_TIMEOUT", "AuthenticationManagement"]

#: Seconds a client has to finish authenticating (Mesos's
#: C{--authentication_v0_timeout}).
AUTHENTICATION_TIMEOUT = 15.0


class AuthenticationManagement:
    """
    Authentication for the L{Master}.  It expects C{authenticator} (an
    L{IAuthenticator} or L{None}), C{authenticate_frameworks},
    C{authenticate_slaves}, C{authenticated} (C{{upid: principal}}) and
    C{_authenticating} (C{{upid: (session, timeout, held messages)}}).
    """

    def _authentication_handlers(self):
        """
        The handlers of the authentication messages, and the registration
        handlers wrapped in the authentication checks.
        """
        handlers = {
            internal.AuthenticateMessage: self._authenticate,
            internal.AuthenticationStartMessage: self._authentication_message,
            internal.AuthenticationStepMessage: self._authentication_message,
        }
        for kind, admitted in ((internal.RegisterSlaveMessage, self._slave_admitted),
                               (internal.ReregisterSlaveMessage, self._slave_admitted),
                               (internal.RegisterFrameworkMessage, self._framework_admitted),
                               (internal.ReregisterFrameworkMessage, self._framework_admitted)):
            handlers[kind] = self._checked(admitted, self.dispatcher.handlers[kind])
        return handlers

    def _checked(self, admitted, handler):
        def check(sender, message):
            entry = self._authenticating.get(sender)
            if entry is not None:
                self.log.info("Queuing up {name} from {pid} because authentication is still "
                              "in progress", name=message.DESCRIPTOR.name, pid=str(sender))
                entry[2].append((sender, message))
            elif admitted(sender, message):
                self.node.admitted(sender)
                handler(sender, message)
        return check

    def _slave_admitted(self, sender, message):
        if self.authenticate_slaves and sender not in self.authenticated:
            self.log.warn("Refusing registration of agent at {pid} because it is not "
                          "authenticated", pid=str(sender))
            return False
        return True

    def _framework_admitted(self, sender, message):
        info = message.framework
        principal = self.authenticated.get(sender)
        if self.authenticate_frameworks and principal is None:
            self._send_error(sender, f"Framework at {sender} is not authenticated")
            return False
        if principal is not None and info.principal and info.principal != principal:
            self._send_error(sender, f"Framework principal '{info.principal}' does not match "
                                     f"authenticated principal '{principal}'")
            return False
        if principal and not info.principal:
            self.log.info("Setting 'principal' in FrameworkInfo to '{principal}' because the "
                          "framework authenticated with that principal but did not set it",
                          principal=principal)
            info.principal = principal
        return True

    def trust(self, upid, principal):
        """
        Take C{upid} as authenticated as C{principal} without an exchange:
        for the master's own v1 HTTP scheduler subscriptions, which HTTP
        authentication vouches for.
        """
        self.authenticated[upid] = principal

    def _authenticate(self, sender, message):
        """
        A client asks to authenticate: start a session (a new request
        discards one in progress).
        """
        erased = self.authenticated.pop(sender, None) is not None
        self.node.unpin(sender)
        if self.authenticator is None:
            self.log.error("Received authentication request from {pid} but authenticator is "
                           "not loaded", pid=str(sender))
            self.node.send(sender, internal.AuthenticationErrorMessage(
                error="No authenticator loaded"))
            return
        previous = self._authenticating.pop(sender, None)
        held = []
        if previous is not None:
            self.log.info("Re-authenticating {pid}; discarding outstanding authentication",
                          pid=str(sender))
            held = previous[2]
            previous[1].cancel()
            previous[0].result.cancel()
        else:
            self.log.info("Authenticating {pid}{cleared}", pid=str(sender),
                          cleared="; clearing previous authentication" if erased else "")
        session = self.authenticator.authenticate(lambda reply: self.node.send(sender, reply))
        timeout = self.reactor.callLater(AUTHENTICATION_TIMEOUT, self._authentication_timed_out,
                                         sender, session)
        self._authenticating[sender] = (session, timeout, held)
        session.result.addBoth(self._authenticated, sender, session)

    def _authentication_message(self, sender, message):
        entry = self._authenticating.get(sender)
        if entry is None:
            self.log.warn("Ignoring {name} from {pid}: it is not authenticating",
                          name=message.DESCRIPTOR.name, pid=str(sender))
            return
        entry[0].received(message)

    def _authentication_timed_out(self, sender, session):
        self.log.warn("Authentication of {pid} timed out", pid=str(sender))
        session.result.cancel()

    def _authenticated(self, result, sender, session):
        entry = self._authenticating.get(sender)
        if entry is None or entry[0] is not session:
            self.log.info("Ignoring stale authentication result of {pid}", pid=str(sender))
            return None
        del self._authenticating[sender]
        if entry[1].active():
            entry[1].cancel()
        if isinstance(result, str):
            self.log.info("Successfully authenticated principal '{principal}' at {pid}",
                          principal=result, pid=str(sender))
            self.authenticated[sender] = result
            self.node.pin(sender)
        elif result is None:
            self.log.info("Authentication of {pid} was unsuccessful: Invalid credentials",
                          pid=str(sender))
        else:
            self.log.warn("An error occurred while attempting to authenticate {pid}: {error}",
                          pid=str(sender), error=result.getErrorMessage())
        for held_sender, message in entry[2]:
            self._message(held_sender, message)
        return None
