"""
Tests for L{mesos_tw.master.election}: terms of leadership, the pause while
leadership is unconfirmed, standby refusals, and the HTTP endpoints of a
standby.  Driven over an in-memory network on a fake clock, with a scripted
contender standing in for ZooKeeper.
"""

import json

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from mesos_tw.detector import (
    LEADING,
    NOT_LEADING,
    UNCONFIRMED,
    IMasterContender,
    StandaloneDetector,
)
from mesos_tw.master.election import (
    EARLY_REGISTRATION_HOLD,
    ILeadership,
    MasterElection,
    PausableNode,
)
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master, new_master_info
from mesos_tw.master.registry import MemoryRemovedSlaves, ZooKeeperRemovedSlaves
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.network import IMessageNode, IMessageReceiver
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.master import slave_info, task_info
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.registry import ScriptedRemovedSlaves
from mesos_tw.testing.zookeeper import MemoryZooKeeperServer

MASTER = UPID("master", "127.0.0.1", 5050)
OTHER = UPID("master", "127.0.0.2", 5050)


@implementer(IMasterContender)
class ScriptedContender:
    """
    A contender whose leadership the test sets with L{become}.
    """

    def __init__(self):
        self.info = None
        self.listener = None
        self.withdrawn = False

    def contend(self, info, listener):
        """
        Remember the candidate and its listener; nothing is decided yet.
        """
        self.info, self.listener = info, listener

    def withdraw(self):
        """
        Leave the election.
        """
        self.withdrawn = True
        self.listener = None

    def become(self, leadership):
        """
        Tell the candidate its leadership is now C{leadership}.
        """
        self.listener(leadership)


