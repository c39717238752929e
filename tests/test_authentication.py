"""
Framework and slave authentication, after Mesos's C{AuthenticationTest} and
C{CRAMMD5AuthenticationTest} (src/tests/authentication_tests.cpp,
cram_md5_authentication_tests.cpp): a master, scheduler drivers and slaves
on an in-memory network and a fake clock.
"""

import json
import os

from twisted.internet.task import Clock
from twisted.python.usage import UsageError
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from mesos_tw.authentication.client import AUTHENTICATION_ATTEMPT_TIMEOUT
from mesos_tw.authentication.cram_md5 import (
    CRAMMD5Authenticatee, CRAMMD5Authenticator, response_to)
from mesos_tw.authentication.interfaces import (
    IAuthenticationSession, IAuthenticator, authenticator_factory)
from mesos_tw.detector import StandaloneDetector
from mesos_tw.master import tap as master_tap
from mesos_tw.master.master import Master
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave import tap as slave_tap
from mesos_tw.slave.slave import TERMINATING_SLAVE, Slave
from mesos_tw.testing.drivers import CallbackRecorder
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.network import MemoryNetwork

MASTER = UPID("master", "127.0.0.1", 5050)
MASTER2 = UPID("master", "127.0.0.2", 5050)
SLAVE = UPID("slave(1)", "127.0.0.1", 5051)
CREDENTIAL = mesos_pb2.Credential(principal="test-principal", secret="test-secret")


def credentials():
    """
    The master's credentials: the test principal and one other.
    """
    return mesos_pb2.Credentials(credentials=[
        CREDENTIAL, mesos_pb2.Credential(principal="other", secret="other-secret")])


class DroppingNetwork(MemoryNetwork):
    """
    An in-memory network that loses the first C{drop[type]} messages of
    each type listed.
    """

    def __init__(self, reactor):
        super().__init__(reactor)
        self.drop = {}

    def deliver(self, sender, to, message):
        remaining = self.drop.get(type(message), 0)
        if remaining:
            self.drop[type(message)] = remaining - 1
            return
        super().deliver(sender, to, message)


class AuthenticationTestCase(SynchronousTestCase):
    """
    A master with a CRAM-MD5 authenticator, and helpers to make drivers and
    slaves.
    """

    authenticate_frameworks = True
    authenticate_slaves = True

    def setUp(self):
        self.clock = Clock()
        self.network = DroppingNetwork(self.clock)
        self.master = self.make_master(MASTER)
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def make_master(self, upid):
        """
        A started master at C{upid} with the test credentials.
        """
        authenticator = CRAMMD5Authenticator(self.clock, "master.example")
        authenticator.initialize(credentials())
        master = Master(self.clock, self.network.node(upid), authenticator=authenticator,
                        authenticate_frameworks=self.authenticate_frameworks,
                        authenticate_slaves=self.authenticate_slaves)
        master.start()
        self.addCleanup(master.stop)
        return master

    def turn(self, times=10):
        """
        Deliver everything in flight.
        """
        for _ in range(times):
            self.clock.advance(0)

    def driver(self, credential=None, principal=None):
        """
        A started scheduler driver for the master, with C{credential}.
        """
        scheduler = CallbackRecorder()
        info = mesos_pb2.FrameworkInfo(user="alice", name="auth", failover_timeout=60)
        if principal is not None:
            info.principal = principal
        driver = MesosSchedulerDriver(scheduler, info, str(MASTER), reactor=self.clock,
                                      node_factory=self.network.node, credential=credential)
        self.assertEqual(driver.start(), mesos_pb2.DRIVER_RUNNING)
        self.addCleanup(driver.abort)
        self.turn()
        return driver, scheduler

    def slave(self, credential=None):
        """
        A started slave of the master, with C{credential}.
        """
        slave = Slave(self.clock, self.network.node(SLAVE), StandaloneDetector(MASTER),
                      FakeIsolator(), self.mktemp(), Resources.parse("cpus:1;mem:64"),
                      credential=credential)
        slave.start()
        self.addCleanup(slave.stop)
        self.turn()
        return slave

    def logged(self, text):
        """
        Whether an event's format mentions C{text}.
        """
        return any(text in (event.get("log_format") or "") for event in self.events)


