"""
Tests for L{mesos_tw.protocols.endpoints}: listening on C{--listen}
descriptions, connecting through C{--connect} descriptions, and the
address a master or slave advertises (C{--ip}, C{--advertise_ip},
C{--advertise_port}, C{--hostname}).
"""

import errno

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, UNIXClientEndpoint
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.constants import LISTEN_BACKLOG
from mesos_tw.master import tap as master_tap
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.endpoints import (
    ClientEndpoints,
    listen_description,
    listened,
    quote,
    server_endpoint,
)
from mesos_tw.protocols.network import MessageNode
from mesos_tw.protocols.upid import UPID
from mesos_tw.slave import tap as slave_tap


class DescriptionTests(SynchronousTestCase):
    """
    The descriptions themselves.
    """

    def test_default_listen_is_todays_tcp(self):
        """
        Without C{--listen} a node listens as it always did: TCP on
        C{--port} at C{--ip}, with the listen backlog.
        """
        self.assertEqual(listen_description("127.0.0.1", 5050),
                         f"tcp:port=5050:interface=127.0.0.1:backlog={LISTEN_BACKLOG}")
        self.assertEqual(listen_description("::1", 5050, None),
                         f"tcp:port=5050:interface=\\:\\:1:backlog={LISTEN_BACKLOG}")
        self.assertEqual(listen_description("127.0.0.1", 5050, "unix:/run/m.sock"),
                         "unix:/run/m.sock")

    def test_bad_server_description(self):
        """
        A description Twisted cannot parse is a C{ValueError} naming it.
        """
        with self.assertRaises(ValueError) as raised:
            server_endpoint(MemoryReactorClock(), "carrier-pigeon:5050")
        self.assertIn("carrier-pigeon:5050", str(raised.exception))

    def test_client_endpoint_from_upid(self):
        """
        The default reaches a UPID over TCP at its host and port; another
        description (a UNIX socket here) is used as given.
        """
        reactor = MemoryReactorClock()
        endpoint = ClientEndpoints(reactor)(UPID("master", "198.18.0.1", 5050))
        self.assertIsInstance(endpoint, TCP4ClientEndpoint)
        self.assertEqual((endpoint._host, endpoint._port, endpoint._timeout),
                         ("198.18.0.1", 5050, 10))
        unix = ClientEndpoints(reactor, "unix:path=/run/mesos/{host}-{port}.sock")
        endpoint = unix(UPID("master", "m1", 5050))
        self.assertIsInstance(endpoint, UNIXClientEndpoint)
        self.assertEqual(endpoint._path, "/run/mesos/m1-5050.sock")

    def test_bad_client_description(self):
        """
        A client description that makes no endpoint is refused at once.
        """
        with self.assertRaises(ValueError):
            ClientEndpoints(MemoryReactorClock(), "tcp:host={hots}")

    def test_quote(self):
        """
        Colons, equals signs and backslashes are escaped.
        """
        self.assertEqual(quote("a:b=c\\"), "a\\:b\\=c\\\\")

    def test_node_connects_through_its_client_endpoints(self):
        """
        A L{MessageNode} connects to a peer with the endpoint its
        C{client_endpoints} make for the peer's UPID.
        """
        reactor = MemoryReactorClock()
        asked = []

        def endpoints(upid):
            asked.append(upid)
            return TCP4ClientEndpoint(reactor, "127.0.0.2", 6000)

        node = MessageNode(reactor, UPID("a", "127.0.0.1", 0), None, client_endpoints=endpoints)
        peer = UPID("b", "127.0.0.1", 5050)
        node.send(peer, mesos_pb2.TaskID(value="x"))
        self.assertEqual(asked, [peer])
        self.assertEqual(reactor.tcpClients[0][:2], ("127.0.0.2", 6000))


class TakenPortsReactor(MemoryReactorClock):
    """
    A reactor on which every TCP port is already in use.
    """

    def listenTCP(self, port, factory, backlog=50, interface=""):
        raise CannotListenError(interface, port,
                                OSError(errno.EADDRINUSE, "Address already in use"))


