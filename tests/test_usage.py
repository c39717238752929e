"""
Executors' resource usage from slave to master: the slave reports its
monitor's latest samples after each round (C{ExecutorUsageMessage}), the
master keeps the latest per executor, and its state shows it on each task
of that executor and on the executor, where known.  In memory (recording
peers, a real slave and master on one network) and on mesos-local.
"""

import json

import treq
from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, inlineCallbacks
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from mesos_tw.detector import StandaloneDetector
from mesos_tw.isolation.interface import UnknownContainer
from mesos_tw.isolation.monitor import ResourceMonitor
from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.local_cluster import start_mesos_local, until
from mesos_tw.testing.master import MASTER, MasterTestCase, executor_info, task_info
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.scheduler import TaskScheduler, command_task
from mesos_tw.testing.slave import SLAVE, SlaveTestCase


def statistics(timestamp, rss_mb, user=1.0):
    """
    A C{ResourceStatistics} at C{timestamp} with C{rss_mb} MB resident.
    """
    return mesos_pb2.ResourceStatistics(
        timestamp=timestamp, cpus_user_time_secs=user, cpus_system_time_secs=0.5,
        mem_rss_bytes=rss_mb << 20, mem_limit_bytes=128 << 20)


class MonitorSampledTests(SynchronousTestCase):
    """
    L{ResourceMonitor}'s C{sampled} callback, which the slave's reports
    hang on.
    """

    def test_called_once_every_answer_is_in(self):
        """
        Each round calls C{sampled} once, with the latest samples, after
        the isolator's slowest answer; a round with nothing running calls
        it with none.
        """
        clock = Clock()
        answers = {}
        isolator = FakeIsolator(clock)
        isolator.usage = lambda framework_id, executor_id: answers.setdefault(
            executor_id, Deferred())
        running = []
        rounds = []
        monitor = ResourceMonitor(clock, isolator, lambda: running, 1.0, sampled=rounds.append)
        self.addCleanup(monitor.stop)
        monitor.start()
        self.assertEqual(rounds, [[]])
        info = mesos_pb2.ExecutorInfo()
        running.extend([("f1", "e1", info), ("f1", "e2", info)])
        clock.advance(1)
        answers.pop("e1").callback(statistics(1.0, 1))
        self.assertEqual(len(rounds), 1)
        answers.pop("e2").callback(statistics(1.0, 2))
        self.assertEqual(sorted((s.executor_id, s.statistics.mem_rss_bytes) for s in rounds[1]),
                         [("e1", 1 << 20), ("e2", 2 << 20)])


class MonitorUnavailableTests(SynchronousTestCase):
    """
    An executor without usage is left out of the round; only unexpected
    errors are logged.
    """

    def sample_with(self, error):
        """
        One round where the isolator fails C{error} for the only executor;
        return the samples and the monitor's log events.
        """
        clock = Clock()
        isolator = FakeIsolator(clock)
        isolator.usage = lambda framework_id, executor_id: fail(error)
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        rounds = []
        monitor = ResourceMonitor(clock, isolator, lambda: [("f1", "e1", mesos_pb2.ExecutorInfo())],
                                  1.0, sampled=rounds.append)
        self.addCleanup(monitor.stop)
        monitor.start()
        return rounds[-1], [e for e in events
                            if e.get("log_namespace", "").startswith("mesos_tw.isolation.monitor")]

    def test_not_running_left_out_silently(self):
        """
        An executor whose container is not running (not yet launched, or
        just ended: C{UnknownContainer}) is left out without a log event.
        """
        samples, logged = self.sample_with(UnknownContainer("executor e1 is not running"))
        self.assertEqual((samples, logged), ([], []))

    def test_other_errors_logged(self):
        """
        Any other error leaves the executor out and is logged, naming it.
        """
        samples, logged = self.sample_with(OSError("cannot read /proc"))
        self.assertEqual(samples, [])
        self.assertEqual([(e["executor_id"], e["error"]) for e in logged],
                         [("e1", "cannot read /proc")])


