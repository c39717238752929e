"""
The task's processes, as the command executor runs them: the command
started by C{posix_spawn} in a session of its own, with the signals a
command expects at their default action, and what it leaves behind killed
and reaped once it ends (the executor is their subreaper).
"""

import ctypes
import errno
import functools
import os
import signal

__all__ = ["DEFAULT_SIGNALS", "TaskCommand", "become_subreaper", "find_program",
           "kill_leftovers", "libc"]

#: prctl(2)'s option making a process the reaper of its orphaned descendants.
_PR_SET_CHILD_SUBREAPER = 36


#: Signals the task's command gets at their default action, whatever this
#: process does with them: Python ignores SIGPIPE and SIGXFSZ (as
#: C{subprocess}'s C{restore_signals} knows), the launcher SIGINT, and an
#: ignored signal stays ignored across C{exec}.
DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT)


class TaskCommand:
    """
    A task's command: C{program} run with C{argv} (C{sh -c <value>} for a
    C{CommandInfo} with C{shell}, Mesos's default), in a session of its
    own, with standard input from C{/dev/null} and L{DEFAULT_SIGNALS} at
    their default action: started by C{posix_spawn} (a C{vfork} and
    C{exec}, without C{subprocess}'s Python-level set-up).

    @ivar pid: its process id (and its session's and process group's).
    @ivar returncode: as C{subprocess} says it (negative for a signal)
        once L{wait} has reaped it, else L{None}.
    """

    def __init__(self, program, argv, environment):
        self.pid = os.posix_spawn(
            find_program(program, environment), argv, environment, setsid=True,
            setsigdef=DEFAULT_SIGNALS,
            file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)])
        self.returncode = None

    def wait(self):
        """
        Reap it (blocking until it has ended) and return its returncode.
        """
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def find_program(name, environment):
    """
    The path of C{name} on C{environment}'s C{PATH} (as C{subprocess}
    and C{execvp} find a program); a name with a slash is that path.

    @raise FileNotFoundError: if it is on none of them.
    """
    if os.sep in name:
        return name
    # Not os.get_exec_path: it imports warnings, which a forked executor
    # would do for itself (about a third of its CPU).
    for directory in environment.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)


def become_subreaper():
    """
    Make this process the reaper of its orphaned descendants (Linux's
    C{PR_SET_CHILD_SUBREAPER}): what a task leaves behind, even in a
    session of its own, stays our descendant, so it can be found without
    scanning every process.
    """
    try:
        libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


@functools.lru_cache(maxsize=None)
def libc():
    """
    The C library, loaded once (in the launcher, for every executor it
    forks: loading it costs an executor more than the call).
    """
    return ctypes.CDLL(None, use_errno=True)


def kill_leftovers(group, rounds=50):
    """
    Once a task's command has ended: SIGKILL its process group C{group}
    and every descendant of ours still running, and reap them, so that an
    executor that exits leaves nothing behind.  The common case (nothing
    left) costs two system calls; only leftovers make it read C{/proc}.
    """
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for _ in range(rounds):
        try:
            if os.waitpid(-1, os.WNOHANG) != (0, 0):
                continue
        except ChildProcessError:
            return
        # Only leftovers need it (and its protobuf imports): loaded here.
        from mesos_tw.isolation.usage import container_processes

        for pid in container_processes(os.getpid()) - {os.getpid()}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
