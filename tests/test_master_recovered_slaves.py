"""
Tests for the registry of admitted slaves and C{--slave_reregister_timeout}
(after Mesos's C{MasterTest}s RecoveredSlaveReregisters,
UnreachableTaskAfterFailover, RecoveredSlaveCanReregister and
RecoveredSlaveReregisterThenUnreachableRace): a master records each slave
it admits before answering it; a newly elected master expects the slaves
the registry lists, and marks unreachable those that do not re-register
in time (they are admitted again if they come back).  Two masters take
turns on one in-memory registry, over an in-memory network, on a fake
clock.
"""

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master import _registrar
from mesos_tw.master.master import Master
from mesos_tw.master.registry import MemoryRemovedSlaves
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.master import MASTER, slave_info, task_info
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.registry import ScriptedRemovedSlaves

TIMEOUT = 600.0
Capability = mesos_pb2.FrameworkInfo.Capability


class FailoverTestCase(SynchronousTestCase):
    """
    A master on a shared registry that can fail over to a new one; a
    slave and a scheduler.
    """

    registry_class = MemoryRemovedSlaves
    #: More keyword arguments of each L{Master}.
    master_kwargs = {}

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.registry = self.registry_class()
        self.master = self.start_master()
        self.slave = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5051))
        self.scheduler = RecordingPeer(self.network, UPID("scheduler", "127.0.0.1", 6000))
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def start_master(self):
        """
        A master leading on the shared registry.
        """
        master = Master(self.clock, self.network.node(MASTER),
                        registry=self.registry, slave_reregister_timeout=TIMEOUT,
                        **self.master_kwargs)
        master.start()
        self.addCleanup(master.stop)
        return master

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def fail_over(self):
        """
        The leading master dies; a new one is elected on the same registry.
        """
        self.master.stop()
        self.network.crash(MASTER)
        self.turn()
        self.master = self.start_master()
        self.turn()

    def running_task(self, capabilities=()):
        """
        Register the slave and a framework, and launch t1 on the slave;
        its slave id and framework id.
        """
        self.slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        slave_id = self.slave.last(internal.SlaveRegisteredMessage).slave_id.value
        self.framework = mesos_pb2.FrameworkInfo(user="u", name="f", failover_timeout=3600)
        for capability in capabilities:
            self.framework.capabilities.add(type=capability)
        self.scheduler.send(MASTER, internal.RegisterFrameworkMessage(framework=self.framework))
        self.turn()
        framework_id = self.scheduler.last(internal.FrameworkRegisteredMessage).framework_id
        self.framework.id.CopyFrom(framework_id)
        offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=framework_id, offer_ids=[offer.id],
            tasks=[task_info("t1", slave_id)]))
        self.turn()
        return slave_id, framework_id.value

    def scheduler_fails_over(self):
        """
        The scheduler re-registers with the new master.
        """
        self.scheduler.send(MASTER, internal.ReregisterFrameworkMessage(
            framework=self.framework, failover=False))
        self.turn()

    def slave_reregisters(self, slave_id, tasks=("t1",)):
        """
        The slave re-registers with C{tasks} running.
        """
        message = internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id), slave=slave_info())
        for task_id in tasks:
            message.tasks.add(
                name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
                framework_id=self.framework.id, slave_id=mesos_pb2.SlaveID(value=slave_id),
                state=mesos_pb2.TASK_RUNNING)
        self.slave.send(MASTER, message)
        self.turn()

    def reconcile(self, slave_id):
        """
        The scheduler reconciles t1 (on C{slave_id}); the updates it got.
        """
        before = len(self.scheduler.of(internal.StatusUpdateMessage))
        self.scheduler.send(MASTER, internal.ReconcileTasksMessage(
            framework_id=self.framework.id, statuses=[mesos_pb2.TaskStatus(
                task_id=mesos_pb2.TaskID(value="t1"), state=mesos_pb2.TASK_RUNNING,
                slave_id=mesos_pb2.SlaveID(value=slave_id))]))
        self.turn()
        return [m.update.status for m in self.scheduler.of(internal.StatusUpdateMessage)[before:]]


