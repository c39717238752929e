"""
The master's records of frameworks, slaves, tasks and offers, and their
JSON form for the state endpoint (Mesos's field names).
"""

from collections import deque
from dataclasses import dataclass, field

from google.protobuf import json_format

from mesos_tw.constants import MAX_COMPLETED_TASKS_PER_FRAMEWORK, TERMINAL_STATES
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.web.v1 import to_v1

_NOTHING = Resources()

__all__ = ["FrameworkRecord", "OfferRecord", "SlaveRecord", "TaskRecord", "TERMINAL_STATES",
           "executor_key", "shown_fields", "statistics_json"]

#: The fields of a C{TaskInfo} the state shows as Mesos shows them (its
#: C{Task}'s), though we do not act on them.
_SHOWN_TASK_FIELDS = ("labels", "discovery", "container", "health_check")
#: The fields of a C{TaskStatus} the state shows beside its state and time.
_SHOWN_STATUS_FIELDS = ("labels", "container_status", "healthy")


def held_by(tasks, executors):
    """
    The resources held by C{tasks} (C{{key: TaskRecord}}) and C{executors}
    (C{{key: {executor_id: ExecutorInfo}}}).
    """
    bags = [task.resources for task in tasks.values()]
    for infos in executors.values():
        bags.extend(Resources.from_protobuf(info.resources) for info in infos.values())
    return Resources.sum(bags) if bags else _NOTHING


def state_name(state):
    """
    C{"TASK_RUNNING"} for C{mesos_pb2.TASK_RUNNING}.
    """
    return mesos_pb2.TaskState.Name(state)


def statistics_json(statistics):
    """
    A C{ResourceStatistics} as Mesos's JSON object: its fields that are set.
    """
    return {field.name: value for field, value in statistics.ListFields()}



def shown_fields(task_info):
    """
    A C{TaskInfo} holding only those of C{task_info}'s fields that the
    state shows and the master's C{Task} does not keep (labels, discovery,
    container, health check), or L{None} when it has none of them.
    """
    shown = None
    for name in _SHOWN_TASK_FIELDS:
        if task_info.HasField(name):
            shown = shown or mesos_pb2.TaskInfo()
            getattr(shown, name).CopyFrom(getattr(task_info, name))
    return shown


def executor_key(task):
    """
    C{(framework_id, executor_id)} of the executor that runs a C{Task}: the
    command executor of a task without one has the task's id.
    """
    executor_id = task.executor_id.value if task.HasField("executor_id") else ""
    return (task.framework_id.value, executor_id or task.task_id.value)


