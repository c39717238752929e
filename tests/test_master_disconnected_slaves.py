"""
Tests for the master's disconnected slaves: a slave whose connection closes
is kept with its tasks until it re-registers (and is then reconciled) or
its health checks fail.  Mesos's C{MasterTest}/C{SlaveRecoveryTest} cases
this follows are named where one matches.
"""

from mesos_tw.master.observer import SLOTS
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.testing.peers import RecordingPeer

from mesos_tw.testing.master import MASTER, MasterTestCase, slave_info, task_info


class DisconnectedSlaveTests(MasterTestCase):
    """
    A slave whose connection closed, then re-registers or does not.
    """

    def running(self, *task_ids):
        """
        A slave running C{task_ids} of one framework, then disconnected.

        @return: the slave, its id, the scheduler and the framework id.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer,
                    [task_info(task_id, slave_id, "cpus:0.5;mem:64") for task_id in task_ids], 0)
        self.network.crash(slave.upid)
        self.turn()
        return slave, slave_id, scheduler, framework_id

    def reregister(self, slave, slave_id, framework_id, task_ids, state=mesos_pb2.TASK_RUNNING):
        """
        Re-register C{slave} (a new connection from the same UPID) saying
        it runs C{task_ids}.
        """
        again = RecordingPeer(self.network, slave.upid)
        tasks = [internal.Task(
            name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            slave_id=mesos_pb2.SlaveID(value=slave_id), state=state,
            resources=Resources.parse("cpus:0.5;mem:64").to_protobuf()) for task_id in task_ids]
        again.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id), slave=slave_info(), tasks=tasks))
        self.turn()
        return again

    def test_reregistering_with_its_tasks(self):
        """
        A disconnected slave that re-registers with every task it had is
        connected and offered again, and nothing is reported.
        """
        slave, slave_id, scheduler, framework_id = self.running("t1", "t2")
        again = self.reregister(slave, slave_id, framework_id, ["t1", "t2"])
        self.assertEqual(again.last(internal.SlaveReregisteredMessage).slave_id.value, slave_id)
        self.assertTrue(self.master.slaves[slave_id].connected)
        self.assertEqual(self.updates(scheduler), [])
        self.clock.advance(1)
        self.turn()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.assertEqual(offer.slave_id.value, slave_id)
        # Two tasks of 0.5 cpus each still run: one cpu of two is free.
        self.assertEqual(Resources.from_protobuf(offer.resources).scalar("cpus"), 1.0)

    def test_task_unknown_to_the_slave_is_reconciled_through_it(self):
        """
        As Mesos's C{reconcileKnownSlave}: a task the master knows but the
        re-registering slave did not report is asked about in the
        C{SlaveReregisteredMessage} (its launch may have crossed the
        re-registration), still holding its resources and with nothing
        said to its framework; the slave's C{TASK_LOST} then ends it.
        """
        slave, slave_id, scheduler, framework_id = self.running("t1", "t2")
        again = self.reregister(slave, slave_id, framework_id, ["t1"])
        reregistered = again.last(internal.SlaveReregisteredMessage)
        self.assertEqual([(r.framework_id.value, [s.task_id.value for s in r.statuses])
                          for r in reregistered.reconciliations], [(framework_id, ["t2"])])
        status = reregistered.reconciliations[0].statuses[0]
        self.assertEqual(status.reason, mesos_pb2.TaskStatus.REASON_RECONCILIATION)
        self.assertEqual(reregistered.reconciliations[0].framework.name,
                         self.master.frameworks[framework_id].info.name)
        self.assertEqual(self.updates(scheduler), [])
        self.assertEqual(self.master.task_state_name(framework_id, "t2"), "TASK_STAGING")
        lost = mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t2"),
                                    state=mesos_pb2.TASK_LOST,
                                    reason=mesos_pb2.TaskStatus.REASON_RECONCILIATION)
        again.send(MASTER, internal.StatusUpdateMessage(update=internal.StatusUpdate(
            framework_id=mesos_pb2.FrameworkID(value=framework_id), status=lost,
            slave_id=mesos_pb2.SlaveID(value=slave_id), timestamp=1.0, uuid=b"l" * 16),
            pid=str(slave.upid)))
        self.turn()
        self.assertEqual(self.updates(scheduler), [("t2", mesos_pb2.TASK_LOST)])
        self.assertEqual(self.master.task_state_name(framework_id, "t2"), None)

    def test_task_unknown_to_the_master_is_added(self):
        """
        A task the re-registering slave runs that the master does not know
        is added, and what it holds is in use.
        """
        slave, slave_id, scheduler, framework_id = self.running("t1")
        self.reregister(slave, slave_id, framework_id, ["t1", "t9"])
        self.assertEqual(self.master.task_state_name(framework_id, "t9"), "TASK_RUNNING")
        self.assertEqual(self.updates(scheduler), [])
        self.clock.advance(1)
        self.turn()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.assertEqual(Resources.from_protobuf(offer.resources).scalar("cpus"), 1.0)

    def test_unknown_task_while_offered(self):
        """
        A connected slave re-registering with a task the master does not
        know, while its resources are offered: the offer is rescinded, and
        what is offered again is what the task leaves free, never more
        than the slave has (the simulator found a slave offered 1.25 cpus
        of its 1, seed 20048 of "all").
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.reregister(slave, slave_id, framework_id, ["t9"])
        self.assertEqual(scheduler.last(internal.RescindResourceOfferMessage).offer_id,
                         offer.id)
        self.clock.advance(1)
        self.turn()
        record = self.master.slaves[slave_id]
        offered = Resources.sum(o.resources for o in record.offers.values())
        self.assertTrue(record.total.contains(offered + record.used()))
        self.assertEqual(offered.scalar("cpus"), record.total.scalar("cpus") - 0.5)

    def test_disconnected_slave_removed_by_health_checks(self):
        """
        A disconnected slave that does not come back misses its pings and
        is removed after the fifth: only then are its tasks lost.
        """
        slave, slave_id, scheduler, framework_id = self.running("t1")
        # Its first ping comes within a timeout of its registration: the
        # first slave's, when the wheel reaches the next slot.
        self.clock.advance(15 / SLOTS)
        self.turn()
        for _ in range(4):
            self.clock.advance(15)
            self.turn()
        self.assertIn(slave_id, self.master.slaves)
        self.assertEqual(self.updates(scheduler), [])
        self.clock.advance(15)
        self.turn()
        self.assertNotIn(slave_id, self.master.slaves)
        self.assertEqual(self.updates(scheduler), [("t1", mesos_pb2.TASK_LOST)])
        self.assertEqual(scheduler.last(internal.LostSlaveMessage).slave_id.value, slave_id)

    def test_status_update_after_reregistration(self):
        """
        Updates a slave sends once it is back reach the scheduler.
        """
        slave, slave_id, scheduler, framework_id = self.running("t1")
        again = self.reregister(slave, slave_id, framework_id, ["t1"])
        status = mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t1"),
                                      state=mesos_pb2.TASK_FINISHED)
        again.send(MASTER, internal.StatusUpdateMessage(update=internal.StatusUpdate(
            framework_id=mesos_pb2.FrameworkID(value=framework_id), status=status,
            slave_id=mesos_pb2.SlaveID(value=slave_id), timestamp=1.0, uuid=b"u" * 16),
            pid=str(slave.upid)))
        self.turn()
        self.assertEqual(self.updates(scheduler), [("t1", mesos_pb2.TASK_FINISHED)])
        self.assertEqual(self.master.task_state_name(framework_id, "t1"), None)
