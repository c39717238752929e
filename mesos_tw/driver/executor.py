"""
The executor driver: registers an executor with the slave that launched it,
turns messages into L{Executor <mesos_tw.interface.Executor>} callbacks, and
sends status updates, keeping each until the slave acknowledges it.

An executor of a framework that checkpoints (C{MESOS_CHECKPOINT=1}) outlives
its slave: when the slave's connection closes, the driver calls
C{disconnected} and waits up to C{MESOS_RECOVERY_TIMEOUT} for a restarted
slave, trying every L{RECONNECT_INTERVAL} (and at once when the slave asks,
with C{ReconnectExecutorMessage}) to subscribe again with
C{ReregisterExecutorMessage}: the tasks it was given that have not ended
acknowledged, and the updates the slave has not acknowledged (updates sent
meanwhile wait among those).  The slave's answer calls C{reregistered}.
Without checkpointing it shuts down, as Mesos's does.
"""

import os
import socket

from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw.constants import RECOVERY_TIMEOUT
from mesos_tw.driver.base import DriverBase
from mesos_tw.flags import parse_duration
from mesos_tw.interface import ExecutorDriver
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.dispatch import Dispatcher
from mesos_tw.protocols.executor_side import executor_message, executor_update
from mesos_tw.protocols.wire_format import random_uuid
from mesos_tw.protocols.network import IMessageReceiver
from mesos_tw.protocols.upid import UPID

__all__ = ["MesosExecutorDriver"]

RUNNING = mesos_pb2.DRIVER_RUNNING

#: Seconds between attempts to subscribe again to a restarting slave.
RECONNECT_INTERVAL = 0.25

TERMINAL = frozenset({mesos_pb2.TASK_FINISHED, mesos_pb2.TASK_FAILED, mesos_pb2.TASK_KILLED,
                      mesos_pb2.TASK_LOST, mesos_pb2.TASK_ERROR})

