"""
Tests for L{mesos_tw.native.MesosExecutorDriver} on an injected fake clock
and an in-memory network, with a recording slave.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.driver.executor import RECONNECT_INTERVAL
from mesos_tw.interface import Executor, ExecutorDriver
from mesos_tw.native import MesosExecutorDriver
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer

SLAVE = UPID("slave(1)", "127.0.0.1", 5051)
ENVIRONMENT = {
    "MESOS_SLAVE_PID": str(SLAVE), "MESOS_FRAMEWORK_ID": "F1",
    "MESOS_EXECUTOR_ID": "e1", "MESOS_DIRECTORY": "/sandbox",
}


class RecordingExecutor(Executor):
    """
    Records callbacks as (name, arguments without the driver).
    """

    def __init__(self):
        self.calls = []

    def registered(self, driver, executorInfo, frameworkInfo, slaveInfo):
        self.calls.append(("registered", (executorInfo, frameworkInfo, slaveInfo)))

    def launchTask(self, driver, task):
        self.calls.append(("launchTask", (task,)))

    def killTask(self, driver, taskId):
        self.calls.append(("killTask", (taskId,)))

    def killTaskWithPolicy(self, driver, taskId, killPolicy):
        if killPolicy is None:
            Executor.killTaskWithPolicy(self, driver, taskId, killPolicy)
        else:
            self.calls.append(("killTaskWithPolicy", (taskId, killPolicy)))

    def frameworkMessage(self, driver, message):
        self.calls.append(("frameworkMessage", (message,)))

    def shutdown(self, driver):
        self.calls.append(("shutdown", ()))

    def disconnected(self, driver):
        self.calls.append(("disconnected", ()))

    def reregistered(self, driver, slaveInfo):
        self.calls.append(("reregistered", (slaveInfo,)))

    def error(self, driver, message):
        self.calls.append(("error", (message,)))

    def names(self):
        return [name for name, _ in self.calls]


class DriverTestCase(SynchronousTestCase):
    """
    An executor driver with a recording executor, against a recording slave.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.slave = RecordingPeer(self.network, SLAVE)
        self.executor = RecordingExecutor()
        counter = iter(range(1, 1000))
        self.driver = MesosExecutorDriver(
            self.executor, reactor=self.clock, environ=dict(ENVIRONMENT),
            node_factory=self.network.node, new_uuid=lambda: bytes([next(counter)]) * 16)

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def start_and_register(self):
        """
        Start the driver and have the slave accept its registration.
        """
        self.assertEqual(self.driver.start(), mesos_pb2.DRIVER_RUNNING)
        self.turn()
        self.slave.send(self.driver.node.upid, internal.ExecutorRegisteredMessage(
            executor_info=mesos_pb2.ExecutorInfo(
                executor_id=mesos_pb2.ExecutorID(value="e1"),
                command=mesos_pb2.CommandInfo(value="x")),
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework_info=mesos_pb2.FrameworkInfo(user="u", name="n"),
            slave_id=mesos_pb2.SlaveID(value="S1"),
            slave_info=mesos_pb2.SlaveInfo(hostname="h")))
        self.turn()