class AdmissionTests(FailoverTestCase):
    """
    Each slave is recorded as admitted before it is answered.
    """

    def test_registration_admitted(self):
        """
        A registered slave is in the registry, with its info and its id.
        """
        self.slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        slave_id = self.slave.last(internal.SlaveRegisteredMessage).slave_id.value
        admitted = self.successResultOf(self.registry.load_admitted())
        self.assertEqual(list(admitted), [slave_id])
        self.assertEqual((admitted[slave_id].hostname, admitted[slave_id].id.value),
                         ("host1", slave_id))

    def test_unknown_reregistration_admitted(self):
        """
        A slave the registry does not list that re-registers (an earlier
        leader did not record it) is admitted too.
        """
        self.framework = mesos_pb2.FrameworkInfo(user="u", name="f")
        self.slave_reregisters("S-unlisted", tasks=())
        self.assertEqual(len(self.slave.of(internal.SlaveReregisteredMessage)), 1)
        self.assertEqual(list(self.successResultOf(self.registry.load_admitted())),
                         ["S-unlisted"])

    def test_removal_unadmits(self):
        """
        A removed slave is no longer listed as admitted.
        """
        slave_id, _ = self.running_task()
        self.slave.send(MASTER, internal.UnregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id)))
        self.turn()
        self.assertEqual(self.successResultOf(self.registry.load_admitted()), {})


class RecoveredSlaveTests(FailoverTestCase):
    """
    A new leader and the slaves the registry lists.
    """

    def test_recovered_slave_reregisters(self):
        """
        A listed slave that re-registers in time is kept, with its task,
        after the timeout (RecoveredSlaveReregisters); its re-registration
        is counted in the recovery's progress rather than logged alone.
        """
        slave_id, _ = self.running_task()
        self.fail_over()
        self.assertEqual(list(self.master.recovered_slaves), [slave_id])
        self.scheduler_fails_over()
        del self.events[:]
        self.slave_reregisters(slave_id)
        self.assertEqual(self.master.recovered_slaves, {})
        # Counted (a new leader gets thousands at once), not a line each.
        self.assertEqual(self.master.recovery_progress.back, 1)
        self.assertEqual([e for e in self.events
                          if "Registered slave" in e.get("log_format", "")], [])
        self.clock.advance(TIMEOUT)
        self.turn()
        self.assertIn(slave_id, self.master.slaves)
        self.assertEqual(self.master.task_state_name(self.framework.id.value, "t1"),
                         "TASK_RUNNING")
        self.assertEqual(self.scheduler.of(internal.LostSlaveMessage), [])
        self.assertEqual(self.slave.of(internal.ShutdownMessage), [])
        self.assertEqual(self.master.counters.counts["recovery_slave_removals"], 0)

    def test_repeated_reregistration_answered_again(self):
        """
        A re-registration repeated (the slave retried before our answer
        reached it) is answered again with the same answer, and not handled
        again: the task it omits, which the master knows, is asked about
        once (the first answer's reconciliation), not once per repeat.  A
        re-registration that differs is handled again.
        """
        slave_id, _ = self.running_task()
        self.fail_over()
        self.scheduler_fails_over()
        self.slave_reregisters(slave_id)
        self.slave_reregisters(slave_id, tasks=())
        self.slave_reregisters(slave_id, tasks=())
        answers = self.slave.of(internal.SlaveReregisteredMessage)
        self.assertEqual(len(answers), 3)
        self.assertEqual([len(answer.reconciliations) for answer in answers], [0, 1, 1])
        self.assertEqual(answers[1], answers[2])
        self.assertEqual(len([e for e in self.events if "unknown to slave" in
                              e.get("log_format", "")]), 1)
        self.assertEqual(self.master.recovery_progress.repeated, 1)
        self.slave_reregisters(slave_id)
        self.assertEqual(len(self.slave.of(internal.SlaveReregisteredMessage)[3].reconciliations),
                         0)
        self.assertEqual(self.master.task_state_name(self.framework.id.value, "t1"),
                         "TASK_RUNNING")

    def test_unreachable_task_after_failover(self):
        """
        A listed slave that does not re-register: until the timeout a
        reconciliation of its task gets no answer (it may bring it); then
        it is removed as unreachable: frameworks hear slaveLost, no update
        is sent unasked, and a reconciliation answers TASK_LOST
        (UnreachableTaskAfterFailover).
        """
        slave_id, _ = self.running_task()
        self.fail_over()
        self.scheduler_fails_over()
        self.assertEqual(self.reconcile(slave_id), [])
        self.clock.advance(TIMEOUT - 1)
        self.turn()
        self.assertEqual(self.scheduler.of(internal.LostSlaveMessage), [])
        self.clock.advance(1)
        self.turn()
        self.assertEqual([m.slave_id.value for m in self.scheduler.of(internal.LostSlaveMessage)],
                         [slave_id])
        self.assertEqual(self.scheduler.of(internal.StatusUpdateMessage), [])
        self.assertEqual([(s.state, s.reason) for s in self.reconcile(slave_id)],
                         [(mesos_pb2.TASK_LOST, mesos_pb2.TaskStatus.REASON_RECONCILIATION)])
        self.assertIn(slave_id, self.successResultOf(self.registry.unreachable()))
        self.assertEqual(self.successResultOf(self.registry.load_admitted()), {})
        counts = self.master.counters.counts
        self.assertEqual([counts[name] for name in (
            "recovery_slave_removals", "slave_removals", "slave_removals/reason_unhealthy",
            "slave_unreachable_scheduled", "slave_unreachable_completed")], [1, 1, 1, 1, 1])

    def test_partition_aware_framework_hears_unreachable(self):
        """
        For a partition-aware framework the task of such a slave is
        TASK_UNREACHABLE.
        """
        slave_id, _ = self.running_task(capabilities=[Capability.PARTITION_AWARE])
        self.fail_over()
        self.scheduler_fails_over()
        self.clock.advance(TIMEOUT)
        self.turn()
        self.assertEqual([s.state for s in self.reconcile(slave_id)],
                         [mesos_pb2.TASK_UNREACHABLE])

    def test_recovered_slave_can_reregister(self):
        """
        The slave coming back after it was marked unreachable is admitted
        again with its task, and the framework hears the task's state
        again (RecoveredSlaveCanReregister).
        """
        slave_id, _ = self.running_task()
        self.fail_over()
        self.scheduler_fails_over()
        self.clock.advance(TIMEOUT)
        self.turn()
        self.slave_reregisters(slave_id)
        self.assertEqual(self.slave.of(internal.ShutdownMessage), [])
        self.assertEqual(len(self.slave.of(internal.SlaveReregisteredMessage)), 1)
        self.assertIn(slave_id, self.master.slaves)
        (status,) = [m.update.status for m in self.scheduler.of(internal.StatusUpdateMessage)]
        self.assertEqual((status.task_id.value, status.state, status.reason),
                         ("t1", mesos_pb2.TASK_RUNNING,
                          mesos_pb2.TaskStatus.REASON_SLAVE_REREGISTERED))
        self.assertEqual(self.successResultOf(self.registry.unreachable()), {})

    def test_next_leader_does_not_expect_it_again(self):
        """
        A third leader neither expects the removed slave nor, when it
        comes back, admits it.
        """
        slave_id, _ = self.running_task()
        self.fail_over()
        self.clock.advance(TIMEOUT)
        self.turn()
        self.fail_over()
        self.assertEqual(self.master.recovered_slaves, {})


