"""
The authenticators that ship with mesos_tw.
"""

from zope.interface import implementer

from mesos_tw.authentication.interfaces import IAuthenticatorFactory


@implementer(IAuthenticatorFactory)
class CRAMMD5Factory:
    """
    C{--authenticators=crammd5}: CRAM-MD5 against C{--credentials}, Mesos's
    default.
    """

    name = "crammd5"
    description = "CRAM-MD5 against the principals and secrets of --credentials."

    def make_authenticator(self, reactor):
        from mesos_tw.authentication.cram_md5 import CRAMMD5Authenticator

        return CRAMMD5Authenticator(reactor)


crammd5 = CRAMMD5Factory()
