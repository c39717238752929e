"""
Garbage collector settings for the daemons (``twistd mesos-master``,
``mesos-slave``, ``mesos-local``): a process of our own, long-lived, that
allocates a few objects per message.

With CPython's defaults a collection of the youngest generation runs every
700 net allocations of container objects, and every tenth of those
collects the middle generation too: with thousands of messages a second
(each a few protobuf wrappers, a Deferred or two, dicts), `mesos-local`
spent 6 to 9% of its CPU in the collector in `launch_throughput.py`'s
runs (0.29 s of 4.5 s in a 10,000-task custom-executor run; 0.08 s with
these settings).  Reference counting frees what holds no cycle whatever
the settings; cycles are still collected, less often.  What the daemon
built while starting (its modules, services, tables) lives as long as the
process: frozen out of the collector, it is not traversed again by every
full collection.
"""

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_collector"]

#: Net allocations of container objects between two collections of the
#: youngest generation (CPython's default is 700).
YOUNG_THRESHOLD = 10_000


def tune_collector(collector=gc, young=YOUNG_THRESHOLD):
    """
    Freeze what exists now out of the collector and collect the youngest
    generation every C{young} allocations.  Called once the reactor runs
    (the daemon has started), by the daemons' command-line entries only:
    a test process keeps CPython's defaults.

    @param collector: the C{gc} module (a fake in tests).
    """
    collector.freeze()
    _, middle, old = collector.get_threshold()
    collector.set_threshold(young, middle, old)