class RecordingHold:
    """
    A stand-in for L{mesos_tw.collector.RecoveryHold} that records its
    calls.
    """

    def __init__(self):
        self.calls = []

    def hold(self):
        """
        Record a hold.
        """
        self.calls.append("hold")

    def release(self):
        """
        Record a release.
        """
        self.calls.append("release")


class CollectorHoldTests(FailoverTestCase):
    """
    A new leader given a collector hold holds it from the registry's read
    until every slave the registry lists is back.
    """

    def setUp(self):
        self.hold = RecordingHold()
        self.master_kwargs = {"collector_hold": self.hold}
        FailoverTestCase.setUp(self)

    def test_held_while_slaves_come_back(self):
        """
        Nothing is held by the first leader (the registry lists no slave);
        the next holds when it has read the registry and releases when the
        slave is back.
        """
        slave_id, _ = self.running_task()
        self.assertEqual(self.hold.calls, [])
        self.fail_over()
        self.assertEqual(self.hold.calls, ["hold"])
        self.scheduler_fails_over()
        self.slave_reregisters(slave_id)
        self.assertEqual(self.hold.calls, ["hold", "release"])

    def test_released_when_last_slave_marked_gone(self):
        """
        The last expected slave marked gone by an operator before it comes
        back accounts for every one: the hold is released then.
        """
        slave_id, _ = self.running_task()
        self.fail_over()
        self.master.draining.mark_gone(slave_id)
        self.turn()
        self.assertEqual(self.hold.calls, ["hold", "release"])

    def test_released_when_the_term_ends(self):
        """
        A leader that stops before every expected slave is back releases
        the hold, once.
        """
        self.running_task()
        self.fail_over()
        self.master.stop()
        self.turn()
        self.master.stop()
        self.assertEqual(self.hold.calls, ["hold", "release"])


