"""
A process of emulated slaves, for benchmarks that need more of them than
one process (or one source address) can carry:

    python -m mesos_tw.testing.emulator --master=127.0.0.1:5050 \\
        --slaves 10000 --first 0 --source 127.0.0.2

It connects C{--slaves} L{EmulatedSlave}s numbered from C{--first} (so
that several processes' slaves have distinct UPIDs and hostnames), from
the local address C{--source} (or several, in turn), at most C{--window} of them registering
at once (a larger storm overflows the master's listen backlog, and the
kernel retries a dropped SYN only after whole seconds).  C{--per_connection}
slaves share each connection to the master, as the processes of one
libprocess program share its sockets (each slave its own UPID, named in
every message): a process may hold only so many open files, and at tens
of thousands of slaves the master's limit is the one that binds.  With a
C{zk://} master, one detector for the whole process makes every slave
follow the leader, as each real slave's own detector would.

So that the emulation costs less than the master it measures, the slaves
connect through a lean L{EmulatorNode} (a L{MessageNode} with TLS), keep
their timers in one L{TimerHeap}, their records are frozen out of the
garbage collector once all are registered, and C{--nice} lowers the
process's priority below a master's on the same machine.

Every C{--report_interval} seconds (half a second) it prints one JSON
line to standard output: C{{"answered": n, "cpu": seconds, "leader_at":
seconds}}, the slaves answered by the leader they follow (since their
last leader change, see L{EmulatedSlave}), the CPU it used, and when (the
reactor's clock: the time since the epoch) its detector last named a
leader.  Every half second, and when the last is answered, the line also
has C{"registered"} (slaves with an id), C{"running"} (tasks),
C{"attempts"} ((re-)registrations sent so far) and C{"lost_master"}
(master connections lost or refused so far), and when the last is
answered C{"registered_after"}: the median, 90th percentile and maximum seconds
from a slave's leader change to its answer.  It stops when its standard input
closes.
"""

import argparse
import json
import os
import sys

from twisted.internet import stdio, task
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol

from mesos_tw.collector import tune_collector
from mesos_tw.detector import detector_for, resolve_master
from mesos_tw.protocols.endpoints import ClientEndpoints
from mesos_tw.protocols.network import MessageNode
from mesos_tw.protocols.tls import TLSConfig
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.emulated_slave import EmulatedSlave
from mesos_tw.testing.emulator_node import EmulatorNode
from mesos_tw.testing.timer_heap import TimerHeap
from mesos_tw.zookeeper.url import ZooKeeperURL

__all__ = ["main", "until_stdin_closes"]

#: A Mesos slave tries (re-)registering again after a random wait of up to
#: 2 x --registration_backoff_factor (1 s), the cap doubling up to a
#: minute (src/slave/slave.cpp, doReliableRegistration): with thousands of
#: slaves waiting for one master, fewer repeats than our own slave's 1 s
#: and 8 s.
MESOS_RETRY_INTERVALS = (2.0, 60.0)


class _UntilClosed(Protocol):
    """
    Fires C{closed} when standard input closes (the benchmark is done).
    """

    def __init__(self):
        self.closed = Deferred()

    def connectionLost(self, reason):
        self.closed.callback(None)


def until_stdin_closes(reactor):
    """
    A Deferred firing once this process's standard input closes: how the
    benchmarks tell the processes they start to stop.
    """
    watch = _UntilClosed()
    stdio.StandardIO(watch, reactor=reactor)
    return watch.closed


