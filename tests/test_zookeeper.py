"""
Tests for L{mesos_tw.zookeeper}: URLs, and one L{IZooKeeper} test suite run
against the in-memory fake and against kazoo on a real ZooKeeper server;
then what only the real client does (session expiry when the servers stop
answering, request timeouts).
"""

import fcntl
import os

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from mesos_tw.testing import zookeeper_server
from mesos_tw.testing.zookeeper import MemoryZooKeeperServer, next_event
from mesos_tw.testing.zookeeper_server import LISTEN_PORTS, free_ports, start_ensemble
from mesos_tw.zookeeper import (
    CONNECTED,
    EXPIRED,
    SUSPENDED,
    IZooKeeper,
    ZooKeeperClient,
    ZooKeeperTimeout,
    ZooKeeperURL,
    ZooKeeperURLError,
)


class ZooKeeperURLTests(SynchronousTestCase):
    """
    Tests for L{ZooKeeperURL.parse}.
    """

    def test_hosts_and_path(self):
        """
        Several servers and a path are kept as given, the path without a
        trailing slash.
        """
        url = ZooKeeperURL.parse("zk://10.0.0.1:2181,10.0.0.2:2182/mesos/")
        self.assertEqual((url.hosts, url.path, url.credentials),
                         ("10.0.0.1:2181,10.0.0.2:2182", "/mesos", None))
        self.assertEqual(str(url), "zk://10.0.0.1:2181,10.0.0.2:2182/mesos")

    def test_credentials(self):
        """
        C{user:password@} is digest authentication.
        """
        url = ZooKeeperURL.parse("zk://jane:s3cret@zk1:2181/mesos")
        self.assertEqual(url.credentials, ("jane", "s3cret"))
        self.assertEqual(url.hosts, "zk1:2181")

    def test_bad_urls(self):
        """
        Each malformed URL is refused with a message naming the problem.
        """
        cases = {
            "zk://zk1:2181": "no znode path",
            "zk://zk1:2181/": "no znode path",
            "zk://zk1/mesos": "is not host:port",
            "zk://zk1:99999/mesos": "is not host:port",
            "zk://jane@zk1:2181/mesos": "user:password@",
            "http://zk1:2181/mesos": "not a zk:// URL",
        }
        for text, expected in cases.items():
            with self.assertRaises(ZooKeeperURLError) as raised:
                ZooKeeperURL.parse(text)
            self.assertIn(expected, str(raised.exception), text)



class ZooKeeperTestsMixin:
    """
    What every L{IZooKeeper} does; C{new_client()} gives a started,
    connected session (as a Deferred).
    """

    @inlineCallbacks
    def test_interface(self):
        """
        The client provides L{IZooKeeper}.
        """
        client = yield self.new_client()
        self.assertTrue(verifyObject(IZooKeeper, client))
        self.assertEqual(client.state, CONNECTED)

    @inlineCallbacks
    def test_create_get_children_delete(self):
        """
        A znode created with C{makepath} can be read, listed and deleted.
        """
        client = yield self.new_client()
        path = yield client.create("/a/b", b"data", makepath=True)
        self.assertEqual(path, "/a/b")
        self.assertEqual((yield client.get("/a/b")), b"data")
        self.assertEqual((yield client.get_children("/a")), ["b"])
        self.assertTrue((yield client.exists("/a/b")))
        yield client.delete("/a/b")
        self.assertFalse((yield client.exists("/a/b")))

    @inlineCallbacks
    def test_versions(self):
        """
        A znode's data version is 0 when created and one more at each set;
        a set at another version than the znode's fails with
        C{BadVersionError} and changes nothing; -1 sets at any version.
        """
        client = yield self.new_client()
        yield client.create("/v", b"0")
        self.assertEqual((yield client.get_versioned("/v")), (b"0", 0))
        yield client.set("/v", b"1", 0)
        yield self.assertFailure(client.set("/v", b"stale", 0), BadVersionError)
        self.assertEqual((yield client.get_versioned("/v")), (b"1", 1))
        yield client.set("/v", b"2")
        self.assertEqual((yield client.get_versioned("/v")), (b"2", 2))
        yield self.assertFailure(client.get_versioned("/missing"), NoNodeError)

    @inlineCallbacks
    def test_sequence(self):
        """
        Sequential znodes get increasing ten-digit suffixes.
        """
        client = yield self.new_client()
        first = yield client.create("/s/n_", makepath=True, sequence=True)
        second = yield client.create("/s/n_", sequence=True)
        self.assertEqual((first, second), ("/s/n_0000000000", "/s/n_0000000001"))

    @inlineCallbacks
    def test_errors(self):
        """
        Missing and duplicate znodes errback with kazoo's exceptions.
        """
        client = yield self.new_client()
        yield self.assertFailure(client.get("/missing"), NoNodeError)
        yield self.assertFailure(client.get_children("/missing"), NoNodeError)
        yield self.assertFailure(client.create("/no/parent"), NoNodeError)
        yield client.create("/twice")
        yield self.assertFailure(client.create("/twice"), NodeExistsError)

    @inlineCallbacks
    def test_ephemeral_and_watch(self):
        """
        An ephemeral znode goes with its session, and a children watch on
        its parent fires once, on the reactor thread.
        """
        owner = yield self.new_client()
        watcher = yield self.new_client()
        yield owner.create("/e/node", ephemeral=True, makepath=True)
        fired = Deferred()
        children = yield watcher.get_children("/e", watch=fired.callback)
        self.assertEqual(children, ["node"])
        yield owner.stop()
        event = yield fired
        self.assertEqual(event.path, "/e")
        self.assertEqual((yield watcher.get_children("/e")), [])


