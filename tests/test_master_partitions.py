"""
Tests for partition awareness in the master (L{mesos_tw.master._partitions}),
after Mesos's PartitionTest: what frameworks with and without the
C{PARTITION_AWARE} capability hear when a slave stops answering, comes back,
or is removed, and what reconciliation answers.  Driven over an in-memory
network on a fake clock.
"""

from twisted.logger import globalLogPublisher

from mesos_tw.master.master import Master
from mesos_tw.master.metrics import metrics_snapshot
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.master import MASTER, MasterTestCase, slave_info, task_info
from mesos_tw.testing.registry import ScriptedRemovedSlaves
from mesos_tw.web.v1 import CallError

Capability = mesos_pb2.FrameworkInfo.Capability
Reason = mesos_pb2.TaskStatus


class PartitionTests(MasterTestCase):
    """
    Unreachable slaves, their tasks, and their return.
    """

    def setUp(self):
        super().setUp()
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def logged(self, fragment):
        """
        The log events whose format contains C{fragment}.
        """
        return [event for event in self.events if fragment in event.get("log_format", "")]

    def start_master(self, registry):
        """
        A new leader at the master's address, reading C{registry}.
        """
        self.master = Master(self.clock, self.network.node(MASTER),
                             registry=registry)
        self.master.start()
        self.addCleanup(self.master.stop)
        self.turn()

    def add_framework(self, name="scheduler-1", aware=True, failover_timeout=0.0):
        """
        Register a recording scheduler, partition-aware unless told; its
        peer and framework id.
        """
        info = mesos_pb2.FrameworkInfo(user="alice", name=name,
                                       failover_timeout=failover_timeout)
        if aware:
            info.capabilities.add(type=Capability.PARTITION_AWARE)
        scheduler = RecordingPeer(self.network, UPID(name, "127.0.0.1", 0))
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(framework=info))
        self.turn()
        return scheduler, scheduler.last(internal.FrameworkRegisteredMessage).framework_id.value

    def run_task(self, scheduler, framework_id, slave, slave_id, task_id):
        """
        Launch C{task_id} on the slave and have the slave report it running.
        """
        offer = [o for o in scheduler.last(internal.ResourceOffersMessage).offers
                 if o.slave_id.value == slave_id][0]
        self.launch(scheduler, framework_id, offer, [task_info(task_id, slave_id)], 0)
        update = internal.StatusUpdate(
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            slave_id=mesos_pb2.SlaveID(value=slave_id), timestamp=1.0, uuid=b"u" + task_id.encode(),
            status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id),
                                        state=mesos_pb2.TASK_RUNNING))
        slave.send(MASTER, internal.StatusUpdateMessage(update=update, pid=str(slave.upid)))
        self.turn()

    def two_frameworks_tasks(self):
        """
        A slave running task C{a1} of a partition-aware framework and
        C{o1} of one without the capability: C{(slave, slave_id, aware,
        aware_id, other, other_id)}.
        """
        slave, slave_id = self.add_slave()
        aware, aware_id = self.add_framework("aware")
        other, other_id = self.add_framework("other", aware=False)
        self.run_task(aware, aware_id, slave, slave_id, "a1")
        self.run_task(other, other_id, slave, slave_id, "o1")
        return slave, slave_id, aware, aware_id, other, other_id

    def fail_over(self):
        """
        The master dies and a new leader starts at its address, reading
        its registry; returns the registry.
        """
        registry = self.master.registry
        self.master.stop()
        self.network.crash(MASTER)
        self.turn()
        self.start_master(registry=registry)
        return registry

    def partition(self):
        """
        The slave stops answering pings: five go unanswered (its first
        ping comes within a timeout of its registration).
        """
        for _ in range(6):
            self.clock.advance(15)
            self.turn()

    def last_status(self, scheduler):
        return scheduler.last(internal.StatusUpdateMessage).update.status

    def test_partitioned_slave(self):
        """
        PartitionedSlave: a partition-aware framework hears TASK_UNREACHABLE
        (REASON_SLAVE_REMOVED) and slaveLost; the state lists the task as
        unreachable, not running nor completed, and the slave as
        unreachable.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        self.run_task(scheduler, framework_id, slave, slave_id, "t1")
        self.partition()
        status = self.last_status(scheduler)
        self.assertEqual((status.state, status.reason, status.slave_id.value),
                         (mesos_pb2.TASK_UNREACHABLE, Reason.REASON_SLAVE_REMOVED, slave_id))
        self.assertEqual(scheduler.last(internal.LostSlaveMessage).slave_id.value, slave_id)
        state = self.master.state()
        self.assertEqual((state["activated_slaves"], state["unreachable_slaves"]), (0, 1))
        [framework] = state["frameworks"]
        self.assertEqual((framework["tasks"], framework["completed_tasks"]), ([], []))
        self.assertEqual([(t["id"], t["state"]) for t in framework["unreachable_tasks"]],
                         [("t1", "TASK_UNREACHABLE")])
        self.assertEqual(framework["used_resources"], {})
        self.assertEqual(framework["capabilities"], [{"type": "PARTITION_AWARE"}])
        self.assertEqual(self.master.stats["lost_tasks"], 0)
        metrics = metrics_snapshot(self.master)
        self.assertEqual([metrics[f"master/{name}"] for name in (
            "slave_unreachable_scheduled", "slave_unreachable_completed", "slaves_unreachable",
            "slave_removals", "slave_removals/reason_unhealthy")], [1, 1, 1, 1, 1])

    def test_not_partition_aware_gets_lost(self):
        """
        A framework without the capability hears TASK_LOST, as before.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework(aware=False)
        self.run_task(scheduler, framework_id, slave, slave_id, "t1")
        self.partition()
        self.assertEqual(self.last_status(scheduler).state, mesos_pb2.TASK_LOST)
        [framework] = self.master.state()["frameworks"]
        self.assertEqual(framework["unreachable_tasks"], [])
        self.assertEqual([t["state"] for t in framework["completed_tasks"]], ["TASK_LOST"])

    def reregister(self, slave, slave_id, task_ids_by_framework, resources="cpus:2;mem:1024"):
        """
        The slave re-registers (offering C{resources}), reporting its tasks
        running.
        """
        tasks = [internal.Task(
            name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            slave_id=mesos_pb2.SlaveID(value=slave_id), state=mesos_pb2.TASK_RUNNING,
            resources=task_info(task_id, slave_id).resources)
            for framework_id, task_ids in task_ids_by_framework.items() for task_id in task_ids]
        slave.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id), slave=slave_info(resources),
            tasks=tasks))
        self.turn()

    def test_reregister_slave_partition_aware(self):
        """
        ReregisterSlavePartitionAware: the partitioned slave is not told to
        shut down; when it re-registers it is admitted again, the
        partition-aware framework hears its task TASK_RUNNING with
        REASON_SLAVE_REREGISTERED, and the state lists the task as running,
        neither unreachable nor completed.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        self.run_task(scheduler, framework_id, slave, slave_id, "t1")
        self.partition()
        status = self.last_status(scheduler)
        self.assertEqual(status.state, mesos_pb2.TASK_UNREACHABLE)
        self.assertEqual(status.unreachable_time.nanoseconds, int(self.clock.seconds() * 1e9))
        self.assertEqual(slave.of(internal.ShutdownMessage), [])
        self.assertEqual(self.master.registry.unreachable_ids, {slave_id: self.clock.seconds()})
        self.reregister(slave, slave_id, {framework_id: ["t1"]})
        self.assertEqual(slave.last(internal.SlaveReregisteredMessage).slave_id.value, slave_id)
        status = self.last_status(scheduler)
        self.assertEqual((status.state, status.reason, status.message, status.slave_id.value),
                         (mesos_pb2.TASK_RUNNING, Reason.REASON_SLAVE_REREGISTERED,
                          "Unreachable agent re-reregistered", slave_id))
        state = self.master.state()
        self.assertEqual((state["activated_slaves"], state["unreachable_slaves"]), (1, 0))
        [framework] = state["frameworks"]
        self.assertEqual([(t["id"], t["state"]) for t in framework["tasks"]],
                         [("t1", "TASK_RUNNING")])
        self.assertEqual((framework["unreachable_tasks"], framework["completed_tasks"]), ([], []))
        self.assertEqual(self.master.registry.unreachable_ids, {})
        self.assertEqual(metrics_snapshot(self.master)["master/slaves_unreachable"], 0)

    def test_readmitted_with_an_update_in_flight(self):
        """
        A task that ended while its slave was unreachable comes back with
        its ending update still unacknowledged (the slave reports it with
        C{status_update_state}, and will send that update again): the
        master does not tell the framework of it as well, so the framework
        hears TASK_FINISHED once, from the slave (simulator seeds 1000,
        1001 and 10035).
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        self.run_task(scheduler, framework_id, slave, slave_id, "t1")
        self.partition()
        heard = len(scheduler.of(internal.StatusUpdateMessage))
        task = internal.Task(
            name="t1", task_id=mesos_pb2.TaskID(value="t1"),
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            slave_id=mesos_pb2.SlaveID(value=slave_id), state=mesos_pb2.TASK_FINISHED,
            resources=task_info("t1", slave_id).resources,
            status_update_state=mesos_pb2.TASK_FINISHED, status_update_uuid=b"finished")
        slave.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id), slave=slave_info(), tasks=[task]))
        self.turn()
        self.assertEqual(slave.last(internal.SlaveReregisteredMessage).slave_id.value, slave_id)
        self.assertEqual(len(scheduler.of(internal.StatusUpdateMessage)), heard)

    def test_reregister_slave_not_partition_aware(self):
        """
        ReregisterSlaveNotPartitionAware (Mesos 1.5 and later): a framework
        without the capability heard TASK_LOST; when the slave comes back
        its task is not killed, the framework hears TASK_RUNNING again, and
        the task leaves the completed tasks for the running ones.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework(aware=False)
        self.run_task(scheduler, framework_id, slave, slave_id, "t1")
        self.partition()
        status = self.last_status(scheduler)
        self.assertEqual((status.state, status.reason),
                         (mesos_pb2.TASK_LOST, Reason.REASON_SLAVE_REMOVED))
        self.assertEqual(status.unreachable_time.nanoseconds, int(self.clock.seconds() * 1e9))
        self.assertEqual(scheduler.last(internal.LostSlaveMessage).slave_id.value, slave_id)
        self.reregister(slave, slave_id, {framework_id: ["t1"]})
        self.assertEqual(slave.of(internal.ShutdownMessage), [])
        self.assertEqual(slave.of(internal.KillTaskMessage), [])
        status = self.last_status(scheduler)
        self.assertEqual((status.state, status.reason),
                         (mesos_pb2.TASK_RUNNING, Reason.REASON_SLAVE_REREGISTERED))
        [framework] = self.master.state()["frameworks"]
        self.assertEqual([(t["id"], t["state"]) for t in framework["tasks"]],
                         [("t1", "TASK_RUNNING")])
        self.assertEqual((framework["unreachable_tasks"], framework["completed_tasks"]), ([], []))
        # Nothing is kept to tell it again if the slave is marked gone.
        self.assertEqual(self.master.unreachable_lost, {})

    def test_readmitted_slave_offered_with_its_tasks_held(self):
        """
        A re-admitted slave is offered again, less what its tasks hold; a
        task of a framework that is not connected is re-added without an
        update (it learns by reconciling), and one the slave no longer
        reports leaves the unreachable tasks.
        """
        slave, slave_id = self.add_slave(resources="cpus:4;mem:1024")
        aware, aware_id = self.add_framework("aware")
        other, other_id = self.add_framework("other", failover_timeout=3600)
        self.run_task(aware, aware_id, slave, slave_id, "a1")
        self.run_task(other, other_id, slave, slave_id, "o1")
        self.partition()
        self.network.crash(other.upid)
        self.turn()
        other.received.clear()
        offers = len(aware.of(internal.ResourceOffersMessage))
        self.reregister(slave, slave_id, {aware_id: ["a1"], other_id: ["o1"]},
                        "cpus:4;mem:1024")
        self.assertEqual(other.received, [])
        self.assertEqual(len(self.logged("Not telling framework")), 1)
        self.assertIn("o1", self.master.frameworks[other_id].tasks)
        self.assertEqual(self.master.frameworks[other_id].unreachable_tasks, {})
        self.clock.advance(1)
        self.turn()
        self.assertEqual(len(aware.of(internal.ResourceOffersMessage)), offers + 1)
        [offer] = aware.last(internal.ResourceOffersMessage).offers
        self.assertEqual([r.scalar.value for r in offer.resources if r.name == "cpus"], [2.0])

    def test_reregister_after_failover(self):
        """
        PartitionedSlaveReregistrationMasterFailover: a slave found
        unreachable by one leader re-registers with the next, which read
        it from the registry: it is re-admitted and both frameworks (aware
        or not) hear their tasks TASK_RUNNING again.
        """
        slave, slave_id, aware, aware_id, other, other_id = self.two_frameworks_tasks()
        self.partition()
        registry = self.fail_over()
        self.assertEqual(list(self.master.unreachable_slaves), [slave_id])
        for scheduler, framework_id, name in ((aware, aware_id, "aware"),
                                              (other, other_id, "other")):
            info = mesos_pb2.FrameworkInfo(
                user="alice", name=name, id=mesos_pb2.FrameworkID(value=framework_id))
            if name == "aware":
                info.capabilities.add(type=Capability.PARTITION_AWARE)
            scheduler.send(MASTER, internal.ReregisterFrameworkMessage(framework=info))
        self.turn()
        self.reregister(slave, slave_id, {aware_id: ["a1"], other_id: ["o1"]})
        for scheduler in (aware, other):
            status = self.last_status(scheduler)
            self.assertEqual((status.state, status.reason),
                             (mesos_pb2.TASK_RUNNING, Reason.REASON_SLAVE_REREGISTERED))
        self.assertEqual(self.master.unreachable_slaves, {})
        self.assertEqual(registry.unreachable_ids, {})

    def test_reconcile_unreachable_and_unknown(self):
        """
        Reconciliation for a partition-aware framework: its unreachable task
        is TASK_UNREACHABLE; an unknown task on a registered slave is
        TASK_GONE, on an unreachable one TASK_UNREACHABLE, elsewhere
        TASK_UNKNOWN.  Without the capability each is TASK_LOST.
        """
        slave, slave_id = self.add_slave()
        other_slave, other_slave_id = self.add_slave("slave(2)", 5052)
        aware, aware_id = self.add_framework("aware")
        other, other_id = self.add_framework("other", aware=False)
        self.run_task(aware, aware_id, slave, slave_id, "t1")
        for _ in range(6):
            self.clock.advance(15)
            self.turn()
            other_slave.send(MASTER, internal.PongSlaveMessage())
            self.turn()
        asked = [("t1", ""), ("ghost", slave_id), ("gone", other_slave_id), ("nowhere", "S?")]
        for scheduler, framework_id in ((aware, aware_id), (other, other_id)):
            scheduler.received.clear()
            scheduler.send(MASTER, internal.ReconcileTasksMessage(
                framework_id=mesos_pb2.FrameworkID(value=framework_id),
                statuses=[mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id),
                                               slave_id=mesos_pb2.SlaveID(value=slave),
                                               state=mesos_pb2.TASK_RUNNING)
                          for task_id, slave in asked]))
            self.turn()
        self.assertEqual(self.updates(aware), [
            ("t1", mesos_pb2.TASK_UNREACHABLE), ("ghost", mesos_pb2.TASK_UNREACHABLE),
            ("gone", mesos_pb2.TASK_GONE), ("nowhere", mesos_pb2.TASK_UNKNOWN)])
        self.assertEqual(self.updates(other), [
            ("t1", mesos_pb2.TASK_LOST), ("ghost", mesos_pb2.TASK_LOST),
            ("gone", mesos_pb2.TASK_LOST), ("nowhere", mesos_pb2.TASK_LOST)])

    def test_removed_slave_tasks_lost(self):
        """
        A slave removed because it unregistered has its tasks TASK_LOST
        (REASON_SLAVE_REMOVED) for every framework, as Mesos's
        C{__removeSlave}.
        """
        slave, slave_id, aware, aware_id, other, other_id = self.two_frameworks_tasks()
        slave.send(MASTER, internal.UnregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id)))
        self.turn()
        for scheduler in (aware, other):
            status = self.last_status(scheduler)
            self.assertEqual((status.state, status.reason),
                             (mesos_pb2.TASK_LOST, Reason.REASON_SLAVE_REMOVED))

    def test_marked_gone(self):
        """
        A slave an operator marks gone (MARK_AGENT_GONE): a partition-aware
        framework hears TASK_GONE_BY_OPERATOR
        (REASON_SLAVE_REMOVED_BY_OPERATOR), one without the capability
        TASK_LOST (REASON_SLAVE_REMOVED), as in Mesos.
        """
        slave, slave_id, aware, aware_id, other, other_id = self.two_frameworks_tasks()
        self.master.draining.mark_gone(slave_id)
        self.turn()
        status = self.last_status(aware)
        self.assertEqual((status.state, status.reason),
                         (mesos_pb2.TASK_GONE_BY_OPERATOR,
                          Reason.REASON_SLAVE_REMOVED_BY_OPERATOR))
        status = self.last_status(other)
        self.assertEqual((status.state, status.reason),
                         (mesos_pb2.TASK_LOST, Reason.REASON_SLAVE_REMOVED))
        self.assertIn("marked it gone", slave.last(internal.ShutdownMessage).message)

    def test_unreachable_slave_marked_gone(self):
        """
        An unreachable slave marked gone (Mesos's markGone for an agent
        not registered): it is recorded as removed, no longer unreachable;
        a partition-aware framework hears TASK_GONE_BY_OPERATOR for the
        task it heard TASK_UNREACHABLE for, one without the capability
        TASK_LOST again, now without an unreachable_time; no second
        slaveLost.  When the slave comes back it is told to shut down and
        nobody hears of its tasks again.
        """
        slave, slave_id, aware, aware_id, other, other_id = self.two_frameworks_tasks()
        self.partition()
        heard = {scheduler: len(scheduler.received) for scheduler in (aware, other)}
        self.master.draining.mark_gone(slave_id)
        self.turn()
        status = self.last_status(aware)
        self.assertEqual((status.task_id.value, status.state, status.reason),
                         ("a1", mesos_pb2.TASK_GONE_BY_OPERATOR,
                          Reason.REASON_SLAVE_REMOVED_BY_OPERATOR))
        status = self.last_status(other)
        self.assertEqual((status.task_id.value, status.state, status.reason,
                          status.HasField("unreachable_time")),
                         ("o1", mesos_pb2.TASK_LOST, Reason.REASON_SLAVE_REMOVED, False))
        for scheduler in (aware, other):
            self.assertEqual(len(scheduler.received), heard[scheduler] + 1)
        self.assertEqual(self.master.unreachable_slaves, {})
        self.assertEqual(self.master.unreachable_lost, {})
        self.assertEqual(self.master.registry.unreachable_ids, {})
        self.assertEqual(self.master.registry.ids, {slave_id})
        framework = [f for f in self.master.state()["frameworks"] if f["id"] == aware_id][0]
        self.assertEqual(framework["unreachable_tasks"], [])
        self.assertEqual([(t["id"], t["state"]) for t in framework["completed_tasks"]],
                         [("a1", "TASK_GONE_BY_OPERATOR")])
        heard = {scheduler: len(scheduler.received) for scheduler in (aware, other)}
        self.reregister(slave, slave_id, {aware_id: ["a1"], other_id: ["o1"]})
        self.assertEqual(len(slave.of(internal.ShutdownMessage)), 1)
        self.assertEqual(slave.of(internal.SlaveReregisteredMessage), [])
        for scheduler in (aware, other):
            self.assertEqual(len(scheduler.received), heard[scheduler])

    def scripted_registry(self):
        """
        The master fails over to a new leader whose registry's writes the
        test settles (L{ScriptedRemovedSlaves}); returns the registry.
        """
        registry = ScriptedRemovedSlaves()
        self.master.stop()
        self.network.crash(MASTER)
        self.turn()
        self.start_master(registry)
        registry.finish_load()
        self.turn()
        return registry

    def test_marked_gone_while_readmission_written(self):
        """
        An unreachable slave marked gone while its re-admission is being
        written (Mesos's _reregisterSlave checks for a slave being marked
        gone, or gone, after that write): it is neither admitted nor
        answered, and once its removal is recorded it is told to shut down;
        its framework hears its task gone once.  Marking it gone again
        meanwhile is refused, naming it.
        """
        registry = self.scripted_registry()
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        self.run_task(scheduler, framework_id, slave, slave_id, "t1")
        self.partition()
        registry.held_admissions = []
        self.reregister(slave, slave_id, {framework_id: ["t1"]})
        self.assertEqual(len(registry.held_admissions), 1)
        self.master.draining.mark_gone(slave_id)
        self.turn()
        error = self.assertRaises(CallError, self.master.draining.mark_gone, slave_id)
        self.assertIn(slave_id, str(error))
        registry.held_admissions.pop()[1].callback(None)
        self.turn()
        self.assertNotIn(slave_id, self.master.slaves)
        self.assertEqual(slave.of(internal.SlaveReregisteredMessage), [])
        registry.finish_add()
        self.turn()
        self.assertNotIn(slave_id, self.master.slaves)
        self.assertEqual(slave.of(internal.SlaveReregisteredMessage), [])
        self.assertEqual(len(slave.of(internal.ShutdownMessage)), 1)
        states = [message.update.status.state
                  for message in scheduler.of(internal.StatusUpdateMessage)
                  if message.update.status.task_id.value == "t1"]
        self.assertEqual(states, [mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_UNREACHABLE,
                                  mesos_pb2.TASK_GONE_BY_OPERATOR])

    def test_recovered_slave_marked_gone(self):
        """
        A slave an earlier leader admitted, marked gone before it
        re-registers with the new leader (Mesos's markGone for a recovered
        agent): it is recorded as removed and no longer expected, and told
        to shut down when it re-registers.
        """
        slave, slave_id = self.add_slave()
        registry = self.fail_over()
        self.assertEqual(list(self.master.recovered_slaves), [slave_id])
        self.master.draining.mark_gone(slave_id)
        self.turn()
        self.assertEqual((self.master.recovered_slaves, registry.ids), ({}, {slave_id}))
        # Accounted for in the recovery's count: every expected slave is.
        self.assertEqual((self.master.recovery_progress.back,
                          self.master.recovery_progress.gone), (0, 1))
        self.reregister(slave, slave_id, {})
        self.assertEqual(len(slave.of(internal.ShutdownMessage)), 1)
        self.assertEqual(slave.of(internal.SlaveReregisteredMessage), [])

    def test_mark_gone_twice_or_unknown(self):
        """
        Marking a slave gone again changes nothing; marking one the master
        never heard of is an error naming it.
        """
        slave, slave_id = self.add_slave()
        self.master.draining.mark_gone(slave_id)
        self.turn()
        self.master.draining.mark_gone(slave_id)
        self.turn()
        self.assertEqual(len(slave.of(internal.ShutdownMessage)), 1)
        error = self.assertRaises(CallError, self.master.draining.mark_gone, "S-nobody")
        self.assertIn("S-nobody", str(error))

    def test_launch_with_invalid_offer_dropped(self):
        """
        A launch on an offer that is no longer valid: TASK_DROPPED for a
        partition-aware framework, TASK_LOST for others.
        """
        _, slave_id = self.add_slave()
        for name, aware, expected in (("aware", True, mesos_pb2.TASK_DROPPED),
                                      ("other", False, mesos_pb2.TASK_LOST)):
            scheduler, framework_id = self.add_framework(name, aware)
            offer = mesos_pb2.Offer(id=mesos_pb2.OfferID(value="no-such-offer"),
                                    framework_id=mesos_pb2.FrameworkID(value=framework_id),
                                    slave_id=mesos_pb2.SlaveID(value=slave_id), hostname="h")
            self.launch(scheduler, framework_id, offer, [task_info("t", slave_id)])
            self.assertEqual(self.updates(scheduler), [("t", expected)])

    def test_kill_unknown_task(self):
        """
        Killing a task the master does not know: TASK_UNKNOWN for a
        partition-aware framework (TASK_LOST otherwise, tests.test_master).
        """
        scheduler, framework_id = self.add_framework()
        scheduler.send(MASTER, internal.KillTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            task_id=mesos_pb2.TaskID(value="ghost")))
        self.turn()
        status = self.last_status(scheduler)
        self.assertEqual((status.state, status.reason),
                         (mesos_pb2.TASK_UNKNOWN, Reason.REASON_TASK_UNKNOWN))
        self.assertEqual(status.message, "Cannot kill task ghost: task is unknown to the master")