_REQUIRED_ENVIRONMENT = ("MESOS_SLAVE_PID", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID")


@implementer(IMessageReceiver)
class MesosExecutorDriver(DriverBase, ExecutorDriver):
    """
    Connects C{executor} to its slave, found in the environment the slave
    launched it with (C{MESOS_SLAVE_PID}, C{MESOS_FRAMEWORK_ID},
    C{MESOS_EXECUTOR_ID}, C{MESOS_DIRECTORY}).

    @param reactor: run on this reactor; L{None} for the classic blocking use.
    @param environ: where to read the environment (default C{os.environ}).
    """

    log = Logger()

    def __init__(self, executor, reactor=None, environ=None, node_factory=None,
                 new_uuid=random_uuid):
        DriverBase.__init__(self, reactor, node_factory)
        self.executor = executor
        self.environ = os.environ if environ is None else environ
        self.new_uuid = new_uuid
        self.slave = None
        self.slave_id = None
        self.framework_id = None
        self.executor_id = None
        self.directory = None
        self.node = None
        self.unacknowledged = {}
        self._awaiting_acknowledgements = False
        #: C{{task_id: TaskInfo}} given to us and not yet ended (with the
        #: end acknowledged): listed when subscribing again.
        self.tasks = {}
        self.checkpoint = False
        self.recovery_timeout = RECOVERY_TIMEOUT
        #: Whether the slave's connection closed and we wait for it.
        self.waiting_for_slave = False
        self._reconnect_loop = None
        self._recovery_call = None
        self.dispatcher = Dispatcher({
            internal.ExecutorRegisteredMessage: self._registered,
            internal.RunTaskMessage: self._run_task,
            internal.RunTaskGroupMessage: self._run_task_group,
            internal.KillTaskMessage: self._kill_task,
            internal.FrameworkToExecutorMessage: self._framework_message,
            internal.ShutdownExecutorMessage: self._shutdown,
            internal.StatusUpdateAcknowledgementMessage: self._acknowledged,
            internal.ReconnectExecutorMessage: self._reconnect,
        }, self.log, with_sender=False)

    def start(self):
        """
        Register with the slave; C{DRIVER_ABORTED} (after C{error()}) if the
        environment does not say where it is.
        """
        return self._call(self._start)

    def _start(self):
        if self.status != mesos_pb2.DRIVER_NOT_STARTED:
            return self.status
        self.status = RUNNING
        missing = [name for name in _REQUIRED_ENVIRONMENT if not self.environ.get(name)]
        try:
            if missing:
                raise ValueError(f"missing {', '.join(missing)} in the environment "
                                 "(is this executor running under a slave?)")
            self.slave = UPID.parse(self.environ["MESOS_SLAVE_PID"])
        except ValueError as error:
            self._invoke(self.executor, "error", f"Cannot find the slave: {error}")
            self._finish(mesos_pb2.DRIVER_ABORTED)
            return self.status
        self.framework_id = mesos_pb2.FrameworkID(value=self.environ["MESOS_FRAMEWORK_ID"])
        self.executor_id = mesos_pb2.ExecutorID(value=self.environ["MESOS_EXECUTOR_ID"])
        self.directory = self.environ.get("MESOS_DIRECTORY", "")
        self.checkpoint = self.environ.get("MESOS_CHECKPOINT") == "1"
        if self.checkpoint and self.environ.get("MESOS_RECOVERY_TIMEOUT"):
            try:
                self.recovery_timeout = parse_duration(self.environ["MESOS_RECOVERY_TIMEOUT"])
            except ValueError as error:
                self.log.warn("Ignoring MESOS_RECOVERY_TIMEOUT: {error}", error=str(error))
        self.node = self._node_factory(
            UPID(self.new_process_id("executor"), socket.gethostname(), 0))
        self.node.receiver = self
        self.node.send(self.slave, internal.RegisterExecutorMessage(
            framework_id=self.framework_id, executor_id=self.executor_id))
        return self.status

    def stop(self):
        """
        Stop once the slave has acknowledged every status update sent, or
        once its connection closes: however long that takes, since an
        executor that left before its slave read its last update could
        lose it.
        """
        return self._call(self._stop)

    def _stop(self):
        if self.status != RUNNING:
            return self.status
        self.status = mesos_pb2.DRIVER_STOPPED
        if self.unacknowledged:
            self._awaiting_acknowledgements = True
        else:
            self._close()
        return self.status

    def abort(self):
        """
        Stop at once.
        """
        return self._call(self._abort)

    def _abort(self):
        if self.status != RUNNING:
            return self.status
        self.status = mesos_pb2.DRIVER_ABORTED
        self._close()
        return self.status

    def _close(self):
        self._awaiting_acknowledgements = False
        self._stop_waiting()
        if self.unacknowledged:
            self.log.warn("Stopping with {count} status update(s) the slave never acknowledged",
                          count=len(self.unacknowledged))
        if self.node is not None:
            self.node.disconnect(self.slave)
        self._finish(self.status)

    # The message network.

    def message_received(self, sender, message):
        """
        Turn a message from the slave into a callback.
        """
        if sender != self.slave:
            self.log.warn("Ignoring {name} from {sender}, which is not our slave",
                          name=message.DESCRIPTOR.full_name, sender=str(sender))
            return
        if self.status == RUNNING or isinstance(message, (
                internal.StatusUpdateAcknowledgementMessage, internal.ExecutorRegisteredMessage,
                internal.ReconnectExecutorMessage)):
            self.dispatcher.dispatch(sender, message)

    def peer_lost(self, upid):
        """
        The slave is gone: with checkpointing, wait for it to come back;
        without, shut down (an executor must not outlive its slave).
        """
        if upid != self.slave or self.waiting_for_slave:
            return
        if self.checkpoint and (self.status == RUNNING or self._awaiting_acknowledgements):
            self._wait_for_slave()
        elif self.status == RUNNING:
            self.log.warn("Lost the slave {slave}; shutting down", slave=str(upid))
            if self._invoke(self.executor, "shutdown"):
                self._finish(mesos_pb2.DRIVER_STOPPED)
        elif self._awaiting_acknowledgements:
            self._close()

    def _wait_for_slave(self):
        self.log.warn("Lost the slave {slave}; waiting up to {timeout:g} s for it to come back",
                      slave=str(self.slave), timeout=self.recovery_timeout)
        self.waiting_for_slave = True
        if self.status == RUNNING:
            self._invoke(self.executor, "disconnected")
        self._recovery_call = self._reactor.callLater(self.recovery_timeout,
                                                      self._recovery_timed_out)
        self._reconnect_loop = LoopingCall(self._resubscribe)
        self._reconnect_loop.clock = self._reactor
        self._reconnect_loop.start(RECONNECT_INTERVAL, now=False)

    def _stop_waiting(self):
        self.waiting_for_slave = False
        if self._reconnect_loop is not None and self._reconnect_loop.running:
            self._reconnect_loop.stop()
        self._reconnect_loop = None
        if self._recovery_call is not None and self._recovery_call.active():
            self._recovery_call.cancel()
        self._recovery_call = None

    def _resubscribe(self):
        """
        Subscribe again, naming what the slave has not acknowledged.
        """
        self.node.send(self.slave, internal.ReregisterExecutorMessage(
            executor_id=self.executor_id, framework_id=self.framework_id,
            tasks=list(self.tasks.values()), updates=list(self.unacknowledged.values())))

    def _reconnect(self, message):
        if self.waiting_for_slave:
            self._resubscribe()

    def _recovery_timed_out(self):
        self._recovery_call = None
        self.log.warn("The slave did not come back within {timeout:g} s; shutting down",
                      timeout=self.recovery_timeout)
        self._stop_waiting()
        if self.status == RUNNING:
            self._invoke(self.executor, "shutdown")
            self.status = mesos_pb2.DRIVER_STOPPED
        self._close()

    def _registered(self, message):
        reregistered = self.slave_id is not None
        self.slave_id = message.slave_id
        if self.waiting_for_slave:
            self.log.info("Subscribed again to the slave {slave}", slave=str(self.slave))
            self._stop_waiting()
        if self.status != RUNNING:
            return
        if reregistered:
            self._invoke(self.executor, "reregistered", message.slave_info)
        else:
            self._invoke(self.executor, "registered", message.executor_info,
                         message.framework_info, message.slave_info)

    def _run_task(self, message):
        if self._known(message.task):
            return
        self.tasks[message.task.task_id.value] = message.task
        self._invoke(self.executor, "launchTask", message.task)

    def _run_task_group(self, message):
        if all(self._known(task) for task in message.task_group.tasks):
            return
        for task in message.task_group.tasks:
            self.tasks[task.task_id.value] = task
        self._invoke(self.executor, "launchTaskGroup", list(message.task_group.tasks))

    def _known(self, task):
        """
        Whether C{task} was given to us already: the slave sends a task
        again to an executor that subscribes again without listing it, and
        two subscriptions in a row (the first answer still on its way) get
        it twice; it must not run twice (the simulator found it launched
        three times, seed 10009 of "all --buggify").
        """
        if task.task_id.value in self.tasks:
            self.log.info("Ignoring task {task_id}: it was given to this executor already",
                          task_id=task.task_id.value)
            return True
        return False

    def _kill_task(self, message):
        policy = message.kill_policy if message.HasField("kill_policy") else None
        if hasattr(self.executor, "killTaskWithPolicy"):
            self._invoke(self.executor, "killTaskWithPolicy", message.task_id, policy)
        else:
            self._invoke(self.executor, "killTask", message.task_id)

    def _framework_message(self, message):
        self._invoke(self.executor, "frameworkMessage", message.data)

    def _shutdown(self, message):
        self._invoke(self.executor, "shutdown")
        self._stop()

    def _acknowledged(self, message):
        update = self.unacknowledged.pop(message.uuid, None)
        if update is not None and update.status.state in TERMINAL:
            self.tasks.pop(update.status.task_id.value, None)
        if self._awaiting_acknowledgements and not self.unacknowledged:
            self._close()

    # Calls from the executor.

    def sendStatusUpdate(self, status):
        """
        Report a task's state; the driver stamps the time, a unique uuid and
        this executor's ids, and keeps it until the slave acknowledges it.
        """
        return self._call(self._send_status_update, status)

    def _send_status_update(self, status):
        if self.status != RUNNING:
            return self.status
        if status.state == mesos_pb2.TASK_STAGING:
            self._invoke(self.executor, "error", "Attempted to send TASK_STAGING status update; "
                                                 "executors must not send it")
            return self._abort()
        message = internal.StatusUpdateMessage()
        update = executor_update(status, self.framework_id, self.executor_id, self.slave_id,
                                 self._reactor.seconds(), self.new_uuid(), into=message.update)
        self.unacknowledged[update.uuid] = update
        self.node.send(self.slave, message)
        return self.status

    def sendFrameworkMessage(self, data):
        """
        Send C{data} to the scheduler (best effort).
        """
        return self._call(self._send_framework_message, data)

    def _send_framework_message(self, data):
        if self.status == RUNNING:
            self.node.send(self.slave, executor_message(
                self.framework_id, self.executor_id, self.slave_id, data))
        return self.status
