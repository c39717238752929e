"""
A cluster of real daemons for integration tests and benchmarks: masters
(``twistd -n mesos-master --zk=...``) and slaves (``twistd -n mesos-slave``)
as separate processes, exactly as an operator runs them, and helpers to
find the leader and wait for what its state shows.

Every daemon gets a parent-death signal where C{setpriv} is available, so
none outlives a killed test run; L{ProcessCluster.stop} ends them all.
"""

import json
import os
import shutil
import signal
import sys
import time

import treq
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import SkipTest

from mesos_tw.testing.zookeeper_server import free_port

__all__ = ["CHECKOUT", "ClusterUnavailable", "Daemon", "FRAMEWORKS", "ProcessCluster", "is_alive",
           "registered_slaves", "run_twistd", "twistd_path"]

#: The project's checkout (tests and example frameworks run from it).
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: The example frameworks' scripts.
FRAMEWORKS = os.path.join(CHECKOUT, "frameworks")

#: How often the state of the masters is polled while waiting for something.
POLL_SECONDS = 0.05


class ClusterUnavailable(Exception):
    """
    The daemons cannot be run here; the message says what is missing.
    """


def twistd_path():
    """
    The C{twistd} next to the running Python.

    @raise ClusterUnavailable: if there is none.
    """
    path = os.path.join(os.path.dirname(sys.executable), "twistd")
    if not os.path.exists(path):
        raise ClusterUnavailable(f"twistd is not installed next to {sys.executable}")
    return path


def run_twistd(test, reactor, *argv):
    """
    Run C{twistd --nodaemon <argv>} from the checkout as a L{Daemon} that
    C{test}'s cleanup ends (SIGTERM, then waits for it).

    @raise SkipTest: if there is no C{twistd} next to the running Python.
    """
    try:
        twistd = twistd_path()
    except ClusterUnavailable as reason:
        raise SkipTest(str(reason))
    daemon = Daemon(f"twistd {argv[0]}")
    reactor.spawnProcess(daemon, twistd, [twistd, "--nodaemon", "--pidfile=", *argv],
                         env=os.environ.copy(), path=CHECKOUT)

    def stop():
        if not daemon.running:
            return None
        daemon.signal(signal.SIGTERM)
        return daemon.ended

    test.addCleanup(stop)
    return daemon


class Daemon(ProcessProtocol):
    """
    One daemon process; its output is kept for failure messages.

    @ivar port: the port it listens on, when known.
    @ivar log_path: the file it logs to, if not to its output.

    @ivar ended: fires with the reason once the process has exited.
    """

    def __init__(self, name):
        self.name = name
        self.log_path = None
        self.port = None
        self.output = bytearray()
        self.ended = Deferred()
        self.paused = False

    def outReceived(self, data):
        self.output += data

    errReceived = outReceived

    def processEnded(self, reason):
        self.ended.callback(reason.value)

    @property
    def running(self):
        return not self.ended.called

    def signal(self, number):
        """
        Send the signal C{number} if it still runs.
        """
        if self.running:
            self.transport.signalProcess(number)

    def kill(self):
        """
        SIGKILL it, as a machine failure would; fires when it is gone.
        """
        self.signal(signal.SIGKILL)
        return self.ended

    def pause(self):
        """
        SIGSTOP it: its connections stay open and nothing answers, as
        behind a network partition.
        """
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        """
        SIGCONT a paused daemon.
        """
        self.signal(signal.SIGCONT)
        self.paused = False

    @inlineCallbacks
    def wait_for_output(self, reactor, text, timeout=60.0, since=0):
        """
        Fire once C{text} (bytes) appears in the output after its first
        C{since} bytes (a mark taken with C{len(daemon.output)} before
        causing what should be said, so that an earlier saying of the
        same line does not count).

        @raise AssertionError: after C{timeout} seconds, with the output.
        """
        deadline = time.monotonic() + timeout
        while self.output.find(text, since) == -1:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never said {text!r}:\n{self.text()}")
            yield deferLater(reactor, POLL_SECONDS, lambda: None)

    def text(self, last=3000):
        """
        The end of its output.
        """
        return self.output[-last:].decode("utf-8", "replace")


