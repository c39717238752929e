"""
The launcher: a process each slave starts once, with the command executor
already imported, that forks a child per command executor instead of
starting a new interpreter (about 45 ms of start-up saved per task).

The slave (L{mesos_tw.isolation.launcher.Launcher}) writes requests to its
standard input and reads answers from its standard output, one JSON object
a line:

    {"launch": <id>, "run_id": ..., "directory": ..., "environment": {...},
     "uid": <int or null>, "gid": <int or null>, "gated": <bool>}
                                  fork a command executor
    {"go": <pid>}                 let a gated child run (it is in its cgroup)

    {"launched": <id>, "pid": <pid>}
    {"failed": <id>, "error": <why>}
    {"exited": <pid>, "status": <wait status>}

The child enters its container before it runs: it leads a new session, is
in its cgroup (a gated child waits until the slave has moved it there),
runs as the container's user, in its sandbox, with the sandbox's C{stdout}
and C{stderr} as its output; then it runs L{mesos_tw.executors.command.main}
with its environment (the run's, with the run's mark, C{MESOS_CONTAINER_ID}),
which the executor reads its variables from and gives its command.  The
child's own C library environment stays the launcher's: setting it would
change nothing visible (C{/proc/<pid>/environ} shows the environment a
process was exec'd with) and costs copy-on-write faults.
The executor's pid is the child's: the isolator sees, kills and accounts
it as it would a process it spawned itself.

The launcher is the children's parent: it reaps them and reports each
exit.  It is also a subreaper, so that what a killed executor leaves
behind becomes its child rather than init's (and is reaped).  The command
executor cleans up after its own task (it is a subreaper too, and exits
only once nothing it started is left), so the slave's reactor need not
scan C{/proc} when one exits normally.  The launcher exits when its
standard input closes (its slave is gone); the executors it started live
on, as they would without it.

Run by the isolator as ``python -m mesos_tw.executors.launcher``.
"""

import _signal
import gc
import json
import os
import pwd
import selectors
import signal
import sys

from mesos_tw.executors import command
from mesos_tw.executors.task_process import become_subreaper, libc

__all__ = ["main"]

#: The environment variable marking every process of a container (as in
#: L{mesos_tw.isolation._containers.CONTAINER_VARIABLE}, not imported to
#: keep Twisted out of this process).
CONTAINER_VARIABLE = "MESOS_CONTAINER_ID"

#: The signals the launcher handles or ignores, which a child it forks
#: gets back at their default actions.
_RESET_SIGNALS = (int(signal.SIGCHLD), int(signal.SIGINT), int(signal.SIGTERM))


