"""
The master's web UI dashboard, rendered on the server with
C{twisted.web.template} from the master's own state; a little local
JavaScript (C{static/refresh.js}) keeps it current by polling the JSON
endpoints.  Nothing is fetched from outside the master.
"""

import os

from twisted.python.filepath import FilePath
from twisted.web.template import Element, XMLFile, renderer

from mesos_tw.master.views import metrics_snapshot

__all__ = ["DashboardElement", "FrameworkElement", "STATIC"]

_HERE = FilePath(os.path.dirname(os.path.abspath(__file__)))

#: The directory of the UI's static files (styles and scripts).
STATIC = _HERE.child("static")

_COUNTERS = [
    ("Staged", "staged_tasks"), ("Running", None), ("Finished", "finished_tasks"),
    ("Killed", "killed_tasks"), ("Failed", "failed_tasks"), ("Lost", "lost_tasks"),
    ("Error", "error_tasks"),
]


def _amount(value):
    return f"{value:g}"


class DashboardElement(Element):
    """
    The cluster at a glance: resources, task counters, frameworks, slaves.
    """

    loader = XMLFile(_HERE.child("templates").child("dashboard.xml"))

    def __init__(self, master):
        super().__init__()
        self.master = master
        self.state = master.state()
        self.metrics = metrics_snapshot(master)

    @renderer
    def page(self, request, tag):
        """
        The page's header: cluster name, leading master, uptime.
        """
        return tag.fillSlots(cluster=self.master.cluster or "", leader=self.state["leader"],
                             uptime=f"{self.metrics['master/uptime_secs']:.0f}s")

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
                name=name, total=_amount(total), used=_amount(used), offered=_amount(offered),
                idle=_amount(max(total - used - offered, 0.0)))

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
            share = max((amount / self.metrics[f"master/{name}_total"]
                         for name, amount in used.items()
                         if isinstance(amount, float) and self.metrics.get(f"master/{name}_total")),
                        default=0.0)
            yield tag.clone().fillSlots(
                id=framework["id"], name=framework["name"], user=framework["user"],
                role=framework["role"], tasks=str(len(framework["tasks"])),
                cpus=_amount(used.get("cpus", 0)), mem=_amount(used.get("mem", 0)),
                share=f"{share:.1%}")

    @renderer
    def slaves(self, request, tag):
        """
        One row per slave.
        """
        for slave in self.state["slaves"]:
            total, used = slave["resources"], slave["used_resources"]
            yield tag.clone().fillSlots(
                id=slave["id"], hostname=slave["hostname"],
                cpus=f"{_amount(used.get('cpus', 0))} / {_amount(total.get('cpus', 0))}",
                mem=f"{_amount(used.get('mem', 0))} / {_amount(total.get('mem', 0))}",
                attributes=", ".join(f"{k}={v}" for k, v in sorted(slave["attributes"].items())))


class FrameworkElement(Element):
    """
    One framework: its running and completed tasks.
    """

    loader = XMLFile(_HERE.child("templates").child("framework.xml"))

    def __init__(self, framework):
        super().__init__()
        self.framework = framework

    @renderer
    def page(self, request, tag):
        """
        The framework's name, id, user and role.
        """
        framework = self.framework
        return tag.fillSlots(
            name=framework["name"], id=framework["id"], user=framework["user"],
            role=framework["role"], active="active" if framework["active"] else "inactive")

    def _rows(self, tag, tasks):
        for task in tasks:
            resources = task["resources"]
            yield tag.clone().fillSlots(
                id=task["id"], name=task["name"], state=task["state"], slave=task["slave_id"],
                cpus=_amount(resources.get("cpus", 0)), mem=_amount(resources.get("mem", 0)))

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
