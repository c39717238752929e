"""
Tests for the leader's pruning of unreachable slaves from its registry
(L{mesos_tw.master._registry_gc}, Mesos's C{--registry_gc_interval},
C{--registry_max_agent_age} and C{--registry_max_agent_count}; after
Mesos's C{RegistrarTest.Prune*} and C{PartitionTest.RegistryGc*}), over an
in-memory network and registry on a fake clock.
"""

from twisted.internet.defer import Deferred, fail
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master._registry_gc import RegistryGcPolicy, registry_gc_candidates
from mesos_tw.master.master import Master
from mesos_tw.master.registry import MemoryRemovedSlaves
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.master import MASTER, MasterTestCase, task_info
from mesos_tw.testing.peers import RecordingPeer

INTERVAL = 60.0
Capability = mesos_pb2.FrameworkInfo.Capability


class CandidateTests(SynchronousTestCase):
    """
    Which unreachable slaves a collection picks.
    """

    def test_oldest_beyond_the_count(self):
        """
        Beyond C{max_count}, the oldest go (by the time each was found
        unreachable, not by id).
        """
        policy = RegistryGcPolicy(INTERVAL, max_age=1000.0, max_count=2)
        unreachable = {"a": 30.0, "b": 10.0, "c": 20.0, "d": 40.0}
        self.assertEqual(registry_gc_candidates(unreachable, 50.0, policy), ["b", "c"])

    def test_older_than_the_age(self):
        """
        Any slave unreachable for longer than C{max_age} goes, wherever it
        is in the table; one exactly C{max_age} old stays (as Mesos).
        """
        policy = RegistryGcPolicy(INTERVAL, max_age=100.0, max_count=10)
        unreachable = {"a": 50.0, "b": 0.0, "c": 49.0}
        self.assertEqual(registry_gc_candidates(unreachable, 150.0, policy), ["b", "c"])

    def test_count_zero_keeps_none(self):
        """
        C{--registry_max_agent_count=0} keeps no unreachable slave.
        """
        policy = RegistryGcPolicy(INTERVAL, max_age=100.0, max_count=0)
        self.assertEqual(registry_gc_candidates({"a": 1.0, "b": 2.0}, 2.0, policy), ["a", "b"])


class FailingPrune(MemoryRemovedSlaves):
    """
    A registry whose C{mark_reachable} fails while C{failing} is set, or
    is held (C{held}: slave id -> Deferred) while C{holding} is.
    """

    failing = False
    holding = False

    def __init__(self, *arguments, **keywords):
        super().__init__(*arguments, **keywords)
        self.held = {}

    def mark_reachable(self, slave_id):
        if self.failing:
            return fail(RuntimeError("registry unavailable"))
        if self.holding:
            d = Deferred()
            self.held[slave_id] = d
            d.addCallback(lambda _: MemoryRemovedSlaves.mark_reachable(self, slave_id))
            return d
        return super().mark_reachable(slave_id)


