"""
The master's web UI dashboard and framework page, rendered on the server
with C{twisted.web.template} from the master's own state; a little local
JavaScript (C{static/refresh.js}) keeps them current by polling.  Nothing
is fetched from outside the master.
"""

import os

from twisted.python.filepath import FilePath
from twisted.web.template import Element, XMLFile, renderer

from mesos_tw.web.history import utilization_chart
from mesos_tw.web.layout import TEMPLATES, amount

__all__ = ["DashboardElement", "FrameworkElement", "STATIC", "dominant_share"]

#: The directory of the UI's static files (styles and scripts).
STATIC = FilePath(os.path.dirname(os.path.abspath(__file__))).child("static")

_COUNTERS = [
    ("Staged", "staged_tasks"), ("Running", None), ("Finished", "finished_tasks"),
    ("Killed", "killed_tasks"), ("Failed", "failed_tasks"), ("Lost", "lost_tasks"),
    ("Error", "error_tasks"),
]


def dominant_share(used, metrics):
    """
    The largest fraction of any cluster resource that C{used} (a
    resources JSON object) holds, against the totals in C{metrics}.
    """
    return max((value / metrics[f"master/{name}_total"]
                for name, value in used.items()
                if isinstance(value, float) and metrics.get(f"master/{name}_total")),
               default=0.0)


class DashboardElement(Element):
    """
    The cluster at a glance: the leading master, resources with their
    utilization over the last minutes, task counters, frameworks, slaves.

    @param state: the master's state JSON.
    @param metrics: its metrics snapshot.
    @param history: a L{UtilizationHistory}.
    """

    loader = XMLFile(TEMPLATES.child("dashboard.xml"))

    def __init__(self, master, state, metrics, history):
        super().__init__()
        self.master = master
        self.state = state
        self.metrics = metrics
        self.history = history

    @renderer
    def page(self, request, tag):
        """
        The master: leader, hostname, uptime, slave and framework counts.
        """
        metrics = self.metrics
        return tag.fillSlots(
            leader=self.state["leader"], hostname=self.state["hostname"],
            uptime=f"{metrics['master/uptime_secs']:.0f}s",
            slaves=str(metrics["master/slaves_active"]),
            frameworks=str(metrics["master/frameworks_active"]))

    @renderer
    def resources(self, request, tag):
        """
        One row per resource: total, used, offered and idle.
        """
        metrics = self.metrics
        for name in ("cpus", "mem", "disk"):
            total = metrics[f"master/{name}_total"]
            used = metrics[f"master/{name}_used"]
            offered = metrics[f"master/{name}_offered"]
            yield tag.clone().fillSlots(
                name=name, total=amount(total), used=amount(used), offered=amount(offered),
                idle=amount(max(total - used - offered, 0.0)))

    @renderer
    def chart(self, request, tag):
        """
        The utilization chart.
        """
        return tag(utilization_chart(self.history, self.master.reactor.seconds()))

    @renderer
    def counters(self, request, tag):
        """
        Task counters by state.
        """
        running = self.metrics["master/tasks_running"]
        for label, key in _COUNTERS:
            value = running if key is None else self.state[key]
            yield tag.clone().fillSlots(name=label, value=str(value))

    @renderer
    def frameworks(self, request, tag):
        """
        One row per framework.
        """
        for framework in self.state["frameworks"]:
            used = framework["used_resources"]
            yield tag.clone().fillSlots(
                id=framework["id"], name=framework["name"], user=framework["user"],
                role=framework["role"], tasks=str(len(framework["tasks"])),
                cpus=amount(used.get("cpus", 0)), mem=amount(used.get("mem", 0)),
                share=f"{dominant_share(used, self.metrics):.1%}")

    @renderer
    def slaves(self, request, tag):
        """
        One row per slave.
        """
        for slave in self.state["slaves"]:
            total, used = slave["resources"], slave["used_resources"]
            yield tag.clone().fillSlots(
                id=slave["id"], hostname=slave["hostname"],
                cpus=f"{amount(used.get('cpus', 0))} / {amount(total.get('cpus', 0))}",
                mem=f"{amount(used.get('mem', 0))} / {amount(total.get('mem', 0))}",
                attributes=", ".join(f"{k}={v}" for k, v in sorted(slave["attributes"].items())))


class FrameworkElement(Element):
    """
    One framework: its running and completed tasks.
    """

    loader = XMLFile(TEMPLATES.child("framework.xml"))

    def __init__(self, framework):
        super().__init__()
        self.framework = framework

    @renderer
    def page(self, request, tag):
        """
        The framework's id, user, role and whether it is active.
        """
        framework = self.framework
        return tag.fillSlots(
            id=framework["id"], user=framework["user"],
            role=framework["role"], active="active" if framework["active"] else "inactive")

    def _rows(self, tag, tasks):
        for task in tasks:
            resources = task["resources"]
            yield tag.clone().fillSlots(
                id=task["id"], name=task["name"], state=task["state"], slave=task["slave_id"],
                cpus=amount(resources.get("cpus", 0)), mem=amount(resources.get("mem", 0)))

    @renderer
    def tasks(self, request, tag):
        """
        One row per unfinished task.
        """
        return self._rows(tag, self.framework["tasks"])

    @renderer
    def completed(self, request, tag):
        """
        One row per completed task.
        """
        return self._rows(tag, self.framework["completed_tasks"])