class ElectionTestCase(SynchronousTestCase):
    """
    One master process in an election, a slave and a scheduler.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.contender = ScriptedContender()
        self.detector = StandaloneDetector(None)
        node = self.network.node(MASTER)
        self.election = MasterElection(
            self.clock, node, self.contender, self.detector,
            lambda node, info, ids: Master(self.clock, node, info=info, ids=ids))
        self.election.start(new_master_info(MASTER, None))
        self.addCleanup(self.election.stop)
        self.slave = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5051))
        self.scheduler = RecordingPeer(self.network, UPID("scheduler", "127.0.0.1", 6000))

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def lead(self):
        """
        Win the election; the detector names us.
        """
        self.detector.appoint(MASTER)
        self.contender.become(LEADING)

    def register_slave(self):
        """
        Send a slave registration.
        """
        self.slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()

    def register_framework(self):
        """
        Send a framework registration; the id it got, if any.
        """
        self.scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="u", name="f")))
        self.turn()
        registered = self.scheduler.of(internal.FrameworkRegisteredMessage)
        return registered[-1].framework_id.value if registered else None


class TermTests(ElectionTestCase):
    """
    Terms start on election, pause while unconfirmed and end when lost.
    """

    def test_interfaces(self):
        """
        The election, its pausable node and the scripted contender provide
        their interfaces.
        """
        self.assertTrue(verifyObject(IMessageReceiver, self.election))
        self.assertTrue(verifyObject(ILeadership, self.election))
        self.assertTrue(verifyObject(IMasterContender, self.contender))
        self.assertTrue(verifyObject(IMessageNode, PausableNode(self.network.node(OTHER))))

    def test_publishes_master_info(self):
        """
        The contender stands with our C{MasterInfo}.
        """
        self.assertEqual(self.contender.info.pid, str(MASTER))

    def test_standby_handles_nothing(self):
        """
        Before it is elected the master answers no registration: the slave
        retries with whichever master its detector finds.
        """
        self.register_slave()
        self.assertEqual(self.slave.received, [])
        self.assertIsNone(self.election.master)
        self.assertFalse(self.election.elected)

    def test_standby_refuses_launch(self):
        """
        A launch sent to a standby is answered with C{TASK_LOST} per task
        (those of its task groups too), naming the leader, not dropped.
        """
        self.detector.appoint(OTHER)
        launch = internal.LaunchTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value="f"),
            tasks=[task_info("t1", "s"), task_info("t2", "s")])
        launch.groups.add(executor=mesos_pb2.ExecutorInfo(
            executor_id=mesos_pb2.ExecutorID(value="pod"), type=mesos_pb2.ExecutorInfo.DEFAULT),
            task_group=mesos_pb2.TaskGroupInfo(tasks=[task_info("g1", "s")]))
        self.scheduler.send(MASTER, launch)
        self.turn()
        statuses = [m.update.status for m in self.scheduler.of(internal.StatusUpdateMessage)]
        self.assertEqual([(s.task_id.value, s.state) for s in statuses],
                         [("t1", mesos_pb2.TASK_LOST), ("t2", mesos_pb2.TASK_LOST),
                          ("g1", mesos_pb2.TASK_LOST)])
        self.assertIn(f"the leader: {OTHER}", statuses[0].message)

    def test_named_before_elected_waits(self):
        """
        When ZooKeeper names us before our contender tells us (slaves saw
        the change first), a registration waits for our term instead of
        being dropped; if another master is named instead, a waiting launch
        is refused.
        """
        self.detector.appoint(MASTER)
        self.register_slave()
        self.assertEqual(self.slave.received, [])
        self.contender.become(LEADING)
        self.turn()
        self.assertEqual(len(self.slave.of(internal.SlaveRegisteredMessage)), 1)

    def test_named_then_passed_over_refuses(self):
        """
        Messages that waited for a term that never came are answered as a
        standby answers them once another master is named.
        """
        self.detector.appoint(MASTER)
        self.scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value="f"), tasks=[task_info("t1", "s")]))
        self.turn()
        self.assertEqual(self.scheduler.received, [])
        self.detector.appoint(OTHER)
        self.turn()
        self.assertEqual([m.update.status.state
                          for m in self.scheduler.of(internal.StatusUpdateMessage)],
                         [mesos_pb2.TASK_LOST])

    def test_registration_before_our_detector_waits(self):
        """
        A slave whose detector named us before our own detector did (ours
        still names the old leader) registers with us: the registration
        waits for our term instead of being dropped.
        """
        self.detector.appoint(OTHER)
        self.register_slave()
        self.assertEqual(self.slave.received, [])
        self.clock.advance(EARLY_REGISTRATION_HOLD / 2)
        self.lead()
        self.turn()
        self.assertEqual(len(self.slave.of(internal.SlaveRegisteredMessage)), 1)

    def test_early_registration_dropped_after_hold(self):
        """
        A registration that waited for a term that did not come in time is
        dropped, as a standby drops it: the slave retries where its
        detector points.
        """
        self.detector.appoint(OTHER)
        self.register_slave()
        self.clock.advance(EARLY_REGISTRATION_HOLD)
        self.lead()
        self.turn()
        self.assertEqual(self.slave.received, [])

    def test_early_registration_dropped_when_another_leads(self):
        """
        When our detector names another new leader, registrations that
        waited for us are dropped at once (their senders will find it).
        """
        self.register_slave()
        self.detector.appoint(OTHER)
        self.lead()
        self.turn()
        self.assertEqual(self.slave.received, [])

    def test_elected_master_serves(self):
        """
        Once elected, a term's master registers slaves and frameworks, with
        ids under our master id.
        """
        self.lead()
        self.register_slave()
        self.assertEqual(len(self.slave.of(internal.SlaveRegisteredMessage)), 1)
        framework_id = self.register_framework()
        self.assertEqual(framework_id, f"{self.contender.info.id}-0000")
        self.assertTrue(self.election.elected)
        self.assertEqual(self.election.terms, 1)

    def test_unconfirmed_pauses_then_resumes(self):
        """
        While leadership is unconfirmed, nothing is handled or sent; when
        it is confirmed again the same term goes on with what waited.
        """
        self.lead()
        master = self.election.master
        self.contender.become(UNCONFIRMED)
        self.register_slave()
        self.assertEqual(self.slave.received, [])
        self.assertEqual(master.slaves, {})
        self.contender.become(LEADING)
        self.turn()
        self.assertEqual(len(self.slave.of(internal.SlaveRegisteredMessage)), 1)
        self.assertIs(self.election.master, master)
        self.assertEqual(self.election.terms, 1)

    def test_paused_term_holds_what_it_sends(self):
        """
        What the master sends while paused (here the answer to a slave
        that reached it just before the pause, and the offer of its
        resources) leaves only on resumption, in order.
        """
        self.lead()
        self.register_framework()
        self.contender.become(UNCONFIRMED)
        self.election.master.message_received(
            self.slave.upid, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        self.assertEqual(self.slave.received, [])
        self.assertEqual(self.scheduler.of(internal.ResourceOffersMessage), [])
        self.contender.become(LEADING)
        self.turn()
        self.assertEqual(len(self.slave.of(internal.SlaveRegisteredMessage)), 1)
        self.assertEqual(len(self.scheduler.of(internal.ResourceOffersMessage)), 1)

    def test_lost_leadership_ends_term(self):
        """
        Losing leadership while paused ends the term: what waited is not
        handled, a waiting launch is refused, and a task that never reached
        its slave is reported lost to its scheduler.
        """
        self.lead()
        self.register_slave()
        framework_id = self.register_framework()
        offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.contender.become(UNCONFIRMED)
        # Handled before the pause took hold: the launch reached the master,
        # whose RunTask to the slave is held.
        self.election.master.message_received(self.scheduler.upid, internal.LaunchTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id), offer_ids=[offer.id],
            tasks=[task_info("held", offer.slave_id.value)]))
        self.scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id), offer_ids=[offer.id],
            tasks=[task_info("waiting", offer.slave_id.value)]))
        self.turn()
        self.detector.appoint(OTHER)
        self.contender.become(NOT_LEADING)
        self.turn()
        self.assertIsNone(self.election.master)
        self.assertEqual(self.slave.of(internal.RunTaskMessage), [])
        lost = {m.update.status.task_id.value: m.update.status
                for m in self.scheduler.of(internal.StatusUpdateMessage)}
        self.assertEqual(sorted(lost), ["held", "waiting"])
        self.assertEqual({s.state for s in lost.values()}, {mesos_pb2.TASK_LOST})
        self.assertIn("lost its leadership", lost["held"].message)

    def test_lost_leadership_reports_unsent_task_group(self):
        """
        A task group the ended term launched but never sent to its slave is
        reported lost, task by task, to its scheduler.
        """
        self.lead()
        self.register_slave()
        framework_id = self.register_framework()
        offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.contender.become(UNCONFIRMED)
        launch = internal.LaunchTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id), offer_ids=[offer.id])
        launch.groups.add(
            executor=mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value="pod"),
                                            type=mesos_pb2.ExecutorInfo.DEFAULT),
            task_group=mesos_pb2.TaskGroupInfo(tasks=[
                task_info("a", offer.slave_id.value), task_info("b", offer.slave_id.value)]))
        self.election.master.message_received(self.scheduler.upid, launch)
        self.detector.appoint(OTHER)
        self.contender.become(NOT_LEADING)
        self.turn()
        self.assertEqual(self.slave.of(internal.RunTaskGroupMessage), [])
        lost = [(m.update.status.task_id.value, m.update.status.state)
                for m in self.scheduler.of(internal.StatusUpdateMessage)]
        self.assertEqual(lost, [("a", mesos_pb2.TASK_LOST), ("b", mesos_pb2.TASK_LOST)])

    def test_lost_leadership_closes_connections(self):
        """
        A term that ends closes every connection, so the slave and the
        scheduler register again even if this process leads once more.
        """
        self.lead()
        self.register_slave()
        self.register_framework()
        self.contender.become(NOT_LEADING)
        self.turn()
        self.assertEqual((self.slave.lost, self.scheduler.lost), ([MASTER], [MASTER]))
        self.assertEqual(self.election.node.peers(), [])

    def test_lost_leadership_closes_unknown_connections(self):
        """
        A term that ends closes connections whose first message is still on
        its way too: a slave's registration sent to the ended term never
        reaches the next one (simulation seed 80043: the next term handled
        a stale re-registration, then asked the slave about a task that had
        finished since, and the finished task was reported lost); the slave
        hears the connection closed, and registers again.
        """
        self.lead()
        slave = RecordingPeer(self.network, UPID("slave(2)", "127.0.0.1", 5052))
        self.network.deliver(slave.upid, MASTER, internal.RegisterSlaveMessage(
            slave=slave_info()), delay=1.0)
        self.clock.advance(0)
        self.contender.become(NOT_LEADING)
        self.contender.become(LEADING)
        self.clock.advance(1.0)
        self.turn()
        self.assertEqual(slave.lost, [MASTER])
        self.assertEqual(slave.received, [])
        self.assertEqual(self.election.master.slaves, {})

    def test_new_term_new_master_fresh_ids(self):
        """
        Leading again starts a fresh master (the old state is gone: it is
        rebuilt from re-registrations), and ids are never handed out twice.
        """
        self.lead()
        first = self.register_framework()
        first_master = self.election.master
        self.contender.become(NOT_LEADING)
        self.scheduler.received.clear()
        self.scheduler.node.disconnect(MASTER)
        self.scheduler = RecordingPeer(self.network, UPID("scheduler2", "127.0.0.1", 6001))
        self.contender.become(LEADING)
        second = self.register_framework()
        self.assertIsNot(self.election.master, first_master)
        self.assertEqual(self.election.terms, 2)
        self.assertNotEqual(first, second)
        self.assertEqual(list(self.election.master.frameworks), [second])

    def test_stop_withdraws(self):
        """
        Stopping ends the term and withdraws from the election.
        """
        self.lead()
        self.election.stop()
        self.assertTrue(self.contender.withdrawn)
        self.assertIsNone(self.election.master)


class StandbyHTTPTests(ElectionTestCase):
    """
    A standby's HTTP endpoints point at the leader.
    """

    def get(self, path):
        client = StubTreq(MasterHTTP(self.election).resource())
        response = self.successResultOf(client.get("http://master" + path,
                                                   allow_redirects=False))
        return response, self.successResultOf(response.content())

    def test_redirects_to_leader(self):
        """
        State paths on a standby are a 307 to the same path and query on
        the leader.
        """
        self.detector.appoint(OTHER)
        response, _ = self.get("/master/tasks?limit=5")
        self.assertEqual(response.code, 307)
        self.assertEqual(response.headers.getRawHeaders("location"),
                         ["http://127.0.0.2:5050/master/tasks?limit=5"])

    def test_no_leader_is_503(self):
        """
        With no leader known, state paths are a 503 that says so.
        """
        response, body = self.get("/master/state")
        self.assertEqual(response.code, 503)
        self.assertIn(b"no leading master", body)

    def test_paused_leader_is_503(self):
        """
        A leader that cannot confirm its leadership does not serve state,
        and does not redirect to itself.
        """
        self.lead()
        self.contender.become(UNCONFIRMED)
        response, _ = self.get("/master/state")
        self.assertEqual(response.code, 503)

    def test_local_endpoints(self):
        """
        Health and flags are served by a standby itself; its metrics say
        it is not elected.
        """
        self.detector.appoint(OTHER)
        self.assertEqual(self.get("/health")[0].code, 200)
        self.assertEqual(self.get("/master/flags")[0].code, 200)
        response, body = self.get("/metrics/snapshot")
        self.assertEqual(json.loads(body), {"master/elected": 0})

    def test_leader_serves(self):
        """
        Once elected, the state is our term's master's.
        """
        self.lead()
        response, body = self.get("/master/state")
        self.assertEqual(response.code, 200)
        self.assertEqual(json.loads(body)["id"], self.contender.info.id)
        self.assertEqual(json.loads(self.get("/metrics/snapshot")[1])["master/elected"], 1)


class RegistryTermTests(ElectionTestCase):
    """
    Each term reads the registry of removed slaves before it admits any
    slave, and a slave removed by an earlier leader (another term, or
    another master process) is told to shut down.
    """

    def start_process(self, upid, registry):
        """
        Another master process on the network, with its own contender and
        detector and C{registry}; its election and contender.
        """
        contender = ScriptedContender()
        detector = StandaloneDetector(None)
        election = MasterElection(
            self.clock, self.network.node(upid), contender, detector,
            lambda node, info, ids: Master(self.clock, node, info=info, ids=ids,
                                           registry=registry))
        election.start(new_master_info(upid, None))
        self.addCleanup(election.stop)
        return election, contender, detector

    def reregister_slave(self, slave, slave_id, master):
        """
        C{slave} re-registers as C{slave_id} with C{master}.
        """
        slave.send(master, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id), slave=slave_info()))
        self.turn()

    def test_registrations_wait_for_the_registry(self):
        """
        A new term admits no slave until its registry is read: the slave's
        registration waits, and is answered once the read fires.
        """
        registry = ScriptedRemovedSlaves()
        election, contender, detector = self.start_process(OTHER, registry)
        detector.appoint(OTHER)
        contender.become(LEADING)
        self.slave.send(OTHER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        self.assertEqual(self.slave.received, [])
        self.assertEqual(election.master.slaves, {})
        registry.finish_load()
        self.turn()
        self.assertEqual(len(self.slave.of(internal.SlaveRegisteredMessage)), 1)

    def test_removed_by_crashed_leader_is_shut_down(self):
        """
        A slave removed by a leader that then dies is told to shut down by
        the next leader, another process reading the same ZooKeeper record
        (its tasks were already reported lost), while a slave the old
        leader did not remove is admitted again.
        """
        server = MemoryZooKeeperServer()

        def record():
            client = server.client()
            client.start()
            return ZooKeeperRemovedSlaves(client, "/mesos")

        first, first_contender, first_detector = self.start_process(OTHER, record())
        first_detector.appoint(OTHER)
        first_contender.become(LEADING)
        healthy = RecordingPeer(self.network, UPID("slave(2)", "127.0.0.1", 5052))
        for slave in (self.slave, healthy):
            slave.send(OTHER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        removed_id = self.slave.last(internal.SlaveRegisteredMessage).slave_id.value
        healthy_id = healthy.last(internal.SlaveRegisteredMessage).slave_id.value
        first.master.message_received(self.slave.upid, internal.UnregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=removed_id)))
        self.assertEqual(self.successResultOf(record().load()), {removed_id})
        self.network.crash(OTHER)
        second, second_contender, second_detector = self.start_process(
            UPID("master", "127.0.0.3", 5050), record())
        second_detector.appoint(second.pid)
        second_contender.become(LEADING)
        self.reregister_slave(self.slave, removed_id, second.pid)
        self.reregister_slave(healthy, healthy_id, second.pid)
        self.assertIn("was removed", self.slave.last(internal.ShutdownMessage).message)
        self.assertEqual(list(second.master.slaves), [healthy_id])
        self.assertEqual(len(healthy.of(internal.SlaveReregisteredMessage)), 1)

    def test_removed_in_earlier_term_is_shut_down(self):
        """
        Terms of one process share its record: a slave removed in the first
        term is told to shut down when it re-registers in the second.
        """
        registry = MemoryRemovedSlaves()
        election, contender, detector = self.start_process(OTHER, registry)
        detector.appoint(OTHER)
        contender.become(LEADING)
        self.slave.send(OTHER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        slave_id = self.slave.last(internal.SlaveRegisteredMessage).slave_id.value
        master = election.master
        master.remove_slave(master.slaves[slave_id], "test")
        self.turn()
        contender.become(NOT_LEADING)
        contender.become(LEADING)
        self.reregister_slave(self.slave, slave_id, OTHER)
        self.assertEqual(election.terms, 2)
        self.assertEqual(len(self.slave.of(internal.ShutdownMessage)), 1)
        self.assertEqual(election.master.slaves, {})
