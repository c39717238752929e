"""
Tests for the slave's HTTP endpoints (L{mesos_tw.slave.http.SlaveHTTP}),
through treq's in-memory client.
"""

import json
import os

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from mesos_tw.testing.web import ProducerRequest

from mesos_tw.detector import StandaloneDetector
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.files import DOWNLOAD_CHUNK, send_file
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.slave import SlaveTestCase


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


class SlaveOperatorEndpointTests(SynchronousTestCase):
    """
    Flags, usage statistics, metrics and the sandbox files API.
    """

    def setUp(self):
        import os

        clock = Clock()
        network = MemoryNetwork(clock)
        self.work_dir = os.path.abspath(self.mktemp())
        self.sandbox = os.path.join(self.work_dir, "slaves", "S1", "runs", "r1")
        os.makedirs(self.sandbox)
        with open(os.path.join(self.sandbox, "stdout"), "w") as stdout:
            stdout.write("hello sandbox\n")
        outside = os.path.abspath(self.mktemp())
        with open(outside, "w") as secret:
            secret.write("secret")
        os.symlink(outside, os.path.join(self.sandbox, "escape"))
        self.outside = outside
        self.clock = clock
        self.isolator = FakeIsolator(clock)
        self.slave = Slave(
            clock, network.node(UPID("slave(1)", "127.0.0.1", 5051)),
            StandaloneDetector(UPID("master", "127.0.0.1", 5050)), self.isolator,
            self.work_dir, Resources.parse("cpus:2;mem:1024"))
        self.client = StubTreq(SlaveHTTP(self.slave, {"flags": {"port": "5051"}}).resource())

    def get(self, path):
        """
        GET C{path}: the response and its body.
        """
        response = self.successResultOf(self.client.get("http://slave" + path))
        return response, self.successResultOf(response.content())

    def test_flags_and_health(self):
        """
        /slave(1)/flags shows the flags; /slave(1)/health answers 200.
        """
        _, body = self.get("/slave(1)/flags")
        self.assertEqual(json.loads(body), {"flags": {"port": "5051"}})
        response, _ = self.get("/slave(1)/health")
        self.assertEqual(response.code, 200)

    def test_metrics(self):
        """
        /metrics/snapshot uses Mesos's slave metric names.
        """
        _, body = self.get("/metrics/snapshot")
        metrics = json.loads(body)
        self.assertEqual(metrics["slave/cpus_total"], 2.0)
        for name in ("slave/uptime_secs", "slave/registered", "slave/tasks_running",
                     "slave/mem_percent"):
            self.assertIn(name, metrics)

    def test_statistics_empty(self):
        """
        With no executors, /monitor/statistics is an empty list.
        """
        _, body = self.get("/monitor/statistics")
        self.assertEqual(json.loads(body), [])

    def test_read(self):
        """
        /files/read returns Mesos's {data, offset}; offset=-1 gives the size.
        """
        path = self.sandbox + "/stdout"
        _, body = self.get(f"/files/read?path={path}&offset=6&length=7")
        self.assertEqual(json.loads(body), {"data": "sandbox", "offset": 6})
        _, body = self.get(f"/files/read?path={path}&offset=-1")
        self.assertEqual(json.loads(body), {"data": "", "offset": 14})

    def test_read_keeps_characters_whole(self):
        """
        A read that would end inside a UTF-8 character stops before it, so
        that the next read, from where the text ends, starts with it.
        """
        path = self.sandbox + "/utf8"
        with open(path, "wb") as file:
            file.write("h\u00e9llo \u20ac".encode("utf-8"))
        _, body = self.get(f"/files/read?path={path}&offset=0&length=2")
        self.assertEqual(json.loads(body), {"data": "h", "offset": 0})
        _, body = self.get(f"/files/read?path={path}&offset=1&length=7")
        self.assertEqual(json.loads(body), {"data": "\u00e9llo ", "offset": 1})
        _, body = self.get(f"/files/read?path={path}&offset=7&length=1")
        self.assertEqual(json.loads(body), {"data": "\ufffd", "offset": 7})

    def test_browse_and_download(self):
        """
        /files/browse lists a sandbox; /files/download returns a file.
        """
        _, body = self.get(f"/files/browse?path={self.sandbox}")
        names = [entry["path"].rsplit("/", 1)[1] for entry in json.loads(body)]
        self.assertEqual(names, ["escape", "stdout"])
        response, body = self.get(f"/files/download?path={self.sandbox}/stdout")
        self.assertEqual((response.code, body), (200, b"hello sandbox\n"))
        self.assertEqual(response.headers.getRawHeaders("content-disposition"),
                         ['attachment; filename="stdout"'])
        self.assertEqual(response.headers.getRawHeaders("content-type"),
                         ["application/octet-stream"])

    def test_download_in_chunks(self):
        """
        A large download is written a chunk per turn of the slave's
        reactor: it is not all there after the request, and is complete and
        whole once the reactor has turned.
        """
        data = bytes(range(256)) * (DOWNLOAD_CHUNK // 256 * 3 + 7)
        with open(os.path.join(self.sandbox, "big"), "wb") as file:
            file.write(data)
        response = self.successResultOf(
            self.client.get(f"http://slave/files/download?path={self.sandbox}/big"))
        self.assertEqual(response.length, len(data))
        body = response.content()
        self.assertNoResult(body)
        for _ in range(10):
            self.clock.advance(0)
            self.client.flush()
        self.assertEqual(self.successResultOf(body), data)

    def test_send_file_cancelled(self):
        """
        Cancelling a download (the client went away) closes the file and
        leaves nothing scheduled.
        """
        path = os.path.join(self.sandbox, "big")
        with open(path, "wb") as file:
            file.write(b"x" * (DOWNLOAD_CHUNK * 2))
        request = ProducerRequest([b""])
        file = open(path, "rb")
        d = send_file(request, file, self.clock)
        self.assertEqual(len(request.written), 1)
        d.cancel()
        self.failureResultOf(d)
        self.assertTrue(file.closed)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_confined_to_sandboxes(self):
        """
        Paths outside the work directory, through .. or a symbolic link, are
        403; missing ones 404; a relative one 400; bad numbers 400.
        """
        cases = {
            f"/files/read?path={self.outside}": 403,
            f"/files/read?path={self.sandbox}/../../../../../{self.outside}": 403,
            f"/files/read?path={self.sandbox}/escape": 403,
            f"/files/download?path={self.sandbox}/escape": 403,
            f"/files/browse?path={self.sandbox}/nope": 404,
            "/files/read?path=relative/stdout": 400,
            f"/files/read?path={self.sandbox}/stdout&offset=x": 400,
            f"/files/browse?path={self.sandbox}/stdout": 400,
        }
        for path, code in cases.items():
            response, body = self.get(path)
            self.assertEqual(response.code, code, path)
            self.assertNotIn(b"secret", body)


class MonitorStatisticsTests(SlaveTestCase):
    """
    C{/monitor/statistics} shows the resource monitor's latest samples in
    Mesos's JSON shape, without asking the isolator itself.
    """

    def setUp(self):
        super().setUp()
        self.asked = []
        fake_usage = self.isolator.usage

        def usage(framework_id, executor_id):
            # The fake's answer (it fails for an executor not running),
            # with the numbers a real isolator reports.
            self.asked.append((framework_id, executor_id))
            d = fake_usage(framework_id, executor_id)
            d.addCallback(lambda statistics: mesos_pb2.ResourceStatistics(
                timestamp=self.clock.seconds(), cpus_user_time_secs=1.5 * len(self.asked),
                cpus_system_time_secs=0.25, cpus_limit=1.0, mem_rss_bytes=64 << 20,
                mem_limit_bytes=128 << 20))
            return d

        self.isolator.usage = usage
        self.client = StubTreq(SlaveHTTP(self.slave).resource())
        self.register()

    def get_json(self, path):
        """
        GET C{path}: its status code and its body as JSON.
        """
        response = self.successResultOf(self.client.get("http://slave" + path))
        return response.code, json.loads(self.successResultOf(response.content()))

    def test_latest_sample_in_mesos_shape(self):
        """
        A running executor's entry names its framework, id, name and source,
        with the statistics of the latest sample, under both paths.
        """
        self.run_task("t1")
        self.executor_registers("t1")
        self.clock.advance(1)
        self.clock.advance(1)
        expected = [{
            "framework_id": "F1",
            "executor_id": "t1",
            "executor_name": "Command Executor (Task: t1)",
            "source": "t1",
            "statistics": {
                "timestamp": 2.0,
                "cpus_user_time_secs": 1.5 * len(self.asked),
                "cpus_system_time_secs": 0.25,
                "cpus_limit": 1.0,
                "mem_rss_bytes": 64 << 20,
                "mem_limit_bytes": 128 << 20,
            },
        }]
        for path in ("/monitor/statistics", "/monitor/statistics.json"):
            self.assertEqual(self.get_json(path), (200, expected))

    def test_served_without_asking_the_isolator(self):
        """
        A request does not ask the isolator for usage: it serves what the
        monitor sampled, so it is empty until the first sample.
        """
        self.run_task("t1")
        asked = len(self.asked)
        self.assertEqual(self.get_json("/monitor/statistics"), (200, []))
        self.assertEqual(len(self.asked), asked)
        self.clock.advance(1)
        asked = len(self.asked)
        code, entries = self.get_json("/monitor/statistics")
        self.assertEqual((code, [e["executor_id"] for e in entries]), (200, ["t1"]))
        self.assertEqual(len(self.asked), asked)

    def test_ordered_and_ended_executors_gone(self):
        """
        Entries are ordered by framework and executor id; an executor that
        has ended is gone after the next sample.
        """
        self.run_task("t2")
        self.run_task("t1", executor_id="e1")
        self.executor_registers("t2", name="executor-2")
        self.executor_registers("e1", name="executor-1")
        self.clock.advance(1)
        _, entries = self.get_json("/monitor/statistics")
        self.assertEqual([(e["executor_id"], e["executor_name"]) for e in entries],
                         [("e1", ""), ("t2", "Command Executor (Task: t2)")])
        self.isolator.exit("F1", "t2", 0)
        self.turn()
        self.clock.advance(1)
        _, entries = self.get_json("/monitor/statistics")
        self.assertEqual([e["executor_id"] for e in entries], ["e1"])
