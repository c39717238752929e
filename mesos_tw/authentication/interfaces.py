"""
Authenticators are plugins: C{--authenticators=<name>} picks the installed
L{IAuthenticatorFactory} of that name (C{crammd5} ships with mesos_tw), as
Mesos's C{--authenticators} picks a module.
"""

from twisted.plugin import IPlugin, getPlugins
from zope.interface import Attribute, Interface

__all__ = ["DEFAULT_AUTHENTICATOR", "IAuthenticationSession", "IAuthenticator",
           "IAuthenticatorFactory", "authenticator_factory"]

#: Mesos's default C{--authenticators}.
DEFAULT_AUTHENTICATOR = "crammd5"


class IAuthenticationSession(Interface):
    """
    One client's authentication in progress on the master.
    """

    result = Attribute(
        "A Deferred firing with the authenticated principal (a string), or "
        "L{None} when the client's credentials are refused; it fails when the "
        "exchange goes wrong.  Cancelling it abandons the session.")

    def received(message):
        """
        The client sent C{message}: an C{AuthenticationStartMessage} or
        C{AuthenticationStepMessage}.
        """


class IAuthenticator(Interface):
    """
    The master's side of authentication (Mesos's C{Authenticator}).
    """

    def initialize(credentials):
        """
        Take the master's C{Credentials} (from C{--credentials}), or L{None}
        when it has none.

        @raise ValueError: if this authenticator cannot work with them.
        """

    def authenticate(send):
        """
        Start authenticating a client: C{send(message)} reaches it.  The
        session begins by sending the mechanisms offered
        (C{AuthenticationMechanismsMessage}).

        @return: an L{IAuthenticationSession}.
        """


class IAuthenticatorFactory(IPlugin):
    """
    A plugin that makes authenticators.
    """

    name = Attribute("The unique name C{--authenticators} takes.")
    description = Attribute("One line saying what it checks.")

    def make_authenticator(reactor):
        """
        A new L{IAuthenticator}.
        """


def authenticator_factory(name):
    """
    The installed L{IAuthenticatorFactory} called C{name}.

    @raise ValueError: naming the authenticators that are installed.
    """
    import mesos_tw.plugins

    factories = {factory.name: factory
                 for factory in getPlugins(IAuthenticatorFactory, mesos_tw.plugins)}
    if name not in factories:
        known = ", ".join(sorted(factories)) or "none"
        raise ValueError(f"Authenticator '{name}' not found (installed: {known})")
    return factories[name]
