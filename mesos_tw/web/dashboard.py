"""
The master's web UI dashboard and framework page, rendered on the server
with C{twisted.web.template} from the master's own state; a little local
JavaScript (C{static/refresh.js}) keeps them current by polling.  Nothing
is fetched from outside the master.
"""

import os
from itertools import islice

from twisted.python.filepath import FilePath
from twisted.web.template import Element, XMLFile, renderer, tags

from mesos_tw.authorization.checks import EVERYTHING
from mesos_tw.resources import Resources
from mesos_tw.web.history import utilization_chart
from mesos_tw.web.layout import (
    TEMPLATES, PagedElement, amount, attributes_text, used_of_total)

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


#: How many slaves the dashboard lists (the slaves page has them all).
DASHBOARD_SLAVES = 20


class DashboardElement(Element):
    """
    The cluster at a glance: the leading master, resources with their
    utilization over the last minutes, task counters, frameworks, and the
    first L{DASHBOARD_SLAVES} slaves.  It is made from the master's records
    without rendering the whole state, so that it stays cheap for a large
    cluster.

    @param metrics: the master's metrics snapshot.
    @param history: a L{UtilizationHistory}.
    @param held: what each framework holds, by id (as the metrics summed
        it).
    @param view: the L{ReadView} of the user: frameworks it may not view
        are left out.
    """

    loader = XMLFile(TEMPLATES.child("dashboard.xml"))

    def __init__(self, master, metrics, history, held, view=EVERYTHING):
        super().__init__()
        self.view = view
        self.master = master
        self.state = master.state_fields()
        self.metrics = metrics
        self.history = history
        self.held = held

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
        for record in filter(self.view.framework, self.master.frameworks.values()):
            framework = record.summary_json(used=self.held.get(record.id, Resources()))
            used = framework["used_resources"]
            # A framework with a UI of its own (mesos-services' services
            # page, say) is linked to it, as in Mesos's UI.
            name = tags.a(framework["name"], href=framework["webui_url"]) \
                if framework["webui_url"] else framework["name"]
            yield tag.clone().fillSlots(
                id=framework["id"], name=name, user=framework["user"],
                role=framework["role"], tasks=str(len(record.tasks)),
                cpus=amount(used.get("cpus", 0)), mem=amount(used.get("mem", 0)),
                share=f"{dominant_share(used, self.metrics):.1%}")

    @renderer
    def slaves(self, request, tag):
        """
        One row per slave, for the first few.
        """
        for record in islice(self.master.slaves.values(), DASHBOARD_SLAVES):
            slave = record.to_json()
            total, used = slave["resources"], slave["used_resources"]
            yield tag.clone().fillSlots(
                id=slave["id"], hostname=slave["hostname"],
                cpus=used_of_total(used, total, "cpus"), mem=used_of_total(used, total, "mem"),
                attributes=attributes_text(slave["attributes"]))

    @renderer
    def more_slaves(self, request, tag):
        """
        How many slaves are not listed, linked to the slaves page.
        """
        hidden = len(self.master.slaves) - DASHBOARD_SLAVES
        if hidden <= 0:
            return ""
        return tag(f"and {hidden} more: ", tags.a(href="/ui/slaves")("all slaves"))


def health_text(task):
    """
    A task's latest health as its JSON's last status gives it: C{healthy},
    C{unhealthy}, or empty when no health check has reported.
    """
    statuses = task.get("statuses") or [{}]
    healthy = statuses[-1].get("healthy")
    return "" if healthy is None else ("healthy" if healthy else "unhealthy")


class FrameworkElement(PagedElement):
    """
    One framework: a page of its unfinished tasks, and its completed tasks.

    @param framework: the framework's summary JSON (without task lists).
    @param tasks: the task JSON objects of this page.
    @param completed: the completed tasks' JSON objects.
    @param pager: the L{Pager} of the unfinished tasks.
    """

    loader = XMLFile(TEMPLATES.child("framework.xml"))

    def __init__(self, framework, tasks, completed, pager):
        super().__init__(tasks, pager)
        self.framework = framework
        self.completed_json = completed

    @renderer
    def page(self, request, tag):
        """
        The framework's id, user, role and whether it is active.
        """
        framework = self.framework
        return tag.fillSlots(
            id=framework["id"], user=framework["user"],
            role=framework["role"], active="active" if framework["active"] else "inactive")

    @renderer
    def webui(self, request, tag):
        """
        A link to the framework's own web UI (its C{webui_url}), if it
        gave one.
        """
        url = self.framework["webui_url"]
        return tag.fillSlots(webui_url=url) if url else ""

    def _rows(self, tag, tasks):
        for task in tasks:
            resources = task["resources"]
            yield tag.clone().fillSlots(
                id=task["id"], name=task["name"], state=task["state"], slave=task["slave_id"],
                health=health_text(task), cpus=amount(resources.get("cpus", 0)),
                mem=amount(resources.get("mem", 0)))

    @renderer
    def tasks(self, request, tag):
        """
        One row per unfinished task of this page.
        """
        return self._rows(tag, self.records)

    @renderer
    def completed(self, request, tag):
        """
        One row per completed task.
        """
        return self._rows(tag, self.completed_json)