class RegistryGcTests(MasterTestCase):
    """
    A leader with a registry of unreachable slaves prunes it every
    C{INTERVAL} seconds.
    """

    def start_master(self, registry, max_age=1000.0, max_count=100):
        """
        A new leader at the master's address reading C{registry}, pruning
        by C{max_age} and C{max_count}.
        """
        self.master.stop()
        self.network.crash(MASTER)
        self.turn()
        self.registry = registry
        self.master = Master(self.clock, self.network.node(MASTER),
                             registry=registry,
                             registry_gc=RegistryGcPolicy(INTERVAL, max_age, max_count))
        self.master.start()
        self.addCleanup(self.master.stop)
        self.turn()

    def collect(self):
        """
        Let one collection run and its writes complete.
        """
        self.clock.advance(INTERVAL)
        self.turn()

    def test_count_prunes_registry_and_memory(self):
        """
        Beyond C{--registry_max_agent_count} the oldest unreachable slaves
        leave the registry and the master's table (its state and metrics).
        """
        self.start_master(MemoryRemovedSlaves(unreachable={"s1": 1.0, "s2": 3.0, "s3": 2.0}),
                          max_count=1)
        self.assertEqual(self.master.state()["unreachable_slaves"], 3)
        self.collect()
        self.assertEqual(self.registry.unreachable_ids, {"s2": 3.0})
        self.assertEqual(self.master.unreachable_slaves, {"s2": 3.0})
        self.assertEqual(self.master.state()["unreachable_slaves"], 1)

    def test_nothing_to_prune(self):
        """
        A collection with nothing beyond the age or count changes nothing,
        and the next one comes C{INTERVAL} later.
        """
        self.start_master(MemoryRemovedSlaves(unreachable={"s1": 0.0}), max_age=INTERVAL * 1.5)
        self.collect()
        self.assertEqual(self.master.unreachable_slaves, {"s1": 0.0})
        self.collect()
        self.assertEqual((self.registry.unreachable_ids, self.master.unreachable_slaves), ({}, {}))

    def test_age_prunes_unreachable_tasks(self):
        """
        A slave partitioned longer than C{--registry_max_agent_age} is
        forgotten with its unreachable tasks: the state no longer lists
        them, and a reconciliation of the task answers C{TASK_UNKNOWN}
        (a partition-aware framework), as for a task never heard of.
        """
        self.start_master(MemoryRemovedSlaves(), max_age=200.0)
        slave, slave_id = self.add_slave()
        info = mesos_pb2.FrameworkInfo(user="alice", name="aware")
        info.capabilities.add(type=Capability.PARTITION_AWARE)
        scheduler = RecordingPeer(self.network, UPID("aware", "127.0.0.1", 0))
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(framework=info))
        self.turn()
        framework_id = scheduler.last(internal.FrameworkRegisteredMessage).framework_id.value
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info("t1", slave_id)], 0)
        # Five pings unanswered (the first within a timeout of registering).
        for _ in range(6):
            self.clock.advance(15)
            self.turn()
        self.assertIn(slave_id, self.registry.unreachable_ids)
        [framework] = self.master.state()["frameworks"]
        self.assertEqual([t["id"] for t in framework["unreachable_tasks"]], ["t1"])
        for _ in range(5):
            self.collect()
        self.assertEqual((self.registry.unreachable_ids, self.master.unreachable_slaves), ({}, {}))
        [framework] = self.master.state()["frameworks"]
        self.assertEqual(framework["unreachable_tasks"], [])
        scheduler.send(MASTER, internal.ReconcileTasksMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            statuses=[mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t1"),
                                           state=mesos_pb2.TASK_RUNNING,
                                           slave_id=mesos_pb2.SlaveID(value=slave_id))]))
        self.turn()
        status = scheduler.last(internal.StatusUpdateMessage).update.status
        self.assertEqual((status.task_id.value, status.state), ("t1", mesos_pb2.TASK_UNKNOWN))

    def test_failed_write_keeps_the_slave(self):
        """
        A slave whose removal from the registry fails stays unreachable in
        memory too; the next collection tries again.
        """
        registry = FailingPrune(unreachable={"s1": 0.0})
        registry.failing = True
        self.start_master(registry, max_count=0)
        self.collect()
        self.assertEqual(self.master.unreachable_slaves, {"s1": 0.0})
        registry.failing = False
        self.collect()
        self.assertEqual((registry.unreachable_ids, self.master.unreachable_slaves), ({}, {}))

    def test_marked_again_while_written(self):
        """
        A slave that came back and was found unreachable again while its
        removal was written stays in the master's table (with its new
        time): the registry writes the new mark after the removal.
        """
        registry = FailingPrune(unreachable={"s1": 0.0})
        registry.held, registry.holding = {}, True
        self.start_master(registry, max_count=0)
        self.collect()
        self.master.unreachable_slaves["s1"] = self.clock.seconds()
        registry.holding = False
        registry.held.pop("s1").callback(None)
        registry.mark_unreachable("s1", self.clock.seconds())
        self.turn()
        self.assertEqual(self.master.unreachable_slaves, {"s1": self.clock.seconds()})
        self.assertEqual(registry.unreachable_ids, {"s1": self.clock.seconds()})

    def test_stopped_term_collects_nothing(self):
        """
        A term that ended has no collection pending.
        """
        self.start_master(MemoryRemovedSlaves(unreachable={"s1": 0.0}), max_count=0)
        self.master.stop()
        self.collect()
        self.assertEqual(self.registry.unreachable_ids, {"s1": 0.0})
