"""
Running an executor on a pseudo-terminal (ptyprocess), for tasks that ask
for a TTY: what it writes to the terminal is appended to its sandbox's
C{stdout} file, and its end is noticed through a pidfd.
"""

import errno
import os

from ptyprocess import PtyProcess
from twisted.internet.interfaces import IReadDescriptor
from zope.interface import implementer

from mesos_tw.isolation._containers import CONTAINER_VARIABLE, run_as, watch_exit
from mesos_tw.isolation.interface import LaunchError

__all__ = ["spawn_on_pty"]

@implementer(IReadDescriptor)
class _Terminal:
    """
    The terminal's master side: its output goes to the sandbox.
    """

    def __init__(self, reactor, process, output):
        self.reactor = reactor
        self.process = process
        self.output = output

    def fileno(self):
        return self.process.fd

    def logPrefix(self):
        return "pty"

    def doRead(self):
        self.drain()

    def drain(self):
        """
        Copy what the terminal holds to the output file; stop at its end.
        """
        while True:
            try:
                data = os.read(self.process.fd, 65536)
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                self.reactor.removeReader(self)
                return
            os.write(self.output, data)

    def connectionLost(self, reason):
        pass


def spawn_on_pty(reactor, container, environment, argv, on_ended):
    """
    Run C{argv} in its sandbox (where the slave has fetched its URIs) on a new
    pseudo-terminal, as the leader of a session of its own.

    @param on_ended: called as C{on_ended(pid, wait_status)} once it has
        exited and its output has been copied.
    @return: its pid.
    @raise LaunchError: saying why it could not start.
    """
    argv = run_as(container) + argv
    environment = dict(environment, **{CONTAINER_VARIABLE: container.run_id})
    try:
        output = os.open(os.path.join(container.directory, "stdout"),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise LaunchError(f"cannot open the sandbox's output file: {error.strerror}") from None
    try:
        process = PtyProcess.spawn(argv, cwd=container.directory, env=environment)
    except Exception as error:
        os.close(output)
        raise LaunchError(f"cannot start the executor on a terminal: {error}") from None
    os.set_blocking(process.fd, False)
    terminal = _Terminal(reactor, process, output)
    reactor.addReader(terminal)

    def exited():
        process.wait()
        terminal.drain()
        reactor.removeReader(terminal)
        os.close(output)
        # Closing waits this long for the child to exit: it has, already.
        process.delayafterclose = 0
        process.close(force=False)
        on_ended(process.pid, process.status)

    watch_exit(reactor, os.pidfd_open(process.pid)).addCallback(lambda _: exited())
    return process.pid
