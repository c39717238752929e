"""
Allocation cycles at scale, in process: the shape of Mesos's own
``DeclineOffers`` allocator benchmark.

N slaves (cpus:24;mem:4096 each) and F frameworks spread over four roles;
every framework declines every offer it gets with a long filter.  Each
full cycle therefore offers every slave to the first framework, in
hierarchical DRF order, that has not declined it yet: the work Mesos's
benchmark times.  It prints the time to add the slaves, then each full
cycle's time (median and maximum, in wall-clock and in CPU seconds, since
a shared machine inflates the first), the garbage collector's share of
it (median and maximum per cycle, wall-clock, timed through
``gc.callbacks``) and how
many offers it made, at several sizes, so you can see how the figures
grow with N and F.  A cycle costs more the later it comes (at cycle c a
slave's walk passes about c / 2 frameworks that declined it), so compare
runs of the same number of cycles.

Then the event-driven case: what the master runs after events, a cycle
for what changed since the last one (``allocate(changed_only=True)``).
In a busy cluster (every slave used whole by a task), the tasks on K
slaves end and a changed-only cycle offers those K slaves; its median over
20 runs is printed for K = 1 and K = 100.

    python benchmarks/allocator_cycle.py                         # 1,000 to 10,000 slaves
    python benchmarks/allocator_cycle.py --slaves 50000 --frameworks 1000 --cycles 20
    python benchmarks/allocator_cycle.py --collector default    # CPython's collector settings
    PYTHONHASHSEED=0 python benchmarks/allocator_cycle.py ...   # the same string hashes each run

By default the process first tunes its garbage collector as
``twistd mesos-master`` does once it runs (``mesos_tw.collector``: what
exists is frozen, the youngest generation is collected every 10,000
allocations), before it builds the allocator, so the cycles run under
the master's settings; ``--collector default`` keeps CPython's.

Goals: a full cycle under 0.5 s at 10,000 slaves x 1,000 frameworks
(issue 3; Mesos's C++ allocator: about 1.06 s), and under 0.25 s at
50,000 x 1,000 over 20 cycles (issue 20).
"""

import argparse
import gc
import os
import statistics
import time

from twisted.internet.task import Clock

from mesos_tw.collector import tune_collector
from mesos_tw.master.hierarchical import HierarchicalDRFAllocator
from mesos_tw.resources import Resources

SLAVE = Resources.parse("cpus:24;mem:4096;disk:4096;ports:[31000-32000]")
ROLES = ["a", "b", "c", "d"]
REFUSE_SECONDS = 10 ** 6
TASK = Resources.parse("cpus:1")


class CollectorClock:
    """
    The seconds the garbage collector ran, summed, from C{gc.callbacks}.
    """

    def __init__(self):
        self.seconds = 0.0
        self._started = None

    def __call__(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None


def run(slaves, frameworks, cycles):
    """
    One size: returns C{(seconds to add the slaves, [cycle seconds], [cycle
    CPU seconds], [collector seconds per cycle], [offers per cycle])}.
    """
    allocator = HierarchicalDRFAllocator(Clock(), {"a": 2.0})
    for number in range(frameworks):
        allocator.framework_added(f"framework-{number:05d}", Resources(),
                                  role=ROLES[number % len(ROLES)])
    started = time.perf_counter()
    for number in range(slaves):
        allocator.slave_added(f"slave-{number:06d}", SLAVE, {}, hostname=f"host-{number}")
    added = time.perf_counter() - started
    times, cpu_times, collector_times, counts = [], [], [], []
    collector = CollectorClock()
    gc.callbacks.append(collector)
    try:
        for _ in range(cycles):
            collector.seconds = 0.0
            started, cpu_started = time.perf_counter(), time.process_time()
            offers = allocator.allocate()
            times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu_started)
            collector_times.append(collector.seconds)
            counts.append(len(offers))
            for framework_id, slave_id, resources in offers:
                allocator.resources_recovered(framework_id, slave_id, resources, REFUSE_SECONDS)
    finally:
        gc.callbacks.remove(collector)
    return added, times, cpu_times, collector_times, counts


def event_cycles(slaves, frameworks, changed, runs=20):
    """
    Median seconds of a changed-only cycle in a busy cluster: every slave
    runs one task of its framework that uses it whole; then, each run, the
    tasks on C{changed} slaves end and a changed-only cycle offers those
    slaves (checked), whose new tasks take them whole again.
    """
    allocator = HierarchicalDRFAllocator(Clock(), {"a": 2.0})
    for number in range(frameworks):
        allocator.framework_added(f"framework-{number:05d}", Resources(),
                                  role=ROLES[number % len(ROLES)])
    for number in range(slaves):
        allocator.slave_added(f"slave-{number:06d}", SLAVE, {}, hostname=f"host-{number}")
    tasks = {slave_id: (framework_id, resources)
             for framework_id, slave_id, resources in allocator.allocate()}
    slave_ids = sorted(tasks)
    times = []
    for run_number in range(runs):
        ended = [slave_ids[(run_number * changed + n) % len(slave_ids)] for n in range(changed)]
        for slave_id in ended:
            framework_id, resources = tasks[slave_id]
            allocator.resources_recovered(framework_id, slave_id, resources, 0)
        started = time.perf_counter()
        offers = allocator.allocate(changed_only=True)
        times.append(time.perf_counter() - started)
        assert sorted(slave_id for _, slave_id, _ in offers) == sorted(ended), "wrong slaves"
        for framework_id, slave_id, resources in offers:
            tasks[slave_id] = (framework_id, resources)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slaves", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--frameworks", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--collector", choices=["daemon", "default"], default="daemon",
                        help="the master daemon's garbage collector settings, or CPython's")
    options = parser.parse_args()
    if options.collector == "daemon":
        tune_collector()
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores); garbage collector: "
          f"{options.collector} (thresholds {gc.get_threshold()}); PYTHONHASHSEED="
          f"{os.environ.get('PYTHONHASHSEED', 'random')}")
    print("slaves | frameworks | add slaves | cycle median | cycle max | cycle CPU median"
          " | cycle CPU max | collector per cycle, median | collector per cycle, max"
          " | offers per cycle | event cycle, 1 slave | event cycle, 100 slaves")
    for frameworks in options.frameworks:
        for slaves in options.slaves:
            gc.collect()
            added, times, cpu_times, collector_times, counts = run(
                slaves, frameworks, options.cycles)
            one = event_cycles(slaves, frameworks, 1)
            hundred = event_cycles(slaves, frameworks, 100)
            print(f"{slaves:>6} | {frameworks:>10} | {added:>8.3f} s | "
                  f"{statistics.median(times):>10.3f} s | {max(times):>7.3f} s | "
                  f"{statistics.median(cpu_times):>14.3f} s | {max(cpu_times):>11.3f} s | "
                  f"{statistics.median(collector_times):>25.3f} s | "
                  f"{max(collector_times):>22.3f} s | "
                  f"{', '.join(str(c) for c in counts)} | "
                  f"{one * 1000:>17.3f} ms | {hundred * 1000:>19.3f} ms", flush=True)


if __name__ == "__main__":
    main()
