"""
Tests for the master's use of its registry of removed slaves
(L{mesos_tw.master.registry}): nothing is handled until the registry is
read, a removal is recorded before anyone hears of it, and a write that
fails or outlives the term is neither fatal nor silent.  Driven over an
in-memory network on a fake clock, with a record whose reads and writes the
test settles (L{ScriptedRemovedSlaves}).
"""

from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master.master import Master
from mesos_tw.master.registry_shards import ShardedRegistrar
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.master import MASTER, slave_info, task_info
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.registry import ScriptedRemovedSlaves, ScriptedShardStore


class RegistryTestCase(SynchronousTestCase):
    """
    A master whose registry the test answers; a slave and a scheduler.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.registry = ScriptedRemovedSlaves({"S-earlier"})
        self.master = Master(self.clock, self.network.node(MASTER),
                             registry=self.registry)
        self.master.start()
        self.addCleanup(self.master.stop)
        self.slave = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5051))
        self.scheduler = RecordingPeer(self.network, UPID("scheduler", "127.0.0.1", 6000))
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def logged(self, fragment):
        """
        The log events whose format contains C{fragment}.
        """
        return [event for event in self.events if fragment in event.get("log_format", "")]

    def reregister(self, peer, slave_id):
        """
        C{peer} re-registers as slave C{slave_id}.
        """
        peer.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id), slave=slave_info()))
        self.turn()

    def running_task(self):
        """
        Read the registry, register the slave and a framework, and launch a
        task on the slave; its slave id and framework id.
        """
        self.registry.finish_load()
        self.slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        slave_id = self.slave.last(internal.SlaveRegisteredMessage).slave_id.value
        self.scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="u", name="f")))
        self.turn()
        framework_id = self.scheduler.last(internal.FrameworkRegisteredMessage).framework_id.value
        offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id), offer_ids=[offer.id],
            tasks=[task_info("t1", slave_id)]))
        self.turn()
        return slave_id, framework_id

    def unregister(self):
        """
        The slave unregisters: the master removes it.  (A slave that misses
        its pings is unreachable instead, and may come back: see
        tests.test_master_partitions; one whose connection closes is kept.)
        """
        self.slave.send(MASTER, internal.UnregisterSlaveMessage(
            slave_id=self.slave.last(internal.SlaveRegisteredMessage).slave_id))
        self.turn()

    def told(self):
        """
        What the scheduler and the slave heard of a removal: TASK_LOST
        updates, slaveLost, ShutdownMessage.
        """
        return ([m.update.status.task_id.value for m in
                 self.scheduler.of(internal.StatusUpdateMessage)
                 if m.update.status.state == mesos_pb2.TASK_LOST],
                len(self.scheduler.of(internal.LostSlaveMessage)),
                len(self.slave.of(internal.ShutdownMessage)))


class RecoveryTests(RegistryTestCase):
    """
    A master reads the registry before it handles anything.
    """

    def test_messages_wait_for_the_registry(self):
        """
        Registrations that arrive before the registry is read wait, and are
        answered, in order, once it is.
        """
        self.slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="u", name="f")))
        self.turn()
        self.assertFalse(self.master.recovered)
        self.assertEqual((self.slave.received, self.scheduler.received), ([], []))
        self.assertEqual(self.master.slaves, {})
        self.registry.finish_load()
        self.turn()
        self.assertTrue(self.master.recovered)
        self.assertEqual(len(self.slave.of(internal.SlaveRegisteredMessage)), 1)
        self.assertEqual(len(self.scheduler.of(internal.FrameworkRegisteredMessage)), 1)

    def test_slave_removed_earlier_is_shut_down(self):
        """
        A slave an earlier leader removed, re-registering before the
        registry is read, waits and is then told to shut down; one the
        registry does not name is admitted.
        """
        other = RecordingPeer(self.network, UPID("slave(2)", "127.0.0.1", 5052))
        self.reregister(self.slave, "S-earlier")
        self.reregister(other, "S-other")
        self.assertEqual(self.slave.received, [])
        self.registry.finish_load()
        self.turn()
        self.assertIn("was removed", self.slave.last(internal.ShutdownMessage).message)
        self.assertNotIn("S-earlier", self.master.slaves)
        self.assertEqual(self.master.removed_slaves, {"S-earlier"})
        self.assertEqual(other.last(internal.SlaveReregisteredMessage).slave_id.value, "S-other")

    def test_lost_peer_waits_in_order(self):
        """
        A slave's connection closing after its re-registration, both before
        the registry is read, is handled after the re-registration: the
        slave is admitted, then disconnected (kept, not removed).
        """
        self.reregister(self.slave, "S-other")
        self.network.crash(self.slave.upid)
        self.turn()
        self.registry.finish_load()
        self.turn()
        self.assertEqual(list(self.master.slaves), ["S-other"])
        self.assertFalse(self.master.slaves["S-other"].connected)
        self.assertEqual(self.registry.adds, [])

    def test_failed_read_is_retried(self):
        """
        A read that fails is logged and retried a second later (then after
        two, four...); what waited is handled once a read succeeds.
        """
        self.reregister(self.slave, "S-earlier")
        self.registry.fail_load(RuntimeError("no quorum"))
        [error] = self.logged("Cannot read the registry")
        self.assertEqual((error["error"], error["delay"]), ("no quorum", 1.0))
        self.assertEqual(self.registry.loads, [])
        self.clock.advance(1)
        self.registry.fail_load(RuntimeError("no quorum"))
        self.assertEqual(self.logged("Cannot read the registry")[-1]["delay"], 2.0)
        self.clock.advance(2)
        self.assertEqual(self.slave.received, [])
        self.registry.finish_load()
        self.turn()
        self.assertEqual(len(self.slave.of(internal.ShutdownMessage)), 1)

    def test_stopped_before_read(self):
        """
        A master stopped (its term over) while its read failed retries no
        more, and one stopped before its read fires ignores it.
        """
        self.registry.fail_load(RuntimeError("no quorum"))
        self.master.stop()
        self.clock.advance(60)
        self.assertEqual(self.registry.loads, [])
        self.assertEqual(self.clock.getDelayedCalls(), [])


class RemovalTests(RegistryTestCase):
    """
    A removal is recorded before the frameworks and the slave hear of it.
    """

    def test_recorded_before_reported(self):
        """
        A slave that unregisters leaves the master's state and the
        allocator at once, but its task is reported lost and frameworks hear
        slaveLost only once its removal is recorded.
        """
        slave_id, framework_id = self.running_task()
        self.unregister()
        self.assertNotIn(slave_id, self.master.slaves)
        self.assertEqual([added for added, _ in self.registry.adds], [slave_id])
        self.assertEqual(self.told(), ([], 0, 0))
        self.assertNotIn(slave_id, self.master.removed_slaves)
        self.registry.finish_add()
        self.turn()
        self.assertEqual(self.told(), (["t1"], 1, 0))
        self.assertEqual(self.master.removed_slaves, {"S-earlier", slave_id})
        self.assertEqual(self.registry.ids, {"S-earlier", slave_id})

    def test_reregistration_during_removal_waits(self):
        """
        A slave re-registering while its removal is being recorded is
        answered once it is recorded: told to shut down.
        """
        slave_id, _ = self.running_task()
        self.unregister()
        again = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5061))
        self.reregister(again, slave_id)
        self.assertEqual(again.received, [])
        self.assertEqual(len(self.logged("re-registers while its removal")), 1)
        self.registry.finish_add()
        self.turn()
        self.assertEqual(len(again.of(internal.ShutdownMessage)), 1)
        self.assertNotIn(slave_id, self.master.slaves)

    def test_reconciliation_waits_for_the_removal(self):
        """
        Reconciling a task of a slave whose removal is being recorded gets
        no answer until it is recorded (then the removal's C{TASK_LOST}
        answers it); other unknown tasks are answered at once.
        """
        slave_id, framework_id = self.running_task()
        self.unregister()
        self.scheduler.send(MASTER, internal.ReconcileTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            statuses=[mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id),
                                           state=mesos_pb2.TASK_RUNNING)
                      for task_id in ("t1", "ghost")]))
        self.turn()
        self.assertEqual(self.told(), (["ghost"], 0, 0))
        self.assertEqual(len(self.logged("Not reconciling task")), 1)
        self.registry.finish_add()
        self.turn()
        self.assertEqual(self.told(), (["ghost", "t1"], 1, 0))

    def test_failed_write_is_retried(self):
        """
        A write that fails is logged, with the slave and the error, and
        retried; nothing is reported until a write succeeds.
        """
        slave_id, _ = self.running_task()
        self.unregister()
        self.registry.fail_add(RuntimeError("no quorum"))
        [error] = self.logged("Cannot record the removal")
        self.assertEqual((error["slave_id"], error["error"], error["count"], error["delay"]),
                         (slave_id, "no quorum", 1, 1.0))
        self.assertEqual(self.registry.adds, [])
        self.clock.advance(1)
        self.assertEqual([added for added, _ in self.registry.adds], [slave_id])
        self.assertEqual(self.told(), ([], 0, 0))
        self.registry.finish_add()
        self.turn()
        self.assertEqual(self.told(), (["t1"], 1, 0))

    def test_term_ends_before_write_fires(self):
        """
        If the term ends while the write is in flight, the abandoned
        removal is logged; a write that fires afterwards tells no one (this
        master no longer leads) and says so.
        """
        slave_id, _ = self.running_task()
        self.unregister()
        self.master.stop()
        [abandoned] = self.logged("The term ended before the removal")
        self.assertEqual((abandoned["slave_id"], abandoned["count"]), (slave_id, 1))
        self.registry.finish_add()
        self.turn()
        self.assertEqual(self.told(), ([], 0, 0))
        self.assertEqual(len(self.logged("was recorded after the term ended")), 1)

    def test_term_ends_before_write_fails(self):
        """
        A write that fails after the term ended is not retried.
        """
        self.running_task()
        self.unregister()
        self.master.stop()
        self.registry.fail_add(RuntimeError("no quorum"))
        self.clock.advance(60)
        self.assertEqual(self.registry.adds, [])
        self.assertEqual(self.told(), ([], 0, 0))
        self.assertEqual(self.logged("Cannot record the removal"), [])
        self.assertEqual(self.clock.getDelayedCalls(), [])


class BatchedRegistryTests(SynchronousTestCase):
    """
    A master on the batching registrar (L{ShardedRegistrar}) over a store
    the test settles: it recovers from one read, holds what arrives
    meanwhile, and answers slaves only once their batch is durable.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.store = ScriptedShardStore()
        self.registry = ShardedRegistrar(self.store)
        self.master = Master(self.clock, self.network.node(MASTER),
                             registry=self.registry)
        self.master.start()
        self.addCleanup(self.master.stop)
        self.slaves = [RecordingPeer(self.network, UPID(f"slave({n})", "127.0.0.1", 5051 + n))
                       for n in range(5)]

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def test_reregistration_while_recovering_is_held(self):
        """
        A slave re-registering while the new leader reads the registry (one
        read) is neither answered nor dropped: once the read fires its
        admission is written, and once that is durable it is answered.
        """
        slave = self.slaves[0]
        slave.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value="S-old"), slave=slave_info()))
        self.turn()
        self.assertEqual(len(self.store.reads), 1)
        self.assertEqual((slave.received, self.store.writes), ([], []))
        self.store.finish_read()
        self.turn()
        self.assertEqual(len(self.store.writes), 1)
        self.assertEqual(slave.received, [])
        self.store.finish_writes()
        self.turn()
        self.assertEqual(
            [m.slave_id.value for m in slave.of(internal.SlaveReregisteredMessage)], ["S-old"])
        self.assertEqual(list(self.master.slaves), ["S-old"])

    def test_registrations_batched(self):
        """
        Registrations arriving while an admission is written are written
        together in the next batch; no slave is answered before its own
        admission is durable.
        """
        self.store.finish_read()
        first, *others = self.slaves
        first.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        for slave in others:
            slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        self.assertEqual((self.registry.batches, len(self.store.writes)), (1, 1))
        self.store.finish_writes()
        self.turn()
        self.assertEqual(len(first.of(internal.SlaveRegisteredMessage)), 1)
        self.assertEqual(self.registry.batches, 2)
        self.assertTrue(all(slave.received == [] for slave in others))
        self.store.finish_writes()
        self.turn()
        self.assertTrue(all(len(slave.of(internal.SlaveRegisteredMessage)) == 1
                            for slave in others))
        self.assertEqual((self.registry.batches, self.store.writes), (2, []))
        self.assertEqual(len(self.master.slaves), 5)
