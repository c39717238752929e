"""
Failover of the replicated master on a real ZooKeeper ensemble: masters and
slaves are ``twistd`` processes, the framework is a real scheduler driver in
this process, and its tasks run in the echo executor on the slaves.

A test waits for what it expects (a state of the leader, a scheduler
callback, a line of a master's log) with a deadline, never for a fixed
time.
"""

import json
import os

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SkipTest, TestCase
from zope.interface import implementer

from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.network import IMessageReceiver
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.emulated_slave import EmulatedSlave
from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.processes import ClusterUnavailable, ProcessCluster
from mesos_tw.testing.scheduler import RecordingScheduler
from mesos_tw.testing.zookeeper_server import server_mode, start_ensemble
from mesos_tw.zookeeper import ZooKeeperClient

#: Short enough to keep the tests quick, long enough for a loaded machine
#: (ZooKeeper with a 200 ms tick allows 0.4 s to 4 s).
SESSION_TIMEOUT = 2.0

#: Mesos's default session timeout, for a test whose sessions must outlast
#: the ensemble's own leader election (on a loaded machine that took longer
#: than 2 s); ZooKeeper's tick must then be at least a twentieth of it.
LONG_SESSION_TIMEOUT, LONG_SESSION_TICK_MS = 10.0, 500


def task_states(state):
    """
    C{{task_id: state}} of every live task in a master's state JSON.
    """
    return {task["id"]: task["state"]
            for framework in state["frameworks"] for task in framework["tasks"]}


def active_frameworks(state):
    """
    The ids of the frameworks the master has active.
    """
    return {f["id"] for f in state["frameworks"] if f.get("active", True)}


class FailoverTestCase(TestCase):
    """
    A ZooKeeper ensemble, masters, slaves and a framework.
    """

    timeout = 180

    @inlineCallbacks
    def start_cluster(self, masters=3, slaves=2, master_flags=(),
                      session_timeout=SESSION_TIMEOUT, tick_ms=200):
        """
        Start a 3-node ensemble, the masters and the slaves (with
        C{session_timeout} seconds of ZooKeeper session); fire once a
        leader has every slave registered.
        """
        self.ensemble = yield start_ensemble(self, reactor, size=3, tick_ms=tick_ms)
        self.url = self.ensemble.url("/mesos")
        try:
            self.cluster = ProcessCluster(
                reactor, self.mktemp(), self.url, f"{session_timeout:g}secs",
                master_flags=master_flags)
        except ClusterUnavailable as error:
            raise SkipTest(str(error)) from None
        self.addCleanup(self.cluster.stop)
        for _ in range(masters):
            self.cluster.start_master()
        for _ in range(slaves):
            self.cluster.start_slave()
        yield self.cluster.wait_for(lambda port, state: len(state["slaves"]) == slaves,
                                    f"{slaves} slaves to register")

    def start_framework(self, framework_id=None):
        """
        A recording scheduler and its running driver, which finds the
        leader through ZooKeeper; C{framework_id} fails over to an
        existing framework.
        """
        scheduler = RecordingScheduler(reactor)
        info = mesos_pb2.FrameworkInfo(user="", name="failover test", failover_timeout=120)
        if framework_id is not None:
            info.id.value = framework_id
        driver = MesosSchedulerDriver(scheduler, info, self.url, reactor=reactor)
        driver.start()
        self.addCleanup(driver.abort)
        return scheduler, driver

    @inlineCallbacks
    def run_tasks(self, scheduler, *task_ids, finish_files=None):
        """
        Launch tasks and wait until each is RUNNING.
        """
        for task_id in task_ids:
            scheduler.launch(task_id, (finish_files or {}).get(task_id))
        yield scheduler.wait(lambda s: all(s.latest(t) == "TASK_RUNNING" for t in task_ids),
                             f"tasks {task_ids} to run")

    @inlineCallbacks
    def fail_over(self, scheduler, slaves):
        """
        SIGKILL the leader; fire with the new leader's port and state once
        every slave and the framework have re-registered with it.
        """
        old_port, _ = yield self.cluster.wait_for(lambda p, s: True, "a leader")
        reregistrations = scheduler.count("reregistered")
        yield self.cluster.kill_master(old_port)
        found = yield self.cluster.wait_for(
            lambda port, state: port != old_port and len(state["slaves"]) == slaves
            and scheduler.framework_id in active_frameworks(state),
            "a new leader with every slave and the framework")
        yield scheduler.wait(lambda s: s.count("reregistered") > reregistrations,
                             "the framework's reregistered callback")
        return found


