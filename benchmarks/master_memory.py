"""
The master's memory per slave and per task, in process: a master on an
in-memory network (fake clock) registers N slaves through the real
registration message, one framework launches one task on each, every task
is reported running, then finished.  After each step the master's growth
is printed per slave or per task, as the process's resident size grew
(what an operator sees, allocator slack included) and, with ``--traced``,
as Python's own allocations counted by ``tracemalloc`` (slower; protobuf
messages live outside them).

The slaves' and the framework's side of the in-memory network (one peer
object and connection per slave) is counted too: the figures are upper
bounds of the master's own.  A completed task is one the master keeps in
its framework's ``completed_tasks`` (Mesos keeps the last 1,000 per
framework); ``--keep_completed`` raises that cap so that every finished
task is counted.

    python benchmarks/master_memory.py                   # 10,000 slaves
    python benchmarks/master_memory.py --slaves 50000 --traced
"""

import argparse
import gc
import os
import tracemalloc

from mesos_tw.master import state
from mesos_tw.master.master import Master
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer

from state_endpoint import MASTER, HeapClock

SLAVE = "cpus:2;mem:4096"
TASK = "cpus:2;mem:2048"


def resident():
    """
    This process's resident size, in bytes.
    """
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Cluster:
    """
    A master, N recording slaves and one recording scheduler, in memory.
    """

    def __init__(self):
        self.clock = HeapClock()
        self.network = MemoryNetwork(self.clock)
        self.master = Master(self.clock, self.network.node(MASTER))
        self.master.start()
        self.slaves = {}
        self.scheduler = None
        self.tasks = {}

    def settle(self):
        """
        Deliver what is in flight and forget what the peers received (the
        test's side keeps no history).
        """
        for _ in range(3):
            self.clock.advance(0)
        for peer in list(self.slaves.values()) + [self.scheduler]:
            if peer is not None:
                peer.received.clear()
                peer.node.sent.clear()
        self.master.node.sent.clear()

    def register(self, count):
        """
        Register C{count} slaves.
        """
        info = mesos_pb2.SlaveInfo(hostname="host", resources=Resources.parse(SLAVE).to_protobuf())
        peers = []
        for number in range(count):
            address = f"10.{number // 65536}.{number // 256 % 256}.{number % 256}"
            peer = RecordingPeer(self.network, UPID("slave(1)", address, 5051))
            peer.send(MASTER, internal.RegisterSlaveMessage(slave=info))
            peers.append(peer)
        self.clock.advance(0)
        for peer in peers:
            registered = peer.last(internal.SlaveRegisteredMessage)
            self.slaves[registered.slave_id.value] = peer
        self.settle()

    def launch(self):
        """
        Register a framework and launch one task on each slave offered.
        """
        self.scheduler = RecordingPeer(self.network, UPID("scheduler-1", "127.0.0.1", 0))
        self.scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="bench", name="bench")))
        for _ in range(3):
            self.clock.advance(0)
        self.framework_id = self.scheduler.last(internal.FrameworkRegisteredMessage).framework_id
        resources = Resources.parse(TASK).to_protobuf()
        for offer in self.scheduler.last(internal.ResourceOffersMessage).offers:
            task_id = f"task-{offer.slave_id.value}"
            self.tasks[task_id] = offer.slave_id
            self.scheduler.send(MASTER, internal.LaunchTasksMessage(
                framework_id=self.framework_id, offer_id=offer.id,
                tasks=[mesos_pb2.TaskInfo(
                    name="bench", task_id=mesos_pb2.TaskID(value=task_id),
                    slave_id=offer.slave_id, resources=resources,
                    command=mesos_pb2.CommandInfo(value="sleep 30"))],
                filters=mesos_pb2.Filters(refuse_seconds=3600)))
        self.settle()

    def report(self, state_):
        """
        Every task's slave reports it in C{state_} (the framework first
        suppresses offers: what the finished tasks free is not offered
        again, so the growth is the tasks' own).
        """
        self.scheduler.send(MASTER, internal.SuppressOffersMessage(framework_id=self.framework_id))
        for number, (task_id, slave_id) in enumerate(self.tasks.items()):
            self.slaves[slave_id.value].send(MASTER, internal.StatusUpdateMessage(
                update=internal.StatusUpdate(
                    framework_id=self.framework_id, slave_id=slave_id,
                    status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id),
                                                state=state_, slave_id=slave_id),
                    timestamp=self.clock.seconds(),
                    uuid=b"%d-%08d" % (state_, number))))
        self.settle()


def main():
    """
    Print the master's growth per slave and per task.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slaves", type=int, default=10000)
    parser.add_argument("--traced", action="store_true",
                        help="also count Python's allocations (tracemalloc; slower)")
    parser.add_argument("--keep_completed", type=int, default=10 ** 6,
                        help="completed tasks kept per framework (Mesos: 1,000)")
    options = parser.parse_args()
    state.MAX_COMPLETED_TASKS_PER_FRAMEWORK = options.keep_completed
    if options.traced:
        tracemalloc.start()

    def measure():
        gc.collect()
        return resident(), tracemalloc.get_traced_memory()[0] if options.traced else 0

    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores)")
    print("slaves | step | resident growth per item | traced growth per item")
    cluster = Cluster()
    before = measure()
    steps = [("registered (per slave)", lambda: cluster.register(options.slaves), before),
             ("tasks staged (per task)", cluster.launch, None),
             ("tasks running (per task, from registered)",
              lambda: cluster.report(mesos_pb2.TASK_RUNNING), "registered"),
             ("tasks finished, kept completed (per task, from registered)",
              lambda: cluster.report(mesos_pb2.TASK_FINISHED), "registered")]
    last = before
    registered = None
    for label, step, base in steps:
        step()
        now = measure()
        origin = registered if base == "registered" else last
        count = options.slaves
        resident_growth = (now[0] - origin[0]) / count
        traced_growth = (now[1] - origin[1]) / count if options.traced else float("nan")
        print(f"{options.slaves:>6} | {label} | {resident_growth:>8.0f} B | {traced_growth:>8.0f} B",
              flush=True)
        if registered is None:
            registered = now
        last = now
    framework = cluster.master.frameworks[cluster.framework_id.value]
    print(f"(running {len(framework.tasks)}, completed kept {len(framework.completed_tasks)})")


if __name__ == "__main__":
    main()
