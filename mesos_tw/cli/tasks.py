"""
What the command line finds out about tasks through the operator APIs:
a task named on the command line (by id, a unique prefix of one, or its
name), the slave it ran on, its sandbox, and its files read once or
followed as they grow.
"""

from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater

from mesos_tw.cli.client import OperatorError
from mesos_tw.constants import TERMINAL_STATES
from mesos_tw.protocols import agent_pb2, master_pb2
from mesos_tw.web.agents import SlaveClient

__all__ = ["Ambiguous", "NotFound", "TaskFiles", "find_task", "tasks_of"]

#: How often a followed file is read again, in seconds.
FOLLOW_INTERVAL = 0.5
#: The most bytes read at once.
CHUNK = 64 * 1024


class NotFound(Exception):
    """
    Nothing matches what was named.
    """


class Ambiguous(Exception):
    """
    Several things match what was named.
    """


def tasks_of(response, include_completed=False):
    """
    The C{mesos.Task}s of a GET_TASKS response (those that have not ended,
    then, if asked, the completed ones).
    """
    tasks = list(response.get_tasks.tasks)
    if include_completed:
        tasks += list(response.get_tasks.completed_tasks)
    return tasks


def find_task(tasks, spec):
    """
    The one task among C{tasks} whose id is C{spec}, or whose id starts
    with it, or whose name is it.

    @raise NotFound: if none does.
    @raise Ambiguous: if several do, naming them.
    """
    exact = [t for t in tasks if t.task_id.value == spec]
    if len(exact) == 1:
        return exact[0]
    matches = exact or [t for t in tasks if t.task_id.value.startswith(spec)] or \
        [t for t in tasks if t.name == spec]
    if not matches:
        raise NotFound(f"no task matches {spec!r}")
    if len(matches) > 1:
        names = ", ".join(f"{t.task_id.value} (framework {t.framework_id.value})"
                          for t in matches[:10])
        raise Ambiguous(f"{len(matches)} tasks match {spec!r}: {names}")
    return matches[0]


def _executor_directory(state, task):
    """
    The sandbox of the executor that ran C{task}, from the slave's state
    JSON.
    """
    task_id, framework_id = task.task_id.value, task.framework_id.value
    for framework in state.get("frameworks", []) + state.get("completed_frameworks", []):
        if framework["id"] != framework_id:
            continue
        for executor in framework["executors"] + framework["completed_executors"]:
            listed = executor["tasks"] + executor["queued_tasks"] + executor["completed_tasks"]
            if any(entry["id"] == task_id for entry in listed):
                return executor["directory"]
    return None


class TaskFiles:
    """
    A task's sandbox, read through its slave's operator API.

    @ivar address: the slave's C{host:port}.
    @ivar directory: the sandbox's path on the slave.
    """

    def __init__(self, client, address, directory):
        self.client = client
        self.address = address
        self.directory = directory

    @classmethod
    @inlineCallbacks
    def of(cls, client, task):
        """
        The sandbox of C{task} (a C{mesos.Task}).

        @raise NotFound: if its slave is gone or does not know it.
        """
        agents = yield client.call(master_pb2.Call(type=master_pb2.Call.GET_AGENTS))
        pids = [a.pid for a in agents.get_agents.agents
                if a.agent_info.id.value == task.slave_id.value]
        if not pids:
            raise NotFound(f"task {task.task_id.value}'s slave {task.slave_id.value} is not "
                           "registered; its sandbox cannot be read")
        address = pids[0].split("@", 1)[1]
        state = yield SlaveClient(client.reactor).get_json(pids[0], "/slave(1)/state")
        directory = _executor_directory(state, task)
        if directory is None:
            raise NotFound(f"slave {task.slave_id.value} has no sandbox of task "
                           f"{task.task_id.value}")
        return cls(client, address, directory)

    def path(self, name):
        """
        The path on the slave of the sandbox file C{name}.
        """
        return f"{self.directory}/{name.lstrip('/')}"

    def read(self, name, offset=0, length=CHUNK):
        """
        C{(size, data)} of up to C{length} bytes of the file from C{offset}.
        """
        d = self.client.agent_call(self.address, agent_pb2.Call(
            type=agent_pb2.Call.READ_FILE, read_file=agent_pb2.Call.ReadFile(
                path=self.path(name), offset=offset, length=length)))
        d.addCallback(lambda response: (response.read_file.size, response.read_file.data))
        return d

    def _read_if_there(self, name, offset):
        """
        As L{read}, but a file not there yet (the executor has not made it)
        reads as empty.
        """
        def missing(failure):
            failure.trap(OperatorError)
            if failure.value.code != 404:
                return failure
            return 0, b""
        return self.read(name, offset).addErrback(missing)

    @inlineCallbacks
    def cat(self, name, write):
        """
        Pass the whole file to C{write}, a chunk at a time.
        """
        offset = 0
        while True:
            size, data = yield self.read(name, offset)
            if data:
                write(data)
                offset += len(data)
            if not data or offset >= size:
                return offset

    @inlineCallbacks
    def follow(self, name, write, finished, offset=0, interval=FOLLOW_INTERVAL):
        """
        Pass the file to C{write} as it grows, until C{finished()} (asked
        after each read that found nothing new) says to stop.
        """
        reactor = self.client.reactor
        while True:
            size, data = yield self._read_if_there(name, offset)
            if data:
                write(data)
                offset += len(data)
                continue
            done = yield finished()
            if done:
                size, data = yield self._read_if_there(name, offset)
                if not data:
                    return offset
                continue
            yield deferLater(reactor, interval, lambda: None)


@inlineCallbacks
def task_ended(client, task_id, framework_id):
    """
    Whether the task has ended (or is no longer known), asked of the master.
    """
    response = yield client.call(master_pb2.Call(type=master_pb2.Call.GET_TASKS))
    for task in tasks_of(response, include_completed=True):
        if (task.task_id.value, task.framework_id.value) == (task_id, framework_id):
            return task.state in TERMINAL_STATES
    return True