class MemoryZooKeeperTests(ZooKeeperTestsMixin, TestCase):
    """
    The suite against the in-memory fake.
    """

    def setUp(self):
        self.server = MemoryZooKeeperServer()

    def new_client(self):
        """
        A started fake session.
        """
        client = self.server.client()
        client.start()
        return next_event(client, CONNECTED).addCallback(lambda _: client)

    def test_suspended_requests_wait(self):
        """
        The fake holds requests made while suspended until it reconnects,
        as kazoo does.
        """
        client = self.server.client()
        client.start()
        client.suspend()
        d = client.create("/later")
        self.assertNoResult(d)
        client.reconnect()
        self.assertEqual(self.successResultOf(d), "/later")


class RealZooKeeperTests(ZooKeeperTestsMixin, TestCase):
    """
    The suite, and the session handling, against a real ZooKeeper server.
    """

    timeout = 180

    @inlineCallbacks
    def setUp(self):
        self.ensemble = yield start_ensemble(self, reactor, size=1)

    def client(self, session_timeout=2.0, request_timeout=30.0):
        """
        A started L{ZooKeeperClient}, stopped at cleanup.  Its requests
        may wait 30 s (not the session timeout, the default): on a loaded
        machine a first connection, or an answer, can take seconds, and
        only L{test_request_timeout} wants a request to time out.
        """
        client = ZooKeeperClient(reactor, self.ensemble.hosts, session_timeout,
                                 request_timeout=request_timeout)
        self.addCleanup(client.stop)
        client.start()
        return client

    def new_client(self):
        """
        A connected L{ZooKeeperClient}.
        """
        client = self.client()
        return next_event(client, CONNECTED).addCallback(lambda _: client)

    @inlineCallbacks
    def test_unanswered_session_expires(self):
        """
        When the server stops answering, the session is SUSPENDED, then
        taken as EXPIRED after the session timeout (kazoo alone would wait
        for ever), and a new session connects once the server is back.
        """
        client = self.client(session_timeout=1.0)
        yield next_event(client, CONNECTED)
        yield client.create("/mine", ephemeral=True)
        events = []
        client.add_session_listener(events.append)
        server = self.ensemble.servers[0]
        server.pause()
        yield next_event(client, EXPIRED)
        self.assertEqual(events[:2], [SUSPENDED, EXPIRED])
        server.resume()
        yield next_event(client, CONNECTED)
        # The abandoned session takes its ephemeral znode with it, but only
        # once the resumed server's own session tracker expires it, which may
        # come after our new session is up: wait for the deletion itself.
        deleted = Deferred()

        def watch(event):
            if event.type == "DELETED" and not deleted.called:
                deleted.callback(None)

        if (yield client.exists("/mine", watch=watch)):
            yield deleted
        self.assertFalse((yield client.exists("/mine")))

    @inlineCallbacks
    def test_request_before_first_connection(self):
        """
        A request made right after C{start}, before the first connection
        (which kazoo would fail as "Connection has been closed"), waits for
        the session and then succeeds.
        """
        client = self.client()
        created = client.create("/early", b"x")
        self.assertEqual((yield created), "/early")
        self.assertEqual(client.state, CONNECTED)

    @inlineCallbacks
    def test_request_timeout(self):
        """
        A request the servers never answer fails with L{ZooKeeperTimeout}:
        one made once kazoo has noticed the silence, which kazoo would
        hold until it reconnects, for ever while the server is paused.
        """
        client = self.client(session_timeout=4.0, request_timeout=0.5)
        yield next_event(client, CONNECTED)
        self.ensemble.servers[0].pause()
        self.addCleanup(self.ensemble.servers[0].resume)
        # A request in flight when the server stops may instead fail with
        # kazoo's ConnectionLoss, when kazoo's heartbeat notices the
        # silence first (it can, on a loaded machine): which of the two
        # comes first is a race between kazoo's thread and the reactor.
        # Once SUSPENDED, only the reactor's timers can end the request,
        # and its timeout comes before the session's expiry.
        yield next_event(client, SUSPENDED)
        failure = yield self.assertFailure(client.get_children("/"), ZooKeeperTimeout)
        self.assertIn("get_children /", str(failure))


class FreePortsTests(SynchronousTestCase):
    """
    The ports the fixtures hand to servers.
    """

    def test_distinct_and_outside_ephemeral_range(self):
        """
        The ports of one request are different from each other, free, and
        below the range outgoing connections take their source ports from.
        """
        ports = free_ports(30)
        self.assertEqual(len(set(ports)), 30)
        self.assertTrue(all(port in LISTEN_PORTS and port < 32768 for port in ports))

    def test_reserved_ports_are_not_handed_out(self):
        """
        A port handed out stays reserved, and a port another process has
        reserved (a lock on its file) cannot be reserved again.
        """
        directory = os.path.abspath(self.mktemp())
        self.patch(zookeeper_server, "RESERVATIONS", directory)
        (mine,) = free_ports(1)
        self.assertFalse(zookeeper_server._reserve(mine))
        theirs, unused = [port for port in (mine + 1, mine + 2, mine - 1, mine - 2)
                          if port in LISTEN_PORTS][:2]
        # flock locks of two open files conflict even within one process.
        other = os.open(os.path.join(directory, str(theirs)), os.O_RDONLY | os.O_CREAT)
        self.addCleanup(os.close, other)
        fcntl.flock(other, fcntl.LOCK_EX)
        self.assertFalse(zookeeper_server._reserve(theirs))
        self.assertTrue(zookeeper_server._reserve(unused))
