"""
Tests for principle 8, "a handler's failure is its own": the L{Dispatcher}
every node uses, and each node's behaviour when one of its handlers, or a
framework's callback, raises.  Nothing here may close a connection, remove
a peer or lose a task.
"""

import io
import json
import sys

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.interface import Executor, Scheduler
from mesos_tw.master.master import Master
from mesos_tw.master.views import metrics_snapshot
from mesos_tw.native import MesosExecutorDriver, MesosSchedulerDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.dispatch import Dispatcher, metric_name
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.testing.master import MASTER, MasterTestCase, task_info
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.slave import SLAVE, SlaveTestCase

SENDER = UPID("slave(1)", "127.0.0.1", 5051)


class HandlerBug(Exception):
    """
    The failure the tests inject into a handler.
    """


def failing_once(handler):
    """
    C{handler}, except that its first call raises L{HandlerBug}.
    """
    calls = []

    def handle(*args):
        calls.append(args)
        if len(calls) == 1:
            raise HandlerBug("a bug in the handler")
        return handler(*args)

    return handle


def capture_stderr(test):
    """
    Collect what is written to C{sys.stderr} during C{test}.
    """
    buffer = io.StringIO()
    test.patch(sys, "stderr", buffer)
    return buffer


class DispatcherTests(SynchronousTestCase):
    """
    L{Dispatcher} on its own.
    """

    def setUp(self):
        self.events = []
        self.handled = []
        self.dispatcher = Dispatcher(
            {internal.PingSlaveMessage: lambda sender, message: self.handled.append(sender)},
            Logger(observer=self.events.append))

    def test_dispatches_by_type(self):
        """
        A message reaches the handler for its class, with its sender, and
        is counted as received.
        """
        self.assertTrue(self.dispatcher.dispatch(SENDER, internal.PingSlaveMessage()))
        self.assertEqual(self.handled, [SENDER])
        self.assertEqual(self.dispatcher.received["PingSlaveMessage"], 1)

    def test_unexpected_logged_and_counted(self):
        """
        A message with no handler is logged with its name and sender, and
        counted as dropped.
        """
        self.assertFalse(self.dispatcher.dispatch(SENDER, internal.PongSlaveMessage()))
        self.assertEqual(self.dispatcher.dropped, 1)
        self.assertEqual((self.events[-1]["name"], self.events[-1]["sender"]),
                         ("mesos.internal.PongSlaveMessage", str(SENDER)))

    def test_handler_failure_contained(self):
        """
        A handler that raises: the exception goes no further; it is logged
        with the message's name, its sender and the failure, and counted
        for its message type; the next message is handled.
        """
        handler = self.dispatcher.handlers[internal.PingSlaveMessage]
        self.dispatcher.handlers[internal.PingSlaveMessage] = failing_once(handler)
        self.assertFalse(self.dispatcher.dispatch(SENDER, internal.PingSlaveMessage()))
        event = self.events[-1]
        self.assertEqual((event["name"], event["sender"]),
                         ("mesos.internal.PingSlaveMessage", str(SENDER)))
        self.assertIsInstance(event["log_failure"].value, HandlerBug)
        self.assertTrue(self.dispatcher.dispatch(SENDER, internal.PingSlaveMessage()))
        self.assertEqual(self.handled, [SENDER])
        self.assertEqual(self.dispatcher.failure_metrics("slave"), {
            "slave/messages_failed": 1, "slave/messages_failed_ping_slave": 1})

    def test_without_sender(self):
        """
        With C{with_sender=False} handlers get the message alone.
        """
        got = []
        dispatcher = Dispatcher({internal.PingSlaveMessage: got.append}, Logger(),
                                with_sender=False)
        message = internal.PingSlaveMessage()
        dispatcher.dispatch(SENDER, message)
        self.assertEqual(got, [message])

    def test_metric_name(self):
        """
        Metric names are the message type's, in snake case, without
        C{Message}.
        """
        self.assertEqual(metric_name("StatusUpdateAcknowledgementMessage"),
                         "status_update_acknowledgement")


