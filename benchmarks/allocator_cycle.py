"""
Allocation cycles at scale, in process: the shape of Mesos's own
``DeclineOffers`` allocator benchmark.

N slaves (cpus:24;mem:4096 each) and F frameworks spread over four roles;
every framework declines every offer it gets with a long filter.  Each
cycle therefore offers every slave to the first framework, in hierarchical
DRF order, that has not declined it yet: the work Mesos's benchmark times.
It prints the time to add the slaves, then each cycle's time (their median
and maximum) and how many offers it made, at several sizes, so you can see
how the figures grow with N and F.

    python benchmarks/allocator_cycle.py                         # 1,000 to 10,000 slaves
    python benchmarks/allocator_cycle.py --slaves 10000 --frameworks 1000 --cycles 10

The goal (issue 3): a cycle under 0.5 s at 10,000 slaves x 1,000 frameworks
(Mesos's C++ allocator: about 1.06 s).
"""

import argparse
import gc
import statistics
import time

from twisted.internet.task import Clock

from mesos_tw.master.hierarchical import HierarchicalDRFAllocator
from mesos_tw.resources import Resources

SLAVE = Resources.parse("cpus:24;mem:4096;disk:4096;ports:[31000-32000]")
ROLES = ["a", "b", "c", "d"]
REFUSE_SECONDS = 10 ** 6


def run(slaves, frameworks, cycles):
    """
    One size: returns C{(seconds to add the slaves, [cycle seconds],
    [offers per cycle])}.
    """
    allocator = HierarchicalDRFAllocator(Clock(), {"a": 2.0})
    for number in range(frameworks):
        allocator.framework_added(f"framework-{number:05d}", Resources(),
                                  role=ROLES[number % len(ROLES)])
    started = time.perf_counter()
    for number in range(slaves):
        allocator.slave_added(f"slave-{number:06d}", SLAVE, {}, hostname=f"host-{number}")
    added = time.perf_counter() - started
    times, counts = [], []
    for _ in range(cycles):
        started = time.perf_counter()
        offers = allocator.allocate()
        times.append(time.perf_counter() - started)
        counts.append(len(offers))
        for framework_id, slave_id, resources in offers:
            allocator.resources_recovered(framework_id, slave_id, resources, REFUSE_SECONDS)
    return added, times, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slaves", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--frameworks", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--cycles", type=int, default=5)
    options = parser.parse_args()
    print("slaves | frameworks | add slaves | cycle median | cycle max | offers per cycle")
    for frameworks in options.frameworks:
        for slaves in options.slaves:
            gc.collect()
            added, times, counts = run(slaves, frameworks, options.cycles)
            print(f"{slaves:>6} | {frameworks:>10} | {added:>8.3f} s | "
                  f"{statistics.median(times):>10.3f} s | {max(times):>7.3f} s | "
                  f"{', '.join(str(c) for c in counts)}", flush=True)


if __name__ == "__main__":
    main()
