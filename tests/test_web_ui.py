"""
Tests for the master's web UI: the pages rendered in memory (a real master
and slave on an in-memory network).  The tests against a running
mesos-local, in a real headless Chromium among them, are in
C{tests.test_web_ui_cluster}.
"""

import json
import os
import re

from treq.testing import StubTreq
from twisted.internet.defer import fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from mesos_tw.detector import StandaloneDetector
from mesos_tw.interface import mesos_pb2
from mesos_tw.master.election import ILeadership, SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.web.history import UtilizationHistory, utilization_chart
from mesos_tw.web.layout import browse_link, download_link, tail_link

MASTER = UPID("master", "127.0.0.1", 5050)
SLAVE = UPID("slave(1)", "127.0.0.1", 5051)


class DashboardTests(SynchronousTestCase):
    """
    The dashboard's HTML, through treq's in-memory client.
    """

    def test_shows_frameworks_and_slaves(self):
        """
        The dashboard lists registered frameworks and slaves with their
        resources, and links its local script.
        """
        clock = Clock()
        network = MemoryNetwork(clock)
        master = Master(clock, network.node(MASTER), cluster="test-cluster")
        master.start()
        self.addCleanup(master.stop)
        slave = RecordingPeer(network, UPID("slave(1)", "127.0.0.1", 5051))
        slave.send(MASTER, internal.RegisterSlaveMessage(slave=mesos_pb2.SlaveInfo(
            hostname="node-a", resources=Resources.parse("cpus:4;mem:2048").to_protobuf())))
        scheduler = RecordingPeer(network, UPID("scheduler-1", "127.0.0.1", 0))
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="alice", name="web-test")))
        for _ in range(5):
            clock.advance(0)
        client = StubTreq(MasterHTTP(SoleMaster(master)).resource())
        response = self.successResultOf(client.get("http://master/"))
        body = self.successResultOf(response.content()).decode()
        self.assertEqual(response.code, 200)
        for text in ("test-cluster", "web-test", "alice", "node-a", "0 / 4",
                     'src="/static/refresh.js"', "master@127.0.0.1:5050"):
            self.assertIn(text, body)

    def test_framework_ui_linked(self):
        """
        A framework that names its own UI (C{webui_url}, as mesos-services
        does for its services page) is linked to it from the dashboard.
        """
        clock = Clock()
        network = MemoryNetwork(clock)
        master = Master(clock, network.node(MASTER))
        master.start()
        self.addCleanup(master.stop)
        scheduler = RecordingPeer(network, UPID("scheduler-1", "127.0.0.1", 0))
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="alice", name="mesos-services",
                                              webui_url="http://svc:8080/")))
        for _ in range(5):
            clock.advance(0)
        client = StubTreq(MasterHTTP(SoleMaster(master)).resource())
        response = self.successResultOf(client.get("http://master/"))
        body = self.successResultOf(response.content()).decode()
        self.assertIn('<a href="http://svc:8080/">mesos-services</a>', body)


