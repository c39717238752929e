"""
How long serving the master's state takes as the cluster grows, and how long
it stops the master's other work: the master is built in process (in-memory
network, fake clock), filled with N slaves and 10 tasks per slave through the
real registration and launch messages, then ``/master/state`` is requested
through the HTTP app and the clock is turned until the body is complete.

Two figures per size: the latency (request to complete body) and the pause,
the longest stretch the reactor spends in one call (the request itself or one
delayed call), which is how long the master's other work waits at worst.

    python benchmarks/state_endpoint.py                   # 1,000 ... 10,000 slaves
    python benchmarks/state_endpoint.py --slaves 10000 --repeat 5
    python benchmarks/state_endpoint.py --path /master/state-summary \
        --slaves 50000 --tasks_per_slave 1 --repeat 1
"""

import argparse
import heapq
import itertools
import os
import statistics
import time

from treq.testing import StubTreq
from twisted.internet.base import DelayedCall
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer

MASTER = UPID("master", "127.0.0.1", 5050)
TASKS_PER_SLAVE = 10


@implementer(IReactorTime)
class HeapClock:
    """
    A fake clock like L{twisted.internet.task.Clock}, with its calls in a
    heap: C{Clock} sorts every pending call on each C{callLater}, which at
    10,000 slaves (a ping timer each) makes building the cluster take hours.
    It also times each call it runs.

    @ivar longest: the longest a single call took, in seconds.
    """

    def __init__(self):
        self.now = 0.0
        self.longest = 0.0
        self._heap = []
        self._order = itertools.count()

    def seconds(self):
        """
        The fake time.
        """
        return self.now

    def callLater(self, delay, f, *args, **kw):
        """
        Schedule C{f} C{delay} fake seconds from now.
        """
        call = DelayedCall(self.now + delay, f, args, kw, lambda call: None, self._push,
                           seconds=self.seconds)
        self._push(call)
        return call

    def _push(self, call):
        heapq.heappush(self._heap, (call.time, next(self._order), call))

    def getDelayedCalls(self):
        """
        The calls still pending.
        """
        return [call for _, _, call in self._heap if not (call.cancelled or call.called)]

    def advance(self, amount):
        """
        Move time on by C{amount} and run every call due, in order,
        including those they schedule for no later than the new time.
        """
        self.now += amount
        while self._heap and self._heap[0][0] <= self.now:
            when, _, call = heapq.heappop(self._heap)
            if call.cancelled or call.called or when != call.time:
                continue
            if call.delayed_time:
                call.activate_delay()
                self._push(call)
                continue
            call.called = 1
            started = time.perf_counter()
            call.func(*call.args, **call.kw)
            self.longest = max(self.longest, time.perf_counter() - started)


def build(slaves, tasks_per_slave=TASKS_PER_SLAVE):
    """
    A master with C{slaves} slaves, one framework and C{tasks_per_slave}
    tasks per slave.
    """
    clock = HeapClock()
    network = MemoryNetwork(clock)
    master = Master(clock, network.node(MASTER))
    master.start()
    info = mesos_pb2.SlaveInfo(
        hostname="host", resources=Resources.parse("cpus:16;mem:65536").to_protobuf())
    peers = []
    for number in range(slaves):
        peer = RecordingPeer(network, UPID("slave(1)", f"10.{number // 65536}.{number // 256 % 256}.{number % 256}", 5051))
        peer.send(MASTER, internal.RegisterSlaveMessage(slave=info))
        peers.append(peer)
    clock.advance(0)
    scheduler = RecordingPeer(network, UPID("scheduler-1", "127.0.0.1", 0))
    scheduler.send(MASTER, internal.RegisterFrameworkMessage(
        framework=mesos_pb2.FrameworkInfo(user="u", name="bench")))
    for _ in range(3):
        clock.advance(0)
    framework_id = scheduler.last(internal.FrameworkRegisteredMessage).framework_id
    task_resources = Resources.parse("cpus:1;mem:1024").to_protobuf()
    for offer in scheduler.last(internal.ResourceOffersMessage).offers:
        tasks = [
            mesos_pb2.TaskInfo(
                name="t", task_id=mesos_pb2.TaskID(value=f"{offer.slave_id.value}-{n}"),
                slave_id=offer.slave_id, resources=task_resources,
                command=mesos_pb2.CommandInfo(value="true"))
            for n in range(tasks_per_slave)
        ]
        scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=framework_id, offer_id=offer.id, tasks=tasks,
            filters=mesos_pb2.Filters(refuse_seconds=3600)))
    for _ in range(3):
        clock.advance(0)
    master.stop()
    return master


def measure(master, repeat, path="/master/state"):
    """
    Median latency, median and worst pause (seconds) of serving C{path},
    the body's size, and the median CPU seconds it took (less sensitive
    than the latency to a shared machine's load).
    """
    clock = master.reactor
    client = StubTreq(MasterHTTP(SoleMaster(master)).resource())
    latencies, pauses, size, cpu = [], [], 0, []
    for _ in range(repeat):
        clock.longest = 0.0
        started, cpu_started = time.perf_counter(), time.process_time()
        body = []
        client.get("http://master" + path).addCallback(
            lambda r: r.content()).addCallback(body.append)
        request = time.perf_counter() - started
        while not body:
            clock.advance(0)
            client.flush()
        latencies.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        pauses.append(max(request, clock.longest))
        size = len(body[0])
    return (statistics.median(latencies), statistics.median(pauses), max(pauses), size,
            statistics.median(cpu))


def main():
    """
    Print render time against cluster size.
    """
    parser = argparse.ArgumentParser(description="Master state rendering time.")
    parser.add_argument("--slaves", type=int, action="append")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tasks_per_slave", type=int, default=TASKS_PER_SLAVE)
    parser.add_argument("--path", default="/master/state",
                        help="the endpoint to measure (default /master/state)")
    options = parser.parse_args()
    print(f"{options.path}, load average {os.getloadavg()[0]:.2f} (2 cores)")
    print(f"{'slaves':>7} {'tasks':>8} {'latency':>9} {'pause':>9} {'max pause':>10} "
          f"{'size':>9} {'CPU':>9}")
    for slaves in options.slaves or [1000, 2500, 5000, 10000]:
        master = build(slaves, options.tasks_per_slave)
        tasks = sum(len(f.tasks) for f in master.frameworks.values())
        latency, pause, worst, size, cpu = measure(master, options.repeat, options.path)
        print(f"{slaves:>7} {tasks:>8} {latency * 1000:>7.0f}ms {pause * 1000:>7.0f}ms "
              f"{worst * 1000:>8.0f}ms {size / 1e6:>7.1f}MB {cpu * 1000:>7.0f}ms", flush=True)


if __name__ == "__main__":
    main()
