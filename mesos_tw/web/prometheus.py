"""
A metrics snapshot in Prometheus's text exposition format
(C{/metrics/prometheus} on the master and on a slave), so that a
Prometheus server scrapes mesos_tw with no exporter in between.

Names are mapped as the Mesos exporter's snapshot collector maps them
(C{mesos/mesos_exporter}): C{mesos_} then the Mesos name with each C{/}
made C{_} (C{master/tasks_running} is C{mesos_master_tasks_running}),
every sample untyped.  Characters a Prometheus name may not hold (a
role's C{*}, a framework name's C{%}) become C{_} too.
"""

import math
import re

__all__ = ["CONTENT_TYPE", "prometheus_name", "prometheus_text"]

#: The exposition format's media type.
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

_INVALID = re.compile(r"[^a-zA-Z0-9_:]")


def prometheus_name(name):
    """
    The Prometheus name of the Mesos metric C{name}.
    """
    return "mesos_" + _INVALID.sub("_", name.replace("/", "_"))


def _value(number):
    number = float(number)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return repr(number)


def prometheus_text(metrics):
    """
    The text exposition of C{metrics} (C{{Mesos name: number}}), by name,
    each with its C{HELP} (the Mesos name) and C{TYPE}.  Two names that map
    to one Prometheus name keep the first, by Mesos name.
    """
    lines, seen = [], set()
    for name, value in sorted(metrics.items()):
        mapped = prometheus_name(name)
        if mapped in seen:
            continue
        seen.add(mapped)
        lines.append(f"# HELP {mapped} Mesos metric {name}")
        lines.append(f"# TYPE {mapped} untyped")
        lines.append(f"{mapped} {_value(value)}")
    return ("\n".join(lines) + "\n").encode("utf-8")