class AuthenticationTests(AuthenticationTestCase):
    """
    Mesos's C{AuthenticationTest} cases.
    """

    def test_unauthenticated_framework(self):
        """
        A framework without a credential is refused with an error naming
        it, and its driver aborts.
        """
        driver, scheduler = self.driver()
        self.assertEqual(scheduler.calls, [
            ("error", (f"Framework at {driver.node.upid} is not authenticated",))])
        self.assertEqual(driver.status, mesos_pb2.DRIVER_ABORTED)
        self.assertEqual(self.master.frameworks, {})

    def test_unauthenticated_slave(self):
        """
        A slave without a credential is not registered, however often it
        tries; the master logs why.
        """
        slave = self.slave()
        self.clock.advance(30)
        self.turn()
        self.assertEqual(self.master.slaves, {})
        self.assertIsNone(slave.id)
        self.assertTrue(self.logged("because it is not authenticated"))

    def test_authenticated_framework(self):
        """
        A framework with a good credential registers; the master fills in
        its principal, and pins the framework's process to the connection it
        authenticated on (no other connection may speak for it).
        """
        driver, scheduler = self.driver(CREDENTIAL)
        self.assertEqual(scheduler.names(), ["registered"])
        framework = next(iter(self.master.frameworks.values()))
        self.assertEqual(framework.info.principal, "test-principal")
        self.assertEqual(self.master.authenticated, {driver.node.upid: "test-principal"})
        self.assertEqual(self.master.node.pinned, {driver.node.upid})

    def test_authenticated_slave(self):
        """
        A slave with a good credential registers.
        """
        slave = self.slave(CREDENTIAL)
        self.assertEqual(list(self.master.slaves), [slave.id])

    def test_retry_framework_authentication(self):
        """
        An authentication whose first step is lost times out, is tried
        again, and then succeeds.
        """
        self.network.drop[internal.AuthenticationStepMessage] = 1
        driver, scheduler = self.driver(CREDENTIAL)
        self.assertEqual(scheduler.calls, [])
        self.clock.advance(AUTHENTICATION_ATTEMPT_TIMEOUT)
        self.turn()
        self.clock.advance(1)
        self.turn()
        self.assertEqual(scheduler.names(), ["registered"])
        self.assertEqual(driver._authentication.attempts, 2)

    def test_mismatched_framework_info_principal(self):
        """
        A framework whose C{FrameworkInfo.principal} is not the one it
        authenticated as is refused with Mesos's message.
        """
        driver, scheduler = self.driver(CREDENTIAL, principal="mismatched")
        self.assertEqual(scheduler.calls, [("error", (
            "Framework principal 'mismatched' does not match authenticated principal "
            "'test-principal'",))])
        self.assertEqual(driver.status, mesos_pb2.DRIVER_ABORTED)

    def test_failed_framework_authentication(self):
        """
        A wrong secret is refused: C{error("Master refused authentication")}
        and the driver aborts, nothing registered.
        """
        wrong = mesos_pb2.Credential(principal="test-principal", secret="wrong")
        driver, scheduler = self.driver(wrong)
        self.assertEqual(scheduler.calls, [("error", ("Master refused authentication",))])
        self.assertEqual(driver.status, mesos_pb2.DRIVER_ABORTED)
        self.assertEqual((self.master.frameworks, self.master.authenticated,
                          self.master.node.pinned), ({}, {}, set()))

    def test_failed_slave_authentication(self):
        """
        A slave whose secret is refused stops, unregistered.
        """
        slave = self.slave(mesos_pb2.Credential(principal="other", secret="wrong"))
        self.assertEqual(self.master.slaves, {})
        self.assertTrue(self.logged("this slave stops"))
        self.assertEqual(slave.registration, TERMINATING_SLAVE)

    def test_master_failover(self):
        """
        When a new master is elected, the driver authenticates with it
        before re-registering.
        """
        driver, scheduler = self.driver(CREDENTIAL)
        framework_id = driver.framework.id.value
        second = self.make_master(MASTER2)
        self.network.crash(MASTER)
        self.turn()
        driver._detector.appoint(MASTER2)
        self.turn()
        self.assertEqual(scheduler.names(), ["registered", "disconnected", "reregistered"])
        self.assertEqual(second.authenticated, {driver.node.upid: "test-principal"})
        self.assertEqual(list(second.frameworks), [framework_id])

    def test_reconnect_authenticates_again(self):
        """
        The master forgets an authentication with its connection: a
        driver whose connection broke authenticates again before it
        re-registers.
        """
        driver, scheduler = self.driver(CREDENTIAL)
        self.network.sever(driver.node.upid, MASTER)
        self.turn()
        self.assertEqual((self.master.authenticated, self.master.node.pinned), ({}, set()))
        self.clock.advance(1)
        self.turn()
        self.assertEqual(scheduler.names(), ["registered", "disconnected", "reregistered"])
        self.assertEqual(driver._authentication.attempts, 2)
        self.assertEqual(self.master.node.pinned, {driver.node.upid})


