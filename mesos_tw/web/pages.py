"""
The UI's list pages, rendered from the master's own state: frameworks
(active and completed), slaves, and outstanding offers.
"""

from twisted.web.template import Element, XMLFile, renderer

from mesos_tw.web.dashboard import dominant_share
from mesos_tw.web.layout import TEMPLATES, amount, when

__all__ = ["FrameworksElement", "OffersElement", "SlavesElement"]


def _resources_text(resources):
    return ", ".join(f"{name}: {amount(value) if isinstance(value, float) else value}"
                     for name, value in sorted(resources.items()))


class FrameworksElement(Element):
    """
    Every framework: role, tasks, resources held and offered, dominant share.

    @param state: the master's state JSON.
    @param metrics: its metrics snapshot (for the cluster's totals).
    """

    loader = XMLFile(TEMPLATES.child("frameworks.xml"))

    def __init__(self, state, metrics):
        super().__init__()
        self.state = state
        self.metrics = metrics

    @renderer
    def frameworks(self, request, tag):
        """
        One row per active framework.
        """
        for framework in self.state["frameworks"]:
            used, offered = framework["used_resources"], framework["offered_resources"]
            yield tag.clone().fillSlots(
                id=framework["id"], name=framework["name"], user=framework["user"],
                role=framework["role"], tasks=str(len(framework["tasks"])),
                cpus=amount(used.get("cpus", 0)), mem=amount(used.get("mem", 0)),
                offers=str(len(framework["offers"])),
                offered_cpus=amount(offered.get("cpus", 0)),
                share=f"{dominant_share(used, self.metrics):.1%}",
                registered=when(framework["registered_time"]))

    @renderer
    def completed(self, request, tag):
        """
        One row per completed framework.
        """
        for framework in self.state["completed_frameworks"]:
            yield tag.clone().fillSlots(
                id=framework["id"], name=framework["name"], user=framework["user"],
                role=framework["role"], tasks=str(len(framework["completed_tasks"])),
                unregistered=when(framework["unregistered_time"]))


class SlavesElement(Element):
    """
    Every slave: its host, attributes, and resources used of its total.

    @param slaves: the slaves' JSON objects, as in C{/master/state}.
    @param task_counts: C{{slave_id: number of unfinished tasks}}.
    """

    loader = XMLFile(TEMPLATES.child("slaves.xml"))

    def __init__(self, slaves, task_counts):
        super().__init__()
        self.slaves_json = slaves
        self.task_counts = task_counts

    @renderer
    def slaves(self, request, tag):
        """
        One row per slave.
        """
        for slave in self.slaves_json:
            total, used = slave["resources"], slave["used_resources"]

            def share(name):
                return f"{amount(used.get(name, 0))} / {amount(total.get(name, 0))}"

            yield tag.clone().fillSlots(
                id=slave["id"], hostname=slave["hostname"],
                tasks=str(self.task_counts.get(slave["id"], 0)),
                cpus=share("cpus"), mem=share("mem"), disk=share("disk"),
                attributes=", ".join(f"{k}={v}" for k, v in sorted(slave["attributes"].items())),
                registered=when(slave["registered_time"]))


class OffersElement(Element):
    """
    The outstanding offers: which framework holds which slave's resources.

    @param state: the master's state JSON.
    """

    loader = XMLFile(TEMPLATES.child("offers.xml"))

    def __init__(self, state):
        super().__init__()
        self.state = state

    def _offers(self):
        return [offer for framework in self.state["frameworks"] for offer in framework["offers"]]

    @renderer
    def offers(self, request, tag):
        """
        One row per offer.
        """
        names = {f["id"]: f["name"] for f in self.state["frameworks"]}
        hosts = {s["id"]: s["hostname"] for s in self.state["slaves"]}
        for offer in self._offers():
            yield tag.clone().fillSlots(
                id=offer["id"], framework=offer["framework_id"],
                framework_name=names.get(offer["framework_id"], offer["framework_id"]),
                slave=offer["slave_id"], hostname=hosts.get(offer["slave_id"], ""),
                resources=_resources_text(offer["resources"]))

    @renderer
    def empty(self, request, tag):
        """
        A note when there are no offers.
        """
        return "" if self._offers() else tag("No outstanding offers.")