@dataclass(slots=True)
class TaskRecord:
    """
    The master's copy of one task (slotted: a busy master holds 100,000s,
    most of them completed).

    @ivar task: its C{Task} message.  A completed task's is kept serialized
        (L{pack}: a message costs over 1 KB, its bytes about 150) and read
        back, a new message each time, when asked for.
    @ivar statistics: the latest C{ResourceStatistics} its slave reported
        for its executor, or L{None} where unknown; shown only while the
        task has not ended.
    @ivar shown: L{shown_fields} of its C{TaskInfo}, or L{None}.
    @ivar statuses: C{(state, timestamp)} of each state it reached, oldest
        first (an update in the same state, a health check's, changes only
        its details).
    @ivar status_details: what Mesos shows of an update beside its state
        and time (its C{container_status}, C{labels}, C{healthy}), as a
        C{TaskStatus} holding only those, by the update's index in
        C{statuses}; made JSON only when the state is shown (most updates
        are never shown, and a conversion costs more than the update).
    """

    _task: object
    resources: Resources
    statuses: list = field(default_factory=list)
    statistics: object = None
    shown: object = None
    status_details: dict = field(default_factory=dict)
    # (message class, bytes) of a packed task, or None.
    _packed: tuple = None

    @property
    def task(self):
        task = self._task
        if task is None:
            kind, data = self._packed
            task = kind()
            task.ParseFromString(data)
        return task

    @task.setter
    def task(self, task):
        self._task, self._packed = task, None

    def pack(self):
        """
        Keep the task serialized from now on: it has ended and moved to its
        framework's completed tasks, where it is read, never changed.
        """
        task = self._task
        if task is not None:
            self._packed = (type(task), task.SerializePartialToString())
            self._task = None

    def add_status(self, status, timestamp):
        """
        Record the update C{status} (a C{TaskStatus}) at C{timestamp}.
        """
        self.statuses.append((status.state, timestamp))
        details = {}
        for name in _SHOWN_STATUS_FIELDS:
            if status.HasField(name):
                details[name] = getattr(status, name)
        if details:
            self.status_details[len(self.statuses) - 1] = mesos_pb2.TaskStatus(**details)

    @property
    def key(self):
        return (self.task.framework_id.value, self.task.task_id.value)

    @property
    def state(self):
        return self.task.state

    @property
    def healthy(self):
        """
        The task's latest reported health, or L{None}.
        """
        details = self.status_details.get(len(self.statuses) - 1)
        if details is None or not details.HasField("healthy"):
            return None
        return details.healthy

    def health_changed(self, healthy):
        """
        Its latest status is reported again with C{healthy} (a health
        check's update): that status shows the new health, and the history
        does not grow.
        """
        index = len(self.statuses) - 1
        details = mesos_pb2.TaskStatus()
        if index in self.status_details:
            details.CopyFrom(self.status_details[index])
        details.healthy = healthy
        self.status_details[index] = details

    def to_json(self):
        """
        The task as in the state JSON, with its executor's latest usage
        as C{statistics} where known.
        """
        task = self.task
        json = {
            "id": task.task_id.value,
            "name": task.name,
            "framework_id": task.framework_id.value,
            "executor_id": task.executor_id.value if task.HasField("executor_id") else "",
            "slave_id": task.slave_id.value,
            "state": state_name(task.state),
            "resources": self.resources.to_json(),
            "statuses": [
                dict(_details_json(self.status_details.get(index)), state=state_name(state),
                     timestamp=timestamp)
                for index, (state, timestamp) in enumerate(self.statuses)
            ],
        }
        if self.statistics is not None and task.state not in TERMINAL_STATES:
            json["statistics"] = statistics_json(self.statistics)
        if self.shown is not None:
            shown = to_v1(self.shown, defaults=True)
            if "labels" in shown:
                shown["labels"] = shown["labels"].get("labels", [])
            json.update(shown)
        return json


def _details_json(details):
    """
    The JSON Mesos shows of an update's C{details} (a C{TaskStatus} of
    L{_SHOWN_STATUS_FIELDS}, or L{None}).
    """
    if details is None:
        return {}
    shown = to_v1(details)
    if "labels" in shown:
        shown["labels"] = shown["labels"].get("labels", [])
    return shown


@dataclass
class OfferRecord:
    """
    An outstanding offer.
    """

    offer: object
    pid: object
    resources: Resources
    timeout_call: object = None

    @property
    def id(self):
        return self.offer.id.value

    @property
    def framework_id(self):
        return self.offer.framework_id.value

    @property
    def slave_id(self):
        return self.offer.slave_id.value

    def to_json(self):
        return {
            "id": self.id,
            "framework_id": self.framework_id,
            "slave_id": self.slave_id,
            "resources": self.resources.to_json(),
        }