class ProcessCluster:
    """
    Masters and slaves for one ZooKeeper URL, each its own process.

    @param directory: where the slaves' work directories go.
    @param master_flags: extra flags for every master.
    @param slave_flags: extra flags for every slave.
    @param log_directory: if given, each daemon logs to a file there
        (C{<name>.log}, twistd's C{--logfile}; the path is the daemon's
        C{log_path}) instead of to its output, which this process would
        read: a benchmark's masters log thousands of lines a second.
    @ivar masters: C{{port: Daemon}} of every master started.
    @ivar slaves: the slaves' L{Daemon}s.
    """

    def __init__(self, reactor, directory, zk_url, session_timeout="2secs",
                 master_flags=(), slave_flags=(), log_directory=None):
        self.reactor = reactor
        self.directory = os.path.abspath(directory)
        self.zk_url = zk_url
        self.session_timeout = session_timeout
        self.master_flags = list(master_flags)
        self.slave_flags = list(slave_flags)
        self.log_directory = log_directory
        self.masters = {}
        self.slaves = []
        self._twistd = twistd_path()
        self._setpriv = shutil.which("setpriv")

    def spawn(self, name, *argv):
        """
        Start C{twistd --nodaemon <argv>} as the daemon C{name}.
        """
        daemon = Daemon(name)
        command = [self._twistd, "--nodaemon", "--pidfile="]
        if self.log_directory is not None:
            daemon.log_path = os.path.join(self.log_directory,
                                           "".join(c if c.isalnum() else "-" for c in name)
                                           + ".log")
            command.append(f"--logfile={daemon.log_path}")
        command += argv
        if self._setpriv is not None:
            command = [self._setpriv, "--pdeathsig", "KILL", "--"] + command
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.reactor.spawnProcess(daemon, command[0], command, env=env)
        return daemon

    def start_master(self):
        """
        Start a master on a free loopback port; returns the port.
        """
        port = free_port()
        self.masters[port] = self.spawn(
            f"master :{port}", "mesos-master", "--ip=127.0.0.1", f"--port={port}",
            f"--zk={self.zk_url}", f"--zk_session_timeout={self.session_timeout}",
            *self.master_flags)
        return port

    def start_slave(self, resources="cpus:2;mem:512;disk:100"):
        """
        Start a slave that finds the leader through ZooKeeper.
        """
        index, port = len(self.slaves), free_port()
        daemon = self.spawn(
            f"slave {index} :{port}", "mesos-slave", f"--master={self.zk_url}",
            "--ip=127.0.0.1", f"--port={port}", f"--zk_session_timeout={self.session_timeout}",
            f"--work_dir={os.path.join(self.directory, f'slave-{index}')}",
            f"--resources={resources}", *self.slave_flags)
        daemon.port = port
        self.slaves.append(daemon)
        return daemon

    def stop(self):
        """
        End every daemon still running (resumed first if paused).
        """
        ended = []
        for daemon in list(self.masters.values()) + self.slaves:
            if daemon.running:
                daemon.resume()
                daemon.signal(signal.SIGKILL)
                ended.append(daemon.ended)
        return gatherResults(ended)

    def logs(self):
        """
        Every daemon's recent output, for a failure message.
        """
        return "\n".join(f"--- {d.name} ---\n{d.text()}"
                         for d in list(self.masters.values()) + self.slaves)

    @inlineCallbacks
    def get(self, port, path):
        """
        C{(code, body)} of a GET on a master, not following redirects;
        C{(None, error)} if it cannot be reached or does not answer within
        15 s (a loaded machine can take seconds; a paused daemon is never
        asked).
        """
        try:
            response = yield treq.get(f"http://127.0.0.1:{port}{path}", persistent=False,
                                      allow_redirects=False, timeout=15)
            body = yield response.content()
        except Exception as error:
            return None, str(error)
        return response.code, body

    @inlineCallbacks
    def leader_state(self):
        """
        C{(port, state)} of the master that serves the state (the elected
        leader), or L{None} if none does now.
        """
        for port, daemon in self.masters.items():
            if not daemon.running or daemon.paused:
                continue
            code, body = yield self.get(port, "/master/state")
            if code == 200:
                return port, json.loads(body)
        return None

    @inlineCallbacks
    def wait_for(self, predicate, what, timeout=60.0):
        """
        Poll the leader's state until C{predicate(port, state)} holds.

        @return: C{(port, state)} then.
        @raise AssertionError: after C{timeout} seconds, saying what was
            awaited, with the daemons' output.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = yield self.leader_state()
            if found is not None and predicate(*found):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"last leader state: {found}\n{self.logs()}")
            yield deferLater(self.reactor, POLL_SECONDS, lambda: None)

    def kill_master(self, port):
        """
        SIGKILL the master on C{port}; fires once it is gone.
        """
        return self.masters[port].kill()


@inlineCallbacks
def registered_slaves(daemon, count, fetch_state):
    """
    A probe for L{mesos_tw.testing.local_cluster.until}: the master's state
    (C{fetch_state()} fires with C{(code, body)}) once it lists C{count}
    slaves; L{None} before, or while the master does not answer yet.

    @raise AssertionError: if the master's L{Daemon} C{daemon} has exited,
        with its output.
    """
    if not daemon.running:
        raise AssertionError(f"{daemon.name} exited:\n{daemon.text()}")
    try:
        code, body = yield fetch_state()
        state = json.loads(body) if code == 200 else None
    except Exception:
        return None
    return state if state is not None and len(state["slaves"]) >= count else None


def is_alive(pid):
    """
    Whether process C{pid} exists and is not a zombie.
    """
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
