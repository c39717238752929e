"""
The slave's records of frameworks, executors and tasks: plain data, so a
later slave-recovery feature can checkpoint them.
"""

from collections import deque
from dataclasses import dataclass, field

from mesos_tw.constants import (
    TERMINAL_STATES,
    MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK,
    MAX_COMPLETED_TASKS_PER_EXECUTOR,
)
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources

__all__ = ["ExecutorRecord", "FrameworkRecord", "TERMINAL_STATES", "lost_state"]

#: Executor life cycle: launching (process starting, not registered),
#: running (registered), terminating (asked to shut down), terminated.
#: A running executor is connected (its C{pid} is where it listens) or
#: disconnected (its connection broke, its process lives on: C{pid} is
#: L{None} until it subscribes again, or until the slave gives up on it).
LAUNCHING, RUNNING, TERMINATING, TERMINATED = "launching", "running", "terminating", "terminated"


def _cancel(timer):
    if timer is not None and timer.active():
        timer.cancel()


def _task_json(task):
    return {
        "id": task.task_id.value,
        "name": task.name,
        "framework_id": task.framework_id.value,
        "executor_id": task.executor_id.value,
        "slave_id": task.slave_id.value,
        "state": mesos_pb2.TaskState.Name(task.state),
        "resources": Resources.from_protobuf(task.resources).to_json(),
    }


class _Tally:
    """
    The resources of the tasks an executor holds, queued or sent, kept up
    to date as they come and go (an executor may hold thousands, and its
    limits are asked for in every turn in which any came or went), each
    task's parsed once: a task's resources do not change while it is held.

    The total always stands for a set of distinct tasks (a task that goes
    and comes back before the next L{total} is neither subtracted nor
    added), whose ranges (ports) are disjoint, as the master's launch
    validation makes them: ranges and sets add up as unions, so only
    that makes subtracting one task's exact.
    """

    def __init__(self):
        self._counted = {}
        self._came = {}
        self._went = {}
        self._total = Resources()

    def came(self, task_id, task):
        entry = self._counted.get(task_id)
        if entry is not None:
            entry[0] += 1
            return
        bag = self._went.pop(task_id, None)
        if bag is None:
            bag = self._came[task_id] = Resources.from_protobuf(task.resources)
        self._counted[task_id] = [1, bag]

    def went(self, task_id):
        entry = self._counted[task_id]
        entry[0] -= 1
        if not entry[0]:
            del self._counted[task_id]
            if self._came.pop(task_id, None) is None:
                self._went[task_id] = entry[1]

    def total(self):
        """
        The tasks' resources in all.
        """
        if not self._counted:
            # Nothing held: no rounding residue of what came and went.
            self._total = Resources()
        elif self._came or self._went:
            total = self._total
            if self._came:
                total = Resources.sum([total, *self._came.values()])
            if self._went:
                total = total - Resources.sum(self._went.values())
            self._total = total
        self._came.clear()
        self._went.clear()
        return self._total


class _HeldTasks(dict):
    """
    C{{task_id: task}} that tells its executor's L{_Tally} of every task
    that comes or goes, however it is changed (reading costs what a dict's
    does).
    """

    __slots__ = ("_tally",)

    def __init__(self, tally, tasks=()):
        super().__init__()
        self._tally = tally
        self.update(tasks)

    def __setitem__(self, task_id, task):
        if task_id not in self:
            self._tally.came(task_id, task)
        dict.__setitem__(self, task_id, task)

    def __delitem__(self, task_id):
        dict.__delitem__(self, task_id)
        self._tally.went(task_id)

    def pop(self, task_id, *default):
        if task_id in self:
            self._tally.went(task_id)
        return dict.pop(self, task_id, *default)

    def popitem(self):
        task_id, task = dict.popitem(self)
        self._tally.went(task_id)
        return task_id, task

    def setdefault(self, task_id, task=None):
        if task_id not in self:
            self[task_id] = task
        return dict.__getitem__(self, task_id)

    def update(self, *others, **more):
        for task_id, task in dict(*others, **more).items():
            self[task_id] = task

    def __ior__(self, other):
        # dict's own |= would add past __setitem__, uncounted.
        self.update(other)
        return self

    def clear(self):
        for task_id in self:
            self._tally.went(task_id)
        dict.clear(self)