@dataclass
class FrameworkRecord:
    """
    A registered framework.

    @ivar executors: C{{slave_id: {executor_id: ExecutorInfo}}}.
    @ivar executor_usage: C{{slave_id: {executor_id: ResourceStatistics}}},
        the latest usage its slaves reported of its executors.
    @ivar unreachable_tasks: C{{task_id: TaskRecord}} of its tasks on
        unreachable slaves (it is partition-aware).
    @ivar inverse_offers: C{{offer_id: InverseOffer}} outstanding.
    """

    id: str
    info: object
    pid: object
    registered_time: float
    active: bool = True
    reregistered_time: float = None
    unregistered_time: float = None
    tasks: dict = field(default_factory=dict)
    completed_tasks: deque = field(
        default_factory=lambda: deque(maxlen=MAX_COMPLETED_TASKS_PER_FRAMEWORK)
    )
    offers: dict = field(default_factory=dict)
    inverse_offers: dict = field(default_factory=dict)
    executors: dict = field(default_factory=dict)
    executor_usage: dict = field(default_factory=dict)
    failover_call: object = None
    unreachable_tasks: dict = field(default_factory=dict)

    def used(self):
        """
        What its tasks and executors hold.
        """
        return held_by(self.tasks, self.executors)

    def offered(self):
        """
        What its outstanding offers hold.
        """
        return Resources.sum(offer.resources for offer in self.offers.values())

    def summary_json(self, used=None):
        """
        The framework as in the state JSON, without its lists of tasks,
        completed tasks and offers.

        @param used: what it holds, when the caller has summed it already.
        """
        used = self.used() if used is None else used
        info = self.info
        json = {
            "id": self.id,
            "name": info.name,
            "user": info.user,
            "role": info.role,
            "pid": str(self.pid),
            "hostname": info.hostname,
            "webui_url": info.webui_url,
            "capabilities": [
                {"type": mesos_pb2.FrameworkInfo.Capability.Type.Name(capability.type)}
                for capability in info.capabilities],
            "active": self.active,
            "connected": self.active,
            "recovered": False,
            "failover_timeout": info.failover_timeout,
            "checkpoint": info.checkpoint,
            "registered_time": self.registered_time,
            "unregistered_time": self.unregistered_time or 0,
            "used_resources": used.to_json(),
            "offered_resources": self.offered().to_json(),
            "executors": [
                self._executor_json(sid, eid, e)
                for sid, executors in self.executors.items()
                for eid, e in executors.items()
            ],
        }
        json["resources"] = json["used_resources"]
        if self.reregistered_time is not None:
            json["reregistered_time"] = self.reregistered_time
        # Accepted, not acted on; shown as Mesos shows them.
        if info.HasField("principal"):
            json["principal"] = info.principal
        if info.HasField("labels"):
            json["labels"] = json_format.MessageToDict(info.labels)["labels"]
        return json

    def _executor_json(self, slave_id, executor_id, info):
        json = {"executor_id": executor_id, "slave_id": slave_id, "name": info.name,
                "source": info.source}
        statistics = self.executor_usage.get(slave_id, {}).get(executor_id)
        if statistics is not None:
            json["statistics"] = statistics_json(statistics)
        return json

    def to_json(self):
        """
        The framework as in the state JSON.
        """
        json = self.summary_json()
        json["tasks"] = [task.to_json() for task in self.tasks.values()]
        json["completed_tasks"] = [task.to_json() for task in self.completed_tasks]
        json["unreachable_tasks"] = [task.to_json() for task in self.unreachable_tasks.values()]
        json["offers"] = [offer.to_json() for offer in self.offers.values()]
        return json


@dataclass(slots=True)
class SlaveRecord:
    """
    A registered slave (slotted: a master may hold 50,000 of them).

    @ivar tasks: C{{(framework_id, task_id): TaskRecord}}.
    @ivar executors: C{{framework_id: {executor_id: ExecutorInfo}}}.
    @ivar usage: C{{(framework_id, executor_id): ResourceStatistics}}, the
        latest usage the slave reported of its running executors.
    @ivar deactivated: whether an operator deactivated it (or is draining
        it): nothing on it is offered.
    @ivar drain_info: its C{DrainInfo} while it is draining or drained.
    """

    id: str
    info: object
    pid: object
    registered_time: float
    total: Resources
    reregistered_time: float = None
    tasks: dict = field(default_factory=dict)
    executors: dict = field(default_factory=dict)
    offers: dict = field(default_factory=dict)
    usage: dict = field(default_factory=dict)
    observer: object = None
    #: Whether its connection is up; a disconnected slave keeps its tasks
    #: but is offered nothing until it re-registers.
    connected: bool = True
    deactivated: bool = False
    drain_info: object = None

    def used(self):
        """
        What tasks and executors hold on this slave.
        """
        return held_by(self.tasks, self.executors)

    def to_json(self):
        attributes = {}
        for attribute in self.info.attributes:
            if attribute.type == mesos_pb2.Value.SCALAR:
                attributes[attribute.name] = attribute.scalar.value
            else:
                attributes[attribute.name] = attribute.text.value
        json = {
            "id": self.id,
            "pid": str(self.pid),
            "hostname": self.info.hostname,
            "port": self.pid.port,
            "registered_time": self.registered_time,
            "resources": self.total.to_json(),
            "used_resources": self.used().to_json(),
            "offered_resources": Resources.sum(
                o.resources for o in self.offers.values()).to_json() if self.offers else {},
            "attributes": attributes,
            "active": self.connected and not self.deactivated,
            "connected": self.connected,
        }
        if self.reregistered_time is not None:
            json["reregistered_time"] = self.reregistered_time
        return json
