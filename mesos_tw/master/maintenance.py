"""
Maintenance, as Mesos has it (its docs/maintenance.md): an operator posts
a schedule of windows, each a set of machines (a hostname and/or an IP)
and when they will be unavailable.  A machine in the schedule is
DRAINING: the frameworks running on its slaves get inverse offers saying
when it goes, and answer (accept or decline) so that the operator can see
who is ready.  START_MAINTENANCE takes a DRAINING machine DOWN: its
slaves are removed and told to shut down, and slaves on it cannot
register until STOP_MAINTENANCE brings it UP (and out of the schedule).

A slave is on a machine when the machine's hostname (if given) is the
slave's hostname, case aside, and its IP (if given) is the slave's
address.
"""

from dataclasses import dataclass, field

from twisted.logger import Logger

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.maintenance_pb2 import ClusterStatus, InverseOfferStatus, Schedule
from mesos_tw.web.operator import time_info
from mesos_tw.web.v1 import CallError

__all__ = ["DOWN", "DRAINING", "UP", "Maintenance", "machine_text"]

UP, DRAINING, DOWN = (mesos_pb2.MachineInfo.UP, mesos_pb2.MachineInfo.DRAINING,
                      mesos_pb2.MachineInfo.DOWN)

#: How long a declined inverse offer keeps another from being sent, when
#: the framework's filters do not say (Mesos's default refuse_seconds).
DEFAULT_REFUSE_SECONDS = 5.0


def machine_key(machine_id):
    """
    A C{MachineID} as a dict key: C{(hostname in lower case, ip)}.
    """
    return (machine_id.hostname.lower(), machine_id.ip)


def machine_text(machine_id):
    """
    A C{MachineID} for messages: C{hostname (ip)}, or whichever it has.
    """
    if machine_id.hostname and machine_id.ip:
        return f"{machine_id.hostname} ({machine_id.ip})"
    return machine_id.hostname or machine_id.ip


@dataclass
class Machine:
    """
    A machine in the schedule.

    @ivar statuses: C{{framework_id: InverseOfferStatus}}, the latest
        answer of each framework to its inverse offers.
    """

    id: object
    mode: int
    unavailability: object
    statuses: dict = field(default_factory=dict)

    def holds(self, hostname, ip):
        """
        Whether a slave at C{hostname} and C{ip} is on this machine.
        """
        return ((not self.id.hostname or self.id.hostname.lower() == hostname.lower())
                and (not self.id.ip or self.id.ip == ip))


