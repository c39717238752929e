"""
C{mesos execute}: a framework of one command task, as Mesos's
C{mesos-execute}.  It registers, launches the command on the first offer
that holds its resources, reports each state the task goes through, and
ends when the task does.
"""

import uuid

from twisted.internet.defer import Deferred

from mesos_tw.constants import TERMINAL_STATES
from mesos_tw.interface import Scheduler
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["CommandScheduler", "command_task"]


def command_task(name, command, resources, environment=(), task_id=None):
    """
    The C{TaskInfo} of a shell command (its slave is set at launch).

    @param environment: C{(name, value)} pairs for the command.
    """
    task = mesos_pb2.TaskInfo(name=name, task_id=mesos_pb2.TaskID(
        value=task_id or f"{name}-{uuid.uuid4().hex[:8]}"), resources=resources.to_protobuf())
    task.slave_id.value = ""
    task.command.value = command
    for key, value in environment:
        task.command.environment.variables.add(name=key, value=value)
    return task


class CommandScheduler(Scheduler):
    """
    Runs one task.

    @param report: called with each C{TaskStatus} of the task.
    @ivar launched: fires with the C{TaskInfo} once launched on a slave.
    @ivar ended: fires with the task's terminal C{TaskStatus}, or fails
        with the framework's error.
    """

    def __init__(self, task, report):
        self.task = task
        self.report = report
        self.needed = Resources.from_protobuf(task.resources)
        self.launched = Deferred()
        self.ended = Deferred()
        self.framework_id = None

    def registered(self, driver, frameworkId, masterInfo):
        """
        Keep the framework id.
        """
        self.framework_id = frameworkId.value

    def resourceOffers(self, driver, offers):
        """
        Launch on the first offer that holds the task's resources; decline
        the rest (and every offer once launched).
        """
        for offer in offers:
            fits = Resources.from_protobuf(offer.resources).contains(self.needed)
            if self.launched.called or not fits:
                driver.declineOffer(offer.id)
                continue
            self.task.slave_id.CopyFrom(offer.slave_id)
            driver.launchTasks(offer.id, [self.task])
            self.launched.callback(self.task)

    def statusUpdate(self, driver, status):
        """
        Report the task's state; its end ends the run.
        """
        if status.task_id.value != self.task.task_id.value:
            return
        self.report(status)
        if status.state in TERMINAL_STATES and not self.ended.called:
            self.ended.callback(status)

    def error(self, driver, message):
        """
        The master refused the framework.
        """
        if not self.ended.called:
            self.ended.errback(RuntimeError(f"the master refused the framework: {message}"))
