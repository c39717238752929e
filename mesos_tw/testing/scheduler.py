"""
A scheduler for integration tests and benchmarks: it launches the tasks it
is given on the offers it gets (one per offer, so they spread over the
slaves), runs them on L{mesos_tw.testing.echo_executor}, and records every
callback so a test can wait for what it expects.
"""

import sys

from twisted.internet.defer import Deferred

from mesos_tw.interface import Scheduler, mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["RecordingScheduler", "TaskScheduler", "command_task", "echo_executor_info"]

TASK_RESOURCES = "cpus:0.1;mem:16"


def echo_executor_info():
    """
    The C{ExecutorInfo} of the echo executor, run by this Python.
    """
    return mesos_pb2.ExecutorInfo(
        executor_id=mesos_pb2.ExecutorID(value="echo"),
        command=mesos_pb2.CommandInfo(
            value=f"{sys.executable} -m mesos_tw.testing.echo_executor"),
        name="echo executor",
    )


class RecordingScheduler(Scheduler):
    """
    Launches queued tasks and records everything it hears.

    @ivar events: C{(callback name, details)} in order.
    @ivar states: C{{task_id: [state names]}} from every status update
        handed to us (so a duplicate would show as a repeated state).
    @ivar slaves: C{{task_id: slave_id}} of launched tasks.
    @ivar messages: framework messages received.
    """

    def __init__(self, clock):
        self.clock = clock
        self.executor = echo_executor_info()
        self.events = []
        self.states = {}
        self.slaves = {}
        self.messages = []
        self.framework_id = None
        self._queued = []
        self._waiters = []

    def launch(self, task_id, finish_file=None):
        """
        Queue a task for the next offer; it finishes once C{finish_file}
        exists (never, without one).
        """
        self._queued.append((task_id, finish_file))

    def count(self, name):
        """
        How many times the callback C{name} was called.
        """
        return sum(1 for event, _ in self.events if event == name)

    def latest(self, task_id):
        """
        The name of the latest state of C{task_id}, or L{None}.
        """
        states = self.states.get(task_id)
        return states[-1] if states else None

    def wait(self, predicate, what, timeout=60.0):
        """
        A Deferred that fires once C{predicate(self)} holds (checked after
        every callback), or fails after C{timeout} seconds saying C{what}
        was awaited and what happened instead.
        """
        d = Deferred()
        if predicate(self):
            d.callback(self)
            return d
        entry = (predicate, d)
        self._waiters.append(entry)

        def expire():
            if entry in self._waiters:
                self._waiters.remove(entry)
                d.errback(AssertionError(
                    f"timed out after {timeout}s waiting for {what}; events: {self.events[-30:]}"))

        call = self.clock.callLater(timeout, expire)
        d.addBoth(lambda result: (call.active() and call.cancel(), result)[1])
        return d

    def _record(self, name, details=None):
        self.events.append((name, details))
        for entry in list(self._waiters):
            predicate, d = entry
            if entry in self._waiters and predicate(self):
                self._waiters.remove(entry)
                d.callback(self)

    # Scheduler callbacks.

    def registered(self, driver, frameworkId, masterInfo):
        self.framework_id = frameworkId.value
        self._record("registered", masterInfo.pid)

    def reregistered(self, driver, masterInfo):
        self._record("reregistered", masterInfo.pid)

    def disconnected(self, driver):
        self._record("disconnected")

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if not self._queued:
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=1))
                continue
            task_id, finish_file = self._queued.pop(0)
            task = mesos_pb2.TaskInfo(
                name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
                slave_id=offer.slave_id, executor=self.executor,
                resources=Resources.parse(TASK_RESOURCES).to_protobuf(),
                data=(finish_file or "").encode("utf-8"))
            self.slaves[task_id] = offer.slave_id.value
            driver.launchTasks([offer.id], [task])
        self._record("resourceOffers", len(offers))

    def offerRescinded(self, driver, offerId):
        self._record("offerRescinded", offerId.value)

    def statusUpdate(self, driver, status):
        name = mesos_pb2.TaskState.Name(status.state)
        self.states.setdefault(status.task_id.value, []).append(name)
        self._record("statusUpdate", (status.task_id.value, name, status.message))

    def frameworkMessage(self, driver, executorId, slaveId, message):
        self.messages.append(message)
        self._record("frameworkMessage", message)

    def slaveLost(self, driver, slaveId):
        self._record("slaveLost", slaveId.value)

    def executorLost(self, driver, executorId, slaveId, status):
        self._record("executorLost", (executorId.value, slaveId.value, status))

    def error(self, driver, message):
        self._record("error", message)


class TaskScheduler(Scheduler):
    """
    Launches the given tasks on the first offers and records every update;
    C{done} fires when every task has reached a terminal state.
    """

    def __init__(self, make_tasks, count):
        self.make_tasks = make_tasks
        self.count = count
        self.launched = False
        self.updates = []
        self.messages = []
        self.finals = {}
        self.done = Deferred()
        self.on_running = {}

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            self.launched = True
            driver.launchTasks(offer.id, self.make_tasks(offer.slave_id.value))

    def statusUpdate(self, driver, status):
        self.updates.append((status.task_id.value, status.state, status.message))
        if status.state == mesos_pb2.TASK_RUNNING and status.task_id.value in self.on_running:
            self.on_running.pop(status.task_id.value)(driver)
        if status.state not in (mesos_pb2.TASK_STAGING, mesos_pb2.TASK_STARTING,
                                mesos_pb2.TASK_RUNNING):
            self.finals[status.task_id.value] = status
            if len(self.finals) == self.count and not self.done.called:
                self.done.callback(None)

    def frameworkMessage(self, driver, executorId, slaveId, message):
        self.messages.append(message)


def command_task(task_id, slave_id, command, resources="cpus:0.1;mem:32"):
    """
    A command task.
    """
    task = mesos_pb2.TaskInfo(
        name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
        slave_id=mesos_pb2.SlaveID(value=slave_id),
        resources=Resources.parse(resources).to_protobuf())
    task.command.value = command
    return task
