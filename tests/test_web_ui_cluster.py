"""
Tests for the web UI and the JSON endpoints against a running mesos-local
with a framework's tasks: over real HTTP, and in a real headless Chromium
(screenshots of the main pages go to _trial_temp/screenshots).
"""

import json
import os

import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import TestCase

from mesos_tw.interface import Scheduler, mesos_pb2
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.resources import Resources
from mesos_tw.testing.local_cluster import start_mesos_local
from mesos_tw.testing.web import chromium, run_chromium
from mesos_tw.web.layout import browse_link, download_link, tail_link

MARKER = "written-by-the-writer-task"


class TwoTaskScheduler(Scheduler):
    """
    Launches, on the first offer, a long task (C{sleeper}) and one that
    prints L{MARKER} and ends (C{writer}); C{running} fires when the sleeper
    runs and C{finished} when the writer has finished.
    """

    def __init__(self):
        self.running = Deferred()
        self.finished = Deferred()
        self.launched = False

    def resourceOffers(self, driver, offers):
        """
        Launch both tasks on the first offer; decline the rest.
        """
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            self.launched = True
            tasks = []
            for name, command in (("sleeper", "sleep 60"), ("writer", f"echo {MARKER}")):
                task = mesos_pb2.TaskInfo(
                    name=name, task_id=mesos_pb2.TaskID(value=name), slave_id=offer.slave_id,
                    resources=Resources.parse("cpus:0.5;mem:64").to_protobuf())
                task.command.value = command
                tasks.append(task)
            driver.launchTasks(offer.id, tasks)

    def statusUpdate(self, driver, status):
        """
        Fire C{running} and C{finished}; anything else going wrong with
        the tasks fails them, with the status's message.
        """
        name, state = status.task_id.value, status.state
        waiting = self.running if name == "sleeper" else self.finished
        wanted = mesos_pb2.TASK_RUNNING if name == "sleeper" else mesos_pb2.TASK_FINISHED
        if waiting.called:
            return
        if state == wanted:
            waiting.callback(None)
        elif state not in (mesos_pb2.TASK_STAGING, mesos_pb2.TASK_STARTING,
                           mesos_pb2.TASK_RUNNING):
            waiting.errback(AssertionError(
                f"{name} ended {mesos_pb2.TaskState.Name(state)}: {status.message}"))


class LocalClusterMixin:
    """
    Runs mesos-local (one slave, real processes) with a framework whose
    sleeper task runs and whose writer task has printed L{MARKER} and
    finished.

    @ivar port: the master's port.
    @ivar slave: the slave.
    @ivar framework_id: the framework's id.
    """

    cluster_name = "web-test"

    @inlineCallbacks
    def start_cluster(self):
        """
        Start the cluster and the framework; fire once both tasks are
        where they should be.
        """
        work_dir = os.path.abspath(self.mktemp())
        cluster, self.port = yield start_mesos_local(
            self, reactor, f"--cluster={self.cluster_name}", work_dir=work_dir)
        scheduler = TwoTaskScheduler()
        driver = MesosSchedulerDriver(
            scheduler, mesos_pb2.FrameworkInfo(user="", name="browser-test-framework"),
            f"127.0.0.1:{self.port}", reactor=reactor)
        driver.start()
        self.addCleanup(driver.stop)
        yield scheduler.running
        yield scheduler.finished
        self.slave = cluster.slave_services[0].slave
        self.framework_id = next(iter(self.slave.frameworks))

    def writer_stdout(self):
        """
        The path of the writer task's stdout in its sandbox.
        """
        framework = self.slave.frameworks[self.framework_id]
        # The writer's executor may still be exiting: running or completed.
        writer = next(e for e in list(framework.executors.values())
                      + list(framework.completed_executors) if e.id == "writer")
        return os.path.join(writer.directory, "stdout")