def _enter_container(request, gate):
    """
    In the child: become the executor of C{request}'s container.  Never
    returns.
    """
    code = 127
    # A short-lived child: a collection would touch (and so copy) every
    # page of objects it shares with the launcher.
    gc.disable()
    try:
        # First, so that a launcher that dies before it has answered finds
        # this child by its working directory (a forked child's
        # /proc/<pid>/environ is the launcher's, without the run's mark).
        os.chdir(request["directory"])
        signal.set_wakeup_fd(-1)
        # SIGPIPE stays ignored, as in any Python program: a write to a
        # slave that has gone is an error the executor handles (a
        # checkpointing one waits for the slave), not its death.  Its task
        # gets the default actions back (mesos_tw.executors.task_process.DEFAULT_SIGNALS).  The
        # C module's signal(), not signal.signal: its conversions of the
        # old handler to an enum cost a child about 70 page faults.
        for number in _RESET_SIGNALS:
            _signal.signal(number, _signal.SIG_DFL)
        os.setsid()
        if gate is not None:
            # Wait until the slave has moved us into our cgroup.
            os.read(gate, 1)
            os.close(gate)
        directory = request["directory"]
        stdin = os.open(os.devnull, os.O_RDONLY)
        stdout = os.open(os.path.join(directory, "stdout"),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        stderr = os.open(os.path.join(directory, "stderr"),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            if fd == target:
                # os.open's descriptors are not inherited; the task's are.
                os.set_inheritable(fd, True)
            else:
                os.dup2(fd, target)
                os.close(fd)
        _close_from(3)
        if request.get("uid") is not None:
            name = pwd.getpwuid(request["uid"]).pw_name
            os.initgroups(name, request["gid"])
            os.setgid(request["gid"])
            os.setuid(request["uid"])
        environment = dict(request["environment"])
        environment[CONTAINER_VARIABLE] = request["run_id"]
        code = command.main(environment)
    except BaseException as error:  # the child must never return into the launcher
        try:
            os.write(2, f"launcher: cannot start the command executor: {error!r}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code if isinstance(code, int) else 1)


def _close_from(lowest):
    """
    Close every descriptor from C{lowest} up, with one C{close_range(2)}
    (C{os.closerange} makes a system call per descriptor, 1,021 of them);
    where the C library or the kernel lacks it, with C{os.closerange} up
    to 1,024.
    """
    try:
        if libc().close_range(lowest, 0xFFFFFFFF, 0) == 0:
            return
    except AttributeError:
        pass
    os.closerange(lowest, 1024)


class LauncherProcess:
    """
    The launcher's loop: requests in, children forked, exits reported.
    """

    def __init__(self, requests, answers):
        self.requests = requests
        self.answers = answers
        self.buffer = b""
        self.executors = {}
        self.gates = {}
        self.selector = selectors.DefaultSelector()

    def answer(self, *messages):
        """
        Write C{messages} in one write.
        """
        data = b"".join(json.dumps(m).encode() + b"\n" for m in messages)
        while data:
            written = os.write(self.answers, data)
            data = data[written:]

    def run(self):
        """
        Serve until standard input closes.
        """
        wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(wakeup_write, False)
        os.set_blocking(wakeup_read, False)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda number, frame: None)
        self.wakeup = (wakeup_read, wakeup_write)
        self.selector.register(self.requests, selectors.EVENT_READ, self.read_requests)
        self.selector.register(wakeup_read, selectors.EVENT_READ, self.reap)
        while True:
            for key, _ in self.selector.select():
                if key.data() is False:
                    return 0

    def read_requests(self):
        """
        Read what the slave wrote and answer each whole request (the
        answers in one write).

        @return: L{False} once standard input has closed.
        """
        data = os.read(self.requests, 65536)
        if not data:
            return False
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        answers = []
        for line in lines:
            if line:
                answer = self.handle(json.loads(line))
                if answer is not None:
                    answers.append(answer)
        if answers:
            self.answer(*answers)
        return True

    def handle(self, request):
        """
        One request; returns the answer to send, if any.
        """
        if "go" in request:
            gate = self.gates.pop(request["go"], None)
            if gate is not None:
                os.write(gate, b"g")
                os.close(gate)
            return None
        gate_read = gate_write = None
        if request.get("gated"):
            gate_read, gate_write = os.pipe()
        try:
            pid = os.fork()
        except OSError as error:
            for fd in (gate_read, gate_write):
                if fd is not None:
                    os.close(fd)
            return {"failed": request["launch"], "error": f"cannot fork: {error.strerror}"}
        if pid == 0:
            os.close(self.requests)
            os.close(self.answers)
            for fd in self.wakeup:
                os.close(fd)
            if gate_write is not None:
                os.close(gate_write)
            _enter_container(request, gate_read)
        if gate_read is not None:
            os.close(gate_read)
            self.gates[pid] = gate_write
        self.executors[pid] = request["run_id"]
        return {"launched": request["launch"], "pid": pid}

    def reap(self):
        """
        Reap every child that has exited and report the executors among
        them (a subreaper also reaps orphans it adopted, which it does not
        report).
        """
        try:
            while os.read(self.wakeup[0], 4096):
                pass
        except BlockingIOError:
            pass
        ended = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            gate = self.gates.pop(pid, None)
            if gate is not None:
                os.close(gate)
            if self.executors.pop(pid, None) is not None:
                ended.append({"exited": pid, "status": status})
        if ended:
            self.answer(*ended)
        return True


def main():
    """
    Serve the slave on standard input and output.
    """
    become_subreaper()
    command.warm_up()
    # What is imported now is shared with every child: keep the collector
    # off those objects, so that the children's pages stay shared.
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests, answers = sys.stdin.fileno(), sys.stdout.fileno()
    return LauncherProcess(requests, answers).run()


if __name__ == "__main__":
    sys.exit(main())