class ScriptedFailoverTestCase(FailoverTestCase):
    """
    The same, on a registry whose writes the test settles.
    """

    registry_class = ScriptedRemovedSlaves

    def start_master(self):
        """
        A master that has read the registry.
        """
        master = FailoverTestCase.start_master(self)
        self.registry.finish_load()
        return master


class AdmissionWriteTests(ScriptedFailoverTestCase):
    """
    A slave is answered only once its admission is durable.
    """

    def test_answered_once_written(self):
        """
        No answer while the admission is written; a registration sent again
        meanwhile is ignored; one answer, with one id, once it is written.
        """
        self.registry.held_admissions = []
        self.slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        self.slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        self.assertEqual(self.slave.of(internal.SlaveRegisteredMessage), [])
        self.assertEqual(len(self.registry.held_admissions), 1)
        self.registry.held_admissions.pop()[1].callback(None)
        self.turn()
        self.assertEqual(len(self.slave.of(internal.SlaveRegisteredMessage)), 1)
        self.assertEqual(len(self.master.slaves), 1)

    def test_failed_write_not_answered(self):
        """
        An admission that cannot be written leaves the slave unanswered,
        with the error logged; its next registration is admitted.
        """
        self.registry.held_admissions = []
        self.slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        self.registry.held_admissions.pop()[1].errback(RuntimeError("ZooKeeper is away"))
        self.turn()
        self.assertEqual(self.slave.of(internal.SlaveRegisteredMessage), [])
        self.assertEqual(self.master.slaves, {})
        logged = [e for e in self.events
                  if "Cannot record the admission" in e.get("log_format", "")]
        self.assertEqual(len(logged), 1)
        self.assertIn("ZooKeeper is away", logged[0]["error"])
        self.registry.held_admissions = None
        self.slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        self.assertEqual(len(self.slave.of(internal.SlaveRegisteredMessage)), 1)

    def test_lost_answer_keeps_the_id(self):
        """
        An admission whose answer was lost may have been stored all the
        same (ZooKeeper's connection dropped after the write reached it):
        the slave's next registration is given the same id, so the
        registry does not list a slave that never existed for every later
        leader to wait for.
        """
        self.registry.held_admissions = []
        self.slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        info, d = self.registry.held_admissions.pop()
        self.registry.admitted[info.id.value] = info
        d.errback(RuntimeError("ConnectionLoss"))
        self.turn()
        self.registry.held_admissions = None
        self.slave.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        [answer] = self.slave.of(internal.SlaveRegisteredMessage)
        self.assertEqual(answer.slave_id.value, info.id.value)
        self.assertEqual(list(self.successResultOf(self.registry.load_admitted())),
                         [info.id.value])
        self.assertEqual(self.master._unsettled_admissions, {})

    def test_kept_ids_bounded(self):
        """
        The ids kept for senders whose admission failed are bounded: the
        oldest sender's is forgotten first.
        """
        self.registry.held_admissions = []
        senders = [RecordingPeer(self.network, UPID(f"slave({n})", "127.0.0.2", 5051))
                   for n in range(3)]
        self.patch(_registrar, "MAX_UNSETTLED_ADMISSIONS", 2)
        for sender in senders:
            sender.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
            self.turn()
            self.registry.held_admissions.pop()[1].errback(RuntimeError("ZooKeeper is away"))
            self.turn()
        self.assertEqual(sorted(str(pid) for pid in self.master._unsettled_admissions),
                         [str(senders[1].upid), str(senders[2].upid)])

    def test_failed_reregistration_keeps_nothing(self):
        """
        Only a new slave's id is kept: a re-registering slave has its own.
        """
        slave_id, _ = self.running_task()
        self.fail_over()
        self.registry.held_admissions = []
        self.slave_reregisters("unknown-S9", tasks=())
        self.registry.held_admissions.pop()[1].errback(RuntimeError("ZooKeeper is away"))
        self.turn()
        self.assertEqual(self.master._unsettled_admissions, {})