class LocalClusterEndpointsTests(LocalClusterMixin, TestCase):
    """
    The JSON endpoints over real HTTP, against mesos-local with a running
    and a finished task.
    """

    timeout = 120

    @inlineCallbacks
    def get_json(self, path, port=None):
        """
        GET C{path} from the master (or the given port) over TCP: the
        status and the decoded JSON.
        """
        response = yield treq.get(f"http://127.0.0.1:{port or self.port}{path}",
                                  persistent=False)
        body = yield response.content()
        return response.code, json.loads(body)

    @inlineCallbacks
    def test_state_and_metrics(self):
        """
        The streamed /master/state shows the framework with its running
        task and its finished one; the metrics count them and the launch.
        """
        yield self.start_cluster()
        code, state = yield self.get_json("/master/state")
        self.assertEqual(code, 200)
        framework = next(f for f in state["frameworks"] if f["id"] == self.framework_id)
        self.assertEqual([(t["id"], t["state"]) for t in framework["tasks"]],
                         [("sleeper", "TASK_RUNNING")])
        self.assertEqual([(t["id"], t["state"]) for t in framework["completed_tasks"]],
                         [("writer", "TASK_FINISHED")])
        self.assertEqual(state["cluster"], self.cluster_name)
        _, metrics = yield self.get_json("/metrics/snapshot")
        self.assertEqual(metrics["master/tasks_running"], 1)
        self.assertEqual(metrics["master/tasks_finished"], 1)
        # At least one of each registration: the driver and the slave retry
        # theirs after a backoff, which a loaded machine can outlast (the
        # state above shows the framework once all the same).
        self.assertGreaterEqual(metrics["master/messages_register_framework"], 1)
        self.assertGreaterEqual(metrics["master/messages_register_slave"], 1)
        self.assertGreaterEqual(metrics["master/messages_launch_tasks"], 1)
        self.assertGreaterEqual(metrics["master/messages_status_update"], 3)

    @inlineCallbacks
    def test_slave_state_and_files(self):
        """
        The slave's own state lists the sleeper's executor; what the writer
        printed is read through the master and from the slave alike, and
        downloads whole from the slave and through the master's relay.
        """
        yield self.start_cluster()
        code, state = yield self.get_json("/slave(1)/state", port=self.slave.pid.port)
        self.assertEqual(code, 200)
        executors = [e["id"] for f in state["frameworks"] for e in f["executors"]]
        self.assertIn("sleeper", executors)
        stdout = self.writer_stdout()
        query = f"?path={stdout}&offset=0"
        _, through_master = yield self.get_json(f"/ui/slaves/{self.slave.id}/files/read{query}")
        _, from_slave = yield self.get_json(f"/files/read{query}", port=self.slave.pid.port)
        self.assertEqual(through_master, from_slave)
        self.assertIn(MARKER, through_master["data"])
        response = yield treq.get(
            f"http://127.0.0.1:{self.slave.pid.port}/files/download?path={stdout}",
            persistent=False)
        downloaded = yield response.content()
        response = yield treq.get(
            f"http://127.0.0.1:{self.port}{download_link(self.slave.id, stdout)}",
            persistent=False)
        relayed = yield response.content()
        with open(stdout, "rb") as file:
            written = file.read()
        self.assertEqual((downloaded, relayed), (written, written))


