"""
Authorizers are plugins: C{--authorizers=<name>} picks the installed
L{IAuthorizerFactory} of that name (C{local}, Mesos's ACL authorizer,
ships with mesos_tw), as Mesos's C{--authorizers} picks a module.
"""

from twisted.plugin import IPlugin, getPlugins
from zope.interface import Attribute, Interface

__all__ = ["DEFAULT_AUTHORIZER", "IAuthorizer", "IAuthorizerFactory", "authorizer_factory"]

#: Mesos's default C{--authorizers}.
DEFAULT_AUTHORIZER = "local"


class IAuthorizer(Interface):
    """
    Decides whether a principal may do an action on an object (Mesos's
    C{Authorizer}).  Actions are the names of Mesos's ACLs
    (C{register_frameworks}, C{run_tasks}, C{teardown_frameworks},
    C{view_frameworks}, C{view_tasks}, C{view_executors},
    C{access_sandboxes}, C{access_mesos_logs}, C{view_flags},
    C{get_endpoints}); an object is the string the action is about (a
    role, a user, a framework's principal, a path), or L{None} for any.
    """

    def approver(principal, action):
        """
        What C{principal} (a string, or L{None} for an unauthenticated
        caller) may do of C{action}, as one question per object, so that a
        long list (the tasks of the state) is filtered without a Deferred
        per item (Mesos's C{ObjectApprover}).

        @return: a Deferred firing with a callable taking an object and
            returning whether it is allowed.
        """


class IAuthorizerFactory(IPlugin):
    """
    A plugin that makes authorizers.
    """

    name = Attribute("The unique name C{--authorizers} takes.")
    description = Attribute("One line saying how it decides.")

    def make_authorizer(acls):
        """
        A new L{IAuthorizer}, given the parsed C{--acls}
        (L{mesos_tw.authorization.acls.ACLs}) or L{None}.
        """


def authorizer_factory(name):
    """
    The installed L{IAuthorizerFactory} called C{name}.

    @raise ValueError: naming the authorizers that are installed.
    """
    import mesos_tw.plugins

    factories = {factory.name: factory
                 for factory in getPlugins(IAuthorizerFactory, mesos_tw.plugins)}
    if name not in factories:
        known = ", ".join(sorted(factories)) or "none"
        raise ValueError(f"Authorizer '{name}' not found (installed: {known})")
    return factories[name]
