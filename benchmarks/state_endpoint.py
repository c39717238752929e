"""
How long rendering the master's state takes as the cluster grows: the master
is built in process (in-memory network, fake clock), filled with N slaves and
10 tasks per slave through the real registration and launch messages, then
``/master/state`` is rendered through the HTTP app.  Rendering runs on the
reactor thread, so its time is also how long the master's other work pauses.

    python benchmarks/state_endpoint.py                   # 1,000 ... 10,000 slaves
    python benchmarks/state_endpoint.py --slaves 10000 --repeat 5
"""

import argparse
import statistics
import time

from treq.testing import StubTreq
from twisted.internet.task import Clock

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


def build(slaves):
    """
    A master with C{slaves} slaves, one framework and 10 tasks per slave.
    """
    clock = Clock()
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
            for n in range(TASKS_PER_SLAVE)
        ]
        scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=framework_id, offer_id=offer.id, tasks=tasks,
            filters=mesos_pb2.Filters(refuse_seconds=3600)))
    for _ in range(3):
        clock.advance(0)
    master.stop()
    return master


def measure(master, repeat):
    """
    Median and max seconds to render /master/state, and its size.
    """
    client = StubTreq(MasterHTTP(SoleMaster(master)).resource())
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = []
        client.get("http://master/master/state").addCallback(
            lambda r: r.content()).addCallback(response.append)
        times.append(time.perf_counter() - started)
        size = len(response[0])
    return statistics.median(times), max(times), size


def main():
    """
    Print render time against cluster size.
    """
    parser = argparse.ArgumentParser(description="Master state rendering time.")
    parser.add_argument("--slaves", type=int, action="append")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print(f"{'slaves':>7} {'tasks':>8} {'median':>9} {'max':>9} {'size':>10}")
    for slaves in options.slaves or [1000, 2500, 5000, 10000]:
        master = build(slaves)
        tasks = sum(len(f.tasks) for f in master.frameworks.values())
        median, worst, size = measure(master, options.repeat)
        print(f"{slaves:>7} {tasks:>8} {median * 1000:>7.0f}ms {worst * 1000:>7.0f}ms "
              f"{size / 1e6:>8.1f}MB", flush=True)


if __name__ == "__main__":
    main()
