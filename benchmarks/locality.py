"""
The NSDI 2011 paper's data-locality experiment (section 6.3), scaled to
this machine: a real master (in this process) and 16 emulated slaves
(``mesos_tw.testing.emulated_slave``, the slave's protocol over real TCP,
no processes) in 4 racks of 4, each with 4 one-cpu slots; 16 batch jobs
(``mesos_tw.batch``), each its own framework, each reading 32 input
blocks placed on 3 distinct random hosts.  The jobs arrive one every
``--stagger`` seconds.

It runs the jobs four ways, as the paper did:

- static partitioning: each job owns one slave (a 16th of the cluster)
  and runs only there;
- mesos_tw with no wait: each task takes the first offer it gets;
- mesos_tw with delay scheduling, a 1 s and a 5 s locality wait.

An emulated task's duration stands for reading its block: ``--task``
seconds (2) when the block is on its host, 1.5 times that from its rack,
twice that from another rack.  The figures are the fraction of tasks run
at each locality and the jobs' running times (submission to last task),
and the speed-up of the mean job over static partitioning.

    python benchmarks/locality.py                 # the four runs
    python benchmarks/locality.py --jobs 8 --seed 2

The paper: 18% locality with static partitioning, over 90% with a 1 s
wait, 95% with 5 s, and jobs 1.7x faster than static partitioning.
"""

import argparse
import random
import statistics
import sys

from twisted.internet import defer, task

from mesos_tw.batch.job import JobSpec, TaskSpec
from mesos_tw.batch.locality import ANY, NODE, RACK
from mesos_tw.batch.scheduler import BatchScheduler
from mesos_tw.interface import mesos_pb2
from mesos_tw.master import tap as master_tap
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.emulated_slave import EmulatedSlave
from mesos_tw.testing.machine import load_average

RACKS = 4
PER_RACK = 4
SLOTS = 4
REPLICAS = 3
#: How much longer a task runs when its block is in its rack / elsewhere.
SLOWDOWN = {NODE: 1.0, RACK: 1.5, ANY: 2.0}


class EmulatedBatchScheduler(BatchScheduler):
    """
    A batch scheduler whose tasks run on emulated slaves for as long as
    reading their block from where they run takes; with C{partition}, it
    runs only on those hosts (static partitioning).
    """

    def __init__(self, clock, locality_wait, task_seconds, partition=None):
        super().__init__(clock, locality_wait)
        self.task_seconds = task_seconds
        self.partition = partition

    def accepts_host(self, hostname):
        return self.partition is None or hostname in self.partition

    def task_info(self, task, offer, attempt):
        info = super().task_info(task, offer, attempt)
        info.data = f"{self.task_seconds * SLOWDOWN[attempt.level]:.3f}".encode("ascii")
        return info


def layout():
    """
    C{{hostname: rack}}: 4 racks of 4 hosts.
    """
    return {f"h{r * PER_RACK + i + 1}": f"r{r + 1}" for r in range(RACKS) for i in range(PER_RACK)}


def make_jobs(rng, jobs, tasks, hosts):
    """
    C{jobs} job specs of C{tasks} one-cpu tasks, each block on 3 random
    hosts.
    """
    return [JobSpec(name=f"job{j + 1}", tasks=tuple(
        TaskSpec(id=f"t{t}", command="true", cpus=1.0, mem=64.0,
                 hosts=tuple(rng.sample(hosts, REPLICAS)))
        for t in range(tasks))) for j in range(jobs)]


@defer.inlineCallbacks
def run_once(reactor, specs, wait, static, stagger, task_seconds):
    """
    One run on a fresh master and fresh slaves; C{(job times, levels)}.
    """
    options = master_tap.Options(environ={})
    options.parseOptions(["--port=0"])
    service = master_tap.makeService(options, reactor)
    service.startService()
    port = (yield service.listening).getHost().port
    master = UPID("master", "127.0.0.1", port)
    hosts = layout()
    slaves = [EmulatedSlave(reactor, master, number, Resources.parse(f"cpus:{SLOTS};mem:4096"),
                            hostname=hostname, attributes={"rack": rack})
              for number, (hostname, rack) in enumerate(hosts.items(), 1)]
    for slave in slaves:
        slave.start()
    yield defer.gatherResults([slave.when_registered() for slave in slaves])
    names = list(hosts)
    drivers, jobs = [], []
    for index, spec in enumerate(specs):
        if index:
            yield task.deferLater(reactor, stagger, lambda: None)
        partition = {names[index % len(names)]} if static else None
        scheduler = EmulatedBatchScheduler(reactor, wait, task_seconds, partition)
        driver = MesosSchedulerDriver(
            scheduler, mesos_pb2.FrameworkInfo(user="bench", name=spec.name),
            f"127.0.0.1:{port}", reactor=reactor)
        driver.start()
        drivers.append(driver)
        jobs.append(scheduler.submit(spec))
    yield defer.gatherResults([job.ended for job in jobs])
    for driver in drivers:
        driver.stop()
    for slave in slaves:
        slave.stop()
    yield service.stopService()
    times = [job.ended_at - job.submitted_at for job in jobs]
    levels = [t.attempts[-1].level for job in jobs for t in job.tasks]
    return times, levels


@defer.inlineCallbacks
def main(reactor, argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=32, help="tasks (blocks) per job")
    parser.add_argument("--task", type=float, default=2.0, help="seconds of a node-local task")
    parser.add_argument("--stagger", type=float, default=0.5, help="seconds between jobs")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    specs = make_jobs(random.Random(args.seed), args.jobs, args.tasks, list(layout()))
    runs = [("static partitioning", 0.0, True), ("mesos_tw, no wait", 0.0, False),
            ("mesos_tw, 1 s wait", 1.0, False), ("mesos_tw, 5 s wait", 5.0, False)]
    print(f"{len(layout())} emulated slaves in {RACKS} racks, {SLOTS} slots each; {args.jobs} jobs"
          f" of {args.tasks} tasks ({args.task:g} s local, x1.5 rack, x2 other rack), one every"
          f" {args.stagger:g} s; seed {args.seed}")
    print("| run | node | rack | any | mean job | median job | max job | speed-up vs static "
          "| load before | load after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    static_mean = None
    for name, wait, static in runs:
        before = load_average()
        times, levels = yield run_once(reactor, specs, wait, static, args.stagger, args.task)
        mean = statistics.mean(times)
        static_mean = static_mean or mean
        fractions = [levels.count(level) / len(levels) for level in (NODE, RACK, ANY)]
        print(f"| {name} | {fractions[0]:.0%} | {fractions[1]:.0%} | {fractions[2]:.0%} "
              f"| {mean:.1f} s | {statistics.median(times):.1f} s | {max(times):.1f} s "
              f"| {static_mean / mean:.2f}x | {before:.1f} | {load_average():.1f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    task.react(main, (sys.argv[1:],))
