"""
The slave's end of the launcher (L{mesos_tw.executors.launcher}): one
pre-started process per isolator that forks the built-in command executor
instead of starting an interpreter for each command task.

The launcher is started on the first launch.  If it dies, the executors it
started go on running (each is watched through a pidfd from then on, its
wait status unknown), a new launcher is started, and the launches it had
not answered are made again by the new one (after killing whatever the old
one may have started for them), as are those asked for meanwhile: none is
lost.  A launcher that cannot start at all fails the launches that wait
for it, saying why.
"""

import json
import os
import sys

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger

from mesos_tw.isolation._containers import CONTAINER_VARIABLE, kill_and_wait, watch_exit
from mesos_tw.isolation.interface import LaunchError
from mesos_tw.isolation.usage import container_processes

__all__ = ["LAUNCHER_MODULE", "Launcher"]

#: The module the launcher process runs (C{python -m}): the word its
#: command line, and so its forked executors', holds.
LAUNCHER_MODULE = "mesos_tw.executors.launcher"

#: A launcher that dies this many times in a row without answering a
#: launch cannot start: the launches waiting for it fail.
MAX_QUICK_DEATHS = 3

#: Seconds before a dead launcher is started again, doubled for each death
#: in a row without an answer.
RESTART_DELAY = 0.1


class _LauncherProtocol(ProcessProtocol):
    """
    One launcher process: answers in, its end reported to the L{Launcher}.
    """

    def __init__(self, launcher):
        self.launcher = launcher
        self.buffer = b""
        self.errors = b""
        self.ended = False

    def outReceived(self, data):
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line:
                self.launcher._answer(self, json.loads(line))

    def errReceived(self, data):
        self.errors = (self.errors + data)[-4096:]
        for line in data.decode(errors="replace").splitlines():
            if line.strip():
                self.launcher.log.warn("Launcher: {line}", line=line)

    def processEnded(self, reason):
        self.ended = True
        self.launcher._ended(self, reason)


