"""
The classic Mesos framework API: subclass L{Scheduler} or L{Executor} and
override the callbacks you need.  A framework written for Mesos's Python
bindings (C{mesos.interface}) runs after changing its imports to
C{mesos_tw.interface} and C{mesos_tw.native}.

C{mesos_pb2} (the public protobuf messages) is importable from here, as
from C{mesos.interface}.
"""

from mesos_tw.protocols import mesos_pb2

__all__ = ["Executor", "ExecutorDriver", "Scheduler", "SchedulerDriver", "mesos_pb2"]


class Scheduler:
    """
    A framework's scheduler: callbacks from its L{SchedulerDriver}.  Every
    callback does nothing by default.
    """

    def registered(self, driver, frameworkId, masterInfo):
        """
        Registered with a master for the first time, as C{frameworkId}.
        """

    def reregistered(self, driver, masterInfo):
        """
        Registered again with a newly elected or reconnected master.
        """

    def disconnected(self, driver):
        """
        The master is gone; the driver is looking for it again.
        """

    def resourceOffers(self, driver, offers):
        """
        New offers, one per slave: launch tasks on them or decline them.
        """

    def offerRescinded(self, driver, offerId):
        """
        An offer is no longer valid.
        """

    def inverseOffers(self, driver, inverseOffers):
        """
        Maintenance is scheduled for the machines of these slaves (each
        C{InverseOffer} says which slave and its C{unavailability}): move
        the work off them, then C{driver.acceptInverseOffers(ids)}, or
        C{driver.declineInverseOffers(ids)}.  Mesos's Python bindings have
        no such callback (its drivers drop inverse offers); ours is called
        with them.
        """

    def inverseOfferRescinded(self, driver, inverseOfferId):
        """
        An inverse offer is no longer valid (its machine left the schedule
        or went down).
        """

    def statusUpdate(self, driver, status):
        """
        A task changed state.  Returning acknowledges the update.
        """

    def frameworkMessage(self, driver, executorId, slaveId, message):
        """
        An executor sent a message (best effort, binary safe).
        """

    def slaveLost(self, driver, slaveId):
        """
        A slave was removed; its tasks were reported lost.
        """

    def executorLost(self, driver, executorId, slaveId, status):
        """
        An executor exited with wait status C{status}.
        """

    def error(self, driver, message):
        """
        An unrecoverable error; the driver has been aborted.
        """


class Executor:
    """
    A framework's executor: callbacks from its L{ExecutorDriver}.  Every
    callback does nothing by default.
    """

    def registered(self, driver, executorInfo, frameworkInfo, slaveInfo):
        """
        Registered with the slave that launched this executor.
        """

    def reregistered(self, driver, slaveInfo):
        """
        Registered again with a restarted slave.
        """

    def disconnected(self, driver):
        """
        The slave is gone.
        """

    def launchTask(self, driver, task):
        """
        Run C{task}; report its states with C{driver.sendStatusUpdate}.
        """

    def launchTaskGroup(self, driver, tasks):
        """
        Run a task group (a list of C{TaskInfo}s launched together, by a v1
        LAUNCH_GROUP), all of its tasks or none.

        Unlike the other callbacks this one is not silent by default: an
        executor that does not override it reports every task of the group
        TASK_FAILED, saying it runs no task groups, so that no task waits
        in staging for ever.
        """
        for task in tasks:
            driver.sendStatusUpdate(mesos_pb2.TaskStatus(
                task_id=task.task_id, state=mesos_pb2.TASK_FAILED,
                message=f"Executor {type(self).__name__} does not run task groups "
                        "(it has no launchTaskGroup)"))

    def killTask(self, driver, taskId):
        """
        Kill a task, then send its TASK_KILLED update.
        """

    def killTaskWithPolicy(self, driver, taskId, killPolicy):
        """
        Kill a task whose kill came with a C{KillPolicy} (L{None} when it
        came without one): its C{grace_period} overrides the one the task
        was launched with.  By default, L{killTask}.
        """
        self.killTask(driver, taskId)

    def frameworkMessage(self, driver, message):
        """
        The scheduler sent a message (best effort, binary safe).
        """

    def shutdown(self, driver):
        """
        The executor must stop all its tasks and exit.
        """

    def error(self, driver, message):
        """
        An unrecoverable error; the driver has been aborted.
        """


class SchedulerDriver:
    """
    What a scheduler calls (implemented by
    L{mesos_tw.native.MesosSchedulerDriver}).  Every method returns a
    C{mesos_pb2.Status}.
    """

    def start(self):
        """Connect to the master and register."""

    def stop(self, failover=False):
        """Stop; C{failover=True} keeps the framework's tasks for a successor."""

    def abort(self):
        """Stop without unregistering; no more callbacks."""

    def join(self):
        """Wait until stopped or aborted."""

    def run(self):
        """C{start()} then C{join()}."""

    def requestResources(self, requests):
        """Hint at resources wanted."""

    def launchTasks(self, offerIds, tasks, filters=None):
        """Launch tasks on one offer or a list of offers of one slave."""

    def killTask(self, taskId, killPolicy=None):
        """Kill a task (with a C{KillPolicy} overriding the task's, if given)."""

    def declineOffer(self, offerId, filters=None):
        """Decline an offer."""

    def suppressOffers(self):
        """Receive no offers until C{reviveOffers}."""

    def reviveOffers(self):
        """Drop all filters: offer everything again."""

    def sendFrameworkMessage(self, executorId, slaveId, data):
        """Send bytes to an executor."""

    def reconcileTasks(self, statuses):
        """Ask for the latest state of tasks (all, if C{statuses} is empty)."""

    def acknowledgeStatusUpdate(self, status):
        """Acknowledge a status update (drivers without implicit acknowledgements)."""


class ExecutorDriver:
    """
    What an executor calls (implemented by
    L{mesos_tw.native.MesosExecutorDriver}).
    """

    def start(self):
        """Connect to the slave and register."""

    def stop(self):
        """Stop, once the slave has every status update sent."""

    def abort(self):
        """Stop at once."""

    def join(self):
        """Wait until stopped or aborted."""

    def run(self):
        """C{start()} then C{join()}."""

    def sendStatusUpdate(self, status):
        """Report a task's new state (reliably)."""

    def sendFrameworkMessage(self, data):
        """Send bytes to the scheduler (best effort)."""