class DisabledAuthenticationTests(AuthenticationTestCase):
    """
    Without the C{--authenticate_*} flags, clients may authenticate or not
    (Mesos's C{DisableFrameworkAuthentication}, C{DisableSlaveAuthentication}).
    """

    authenticate_frameworks = False
    authenticate_slaves = False

    def test_both_kinds_register(self):
        """
        An authenticating and a non-authenticating framework, and an
        authenticating slave, all register.
        """
        _, with_credential = self.driver(CREDENTIAL)
        _, without = self.driver()
        slave = self.slave(CREDENTIAL)
        self.assertEqual((with_credential.names()[0], without.names()[0]),
                         ("registered", "registered"))
        self.assertEqual(list(self.master.slaves), [slave.id])

    def test_no_authenticator(self):
        """
        A master without an authenticator answers an authentication with
        Mesos's error; the client retries rather than giving up.
        """
        self.master.authenticator = None
        driver, scheduler = self.driver(CREDENTIAL)
        self.assertEqual(scheduler.calls, [])
        self.assertTrue(self.logged("but authenticator is not loaded"))
        self.assertEqual(driver.status, mesos_pb2.DRIVER_RUNNING)


class CRAMMD5Tests(SynchronousTestCase):
    """
    Mesos's C{CRAMMD5AuthenticationTest}: the authenticator and
    authenticatee alone.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.authenticator = CRAMMD5Authenticator(self.clock, "master.example")
        self.authenticator.initialize(credentials())
        self.sessions = []
        self.master = self.network.node(MASTER)
        self.master.receiver = self
        self.client = self.network.node(UPID("scheduler-1", "127.0.0.1", 0))
        self.client.receiver = self

    def message_received(self, sender, message):
        """
        Route: the master side starts sessions and feeds them; the client
        side feeds the authenticatee.
        """
        if sender == MASTER:
            self.authenticatee.received(message)
        elif isinstance(message, internal.AuthenticateMessage):
            self.sessions.append(self.authenticator.authenticate(
                lambda reply: self.master.send(sender, reply)))
        else:
            self.sessions[-1].received(message)

    def peer_lost(self, upid):
        """
        Nothing is lost here.
        """

    def authenticate(self, credential):
        """
        Run one exchange: the authenticatee's and the session's results.
        """
        self.authenticatee = CRAMMD5Authenticatee(self.client, MASTER, credential)
        client = self.authenticatee.start()
        for _ in range(10):
            self.clock.advance(0)
        return self.successResultOf(client), self.successResultOf(self.sessions[-1].result)

    def test_interfaces(self):
        """
        The authenticator and its sessions provide their interfaces, and
        C{crammd5} is the installed plugin making it.
        """
        self.assertTrue(verifyObject(IAuthenticator, self.authenticator))
        self.assertTrue(verifyObject(IAuthenticationSession,
                                     self.authenticator.authenticate(lambda m: None)))
        self.assertIsInstance(authenticator_factory("crammd5").make_authenticator(self.clock),
                              CRAMMD5Authenticator)
        with self.assertRaises(ValueError) as caught:
            authenticator_factory("kerberos")
        self.assertIn("Authenticator 'kerberos' not found (installed: crammd5",
                      str(caught.exception))

    def test_success(self):
        """
        The right secret: both sides see success, the master the principal.
        """
        self.assertEqual(self.authenticate(CREDENTIAL), (True, "test-principal"))

    def test_failed(self):
        """
        A wrong secret, or an unknown principal: both sides see a refusal.
        """
        self.assertEqual(self.authenticate(mesos_pb2.Credential(
            principal="test-principal", secret="nope")), (False, None))
        self.assertEqual(self.authenticate(mesos_pb2.Credential(
            principal="nobody", secret="test-secret")), (False, None))

    def test_response_is_rfc2195(self):
        """
        The answer is the principal, a space, and the hex HMAC-MD5 of the
        challenge keyed with the secret (RFC 2195's example).
        """
        challenge = b"<1896.697170952@postoffice.reston.mci.net>"
        self.assertEqual(response_to(challenge, "tim", "tanstaaftanstaaf"),
                         b"tim b913a602c7eda7a495b4e6e7334d3890")


class FlagsTests(SynchronousTestCase):
    """
    The authentication flags, in Mesos's formats.
    """

    def write(self, text, mode=0o600):
        """
        A file holding C{text}.
        """
        path = self.mktemp()
        with open(path, "w") as file:
            file.write(text)
        os.chmod(path, mode)
        return path

    def master_options(self, *argv):
        """
        Parsed master flags.
        """
        options = master_tap.Options(environ={})
        options.parseOptions(["--port=0", *argv])
        return options

    def test_credentials_json_and_text(self):
        """
        C{--credentials} takes Mesos's JSON and the older text form, as a
        path or C{file://} URL.
        """
        json_path = self.write(json.dumps({"credentials": [
            {"principal": "a", "secret": "sa"}, {"principal": "b", "secret": "sb"}]}))
        text_path = self.write("a sa\n\nb   sb\n")
        for value in (json_path, "file://" + text_path):
            options = self.master_options(f"--credentials={value}",
                                          "--authenticate_frameworks=true")
            self.assertEqual(
                [(c.principal, c.secret) for c in options["credentials_message"].credentials],
                [("a", "sa"), ("b", "sb")])
            self.assertTrue(options["authenticate_frameworks"])

    def test_authenticate_slaves_alias(self):
        """
        C{--authenticate_slaves} is C{--authenticate_agents}.
        """
        path = self.write("a sa\n")
        options = self.master_options(f"--credentials={path}", "--authenticate_slaves=true")
        self.assertTrue(options["authenticate_agents"])
        self.assertFalse(self.master_options()["authenticate_agents"])

    def test_bad_values(self):
        """
        Each bad value stops start-up naming the flag and the problem.
        """
        cases = {
            ("--authenticate_frameworks=true",): "--authenticate_frameworks needs --credentials",
            ("--credentials=/nonexistent/creds",): "Failed to read credentials file",
            (f"--credentials={self.write('{nope')}",): "Invalid json format",
            (f"--credentials={self.write('a b c')}",): "Invalid credential format",
            (f"--credentials={self.write(json.dumps({'credentials': [{'secret': 'x'}]}))}",):
                "needs a principal",
            ("--authenticators=kerberos",): "Authenticator 'kerberos' not found",
            ("--authenticators=crammd5,other",): "Multiple authenticators not supported",
        }
        for argv, text in cases.items():
            with self.assertRaises(UsageError) as caught:
                self.master_options(*argv)
            self.assertIn(text, str(caught.exception), argv)

    def test_open_permissions_warned(self):
        """
        A credentials file others may read is used, with Mesos's warning.
        """
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        self.master_options(f"--credentials={self.write('a sa', mode=0o644)}")
        self.assertTrue(any("are too open" in (e.get("log_format") or "") for e in events))

    def test_slave_credential(self):
        """
        A slave's C{--credential} is one credential, JSON or text; the
        slave is made with it.
        """
        for text in (json.dumps({"principal": "s", "secret": "ss"}), "s ss\n"):
            options = slave_tap.Options(environ={})
            options.parseOptions(["--master=127.0.0.1:5050", f"--credential={self.write(text)}",
                                  f"--work_dir={self.mktemp()}"])
            self.assertEqual(options["credential_message"],
                             mesos_pb2.Credential(principal="s", secret="ss"))
        two = self.write("a b\nc d\n")
        with self.assertRaises(UsageError) as caught:
            slave_tap.Options(environ={}).parseOptions([
                "--master=127.0.0.1:5050", f"--credential={two}"])
        self.assertIn("exactly one", str(caught.exception))
