"""
What a slave checkpointed under C{<work_dir>/meta/}, read back when it
starts again (Mesos's C{src/slave/state.hpp}: C{SlaveState},
C{FrameworkState}, C{ExecutorState}, C{RunState}, C{TaskState}).

The layout is in L{mesos_tw.slave.paths}.  With C{strict} a file that
cannot be read fails the whole recovery with a L{CheckpointError} naming
it; without, the entry it belongs to is skipped, the reason logged and
counted in C{SlaveState.errors}, and recovery goes on.  A directory that
is missing where the layout needs one (a framework whose info was never
written: the slave died first) is not an error: there is nothing to
recover there.
"""

import os
from dataclasses import dataclass, field

from twisted.logger import Logger

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave import paths
from mesos_tw.slave.checkpoint import CheckpointError, read_message, read_messages, read_text

__all__ = [
    "ExecutorState",
    "FrameworkState",
    "RunState",
    "SlaveState",
    "TaskState",
    "read_boot_id",
    "recover_slave_state",
]

log = Logger()


@dataclass
class TaskState:
    """
    A checkpointed task: its C{Task} and its status update stream.

    @ivar updates: the C{StatusUpdate}s taken, in order.
    @ivar acks: the uuids acknowledged by the framework, in order.
    """

    id: str
    info: object = None
    updates: list = field(default_factory=list)
    acks: list = field(default_factory=list)

    def unacknowledged(self):
        """
        The updates not yet acknowledged, in order.
        """
        acknowledged = set(self.acks)
        return [update for update in self.updates if update.uuid not in acknowledged]

    def latest_state(self):
        """
        The state of its latest update, or C{TASK_STAGING} if none.
        """
        return self.updates[-1].status.state if self.updates else mesos_pb2.TASK_STAGING


@dataclass
class RunState:
    """
    One checkpointed run of an executor.

    @ivar forked_pid: the executor's process id, if it was launched.
    @ivar start_time: that process's start time (clock ticks since boot,
        from C{/proc/<pid>/stat}), to tell it from a later process given
        the same pid.
    @ivar libprocess_pid: the UPID it registered from, if it registered.
    @ivar completed: whether the run has ended (its sentinel exists).
    """

    id: str
    forked_pid: int = None
    start_time: int = None
    libprocess_pid: str = None
    completed: bool = False
    tasks: dict = field(default_factory=dict)


@dataclass
class ExecutorState:
    """
    A checkpointed executor: its C{ExecutorInfo} and runs.

    @ivar latest: the id of its latest run.
    """

    id: str
    info: object = None
    latest: str = None
    runs: dict = field(default_factory=dict)


@dataclass
class FrameworkState:
    """
    A checkpointed framework: its C{FrameworkInfo}, scheduler UPID and
    executors.
    """

    id: str
    info: object = None
    pid: str = None
    executors: dict = field(default_factory=dict)


@dataclass
class SlaveState:
    """
    The checkpointed state of the latest slave id a work directory had.

    @ivar errors: how many entries were skipped (non-strict recovery).
    """

    id: str
    info: object = None
    frameworks: dict = field(default_factory=dict)
    errors: int = 0


def read_boot_id(work_dir):
    """
    The boot id the slave checkpointed at its last start, or L{None}.
    """
    path = paths.boot_id_path(work_dir)
    if not os.path.exists(path):
        return None
    return read_text(path)


def _entries(directory):
    try:
        return sorted(name for name in os.listdir(directory) if name != "latest"
                      and not name.startswith("."))
    except FileNotFoundError:
        return []