def slave_update(slave, slave_id, framework_id, task_id, state, uuid):
    """
    The slave C{slave} reports C{task_id}'s C{state}.
    """
    status = mesos_pb2.TaskStatus(
        task_id=mesos_pb2.TaskID(value=task_id), state=state, uuid=uuid,
        slave_id=mesos_pb2.SlaveID(value=slave_id))
    slave.send(MASTER, internal.StatusUpdateMessage(update=internal.StatusUpdate(
        framework_id=mesos_pb2.FrameworkID(value=framework_id),
        slave_id=mesos_pb2.SlaveID(value=slave_id), status=status, timestamp=1.0, uuid=uuid),
        pid=str(slave.upid)))


class MasterHandlerTests(MasterTestCase):
    """
    A master handler that raises on one slave's message.
    """

    def test_status_update_handler_raises(self):
        """
        The slave keeps its connection and its registration, its task is not
        lost, the failure is counted in C{/metrics/snapshot}, and the
        update, re-sent as slaves do until acknowledged, is delivered.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info("t1", slave_id)])
        handlers = self.master.dispatcher.handlers
        handlers[internal.StatusUpdateMessage] = failing_once(
            handlers[internal.StatusUpdateMessage])

        slave_update(slave, slave_id, framework_id, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.turn()
        self.assertEqual(len(self.flushLoggedErrors(HandlerBug)), 1)
        self.assertTrue(slave.node.connected_to(MASTER))
        self.assertEqual(slave.lost, [])
        self.assertIn(slave_id, self.master.slaves)
        self.assertEqual(self.updates(scheduler), [])
        metrics = metrics_snapshot(self.master)
        self.assertEqual((metrics["master/messages_failed"],
                          metrics["master/messages_failed_status_update"],
                          metrics["master/messages_failed_register_slave"]), (1, 1, 0))

        slave_update(slave, slave_id, framework_id, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.turn()
        self.assertEqual(self.updates(scheduler), [("t1", mesos_pb2.TASK_RUNNING)])
        self.assertEqual(self.master.frameworks[framework_id].tasks["t1"].task.state,
                         mesos_pb2.TASK_RUNNING)

    def test_removed_framework_cannot_reregister(self):
        """
        A framework the master removed (here, its failover timeout expired)
        that re-registers under the same id is refused with "Framework has
        been removed", as Mesos refuses its completed frameworks.
        """
        scheduler, framework_id = self.add_framework()
        self.network.crash(scheduler.upid)
        self.turn()
        self.assertNotIn(framework_id, self.master.frameworks)
        again = RecordingPeer(self.network, UPID("scheduler-2", "127.0.0.1", 0))
        again.send(MASTER, internal.ReregisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(
                user="alice", name="back", id=mesos_pb2.FrameworkID(value=framework_id)),
            failover=True))
        self.turn()
        self.assertEqual(again.last(internal.FrameworkErrorMessage).message,
                         "Framework has been removed")
        self.assertEqual(again.of(internal.FrameworkRegisteredMessage), [])
        self.assertNotIn(framework_id, self.master.frameworks)


class SlaveHandlerTests(SlaveTestCase):
    """
    A slave handler that raises on one of the master's messages.
    """

    def test_run_task_handler_raises(self):
        """
        The slave keeps its master's connection and its registration, counts
        the failure in C{/metrics/snapshot}, and runs the next task it is
        sent.
        """
        self.register()
        handlers = self.slave.dispatcher.handlers
        handlers[internal.RunTaskMessage] = failing_once(handlers[internal.RunTaskMessage])
        self.run_task("t1")
        self.assertEqual(len(self.flushLoggedErrors(HandlerBug)), 1)
        self.assertTrue(self.master.node.connected_to(SLAVE))
        self.assertEqual(self.master.lost, [])
        self.assertTrue(self.slave.registered)
        self.run_task("t2")
        self.assertIn("t2", self.slave.frameworks["F1"].executors["t2"].queued_tasks)
        metrics = self.successResultOf(self.metrics())
        self.assertEqual((metrics["slave/messages_failed"],
                          metrics["slave/messages_failed_run_task"]), (1, 1))

    def metrics(self):
        """
        The slave's C{/metrics/snapshot}, as JSON.
        """
        client = StubTreq(SlaveHTTP(self.slave, {}).app.resource())
        d = client.get("http://slave/metrics/snapshot")
        d.addCallback(lambda response: response.text())
        return d.addCallback(json.loads)


class ThrowingScheduler(Scheduler):
    """
    A framework whose C{statusUpdate} raises; it launches one task on its
    first offer and records the rest.
    """

    def __init__(self):
        self.errors = []
        self.updates = []
        self.disconnections = 0

    def resourceOffers(self, driver, offers):
        if not self.updates:
            driver.launchTasks(offers[0].id, [task_info("t1", offers[0].slave_id.value)])

    def statusUpdate(self, driver, status):
        self.updates.append(status.state)
        raise HandlerBug("the framework's bug")

    def disconnected(self, driver):
        self.disconnections += 1

    def error(self, driver, message):
        self.errors.append(message)


class SchedulerCallbackTests(SynchronousTestCase):
    """
    A scheduler callback that raises, against a real master on the
    in-memory network.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.master = Master(self.clock, self.network.node(MASTER))
        self.master.start()
        self.addCleanup(self.master.stop)
        self.stderr = capture_stderr(self)

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(8):
            self.clock.advance(0)

    def driver(self, scheduler, framework_id=None):
        """
        A started scheduler driver for C{scheduler} on our network.
        """
        info = mesos_pb2.FrameworkInfo(user="alice", name="thrower")
        if framework_id is not None:
            info.id.value = framework_id
        driver = MesosSchedulerDriver(scheduler, info, "127.0.0.1:5050", reactor=self.clock,
                                      node_factory=self.network.node)
        self.assertEqual(driver.start(), mesos_pb2.DRIVER_RUNNING)
        self.turn()
        return driver

    def test_raising_callback_aborts_the_driver(self):
        """
        The driver prints the traceback, tells the scheduler why, and ends
        with C{DRIVER_ABORTED}; the update is not acknowledged (the slave
        keeps it), and the driver does not register again: the framework,
        removed at its failover timeout, is refused if it comes back under
        its id.
        """
        slave = RecordingPeer(self.network, SLAVE)
        slave.send(MASTER, internal.RegisterSlaveMessage(slave=mesos_pb2.SlaveInfo(
            hostname="h", resources=self.master_resources())))
        self.turn()
        slave_id = slave.last(internal.SlaveRegisteredMessage).slave_id.value
        scheduler = ThrowingScheduler()
        driver = self.driver(scheduler)
        self.clock.advance(1)
        self.turn()
        framework_id = driver.framework.id.value
        self.assertEqual(slave.last(internal.RunTaskMessage).task.task_id.value, "t1")

        slave_update(slave, slave_id, framework_id, "t1", mesos_pb2.TASK_RUNNING, b"u1")
        self.turn()
        self.assertEqual(scheduler.updates, [mesos_pb2.TASK_RUNNING])
        self.assertEqual(self.successResultOf(driver.stopped), mesos_pb2.DRIVER_ABORTED)
        self.assertIn("Traceback", self.stderr.getvalue())
        self.assertIn("HandlerBug: the framework's bug", self.stderr.getvalue())
        self.assertEqual(scheduler.errors, [
            "Aborting the driver: ThrowingScheduler.statusUpdate raised HandlerBug: "
            "the framework's bug"])
        self.assertEqual(slave.of(internal.StatusUpdateAcknowledgementMessage), [])

        self.clock.advance(60)
        self.turn()
        self.assertEqual(self.master.dispatcher.received["ReregisterFrameworkMessage"], 0)
        self.assertEqual(self.master.dispatcher.received["RegisterFrameworkMessage"], 1)
        self.assertNotIn(framework_id, self.master.frameworks)

        again = ThrowingScheduler()
        second = self.driver(again, framework_id)
        self.assertEqual(again.errors, ["Framework has been removed"])
        self.assertEqual(self.successResultOf(second.stopped), mesos_pb2.DRIVER_ABORTED)

    def test_driver_handler_raises(self):
        """
        A failure in the driver's own handling of a message (not in a
        callback) is logged and counted; the driver stays registered and
        handles the next message.
        """
        scheduler = ThrowingScheduler()
        driver = self.driver(scheduler)
        handlers = driver.dispatcher.handlers
        handlers[internal.ResourceOffersMessage] = failing_once(
            handlers[internal.ResourceOffersMessage])
        slave = RecordingPeer(self.network, SLAVE)
        slave.send(MASTER, internal.RegisterSlaveMessage(slave=mesos_pb2.SlaveInfo(
            hostname="h", resources=self.master_resources())))
        self.turn()
        self.clock.advance(1)
        self.turn()
        self.assertEqual(len(self.flushLoggedErrors(HandlerBug)), 1)
        self.assertEqual(driver.dispatcher.failed["ResourceOffersMessage"], 1)
        self.assertEqual(driver.status, mesos_pb2.DRIVER_RUNNING)
        self.assertTrue(driver.connected)
        self.assertEqual(slave.of(internal.RunTaskMessage), [])
        # A second slave's offer is handled, and the scheduler launches on it.
        second = RecordingPeer(self.network, UPID("slave(2)", "127.0.0.1", 5052))
        second.send(MASTER, internal.RegisterSlaveMessage(slave=mesos_pb2.SlaveInfo(
            hostname="h2", resources=self.master_resources())))
        self.turn()
        self.clock.advance(1)
        self.turn()
        self.assertEqual(second.last(internal.RunTaskMessage).task.task_id.value, "t1")

    def master_resources(self):
        """
        What the test slaves offer.
        """
        return Resources.parse("cpus:2;mem:1024").to_protobuf()


