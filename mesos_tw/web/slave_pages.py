"""
The UI's pages about one slave, built from the master's records and from
what the slave itself reports over HTTP (its executors and their sandbox
directories): the slave, one executor with its tasks, the sandbox browser,
and the live tail of a sandbox file (C{static/pailer.js} follows it as it
grows, as Mesos's pailer does).
"""

import os
import posixpath
from urllib.parse import quote

from twisted.web.template import Element, XMLFile, renderer, tags

from mesos_tw.web.layout import (
    TEMPLATES, amount, attributes_text, browse_link, download_link, tail_link, when)

__all__ = ["BrowseElement", "ExecutorElement", "SlaveElement", "TailElement",
           "executor_link", "find_executor"]


def executor_link(slave_id, framework_id, executor_id):
    """
    The URL of an executor's page.
    """
    return (f"/ui/slaves/{quote(slave_id)}/frameworks/{quote(framework_id)}"
            f"/executors/{quote(executor_id)}")


def find_executor(slave_state, framework_id, executor_id):
    """
    The executor's JSON object in a slave's state, and whether it is
    running (C{False} for a completed one); C{(None, False)} when absent.
    The newest run wins.
    """
    for framework in slave_state["frameworks"] + slave_state["completed_frameworks"]:
        if framework["id"] != framework_id:
            continue
        for executor in framework["executors"]:
            if executor["id"] == executor_id:
                return executor, True
        for executor in reversed(framework["completed_executors"]):
            if executor["id"] == executor_id:
                return executor, False
    return None, False


class SlaveElement(Element):
    """
    One slave: resources, its executors (with links to their pages and
    sandboxes) and the tasks the master knows it runs.

    @param slave: the slave's JSON object as in C{/master/state}.
    @param tasks: the master's task JSON objects on this slave.
    @param slave_state: the slave's own C{/slave(1)/state}, or L{None}
        when it could not be read (C{problem} says why).
    """

    loader = XMLFile(TEMPLATES.child("slave.xml"))

    def __init__(self, slave, tasks, slave_state, problem=None):
        super().__init__()
        self.slave = slave
        self.tasks_json = tasks
        self.slave_state = slave_state
        self.problem_text = problem

    @renderer
    def page(self, request, tag):
        """
        The slave's id, pid and attributes.
        """
        slave = self.slave
        return tag.fillSlots(
            id=slave["id"], pid=slave["pid"],
            attributes=attributes_text(slave["attributes"]) or "none")

    @renderer
    def problem(self, request, tag):
        """
        Why the executors are missing, when the slave did not answer.
        """
        return tag(self.problem_text) if self.problem_text else ""

    @renderer
    def resources(self, request, tag):
        """
        Total, used and offered, per resource.
        """
        slave = self.slave
        for name, total in sorted(slave["resources"].items()):
            if not isinstance(total, float):
                continue
            yield tag.clone().fillSlots(
                name=name, total=amount(total),
                used=amount(slave["used_resources"].get(name, 0.0)),
                offered=amount(slave["offered_resources"].get(name, 0.0)))

    @renderer
    def executors(self, request, tag):
        """
        One row per running executor, as the slave reports them.
        """
        if self.slave_state is None:
            return
        slave_id = self.slave["id"]
        for framework in self.slave_state["frameworks"]:
            for executor in framework["executors"]:
                resources = executor["resources"]
                yield tag.clone().fillSlots(
                    id=executor["id"], name=executor["name"], framework=framework["id"],
                    tasks=str(len(executor["tasks"]) + len(executor["queued_tasks"])),
                    cpus=amount(resources.get("cpus", 0)), mem=amount(resources.get("mem", 0)),
                    link=executor_link(slave_id, framework["id"], executor["id"]),
                    sandbox=browse_link(slave_id, executor["directory"]))

    @renderer
    def completed_executors(self, request, tag):
        """
        One row per executor run that ended, newest first, as the slave
        remembers them.
        """
        if self.slave_state is None:
            return
        slave_id = self.slave["id"]
        for framework in self.slave_state["frameworks"] + self.slave_state["completed_frameworks"]:
            for executor in reversed(framework["completed_executors"]):
                yield tag.clone().fillSlots(
                    id=executor["id"], name=executor["name"], framework=framework["id"],
                    tasks=str(len(executor["completed_tasks"])),
                    link=executor_link(slave_id, framework["id"], executor["id"]),
                    sandbox=browse_link(slave_id, executor["directory"]))

    @renderer
    def tasks(self, request, tag):
        """
        One row per unfinished task on this slave.
        """
        for task in self.tasks_json:
            resources = task["resources"]
            yield tag.clone().fillSlots(
                id=task["id"], name=task["name"], state=task["state"],
                framework=task["framework_id"], executor=task["executor_id"] or "(command)",
                cpus=amount(resources.get("cpus", 0)), mem=amount(resources.get("mem", 0)))