class SlaveUsageReportTests(SlaveTestCase):
    """
    The slave tells its master the latest usage after each round of
    sampling.
    """

    def reports(self):
        """
        The executors each C{ExecutorUsageMessage} the master received
        listed, as C{(slave_id, [(framework_id, executor_id, name)])}.
        """
        return [(m.slave_id.value, [(e.framework_id.value, e.executor_id.value, e.executor_name)
                                    for e in m.executors])
                for m in self.master.of(internal.ExecutorUsageMessage)]

    def test_reports_after_each_round(self):
        """
        Every round while an executor runs sends one message naming the
        slave and, per executor, its framework, id, name and statistics.
        """
        self.register()
        self.run_task("t1")
        self.executor_registers("t1")
        self.clock.advance(1)
        self.clock.advance(1)
        entry = ("F1", "t1", "Command Executor (Task: t1)")
        self.assertEqual(self.reports(), [("S1", [entry]), ("S1", [entry])])
        last = self.master.last(internal.ExecutorUsageMessage).executors[0].statistics
        self.assertEqual(last.timestamp, 0.0)
        self.assertEqual(last, self.slave.monitor.samples()[0].statistics)

    def test_last_report_empty_then_silence(self):
        """
        Once the last executor has ended, one empty report tells the master
        so; after that, and on a slave that never ran one, nothing is sent.
        """
        self.register()
        self.clock.advance(3)
        self.assertEqual(self.reports(), [])
        self.run_task("t1")
        self.executor_registers("t1")
        self.clock.advance(1)
        self.isolator.exit("F1", "t1", 0)
        self.turn()
        self.clock.advance(1)
        self.clock.advance(1)
        self.assertEqual(self.reports(),
                         [("S1", [("F1", "t1", "Command Executor (Task: t1)")]), ("S1", [])])

    def test_statistics_without_timestamp_left_out(self):
        """
        Statistics that cannot be sent (no timestamp, which the protocol
        requires) are left out of the report and logged; sampling and
        reporting go on.
        """
        self.register()
        self.run_task("t1")
        self.executor_registers("t1")
        self.run_task("t2")
        self.executor_registers("t2", name="executor-2")
        fake_usage = self.isolator.usage

        def usage(framework_id, executor_id):
            if executor_id == "t2":
                return fake_usage(framework_id, executor_id).addCallback(
                    lambda _: mesos_pb2.ResourceStatistics(mem_rss_bytes=1))
            return fake_usage(framework_id, executor_id)

        self.isolator.usage = usage
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        self.clock.advance(1)
        self.clock.advance(1)
        entry = ("F1", "t1", "Command Executor (Task: t1)")
        self.assertEqual(self.reports(), [("S1", [entry]), ("S1", [entry])])
        skipped = [e for e in events if e.get("executor_id") == "t2" and "missing" in e]
        self.assertEqual([e["missing"] for e in skipped], ["timestamp", "timestamp"])

    def test_nothing_while_unregistered(self):
        """
        A slave that is not registered reports nothing, whatever runs.
        """
        self.register()
        self.run_task("t1")
        self.executor_registers("t1")
        self.slave.peer_lost(MASTER)
        self.clock.advance(1)
        self.assertEqual(self.reports(), [])


