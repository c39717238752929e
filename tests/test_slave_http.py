"""
Tests for the slave's HTTP endpoints (L{mesos_tw.slave.http.SlaveHTTP}),
through treq's in-memory client.
"""

import json

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.detector import StandaloneDetector
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.network import MemoryNetwork


class SlaveHTTPTests(SynchronousTestCase):
    """
    C{/health} and the state JSON under its three names.
    """

    def setUp(self):
        clock = Clock()
        network = MemoryNetwork(clock)
        self.slave = Slave(
            clock, network.node(UPID("slave(1)", "127.0.0.1", 5051)),
            StandaloneDetector(UPID("master", "127.0.0.1", 5050)), FakeIsolator(clock),
            self.mktemp(), Resources.parse("cpus:2;mem:1024;ports:[31000-32000]"),
            attributes={"rack": "r1"}, hostname="node1")
        self.client = StubTreq(SlaveHTTP(self.slave).resource())

    def get(self, path):
        """
        GET C{path}: the response and its body.
        """
        response = self.successResultOf(self.client.get("http://slave" + path))
        return response, self.successResultOf(response.content())

    def test_health(self):
        """
        /health answers 200 with an empty body.
        """
        response, body = self.get("/health")
        self.assertEqual((response.code, body), (200, b""))

    def test_state_names(self):
        """
        /slave(1)/state, /slave(1)/state.json and /state all give the
        slave's state as JSON.
        """
        for path in ("/slave(1)/state", "/slave(1)/state.json", "/state"):
            response, body = self.get(path)
            self.assertEqual(response.code, 200)
            self.assertEqual(response.headers.getRawHeaders("content-type"), ["application/json"])
            state = json.loads(body)
            self.assertEqual(
                (state["pid"], state["hostname"], state["attributes"], state["frameworks"]),
                ("slave(1)@127.0.0.1:5051", "node1", {"rack": "r1"}, []))
            self.assertEqual(state["resources"]["cpus"], 2)

    def test_jsonp(self):
        """
        ?jsonp=f wraps the state in a call; a bad callback name is a 400.
        """
        response, body = self.get("/slave(1)/state?jsonp=show")
        self.assertEqual(response.code, 200)
        self.assertTrue(body.startswith(b"show({") and body.endswith(b");"))
        response, body = self.get("/slave(1)/state?jsonp=alert(1)")
        self.assertEqual(response.code, 400)
        self.assertIn(b"jsonp", body)

    def test_unknown_route(self):
        """
        An unknown path is a 404.
        """
        response, _ = self.get("/slave(1)/nothing")
        self.assertEqual(response.code, 404)