class ThrowingExecutor(Executor):
    """
    An executor whose C{launchTask} raises.
    """

    def __init__(self):
        self.errors = []

    def launchTask(self, driver, task):
        raise HandlerBug("the executor's bug")

    def error(self, driver, message):
        self.errors.append(message)


class ExecutorCallbackTests(SynchronousTestCase):
    """
    An executor callback that raises.
    """

    def test_raising_callback_aborts_the_driver(self):
        """
        The executor driver prints the traceback, tells the executor why,
        closes its connection and ends with C{DRIVER_ABORTED}.
        """
        stderr = capture_stderr(self)
        clock = Clock()
        network = MemoryNetwork(clock)
        slave = RecordingPeer(network, SLAVE)
        executor = ThrowingExecutor()
        driver = MesosExecutorDriver(executor, reactor=clock, node_factory=network.node, environ={
            "MESOS_SLAVE_PID": str(SLAVE), "MESOS_FRAMEWORK_ID": "F1",
            "MESOS_EXECUTOR_ID": "e1", "MESOS_DIRECTORY": "/sandbox"})
        driver.start()
        clock.advance(0)
        slave.send(driver.node.upid, internal.RunTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework=mesos_pb2.FrameworkInfo(user="u", name="n"), pid="scheduler@127.0.0.1:0",
            task=task_info("t1", "S1")))
        clock.advance(0)
        self.assertEqual(self.successResultOf(driver.stopped), mesos_pb2.DRIVER_ABORTED)
        self.assertIn("HandlerBug: the executor's bug", stderr.getvalue())
        self.assertEqual(executor.errors, [
            "Aborting the driver: ThrowingExecutor.launchTask raised HandlerBug: "
            "the executor's bug"])
        self.assertEqual(slave.lost, [driver.node.upid])
