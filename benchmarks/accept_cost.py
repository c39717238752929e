"""
A listening node's CPU per accepted connection and per frame, in process:
what a new leader pays, on the network path, for each of the thousands of
slaves that open a connection to it and re-register after a failover.

    python benchmarks/accept_cost.py                    # 10,000 connections, 5 runs
    python benchmarks/accept_cost.py --runs 3 --servers node
    python benchmarks/accept_cost.py --profile 30       # one profiled node run

The server is a fresh process per run: a real L{MessageNode} listening as
the master's does (its guard, an HTTP site on the same port, the listen
backlog, the daemon's garbage collector settings, the epoll reactor),
whose receiver answers each C{ReregisterSlaveMessage} (an emulated
slave's, one running task) with one small C{SlaveReregisteredMessage}.
A client process of raw non-blocking sockets opens C{--connections}
connections over about C{--seconds}, from twenty loopback source
addresses (the guard caps an address's connections that have not yet
sent a frame), each sending one re-registration and reading the answer;
then, on the open connections, C{--repeats} rounds of one more
re-registration each (the repeats a failover brings), paced alike.  The
figures are the server's CPU (user and system time, C{getrusage}; the
user part printed too) from listening to its last answer to the first
frames, over the connections, and from then to its last answer to the
repeats, over the repeated frames.  Opening the connections is paced, so
the server sees them arrive as a new leader does, not all waiting at
once.

The C{floor} server does the same work (accept, no-delay, recv, cut
frames, C{decode_addressed}, C{encode_frame}, send) with a raw socket per
connection and C{select.epoll} in plain Python, no Twisted and no node:
the difference between the rows is what the node and Twisted add.  The
load average is printed with the figures: on a busy machine CPU time
grows too (caches, frequency), less than wall time does.
"""

import argparse
import cProfile
import errno
import json
import os
import pstats
import resource
import select
import socket
import statistics
import subprocess
import sys
import time

from mesos_tw.collector import tune_collector
from mesos_tw.constants import LISTEN_BACKLOG
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.codec import decode_addressed, encode_frame
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources

#: Source addresses the client connects from (at most a few hundred
#: connections each per run, under the guard's cap of 1,024 waiting).
SOURCES = [f"127.0.0.{number}" for number in range(2, 22)]

# Linux: pick the source port at connect(), from the whole 4-tuple, so
# that runs in a row do not run out of ports on TIME_WAIT sockets.
_IP_BIND_ADDRESS_NO_PORT = 24

_SLAVE_RESOURCES = "cpus:2;mem:4096"


