"""
Tests for L{mesos_tw.testing.emulated_slave.EmulatedSlave}, against a real
master on an in-memory network and a fake clock.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from mesos_tw.master.master import Master
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.network import IMessageReceiver
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.emulated_slave import EmulatedSlave, planned_duration
from mesos_tw.testing.master import task_info
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer

MASTER = UPID("master", "127.0.0.1", 5050)


class EmulatedSlaveTests(SynchronousTestCase):
    """
    An emulated slave registered with a real master, and a scheduler.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.master = Master(self.clock, self.network.node(MASTER))
        self.master.start()
        self.addCleanup(self.master.stop)
        self.slave = EmulatedSlave(
            self.clock, MASTER, 7, Resources.parse("cpus:4;mem:1024"),
            node=self.network.node(UPID("slave(7)", "127.0.0.1", 0)))
        self.slave.start()
        self.addCleanup(self.slave.stop)
        self.turn()
        self.scheduler = RecordingPeer(self.network, UPID("scheduler", "127.0.0.1", 0))
        self.scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="u", name="f")))
        self.turn()
        self.framework_id = self.scheduler.last(
            internal.FrameworkRegisteredMessage).framework_id.value

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def launch(self, task_id, data=b""):
        """
        Launch a task on the latest offer.
        """
        offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]
        task = task_info(task_id, offer.slave_id.value)
        task.data = data
        self.scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id), offer_ids=[offer.id],
            tasks=[task], filters=mesos_pb2.Filters(refuse_seconds=0)))
        self.turn()

    def states(self):
        """
        C{(task, state name)} of every update the scheduler received.
        """
        return [(m.update.status.task_id.value, mesos_pb2.TaskState.Name(m.update.status.state))
                for m in self.scheduler.of(internal.StatusUpdateMessage)]

    def test_interface_and_registration(self):
        """
        It is a message receiver, and it registers with its resources.
        """
        self.assertTrue(verifyObject(IMessageReceiver, self.slave))
        self.assertEqual(list(self.master.slaves), [self.slave.slave_id])
        self.assertEqual(self.successResultOf(self.slave.when_registered()), self.slave.slave_id)

    def test_task_runs_then_finishes(self):
        """
        A task is RUNNING at once and FINISHED after the seconds in its data.
        """
        self.launch("t1", b"2.5")
        self.assertEqual(self.states(), [("t1", "TASK_RUNNING")])
        self.clock.advance(2.5)
        self.turn()
        self.assertEqual(self.states(), [("t1", "TASK_RUNNING"), ("t1", "TASK_FINISHED")])
        self.assertEqual(self.slave.running, {})

    def test_kill(self):
        """
        A killed task reports TASK_KILLED and never finishes.
        """
        self.launch("t1")
        self.scheduler.send(MASTER, internal.KillTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id),
            task_id=mesos_pb2.TaskID(value="t1")))
        self.turn()
        self.clock.advance(60)
        self.turn()
        self.assertEqual(self.states(), [("t1", "TASK_RUNNING"), ("t1", "TASK_KILLED")])

    def test_update_while_no_master_known(self):
        """
        An update made while its detector names no master (a task launched
        just before) is kept, and sent once a master answers it.
        """
        self.slave.follow(None)
        self.launch("t1", b"100")
        self.assertEqual(self.states(), [])
        self.slave.follow(MASTER)
        self.turn()
        self.assertEqual(self.states(), [("t1", "TASK_RUNNING")])
        self.assertEqual(self.master.task_state_name(self.framework_id, "t1"), "TASK_RUNNING")

    def test_reconciled_task_it_does_not_run(self):
        """
        A task the master asks about (the re-registration did not report
        it) that the slave does not run ends TASK_LOST, once, as a Mesos
        slave answers.
        """
        self.launch("t1", b"100")
        # The slave forgets it, unbeknownst to the master.
        self.slave._shutdown_framework(internal.ShutdownFrameworkMessage(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id)))
        self.scheduler.received.clear()
        self.slave.follow(None)
        self.slave.follow(MASTER)
        self.turn()
        self.slave.follow(None)
        self.slave.follow(MASTER)
        self.turn()
        self.assertEqual(self.states(), [("t1", "TASK_LOST")])

    def test_follows_new_master_with_its_tasks(self):
        """
        Told of a new leader, it re-registers there at once, reporting the
        tasks it runs, so the new master knows them.
        """
        self.launch("t1", b"100")
        other = UPID("master", "127.0.0.2", 5050)
        new_master = Master(self.clock, self.network.node(other))
        new_master.start()
        self.addCleanup(new_master.stop)
        self.slave.follow(other)
        self.turn()
        slave = new_master.slaves[self.slave.slave_id]
        self.assertEqual(list(slave.tasks), [(self.framework_id, "t1")])

    def test_reregistration_reports_current_tasks(self):
        """
        Each re-registration reports the tasks running at the time: one
        launched since the last is reported, one finished since is not.
        """
        self.launch("t1", b"10")
        first = UPID("master", "127.0.0.2", 5050)
        second = UPID("master", "127.0.0.3", 5050)
        peers = [RecordingPeer(self.network, upid) for upid in (first, second)]
        self.slave.follow(first)
        self.turn()
        self.clock.advance(10)
        self.slave.follow(second)
        self.turn()
        reported = [[task.task_id.value for task in peer.last(
            internal.ReregisterSlaveMessage).tasks] for peer in peers]
        self.assertEqual(reported, [["t1"], []])

    def test_answered_since_leader_change(self):
        """
        Following a new leader clears the time it was answered in (telling
        C{on_answered} -1 if it had one) until that leader answers (+1):
        what the failover benchmark counts.
        """
        changes = []
        self.patch(self.slave, "_on_answered", changes.append)
        other = UPID("master", "127.0.0.2", 5050)
        new_master = Master(self.clock, self.network.node(other))
        new_master.start()
        self.addCleanup(new_master.stop)
        self.slave.follow(other)
        self.assertIsNone(self.slave.registered_after)
        self.clock.advance(0.25)
        self.turn()
        self.assertEqual((changes, self.slave.registered_after), ([1], 0.25))
        self.slave.follow(MASTER)
        self.assertEqual((changes, self.slave.registered_after), ([1, -1], None))

    def test_reregistration_delay(self):
        """
        With a C{reregistration_delay}, told of a new leader it re-registers
        there only after a random wait of up to that long (as a Mesos slave
        waits up to C{--registration_backoff_factor}).
        """
        self.slave.reregistration_delay = 1.0
        other = UPID("master", "127.0.0.2", 5050)
        new_master = Master(self.clock, self.network.node(other))
        new_master.start()
        self.addCleanup(new_master.stop)
        self.patch(self.slave._registration, "_jitter", lambda: 0.5)
        self.slave.follow(other)
        self.turn()
        self.assertEqual(new_master.slaves, {})
        self.clock.advance(0.5)
        self.turn()
        self.assertEqual(list(new_master.slaves), [self.slave.slave_id])

    def test_lost_master_delay(self):
        """
        When the master's connection closes it registers again after
        C{lost_master_delay} and a random wait of up to as long again; a
        new leader named meanwhile is followed instead.
        """
        self.slave.lost_master_delay = 4.0
        self.patch(self.slave._registration, "_jitter", lambda: 0.5)
        reregistrations = self.master.counters.counts["slave_reregistrations"]
        self.network.sever(MASTER, self.slave.node.upid)
        self.turn()
        self.clock.advance(5.9)
        self.turn()
        self.assertEqual(self.master.counters.counts["slave_reregistrations"], reregistrations)
        self.clock.advance(0.1)
        self.turn()
        self.assertEqual(self.master.counters.counts["slave_reregistrations"],
                         reregistrations + 1)

    def test_answers_pings(self):
        """
        It answers the master's pings, so it stays registered.
        """
        for _ in range(10):
            self.clock.advance(15)
            self.turn()
        self.assertIn(self.slave.slave_id, self.master.slaves)

    def test_planned_duration(self):
        """
        The duration is the task's data as a number, else the default.
        """
        task = mesos_pb2.TaskInfo(data=b"12")
        self.assertEqual(planned_duration(task, 30.0), 12.0)
        self.assertEqual(planned_duration(mesos_pb2.TaskInfo(data=b"x"), 30.0), 30.0)