class ListenFailureTests(SynchronousTestCase):
    """
    A daemon that cannot listen exits, saying so, rather than stay up
    doing nothing.
    """

    def assert_exits(self, service, start_of_message):
        """
        Starting C{service} exits (twistd with status 1) with one line
        beginning C{start_of_message} and saying why.
        """
        with self.assertRaises(SystemExit) as raised:
            service.startService()
        message = str(raised.exception.code)
        self.assertTrue(message.startswith(start_of_message), message)
        self.assertIn("Address already in use", message)
        self.assertNotIn("\n", message)

    def test_master_port_in_use(self):
        """
        A master whose port is in use exits with one line naming the
        description and the error.
        """
        options = master_tap.Options(environ={})
        options.parseOptions(["--ip=127.0.0.1", "--port=5050"])
        self.assert_exits(master_tap.makeService(options, TakenPortsReactor()),
                          "mesos-master: cannot listen on tcp:port=5050:interface=127.0.0.1:")

    def test_slave_port_in_use(self):
        """
        So does a slave.
        """
        options = slave_tap.Options(environ={})
        options.parseOptions(["--master=198.18.0.10:5050", "--ip=127.0.0.1", "--port=5051",
                              f"--work_dir={self.mktemp()}", "--resources=cpus:1;mem:64"])
        self.assert_exits(slave_tap.makeService(options, TakenPortsReactor()),
                          "mesos-slave: cannot listen on tcp:port=5051:interface=127.0.0.1:")

    def test_later_failure_logged(self):
        """
        A listen that fails later is logged, and the Deferred fails with it.
        """
        d = Deferred()
        checked = listened(d, "mesos-master", "unix:/nowhere")
        self.assertNoResult(checked)
        d.errback(CannotListenError("", "/nowhere", OSError(errno.EACCES, "Permission denied")))
        self.failureResultOf(checked, CannotListenError)
        self.assertEqual(len(self.flushLoggedErrors(CannotListenError)), 1)

    def test_success_passes_through(self):
        """
        A listen that succeeds gives its port on.
        """
        d = Deferred()
        checked = listened(d, "mesos-master", "tcp:port=0")
        d.callback("port")
        self.assertEqual(self.successResultOf(checked), "port")


class MasterAddressTests(SynchronousTestCase):
    """
    What the master listens on and advertises.
    """

    def start(self, argv):
        options = master_tap.Options(environ={})
        options.parseOptions(argv)
        reactor = MemoryReactorClock()
        service = master_tap.makeService(options, reactor)
        service.startService()
        return reactor, service

    def test_listen_and_advertise(self):
        """
        C{--listen} chooses what is bound; C{--advertise_ip} and
        C{--advertise_port} what the UPID and C{MasterInfo} say;
        C{--hostname} the advertised hostname.
        """
        reactor, service = self.start([
            "--listen=tcp:port=6060:interface=127.0.0.1", "--advertise_ip=198.18.0.10",
            "--advertise_port=5050", "--hostname=master-a"])
        self.assertEqual((reactor.tcpServers[0][0], reactor.tcpServers[0][3]),
                         (6060, "127.0.0.1"))
        self.assertEqual(service.node.upid, UPID("master", "198.18.0.10", 5050))
        info = service.election.info
        self.assertEqual((info.pid, info.port, info.hostname),
                         ("master@198.18.0.10:5050", 5050, "master-a"))

    def test_ip_is_advertised_by_default(self):
        """
        Without C{--advertise_ip}, C{--ip} is both bound and advertised.
        """
        reactor, service = self.start(["--ip=127.0.0.3", "--port=5055"])
        self.assertEqual((reactor.tcpServers[0][0], reactor.tcpServers[0][3]),
                         (5055, "127.0.0.3"))
        self.assertEqual(service.node.upid.host, "127.0.0.3")

    def test_bad_address_flags(self):
        """
        A bad C{--listen}, C{--connect} or C{--advertise_port}, or listening
        on every interface without saying what to advertise, is a one-line
        error naming the flag.
        """
        for argv, flag in ((["--listen=carrier-pigeon:1"], "--listen"),
                           (["--connect=tcp:host={nope}"], "--connect"),
                           (["--advertise_port=x"], "--advertise_port"),
                           (["--ip=0.0.0.0"], "--advertise_ip")):
            options = master_tap.Options(environ={})
            with self.assertRaises(UsageError) as raised:
                options.parseOptions(argv)
            self.assertIn(flag, str(raised.exception))
        options = master_tap.Options(environ={})
        options.parseOptions(["--ip=0.0.0.0", "--advertise_ip=198.18.0.10"])


class SlaveAddressTests(SynchronousTestCase):
    """
    What the slave listens on and advertises.
    """

    def test_listen_and_advertise(self):
        """
        The slave binds C{--listen}, and its UPID and C{SlaveInfo} carry the
        advertised address and C{--hostname}.
        """
        options = slave_tap.Options(environ={})
        options.parseOptions([
            "--master=198.18.0.10:5050", "--listen=tcp:port=6061:interface=127.0.0.1",
            "--advertise_ip=198.18.0.11", "--advertise_port=5051", "--hostname=slave-a",
            f"--work_dir={self.mktemp()}", "--resources=cpus:1;mem:64;disk:10"])
        reactor = MemoryReactorClock()
        service = slave_tap.makeService(options, reactor)
        service.startService()
        self.assertEqual((reactor.tcpServers[0][0], reactor.tcpServers[0][3]),
                         (6061, "127.0.0.1"))
        self.assertEqual(service.node.upid, UPID("slave(1)", "198.18.0.11", 5051))
        self.assertEqual(service.slave.hostname, "slave-a")