class _Reader:
    """
    Reads one slave's state, strictly or skipping what is unreadable.
    """

    def __init__(self, work_dir, strict):
        self.work_dir = work_dir
        self.strict = strict
        self.errors = 0

    def skip(self, error, what):
        """
        A file could not be read: fail (strict), or log and count it.
        """
        if self.strict:
            raise error
        self.errors += 1
        log.warn("Skipping {what} in recovery: {path}: {why}", what=what, path=error.path,
                 why=error.why)

    def slave(self, slave_id):
        state = SlaveState(slave_id)
        state.info = read_message(paths.slave_info_path(self.work_dir, slave_id),
                                  mesos_pb2.SlaveInfo)
        frameworks = os.path.join(paths.slave_meta_directory(self.work_dir, slave_id),
                                  "frameworks")
        for framework_id in _entries(frameworks):
            try:
                framework = self.framework(slave_id, framework_id)
            except CheckpointError as error:
                self.skip(error, f"framework {framework_id}")
                continue
            if framework is not None:
                state.frameworks[framework_id] = framework
        state.errors = self.errors
        return state

    def framework(self, slave_id, framework_id):
        directory = paths.framework_meta_directory(self.work_dir, slave_id, framework_id)
        info_path = os.path.join(directory, "framework.info")
        if not os.path.exists(info_path):
            log.info("Framework {framework_id} has no checkpointed info; nothing to recover",
                     framework_id=framework_id)
            return None
        state = FrameworkState(framework_id)
        state.info = read_message(info_path, mesos_pb2.FrameworkInfo)
        state.pid = read_text(os.path.join(directory, "framework.pid"))
        for executor_id in _entries(os.path.join(directory, "executors")):
            try:
                executor = self.executor(slave_id, framework_id, executor_id)
            except CheckpointError as error:
                self.skip(error, f"executor {executor_id} of framework {framework_id}")
                continue
            if executor is not None:
                state.executors[executor_id] = executor
        return state

    def executor(self, slave_id, framework_id, executor_id):
        directory = paths.executor_meta_directory(self.work_dir, slave_id, framework_id,
                                                  executor_id)
        info_path = os.path.join(directory, "executor.info")
        if not os.path.exists(info_path):
            return None
        state = ExecutorState(executor_id)
        state.info = read_message(info_path, mesos_pb2.ExecutorInfo)
        runs = os.path.join(directory, "runs")
        latest = os.path.join(runs, "latest")
        if os.path.islink(latest):
            state.latest = os.readlink(latest)
        for run_id in _entries(runs):
            try:
                state.runs[run_id] = self.run(slave_id, framework_id, executor_id, run_id)
            except CheckpointError as error:
                self.skip(error, f"run {run_id} of executor {executor_id}")
        return state

    def run(self, slave_id, framework_id, executor_id, run_id):
        directory = paths.run_meta_directory(self.work_dir, slave_id, framework_id,
                                             executor_id, run_id)
        state = RunState(run_id)
        state.completed = os.path.exists(os.path.join(directory, "executor.sentinel"))
        pids = os.path.join(directory, "pids")
        forked = os.path.join(pids, "forked.pid")
        if os.path.exists(forked):
            state.forked_pid = _integer(forked)
            started = os.path.join(pids, "forked.starttime")
            if os.path.exists(started):
                state.start_time = _integer(started)
        libprocess = os.path.join(pids, "libprocess.pid")
        if os.path.exists(libprocess):
            state.libprocess_pid = read_text(libprocess)
        for task_id in _entries(os.path.join(directory, "tasks")):
            try:
                task = self.task(os.path.join(directory, "tasks", task_id), task_id)
            except CheckpointError as error:
                self.skip(error, f"task {task_id} of executor {executor_id}")
                continue
            if task is not None:
                state.tasks[task_id] = task
        return state

    def task(self, directory, task_id):
        info_path = os.path.join(directory, "task.info")
        if not os.path.exists(info_path):
            return None
        state = TaskState(task_id)
        state.info = read_message(info_path, internal.Task)
        updates = os.path.join(directory, "task.updates")
        if os.path.exists(updates):
            for record in read_messages(updates, internal.StatusUpdateRecord):
                if record.type == internal.StatusUpdateRecord.UPDATE:
                    state.updates.append(record.update)
                else:
                    state.acks.append(record.uuid)
        return state


def _integer(path):
    text = read_text(path)
    try:
        return int(text)
    except ValueError:
        raise CheckpointError(path, f"not a number: {text[:40]!r}") from None


def recover_slave_state(work_dir, strict=True):
    """
    The state of the slave id C{meta/slaves/latest} names, or L{None}
    when there is none (a first start, or a slave that never registered).

    @raise CheckpointError: with C{strict}, for the first file that cannot
        be read; without, only if the slave's own C{slave.info} cannot be.
    """
    latest = os.path.join(paths.slaves_meta_directory(work_dir), "latest")
    if not os.path.islink(latest):
        return None
    slave_id = os.readlink(latest)
    if not os.path.isdir(paths.slave_meta_directory(work_dir, slave_id)):
        raise CheckpointError(latest, f"names slave {slave_id}, which has no directory")
    return _Reader(work_dir, strict).slave(slave_id)
