"""
MPICH's process manager, hydra, with its manual launcher: C{mpiexec
-launcher manual} prints the command of each host's proxy
(C{hydra_pmi_proxy}) instead of starting it, so that a framework starts
the proxies itself, as Mesos tasks.  mpiexec then stays the job's front
end: the proxies connect back to it, the ranks' output comes through it,
and its exit status is the job's.
"""

import os
import shlex

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger

__all__ = ["Hydra", "HydraError", "host_labels", "parse_launch"]

_LAUNCH = b"HYDRA_LAUNCH: "
_LAUNCH_END = b"HYDRA_LAUNCH_END"


class HydraError(Exception):
    """
    mpiexec could not start the job; the message says why.
    """


def parse_launch(line):
    """
    C{(proxy id, argv)} of one C{HYDRA_LAUNCH:} line.

    @raise HydraError: for a line without C{--proxy-id N}.
    """
    argv = shlex.split(line[len(_LAUNCH):].decode("utf-8", "replace"))
    try:
        return int(argv[argv.index("--proxy-id") + 1]), argv
    except (ValueError, IndexError):
        raise HydraError(f"mpiexec printed a launch line without a proxy id: {line!r}") from None


def host_labels(hostnames):
    """
    One distinct label per host for mpiexec's C{-hosts} (it merges equal
    names into one proxy, and slaves may share a hostname).
    """
    labels = []
    for index, name in enumerate(hostnames):
        labels.append(name if hostnames.count(name) == 1 else f"{name}-{index}")
    return labels


class Hydra(ProcessProtocol):
    """
    One mpiexec run.

    @param hosts: C{[(label, ranks)]}: proxy C{i} is for C{hosts[i]}.
    @param argv: the program and its arguments.
    @param on_output: called with bytes of the ranks' standard output.
    @param on_error: called with bytes of their standard error.
    @ivar launches: fires with C{{proxy id: proxy argv}} once mpiexec has
        printed them all, or fails with L{HydraError}.
    @ivar exited: fires with mpiexec's exit status (128 + N for signal N).
    """

    log = Logger()

    def __init__(self, reactor, hosts, argv, on_output, on_error, mpiexec="mpiexec",
                 extra_args=()):
        self.reactor = reactor
        self.hosts = list(hosts)
        self.argv = list(argv)
        self.on_output = on_output
        self.on_error = on_error
        self.mpiexec = mpiexec
        self.extra_args = list(extra_args)
        self.launches = Deferred()
        self.exited = Deferred()
        self._buffer = b""
        self._proxies = {}
        self._errors = b""
        self._ended = False

    def command(self):
        """
        The mpiexec command line.
        """
        ranks = sum(count for _, count in self.hosts)
        hosts = ",".join(f"{label}:{count}" for label, count in self.hosts)
        return [self.mpiexec, "-launcher", "manual", "-disable-hostname-propagation",
                "-n", str(ranks), "-hosts", hosts, *self.extra_args, *self.argv]

    def start(self):
        """
        Start mpiexec.

        @raise HydraError: when it cannot be started.
        """
        try:
            self.reactor.spawnProcess(self, self.mpiexec, self.command(), env=dict(os.environ))
        except OSError as error:
            raise HydraError(f"cannot run {self.mpiexec}: {error}") from None

    def kill(self):
        """
        Stop mpiexec (it stops whatever proxies are still connected).
        """
        if not self._ended and self.transport is not None:
            self.transport.signalProcess("TERM")

    def outReceived(self, data):
        """
        Launch lines until the end marker; then the ranks' output.
        """
        if self.launches.called:
            self.on_output(data)
            return
        self._buffer += data
        while b"\n" in self._buffer and not self.launches.called:
            line, self._buffer = self._buffer.split(b"\n", 1)
            line = line.strip()
            if line.startswith(_LAUNCH):
                try:
                    proxy_id, argv = parse_launch(line)
                except HydraError as error:
                    self._fail_launch(error)
                    return
                self._proxies[proxy_id] = argv
            elif line == _LAUNCH_END:
                self._launched()
            elif line:
                self.on_output(line + b"\n")

    def _launched(self):
        if sorted(self._proxies) != list(range(len(self.hosts))):
            self._fail_launch(HydraError(
                f"mpiexec printed proxies {sorted(self._proxies)} for {len(self.hosts)} host(s)"))
            return
        rest, self._buffer = self._buffer, b""
        self.launches.callback(dict(self._proxies))
        if rest:
            self.on_output(rest)

    def _fail_launch(self, error):
        if not self.launches.called:
            self.launches.errback(error)
        self.kill()

    def errReceived(self, data):
        """
        mpiexec's and the ranks' standard error.
        """
        if not self.launches.called:
            self._errors = (self._errors + data)[-4096:]
        self.on_error(data)

    def processEnded(self, reason):
        """
        mpiexec is gone: its status ends the job.
        """
        self._ended = True
        if reason.check(ProcessDone):
            status = 0
        elif reason.value.signal is not None:
            status = 128 + reason.value.signal
        else:
            status = reason.value.exitCode
        if not self.launches.called:
            message = self._errors.decode("utf-8", "replace").strip().splitlines()
            self.launches.errback(HydraError(
                f"mpiexec exited with status {status} before printing its proxies"
                + (f": {message[-1]}" if message else "")))
        self.exited.callback(status)