class ExecutorElement(Element):
    """
    One executor run: its sandbox, its stdout and stderr, its resource
    usage, its tasks (queued, running and completed).

    @param statistics: its C{ResourceStatistics} fields from the slave's
        C{/monitor/statistics}, or L{None}.
    """

    loader = XMLFile(TEMPLATES.child("executor.xml"))

    def __init__(self, slave_id, framework_id, executor, running, statistics=None):
        super().__init__()
        self.slave_id = slave_id
        self.framework_id = framework_id
        self.executor = executor
        self.running = running
        self.statistics = statistics

    @renderer
    def usage(self, request, tag):
        """
        What the executor uses, as its isolator last measured it: CPU
        time, memory against its limit.
        """
        statistics = self.statistics or {}
        parts = []
        if "cpus_user_time_secs" in statistics or "cpus_system_time_secs" in statistics:
            user = statistics.get("cpus_user_time_secs", 0.0)
            system = statistics.get("cpus_system_time_secs", 0.0)
            parts.append(f"CPU time {user + system:.2f} s (user {user:.2f}, system {system:.2f})")
        if "mem_rss_bytes" in statistics:
            text = f"memory {statistics['mem_rss_bytes'] / 2 ** 20:.1f} MB"
            if statistics.get("mem_limit_bytes"):
                text += f" of {statistics['mem_limit_bytes'] / 2 ** 20:.0f} MB"
            parts.append(text)
        return tag("Usage: " + ("; ".join(parts) if parts else "none reported"))

    @renderer
    def page(self, request, tag):
        """
        Its ids, its state, and links to its sandbox and logs.
        """
        executor, directory = self.executor, self.executor["directory"]
        return tag.fillSlots(
            id=executor["id"], name=executor["name"], framework=self.framework_id,
            slave=self.slave_id, status="running" if self.running else "completed",
            directory=directory, sandbox=browse_link(self.slave_id, directory),
            stdout=tail_link(self.slave_id, posixpath.join(directory, "stdout")),
            stderr=tail_link(self.slave_id, posixpath.join(directory, "stderr")))

    @renderer
    def tasks(self, request, tag):
        """
        One row per task: queued, then running, then completed.
        """
        executor = self.executor
        rows = ([dict(task, state="QUEUED") for task in executor["queued_tasks"]]
                + executor["tasks"] + executor["completed_tasks"])
        for task in rows:
            resources = task["resources"]
            yield tag.clone().fillSlots(
                id=task["id"], name=task["name"], state=task["state"],
                cpus=amount(resources.get("cpus", 0)), mem=amount(resources.get("mem", 0)))


class BrowseElement(Element):
    """
    A sandbox directory: subdirectories to open, files to tail or download.

    @param entries: the slave's C{/files/browse} answer.
    """

    loader = XMLFile(TEMPLATES.child("browse.xml"))

    def __init__(self, slave_id, path, entries):
        super().__init__()
        self.slave_id = slave_id
        self.path = path
        self.entries_json = entries

    @renderer
    def page(self, request, tag):
        """
        The slave and the directory shown.
        """
        return tag.fillSlots(slave=self.slave_id, path=self.path)

    @renderer
    def parent(self, request, tag):
        """
        A link up one directory.
        """
        parent = posixpath.dirname(self.path.rstrip("/"))
        if not parent or parent == self.path:
            return ""
        return ["· ", tags.a(href=browse_link(self.slave_id, parent))("up")]

    @renderer
    def entries(self, request, tag):
        """
        One row per entry, directories first.
        """
        entries = sorted(self.entries_json,
                         key=lambda e: (not e["mode"].startswith("d"), e["path"]))
        for entry in entries:
            directory = entry["mode"].startswith("d")
            path = entry["path"]
            download = "" if directory else tags.a(
                href=download_link(self.slave_id, path),
                download=os.path.basename(path))("download")
            yield tag.clone().fillSlots(
                name=posixpath.basename(path) + ("/" if directory else ""),
                link=(browse_link if directory else tail_link)(self.slave_id, path),
                mode=entry["mode"], size=str(entry["size"]), mtime=when(entry["mtime"]),
                download=download)


class TailElement(Element):
    """
    A sandbox file that follows as it grows: the page's script reads it
    through the master (C{/ui/slaves/<id>/files/read}) from where it left off.
    """

    loader = XMLFile(TEMPLATES.child("tail.xml"))

    def __init__(self, slave_id, path):
        super().__init__()
        self.slave_id = slave_id
        self.path = path

    @renderer
    def page(self, request, tag):
        """
        The file, its directory, its download link and where to read it.
        """
        return tag.fillSlots(
            slave=self.slave_id, path=self.path,
            directory=browse_link(self.slave_id, posixpath.dirname(self.path)),
            download=download_link(self.slave_id, self.path),
            read=f"/ui/slaves/{quote(self.slave_id)}/files/read")
