"""
The NSDI 2011 paper's scalability experiment, on one machine: a real
``twistd mesos-master`` process, N emulated slaves connected to it over
real TCP (``mesos_tw.testing.emulated_slave``: the slave's protocol, no
processes), and 200 frameworks that launch a task of about 30 s (normal,
standard deviation 10 s) on every offer they get.  Once the cluster is
busy, a probe framework launches one 10 s task at a time; the figure is
the probe's launch overhead, from its ``launchTasks`` call to the task's
TASK_RUNNING, with the master's CPU use and memory.

    python benchmarks/paper_scale.py                      # 1,000, 5,000 and 10,000 slaves
    python benchmarks/paper_scale.py --slaves 20000 --probes 10

The slaves, the 200 frameworks and the probe all run in this one Python
process, on one core: at the largest sizes this process, not the master,
is the bottleneck, and the output says how busy each was.  Each emulated
slave is one TCP connection from 127.0.0.1, so N is bounded by the
machine's ephemeral ports (about 28,000) and open-file limit (raised here
as far as the system allows).

The master runs with ``--max_slave_ping_timeouts=20``, so that a slave
whose pong waits behind this busy process is not taken for dead.

Goal (issue 3): probe overhead under 1 s at 10,000 slaves.
"""

import argparse
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time

from twisted.internet import defer, task

from mesos_tw.interface import Scheduler, mesos_pb2
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.emulated_slave import EmulatedSlave
from mesos_tw.testing.zookeeper_server import free_port

SLAVE_RESOURCES = Resources.parse("cpus:2;mem:4096")
TASK_RESOURCES = Resources.parse("cpus:2;mem:2048")
BUSY_FRAMEWORKS = 200
WARM_UP_SECONDS = 20.0
REGISTRATION_DEADLINE = 120.0


def task_for(offer, task_id, seconds):
    """
    A task using C{TASK_RESOURCES} of C{offer} that runs C{seconds}.
    """
    info = mesos_pb2.TaskInfo(
        name=task_id, task_id=mesos_pb2.TaskID(value=task_id), slave_id=offer.slave_id,
        resources=TASK_RESOURCES.to_protobuf(), data=f"{seconds:.1f}".encode("ascii"))
    info.command.value = "true"
    return info


class BusyScheduler(Scheduler):
    """
    Launches one task of about 30 s on every offer.
    """

    def __init__(self, name, rng):
        self.name = name
        self.rng = rng
        self.launched = 0

    def resourceOffers(self, driver, offers):
        for offer in offers:
            seconds = max(1.0, self.rng.normalvariate(30.0, 10.0))
            self.launched += 1
            driver.launchTasks([offer.id], [task_for(offer, f"{self.name}-{self.launched}",
                                                     seconds)],
                               mesos_pb2.Filters(refuse_seconds=1))


class ProbeScheduler(Scheduler):
    """
    Launches one 10 s task per request and times it to TASK_RUNNING.
    """

    def __init__(self, clock):
        self.clock = clock
        self.wanted = None
        self.submitted = {}
        self.overheads = []
        self.count = 0

    def probe(self, driver):
        """
        A Deferred firing with the next probe task's launch overhead.
        """
        self.wanted = defer.Deferred()
        driver.reviveOffers()
        return self.wanted

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.wanted is None or self.submitted:
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=1))
                continue
            self.count += 1
            task_id = f"probe-{self.count}"
            self.submitted[task_id] = time.perf_counter()
            driver.launchTasks([offer.id], [task_for(offer, task_id, 10.0)])

    def statusUpdate(self, driver, status):
        started = self.submitted.pop(status.task_id.value, None)
        if started is not None and status.state == mesos_pb2.TASK_RUNNING:
            wanted, self.wanted = self.wanted, None
            wanted.callback(time.perf_counter() - started)


