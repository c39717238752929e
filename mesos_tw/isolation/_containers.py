"""
Book-keeping shared by the isolators: a table of containers by executor,
each container's termination and its waiters, and spawning an executor's
process into its sandbox.
"""

import os
import pwd
import signal

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IReadDescriptor
from twisted.internet.protocol import ProcessProtocol
from zope.interface import implementer

from mesos_tw.isolation.interface import LaunchError, UnknownContainer

__all__ = [
    "CONTAINER_VARIABLE",
    "ContainerRun",
    "ContainerTable",
    "ExecutorProcess",
    "follow",
    "kill_and_wait",
    "process_start_time",
    "recovered_process",
    "run_as",
    "spawn_executor",
    "switch_user",
]

#: The environment variable naming an executor's run in every process it
#: starts: how the process isolator finds processes that left its session.
CONTAINER_VARIABLE = "MESOS_CONTAINER_ID"


class ContainerRun:
    """
    One prepared container: its L{Container}, its executor's pid once
    launched, and its L{Termination} once it has ended.

    @ivar state: an isolator's own data about it (a cgroup, say).
    """

    def __init__(self, container):
        self.container = container
        self.pid = None
        self.termination = None
        self.state = None
        self._waiters = []

    @property
    def running(self):
        """
        Whether its executor has been launched and has not yet ended.
        """
        return self.pid is not None and self.termination is None

    def wait(self):
        """
        A Deferred firing with the termination.
        """
        if self.termination is not None:
            return succeed(self.termination)
        waiter = Deferred()
        self._waiters.append(waiter)
        return waiter

    def terminated(self, termination):
        """
        Record how it ended and tell whoever waits; later calls are ignored.
        """
        if self.termination is not None:
            return
        self.termination = termination
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(termination)


class ContainerTable:
    """
    The prepared containers of one isolator, by C{(framework_id, executor_id)}.
    """

    def __init__(self):
        self._runs = {}

    def add(self, container):
        """
        A new L{ContainerRun} for C{container}.

        @raise LaunchError: if one of that executor is already prepared.
        """
        if container.key in self._runs:
            raise LaunchError(
                f"executor {container.executor_id} of framework {container.framework_id} "
                "already has a container")
        run = self._runs[container.key] = ContainerRun(container)
        return run

    def get(self, framework_id, executor_id):
        """
        The L{ContainerRun} of an executor.

        @raise UnknownContainer: if there is none.
        """
        try:
            return self._runs[(framework_id, executor_id)]
        except KeyError:
            raise UnknownContainer(
                f"executor {executor_id} of framework {framework_id} has no container") from None

    def find(self, framework_id, executor_id):
        """
        The L{ContainerRun} of an executor, or C{None}.
        """
        return self._runs.get((framework_id, executor_id))

    def remove(self, framework_id, executor_id):
        """
        Forget an executor's container; returns it, or C{None}.
        """
        return self._runs.pop((framework_id, executor_id), None)

    def __iter__(self):
        return iter(list(self._runs.values()))


class ExecutorProcess(ProcessProtocol):
    """
    Watches one executor's process and reports its end as
    C{on_ended(pid, wait_status)}.
    """

    def __init__(self, on_ended):
        self._on_ended = on_ended
        self.pid = None
        self.ended = False

    def connectionMade(self):
        """
        Note the pid.
        """
        # Remember the pid now: a process that exits at once may be reaped
        # before spawnProcess returns, and the transport then forgets it.
        self.pid = self.transport.pid

    def processEnded(self, reason):
        """
        Report the wait status.
        """
        self.ended = True
        status = getattr(reason.value, "status", None)
        self._on_ended(self.pid, 0 if status is None else status)


def switch_user(container):
    """
    Hand the container's sandbox to its user and return that user's
    C{(uid, gid)}; C{None} when it runs as the slave's own user.

    @raise LaunchError: for an unknown user, or when the slave cannot
        switch users.
    """
    user = container.user
    if not user:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise LaunchError(f"cannot run the executor as {user!r}: no such user") from None
    if entry.pw_uid == os.geteuid():
        return None
    if os.geteuid() != 0:
        raise LaunchError(f"cannot run the executor as {user!r}: the slave is not root "
                          "(run it as root, or with --switch_user=false)")
    for directory, _, files in os.walk(container.directory):
        for path in [directory] + [os.path.join(directory, name) for name in files]:
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return entry.pw_uid, entry.pw_gid