class BrowserTests(LocalClusterMixin, TestCase):
    """
    The UI in a real headless Chromium, against mesos-local (one slave,
    real processes) with a framework whose tasks run: what the pages show
    after their scripts ran, and screenshots of them under
    C{_trial_temp/screenshots}.
    """

    timeout = 120
    cluster_name = "browser-test"

    @inlineCallbacks
    def setUp(self):
        """
        Find Chromium (or skip, saying it is missing), then start the
        cluster.
        """
        self.browser = chromium()
        yield self.start_cluster()
        self.profile = os.path.abspath(self.mktemp())
        self.screenshots = os.path.abspath("screenshots")
        os.makedirs(self.screenshots, exist_ok=True)

    def flags(self):
        """
        Chromium's flags for a headless run as root on a closed network,
        with a fresh profile and time for the pages' scripts to fetch.
        """
        return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--user-data-dir={self.profile}", "--virtual-time-budget=5000",
                "--window-size=1280,900"]

    @inlineCallbacks
    def dom(self, path):
        """
        The DOM Chromium holds for C{path} on the master once its scripts
        have run.
        """
        out, err, code = yield run_chromium(
            reactor, self.browser,
            self.flags() + ["--dump-dom", f"http://127.0.0.1:{self.port}{path}"])
        self.assertEqual(code, 0, err.decode(errors="replace"))
        # Chromium prints nothing, and exits 0, when the page fails to load
        # (its standard error says why: "Page load failed: net::...").
        self.assertTrue(out.strip(), err.decode(errors="replace"))
        return out.decode(errors="replace")

    @inlineCallbacks
    def screenshot(self, path, name, width=1280, height=900):
        """
        Save a screenshot of C{path} on the master as C{name} under
        C{_trial_temp/screenshots}.
        """
        target = os.path.join(self.screenshots, name)
        flags = [f for f in self.flags() if not f.startswith("--window-size")]
        _, err, _ = yield run_chromium(
            reactor, self.browser, flags + [f"--window-size={width},{height}",
                                            f"--screenshot={target}",
                                            f"http://127.0.0.1:{self.port}{path}"])
        self.assertTrue(os.path.exists(target) and os.path.getsize(target) > 0,
                        err.decode(errors="replace"))

    @inlineCallbacks
    def test_dashboard_in_chromium(self):
        """
        The dashboard shows the framework, one running task and the
        leading master; the frameworks page lists the framework.
        """
        dom = yield self.dom("/")
        self.assertIn("browser-test-framework", dom)
        running_row = dom.split("<th>Running</th>", 1)[1].split("</tr>", 1)[0]
        self.assertIn("<td>1</td>", running_row)
        self.assertIn(f"master@127.0.0.1:{self.port}", dom)
        self.assertIn('data-resource="cpus"', dom)
        yield self.screenshot("/", "dashboard.png")
        yield self.screenshot("/", "dashboard-phone.png", width=390, height=1400)
        dom = yield self.dom("/ui/frameworks")
        self.assertIn("browser-test-framework", dom)
        yield self.screenshot("/ui/frameworks", "frameworks.png")

    @inlineCallbacks
    def test_slave_page_lists_executors(self):
        """
        The slave's page lists the running executor of the sleeper task,
        and the executor's page lists its task as running and the memory
        the process isolator measured.
        """
        dom = yield self.dom(f"/ui/slaves/{self.slave.id}")
        self.assertIn("Command Executor (Task: sleeper)", dom)
        yield self.screenshot(f"/ui/slaves/{self.slave.id}", "slave.png")
        executor = f"/ui/slaves/{self.slave.id}/frameworks/{self.framework_id}/executors/sleeper"
        dom = yield self.dom(executor)
        table = dom.split('id="executor-tasks"', 1)[1]
        row = table.split("<code>sleeper</code>", 1)[1].split("</tr>", 1)[0]
        self.assertIn("TASK_RUNNING", row)
        usage = dom.split('id="usage"', 1)[1].split("</p>", 1)[0]
        self.assertRegex(usage, r"memory \d+\.\d MB")
        yield self.screenshot(executor, "executor.png")

    @inlineCallbacks
    def test_sandbox_shows_stdout(self):
        """
        The sandbox browser lists the writer's stdout, and its tail shows
        what the task printed, read by the page's script.
        """
        stdout = self.writer_stdout()
        directory = os.path.dirname(stdout)
        dom = yield self.dom(browse_link(self.slave.id, directory))
        self.assertIn(tail_link(self.slave.id, stdout).replace("&", "&amp;"), dom)
        yield self.screenshot(browse_link(self.slave.id, directory), "sandbox.png")
        dom = yield self.dom(tail_link(self.slave.id, stdout))
        log = dom.split('id="log"', 1)[1].split("</pre>", 1)[0]
        self.assertIn(MARKER, log)
        yield self.screenshot(tail_link(self.slave.id, stdout), "tail.png")
