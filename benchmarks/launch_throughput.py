"""
End-to-end launch throughput: command tasks per second through mesos-local.

Starts ``mesos-local`` (a master and N slaves in one process) as its own
process, then a framework in this process launches TASKS command tasks of
``true`` on every offer as fast as the offers allow.  It prints tasks per
second (submission of the first launch to the last TASK_FINISHED) and the
median and 90th percentile launch-to-RUNNING latency, at several task counts
so you can see how the figures grow with the work.

    python benchmarks/launch_throughput.py                 # 250, 500, 1000, 2000 tasks
    python benchmarks/launch_throughput.py --tasks 2000    # one size
    python benchmarks/launch_throughput.py --in_flight 2   # latency without queueing

Each task starts a command executor (a Python process), so on a 2-core
machine the figure is bounded by process start-up, not by the master.  With
no limit every task is launched as soon as offers allow, so launch-to-RUNNING
latency is mostly time spent queued behind other executors starting;
``--in_flight`` measures it without that queue.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from twisted.internet import defer, reactor, task

from mesos_tw import interface, native
from mesos_tw.interface import mesos_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ThroughputScheduler(interface.Scheduler):
    """
    Launches command tasks of ``true`` on every offer until TASKS are done.
    """

    def __init__(self, total, clock, finished, in_flight=None):
        self.total = total
        self.in_flight = in_flight
        self.clock = clock
        self.finished = finished
        self.launched = 0
        self.done = 0
        self.failed = 0
        self.submitted = {}
        self.running_latency = []
        self.first_launch = None
        self.last_finish = None

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            tasks = []
            while (self.launched < self.total and cpus >= 0.1 and mem >= 16
                   and (self.in_flight is None or self.launched - self.done < self.in_flight)):
                task_id = str(self.launched)
                self.launched += 1
                cpus -= 0.1
                mem -= 16
                info = mesos_pb2.TaskInfo(name=f"true {task_id}")
                info.task_id.value = task_id
                info.slave_id.CopyFrom(offer.slave_id)
                info.command.value = "true"
                for name, amount in (("cpus", 0.1), ("mem", 16)):
                    resource = info.resources.add(name=name, type=mesos_pb2.Value.SCALAR)
                    resource.scalar.value = amount
                tasks.append(info)
                self.submitted[task_id] = self.clock.seconds()
            if self.first_launch is None and tasks:
                self.first_launch = self.clock.seconds()
            driver.launchTasks(offer.id, tasks, mesos_pb2.Filters(refuse_seconds=0))

    def statusUpdate(self, driver, status):
        now = self.clock.seconds()
        task_id = status.task_id.value
        if status.state == mesos_pb2.TASK_RUNNING:
            self.running_latency.append(now - self.submitted[task_id])
        elif status.state in (mesos_pb2.TASK_FINISHED,):
            self.done += 1
        elif status.state in (mesos_pb2.TASK_FAILED, mesos_pb2.TASK_LOST,
                              mesos_pb2.TASK_KILLED, mesos_pb2.TASK_ERROR):
            self.done += 1
            self.failed += 1
            if self.failed <= 3:
                print(f"task {task_id} ended {mesos_pb2.TaskState.Name(status.state)}: "
                      f"{status.message}", flush=True)
        if self.done == self.total and not self.finished.called:
            self.last_finish = now
            self.finished.callback(None)


def free_port():
    """
    A free loopback TCP port.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_cluster(slaves, work_dir, profile=None):
    """
    Start mesos-local and wait until its slaves have registered (under
    cProfile, writing to C{profile}, if given).
    """
    port = free_port()
    profiling = ["-m", "cProfile", "-o", profile] if profile else []
    process = subprocess.Popen(
        [sys.executable, *profiling, "-m", "twisted", "--log-format=text", "mesos-local",
         f"--num_slaves={slaves}",
         f"--port={port}", f"--work_dir={work_dir}",
         "--resources=cpus:32;mem:8192;disk:1024;ports:[31000-32000]"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/master/state", timeout=1) as r:
                import json
                if len(json.load(r)["slaves"]) >= slaves:
                    return process, port
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("mesos-local did not come up")


@defer.inlineCallbacks
def measure(total, master, in_flight=None):
    """
    Run one framework of C{total} tasks (at most C{in_flight} unfinished at
    once, if given); return its figures.
    """
    finished = defer.Deferred()
    scheduler = ThroughputScheduler(total, reactor, finished, in_flight)
    info = mesos_pb2.FrameworkInfo(user="", name=f"throughput-{total}")
    driver = native.MesosSchedulerDriver(scheduler, info, master, reactor=reactor)
    driver.start()
    yield finished
    driver.stop()
    yield task.deferLater(reactor, 0.5, lambda: None)
    elapsed = scheduler.last_finish - scheduler.first_launch
    latencies = sorted(scheduler.running_latency)
    return {
        "tasks": total,
        "seconds": elapsed,
        "tasks_per_second": total / elapsed,
        "median_running_ms": 1000 * statistics.median(latencies),
        "p90_running_ms": 1000 * latencies[int(0.9 * (len(latencies) - 1))],
        "failed": scheduler.failed,
    }


@defer.inlineCallbacks
def run(sizes, slaves, in_flight=None):
    """
    Measure each size on a fresh cluster and print a table.
    """
    print(f"{'tasks':>6} {'seconds':>8} {'tasks/s':>8} {'median launch->RUNNING':>24} {'p90':>9} {'failed':>6}")
    for total in sizes:
        work_dir = tempfile.mkdtemp(prefix="mesos-tw-bench-")
        process, port = start_cluster(slaves, work_dir)
        try:
            figures = yield measure(total, f"127.0.0.1:{port}", in_flight)
        finally:
            process.terminate()
            process.wait()
        print(
            f"{figures['tasks']:>6} {figures['seconds']:>8.1f} {figures['tasks_per_second']:>8.1f} "
            f"{figures['median_running_ms']:>21.0f} ms {figures['p90_running_ms']:>6.0f} ms "
            f"{figures['failed']:>6}",
            flush=True,
        )


def main():
    """
    Parse arguments and run the benchmark on the global reactor.
    """
    parser = argparse.ArgumentParser(description="Command tasks per second through mesos-local.")
    parser.add_argument("--tasks", type=int, action="append", help="task count (repeatable)")
    parser.add_argument("--slaves", type=int, default=2)
    parser.add_argument("--in_flight", type=int, default=None,
                        help="at most this many unfinished tasks at once (default: no limit)")
    options = parser.parse_args()
    sizes = options.tasks or [250, 500, 1000, 2000]
    outcome = []
    d = run(sizes, options.slaves, options.in_flight)
    d.addErrback(lambda f: outcome.append(f))
    d.addBoth(lambda _: reactor.stop())
    reactor.run()
    if outcome:
        outcome[0].printTraceback()
        sys.exit(1)


if __name__ == "__main__":
    main()