class ExecutorDriverTests(DriverTestCase):
    """
    The executor driver against a recording slave.
    """

    def test_is_an_executor_driver(self):
        """
        It is an L{ExecutorDriver}.
        """
        self.assertIsInstance(self.driver, ExecutorDriver)

    def test_registers_from_environment(self):
        """
        The driver registers with the slave named in the environment.
        """
        self.start_and_register()
        message = self.slave.last(internal.RegisterExecutorMessage)
        self.assertEqual((message.framework_id.value, message.executor_id.value), ("F1", "e1"))
        self.assertEqual(self.executor.names(), ["registered"])

    def test_missing_environment(self):
        """
        Without the slave's environment the driver calls error() and aborts.
        """
        driver = MesosExecutorDriver(self.executor, reactor=self.clock, environ={},
                                     node_factory=self.network.node)
        self.assertEqual(driver.start(), mesos_pb2.DRIVER_ABORTED)
        self.assertIn("MESOS_SLAVE_PID", self.executor.calls[0][1][0])

    def test_callbacks(self):
        """
        Tasks, kills, messages and shutdown reach their callbacks (a kill
        with a kill policy reaches C{killTaskWithPolicy}, whose default is
        C{killTask}); shutdown stops the driver.
        """
        POLICY = mesos_pb2.KillPolicy(grace_period=mesos_pb2.DurationInfo(nanoseconds=7))
        self.start_and_register()
        upid = self.driver.node.upid
        task = mesos_pb2.TaskInfo(name="t", task_id=mesos_pb2.TaskID(value="t1"),
                                  slave_id=mesos_pb2.SlaveID(value="S1"))
        self.slave.send(upid, internal.RunTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework=mesos_pb2.FrameworkInfo(user="u", name="n"), pid="s@h:1", task=task))
        self.slave.send(upid, internal.KillTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"), task_id=task.task_id))
        self.slave.send(upid, internal.KillTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"), task_id=task.task_id,
            kill_policy=POLICY))
        self.slave.send(upid, internal.FrameworkToExecutorMessage(
            slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=mesos_pb2.FrameworkID(value="F1"),
            executor_id=mesos_pb2.ExecutorID(value="e1"), data=b"\0z"))
        self.slave.send(upid, internal.ShutdownExecutorMessage())
        self.turn()
        self.assertEqual(self.executor.names(),
                         ["registered", "launchTask", "killTask", "killTaskWithPolicy",
                          "frameworkMessage", "shutdown"])
        self.assertEqual(self.executor.calls[3][1], (task.task_id, POLICY))
        self.assertEqual(self.executor.calls[4][1][0], b"\0z")
        self.assertEqual(self.successResultOf(self.driver.stopped), mesos_pb2.DRIVER_STOPPED)

    def test_status_update_stamped(self):
        """
        The driver stamps an update with time, a uuid and its ids.
        """
        self.start_and_register()
        self.clock.advance(42)
        self.driver.sendStatusUpdate(mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="t1"), state=mesos_pb2.TASK_RUNNING))
        self.turn()
        update = self.slave.last(internal.StatusUpdateMessage).update
        self.assertEqual(update.timestamp, 42)
        self.assertEqual(update.uuid, bytes([1]) * 16)
        self.assertEqual(update.status.uuid, update.uuid)
        self.assertEqual((update.executor_id.value, update.slave_id.value,
                          update.framework_id.value), ("e1", "S1", "F1"))

    def test_staging_refused(self):
        """
        TASK_STAGING from an executor is an error that aborts the driver.
        """
        self.start_and_register()
        status = self.driver.sendStatusUpdate(mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="t1"), state=mesos_pb2.TASK_STAGING))
        self.assertEqual(status, mesos_pb2.DRIVER_ABORTED)
        self.assertEqual(self.executor.names()[-1], "error")
        self.turn()
        self.assertEqual(self.slave.of(internal.StatusUpdateMessage), [])

    def test_stop_waits_for_acknowledgements(self):
        """
        stop() keeps the connection until the slave acknowledges what was
        sent.
        """
        self.start_and_register()
        self.driver.sendStatusUpdate(mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="t1"), state=mesos_pb2.TASK_FINISHED))
        self.driver.stop()
        self.turn()
        self.assertNoResult(self.driver.stopped)
        update = self.slave.last(internal.StatusUpdateMessage).update
        self.slave.send(self.driver.node.upid, internal.StatusUpdateAcknowledgementMessage(
            slave_id=update.slave_id, framework_id=update.framework_id,
            task_id=update.status.task_id, uuid=update.uuid))
        self.turn()
        self.assertEqual(self.successResultOf(self.driver.stopped), mesos_pb2.DRIVER_STOPPED)

    def test_stop_waits_while_the_slave_is_connected(self):
        """
        Unacknowledged, stop() does not give up while the slave's
        connection is open, however long (a busy slave may take a while to
        read the update); the connection's end closes it.
        """
        self.start_and_register()
        self.driver.sendStatusUpdate(mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="t1"), state=mesos_pb2.TASK_FINISHED))
        self.driver.stop()
        self.turn()
        self.clock.advance(3600)
        self.assertNoResult(self.driver.stopped)
        self.network.crash(SLAVE)
        self.turn()
        self.assertEqual(self.successResultOf(self.driver.stopped), mesos_pb2.DRIVER_STOPPED)

    def test_slave_lost_shuts_down(self):
        """
        When the slave goes away the executor is told to shut down.
        """
        self.start_and_register()
        self.network.crash(SLAVE)
        self.turn()
        self.assertEqual(self.executor.names()[-1], "shutdown")
        self.assertEqual(self.successResultOf(self.driver.stopped), mesos_pb2.DRIVER_STOPPED)

    def test_framework_message(self):
        """
        sendFrameworkMessage goes to the slave, bytes intact.
        """
        self.start_and_register()
        self.driver.sendFrameworkMessage(b"data with a \0 byte")
        self.turn()
        message = self.slave.last(internal.ExecutorToFrameworkMessage)
        self.assertEqual((message.data, message.executor_id.value), (b"data with a \0 byte", "e1"))