class FrameworkPageTests(SynchronousTestCase):
    """
    A framework's page.
    """

    def setUp(self):
        clock = Clock()
        network = MemoryNetwork(clock)
        self.master = Master(clock, network.node(MASTER))
        self.master.start()
        self.addCleanup(self.master.stop)
        slave = RecordingPeer(network, UPID("slave(1)", "127.0.0.1", 5051))
        slave.send(MASTER, internal.RegisterSlaveMessage(slave=mesos_pb2.SlaveInfo(
            hostname="node-a", resources=Resources.parse("cpus:4;mem:2048").to_protobuf())))
        scheduler = RecordingPeer(network, UPID("scheduler-1", "127.0.0.1", 0))
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="alice", name="page-test")))
        for _ in range(5):
            clock.advance(0)
        registered = scheduler.last(internal.FrameworkRegisteredMessage)
        self.framework_id = registered.framework_id.value
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        task = mesos_pb2.TaskInfo(
            name="visible-task", task_id=mesos_pb2.TaskID(value="t-1"), slave_id=offer.slave_id,
            resources=Resources.parse("cpus:1;mem:64").to_protobuf(),
            command=mesos_pb2.CommandInfo(value="true"))
        scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=registered.framework_id, offer_id=offer.id, tasks=[task],
            filters=mesos_pb2.Filters()))
        for _ in range(5):
            clock.advance(0)
        self.clock, self.slave = clock, slave
        self.client = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())

    def get(self, path):
        response = self.successResultOf(self.client.get("http://master" + path))
        return response, self.successResultOf(response.content()).decode()

    def test_tasks_listed_and_linked(self):
        """
        The dashboard links the framework; its page lists its staged task.
        """
        _, dashboard = self.get("/")
        self.assertIn(f'href="/ui/frameworks/{self.framework_id}"', dashboard)
        response, page = self.get(f"/ui/frameworks/{self.framework_id}")
        self.assertEqual(response.code, 200)
        for text in ("page-test", "visible-task", "t-1", "TASK_STAGING"):
            self.assertIn(text, page)

    def test_task_health(self):
        """
        A task's health, as its health check last reported it, is shown
        beside its state.
        """
        update = internal.StatusUpdate(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id),
            slave_id=mesos_pb2.SlaveID(value=self.master.state()["slaves"][0]["id"]),
            timestamp=1.0, uuid=b"u1", status=mesos_pb2.TaskStatus(
                task_id=mesos_pb2.TaskID(value="t-1"), state=mesos_pb2.TASK_RUNNING,
                healthy=False))
        self.slave.send(MASTER, internal.StatusUpdateMessage(update=update,
                                                             pid=str(self.slave.upid)))
        for _ in range(5):
            self.clock.advance(0)
        _, page = self.get(f"/ui/frameworks/{self.framework_id}")
        self.assertIn("<td>TASK_RUNNING</td><td>unhealthy</td>", page)

    def test_unknown_framework(self):
        """
        An unknown framework id is a 404 saying so.
        """
        response, body = self.get("/ui/frameworks/nope")
        self.assertEqual(response.code, 404)
        self.assertIn("no framework nope", body)


class UnreachableSlaves:
    """
    A treq-like client for which every slave refuses connections.
    """

    def get(self, url, **kwargs):
        """
        Fail as a refused connection does.
        """
        return fail(ConnectionRefusedError("connection refused"))


class CannedResponse:
    """
    A treq-like response with a fixed status and body.
    """

    def __init__(self, code, body):
        self.code = code
        self.body = body

    def content(self):
        """
        The body.
        """
        return succeed(self.body)


class CannedStatistics:
    """
    A treq-like client that answers C{/monitor/statistics} with C{entries}
    and passes every other request to C{client}.
    """

    def __init__(self, client, entries):
        self.client = client
        self.entries = entries

    def get(self, url, **kwargs):
        """
        The canned statistics, or what C{client} answers.
        """
        if "/monitor/statistics" in url:
            return succeed(CannedResponse(200, json.dumps(self.entries).encode()))
        return self.client.get(url, **kwargs)