class MasterUsageTests(MasterTestCase):
    """
    The master keeps each slave's latest report and shows it in the state.
    """

    def setUp(self):
        super().setUp()
        self.slave, self.slave_id = self.add_slave()
        self.scheduler, self.framework_id = self.add_framework()
        offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]
        executor = executor_info("e1")
        executor.name = "my executor"
        self.launch(self.scheduler, self.framework_id, offer, [
            task_info("c1", self.slave_id, resources="cpus:0.5;mem:128"),
            task_info("t2", self.slave_id, resources="cpus:0.5;mem:128", executor=executor),
            task_info("t3", self.slave_id, resources="cpus:0.5;mem:128", executor=executor),
            task_info("c4", self.slave_id, resources="cpus:0.5;mem:128"),
        ])
        self.assertEqual(len(self.master.frameworks[self.framework_id].tasks), 4)

    def report(self, usage, sender=None):
        """
        The slave (or C{sender}) reports C{usage}, C{{executor_id:
        ResourceStatistics}} of executors of our framework.
        """
        message = internal.ExecutorUsageMessage(slave_id=mesos_pb2.SlaveID(value=self.slave_id))
        for executor_id, stats in usage.items():
            message.executors.add(
                framework_id=mesos_pb2.FrameworkID(value=self.framework_id),
                executor_id=mesos_pb2.ExecutorID(value=executor_id), statistics=stats)
        (sender or self.slave).send(MASTER, message)
        self.turn()

    def task_statistics(self, state=None):
        """
        C{{task_id: statistics}} of the tasks in the state that have any.
        """
        framework = (state or self.master.state())["frameworks"][0]
        return {task["id"]: task["statistics"]
                for task in framework["tasks"] + framework["completed_tasks"]
                if "statistics" in task}

    def executor_statistics(self):
        """
        C{{executor_id: statistics}} of the framework's executors that have
        any, from the state.
        """
        return {e["executor_id"]: e["statistics"]
                for e in self.master.state()["frameworks"][0]["executors"] if "statistics" in e}

    def test_tasks_and_executor_show_latest_usage(self):
        """
        Each task shows its executor's statistics (a command task's
        executor has the task's id), as does the executor; a task whose
        executor was not reported has none.
        """
        self.report({"c1": statistics(1.0, 10), "e1": statistics(1.0, 20)})
        self.report({"c1": statistics(2.0, 11), "e1": statistics(2.0, 21, user=3.0)})
        e1 = {"timestamp": 2.0, "cpus_user_time_secs": 3.0, "cpus_system_time_secs": 0.5,
              "mem_rss_bytes": 21 << 20, "mem_limit_bytes": 128 << 20}
        self.assertEqual(self.task_statistics(), {
            "c1": dict(e1, cpus_user_time_secs=1.0, mem_rss_bytes=11 << 20), "t2": e1, "t3": e1})
        self.assertEqual(self.executor_statistics(), {"e1": e1})

    def test_executor_missing_from_report_forgotten(self):
        """
        A report replaces the slave's last: an executor not in it has no
        usage known any more, on its tasks or itself.
        """
        self.report({"c1": statistics(1.0, 10), "e1": statistics(1.0, 20)})
        self.report({"c1": statistics(2.0, 10)})
        self.assertEqual(set(self.task_statistics()), {"c1"})
        self.assertEqual(self.executor_statistics(), {})
        self.report({})
        self.assertEqual(self.task_statistics(), {})

    def test_ended_task_shows_none(self):
        """
        A task that has ended shows no usage, though its executor runs on.
        """
        self.report({"e1": statistics(1.0, 20)})
        self.slave.send(MASTER, internal.StatusUpdateMessage(update=internal.StatusUpdate(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id),
            slave_id=mesos_pb2.SlaveID(value=self.slave_id), timestamp=1.0, uuid=b"u",
            status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t2"),
                                        state=mesos_pb2.TASK_FINISHED))))
        self.turn()
        self.assertEqual(set(self.task_statistics()), {"t3"})

    def test_stranger_ignored(self):
        """
        A report naming the slave but not from it changes nothing.
        """
        stranger = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 6000))
        self.report({"e1": statistics(1.0, 20)}, sender=stranger)
        self.assertEqual(self.task_statistics(), {})
        self.assertEqual(self.master.slaves[self.slave_id].usage, {})

    def test_removed_slave_and_framework_forgotten(self):
        """
        Removing the slave drops its executors' usage from the framework;
        a removed framework's tasks show none.
        """
        self.report({"c1": statistics(1.0, 10), "e1": statistics(1.0, 20)})
        framework = self.master.frameworks[self.framework_id]
        self.master.remove_framework(framework, "test")
        completed = self.master.state()["completed_frameworks"]
        self.assertEqual(self.task_statistics({"frameworks": completed}), {})
        self.assertEqual(self.master.slaves[self.slave_id].usage, {})
        other, other_id = self.add_framework("scheduler-2")
        self.framework_id = other_id
        offer = other.last(internal.ResourceOffersMessage).offers[0]
        self.launch(other, other_id, offer, [task_info("x", self.slave_id, executor=executor_info())])
        self.report({"default": statistics(1.0, 5)})
        self.assertEqual(set(self.master.frameworks[other_id].executor_usage), {self.slave_id})
        self.master.remove_slave(self.master.slaves[self.slave_id], "test")
        self.assertEqual(self.master.frameworks[other_id].executor_usage, {})
        self.assertEqual(self.task_statistics(), {})

    def test_streamed_state_over_http(self):
        """
        C{/master/state}, streamed a few records per turn, shows the same
        statistics on tasks and executors.
        """
        self.report({"e1": statistics(1.0, 20)})
        client = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())
        d = client.get("http://master/master/state")
        d.addCallback(lambda response: response.content())
        while not d.called:
            self.clock.advance(0)
            client.flush()
        state = json.loads(self.successResultOf(d))
        self.assertEqual(self.task_statistics(state), self.task_statistics())
        self.assertEqual(set(self.task_statistics(state)), {"t2", "t3"})
        [executor] = state["frameworks"][0]["executors"]
        self.assertEqual(executor["statistics"]["mem_rss_bytes"], 20 << 20)