def run_as(container):
    """
    The command prefix that runs what follows as the container's user
    (C{setpriv}, with that user's groups and none of ours), after
    L{switch_user}; empty when it runs as the slave's own user.
    """
    ids = switch_user(container)
    if ids is None:
        return []
    return ["setpriv", f"--reuid={ids[0]}", f"--regid={ids[1]}", "--init-groups", "--"]


def spawn_executor(reactor, process, container, environment, argv, extra_fds=None,
                   uid=None, gid=None):
    """
    Spawn C{argv} in its sandbox (where the slave has fetched its URIs) with its
    output appended to the sandbox's C{stdout} and C{stderr} files (the
    descriptors go to the child, so output never passes through us).

    @param process: the L{ExecutorProcess} to connect.
    @param extra_fds: more C{childFDs} entries (C{{3: "w"}} for a pipe the
        child reads from).
    @return: the process transport.
    @raise LaunchError: saying why it could not start.
    """
    directory = container.directory
    try:
        stdout = os.open(os.path.join(directory, "stdout"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        stderr = os.open(os.path.join(directory, "stderr"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        stdin = os.open(os.devnull, os.O_RDONLY)
    except OSError as error:
        raise LaunchError(f"cannot open the sandbox's output files: {error.strerror}") from None
    environment = dict(environment, **{CONTAINER_VARIABLE: container.run_id})
    try:
        return reactor.spawnProcess(
            process, argv[0], argv, env=environment, path=directory,
            childFDs={0: stdin, 1: stdout, 2: stderr, **(extra_fds or {})}, uid=uid, gid=gid)
    except OSError as error:
        raise LaunchError(f"cannot start the executor: {error.strerror}") from None
    finally:
        for fd in (stdin, stdout, stderr):
            os.close(fd)


@implementer(IReadDescriptor)
class _ProcessExit:
    """
    A pidfd, readable once its process has exited.
    """

    def __init__(self, reactor, fd, on_exit):
        self.reactor = reactor
        self.fd = fd
        self.on_exit = on_exit

    def fileno(self):
        return self.fd

    def logPrefix(self):
        return "pidfd"

    def doRead(self):
        self.reactor.removeReader(self)
        os.close(self.fd)
        self.on_exit()

    def connectionLost(self, reason):
        pass


def watch_exit(reactor, fd):
    """
    A Deferred firing once the process of the pidfd C{fd} has exited (the
    descriptor is closed then).
    """
    exited = Deferred()
    reactor.addReader(_ProcessExit(reactor, fd, lambda: exited.callback(None)))
    return exited


def wait_for_exits(reactor, pids):
    """
    A Deferred firing once every one of C{pids} that still runs has exited.
    """
    exits = []
    for pid in pids:
        try:
            exits.append(watch_exit(reactor, os.pidfd_open(pid)))
        except OSError:
            continue
    return gatherResults(exits).addCallback(lambda _: None)


def process_start_time(pid, proc="/proc"):
    """
    When process C{pid} started, in clock ticks since boot (field 22 of
    C{/proc/<pid>/stat}), or L{None} if there is no such process: with the
    pid it names one process for as long as the machine runs.
    """
    try:
        with open(os.path.join(proc, str(pid), "stat"), "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold anything.
    fields = text[text.rindex(b")") + 2:].split()
    return int(fields[19])


def recovered_process(pid, start_time, proc="/proc"):
    """
    A pidfd for C{pid} if that process still runs and started at
    C{start_time} (not checked when L{None}), else L{None}.
    """
    if pid is None:
        return None
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return None
    started = process_start_time(pid, proc)
    if started is None or (start_time is not None and started != start_time):
        os.close(fd)
        return None
    return fd


def kill_and_wait(reactor, find_pids, rounds=10):
    """
    SIGKILL every process C{find_pids()} names, asking again (for any
    forked meanwhile) until it names none that is still running or
    C{rounds} have passed.  Each process is signalled through a pidfd, so a
    reused pid is never hit.

    @return: a Deferred firing once every signalled process has exited.
    """
    exits = []
    signalled = set()
    for _ in range(rounds):
        pids = set(find_pids()) - signalled
        if not pids:
            break
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                os.close(fd)
                continue
            signalled.add(pid)
            exits.append(watch_exit(reactor, fd))
    return gatherResults(exits).addCallback(lambda _: None)


def follow(d):
    """
    A new Deferred firing with C{None} after C{d} has, leaving C{d}'s own
    result to its other callbacks.
    """
    follower = Deferred()

    def fired(result):
        follower.callback(None)
        return result

    d.addBoth(fired)
    return follower
