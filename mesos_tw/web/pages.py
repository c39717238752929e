"""
The UI's list pages, rendered from the master's own state: frameworks
(active and completed), slaves, and outstanding offers.
"""

from twisted.web.template import Element, XMLFile, renderer

from mesos_tw.authorization.checks import EVERYTHING
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.web.dashboard import dominant_share
from mesos_tw.web.layout import (
    TEMPLATES, PagedElement, amount, attributes_text, used_of_total, when)

__all__ = ["FrameworksElement", "OffersElement", "SlavesElement", "maintenance_text"]


def _resources_text(resources):
    return ", ".join(f"{name}: {amount(value) if isinstance(value, float) else value}"
                     for name, value in sorted(resources.items()))


class FrameworksElement(Element):
    """
    Every framework: role, tasks, resources held and offered, dominant share.

    @param master: the leading L{Master} (its framework records).
    @param metrics: its metrics snapshot (for the cluster's totals).
    @param held: what each framework holds, by id (as the metrics summed
        it).
    @param view: the L{ReadView} of the user: frameworks it may not view
        are left out.
    """

    loader = XMLFile(TEMPLATES.child("frameworks.xml"))

    def __init__(self, master, metrics, held, view=EVERYTHING):
        super().__init__()
        self.master = master
        self.metrics = metrics
        self.held = held
        self.view = view

    @renderer
    def frameworks(self, request, tag):
        """
        One row per registered framework.
        """
        for record in filter(self.view.framework, self.master.frameworks.values()):
            framework = record.summary_json(used=self.held.get(record.id, Resources()))
            used, offered = framework["used_resources"], framework["offered_resources"]
            yield tag.clone().fillSlots(
                id=framework["id"], name=framework["name"], user=framework["user"],
                role=framework["role"], tasks=str(len(record.tasks)),
                cpus=amount(used.get("cpus", 0)), mem=amount(used.get("mem", 0)),
                offers=str(len(record.offers)),
                offered_cpus=amount(offered.get("cpus", 0)),
                share=f"{dominant_share(used, self.metrics):.1%}",
                registered=when(framework["registered_time"]))

    @renderer
    def completed(self, request, tag):
        """
        One row per completed framework.
        """
        for record in filter(self.view.framework, self.master.completed_frameworks):
            framework = record.summary_json()
            yield tag.clone().fillSlots(
                id=framework["id"], name=framework["name"], user=framework["user"],
                role=framework["role"], tasks=str(len(record.completed_tasks)),
                unregistered=when(framework["unregistered_time"]))


class SlavesElement(PagedElement):
    """
    A page of the slaves: host, connection, maintenance and draining,
    attributes, tasks, resources used of total.

    @param slaves: the L{SlaveRecord}s of this page.
    @param pager: the L{Pager} saying which page.
    @param maintenance: gives a slave's machine's C{MachineInfo.Mode} and
        unavailability (or L{None}); by default every machine is up.
    """

    def __init__(self, slaves, pager, maintenance=None):
        PagedElement.__init__(self, slaves, pager)
        self.maintenance = maintenance or (lambda slave: (mesos_pb2.MachineInfo.UP, None))

    loader = XMLFile(TEMPLATES.child("slaves.xml"))

    @renderer
    def slaves(self, request, tag):
        """
        One row per slave.
        """
        for record in self.records:
            slave = record.to_json()
            total, used = slave["resources"], slave["used_resources"]
            yield tag.clone().fillSlots(
                id=slave["id"], hostname=slave["hostname"],
                connection="connected" if slave["connected"] else "disconnected",
                maintenance=maintenance_text(record, *self.maintenance(record)),
                tasks=str(len(record.tasks)),
                cpus=used_of_total(used, total, "cpus"), mem=used_of_total(used, total, "mem"),
                disk=used_of_total(used, total, "disk"),
                attributes=attributes_text(slave["attributes"]),
                registered=when(slave["registered_time"]))


def maintenance_text(slave, mode, unavailability):
    """
    What an operator did to a slave and its machine, in a few words:
    C{deactivated}, C{draining}, C{drained}; C{machine DRAINING: down from
    <when> for <duration>}, C{machine DOWN}; or an empty string.
    """
    parts = []
    if slave.drain_info is not None:
        parts.append(mesos_pb2.DrainState.Name(slave.drain_info.state).lower())
    elif slave.deactivated:
        parts.append("deactivated")
    if mode == mesos_pb2.MachineInfo.DOWN:
        parts.append("machine DOWN")
    elif mode == mesos_pb2.MachineInfo.DRAINING and unavailability is not None:
        text = f"machine DRAINING: down from {when(unavailability.start.nanoseconds / 1e9)}"
        if unavailability.HasField("duration"):
            text += f" for {unavailability.duration.nanoseconds / 1e9:g} s"
        parts.append(text)
    return "; ".join(parts)


class OffersElement(PagedElement):
    """
    A page of the outstanding offers: which framework holds which slave's
    resources.

    @param master: the leading L{Master}.
    @param offers: the L{OfferRecord}s of this page.
    @param pager: the L{Pager} saying which page.
    """

    loader = XMLFile(TEMPLATES.child("offers.xml"))

    def __init__(self, master, offers, pager):
        super().__init__(offers, pager)
        self.master = master

    @renderer
    def offers(self, request, tag):
        """
        One row per offer.
        """
        for record in self.records:
            offer = record.to_json()
            framework = self.master.frameworks.get(offer["framework_id"])
            slave = self.master.slaves.get(offer["slave_id"])
            yield tag.clone().fillSlots(
                id=offer["id"], framework=offer["framework_id"],
                framework_name=framework.info.name if framework else offer["framework_id"],
                slave=offer["slave_id"], hostname=slave.info.hostname if slave else "",
                resources=_resources_text(offer["resources"]))

    @renderer
    def empty(self, request, tag):
        """
        A note when there are no offers.
        """
        return "" if self.master.offers else tag("No outstanding offers.")
