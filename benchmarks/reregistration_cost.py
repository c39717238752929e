"""
A new leader's CPU per re-registering slave, in process: the registry
lists N slaves (as an earlier leader admitted them), a fresh master reads
it, and each slave's C{ReregisterSlaveMessage}, reporting one running task
as an emulated slave's does, is handed to the master as its network would
hand it over, and the pong answering the ping its admission sends
follows in the next turn of the reactor; then each re-registration is
sent again (a repeat: the slave retried before the answer reached it).
The framework of their tasks re-registered first; every C{--batch}
messages the reactor turns (an allocation after events runs).  What the
master sends is discarded, so this is the master's own handling: not
reading or writing connections, not logging to a file.  The garbage collector is set as the daemon sets it
(L{mesos_tw.collector.tune_collector}): with CPython's defaults, which
the daemon does not run with, collections took about a third of the
time measured here.

    python benchmarks/reregistration_cost.py --slaves 10000
    python benchmarks/reregistration_cost.py --slaves 10000 --profile 25

It prints the CPU seconds per re-registration, first (its pong included)
and repeated, the
median of C{--repeat} runs; C{--profile N} prints the N costliest
functions of one run (cProfile, which slows everything).
"""

import argparse
import cProfile
import os
import pstats
import statistics
import time

from zope.interface import implementer
from zope.interface.verify import verifyObject

from mesos_tw.collector import tune_collector
from mesos_tw.master.master import Master
from mesos_tw.master.registry import MemoryRemovedSlaves
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.interfaces import IMessageNode
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources

from state_endpoint import MASTER, HeapClock

SLAVE = "cpus:2;mem:4096"
SCHEDULER = UPID("scheduler", "127.0.0.1", 6000)


@implementer(IMessageNode)
class DiscardingNode:
    """
    A message node that sends nowhere (the master's side of the wire only).
    """

    def __init__(self, upid):
        self.upid = upid
        self.receiver = None
        self.sent = 0

    def send(self, to, message):
        self.sent += 1

    def connected_to(self, upid):
        return True

    def disconnect_all(self):
        """
        Nothing is connected.
        """

    def disconnect(self, upid):
        pass

    def peers(self):
        return []

    def pin(self, upid):
        pass

    def unpin(self, upid):
        pass

    def admitted(self, upid):
        pass


def reregistrations(count):
    """
    C{[(sender, ReregisterSlaveMessage)]} of C{count} slaves with one
    running task each, and the registry listing them.
    """
    registry = MemoryRemovedSlaves()
    resources = Resources.parse(SLAVE).to_protobuf()
    framework_id = mesos_pb2.FrameworkID(value="framework-0")
    messages = []
    for number in range(count):
        slave_id = mesos_pb2.SlaveID(value=f"S{number}")
        info = mesos_pb2.SlaveInfo(hostname=f"emulated-{number}", resources=resources)
        stored = mesos_pb2.SlaveInfo()
        stored.CopyFrom(info)
        stored.id.CopyFrom(slave_id)
        registry.admit(stored)
        task = internal.Task(
            name=f"task-{number}", task_id=mesos_pb2.TaskID(value=f"task-{number}"),
            framework_id=framework_id, slave_id=slave_id, state=mesos_pb2.TASK_RUNNING,
            resources=resources)
        messages.append((UPID(f"slave({number})", "127.0.0.1", 0),
                         internal.ReregisterSlaveMessage(slave_id=slave_id, slave=info,
                                                         tasks=[task])))
    return registry, messages


def run(count, batch, profile=None):
    """
    One run: C{(first, repeated)} CPU seconds per re-registration.
    """
    registry, messages = reregistrations(count)
    clock = HeapClock()
    node = DiscardingNode(MASTER)
    verifyObject(IMessageNode, node)
    master = Master(clock, node, registry=registry)
    master.start()
    assert len(master.recovered_slaves) == count
    # The framework whose tasks the slaves run is back first, as in
    # failover_mttr.py.
    master.message_received(SCHEDULER, internal.ReregisterFrameworkMessage(
        framework=mesos_pb2.FrameworkInfo(
            id=mesos_pb2.FrameworkID(value="framework-0"), user="", name="mttr",
            failover_timeout=600), failover=True))
    clock.advance(0)
    if profile is not None:
        profile.enable()
    timings = []
    pong = internal.PongSlaveMessage()
    for first in (True, False):
        started = time.process_time()
        answering = []
        for index, (sender, message) in enumerate(messages):
            master.message_received(sender, message)
            if first:
                answering.append(sender)
            if index % batch == batch - 1 or index == count - 1:
                # A turn of the reactor: what handling them scheduled
                # (an allocation after events) runs, and the slaves'
                # pongs to the pings their admissions sent arrive.
                clock.advance(0)
                for pinged in answering:
                    master.message_received(pinged, pong)
                answering = []
        clock.advance(0)
        timings.append((time.process_time() - started) / count)
    first, repeated = timings
    if profile is not None:
        profile.disable()
    assert len(master.slaves) == count and not master.recovered_slaves
    master.stop()
    return first, repeated


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slaves", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50,
                        help="re-registrations handled per turn of the reactor")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N costliest functions of one profiled run")
    options = parser.parse_args()
    tune_collector()
    if options.profile:
        profile = cProfile.Profile()
        run(options.slaves, options.batch, profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(options.profile)
        return
    runs = [run(options.slaves, options.batch) for _ in range(options.repeat)]
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("slaves | CPU per re-registration (median) | per repeat (median) | runs")
    print(f"{options.slaves:>6} | {statistics.median(r[0] for r in runs) * 1e3:>28.4f} ms | "
          f"{statistics.median(r[1] for r in runs) * 1e3:>15.4f} ms | {len(runs)}")


if __name__ == "__main__":
    main()