class DuplicateTaskTests(DriverTestCase):
    """
    A task the slave sends again is launched once.
    """

    def test_task_sent_twice_is_launched_once(self):
        """
        The slave sends a task again to an executor that subscribes again
        without listing it; two subscriptions in a row get it twice, and
        the executor must run it once (the simulator found a task launched
        three times, seed 10009 of "all --buggify").
        """
        self.start_and_register()
        task = mesos_pb2.TaskInfo(name="t", task_id=mesos_pb2.TaskID(value="t1"),
                                  slave_id=mesos_pb2.SlaveID(value="S1"))
        for _ in range(2):
            self.slave.send(self.driver.node.upid, internal.RunTaskMessage(
                framework_id=mesos_pb2.FrameworkID(value="F1"),
                framework=mesos_pb2.FrameworkInfo(user="u", name="n"), pid="s@h:1", task=task))
        self.turn()
        self.assertEqual(self.executor.names(), ["registered", "launchTask"])


class TaskGroupTests(DriverTestCase):
    """
    Task groups (a v1 LAUNCH_GROUP) reaching a classic executor.
    """

    def send_group(self, *task_ids):
        """
        Send a RunTaskGroupMessage holding tasks C{task_ids}.
        """
        group = mesos_pb2.TaskGroupInfo()
        for task_id in task_ids:
            group.tasks.add(name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
                            slave_id=mesos_pb2.SlaveID(value="S1"))
        self.slave.send(self.driver.node.upid, internal.RunTaskGroupMessage(
            framework=mesos_pb2.FrameworkInfo(user="u", name="n"),
            executor=mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value="e1")),
            task_group=group))
        self.turn()

    def test_group_reaches_launch_task_group(self):
        """
        An executor with launchTaskGroup gets the group's tasks in one call,
        in order.
        """
        calls = []
        self.executor.launchTaskGroup = lambda driver, tasks: calls.append(
            [task.task_id.value for task in tasks])
        self.start_and_register()
        self.send_group("a", "b")
        self.assertEqual(calls, [["a", "b"]])

    def test_executor_without_groups_fails_them(self):
        """
        An executor that does not override launchTaskGroup reports each task
        of the group failed, saying why, instead of leaving them staging.
        """
        self.start_and_register()
        self.send_group("a", "b")
        updates = [m.update.status for m in self.slave.of(internal.StatusUpdateMessage)]
        self.assertEqual([(s.task_id.value, s.state) for s in updates],
                         [("a", mesos_pb2.TASK_FAILED), ("b", mesos_pb2.TASK_FAILED)])
        self.assertIn("does not run task groups", updates[0].message)


