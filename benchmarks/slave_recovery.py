"""
Slave recovery: how long a restarted slave takes to be back with every
executor reconnected, for 10, 50 and 200 running tasks.

Starts ``twistd mesos-master`` and ``twistd mesos-slave`` (process
isolation) as processes, and in this process a checkpointing framework
that launches N command tasks (``sleep``) and waits until each runs.  Then,
ROUNDS times: SIGKILL the slave, start it again on the same work
directory, and time

- "listening": from the spawn until the slave says it is recovering (the
  interpreter's and Twisted's start-up, the same for any slave);
- "recovered": from the spawn until the slave has re-registered with the
  master and every executor has subscribed again (what the operator
  waits for), and the part of it after "listening".

Every task must still run at the end of each round (else the round says
how many did not).  The slave's own log lines tell when it recovers,
re-registers and hears each executor subscribe again; they are polled every
5 ms, so the figures carry that resolution.

    python benchmarks/slave_recovery.py                 # 10, 50 and 200 tasks, 3 rounds
    python benchmarks/slave_recovery.py --tasks 10 --rounds 5

The goal (issue 14) is under 1 s at 200 tasks.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import treq
from twisted.internet import defer, task

from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.testing.processes import ProcessCluster
from mesos_tw.testing.scheduler import RecordingScheduler
from mesos_tw.testing.zookeeper_server import free_port

POLL = 0.005


class SleepScheduler(RecordingScheduler):
    """
    Launches C{count} command tasks that sleep, on the offers it gets.
    """

    def __init__(self, clock, count):
        RecordingScheduler.__init__(self, clock)
        self.to_launch = [f"sleep-{index}" for index in range(count)]

    def resourceOffers(self, driver, offers):
        for offer in offers:
            tasks = []
            while self.to_launch and len(tasks) < 50:
                task_id = self.to_launch.pop()
                tasks.append(mesos_pb2.TaskInfo(
                    name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
                    slave_id=offer.slave_id,
                    resources=Resources.parse("cpus:0.01;mem:1").to_protobuf(),
                    command=mesos_pb2.CommandInfo(value="sleep 3600")))
            if tasks:
                driver.launchTasks([offer.id], tasks, mesos_pb2.Filters(refuse_seconds=0))
            else:
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=1))
        self._record("resourceOffers", len(offers))


@defer.inlineCallbacks
def wait_until(reactor, predicate, what, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        yield task.deferLater(reactor, POLL, lambda: None)


@defer.inlineCallbacks
def measure(reactor, count, rounds, directory):
    """
    The rounds' C{(listening, recovered)} seconds, and the tasks not
    running after each.
    """
    master_port, slave_port = free_port(), free_port()
    cluster = ProcessCluster(reactor, directory, "unused")
    master = cluster.spawn("master", "mesos-master", "--ip=127.0.0.1", f"--port={master_port}")
    cluster.masters[master_port] = master
    work_dir = os.path.join(directory, f"slave-{count}")
    argv = ["mesos-slave", f"--master=127.0.0.1:{master_port}", "--ip=127.0.0.1",
            f"--port={slave_port}", f"--work_dir={work_dir}", "--isolation=process",
            f"--resources=cpus:{count};mem:{count * 2 + 100};disk:100",
            "--executor_reregistration_timeout=30secs", "--recovery_timeout=5mins"]
    slave = cluster.spawn("slave", *argv)
    scheduler = SleepScheduler(reactor, count)
    info = mesos_pb2.FrameworkInfo(user="", name="recovery benchmark", checkpoint=True)
    driver = MesosSchedulerDriver(scheduler, info, f"127.0.0.1:{master_port}", reactor=reactor)
    driver.start()
    results = []
    try:
        yield scheduler.wait(lambda s: sum(1 for t in s.states if s.latest(t) == "TASK_RUNNING")
                             == count, f"{count} tasks to run", timeout=600)
        for _ in range(rounds):
            yield slave.kill()
            started = time.monotonic()
            slave = cluster.spawn("slave", *argv)
            yield wait_until(reactor, lambda: b"Recovering slave" in slave.output,
                             "the slave to recover", 120)
            listening = time.monotonic() - started
            yield wait_until(
                reactor, lambda: slave.output.count(b"subscribed again from") >= count
                and b"Registered with master" in slave.output,
                "every executor to subscribe again", 120)
            recovered = time.monotonic() - started
            response = yield treq.get(f"http://127.0.0.1:{slave_port}/slave(1)/state",
                                      persistent=False)
            state = json.loads((yield response.content()))
            running = sum(1 for framework in state["frameworks"]
                          for executor in framework["executors"] for t in executor["tasks"]
                          if t["state"] == "TASK_RUNNING")
            results.append((listening, recovered, count - running))
    finally:
        driver.abort()
        if slave.running:
            slave.signal(15)
            yield slave.ended
        yield cluster.stop()
    return results


def table(rows):
    print("| tasks | rounds | listening median s | recovered median s | recovered max s "
          "| after listening median s | tasks not running |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for count, results in rows:
        listening = [r[0] for r in results]
        recovered = [r[1] for r in results]
        after = [r[1] - r[0] for r in results]
        print(f"| {count} | {len(results)} | {statistics.median(listening):.3f} "
              f"| {statistics.median(recovered):.3f} | {max(recovered):.3f} "
              f"| {statistics.median(after):.3f} | {sum(r[2] for r in results)} |")


@defer.inlineCallbacks
def main(reactor, argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    with open("/proc/loadavg") as load:
        print(f"load average before: {' '.join(load.read().split()[:3])} "
              f"({os.cpu_count()} cpus)")
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for count in options.tasks:
            results = yield measure(reactor, count, options.rounds, directory)
            rows.append((count, results))
    table(rows)
    with open("/proc/loadavg") as load:
        print(f"load average after: {' '.join(load.read().split()[:3])}")


if __name__ == "__main__":
    task.react(main, [sys.argv[1:]])