class LeaderFailoverTests(FailoverTestCase):
    """
    Killing the leading master loses nothing.
    """

    @inlineCallbacks
    def test_leader_killed(self):
        """
        Three masters, two slaves, a framework with running tasks: after
        the leader is killed another leads, the slaves and the framework
        re-register (C{disconnected} then C{reregistered}), every task is
        still RUNNING, an update sent while no master led arrives once, a
        framework message reaches an executor started under the old
        leader, and reconciliation reports the latest states.
        """
        yield self.start_cluster(masters=3, slaves=2)
        scheduler, driver = self.start_framework()
        finish = os.path.abspath(self.mktemp())
        yield self.run_tasks(scheduler, "steady-1", "steady-2", "finisher",
                             finish_files={"finisher": finish})

        old_port, _ = yield self.cluster.wait_for(lambda p, s: True, "a leader")
        yield self.cluster.kill_master(old_port)
        # The task finishes while no master leads: its update must wait in
        # the slave and reach the scheduler through the next leader.
        open(finish, "w").close()
        port, state = yield self.cluster.wait_for(
            lambda port, state: port != old_port and len(state["slaves"]) == 2
            and scheduler.framework_id in active_frameworks(state),
            "a new leader with every slave and the framework")
        yield scheduler.wait(lambda s: s.latest("finisher") == "TASK_FINISHED",
                             "the update sent across the failover")

        self.assertEqual(state["pid"], f"master@127.0.0.1:{port}")
        names = [name for name, _ in scheduler.events
                 if name in ("registered", "disconnected", "reregistered")]
        self.assertEqual(names, ["registered", "disconnected", "reregistered"])
        self.assertEqual(scheduler.states, {
            "steady-1": ["TASK_RUNNING"], "steady-2": ["TASK_RUNNING"],
            "finisher": ["TASK_RUNNING", "TASK_FINISHED"]})
        _, state = yield self.cluster.wait_for(
            lambda p, s: task_states(s) == {"steady-1": "TASK_RUNNING",
                                            "steady-2": "TASK_RUNNING"},
            "the new leader to know the running tasks")

        slave_id = mesos_pb2.SlaveID(value=scheduler.slaves["steady-1"])
        driver.sendFrameworkMessage(scheduler.executor.executor_id, slave_id, b"after failover")
        yield scheduler.wait(lambda s: b"echo:after failover" in s.messages,
                             "the executor's echo")

        driver.reconcileTasks([
            mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="steady-2"),
                                 state=mesos_pb2.TASK_STAGING),
            mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="ghost"),
                                 state=mesos_pb2.TASK_RUNNING)])
        yield scheduler.wait(lambda s: s.states.get("steady-2", [])[-1:] == ["TASK_RUNNING"]
                             and len(s.states["steady-2"]) == 2 and "ghost" in s.states,
                             "reconciliation answers")
        self.assertEqual(scheduler.states["ghost"], ["TASK_LOST"])
        yield self.run_tasks(scheduler, "launched-after-failover")

    @inlineCallbacks
    def test_two_masters_repeated_kills(self):
        """
        With two masters, the leader is killed three times (a fresh master
        replacing each one killed): every time the other takes over and
        the tasks run on, never reported lost.
        """
        yield self.start_cluster(masters=2, slaves=2)
        scheduler, _ = self.start_framework()
        yield self.run_tasks(scheduler, "a", "b")
        leaders = []
        for _ in range(3):
            port, state = yield self.fail_over(scheduler, slaves=2)
            leaders.append(port)
            self.cluster.start_master()
        self.assertEqual(len(set(leaders)), 3)
        _, state = yield self.cluster.wait_for(
            lambda p, s: task_states(s) == {"a": "TASK_RUNNING", "b": "TASK_RUNNING"},
            "the last leader to know the running tasks")
        self.assertEqual(scheduler.states, {"a": ["TASK_RUNNING"], "b": ["TASK_RUNNING"]})


