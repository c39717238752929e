"""
Real ZooKeeper servers for tests and benchmarks: a single server, or an
ensemble, on loopback ports with throw-away data directories.

They run Debian's ``zookeeper`` package (``scripts/test`` installs it).
Every server is started with a parent-death signal, so none outlives a
killed test run, and L{ZooKeeperServer.kill} / L{ZooKeeperEnsemble.stop}
end every process started here.
"""

import collections
import ctypes
import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile

from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater

__all__ = [
    "ZooKeeperEnsemble",
    "ZooKeeperServer",
    "ZooKeeperUnavailable",
    "free_port",
    "free_ports",
    "start_ensemble",
    "zookeeper_classpath",
]

JAVA_DIR = "/usr/share/java"
#: The jars a server needs, in the order tried; the first of each group found
#: is used.  slf4j-simple makes the server's log plain text on its output.
JARS = (
    ("zookeeper.jar",),
    ("slf4j-api.jar",),
    ("slf4j-simple.jar", "slf4j-nop.jar"),
)
SERVING_MODES = (b"Mode: standalone", b"Mode: leader", b"Mode: follower")
PR_SET_PDEATHSIG = 1


class ZooKeeperUnavailable(Exception):
    """
    ZooKeeper cannot be run here; the message says what is missing.
    """


def zookeeper_classpath(java_dir=JAVA_DIR):
    """
    The class path for a ZooKeeper server from Debian's jars.

    @raise ZooKeeperUnavailable: if Java or a jar is missing.
    """
    if shutil.which("java") is None:
        raise ZooKeeperUnavailable("java is not installed (apt-get install zookeeper)")
    jars = []
    for choices in JARS:
        found = [os.path.join(java_dir, jar) for jar in choices
                 if os.path.exists(os.path.join(java_dir, jar))]
        if not found:
            raise ZooKeeperUnavailable(
                f"{' or '.join(choices)} is missing from {java_dir} (apt-get install zookeeper)")
        jars.append(found[0])
    return ":".join(jars)


#: Ports handed out for servers to listen on: below Linux's ephemeral range
#: (32768 and up), so that no outgoing connection (a client's source port)
#: can take one between the moment it is chosen and the moment the server
#: binds it.
LISTEN_PORTS = range(10000, 32000)


#: Where the processes choosing ports here reserve each port they hand
#: out: a lock on a file named for it, held while the process runs (its
#: L{RESERVED} latest ports).  A port is free when chosen but is bound only
#: once its daemon has started, seconds later on a loaded machine; without
#: the reservation, another test process (trial --jobs, or another
#: checkout's suite) could choose it meanwhile, and one daemon would fail.
RESERVATIONS = os.path.join(tempfile.gettempdir(), "mesos_tw-test-ports")

#: How many of its latest ports a process keeps reserved.
RESERVED = 200

_reservations = collections.deque()


