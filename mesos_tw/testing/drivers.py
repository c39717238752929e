"""
A recording L{SchedulerDriver <mesos_tw.interface.SchedulerDriver>} for
unit tests of schedulers: it does nothing but remember what it was asked,
so a test drives the scheduler's callbacks itself (on a Clock) and checks
the calls.
"""

from mesos_tw.interface import Scheduler, SchedulerDriver, mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["CallbackRecorder", "RecordingSchedulerDriver", "SchedulerCalls", "numbered_offer", "offer",
           "task_status"]


class CallbackRecorder(Scheduler):
    """
    A scheduler that records every callback as (name, arguments without
    the driver), for tests of the driver under it.
    """

    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        if name in ("registered", "reregistered", "disconnected", "resourceOffers",
                    "offerRescinded", "statusUpdate", "frameworkMessage", "slaveLost",
                    "executorLost", "error"):
            return lambda driver, *args: self.calls.append((name, args))
        return super().__getattribute__(name)

    def names(self):
        """
        The names of the callbacks made, in order.
        """
        return [name for name, _ in self.calls]


class RecordingSchedulerDriver(SchedulerDriver):
    """
    Records launches, declines, kills, revives and stops.

    @ivar launched: C{[(offer ids, tasks, filters)]}.
    @ivar declined: C{[(offer id, filters)]}.
    @ivar killed: task ids (strings) asked to be killed.
    @ivar revived: how many times C{reviveOffers} was called.
    @ivar calls: the name of every call, in order.
    """

    def __init__(self):
        self.launched = []
        self.declined = []
        self.killed = []
        self.revived = 0
        self.calls = []
        self.status = mesos_pb2.DRIVER_RUNNING

    def stop(self, failover=False):
        """
        Record a stop.
        """
        self.calls.append("stop")
        self.status = mesos_pb2.DRIVER_STOPPED
        return self.status

    def abort(self):
        """
        Record an abort.
        """
        self.calls.append("abort")
        self.status = mesos_pb2.DRIVER_ABORTED
        return self.status

    def launchTasks(self, offerIds, tasks, filters=None):
        """
        Record a launch.
        """
        if isinstance(offerIds, mesos_pb2.OfferID):
            offerIds = [offerIds]
        self.calls.append("launchTasks")
        self.launched.append(([o.value for o in offerIds], list(tasks), filters))
        return self.status

    def declineOffer(self, offerId, filters=None):
        """
        Record a decline.
        """
        self.calls.append("declineOffer")
        self.declined.append((offerId.value, filters))
        return self.status

    def killTask(self, taskId, killPolicy=None):
        """
        Record a kill.
        """
        self.calls.append("killTask")
        self.killed.append(taskId.value)
        return self.status

    def reviveOffers(self):
        """
        Count a revive.
        """
        self.calls.append("reviveOffers")
        self.revived += 1
        return self.status

    def suppressOffers(self):
        """
        Record a suppress.
        """
        self.calls.append("suppressOffers")
        return self.status

    def launched_tasks(self):
        """
        C{[(offer id, task id)]} of every task launched, in order.
        """
        return [(offer_ids[0], task.task_id.value)
                for offer_ids, tasks, _ in self.launched for task in tasks]


def offer(offer_id, hostname, rack=None, cpus=1.0, mem=1024.0, slave_id=None):
    """
    An C{Offer} of C{cpus} and C{mem} on C{hostname}, whose slave has the
    C{rack} attribute C{rack} (none when L{None}).
    """
    result = mesos_pb2.Offer(
        id=mesos_pb2.OfferID(value=offer_id),
        framework_id=mesos_pb2.FrameworkID(value="framework"),
        slave_id=mesos_pb2.SlaveID(value=slave_id or f"slave-{hostname}"),
        hostname=hostname)
    for name, amount in (("cpus", cpus), ("mem", mem)):
        resource = result.resources.add(name=name, type=mesos_pb2.Value.SCALAR)
        resource.scalar.value = amount
    if rack is not None:
        attribute = result.attributes.add(name="rack", type=mesos_pb2.Value.TEXT)
        attribute.text.value = rack
    return result


def numbered_offer(number, hostname, resources="cpus:4;mem:4096;ports:[31000-31009]",
                   **attributes):
    """
    An offer C{O<number>-<hostname>} from slave C{S<number>} on
    C{hostname}, of C{resources} (Mesos's text form), with text
    C{attributes}.
    """
    result = mesos_pb2.Offer(
        id=mesos_pb2.OfferID(value=f"O{number}-{hostname}"),
        framework_id=mesos_pb2.FrameworkID(value="F"),
        slave_id=mesos_pb2.SlaveID(value=f"S{number}"), hostname=hostname,
        resources=Resources.parse(resources).to_protobuf())
    for name, value in attributes.items():
        result.attributes.add(name=name, type=mesos_pb2.Value.TEXT, text=mesos_pb2.Value.Text(
            value=value))
    return result


def task_status(task_id, state, message=""):
    """
    A C{TaskStatus} of C{task_id} in C{state} (a name, C{"TASK_RUNNING"}).
    """
    return mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id),
                                state=mesos_pb2.TaskState.Value(state), message=message)


class SchedulerCalls:
    """
    A test case mix-in handing C{self.scheduler} callbacks as its driver
    C{self.driver} would.
    """

    def register(self):
        """
        Hand the scheduler its registration.
        """
        self.scheduler.registered(self.driver, mesos_pb2.FrameworkID(value="f"),
                                  mesos_pb2.MasterInfo())

    def offers(self, *offers):
        """
        Hand the scheduler C{offers}.
        """
        self.scheduler.resourceOffers(self.driver, list(offers))

    def status(self, task_id, state, message=""):
        """
        Hand the scheduler a status update.
        """
        self.scheduler.statusUpdate(self.driver, task_status(task_id, state, message))