class CheckpointingDriverTests(DriverTestCase):
    """
    A driver of a checkpointing framework's executor outlives its slave.
    """

    def setUp(self):
        super().setUp()
        self.driver.environ.update(MESOS_CHECKPOINT="1", MESOS_RECOVERY_TIMEOUT="10secs")
        self.start_and_register()
        upid = self.driver.node.upid
        self.task = mesos_pb2.TaskInfo(name="t", task_id=mesos_pb2.TaskID(value="t1"),
                                       slave_id=mesos_pb2.SlaveID(value="S1"))
        self.slave.send(upid, internal.RunTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework=mesos_pb2.FrameworkInfo(user="u", name="n"), pid="s@h:1", task=self.task))
        self.turn()

    def lose_slave(self):
        """
        The slave dies; a new one will listen at the same UPID.
        """
        self.network.crash(SLAVE)
        self.turn()

    def test_waits_and_resubscribes(self):
        """
        The slave's loss calls disconnected, not shutdown; updates sent
        meanwhile are kept; every RECONNECT_INTERVAL the driver subscribes
        again with its task and unacknowledged updates, and the answer
        calls reregistered.
        """
        self.lose_slave()
        self.assertEqual(self.executor.names(), ["registered", "launchTask", "disconnected"])
        self.driver.sendStatusUpdate(mesos_pb2.TaskStatus(task_id=self.task.task_id,
                                                          state=mesos_pb2.TASK_FINISHED))
        restarted = RecordingPeer(self.network, SLAVE)
        self.clock.advance(RECONNECT_INTERVAL)
        self.turn()
        message = restarted.last(internal.ReregisterExecutorMessage)
        self.assertEqual([t.task_id.value for t in message.tasks], ["t1"])
        self.assertEqual([u.status.state for u in message.updates], [mesos_pb2.TASK_FINISHED])
        restarted.send(self.driver.node.upid, internal.ExecutorRegisteredMessage(
            executor_info=mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value="e1"),
                                                 command=mesos_pb2.CommandInfo(value="x")),
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework_info=mesos_pb2.FrameworkInfo(user="u", name="n"),
            slave_id=mesos_pb2.SlaveID(value="S1"), slave_info=mesos_pb2.SlaveInfo(hostname="h")))
        self.turn()
        self.assertEqual(self.executor.names()[-1], "reregistered")
        self.assertFalse(self.driver.waiting_for_slave)
        count = len(restarted.of(internal.ReregisterExecutorMessage))
        self.clock.advance(10 * RECONNECT_INTERVAL)
        self.assertEqual(len(restarted.of(internal.ReregisterExecutorMessage)), count)
        self.assertEqual(self.driver.status, mesos_pb2.DRIVER_RUNNING)

    def test_reconnect_message_resubscribes_at_once(self):
        """
        ReconnectExecutorMessage from the restarted slave (which held the
        driver's first try while it recovered) makes the driver subscribe
        again at once.
        """
        self.lose_slave()
        restarted = RecordingPeer(self.network, SLAVE)
        self.clock.advance(RECONNECT_INTERVAL)
        self.turn()
        self.assertEqual(len(restarted.of(internal.ReregisterExecutorMessage)), 1)
        restarted.send(self.driver.node.upid, internal.ReconnectExecutorMessage(
            slave_id=mesos_pb2.SlaveID(value="S1")))
        self.turn()
        self.assertEqual(len(restarted.of(internal.ReregisterExecutorMessage)), 2)

    def test_gives_up_after_recovery_timeout(self):
        """
        A slave that does not come back within MESOS_RECOVERY_TIMEOUT: the
        executor is shut down and the driver stops.
        """
        self.lose_slave()
        self.clock.advance(9.9)
        self.assertEqual(self.driver.status, mesos_pb2.DRIVER_RUNNING)
        self.clock.advance(0.1)
        self.assertEqual(self.executor.names()[-1], "shutdown")
        self.assertEqual(self.driver.status, mesos_pb2.DRIVER_STOPPED)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_without_checkpoint_shuts_down(self):
        """
        Without MESOS_CHECKPOINT=1 the slave's loss shuts the executor down.
        """
        self.driver.checkpoint = False
        self.lose_slave()
        self.assertEqual(self.executor.names()[-1], "shutdown")
        self.assertEqual(self.driver.status, mesos_pb2.DRIVER_STOPPED)
