"""
A fake isolator: records launches, kills and resource changes, and lets a
test decide when an executor "exits".
"""

import os
import signal

from twisted.internet.defer import fail, succeed
from zope.interface import implementer

from mesos_tw.isolation.interface import ECHO_AND_EXIT_COMMAND, IIsolator, LaunchError
from mesos_tw.protocols import mesos_pb2

__all__ = ["FakeIsolator", "SUITE_PROGRAMS"]

#: Wait status of a process killed by SIGKILL.
KILLED_STATUS = signal.SIGKILL


def _echo_and_exit(directory, environment):
    """
    Emulates L{ECHO_AND_EXIT_COMMAND}: prints C{hi}, exits with 3.
    """
    with open(os.path.join(directory, "stdout"), "a") as stdout:
        stdout.write("hi\n")
    return 3 << 8


#: Programs emulating the commands of the shared isolator suite.
SUITE_PROGRAMS = {ECHO_AND_EXIT_COMMAND: _echo_and_exit}


@implementer(IIsolator)
class FakeIsolator:
    """
    Runs nothing: an executor "runs" until the test calls L{exit} or the
    slave kills it, unless its command is one of C{programs}.

    @param clock: schedules the exits of C{programs} (on the next turn,
        after the launch has fired, as a real process would).
    @param programs: C{{command: program}}; C{program(directory,
        environment)} runs at launch and returns the wait status its
        executor then exits with.

    @ivar launched: C{{(framework_id, executor_id): (info, directory,
        environment)}} of executors running now.
    @ivar killed: C{(framework_id, executor_id)} pairs asked to be killed.
    @ivar resources: the latest resources of each executor.
    @ivar fail_launches: when set, launches fail with this message.
    """

    def __init__(self, clock=None, programs=None):
        self.clock = clock
        self.programs = dict(programs or {})
        self.on_exit = None
        self.launched = {}
        self.killed = []
        self.resources = {}
        self.fail_launches = None
        self._next_pid = 1000

    def initialize(self, on_exit):
        """
        Remember the slave's exit callback.
        """
        self.on_exit = on_exit
        return succeed(None)

    def launch_executor(self, framework_id, framework_info, executor_info, directory,
                        environment, resources):
        """
        Record the launch and fire with a made-up pid, or fail if
        C{fail_launches} is set.
        """
        if self.fail_launches is not None:
            return fail(LaunchError(self.fail_launches))
        key = (framework_id, executor_info.executor_id.value)
        self.launched[key] = (executor_info, directory, environment)
        self.resources[key] = resources
        program = self.programs.get(executor_info.command.value)
        if program is not None:
            self.clock.callLater(0, self.exit, *key, program(directory, environment))
        self._next_pid += 1
        return succeed(self._next_pid)

    def exit(self, framework_id, executor_id, status=0):
        """
        Make a launched executor exit with wait status C{status}.
        """
        del self.launched[(framework_id, executor_id)]
        self.on_exit(framework_id, executor_id, status)

    def kill_executor(self, framework_id, executor_id):
        """
        Record the kill; a running executor exits as if by SIGKILL.
        """
        self.killed.append((framework_id, executor_id))
        if (framework_id, executor_id) in self.launched:
            self.exit(framework_id, executor_id, KILLED_STATUS)
        return succeed(None)

    def resources_changed(self, framework_id, executor_id, resources):
        """
        Record the executor's new resources.
        """
        self.resources[(framework_id, executor_id)] = resources
        return succeed(None)

    def usage(self, framework_id, executor_id):
        """
        Empty statistics for a running executor.
        """
        if (framework_id, executor_id) not in self.launched:
            return fail(LaunchError(f"executor {executor_id} is not running"))
        return succeed(mesos_pb2.ResourceStatistics(timestamp=0.0))