class Launcher:
    """
    Starts command executors by asking a launcher process to fork them.

    @param reactor: spawns the launcher and schedules its restarts.
    @param argv: the launcher's command line (default: this interpreter
        running L{mesos_tw.executors.launcher}).
    @param proc: where C{/proc} is (to find what a dead launcher may have
        started for a launch it did not answer).

    @ivar starts: how many launcher processes have been started.
    """

    log = Logger()

    def __init__(self, reactor, argv=None, proc="/proc"):
        self.reactor = reactor
        self.argv = argv or [sys.executable, "-m", LAUNCHER_MODULE]
        self.proc = proc
        self.starts = 0
        self._process = None
        self._restarting = False
        self._restart_call = None
        self._ended_deferred = None
        self._quick_deaths = 0
        self._next_id = 0
        self._waiting = []
        self._sent = {}
        self._exits = {}
        self._stopping = False

    @property
    def pid(self):
        """
        The running launcher's pid, or L{None}.
        """
        if self._process is None or self._process.ended:
            return None
        return self._process.transport.pid

    def launch(self, run_id, directory, environment, on_exit, ids=None, gated=False):
        """
        Fork a command executor for the container run C{run_id}.

        @param environment: its environment (the run's mark is added).
        @param on_exit: called with C{(pid, wait status)} when it ends; the
            status is L{None} if the launcher died before it could tell.
        @param ids: C{(uid, gid)} to run as, or L{None}.
        @param gated: the executor waits for L{go} before it runs (once
            the caller has moved it into its cgroup).
        @return: a Deferred firing with its pid.
        """
        self._next_id += 1
        request = {"launch": self._next_id, "run_id": run_id, "directory": directory,
                   "environment": dict(environment), "gated": gated,
                   "uid": ids[0] if ids else None, "gid": ids[1] if ids else None}
        launched = Deferred()
        self._waiting.append((request, launched, on_exit))
        self._flush()
        return launched

    def go(self, pid):
        """
        Let the gated executor C{pid} run.
        """
        if self.pid is not None:
            self._write({"go": pid})

    def stop(self):
        """
        Stop the launcher (the executors it started are not touched).

        @return: a Deferred firing once it has exited.
        """
        self._stopping = True
        if self._restart_call is not None and self._restart_call.active():
            self._restart_call.cancel()
        self._restart_call = None
        process = self._process
        if process is None or process.ended:
            return succeed(None)
        ended = self._ended_deferred = Deferred()
        process.transport.closeStdin()
        return ended

    def _start(self):
        self.starts += 1
        protocol = _LauncherProtocol(self)
        try:
            self.reactor.spawnProcess(protocol, self.argv[0], self.argv, env=dict(os.environ))
        except OSError as error:
            self._fail_waiting(f"cannot start the launcher: {error.strerror}")
            return
        self._process = protocol
        self.log.info("Started launcher {count} as pid {pid}", count=self.starts,
                      pid=protocol.transport.pid)

    def _flush(self):
        if self._process is None or self._process.ended:
            if self._restarting or self._stopping:
                return
            self._start()
            if self._process is None:
                return
        waiting, self._waiting = self._waiting, []
        lines = []
        for request, launched, on_exit in waiting:
            self._sent[request["launch"]] = (request, launched, on_exit)
            lines.append(request)
        if lines:
            self._write(*lines)

    def _write(self, *messages):
        self._process.transport.write(
            b"".join(json.dumps(m).encode() + b"\n" for m in messages))

    def _answer(self, protocol, answer):
        if "exited" in answer:
            on_exit = self._exits.pop(answer["exited"], None)
            if on_exit is not None:
                on_exit(answer["exited"], answer["status"])
            return
        self._quick_deaths = 0
        key = answer.get("launched", answer.get("failed"))
        entry = self._sent.pop(key, None)
        if entry is None:
            return
        _, launched, on_exit = entry
        if "failed" in answer:
            launched.errback(LaunchError(answer["error"]))
            return
        self._exits[answer["pid"]] = on_exit
        launched.callback(answer["pid"])

    def _ended(self, protocol, reason):
        if protocol is not self._process:
            return
        if self._stopping:
            if self._ended_deferred is not None and not self._ended_deferred.called:
                self._ended_deferred.callback(None)
            return
        self.log.warn("The launcher (pid {pid}) ended: {why}; starting a new one",
                      pid=protocol.transport.pid, why=reason.getErrorMessage())
        # Its executors live on: watch them through pidfds from now on.
        orphans, self._exits = self._exits, {}
        for pid, on_exit in orphans.items():
            self._watch_orphan(pid, on_exit)
        # Launches it did not answer go to the next one, once whatever it
        # may have started for them is gone.
        unanswered = list(self._sent.values())
        self._sent = {}
        self._quick_deaths += 1
        if self._quick_deaths >= MAX_QUICK_DEATHS and unanswered + self._waiting:
            text = protocol.errors.decode(errors="replace").strip().splitlines()
            self._fail_waiting("the launcher keeps dying" + (f": {text[-1]}" if text else ""),
                               unanswered)
            return
        kills = [self._kill_run(request) for request, _, _ in unanswered]
        self._waiting[:0] = unanswered
        delay = RESTART_DELAY * 2 ** (self._quick_deaths - 1)

        def restart():
            self._restart_call = None
            self._restarting = False
            self._flush()

        def when_killed(_):
            self._restart_call = self.reactor.callLater(delay, restart)

        self._restarting = True
        gatherResults(kills).addCallback(when_killed)

    def _kill_run(self, request):
        """
        Kill whatever a dead launcher may have started for C{request}: the
        forked child (working in the run's sandbox) and what it started
        (carrying the run's mark).
        """
        directory = os.path.realpath(request["directory"])

        def find():
            found = container_processes(-1, (CONTAINER_VARIABLE, request["run_id"]), self.proc)
            for entry in os.listdir(self.proc):
                if entry.isdigit():
                    try:
                        if os.readlink(os.path.join(self.proc, entry, "cwd")) == directory:
                            found.add(int(entry))
                    except OSError:
                        continue
            return found

        return kill_and_wait(self.reactor, find)

    def _watch_orphan(self, pid, on_exit):
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            self.reactor.callLater(0, on_exit, pid, None)
            return
        watch_exit(self.reactor, fd).addCallback(lambda _: on_exit(pid, None))

    def _fail_waiting(self, why, also=()):
        failed = list(also) + self._waiting
        self._waiting = []
        self._quick_deaths = 0
        self.log.error("Failing {count} launch(es): {why}", count=len(failed), why=why)
        for _, launched, _ in failed:
            launched.errback(LaunchError(why))
