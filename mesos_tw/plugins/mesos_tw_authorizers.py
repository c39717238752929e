"""
The authorizers that ship with mesos_tw.
"""

from zope.interface import implementer

from mesos_tw.authorization.interfaces import IAuthorizerFactory


@implementer(IAuthorizerFactory)
class LocalAuthorizerFactory:
    """
    C{--authorizers=local}: Mesos's local authorizer, deciding from
    C{--acls}.
    """

    name = "local"
    description = "Mesos's ACLs (--acls), first matching rule decides, else permissive."

    def make_authorizer(self, acls):
        from mesos_tw.authorization.local import LocalAuthorizer

        return LocalAuthorizer(acls)


local = LocalAuthorizerFactory()
