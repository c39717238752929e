"""
Tests for L{mesos_tw.native.MesosSchedulerDriver} on an injected fake clock
and an in-memory network, with a recording master.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.interface import Scheduler, SchedulerDriver
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.drivers import CallbackRecorder
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer

MASTER = UPID("master", "127.0.0.1", 5050)
SLAVE = UPID("slave(1)", "127.0.0.1", 5051)
MASTER_INFO = mesos_pb2.MasterInfo(id="m", ip=0, port=5050, pid=str(MASTER))


class SchedulerDriverTestCase(SynchronousTestCase):
    """
    A driver, a recording master and slave, on a fake clock.
    """

    framework_id = None

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.master = RecordingPeer(self.network, MASTER)
        self.slave = RecordingPeer(self.network, SLAVE)
        self.scheduler = CallbackRecorder()
        info = mesos_pb2.FrameworkInfo(user="alice", name="test")
        if self.framework_id:
            info.id.value = self.framework_id
        self.driver = MesosSchedulerDriver(
            self.scheduler, info, "127.0.0.1:5050", reactor=self.clock,
            node_factory=self.network.node)

    def turn(self):
        for _ in range(5):
            self.clock.advance(0)

    def start_and_register(self):
        self.assertEqual(self.driver.start(), mesos_pb2.DRIVER_RUNNING)
        self.turn()
        self.master.send(self.driver.node.upid, internal.FrameworkRegisteredMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"), master_info=MASTER_INFO))
        self.turn()

    def offer(self):
        offer = mesos_pb2.Offer(
            id=mesos_pb2.OfferID(value="O1"), framework_id=mesos_pb2.FrameworkID(value="F1"),
            slave_id=mesos_pb2.SlaveID(value="S1"), hostname="h")
        self.master.send(self.driver.node.upid, internal.ResourceOffersMessage(
            offers=[offer], pids=[str(SLAVE)]))
        self.turn()
        return offer


class RegistrationTests(SchedulerDriverTestCase):
    """
    Registering with the master.
    """

    def test_is_a_scheduler_driver(self):
        """
        The driver is a L{SchedulerDriver}; its UPID does not listen.
        """
        self.assertIsInstance(self.driver, SchedulerDriver)
        self.driver.start()
        self.assertTrue(self.driver.node.upid.id.startswith("scheduler-"))
        self.assertFalse(self.driver.node.upid.reachable)

    def test_registration_retried_with_backoff(self):
        """
        RegisterFrameworkMessage is re-sent after 1, 2, 4 s until answered,
        then registered() is called once.
        """
        self.driver.start()
        self.turn()
        for step in (1, 2, 4):
            self.clock.advance(step)
            self.turn()
        self.assertEqual(len(self.master.of(internal.RegisterFrameworkMessage)), 4)
        self.master.send(self.driver.node.upid, internal.FrameworkRegisteredMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"), master_info=MASTER_INFO))
        self.turn()
        self.clock.advance(100)
        self.turn()
        self.assertEqual(len(self.master.of(internal.RegisterFrameworkMessage)), 4)
        self.assertEqual(self.scheduler.names(), ["registered"])
        self.assertEqual(self.scheduler.calls[0][1][0].value, "F1")

    def test_master_lost_reregisters(self):
        """
        Losing the master calls disconnected() and re-registers with
        failover=false; the answer calls reregistered().
        """
        self.start_and_register()
        self.network.crash(MASTER)
        self.turn()
        self.master = RecordingPeer(self.network, MASTER)
        self.clock.advance(1)
        self.turn()
        message = self.master.last(internal.ReregisterFrameworkMessage)
        self.assertEqual((message.framework.id.value, message.failover), ("F1", False))
        self.master.send(self.driver.node.upid, internal.FrameworkReregisteredMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"), master_info=MASTER_INFO))
        self.turn()
        self.assertEqual(self.scheduler.names(), ["registered", "disconnected", "reregistered"])

    def test_user_filled_in(self):
        """
        An empty user becomes the current user, as Mesos does.
        """
        driver = MesosSchedulerDriver(
            self.scheduler, mesos_pb2.FrameworkInfo(user="", name="x"), "127.0.0.1:5050",
            reactor=self.clock, node_factory=self.network.node)
        self.assertTrue(driver.framework.user)

    def test_bad_master(self):
        """
        A master that cannot be used calls error() and aborts.
        """
        driver = MesosSchedulerDriver(
            self.scheduler, mesos_pb2.FrameworkInfo(user="u", name="x"), "zk://h:2181",
            reactor=self.clock, node_factory=self.network.node)
        self.assertEqual(driver.start(), mesos_pb2.DRIVER_ABORTED)
        self.assertEqual(self.scheduler.names(), ["error"])
        self.assertIn("no znode path", self.scheduler.calls[0][1][0])
        self.assertEqual(self.successResultOf(driver.stopped), mesos_pb2.DRIVER_ABORTED)

    def test_join_refused_on_injected_reactor(self):
        """
        join() would block the reactor the driver runs on, so it says so.
        """
        self.driver.start()
        self.assertRaises(RuntimeError, self.driver.join)


class FailoverRegistrationTests(SchedulerDriverTestCase):
    """
    A scheduler started with a framework id fails over.
    """

    framework_id = "F1"

    def test_failover(self):
        """
        With an id, the driver re-registers with failover=true.
        """
        self.driver.start()
        self.turn()
        message = self.master.last(internal.ReregisterFrameworkMessage)
        self.assertEqual((message.framework.id.value, message.failover), ("F1", True))


class CallbackTests(SchedulerDriverTestCase):
    """
    Messages from the master become callbacks.
    """

    def setUp(self):
        super().setUp()
        self.start_and_register()

    def update(self, pid, uuid=b"u1"):
        self.master.send(self.driver.node.upid, internal.StatusUpdateMessage(
            update=internal.StatusUpdate(
                framework_id=mesos_pb2.FrameworkID(value="F1"),
                slave_id=mesos_pb2.SlaveID(value="S1"), timestamp=1.0, uuid=uuid,
                status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t1"),
                                            state=mesos_pb2.TASK_RUNNING)),
            pid=pid))
        self.turn()

    def test_offers(self):
        """
        Offers reach resourceOffers().
        """
        self.offer()
        name, (offers,) = self.scheduler.calls[-1]
        self.assertEqual((name, offers[0].id.value), ("resourceOffers", "O1"))

    def test_status_update_acknowledged_to_slave(self):
        """
        After statusUpdate() returns, the acknowledgement goes straight to
        the slave named by the update's pid.
        """
        self.update(str(SLAVE))
        self.assertEqual(self.scheduler.calls[-1][0], "statusUpdate")
        self.assertEqual(self.scheduler.calls[-1][1][0].uuid, b"u1")
        ack = self.slave.last(internal.StatusUpdateAcknowledgementMessage)
        self.assertEqual((ack.task_id.value, ack.uuid, ack.framework_id.value), ("t1", b"u1", "F1"))
        self.assertEqual(self.master.of(internal.StatusUpdateAcknowledgementMessage), [])

    def test_duplicate_acknowledged_again_not_delivered(self):
        """
        An update re-sent after its acknowledgement was lost is acknowledged
        again but not handed to the scheduler a second time.
        """
        self.update(str(SLAVE))
        self.update(str(SLAVE))
        self.assertEqual(self.scheduler.names(), ["registered", "statusUpdate"])
        self.assertEqual(len(self.slave.of(internal.StatusUpdateAcknowledgementMessage)), 2)

    def test_master_update_not_acknowledged(self):
        """
        An update without a pid (made by the master) is not acknowledged.
        """
        self.update("", uuid=b"")
        self.assertEqual(self.scheduler.calls[-1][0], "statusUpdate")
        self.assertEqual(self.slave.of(internal.StatusUpdateAcknowledgementMessage), [])

    def test_master_update_has_no_uuid(self):
        """
        An update the master made (no slave pid) reaches the scheduler
        without a uuid, as in Mesos: there is nothing to acknowledge.
        """
        self.update("", uuid=b"m1")
        name, (status,) = self.scheduler.calls[-1]
        self.assertEqual((name, status.uuid), ("statusUpdate", b""))

    def test_mesos_1_signature(self):
        """
        Mesos 1.x's C{MesosSchedulerDriver(scheduler, framework, master,
        implicitAcknowledgements, credential)}: the fourth positional
        argument is the acknowledgement mode, the credential is kept (a
        copy), and the reactor is a keyword.
        """
        credential = mesos_pb2.Credential(principal="p", secret=b"s")
        driver = MesosSchedulerDriver(
            self.scheduler, mesos_pb2.FrameworkInfo(user="", name="x"), "127.0.0.1:5050",
            False, credential, reactor=self.clock, node_factory=self.network.node)
        credential.principal = "changed"
        self.assertEqual((driver.implicit_acknowledgements, driver.credential.principal),
                         (False, "p"))
        self.assertTrue(self.driver.implicit_acknowledgements)
        self.assertIsNone(self.driver.credential)
        with self.assertRaises(TypeError):
            MesosSchedulerDriver(self.scheduler, mesos_pb2.FrameworkInfo(user="", name="x"),
                                 "127.0.0.1:5050", True, None, self.clock)

    def test_explicit_acknowledgements(self):
        """
        With C{implicitAcknowledgements=False}, returning from
        statusUpdate() acknowledges nothing; acknowledgeStatusUpdate(status)
        sends the acknowledgement to the update's slave.
        """
        self.driver.implicit_acknowledgements = False
        self.update(str(SLAVE))
        _, (status,) = self.scheduler.calls[-1]
        self.assertEqual(self.slave.of(internal.StatusUpdateAcknowledgementMessage), [])
        self.assertEqual(self.driver.acknowledgeStatusUpdate(status), mesos_pb2.DRIVER_RUNNING)
        self.turn()
        [ack] = self.slave.of(internal.StatusUpdateAcknowledgementMessage)
        self.assertEqual((ack.task_id.value, ack.uuid, ack.framework_id.value, ack.slave_id.value),
                         ("t1", b"u1", "F1", "S1"))

    def test_explicit_acknowledgement_of_master_update(self):
        """
        Acknowledging an update without a uuid (the master's) sends nothing.
        """
        self.driver.implicit_acknowledgements = False
        self.update("", uuid=b"m1")
        _, (status,) = self.scheduler.calls[-1]
        self.assertEqual(self.driver.acknowledgeStatusUpdate(status), mesos_pb2.DRIVER_RUNNING)
        self.turn()
        self.assertEqual(self.slave.of(internal.StatusUpdateAcknowledgementMessage), [])

    def test_explicit_acknowledgement_refused_when_implicit(self):
        """
        acknowledgeStatusUpdate on a driver that acknowledges implicitly is
        an error saying so (Mesos aborts the process).
        """
        self.update(str(SLAVE))
        _, (status,) = self.scheduler.calls[-1]
        with self.assertRaises(ValueError) as raised:
            self.driver.acknowledgeStatusUpdate(status)
        self.assertIn("implicit acknowledgements are enabled", str(raised.exception))

    def test_no_acknowledgement_after_abort_in_callback(self):
        """
        A scheduler that aborts inside statusUpdate() does not acknowledge.
        """
        class AbortingScheduler(Scheduler):
            def statusUpdate(self, driver, status):
                driver.abort()

        self.driver.scheduler = AbortingScheduler()
        self.update(str(SLAVE))
        self.assertEqual(self.driver.status, mesos_pb2.DRIVER_ABORTED)
        self.assertEqual(self.slave.of(internal.StatusUpdateAcknowledgementMessage), [])

    def test_other_callbacks(self):
        """
        Rescinds, lost slaves, executor messages and exits, and errors reach
        their callbacks; an error aborts the driver.
        """
        upid = self.driver.node.upid
        self.master.send(upid, internal.RescindResourceOfferMessage(
            offer_id=mesos_pb2.OfferID(value="O1")))
        self.master.send(upid, internal.LostSlaveMessage(slave_id=mesos_pb2.SlaveID(value="S1")))
        self.master.send(upid, internal.ExecutorToFrameworkMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=mesos_pb2.FrameworkID(value="F1"),
            executor_id=mesos_pb2.ExecutorID(value="e1"), data=b"\0x"))
        self.master.send(upid, internal.ExitedExecutorMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=mesos_pb2.FrameworkID(value="F1"),
            executor_id=mesos_pb2.ExecutorID(value="e1"), status=1))
        self.master.send(upid, internal.FrameworkErrorMessage(message="Framework failed over"))
        self.turn()
        self.assertEqual(self.scheduler.names()[1:], [
            "offerRescinded", "slaveLost", "frameworkMessage", "executorLost", "error"])
        self.assertEqual(self.scheduler.calls[3][1][2], b"\0x")
        self.assertEqual(self.driver.status, mesos_pb2.DRIVER_ABORTED)

    def test_messages_from_others_ignored(self):
        """
        Only our master's messages become callbacks.
        """
        stranger = RecordingPeer(self.network, UPID("master", "10.9.9.9", 5050))
        stranger.send(self.driver.node.upid, internal.LostSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value="S1")))
        self.turn()
        self.assertEqual(self.scheduler.names(), ["registered"])


class CallTests(SchedulerDriverTestCase):
    """
    Scheduler calls become messages.
    """

    def setUp(self):
        super().setUp()
        self.start_and_register()

    def test_launch_tasks_single_and_list(self):
        """
        launchTasks takes one offer id or a list; filters default to Mesos's.
        """
        offer = self.offer()
        task = mesos_pb2.TaskInfo(name="t", task_id=mesos_pb2.TaskID(value="t1"),
                                  slave_id=offer.slave_id)
        self.driver.launchTasks(offer.id, [task])
        self.driver.launchTasks([offer.id, mesos_pb2.OfferID(value="O2")], [task],
                                mesos_pb2.Filters(refuse_seconds=1))
        self.turn()
        first, second = self.master.of(internal.LaunchTasksMessage)
        self.assertEqual([o.value for o in first.offer_ids], ["O1"])
        self.assertEqual(first.filters.refuse_seconds, 5.0)
        self.assertEqual([o.value for o in second.offer_ids], ["O1", "O2"])
        self.assertEqual(second.filters.refuse_seconds, 1.0)

    def test_decline(self):
        """
        declineOffer is a launch with no tasks.
        """
        offer = self.offer()
        self.driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=30))
        self.turn()
        message = self.master.last(internal.LaunchTasksMessage)
        self.assertEqual((len(message.tasks), message.filters.refuse_seconds), (0, 30))

    def test_launch_while_disconnected_loses_tasks(self):
        """
        Tasks launched while the master is away are reported TASK_LOST.
        """
        self.network.crash(MASTER)
        self.turn()
        self.driver.launchTasks(mesos_pb2.OfferID(value="O1"), [mesos_pb2.TaskInfo(
            name="t", task_id=mesos_pb2.TaskID(value="t1"), slave_id=mesos_pb2.SlaveID(value="S1"))])
        name, (status,) = self.scheduler.calls[-1]
        self.assertEqual((name, status.state), ("statusUpdate", mesos_pb2.TASK_LOST))

    def test_framework_message_goes_to_slave(self):
        """
        A framework message goes straight to the slave known from an offer,
        and through the master otherwise.
        """
        self.offer()
        self.driver.sendFrameworkMessage(mesos_pb2.ExecutorID(value="e1"),
                                         mesos_pb2.SlaveID(value="S1"), b"a\0")
        self.driver.sendFrameworkMessage(mesos_pb2.ExecutorID(value="e1"),
                                         mesos_pb2.SlaveID(value="S9"), b"b")
        self.turn()
        self.assertEqual(self.slave.last(internal.FrameworkToExecutorMessage).data, b"a\0")
        self.assertEqual(self.master.last(internal.FrameworkToExecutorMessage).data, b"b")

    def test_other_calls(self):
        """
        kill, revive, suppress, request and reconcile become their messages.
        """
        self.driver.killTask(mesos_pb2.TaskID(value="t1"))
        self.driver.reviveOffers()
        self.driver.suppressOffers()
        self.driver.requestResources([mesos_pb2.Request()])
        self.driver.reconcileTasks([])
        self.turn()
        names = [type(m).__name__ for _, m in self.master.received
                 if not isinstance(m, internal.RegisterFrameworkMessage)]
        self.assertEqual(names, ["KillTaskMessage", "ReviveOffersMessage",
                                 "SuppressOffersMessage", "ResourceRequestMessage",
                                 "ReconcileTasksMessage"])

    def test_kill_with_policy(self):
        """
        A kill policy given to killTask travels with the kill.
        """
        policy = mesos_pb2.KillPolicy(grace_period=mesos_pb2.DurationInfo(nanoseconds=10**9))
        self.driver.killTask(mesos_pb2.TaskID(value="t1"), policy)
        self.turn()
        self.assertEqual(self.master.last(internal.KillTaskMessage).kill_policy, policy)

    def test_stop_unregisters(self):
        """
        stop() unregisters the framework and ends the driver STOPPED.
        """
        self.assertEqual(self.driver.stop(), mesos_pb2.DRIVER_STOPPED)
        self.turn()
        self.assertEqual(len(self.master.of(internal.UnregisterFrameworkMessage)), 1)
        self.assertEqual(self.successResultOf(self.driver.stopped), mesos_pb2.DRIVER_STOPPED)

    def test_stop_failover_deactivates(self):
        """
        stop(failover=True) only deactivates the framework.
        """
        self.driver.stop(failover=True)
        self.turn()
        self.assertEqual(len(self.master.of(internal.DeactivateFrameworkMessage)), 1)
        self.assertEqual(self.master.of(internal.UnregisterFrameworkMessage), [])

    def test_abort(self):
        """
        abort() ends the driver ABORTED without unregistering; calls after it
        return ABORTED and send nothing.
        """
        self.assertEqual(self.driver.abort(), mesos_pb2.DRIVER_ABORTED)
        self.assertEqual(self.driver.killTask(mesos_pb2.TaskID(value="t1")),
                         mesos_pb2.DRIVER_ABORTED)
        self.turn()
        self.assertEqual(self.master.of(internal.UnregisterFrameworkMessage), [])
        self.assertEqual(self.master.of(internal.KillTaskMessage), [])
