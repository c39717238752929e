"""
The slave's cost of usage sampling: the CPU a process isolator's resource
monitor spends, per second, on N running executors.

    python benchmarks/monitoring_cost.py                  # 50, 100, 200 executors
    python benchmarks/monitoring_cost.py --executors 200 --seconds 20

Launches N executors (each a shell with a sleeping child) through a real
L{ProcessIsolator}, then runs the slave's L{ResourceMonitor} every second
for the given time with nothing else happening in this process: the CPU
time this process uses meanwhile (user + system) is the monitor's cost.
For comparison, the same rounds are timed the way sampling worked before
(each executor's sample reading every process of the machine).  The goal
(issue 15): under 5% of a core with 200 running executors.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

from twisted.internet import defer, reactor, task

from mesos_tw.isolation.interface import Container
from mesos_tw.isolation.monitor import ResourceMonitor
from mesos_tw.isolation.process import ProcessIsolator
from mesos_tw.isolation.usage import container_processes, process_statistics
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources


def load():
    """
    The 1-minute load average, as ``uptime`` prints it.
    """
    return os.getloadavg()[0]


@defer.inlineCallbacks
def measure(count, seconds):
    """
    Launch C{count} executors, sample them every second for C{seconds};
    return the figures.
    """
    isolator = ProcessIsolator(reactor)
    yield isolator.recover([])
    base = tempfile.mkdtemp(prefix="mesos-tw-monitor-")
    running = []
    for index in range(count):
        directory = os.path.join(base, str(index))
        os.mkdir(directory)
        executor_id = f"e{index}"
        info = mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value=executor_id))
        info.command.value = "sleep 1000 & exec sleep 1000"
        yield isolator.prepare(Container(
            framework_id="f", executor_id=executor_id, run_id=f"run-{index}",
            executor_info=info, directory=directory,
            resources=Resources.parse("cpus:0.1;mem:32")))
        yield isolator.launch("f", executor_id, {"PATH": os.environ["PATH"]})
        running.append(("f", executor_id, info))
    yield task.deferLater(reactor, 1.0, lambda: None)
    monitor = ResourceMonitor(reactor, isolator, lambda: running, 1.0)
    before, wall = time.process_time(), time.monotonic()
    monitor.start()
    yield task.deferLater(reactor, seconds, lambda: None)
    monitor.stop()
    cpu, elapsed = time.process_time() - before, time.monotonic() - wall
    sampled = len(monitor.samples())
    processes = sum(1 for entry in os.listdir("/proc") if entry.isdigit())
    old_before = time.process_time()
    for framework_id, executor_id, _ in running:
        run = isolator._containers.find(framework_id, executor_id)
        process_statistics(container_processes(run.pid), 0.0)
    old_round = time.process_time() - old_before
    for framework_id, executor_id, _ in running:
        yield isolator.destroy(framework_id, executor_id)
        yield isolator.cleanup(framework_id, executor_id)
    return {"executors": count, "sampled": sampled, "processes": processes,
            "core": 100 * cpu / elapsed, "old_core": 100 * old_round}


@defer.inlineCallbacks
def run(sizes, seconds):
    """
    Measure each size and print a table.
    """
    print(f"load average before: {load():.2f} "
          f"(uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()})")
    print("| executors | sampled | processes on the machine | monitor CPU (% of a core) "
          "| before: one round, per-executor scans (% of a core at 1 round/s) | load |")
    print("|---|---|---|---|---|---|")
    for count in sizes:
        figures = yield measure(count, seconds)
        print(f"| {figures['executors']} | {figures['sampled']} | {figures['processes']} "
              f"| {figures['core']:.1f}% | {figures['old_core']:.1f}% | {load():.2f} |",
              flush=True)


def main():
    """
    Parse arguments and run on the global reactor.
    """
    parser = argparse.ArgumentParser(description="CPU cost of usage sampling.")
    parser.add_argument("--executors", type=int, action="append")
    parser.add_argument("--seconds", type=float, default=10.0)
    options = parser.parse_args()
    outcome = []
    d = run(options.executors or [50, 100, 200], options.seconds)
    d.addErrback(outcome.append)
    d.addBoth(lambda _: reactor.stop())
    reactor.run()
    if outcome:
        outcome[0].printTraceback()
        sys.exit(1)


if __name__ == "__main__":
    main()
