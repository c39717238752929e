"""
What the master's and the slave's metrics share: Mesos's timers (the
latest duration, its count, minimum, maximum and percentiles over a
window) and the machine's C{system/...} metrics.
"""

import os
from collections import deque

__all__ = ["Timer", "system_metrics"]

#: The percentiles a timer reports (Mesos's).
_PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999),
                ("p9999", 0.9999))


class Timer:
    """
    Durations in milliseconds over a window of the latest C{size}, reported
    as Mesos's timers are: the latest as the name itself, then C{/count},
    C{/min}, C{/max} and percentiles.
    """

    def __init__(self, size=1000):
        self.values = deque(maxlen=size)

    def record(self, milliseconds):
        """
        One more duration.
        """
        self.values.append(milliseconds)

    def snapshot(self, name):
        """
        The timer's metrics under C{name}; none before the first duration.
        """
        if not self.values:
            return {}
        ordered = sorted(self.values)
        metrics = {name: self.values[-1], f"{name}/count": len(ordered),
                   f"{name}/min": ordered[0], f"{name}/max": ordered[-1]}
        for suffix, fraction in _PERCENTILES:
            metrics[f"{name}/{suffix}"] = ordered[min(len(ordered) - 1,
                                                      int(fraction * len(ordered)))]
        return metrics


def system_metrics():
    """
    Mesos's C{system/...}: this machine's CPUs, load and memory.
    """
    load = os.getloadavg()
    page = os.sysconf("SC_PAGE_SIZE")
    return {
        "system/cpus_total": os.cpu_count() or 0,
        "system/load_1min": load[0],
        "system/load_5min": load[1],
        "system/load_15min": load[2],
        "system/mem_total_bytes": os.sysconf("SC_PHYS_PAGES") * page,
        "system/mem_free_bytes": os.sysconf("SC_AVPHYS_PAGES") * page,
    }