class ZooKeeperFailureTests(FailoverTestCase):
    """
    What the masters do when ZooKeeper itself fails.
    """

    @inlineCallbacks
    def test_one_server_dies(self):
        """
        Killing the ensemble's own leader (a quorum remains) changes
        nothing: every master's session survives the ensemble's election,
        the same master leads the same term, nobody re-registers, and the
        cluster keeps launching tasks.
        """
        yield self.start_cluster(masters=2, slaves=1, session_timeout=LONG_SESSION_TIMEOUT,
                                 tick_ms=LONG_SESSION_TICK_MS)
        scheduler, driver = self.start_framework()
        yield self.run_tasks(scheduler, "before")
        port, before = yield self.cluster.wait_for(lambda p, s: True, "a leader")
        watcher = ZooKeeperClient(reactor, self.ensemble.hosts, LONG_SESSION_TIMEOUT)
        self.addCleanup(watcher.stop)
        watcher.start()
        candidates = yield watcher.get_children("/mesos")

        masters = list(self.cluster.masters.values())
        marks = [len(master.output) for master in masters]
        (zk_leader,) = [s for s in self.ensemble.servers if server_mode(s.port) == "Mode: leader"]
        zk_leader.kill()
        # Every server drops its clients until a new leader is elected (the
        # followers stop serving), so each master's session is suspended,
        # then either confirmed again or lost: wait for that outcome.
        yield until(reactor, lambda: all(b"ZooKeeper session connected" in master.output[mark:]
                                         for master, mark in zip(masters, marks)),
                    "every master's ZooKeeper session to be back", deadline=LONG_SESSION_TIMEOUT * 3)
        for master, mark in zip(masters, marks):
            self.assertIn(b"ZooKeeper connection suspended", master.output[mark:], master.text())
            self.assertNotIn(b"ZooKeeper session lost", master.output[mark:], master.text())
        yield self.run_tasks(scheduler, "after")
        self.assertEqual(sorted((yield watcher.get_children("/mesos"))), sorted(candidates))
        now_port, after = yield self.cluster.wait_for(lambda p, s: True, "a leader")
        self.assertEqual((now_port, after["elected_time"]), (port, before["elected_time"]))
        self.assertEqual(scheduler.count("disconnected"), 0)
        self.assertEqual(scheduler.states, {"before": ["TASK_RUNNING"], "after": ["TASK_RUNNING"]})

    @inlineCallbacks
    def test_ensemble_unreachable(self):
        """
        When no ZooKeeper server answers for longer than the session
        timeout, the leader stops leading (no master serves the state);
        when ZooKeeper returns, a leader is elected again, everything
        re-registers, and the task still runs.
        """
        yield self.start_cluster(masters=2, slaves=1)
        scheduler, _ = self.start_framework()
        yield self.run_tasks(scheduler, "survivor")
        port, _ = yield self.cluster.wait_for(lambda p, s: True, "a leader")
        leader = self.cluster.masters[port]
        # Only what the leader says from now on counts: on a loaded machine
        # its session may already have been suspended and confirmed again
        # while the cluster started.
        mark = len(leader.output)
        for server in self.ensemble.servers:
            server.pause()
            self.addCleanup(server.resume)
        # kazoo notices the silence within two thirds of the session
        # timeout; from then on the leader is paused, before any server
        # could have expired its session.
        yield leader.wait_for_output(reactor, b"Cannot confirm leadership", since=mark)
        code, _ = yield self.cluster.get(port, "/master/state")
        self.assertEqual(code, 503)
        yield leader.wait_for_output(reactor, b"No longer the leading master", since=mark)
        code, metrics = yield self.cluster.get(port, "/metrics/snapshot")
        self.assertEqual(json.loads(metrics)["master/elected"], 0)
        self.assertIsNone((yield self.cluster.leader_state()))
        for server in self.ensemble.servers:
            server.resume()
        yield self.cluster.wait_for(
            lambda p, s: len(s["slaves"]) == 1 and task_states(s) == {"survivor": "TASK_RUNNING"}
            and scheduler.framework_id in active_frameworks(s),
            "a leader again, with the slave, the framework and its task")
        self.assertEqual(scheduler.states, {"survivor": ["TASK_RUNNING"]})