def cpu_seconds(pid):
    """
    User plus system CPU seconds of process C{pid}.
    """
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    """
    Resident memory of process C{pid}, in MB.
    """
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def raise_file_limit(wanted):
    """
    Raise this process's open-file limit towards C{wanted}; returns it.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in (wanted, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, max(limit, hard)))
            return limit
        except (ValueError, OSError):
            continue
    return soft


@defer.inlineCallbacks
def measure(reactor, slaves, probes):
    """
    One size: returns a dict of figures.
    """
    limit = raise_file_limit(2 * slaves + 4096)
    port = free_port()
    twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
    command = [twistd, "--nodaemon", "--pidfile=", "--logfile=/dev/null", "mesos-master",
               "--ip=127.0.0.1", f"--port={port}", "--max_slave_ping_timeouts=20"]
    if shutil.which("prlimit"):
        command = ["prlimit", f"--nofile={limit}:{limit}", "--"] + command
    master = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    upid = UPID("master", "127.0.0.1", port)
    emulated, drivers = [], []
    try:
        for _ in range(200):
            yield task.deferLater(reactor, 0.05, lambda: None)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                continue
        started = time.perf_counter()
        for number in range(slaves):
            slave = EmulatedSlave(reactor, upid, number, SLAVE_RESOURCES)
            emulated.append(slave)
            slave.start()
            # 2,000 connections a second: a faster storm overflows the
            # master's listen backlog, and refused SYNs are retried only
            # after whole seconds.
            if number % 100 == 99:
                yield task.deferLater(reactor, 0.05, lambda: None)
        # Wait for every slave, but not for ever: at the largest sizes a
        # few connections are lost in the storm, and the row says how many
        # slaves took part.
        deadline = time.perf_counter() + REGISTRATION_DEADLINE
        while time.perf_counter() < deadline and any(s.slave_id is None for s in emulated):
            yield task.deferLater(reactor, 0.1, lambda: None)
        registered = time.perf_counter() - started
        joined = sum(1 for s in emulated if s.slave_id is not None)
        rng = random.Random(1)
        for number in range(BUSY_FRAMEWORKS):
            driver = MesosSchedulerDriver(
                BusyScheduler(f"busy{number}", rng),
                mesos_pb2.FrameworkInfo(user="bench", name=f"busy {number}"),
                f"127.0.0.1:{port}", reactor=reactor)
            driver.start()
            drivers.append(driver)
        yield task.deferLater(reactor, WARM_UP_SECONDS / 2, lambda: None)
        # CPU use is measured over the second half of the warm-up, with the
        # cluster busy.
        master_cpu, own_cpu = cpu_seconds(master.pid), cpu_seconds(os.getpid())
        yield task.deferLater(reactor, WARM_UP_SECONDS / 2, lambda: None)
        master_cpu = (cpu_seconds(master.pid) - master_cpu) / (WARM_UP_SECONDS / 2)
        own_cpu = (cpu_seconds(os.getpid()) - own_cpu) / (WARM_UP_SECONDS / 2)
        probe = ProbeScheduler(reactor)
        probe_driver = MesosSchedulerDriver(
            probe, mesos_pb2.FrameworkInfo(user="bench", name="probe"), f"127.0.0.1:{port}",
            reactor=reactor)
        probe_driver.start()
        drivers.append(probe_driver)
        overheads = []
        for _ in range(probes):
            overheads.append((yield probe.probe(probe_driver)))
        return {
            "slaves": slaves, "joined": joined, "registered": registered,
            "median": statistics.median(overheads), "max": max(overheads),
            "master_cpu": master_cpu, "own_cpu": own_cpu,
            "master_rss": rss_mb(master.pid),
            "tasks": sum(len(s.running) for s in emulated),
        }
    finally:
        for driver in drivers:
            driver.abort()
        for slave in emulated:
            slave.stop()
        master.terminate()
        master.wait()


@defer.inlineCallbacks
def main(reactor, argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slaves", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--probes", type=int, default=5)
    options = parser.parse_args(argv)
    print(f"{BUSY_FRAMEWORKS} busy frameworks (30 s tasks on every offer), "
          f"{WARM_UP_SECONDS:g} s warm-up, {options.probes} probe tasks per size")
    print("slaves | registered | in | probe median | probe max | tasks running | "
          "master CPU | master RSS | this process CPU")
    for slaves in options.slaves:
        row = yield measure(reactor, slaves, options.probes)
        print(f"{row['slaves']:>6} | {row['joined']:>10} | {row['registered']:>5.1f} s | "
              f"{row['median']:>10.3f} s | "
              f"{row['max']:>7.3f} s | {row['tasks']:>13} | {row['master_cpu']:>8.0%} | "
              f"{row['master_rss']:>7.0f} MB | {row['own_cpu']:>6.0%}", flush=True)


if __name__ == "__main__":
    task.react(main, (sys.argv[1:],))