@dataclass
class ExecutorRecord:
    """
    One run of an executor.

    @ivar pid: the UPID of its connection; L{None} before it registers and
        while it is disconnected.
    @ivar queued_tasks: C{{task_id: TaskInfo}} waiting for registration (or
        for a disconnected executor to subscribe again).  It and C{tasks}
        count their tasks' resources as they change: change them in
        place, never replace them.
    @ivar queued_groups: the task groups among them, each a list of task
        ids, to be sent together.
    @ivar tasks: C{{task_id: Task}} sent to the executor, not yet terminal.
    @ivar staging: C{{task_id: (TaskInfo, group)}} of the tasks sent that
        are still C{TASK_STAGING} (its keys are those of C{tasks} in that
        state): what is sent again to an executor that subscribes again
        without having seen them.  C{group} lists the task ids of the task
        group it was sent in, to send again together, or is L{None}.
    @ivar pending_kills: ids of sent tasks whose kill came while the
        executor was disconnected, passed on when it subscribes again.
    """

    info: object
    framework_id: str
    run_id: str
    directory: str
    command_executor: bool
    state: str = LAUNCHING
    pid: object = None
    queued_tasks: dict = field(default_factory=dict)
    queued_groups: list = field(default_factory=list)
    tasks: dict = field(default_factory=dict)
    staging: dict = field(default_factory=dict)
    pending_kills: set = field(default_factory=set)
    completed_tasks: deque = field(
        default_factory=lambda: deque(maxlen=MAX_COMPLETED_TASKS_PER_EXECUTOR))
    registration_timer: object = None
    reregistration_timer: object = None
    shutdown_timer: object = None
    #: The L{Termination} of its process while the slave still reads its
    #: connection (the connection's end, not the process's, closes the
    #: book), and the timer bounding that wait.
    exit: object = None
    exit_timer: object = None
    #: A pending update of the isolator's limits (one per turn at most).
    limits_call: object = None
    _tally: _Tally = field(default_factory=_Tally, repr=False)
    #: C{(state, reason, message)} its unfinished tasks end with when it
    #: exits, when the slave decided that before killing it.
    termination: tuple = None
    #: Whether a restarted slave recovered it from its checkpoint.
    recovered: bool = False
    #: The UPID text it registered from, as checkpointed.
    checkpointed_pid: str = None

    @property
    def id(self):
        """
        The executor's id.
        """
        return self.info.executor_id.value

    @property
    def connected(self):
        """
        Whether it is registered and its connection is up: what is sent to
        it now can reach it.
        """
        return self.state == RUNNING and self.pid is not None

    def __post_init__(self):
        self.tasks = _HeldTasks(self._tally, self.tasks)
        self.queued_tasks = _HeldTasks(self._tally, self.queued_tasks)

    def resources(self):
        """
        The executor's own resources plus its tasks' (queued or sent), the
        latter kept up to date as tasks come and go.
        """
        return Resources.from_protobuf(self.info.resources) + self._tally.total()

    def queue(self, tasks, grouped):
        """
        Keep C{tasks} (a task group if C{grouped}) until the executor can
        be sent them.
        """
        for task in tasks:
            self.queued_tasks[task.task_id.value] = task
        if grouped:
            self.queued_groups.append([task.task_id.value for task in tasks])

    def queued_group_of(self, task_id):
        """
        The queued task group (a list of task ids) holding C{task_id}, or
        L{None}.
        """
        for group in self.queued_groups:
            if task_id in group:
                return group
        return None

    def take_queued(self):
        """
        Empty the queue.

        @return: C{(groups, tasks)}: the queued task groups, each a list of
            C{TaskInfo}s, and the single tasks, in the order they came.
        """
        queued = dict(self.queued_tasks)
        self.queued_tasks.clear()
        groups, self.queued_groups = self.queued_groups, []
        grouped = {task_id for group in groups for task_id in group}
        return ([[queued[task_id] for task_id in group] for group in groups],
                [task for task_id, task in queued.items() if task_id not in grouped])

    def cancel_registration_timer(self):
        """
        Stop waiting for it to register.
        """
        _cancel(self.registration_timer)
        self.registration_timer = None

    def cancel_reregistration_timer(self):
        """
        Stop waiting for it to subscribe again.
        """
        _cancel(self.reregistration_timer)
        self.reregistration_timer = None

    def cancel_timers(self):
        """
        Stop the registration, re-registration, shutdown and exit timers.
        """
        self.cancel_registration_timer()
        self.cancel_reregistration_timer()
        _cancel(self.shutdown_timer)
        self.shutdown_timer = None
        _cancel(self.exit_timer)
        self.exit_timer = None
        _cancel(self.limits_call)
        self.limits_call = None

    def to_json(self):
        """
        The executor as in the slave's C{state} JSON.
        """
        return {
            "id": self.id,
            "name": self.info.name,
            "source": self.info.source,
            "uuid": self.run_id,
            "directory": self.directory,
            "resources": self.resources().to_json(),
            "tasks": [_task_json(t) for t in self.tasks.values()],
            "queued_tasks": [
                {"id": t.task_id.value, "name": t.name,
                 "resources": Resources.from_protobuf(t.resources).to_json()}
                for t in self.queued_tasks.values()
            ],
            "completed_tasks": [_task_json(t) for t in self.completed_tasks],
        }


@dataclass
class FrameworkRecord:
    """
    A framework with executors on this slave.

    @ivar pid: its scheduler's UPID text (status updates' acks come from it).
    """

    id: str
    info: object
    pid: str
    executors: dict = field(default_factory=dict)
    completed_executors: deque = field(
        default_factory=lambda: deque(maxlen=MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK))
    shutting_down: bool = False

    def to_json(self):
        """
        The framework as in the slave's C{state} JSON.
        """
        return {
            "id": self.id,
            "name": self.info.name,
            "user": self.info.user,
            "executors": [e.to_json() for e in self.executors.values()],
            "completed_executors": [e.to_json() for e in self.completed_executors],
        }


def lost_state(framework, partition_aware_state):
    """
    The state a task of C{framework} the slave could not keep ends in:
    C{partition_aware_state} (C{TASK_GONE}, C{TASK_DROPPED}) for a
    framework with the C{PARTITION_AWARE} capability, C{TASK_LOST} for
    the others (Mesos's choice).
    """
    aware = any(capability.type == mesos_pb2.FrameworkInfo.Capability.PARTITION_AWARE
                for capability in framework.info.capabilities)
    return partition_aware_state if aware else mesos_pb2.TASK_LOST