class HeldMarks(MemoryRemovedSlaves):
    """
    A registry in memory whose unreachable marks wait for the test.

    @ivar held: C{(slave_id, when, Deferred)} of the marks not written yet.
    """

    def __init__(self):
        MemoryRemovedSlaves.__init__(self)
        self.held = []

    def mark_unreachable(self, slave_id, when):
        """
        Held until L{write} is called.
        """
        d = Deferred()
        self.held.append((slave_id, when, d))
        return d

    def write(self):
        """
        Write the oldest held mark.
        """
        slave_id, when, d = self.held.pop(0)
        MemoryRemovedSlaves.mark_unreachable(self, slave_id, when)
        d.callback(None)


class MarkRaceTests(FailoverTestCase):
    """
    RecoveredSlaveReregisterThenUnreachableRace.
    """

    registry_class = HeldMarks

    def test_reregistration_while_mark_is_written(self):
        """
        A listed slave that re-registers while its unreachable mark (at the
        timeout) is being written waits for it: the frameworks hear
        slaveLost once it is written, then the slave is admitted again and
        its task's state is sent again.
        """
        slave_id, _ = self.running_task()
        self.fail_over()
        self.scheduler_fails_over()
        self.clock.advance(TIMEOUT)
        self.turn()
        self.assertEqual([held[0] for held in self.registry.held], [slave_id])
        self.slave_reregisters(slave_id)
        self.assertEqual(self.slave.of(internal.SlaveReregisteredMessage), [])
        self.assertEqual(self.scheduler.of(internal.LostSlaveMessage), [])
        self.registry.write()
        self.turn()
        self.assertEqual(len(self.scheduler.of(internal.LostSlaveMessage)), 1)
        self.assertEqual(len(self.slave.of(internal.SlaveReregisteredMessage)), 1)
        self.assertEqual(self.slave.of(internal.ShutdownMessage), [])
        self.assertEqual([m.update.status.state
                          for m in self.scheduler.of(internal.StatusUpdateMessage)],
                         [mesos_pb2.TASK_RUNNING])


class RemovalLimitTests(FailoverTestCase):
    """
    C{--recovery_agent_removal_limit} (after Mesos's
    C{MasterTest.RecoveredSlaveRemovalLimit}s): when more of the listed
    slaves than the limit are missing at the timeout, none is marked
    unreachable and the master gives up leading.
    """

    def setUp(self):
        self.limits_exceeded = []
        self.master_kwargs = {"recovery_removal_limit": 0.5,
                              "on_removal_limit": self.limits_exceeded.append}
        super().setUp()

    def listed_slaves(self, count):
        """
        The registry lists C{count} admitted slaves, S0...; the master
        fails over.
        """
        for index in range(count):
            info = slave_info()
            info.id.value = f"S{index}"
            self.registry.admit(info)
        self.fail_over()
        self.framework = mesos_pb2.FrameworkInfo(user="u", name="f")

    def test_limit_exceeded(self):
        """
        Two of three listed slaves missing (67% > 50%): none is marked
        unreachable, in memory or in the registry, and the master's
        C{on_removal_limit} is called with a reason naming the limit and
        the missing slaves.
        """
        self.listed_slaves(3)
        self.slave_reregisters("S0", tasks=())
        self.clock.advance(TIMEOUT)
        self.turn()
        [reason] = self.limits_exceeded
        self.assertIn("the configured removal limit is 50%", reason)
        self.assertIn("2 (66.6667%) slaves", reason)
        self.assertIn("S1, S2", reason)
        self.assertEqual(self.master.unreachable_slaves, {})
        self.assertEqual(self.successResultOf(self.registry.unreachable()), {})
        self.assertEqual(self.master.counters.counts["recovery_slave_removals"], 0)

    def test_limit_reached_not_exceeded(self):
        """
        One of two listed slaves missing (50%, the limit): it is marked
        unreachable as usual.
        """
        self.listed_slaves(2)
        self.slave_reregisters("S0", tasks=())
        self.clock.advance(TIMEOUT)
        self.turn()
        self.assertEqual(self.limits_exceeded, [])
        self.assertEqual(list(self.successResultOf(self.registry.unreachable())), ["S1"])

    def test_without_handler_the_term_stops(self):
        """
        A master given no C{on_removal_limit} stops leading (its term ends)
        rather than mark the slaves unreachable.
        """
        self.master_kwargs = {"recovery_removal_limit": 0.0}
        self.listed_slaves(1)
        self.clock.advance(TIMEOUT)
        self.turn()
        self.assertTrue(self.master._stopped)
        self.assertEqual(self.successResultOf(self.registry.unreachable()), {})
