"""
What a slave offers when ``--resources`` does not say: Mesos's detection
(cpus = cores; memory less 1 GB; disk less 5 GB; ports 31000-32000).
"""

import os
import shutil

from mesos_tw.resources import Resources

__all__ = ["detect_resources"]


def _memory_megabytes():
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 1024


def detect_resources(work_dir, given=None, cpu_count=os.cpu_count,
                     memory_megabytes=_memory_megabytes, disk_free=None):
    """
    The slave's resources: those C{given} (a L{Resources}), completed with
    detected cpus, mem, disk and ports where C{given} lacks them.
    """
    given = given or Resources()
    names = given.names()
    detected = {}
    if "cpus" not in names:
        detected["cpus"] = float(cpu_count() or 1)
    if "mem" not in names:
        memory = memory_megabytes()
        detected["mem"] = float(memory - 1024 if memory > 2048 else memory // 2)
    if "disk" not in names:
        if disk_free is None:
            path = work_dir
            while not os.path.exists(path):
                path = os.path.dirname(path) or "/"
            free = shutil.disk_usage(path).free // (1024 * 1024)
        else:
            free = disk_free()
        detected["disk"] = float(free - 5120 if free > 10240 else free // 2)
    if "ports" not in names:
        detected["ports"] = ((31000, 32000),)
    return given + Resources(detected)