class FrameworkFailoverTests(FailoverTestCase):
    """
    Schedulers and slaves failing, with ZooKeeper finding the master.
    """

    @inlineCallbacks
    def test_scheduler_failover(self):
        """
        A second scheduler with the framework's id takes over: the first
        hears C{error("Framework failed over")}, the second is registered,
        and it can reach and kill the task the first launched.
        """
        yield self.start_cluster(masters=2, slaves=1)
        first, _ = self.start_framework()
        yield self.run_tasks(first, "inherited")
        second, driver = self.start_framework(framework_id=first.framework_id)
        yield second.wait(lambda s: s.count("registered") == 1, "the new scheduler's registration")
        yield first.wait(lambda s: ("error", "Framework failed over") in s.events,
                         "the old scheduler's error")
        self.assertEqual(second.framework_id, first.framework_id)
        driver.killTask(mesos_pb2.TaskID(value="inherited"))
        yield second.wait(lambda s: s.latest("inherited") == "TASK_KILLED",
                          "the inherited task's kill")

    @inlineCallbacks
    def test_slave_partition(self):
        """
        A slave that stops answering is found unreachable: its task is
        reported LOST and the framework hears slaveLost.  When it comes back
        (it registers again, missing the master's pings) it is re-admitted,
        as by Mesos 1.5 and later: the framework hears its task RUNNING
        again, and both slaves are registered.
        """
        # 2 s without an answer removes a slave: long enough that the
        # healthy one, on a loaded machine, always answers in time.
        yield self.start_cluster(masters=1, slaves=2, master_flags=[
            "--slave_ping_timeout=0.5secs", "--max_slave_ping_timeouts=4"])
        scheduler, _ = self.start_framework()
        yield self.run_tasks(scheduler, "one", "two")
        _, state = yield self.cluster.wait_for(lambda p, s: True, "a leader")
        pids = {slave["id"]: slave["pid"] for slave in state["slaves"]}
        lost_slave = scheduler.slaves["one"]
        port = int(pids[lost_slave].rsplit(":", 1)[1])
        (partitioned,) = [d for d in self.cluster.slaves if d.port == port]
        partitioned.pause()
        yield scheduler.wait(lambda s: s.latest("one") == "TASK_LOST"
                             and ("slaveLost", lost_slave) in s.events,
                             "the partitioned slave's task to be lost")
        partitioned.resume()
        yield scheduler.wait(lambda s: s.latest("one") == "TASK_RUNNING",
                             "the re-admitted slave's task to run again")
        self.assertEqual(scheduler.states["one"][-2:], ["TASK_LOST", "TASK_RUNNING"])
        _, state = yield self.cluster.wait_for(lambda p, s: len(s["slaves"]) == 2,
                                               "both slaves registered")
        self.assertEqual(sorted(s["id"] for s in state["slaves"]),
                         sorted([lost_slave, scheduler.slaves["two"]]))
        self.assertEqual(scheduler.latest("two"), "TASK_RUNNING")

    @inlineCallbacks
    def test_slave_unreachable_before_failover(self):
        """
        PartitionedSlaveReregistrationMasterFailover: a slave partitioned
        away and found unreachable by the leader (its task reported LOST),
        which comes back only after that leader was killed, is re-admitted
        by the new leader, which read from ZooKeeper that it was
        unreachable: the framework hears its task RUNNING again.

        The slave is emulated in this process, behind a L{Partition} that
        drops what the old leader sends.
        """
        yield self.start_cluster(masters=2, slaves=0, master_flags=[
            "--slave_ping_timeout=0.5secs", "--max_slave_ping_timeouts=4"])
        old_port, state = yield self.cluster.wait_for(lambda p, s: True, "a leader")
        old_leader = UPID.parse(state["pid"])
        slave = EmulatedSlave(reactor, old_leader, 1, Resources.parse("cpus:1;mem:128"),
                              default_duration=3600)
        partition = Partition(slave)
        self.addCleanup(partition.stop)
        slave.start()
        slave_id = yield slave.when_registered()
        scheduler, _ = self.start_framework()
        yield self.run_tasks(scheduler, "lost")
        partition.cut = True
        yield scheduler.wait(lambda s: s.latest("lost") == "TASK_LOST"
                             and ("slaveLost", slave_id) in s.events,
                             "the partitioned slave's task to be lost")
        yield self.cluster.kill_master(old_port)
        _, state = yield self.cluster.wait_for(
            lambda p, s: p != old_port and scheduler.framework_id in active_frameworks(s),
            "a new leader with the framework")
        new_leader = UPID.parse(state["pid"])
        partition.cut = False
        slave.master = new_leader
        slave.start()
        answers = (internal.ShutdownMessage, internal.SlaveReregisteredMessage)
        yield until(reactor, lambda: partition.of(new_leader, answers),
                    "the new leader's answer to the re-registration", deadline=60)
        answer = partition.of(new_leader, answers)[0]
        self.assertIsInstance(answer, internal.SlaveReregisteredMessage)
        yield scheduler.wait(lambda s: s.latest("lost") == "TASK_RUNNING",
                             "the re-admitted slave's task to run again")
        self.assertEqual(scheduler.states["lost"], ["TASK_RUNNING", "TASK_LOST", "TASK_RUNNING"])
        _, state = yield self.cluster.wait_for(
            lambda p, s: p != old_port and s["slaves"], "the new leader with the slave")
        self.assertEqual(([s["id"] for s in state["slaves"]], task_states(state)),
                         ([slave_id], {"lost": "TASK_RUNNING"}))


@implementer(IMessageReceiver)
class Partition:
    """
    Stands between an emulated slave and the network: it keeps everything
    that arrives and, while C{cut}, passes nothing on, as a network
    partition would drop it.

    @ivar received: C{(sender, message)} pairs, in arrival order.
    """

    def __init__(self, slave):
        self.slave = slave
        self.cut = False
        self.received = []
        slave.node.receiver = self

    def message_received(self, sender, message):
        """
        Keep it; pass it on unless cut.
        """
        self.received.append((sender, message))
        if not self.cut:
            self.slave.message_received(sender, message)

    def peer_lost(self, upid):
        """
        Pass it on unless cut.
        """
        if not self.cut:
            self.slave.peer_lost(upid)

    def stop(self):
        """
        Cut the slave off (so that it does not try to register again) and
        stop it and its node.
        """
        self.cut = True
        self.slave.stop()
        return self.slave.node.stop()

    def of(self, sender, kinds):
        """
        The messages of C{kinds} (a class or a tuple of them) C{sender} sent.
        """
        return [message for origin, message in self.received
                if origin == sender and isinstance(message, kinds)]