class InMemoryClusterUsageTests(SynchronousTestCase):
    """
    A real slave and master on one in-memory network: the slave's samples
    reach the master's state.
    """

    def test_running_task_shows_usage(self):
        """
        Once the executor runs and a round of sampling has been, the
        master's state shows the fake isolator's statistics on the task.
        """
        clock = Clock()
        network = MemoryNetwork(clock)
        master = Master(clock, network.node(MASTER))
        master.start()
        self.addCleanup(master.stop)
        slave = Slave(clock, network.node(SLAVE), StandaloneDetector(MASTER), FakeIsolator(clock),
                      self.mktemp(), Resources.parse("cpus:2;mem:1024"))
        slave.start()
        self.addCleanup(slave.stop)
        scheduler = RecordingPeer(network, UPID("scheduler-1", "127.0.0.1", 0))
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="alice", name="usage")))
        clock.advance(1)
        framework_id = scheduler.last(internal.FrameworkRegisteredMessage).framework_id.value
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id), offer_id=offer.id,
            tasks=[task_info("t1", offer.slave_id.value)], filters=mesos_pb2.Filters()))
        clock.advance(0)
        executor = RecordingPeer(network, UPID("executor-1", "127.0.0.1", 0))
        executor.send(SLAVE, internal.RegisterExecutorMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            executor_id=mesos_pb2.ExecutorID(value="t1")))
        clock.advance(0)
        [task] = master.state()["frameworks"][0]["tasks"]
        self.assertNotIn("statistics", task)
        clock.advance(1)
        [task] = master.state()["frameworks"][0]["tasks"]
        self.assertEqual(task["statistics"], {"timestamp": clock.seconds()})


class LocalClusterUsageTests(TestCase):
    """
    On mesos-local with the process isolator, over real HTTP.
    """

    timeout = 120

    @inlineCallbacks
    def test_running_task_usage_in_master_state(self):
        """
        A running command task shows its executor's cpu time and resident
        memory in the master's C{/master/state}; killed, it shows none.
        """
        cluster, port = yield start_mesos_local(
            self, reactor, "--resource_monitoring_interval=0.2secs",
            resources="cpus:1;mem:256;disk:100")
        master = cluster.master_service.master
        scheduler = TaskScheduler(lambda slave: [command_task("sleeper", slave, "sleep 60")], 1)
        driver = MesosSchedulerDriver(
            scheduler, mesos_pb2.FrameworkInfo(user="", name="usage"), f"127.0.0.1:{port}",
            reactor=reactor)
        driver.start()
        self.addCleanup(driver.stop)

        def sleeper():
            tasks = [t for f in master.state()["frameworks"] for t in f["tasks"]]
            return tasks[0] if tasks else {}

        yield until(reactor, lambda: "statistics" in sleeper(), "the task's statistics")
        response = yield treq.get(f"http://127.0.0.1:{port}/master/state", persistent=False)
        state = json.loads((yield response.content()))
        [task] = state["frameworks"][0]["tasks"]
        self.assertEqual(task["id"], "sleeper")
        self.assertGreater(task["statistics"]["mem_rss_bytes"], 0)
        self.assertIn("cpus_user_time_secs", task["statistics"])
        driver.killTask(mesos_pb2.TaskID(value="sleeper"))
        yield scheduler.done
        [task] = master.state()["frameworks"][0]["completed_tasks"]
        self.assertEqual(task["state"], "TASK_KILLED")
        self.assertNotIn("statistics", task)