class ClusterPagesTests(SynchronousTestCase):
    """
    The list pages and one slave's pages, with a real master and a real
    slave (fake isolator) on an in-memory network: the slave's own HTTP
    app answers the master's UI through treq's in-memory client.
    """

    def setUp(self):
        """
        Build the cluster the tests look at.
        """
        self.clock = Clock()
        network = MemoryNetwork(self.clock)
        self.master = Master(self.clock, network.node(MASTER), cluster="pages")
        self.master.start()
        self.addCleanup(self.master.stop)
        self.slave = Slave(
            self.clock, network.node(SLAVE), StandaloneDetector(MASTER), FakeIsolator(self.clock),
            os.path.abspath(self.mktemp()), Resources.parse("cpus:4;mem:2048;disk:1000"),
            attributes={"rack": "r7"}, hostname="node-a", python="python3",
            environ={"PATH": "/bin"})
        self.slave.start()
        self.addCleanup(self.slave.stop)
        self.turn()
        self.scheduler = RecordingPeer(network, UPID("scheduler-1", "127.0.0.1", 0))
        self.scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="alice", name="pages-fw", role="batch")))
        self.turn()
        registered = self.scheduler.last(internal.FrameworkRegisteredMessage)
        self.framework_id = registered.framework_id.value
        offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.slave_id = offer.slave_id.value
        task = mesos_pb2.TaskInfo(
            name="writer", task_id=mesos_pb2.TaskID(value="writer-1"), slave_id=offer.slave_id,
            resources=Resources.parse("cpus:1;mem:64").to_protobuf(),
            command=mesos_pb2.CommandInfo(value="echo hello"))
        self.scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=registered.framework_id, offer_id=offer.id, tasks=[task],
            filters=mesos_pb2.Filters()))
        self.turn()
        executor = self.slave.frameworks[self.framework_id].executors["writer-1"]
        self.directory = executor.directory
        with open(os.path.join(self.directory, "stdout"), "w") as stdout:
            stdout.write("hello from the sandbox\n")
        self.slave_http = StubTreq(SlaveHTTP(self.slave).resource())
        self.client = StubTreq(MasterHTTP(
            SoleMaster(self.master), slave_http=self.slave_http).resource())

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def get(self, path):
        """
        GET C{path} from the master: the response and its text.
        """
        response = self.successResultOf(self.client.get("http://master" + path))
        return response, self.successResultOf(response.content()).decode()

    def test_frameworks_page(self):
        """
        /frameworks lists the framework with its role, its task and its
        dominant share (1 of 4 CPUs), linked to its own page.
        """
        response, body = self.get("/ui/frameworks")
        self.assertEqual(response.code, 200)
        for text in ("pages-fw", "alice", "batch", f'href="/ui/frameworks/{self.framework_id}"',
                     "25.0%"):
            self.assertIn(text, body)

    def test_slaves_page(self):
        """
        /slaves lists the slave with its host, attributes, task count and
        CPUs used of total, linked to its page.
        """
        response, body = self.get("/ui/slaves")
        self.assertEqual(response.code, 200)
        for text in ("node-a", "rack=r7", "1 / 4", f'href="/ui/slaves/{self.slave_id}"',
                     "<td>connected</td>"):
            self.assertIn(text, body)

    def test_slaves_page_disconnected(self):
        """
        /slaves says a slave whose connection closed is disconnected (it
        is kept, with its task).
        """
        self.master.disconnect_slave(self.master.slaves[self.slave_id], "test")
        response, body = self.get("/ui/slaves")
        self.assertEqual(response.code, 200)
        self.assertIn("<td>disconnected</td>", body)

    def test_offers_page(self):
        """
        /offers lists each outstanding offer with its framework's name and
        its slave; with none it says so.
        """
        _, body = self.get("/ui/offers")
        self.assertIn("No outstanding offers.", body)
        offered = len(self.scheduler.of(internal.ResourceOffersMessage))
        # The launch's filter refuses the rest of the slave for 5 seconds.
        for _ in range(10):
            self.clock.advance(self.master.allocation_interval)
            self.turn()
        self.assertEqual(len(self.scheduler.of(internal.ResourceOffersMessage)), offered + 1)
        offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]
        _, body = self.get("/ui/offers")
        for text in (offer.id.value, "pages-fw", "node-a", "cpus: 3"):
            self.assertIn(text, body)
        self.assertNotIn("No outstanding offers.", body)

    def test_slave_page_lists_executors(self):
        """
        A slave's page lists the executor the slave reports, linked to the
        executor's page and its sandbox, and the task the master knows.
        """
        response, body = self.get(f"/ui/slaves/{self.slave_id}")
        self.assertEqual(response.code, 200)
        executor_page = f"/ui/slaves/{self.slave_id}/frameworks/{self.framework_id}/executors/writer-1"
        for text in ("Command Executor (Task: writer-1)", f'href="{executor_page}"',
                     browse_link(self.slave_id, self.directory).replace("&", "&amp;"),
                     "writer", "TASK_STAGING", "rack=r7"):
            self.assertIn(text, body)

    def test_slave_page_lists_completed_executors(self):
        """
        An executor that exited is listed among the completed executors,
        still linked to its page and its sandbox.
        """
        self.slave.isolator.exit(self.framework_id, "writer-1", 0)
        self.turn()
        _, body = self.get(f"/ui/slaves/{self.slave_id}")
        completed = body.split('id="completed-executors"', 1)[1].split("</table>", 1)[0]
        self.assertIn("Command Executor (Task: writer-1)", completed)
        self.assertIn(browse_link(self.slave_id, self.directory).replace("&", "&amp;"),
                      completed)
        running = body.split('id="executors"', 1)[1].split("</table>", 1)[0]
        self.assertNotIn("writer-1", running)
        executor_page = f"/ui/slaves/{self.slave_id}/frameworks/{self.framework_id}/executors/writer-1"
        response, page = self.get(executor_page)
        self.assertEqual(response.code, 200)
        self.assertIn("completed", page)

    def test_only_local_resources(self):
        """
        Every page's scripts and styles come from the master itself.
        """
        for path in ("/", "/ui/frameworks", "/ui/slaves", "/ui/offers", f"/ui/slaves/{self.slave_id}",
                     tail_link(self.slave_id, os.path.join(self.directory, "stdout"))):
            _, body = self.get(path)
            sources = re.findall(r'<(?:script|link|img)[^>]*(?:src|href)="([^"]*)"', body)
            self.assertTrue(sources, path)
            for source in sources:
                self.assertTrue(source.startswith("/static/"), (path, source))

    def test_slave_page_unreachable_slave(self):
        """
        When the slave does not answer, its page still shows what the
        master knows and says why the executors are missing.
        """
        client = StubTreq(MasterHTTP(
            SoleMaster(self.master), slave_http=UnreachableSlaves()).resource())
        response = self.successResultOf(client.get(f"http://master/ui/slaves/{self.slave_id}"))
        body = self.successResultOf(response.content()).decode()
        self.assertEqual(response.code, 200)
        self.assertIn("did not answer", body)
        self.assertIn("writer-1", body)
        self.assertNotIn("Command Executor", body)

    def test_unknown_slave(self):
        """
        Every page of an unknown slave is a 404 naming it.
        """
        for path in ("/ui/slaves/nope", "/ui/slaves/nope/browse?path=/",
                     "/ui/slaves/nope/tail?path=/x", "/ui/slaves/nope/files/read?path=/x",
                     "/ui/slaves/nope/frameworks/f/executors/e"):
            response, body = self.get(path)
            self.assertEqual(response.code, 404, path)
            self.assertIn("no slave nope", body)

    def test_executor_page(self):
        """
        An executor's page lists its tasks and links its sandbox and its
        stdout and stderr tails; an unknown executor is a 404.
        """
        base = f"/ui/slaves/{self.slave_id}/frameworks/{self.framework_id}/executors"
        response, body = self.get(f"{base}/writer-1")
        self.assertEqual(response.code, 200)
        for text in ("writer-1", "QUEUED", "running", self.directory,
                     tail_link(self.slave_id, os.path.join(self.directory, "stdout")),
                     tail_link(self.slave_id, os.path.join(self.directory, "stderr"))):
            self.assertIn(text.replace("&", "&amp;"), body)
        response, body = self.get(f"{base}/nope")
        self.assertEqual(response.code, 404)
        self.assertIn("no executor nope", body)

    def test_executor_usage(self):
        """
        The executor page shows the CPU time and memory the slave reports
        for that executor, and says when it reports none (the fake
        isolator measures nothing).
        """
        base = f"/ui/slaves/{self.slave_id}/frameworks/{self.framework_id}/executors/writer-1"
        _, body = self.get(base)
        self.assertIn("Usage: none reported", body)
        statistics = {"cpus_user_time_secs": 1.0, "cpus_system_time_secs": 0.5,
                      "mem_rss_bytes": 32 * 2 ** 20, "mem_limit_bytes": 64 * 2 ** 20}
        entries = [{"framework_id": self.framework_id, "executor_id": "other",
                    "statistics": {"mem_rss_bytes": 1}},
                   {"framework_id": self.framework_id, "executor_id": "writer-1",
                    "statistics": statistics}]
        client = StubTreq(MasterHTTP(SoleMaster(self.master), slave_http=CannedStatistics(
            self.slave_http, entries)).resource())
        response = self.successResultOf(client.get("http://master" + base))
        body = self.successResultOf(response.content()).decode()
        self.assertIn("Usage: CPU time 1.50 s (user 1.00, system 0.50); memory 32.0 MB of 64 MB",
                      body)

    def test_executor_page_unreachable_slave(self):
        """
        An executor's page of a slave that does not answer is a 502 saying so.
        """
        client = StubTreq(MasterHTTP(
            SoleMaster(self.master), slave_http=UnreachableSlaves()).resource())
        response = self.successResultOf(client.get(
            f"http://master/ui/slaves/{self.slave_id}/frameworks/{self.framework_id}"
            "/executors/writer-1"))
        self.assertEqual(response.code, 502)
        self.assertIn(b"did not answer", self.successResultOf(response.content()))

    def test_browse_sandbox(self):
        """
        The sandbox browser lists the sandbox's files, each linked to its
        tail and to a download the master relays from the slave.
        """
        stdout = os.path.join(self.directory, "stdout")
        response, body = self.get(browse_link(self.slave_id, self.directory))
        self.assertEqual(response.code, 200)
        self.assertIn(tail_link(self.slave_id, stdout).replace("&", "&amp;"), body)
        self.assertIn(download_link(self.slave_id, stdout).replace("&", "&amp;"), body)
        response, body = self.get(download_link(self.slave_id, stdout))
        self.assertEqual((response.code, body), (200, "hello from the sandbox\n"))
        self.assertEqual(response.length, 23)

    def test_browse_refusals(self):
        """
        The slave's refusals reach the browser with their status and
        message: outside the sandboxes, missing; a missing path is a 400.
        """
        for path, code, text in (("/etc", 403, "outside"),
                                 (self.directory + "/nothing-here", 404, "no such file"),
                                 ("", 400, "path is required")):
            response, body = self.get(browse_link(self.slave_id, path))
            self.assertEqual(response.code, code, path)
            self.assertIn(text, body)

    def test_collected_sandbox(self):
        """
        A sandbox the garbage collector removed is a 404 saying so, in
        the sandbox browser and the tail page alike.
        """
        old_run = os.path.join(os.path.dirname(self.directory), "an-ended-run")
        os.makedirs(old_run)
        with open(os.path.join(old_run, "stdout"), "w") as stdout:
            stdout.write("gone soon\n")
        self.slave.gc.schedule(0, old_run)
        self.clock.advance(0)
        self.assertFalse(os.path.exists(old_run))
        for link in (browse_link(self.slave_id, old_run),
                     tail_link(self.slave_id, os.path.join(old_run, "stdout"))):
            response, body = self.get(link)
            self.assertEqual(response.code, 404, link)
            self.assertIn("garbage collected", body)

    def test_tail_page(self):
        """
        The tail page of a sandbox file carries the pailer script, where to
        read the file through the master, and a download link; a file that
        does not exist is a 404.
        """
        stdout = os.path.join(self.directory, "stdout")
        response, body = self.get(tail_link(self.slave_id, stdout))
        self.assertEqual(response.code, 200)
        for text in ('src="/static/pailer.js"', f'data-read="/ui/slaves/{self.slave_id}/files/read"',
                     f'data-path="{stdout}"', "/files/download?path="):
            self.assertIn(text, body)
        response, body = self.get(tail_link(self.slave_id, stdout + ".missing"))
        self.assertEqual(response.code, 404)

    def test_read_through_master(self):
        """
        /slaves/<id>/files/read gives Mesos's {data, offset} from the
        slave: the size with offset -1, then the text from an offset.
        """
        stdout = os.path.join(self.directory, "stdout")
        text = "hello from the sandbox\n"
        base = f"/ui/slaves/{self.slave_id}/files/read?path={stdout}"
        _, body = self.get(base + "&offset=-1")
        self.assertEqual(json.loads(body), {"data": "", "offset": len(text)})
        _, body = self.get(base + "&offset=6&length=4")
        self.assertEqual(json.loads(body), {"data": text[6:10], "offset": 6})
        with open(stdout, "a") as file:
            file.write("more\n")
        _, body = self.get(base + f"&offset={len(text)}")
        self.assertEqual(json.loads(body), {"data": "more\n", "offset": len(text)})

    def test_read_bad_arguments(self):
        """
        Bad offsets and lengths are 400s naming the argument, before the
        slave is asked.
        """
        base = f"/ui/slaves/{self.slave_id}/files/read?path=/x"
        for query, text in (("&offset=abc", "offset must be an integer"),
                            ("&offset=-2", "offset must be at least -1"),
                            ("&length=-1", "length must be at least 0")):
            response, body = self.get(base + query)
            self.assertEqual(response.code, 400, query)
            self.assertIn(text, body)

    def test_every_page_has_navigation(self):
        """
        Every page shows the cluster's name and the leading master, and
        links the other pages.
        """
        for path in ("/", "/ui/frameworks", "/ui/slaves", "/ui/offers", f"/ui/slaves/{self.slave_id}",
                     f"/ui/frameworks/{self.framework_id}"):
            _, body = self.get(path)
            for text in ('href="/ui/frameworks"', 'href="/ui/slaves"', 'href="/ui/offers"', "pages",
                         str(self.master.pid)):
                self.assertIn(text, body, path)