def _report(slaves, leader_at, answered, full_every, state):
    state["reports"] += 1
    line = {"answered": answered[0], "cpu": sum(os.times()[:2]), "leader_at": leader_at[0]}
    # Visiting every slave costs: every few reports only, and when the
    # last one has just been answered.
    complete = answered[0] == len(slaves)
    just_completed, state["complete"] = complete and not state["complete"], complete
    if state["reports"] % full_every == 0 or just_completed:
        line.update(
            registered=sum(1 for slave in slaves if slave.slave_id is not None),
            running=sum(len(slave.running) for slave in slaves),
            attempts=sum(slave.attempts for slave in slaves),
            lost_master=sum(slave.lost_master for slave in slaves))
        if just_completed:
            after = sorted(slave.registered_after for slave in slaves)
            line["registered_after"] = [after[len(after) // 2], after[len(after) * 9 // 10],
                                        after[-1]]
    print(json.dumps(line), flush=True)


def _node_maker(reactor, sources):
    """
    A function C{(upid, connection number)} making the node of one
    connection's slaves, from the source addresses in turn: a lean
    L{EmulatorNode}, or with TLS (C{LIBPROCESS_SSL_*}) a L{MessageNode}.
    """
    tls = TLSConfig.from_environ()
    if not tls.enabled:
        return lambda upid, number: EmulatorNode(
            reactor, upid, source_host=sources[number % len(sources)])
    # Shared by the nodes: parsed and read from the environment once.
    endpoints = [ClientEndpoints(reactor, source_host=source) for source in sources]
    return lambda upid, number: MessageNode(
        reactor, upid, None, client_endpoints=endpoints[number % len(endpoints)], tls=tls)


async def _emulate(reactor, options):
    location = resolve_master(options.master)
    detector = detector_for(location, reactor, session_timeout=options.zk_session_timeout)
    resources = Resources.parse(options.resources)
    # With ZooKeeper, a slave whose master's connection closed waits for
    # the detector to name the next leader, as a Mesos slave does, rather
    # than knock at the dead one's port: thousands of slaves doing so
    # saturate this process just when the detector's news must get
    # through.  It knocks again only if no news comes for a few session
    # timeouts (the same master may still lead): after four to eight.
    lost_master_delay = 4 * options.zk_session_timeout if isinstance(location, ZooKeeperURL) \
        else 1.0
    slaves = []
    node = None
    answered = [0]

    def count_answered(change):
        answered[0] += change

    # The connections take the source addresses in turn.
    sources = options.source.split(",") if options.source else [None]
    new_node = _node_maker(reactor, sources)
    # The slaves' timers (a task's end, the next registration attempt).
    timers = TimerHeap(reactor)
    for index, number in enumerate(range(options.first, options.first + options.slaves)):
        upid = UPID(f"slave({number})", "127.0.0.1", 0)
        if index % options.per_connection == 0:
            node = new_node(upid, index // options.per_connection)
        slaves.append(EmulatedSlave(timers, None, number, resources, node=node.host(upid),
                                    reregistration_delay=options.reregistration_delay,
                                    lost_master_delay=lost_master_delay,
                                    retry_intervals=MESOS_RETRY_INTERVALS,
                                    on_answered=count_answered))
    leader_at = [None]
    reporting = task.LoopingCall(_report, slaves, leader_at, answered,
                                 max(1, round(0.5 / options.report_interval)),
                                 {"reports": 0, "complete": False})
    reporting.clock = reactor
    reporting.start(options.report_interval)
    leader = []
    started = []

    def leader_changed(upid):
        leader[:] = [upid]
        leader_at[0] = reactor.seconds()
        for slave in started:
            slave.follow(upid)

    detector.start(leader_changed)
    while not leader or leader[0] is None:
        await task.deferLater(reactor, 0.05, lambda: None)
    waiting = iter(slaves)
    registering = [0]

    def start_more(_=None):
        # At most --window slaves register at once: a storm larger than
        # the master's listen backlog loses SYNs, which the kernel retries
        # only after 1, 3, 7, 15 ... seconds.
        for slave in waiting:
            started.append(slave)
            slave.follow(leader[0])
            registering[0] += 1
            slave.when_registered().addCallback(registered)
            if registering[0] >= options.window:
                return

    def registered(_):
        registering[0] -= 1
        start_more()
        if not registering[0]:
            # Every slave is registered: freeze their records out of the
            # collector.  Traversed by every full collection otherwise,
            # they cost this process pauses of 0.2 to 2 s each, when a
            # failover's new connections make the garbage that triggers
            # them (measured with gc.callbacks, under load).
            tune_collector()

    start_more()
    await until_stdin_closes(reactor)
    reporting.stop()
    for slave in slaves:
        slave.stop()
    detector.stop()


def main(argv=None):
    """
    The command line: emulate slaves until standard input closes.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--master", required=True, help="host:port, or zk://.../path")
    parser.add_argument("--slaves", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="the first slave's number")
    parser.add_argument("--source", default=None,
                        help="local address to connect from, or several separated by commas "
                             "(the connections take them in turn: a master caps the "
                             "connections one address holds before they say anything)")
    parser.add_argument("--resources", default="cpus:2;mem:4096")
    parser.add_argument("--window", type=int, default=500,
                        help="slaves registering at once (the next starts when one is registered)")
    parser.add_argument("--per_connection", type=int, default=1,
                        help="slaves sharing each connection to the master")
    parser.add_argument("--zk_session_timeout", type=float, default=10.0)
    parser.add_argument("--report_interval", type=float, default=0.5,
                        help="seconds between two lines on standard output")
    parser.add_argument("--nice", type=int, default=0,
                        help="add this to the process's niceness: a benchmark that runs the "
                             "emulation on the master's machine keeps it from taking the "
                             "master's CPU (each real slave has a machine of its own)")
    parser.add_argument("--reregistration_delay", type=float, default=1.0,
                        help="after a new leader is detected, each slave re-registers after a "
                             "random wait of up to this many seconds (Mesos's "
                             "--registration_backoff_factor)")
    options = parser.parse_args(argv)
    if options.nice:
        os.nice(options.nice)
    task.react(lambda reactor: Deferred.fromCoroutine(_emulate(reactor, options)))


if __name__ == "__main__":
    main(sys.argv[1:])