def _reserve(port):
    """
    Reserve C{port} for this process: L{True} if it now is, L{False} if
    another process (or this one, earlier) holds it.  Where reservations
    cannot be made (an unwritable temporary directory), L{True}.
    """
    try:
        os.makedirs(RESERVATIONS, exist_ok=True)
        reservation = os.open(os.path.join(RESERVATIONS, str(port)), os.O_RDONLY | os.O_CREAT)
    except OSError:
        return True
    try:
        fcntl.flock(reservation, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(reservation)
        return False
    _reservations.append(reservation)
    while len(_reservations) > RESERVED:
        os.close(_reservations.popleft())
    return True


def free_ports(count):
    """
    C{count} different loopback ports, each free right now and reserved
    for this process (see L{RESERVATIONS}), chosen at random from
    L{LISTEN_PORTS}.  All are held until all are chosen, so a server's
    ports never collide with each other's.
    """
    held, ports = [], []
    try:
        while len(ports) < count:
            port = random.choice(LISTEN_PORTS)
            if port in ports or not _reserve(port):
                continue
            probe = socket.socket()
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                probe.close()
                continue
            held.append(probe)
            ports.append(port)
    finally:
        for probe in held:
            probe.close()
    return ports


def free_port():
    """
    One loopback port free right now (see L{free_ports}).
    """
    return free_ports(1)[0]


def _die_with_parent():
    """
    In the child before exec: be killed when the process that started us
    dies, however it dies.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def server_mode(port, timeout=0.5):
    """
    The C{Mode:} line of the server's C{srvr} answer, or L{None} if it does
    not serve yet.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            connection.sendall(b"srvr")
            answer = b""
            while True:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return None
    for mode in SERVING_MODES:
        if mode in answer:
            return mode.decode()
    return None


class ZooKeeperServer:
    """
    One ZooKeeper server process.

    @param directory: its data directory (made if missing); its output goes
        to C{server.log} there.
    @param tick_ms: ZooKeeper's tick; sessions may last 2 to 20 ticks, so a
        small tick makes session-expiry tests fast.
    @param ensemble: C{[(client_port, peer_port, election_port), ...]} of
        every member, for a server of an ensemble; C{myid} is its 1-based
        place there.
    """

    def __init__(self, directory, port=None, tick_ms=200, ensemble=None, myid=None):
        self.directory = os.path.abspath(directory)
        self.port = port or free_port()
        self.tick_ms = tick_ms
        self.ensemble = ensemble
        self.myid = myid
        self.process = None

    @property
    def address(self):
        """
        C{127.0.0.1:port}.
        """
        return f"127.0.0.1:{self.port}"

    def _argv(self, classpath):
        java = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-cp", classpath,
                "-Dzookeeper.admin.enableServer=false",
                "-Dzookeeper.4lw.commands.whitelist=srvr"]
        if self.ensemble is None:
            return java + ["org.apache.zookeeper.server.ZooKeeperServerMain",
                           str(self.port), self.directory, str(self.tick_ms)]
        config = os.path.join(self.directory, "zoo.cfg")
        lines = [f"tickTime={self.tick_ms}", "initLimit=20", "syncLimit=5",
                 f"dataDir={self.directory}", f"clientPort={self.port}",
                 "clientPortAddress=127.0.0.1", "admin.enableServer=false",
                 "4lw.commands.whitelist=srvr"]
        for number, (_, peer, election) in enumerate(self.ensemble, 1):
            lines.append(f"server.{number}=127.0.0.1:{peer}:{election}")
        with open(config, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        with open(os.path.join(self.directory, "myid"), "w", encoding="ascii") as out:
            out.write(f"{self.myid}\n")
        return java + ["org.apache.zookeeper.server.quorum.QuorumPeerMain", config]

    def start(self):
        """
        Start the server process (it keeps its data across restarts).

        @raise ZooKeeperUnavailable: if ZooKeeper is not installed.
        """
        os.makedirs(self.directory, exist_ok=True)
        argv = self._argv(zookeeper_classpath())
        log = open(os.path.join(self.directory, "server.log"), "ab")
        with log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent, cwd=self.directory)

    def kill(self):
        """
        SIGKILL the server and reap it (nothing if it is not running).
        """
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()
        self.process = None

    def pause(self):
        """
        SIGSTOP the server: it holds its connections but answers nothing,
        like a server behind a network partition.
        """
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        """
        SIGCONT a paused server.
        """
        self.process.send_signal(signal.SIGCONT)

    def log_text(self):
        """
        The server's output so far (for failure messages).
        """
        try:
            with open(os.path.join(self.directory, "server.log"), encoding="utf-8",
                      errors="replace") as log:
                return log.read()[-4000:]
        except OSError:
            return ""

    @inlineCallbacks
    def wait_serving(self, reactor, timeout=60.0):
        """
        Fire once the server answers C{srvr} as a serving member.

        @raise RuntimeError: if it exits or does not serve within
            C{timeout} seconds, with its log.
        """
        polls = int(timeout / 0.05)
        for _ in range(polls):
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError("ZooKeeper server exited:\n" + self.log_text())
            if server_mode(self.port) is not None:
                return self
            yield deferLater(reactor, 0.05, lambda: None)
        raise RuntimeError(f"ZooKeeper server not serving after {timeout}s:\n" + self.log_text())


class ZooKeeperEnsemble:
    """
    C{size} ZooKeeper servers forming one ensemble (a single server when
    C{size} is 1).
    """

    def __init__(self, directory, size=3, tick_ms=200):
        self.directory = os.path.abspath(directory)
        if size == 1:
            self.servers = [ZooKeeperServer(os.path.join(self.directory, "zk1"), tick_ms=tick_ms)]
            return
        flat = free_ports(3 * size)
        ports = [tuple(flat[3 * n:3 * n + 3]) for n in range(size)]
        self.servers = [
            ZooKeeperServer(os.path.join(self.directory, f"zk{n}"), port=ports[n - 1][0],
                            tick_ms=tick_ms, ensemble=ports, myid=n)
            for n in range(1, size + 1)
        ]

    @property
    def hosts(self):
        """
        C{host:port,...} of every member.
        """
        return ",".join(server.address for server in self.servers)

    def url(self, path="/mesos"):
        """
        A C{zk://} URL for C{path} on this ensemble.
        """
        return f"zk://{self.hosts}{path}"

    def start(self):
        """
        Start every member.
        """
        for server in self.servers:
            server.start()

    @inlineCallbacks
    def wait_serving(self, reactor, timeout=60.0):
        """
        Fire once every running member serves (a quorum has formed).
        """
        for server in self.servers:
            if server.process is not None:
                yield server.wait_serving(reactor, timeout)
        return self

    def stop(self):
        """
        Kill every member.
        """
        for server in self.servers:
            server.kill()


def start_ensemble(test_case, reactor, size=1, tick_ms=200):
    """
    For a trial test: start an ensemble in a temporary directory, stop it
    at cleanup, and fire with it once it serves.  Skips the test, saying
    why, if ZooKeeper is not installed.
    """
    from twisted.trial.unittest import SkipTest

    try:
        zookeeper_classpath()
    except ZooKeeperUnavailable as error:
        raise SkipTest(str(error)) from None
    ensemble = ZooKeeperEnsemble(test_case.mktemp(), size=size, tick_ms=tick_ms)
    test_case.addCleanup(ensemble.stop)
    ensemble.start()
    return ensemble.wait_serving(reactor)
