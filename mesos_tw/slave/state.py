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


@dataclass
class ExecutorRecord:
    """
    One run of an executor.

    @ivar pid: the UPID of its connection; L{None} before it registers and
        while it is disconnected.
    @ivar queued_tasks: C{{task_id: TaskInfo}} waiting for registration (or
        for a disconnected executor to subscribe again).
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
    #: The resources of each task counted in C{_tasks_total}, by task id.
    _counted: dict = field(default_factory=dict, repr=False)
    _tasks_total: Resources = field(default_factory=Resources, repr=False)
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

    def resources(self):
        """
        The executor's own resources plus its tasks'.  An executor may
        hold thousands of tasks and this is asked once per turn in which
        any came or went, so the tasks' total is kept up to date from the
        ids that came and went since the last call (set differences, in
        C), each task's resources parsed once: a task's resources do not
        change while the executor holds it, whether it is queued or sent.
        """
        held = self.tasks.keys() | self.queued_tasks.keys()
        counted = self._counted
        if not held:
            counted.clear()
            self._tasks_total = Resources()
        elif held != counted.keys():
            gone = [counted.pop(task_id) for task_id in counted.keys() - held]
            came = []
            for task_id in held - counted.keys():
                task = self.tasks.get(task_id)
                if task is None:
                    task = self.queued_tasks[task_id]
                counted[task_id] = bag = Resources.from_protobuf(task.resources)
                came.append(bag)
            total = self._tasks_total
            if came:
                total = Resources.sum([total, *came])
            for bag in gone:
                total = total - bag
            self._tasks_total = total
        return Resources.from_protobuf(self.info.resources) + self._tasks_total

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
        queued, self.queued_tasks = self.queued_tasks, {}
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