@implementer(ILeadership)
class Standby:
    """
    A master that does not lead, while C{leader} does.
    """

    master = None
    elected = False

    def __init__(self, pid, leader):
        self.pid = pid
        self.leader = leader


class StandbyPagesTests(SynchronousTestCase):
    """
    A standby master's UI sends the browser to the leader.
    """

    def test_standby_is_a_leadership(self):
        """
        The test's standby provides L{ILeadership}.
        """
        verifyObject(ILeadership, Standby(MASTER, None))

    def test_pages_redirect_to_leader(self):
        """
        Every UI page on a standby is a 307 to the same page on the leader.
        """
        client = StubTreq(MasterHTTP(
            Standby(MASTER, UPID("master", "10.0.0.9", 5050))).resource())
        for path in ("/", "/ui/frameworks", "/ui/slaves", "/ui/offers", "/ui/slaves/s1",
                     "/ui/slaves/s1/browse?path=/tmp"):
            response = self.successResultOf(
                client.get("http://master" + path, allow_redirects=False))
            self.assertEqual(response.code, 307, path)
            self.assertEqual(response.headers.getRawHeaders("location"),
                             ["http://10.0.0.9:5050" + path])


class UtilizationHistoryTests(SynchronousTestCase):
    """
    The dashboard's utilization history and chart.
    """

    def test_spacing_and_span(self):
        """
        Samples closer than the spacing are skipped; those older than the
        span are forgotten.
        """
        history = UtilizationHistory(span=60, spacing=5)
        for now in (0, 1, 5, 6, 10, 70):
            history.record(now, {"master/cpus_percent": now / 100})
        self.assertEqual([when for when, _ in history.samples], [10, 70])
        self.assertEqual(history.samples[-1][1]["cpus"], 0.7)

    def test_chart_lines(self):
        """
        The chart has one line per resource with a point per sample: the
        newest at the right edge (inside a 4-unit margin), 50% use half-way
        up, 100% at the top.
        """
        history = UtilizationHistory(span=60, spacing=5)
        history.record(30, {"master/cpus_percent": 0.0, "master/mem_percent": 0.5})
        history.record(60, {"master/cpus_percent": 1.0, "master/mem_percent": 0.5})
        svg, _ = utilization_chart(history, 60)
        lines = {c.attributes["data-resource"]: c.attributes["points"]
                 for c in svg.children if c.tagName == "polyline"}
        self.assertEqual(lines["cpus"], "300.0,146.0 596.0,4.0")
        self.assertEqual(lines["mem"], "300.0,75.0 596.0,75.0")

    def test_dashboard_samples_metrics(self):
        """
        Each metrics poll (at least the spacing apart) adds a point to the
        dashboard's chart; polls closer together do not.
        """
        clock = Clock()
        master = Master(clock, MemoryNetwork(clock).node(MASTER))
        master.start()
        self.addCleanup(master.stop)
        client = StubTreq(MasterHTTP(SoleMaster(master)).resource())
        for _ in range(3):
            self.successResultOf(client.get("http://master/metrics/snapshot"))
            self.successResultOf(client.get("http://master/metrics/snapshot"))
            clock.advance(5)
        response = self.successResultOf(client.get("http://master/"))
        body = self.successResultOf(response.content()).decode()
        points = body.split('data-resource="cpus"')[0].rsplit('points="', 1)[1].split('"')[0]
        self.assertEqual(len(points.split()), 4)


#: What the writer task prints, for the sandbox browser to show.
