"""
Mesos's local authorizer: the C{--acls} rules of an action, in order; the
first whose subjects and objects match the question decides (by whether
they allow it); when none matches, C{permissive} does.
"""

from twisted.internet.defer import succeed
from zope.interface import implementer

from mesos_tw.authorization.acls import ACLs, ANY, SOME, Entity
from mesos_tw.authorization.interfaces import IAuthorizer

__all__ = ["LocalAuthorizer"]


def _entity(value):
    return Entity(ANY) if value is None else Entity(SOME, (value,))


@implementer(IAuthorizer)
class LocalAuthorizer:
    """
    Decides from C{acls} (L{ACLs}; without any, everything is allowed).
    """

    def __init__(self, acls=None):
        self.acls = acls if acls is not None else ACLs(True, {})

    def approver(self, principal, action):
        """
        Whether C{principal} may do C{action} to an object, as a function.
        """
        return succeed(lambda obj: self.approved(principal, action, obj))

    def approved(self, principal, action, obj):
        """
        The decision, at once.
        """
        subject, requested = _entity(principal), _entity(obj)
        for rule in self.acls.rules.get(action, ()):
            if rule.subjects.matches(subject) and rule.objects.matches(requested):
                return rule.subjects.allows(subject) and rule.objects.allows(requested)
        return self.acls.permissive