class Maintenance:
    """
    The leading master's schedule, machines and inverse offers.

    @ivar machines: C{{machine_key: Machine}} of the machines scheduled.
    @ivar inverse_offers: C{{offer_id: InverseOffer}} outstanding.
    """

    log = Logger()

    def __init__(self, master):
        self.master = master
        self.schedule = Schedule()
        self.machines = {}
        self.inverse_offers = {}
        self._declined = {}

    # Slaves and machines.

    def machine_of(self, hostname, ip):
        """
        The scheduled L{Machine} a slave at C{hostname}, C{ip} is on, or
        L{None}.
        """
        for machine in self.machines.values():
            if machine.holds(hostname, ip):
                return machine
        return None

    def slaves_on(self, machine):
        """
        The registered slaves on C{machine}.
        """
        return [slave for slave in self.master.slaves.values()
                if machine.holds(slave.info.hostname, slave.pid.host)]

    def refusal(self, info, pid):
        """
        Why a slave at C{pid} with C{info} may not register now (its
        machine is DOWN), or L{None}.
        """
        if not self.machines:
            # No schedule (as usual): nothing to read of the slave.
            return None
        machine = self.machine_of(info.hostname, pid.host)
        if machine is not None and machine.mode == DOWN:
            return f"Machine {machine_text(machine.id)} is DOWN for maintenance"
        return None

    # The operator's calls.

    def update_schedule(self, schedule):
        """
        Replace the schedule: machines new to it are DRAINING, those left
        out go back UP (their outstanding inverse offers are rescinded),
        those that stay take their new unavailability.

        @raise CallError: for a machine without hostname or IP, one in two
            windows, a window without machines, a negative duration, or a
            DOWN machine left out (bring it up first); nothing changes.
        """
        wanted = {}
        for index, window in enumerate(schedule.windows):
            if not window.machine_ids:
                raise CallError(f"window {index} names no machine")
            if window.unavailability.duration.nanoseconds < 0:
                raise CallError(f"window {index}'s unavailability has a negative duration")
            for machine_id in window.machine_ids:
                if not machine_id.hostname and not machine_id.ip:
                    raise CallError(f"a machine of window {index} has neither hostname nor ip")
                key = machine_key(machine_id)
                if key in wanted:
                    raise CallError(f"machine {machine_text(machine_id)} is in more than one "
                                    "window")
                wanted[key] = (machine_id, window.unavailability)
        for key, machine in self.machines.items():
            if machine.mode == DOWN and key not in wanted:
                raise CallError(f"machine {machine_text(machine.id)} is DOWN: bring it up "
                                "(STOP_MAINTENANCE) before leaving it out of the schedule")
        for key in [key for key in self.machines if key not in wanted]:
            self._forget(self.machines.pop(key))
        for key, (machine_id, unavailability) in wanted.items():
            machine = self.machines.get(key)
            if machine is None:
                self.machines[key] = Machine(machine_id, DRAINING, unavailability)
            elif machine.unavailability != unavailability:
                machine.unavailability = unavailability
                self._forget(machine)
                machine.statuses.clear()
        self.schedule = Schedule()
        self.schedule.CopyFrom(schedule)
        self.log.info("Maintenance schedule updated: {count} machines scheduled",
                      count=len(self.machines))
        self.send_inverse_offers()

    def _scheduled(self, machine_ids, verb):
        machines = []
        for machine_id in machine_ids:
            machine = self.machines.get(machine_key(machine_id))
            if machine is None:
                raise CallError(f"machine {machine_text(machine_id)} is not in the maintenance "
                                f"schedule: it cannot be {verb}")
            machines.append(machine)
        if not machines:
            raise CallError("no machine is named")
        return machines

    def start_maintenance(self, machine_ids):
        """
        Take scheduled machines DOWN: their slaves are removed (their tasks
        lost) and told to shut down.

        @raise CallError: for a machine not in the schedule, or already
            DOWN; nothing changes.
        """
        machines = self._scheduled(machine_ids, "brought down")
        for machine in machines:
            if machine.mode == DOWN:
                raise CallError(f"machine {machine_text(machine.id)} is already DOWN")
        for machine in machines:
            machine.mode = DOWN
            self._forget(machine)
            self.log.warn("Machine {machine} is DOWN for maintenance",
                          machine=machine_text(machine.id))
            for slave in self.slaves_on(machine):
                self.master.remove_slave(slave, "its machine is DOWN for maintenance",
                                         shutdown=True)

    def stop_maintenance(self, machine_ids):
        """
        Bring DOWN machines UP: they leave the schedule, and their slaves
        may register again.

        @raise CallError: for a machine not in the schedule or not DOWN.
        """
        machines = self._scheduled(machine_ids, "brought up")
        for machine in machines:
            if machine.mode != DOWN:
                raise CallError(f"machine {machine_text(machine.id)} is not DOWN")
        keys = {machine_key(machine.id) for machine in machines}
        for key in keys:
            self.machines.pop(key)
        remaining = Schedule()
        for window in self.schedule.windows:
            left = [m for m in window.machine_ids if machine_key(m) not in keys]
            if left:
                remaining.windows.add(machine_ids=left, unavailability=window.unavailability)
        self.schedule = remaining
        for machine in machines:
            self.log.info("Machine {machine} is UP", machine=machine_text(machine.id))

    def status(self):
        """
        The C{ClusterStatus}: DRAINING machines with their frameworks'
        answers, and DOWN machines.
        """
        status = ClusterStatus()
        for machine in self.machines.values():
            if machine.mode == DOWN:
                status.down_machines.append(machine.id)
            else:
                status.draining_machines.add(id=machine.id, statuses=[
                    machine.statuses[f] for f in sorted(machine.statuses)])
        return status

    def mode_of(self, slave):
        """
        The C{MachineInfo.Mode} of C{slave}'s machine (UP when it is not
        scheduled), and its unavailability (or L{None}).
        """
        machine = self.machine_of(slave.info.hostname, slave.pid.host)
        if machine is None:
            return UP, None
        return machine.mode, machine.unavailability

    # Inverse offers.

    def send_inverse_offers(self):
        """
        Offer back, to each framework running on a slave of a DRAINING
        machine, that slave's resources for the machine's unavailability:
        one outstanding inverse offer per framework and slave, none to a
        framework that accepted, and none again until a decline's filter
        runs out.
        """
        master = self.master
        now = master.reactor.seconds()
        outstanding = {(offer.framework_id.value, offer.slave_id.value)
                       for offer in self.inverse_offers.values()}
        by_framework = {}
        for machine in self.machines.values():
            if machine.mode != DRAINING:
                continue
            for slave in self.slaves_on(machine):
                users = {key[0] for key in slave.tasks} | set(slave.executors)
                for framework_id in sorted(users):
                    framework = master.frameworks.get(framework_id)
                    key = (framework_id, slave.id)
                    answered = machine.statuses.get(framework_id)
                    if (framework is None or not framework.active or key in outstanding
                            or self._declined.get(key, now) > now
                            or (answered is not None
                                and answered.status == InverseOfferStatus.ACCEPT)):
                        continue
                    offer = mesos_pb2.InverseOffer(
                        id=mesos_pb2.OfferID(value=master._new_id("offer", "I")),
                        framework_id=mesos_pb2.FrameworkID(value=framework_id),
                        slave_id=mesos_pb2.SlaveID(value=slave.id),
                        unavailability=machine.unavailability)
                    self.inverse_offers[offer.id.value] = offer
                    machine.statuses.setdefault(framework_id, InverseOfferStatus(
                        status=InverseOfferStatus.UNKNOWN, framework_id=offer.framework_id,
                        timestamp=time_info(now)))
                    framework.inverse_offers[offer.id.value] = offer
                    by_framework.setdefault(framework_id, []).append((offer, slave))
        for framework_id, offers in by_framework.items():
            self.log.info("Sending {count} inverse offer(s) to framework {framework_id}",
                          count=len(offers), framework_id=framework_id)
            master.node.send(master.frameworks[framework_id].pid, internal.ResourceOffersMessage(
                inverse_offers=[offer for offer, _ in offers],
                pids=[str(slave.pid) for _, slave in offers]))

    def answered(self, sender, message):
        """
        A framework accepted or declined inverse offers
        (C{InverseOffersAnswerMessage}): its answer is the machine's status
        for it; a decline keeps another inverse offer away for its filter's
        C{refuse_seconds}.  Unknown offers are logged and left.
        """
        framework = self.master._framework_from(sender, message.framework_id.value)
        if framework is None:
            return
        now = self.master.reactor.seconds()
        answer = InverseOfferStatus.ACCEPT if message.accept else InverseOfferStatus.DECLINE
        for offer_id in message.inverse_offer_ids:
            offer = self.inverse_offers.get(offer_id.value)
            if offer is None or offer.framework_id.value != framework.id:
                self.log.warn("Framework {framework_id} answered unknown inverse offer "
                              "{offer_id}", framework_id=framework.id, offer_id=offer_id.value)
                continue
            self._remove(offer)
            slave = self.master.slaves.get(offer.slave_id.value)
            machine = slave and self.machine_of(slave.info.hostname, slave.pid.host)
            if machine is not None:
                machine.statuses[framework.id] = InverseOfferStatus(
                    status=answer, framework_id=offer.framework_id, timestamp=time_info(now))
            if not message.accept:
                refuse = message.filters.refuse_seconds if message.HasField("filters") \
                    else DEFAULT_REFUSE_SECONDS
                self._declined[(framework.id, offer.slave_id.value)] = now + refuse

    def _remove(self, offer, rescind=False):
        self.inverse_offers.pop(offer.id.value, None)
        framework = self.master.frameworks.get(offer.framework_id.value)
        if framework is None:
            return
        framework.inverse_offers.pop(offer.id.value, None)
        if rescind and framework.active:
            self.master.node.send(framework.pid, internal.RescindInverseOfferMessage(
                inverse_offer_id=offer.id))

    def _forget(self, machine):
        """
        Rescind the inverse offers for C{machine}'s slaves, and forget
        declines.
        """
        slave_ids = {slave.id for slave in self.slaves_on(machine)}
        for offer in list(self.inverse_offers.values()):
            if offer.slave_id.value in slave_ids:
                self._remove(offer, rescind=True)
        for key in [key for key in self._declined if key[1] in slave_ids]:
            del self._declined[key]
