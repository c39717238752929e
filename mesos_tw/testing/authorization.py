"""
The suite every authorizer must pass (L{make_iauthorizer_tests}), and an
authorizer that answers late (L{LateAuthorizer}), so that the master's and
slave's handling of an authorizer that is not immediate is tested too.
"""

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from mesos_tw.authorization.acls import parse_acls
from mesos_tw.authorization.interfaces import IAuthorizer
from mesos_tw.authorization.local import LocalAuthorizer

__all__ = ["LateAuthorizer", "make_iauthorizer_tests"]


@implementer(IAuthorizer)
class LateAuthorizer:
    """
    Decides as Mesos's local authorizer does, but only when C{release()}
    is called (each approver waits until then).

    @ivar waiting: how many approvers have not been released.
    """

    def __init__(self, acls=None):
        self._local = LocalAuthorizer(acls)
        self._pending = []

    @property
    def waiting(self):
        return len(self._pending)

    def approver(self, principal, action):
        """
        A Deferred that fires at the next C{release()}.
        """
        d = Deferred()
        self._pending.append((d, principal, action))
        return d

    def release(self):
        """
        Answer every approver asked for so far.
        """
        pending, self._pending = self._pending, []
        for d, principal, action in pending:
            self._local.approver(principal, action).chainDeferred(d)


def make_iauthorizer_tests(make_authorizer, settle=lambda authorizer: None):
    """
    A test case class for an L{IAuthorizer} implementation.

    @param make_authorizer: makes one from ACLs (JSON text), or from
        L{None} (no ACLs: everything allowed).
    @param settle: lets an authorizer that answers late answer.
    """

    class IAuthorizerTests(SynchronousTestCase):
        """
        Mesos's local authorizer's semantics, which every authorizer
        deciding from C{--acls} must have.
        """

        def decide(self, acls, principal, action, obj):
            """
            What the authorizer made from C{acls} says.
            """
            authorizer = make_authorizer(acls)
            d = authorizer.approver(principal, action)
            settle(authorizer)
            return self.successResultOf(d)(obj)

        def test_interface(self):
            """
            It provides L{IAuthorizer}.
            """
            self.assertTrue(verifyObject(IAuthorizer, make_authorizer(None)))

        def test_no_acls_allow_everything(self):
            """
            Without ACLs, everything is allowed.
            """
            self.assertTrue(self.decide(None, "anyone", "run_tasks", "root"))
            self.assertTrue(self.decide(None, None, "view_flags", None))

        def test_permissive(self):
            """
            When no rule matches, C{permissive} decides (true by default).
            """
            rules = '"register_frameworks": [{"principals": {"values": ["a"]}, ' \
                    '"roles": {"values": ["prod"]}}]'
            self.assertTrue(self.decide("{%s}" % rules, "b", "register_frameworks", "prod"))
            self.assertFalse(self.decide('{"permissive": false, %s}' % rules, "b",
                                         "register_frameworks", "prod"))

        def test_first_matching_rule_decides(self):
            """
            The first rule whose subjects and objects match decides, by
            whether they allow the request.
            """
            acls = '''{"permissive": false, "run_tasks": [
                {"principals": {"values": ["a"]}, "users": {"values": ["guest"]}},
                {"principals": {"values": ["a"]}, "users": {"type": "NONE"}},
                {"principals": {"type": "ANY"}, "users": {"values": ["nobody"]}}]}'''
            self.assertTrue(self.decide(acls, "a", "run_tasks", "guest"))
            self.assertFalse(self.decide(acls, "a", "run_tasks", "root"))
            self.assertFalse(self.decide(acls, "a", "run_tasks", "nobody"))
            self.assertTrue(self.decide(acls, "b", "run_tasks", "nobody"))
            self.assertFalse(self.decide(acls, "b", "run_tasks", "guest"))

        def test_no_principal(self):
            """
            An unauthenticated caller (no principal) is allowed only by
            rules whose principals are ANY.
            """
            acls = '''{"permissive": false, "view_flags": [
                {"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}}]}'''
            self.assertFalse(self.decide(acls, None, "view_flags", None))
            self.assertTrue(self.decide(acls, "ops", "view_flags", None))
            anyone = '''{"permissive": false, "view_flags": [
                {"principals": {"type": "ANY"}, "flags": {"type": "ANY"}}]}'''
            self.assertTrue(self.decide(anyone, None, "view_flags", None))

        def test_actions_are_separate(self):
            """
            Rules of one action say nothing of another.
            """
            acls = '''{"permissive": false, "teardown_frameworks": [
                {"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}}]}'''
            self.assertTrue(self.decide(acls, "ops", "teardown_frameworks", "fw"))
            self.assertFalse(self.decide(acls, "ops", "view_frameworks", "alice"))

    return IAuthorizerTests


def local_authorizer(acls):
    """
    A L{LocalAuthorizer} from ACL JSON text (or L{None}).
    """
    return LocalAuthorizer(parse_acls(acls) if acls is not None else None)


def late_authorizer(acls):
    """
    A L{LateAuthorizer} from ACL JSON text (or L{None}).
    """
    return LateAuthorizer(parse_acls(acls) if acls is not None else None)