def _cpu():
    """
    This process's CPU seconds so far: C{(user and system, user)}.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_utime


def reregistration(number):
    """
    The C{ReregisterSlaveMessage} of emulated slave C{number}, one running
    task, as C{mesos_tw.testing.emulated_slave} sends it.
    """
    resources = Resources.parse(_SLAVE_RESOURCES).to_protobuf()
    slave_id = mesos_pb2.SlaveID(value=f"S{number}")
    task = internal.Task(
        name=f"task-{number}", task_id=mesos_pb2.TaskID(value=f"task-{number}"),
        framework_id=mesos_pb2.FrameworkID(value="framework-0"), slave_id=slave_id,
        state=mesos_pb2.TASK_RUNNING, resources=resources)
    return internal.ReregisterSlaveMessage(
        slave_id=slave_id, slave=mesos_pb2.SlaveInfo(hostname=f"emulated-{number}",
                                                     resources=resources),
        tasks=[task])


def answer_to(message):
    """
    The one small frame's message that answers C{message}.
    """
    return internal.SlaveReregisteredMessage(slave_id=message.slave_id)


class _Tally:
    """
    The server's side of a run: counts the frames answered and takes the
    CPU readings at the phases' ends.
    """

    def __init__(self, connections, repeats, done, later=None):
        self.connections = connections
        self.total = connections * (1 + repeats)
        self.frames = 0
        self.started = _cpu()
        self.readings = []
        self._done = done
        self._later = later

    def answered(self):
        """
        One more frame answered (its answer sent, or, with C{later}, queued
        to be sent within the next two turns of the reactor).
        """
        self.frames += 1
        if self.frames == self.connections or self.frames == self.total:
            if self._later is None:
                self._reading()
            else:
                # A transport writes at the reactor's next turn: the reading
                # is taken after it.
                self._later(0, self._later, 0, self._reading)

    def _reading(self):
        self.readings.append(_cpu())
        if len(self.readings) == 2:
            self._done()

    def figures(self):
        """
        CPU seconds (user and system, and user only) per connection and per
        repeated frame.
        """
        (start, start_user), (first, first_user), (last, last_user) = (
            self.started, *self.readings)
        repeats = self.total - self.connections
        return {"per_connection": (first - start) / self.connections,
                "user_per_connection": (first_user - start_user) / self.connections,
                "per_repeat": (last - first) / repeats if repeats else 0.0,
                "user_per_repeat": (last_user - first_user) / repeats if repeats else 0.0}


def serve_node(options, profile=None):
    """
    The node server: a L{MessageNode} on the epoll reactor, as a master
    listens; prints its port, then its figures as JSON.
    """
    from twisted.internet import epollreactor
    epollreactor.install()
    from twisted.internet import reactor
    from twisted.web.resource import Resource

    from mesos_tw.protocols.endpoints import listen_description, server_endpoint
    from mesos_tw.protocols.network import MessageNode
    from mesos_tw.protocols.tls import TLSConfig
    from mesos_tw.web.site import BoundedSite

    class Answering:
        """
        Answers each re-registration with one small frame.
        """

        def message_received(self, sender, message):
            node.send(sender, answer_to(message))
            tally.answered()

        def peer_lost(self, peer):
            # The client closes once it has read every answer.
            lost.append(peer)
            if len(lost) == options.connections and len(tally.readings) == 2:
                reactor.stop()

    def done():
        if profile is not None:
            profile.disable()
        print(json.dumps(tally.figures()), flush=True)
        if len(lost) == options.connections:
            reactor.stop()

    node = MessageNode(reactor, UPID("master", "127.0.0.1", 0), Answering(), tls=TLSConfig())
    port, lost = [], []
    node.listen(server_endpoint(reactor, listen_description("127.0.0.1", 0)),
                BoundedSite(Resource(), reactor)).addCallback(port.append)
    reactor.runUntilCurrent()
    tune_collector()
    tally = _Tally(options.connections, options.repeats, done, reactor.callLater)
    print(f"listening {port[0].getHost().port}", flush=True)
    if profile is not None:
        profile.enable()
    reactor.run()


def serve_floor(options):
    """
    The floor server: the same work on raw sockets and C{select.epoll}.
    """
    master = UPID("master", "127.0.0.1", 0)
    listener = socket.create_server(("127.0.0.1", 0), backlog=LISTEN_BACKLOG)
    listener.setblocking(False)
    poll = select.epoll()
    poll.register(listener.fileno(), select.EPOLLIN)
    connections = {}
    finished = []
    tune_collector()
    tally = _Tally(options.connections, options.repeats, lambda: finished.append(True))
    print(f"listening {listener.getsockname()[1]}", flush=True)
    while not finished:
        for fd, _ in poll.poll():
            if fd == listener.fileno():
                while True:
                    try:
                        connection, _ = listener.accept()
                    except BlockingIOError:
                        break
                    connection.setblocking(False)
                    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    poll.register(connection.fileno(), select.EPOLLIN)
                    connections[connection.fileno()] = [connection, b""]
                continue
            entry = connections[fd]
            connection = entry[0]
            data = connection.recv(65536)
            if not data:
                poll.unregister(fd)
                connection.close()
                del connections[fd]
                continue
            buffer = entry[1] + data if entry[1] else data
            offset, size = 0, len(buffer)
            while size - offset >= 4:
                end = offset + 4 + int.from_bytes(buffer[offset:offset + 4], "big")
                if end > size:
                    break
                sender, _, message = decode_addressed(buffer[offset + 4:end])
                connection.send(encode_frame(master, answer_to(message), sender))
                tally.answered()
                offset = end
            entry[1] = buffer[offset:]
    print(json.dumps(tally.figures()), flush=True)
    # Wait for the client to close (it has read every answer).
    for connection, _ in connections.values():
        connection.setblocking(True)
        connection.recv(1)


class _Client:
    """
    The emulated slaves' side: raw non-blocking sockets on one epoll.
    """

    def __init__(self, port, connections, seconds, repeats):
        self.address = ("127.0.0.1", port)
        self.master = UPID("master", "127.0.0.1", port)
        self.count = connections
        self.seconds = seconds
        self.repeats = repeats
        self.poll = select.epoll()
        self.sockets = {}
        self.frames = {}
        self.buffers = {}
        self.answers = {}
        self.answered = 0
        self.failed = 0

    def frame(self, number):
        return encode_frame(UPID(f"slave({number})", SOURCES[number % len(SOURCES)], 0),
                            reregistration(number), self.master)

    def open(self, number):
        connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        connection.setblocking(False)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.setsockopt(socket.IPPROTO_IP, _IP_BIND_ADDRESS_NO_PORT, 1)
        connection.bind((SOURCES[number % len(SOURCES)], 0))
        error = connection.connect_ex(self.address)
        if error not in (0, errno.EINPROGRESS):
            raise OSError(error, os.strerror(error))
        fd = connection.fileno()
        self.sockets[fd] = connection
        self.frames[fd] = self.frame(number)
        self.buffers[fd] = b""
        self.answers[fd] = 0
        self.poll.register(fd, select.EPOLLOUT)

    def events(self, timeout):
        for fd, event in self.poll.poll(timeout):
            connection = self.sockets[fd]
            if event & (select.EPOLLERR | select.EPOLLHUP):
                self.failed += 1
                self.poll.unregister(fd)
                continue
            if event & select.EPOLLOUT:
                connection.send(self.frames[fd])
                self.poll.modify(fd, select.EPOLLIN)
                continue
            data = connection.recv(65536)
            if not data:
                self.failed += 1
                self.poll.unregister(fd)
                continue
            buffer = self.buffers[fd] + data
            while len(buffer) >= 4:
                end = 4 + int.from_bytes(buffer[:4], "big")
                if len(buffer) < end:
                    break
                buffer = buffer[end:]
                self.answers[fd] += 1
                self.answered += 1
            self.buffers[fd] = buffer

    def until(self, answered, deadline):
        while self.answered < answered and not self.failed:
            if time.monotonic() > deadline:
                raise SystemExit(f"client: {self.answered} of {answered} answered in time")
            self.events(0.05)
        if self.failed:
            raise SystemExit(f"client: {self.failed} connection(s) failed")

    def run(self):
        deadline = time.monotonic() + 120
        started = time.monotonic()
        steps = 100
        for step in range(steps):
            for number in range(step * self.count // steps, (step + 1) * self.count // steps):
                self.open(number)
            while time.monotonic() < started + self.seconds * (step + 1) / steps:
                self.events(0.002)
        self.until(self.count, deadline)
        fds = list(self.sockets)
        for round_ in range(1, self.repeats + 1):
            started = time.monotonic()
            for step in range(steps):
                for fd in fds[step * len(fds) // steps:(step + 1) * len(fds) // steps]:
                    self.sockets[fd].send(self.frames[fd])
                while time.monotonic() < started + self.seconds * (step + 1) / steps:
                    self.events(0.002)
            self.until(self.count * (1 + round_), deadline)
        for connection in self.sockets.values():
            connection.close()


def one_run(kind, options):
    """
    One server process of C{kind} and one client: the server's figures.
    """
    here = os.path.abspath(__file__)
    command = [sys.executable, here, "--serve", kind, "--connections", str(options.connections),
               "--repeats", str(options.repeats)]
    if options.profile and kind == "node":
        command += ["--profile", str(options.profile)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[1])
        subprocess.run([sys.executable, here, "--client", str(port), "--connections",
                        str(options.connections), "--seconds", str(options.seconds),
                        "--repeats", str(options.repeats)], check=True)
        figures = json.loads(server.stdout.readline())
        server.stdout.close()
        server.wait(timeout=60)
        return figures
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _ms(values):
    return f"{statistics.median(values) * 1e3:.4f} ms ({min(values) * 1e3:.4f} to " \
           f"{max(values) * 1e3:.4f})"


def main():
    """
    Run each server kind C{--runs} times and print the medians.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="about how long the client takes to open the connections")
    parser.add_argument("--repeats", type=int, default=1,
                        help="rounds of one more frame on every open connection")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--servers", default="node,floor",
                        help="which servers, of node and floor, in the order run")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="one node run under cProfile; print its N costliest functions")
    parser.add_argument("--serve", choices=["node", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--client", type=int, metavar="PORT", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve == "node":
        profile = cProfile.Profile() if options.profile else None
        serve_node(options, profile)
        if profile is not None:
            pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(
                options.profile)
        return
    if options.serve == "floor":
        return serve_floor(options)
    if options.client is not None:
        return _Client(options.client, options.connections, options.seconds,
                       options.repeats).run()
    if options.profile:
        options.runs, options.servers = 1, "node"
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime before: {uptime}", flush=True)
    kinds = options.servers.split(",")
    results = {kind: [] for kind in kinds}
    for _ in range(options.runs):
        for kind in kinds:
            results[kind].append(one_run(kind, options))
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime after: {uptime}")
    print("server | connections | repeats each | runs | CPU per connection, median (min to max)"
          " | of which user | CPU per repeated frame, median (min to max) | of which user")
    for kind in kinds:
        runs = results[kind]
        print(f"{kind} | {options.connections} | {options.repeats} | {len(runs)} | " + " | ".join(
            _ms([run[key] for run in runs]) for key in (
                "per_connection", "user_per_connection", "per_repeat", "user_per_repeat")))


if __name__ == "__main__":
    main()
