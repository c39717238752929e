"""
Tests for the master's web UI: the dashboard rendered in memory, and in a
real headless Chromium against a running cluster with a framework's task.
"""

import os
import shutil

from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import Clock
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from mesos_tw import local
from mesos_tw.interface import Scheduler, mesos_pb2
from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer

MASTER = UPID("master", "127.0.0.1", 5050)


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
        self.client = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())

    def get(self, path):
        response = self.successResultOf(self.client.get("http://master" + path))
        return response, self.successResultOf(response.content()).decode()

    def test_tasks_listed_and_linked(self):
        """
        The dashboard links the framework; its page lists its staged task.
        """
        _, dashboard = self.get("/")
        self.assertIn(f'href="/frameworks/{self.framework_id}"', dashboard)
        response, page = self.get(f"/frameworks/{self.framework_id}")
        self.assertEqual(response.code, 200)
        for text in ("page-test", "visible-task", "t-1", "TASK_STAGING"):
            self.assertIn(text, page)

    def test_unknown_framework(self):
        """
        An unknown framework id is a 404 saying so.
        """
        response, body = self.get("/frameworks/nope")
        self.assertEqual(response.code, 404)
        self.assertIn("no framework nope", body)


class RunningTaskScheduler(Scheduler):
    """
    Launches one long task and fires C{running} when it runs.
    """

    def __init__(self):
        self.running = Deferred()
        self.launched = False

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            self.launched = True
            task = mesos_pb2.TaskInfo(
                name="sleeper", task_id=mesos_pb2.TaskID(value="sleeper"),
                slave_id=offer.slave_id,
                resources=Resources.parse("cpus:0.5;mem:64").to_protobuf())
            task.command.value = "sleep 60"
            driver.launchTasks(offer.id, [task])

    def statusUpdate(self, driver, status):
        if status.state == mesos_pb2.TASK_RUNNING and not self.running.called:
            self.running.callback(None)


def chromium():
    """
    Debian's Chromium, or L{SkipTest} saying it is missing.
    """
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SkipTest("Chromium is not installed (scripts/test installs Debian's chromium as root)")


class BrowserTests(TestCase):
    """
    The dashboard in a real headless Chromium.
    """

    timeout = 90

    @inlineCallbacks
    def test_dashboard_in_chromium(self):
        """
        With a framework's task running on mesos-local, the dashboard that
        Chromium renders shows the framework and one running task; a
        screenshot is saved under _trial_temp.
        """
        browser = chromium()
        work_dir = os.path.abspath(self.mktemp())
        options = local.Options(environ={})
        options.parseOptions(["--port=0", "--num_slaves=1", f"--work_dir={work_dir}",
                              "--resources=cpus:2;mem:512;disk:100"])
        cluster = local.makeService(options, reactor)
        cluster.startService()
        self.addCleanup(cluster.stopService)
        port = (yield cluster.master_service.listening).getHost().port
        scheduler = RunningTaskScheduler()
        driver = MesosSchedulerDriver(
            scheduler, mesos_pb2.FrameworkInfo(user="", name="browser-test-framework"),
            f"127.0.0.1:{port}", reactor=reactor)
        driver.start()
        self.addCleanup(driver.stop)
        yield scheduler.running
        profile = os.path.abspath(self.mktemp())
        screenshot = os.path.abspath("dashboard.png")
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={profile}", "--virtual-time-budget=3000",
                 "--window-size=1280,900"]
        url = f"http://127.0.0.1:{port}/"
        out, err, code = yield getProcessOutputAndValue(
            browser, flags + ["--dump-dom", url], env=os.environ.copy())
        self.assertEqual(code, 0, err.decode(errors="replace"))
        dom = out.decode(errors="replace")
        self.assertIn("browser-test-framework", dom)
        running_row = dom.split("<th>Running</th>", 1)[1].split("</tr>", 1)[0]
        self.assertIn("<td>1</td>", running_row)
        out, err, code = yield getProcessOutputAndValue(
            browser, flags + [f"--screenshot={screenshot}", url], env=os.environ.copy())
        self.assertTrue(os.path.getsize(screenshot) > 0, err.decode(errors="replace"))
