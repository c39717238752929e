"""
Facts about the machine that benchmarks print beside their figures: its
load, and whether the kernel schedules by session (which changes what
process-level isolation means).
"""

import os

__all__ = ["load_average", "sched_autogroup"]


def load_average():
    """
    The 1-minute load average, as ``uptime`` shows it.
    """
    return os.getloadavg()[0]


def sched_autogroup():
    """
    C{"on"} when the kernel makes each session a scheduling group of its
    own (C{kernel.sched_autogroup_enabled}), C{"off"}, or C{"unknown"}.
    """
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled", encoding="ascii") as handle:
            return "on" if handle.read().strip() == "1" else "off"
    except OSError:
        return "unknown"
