"""
C{mesos maintenance ...} and C{mesos agent drain|deactivate|reactivate|gone}:
maintenance schedules, machines down and up, and taking single slaves
out of service, through the master's v1 operator API.

A machine is named C{HOSTNAME}, C{HOSTNAME:IP}, or an IP address.
"""

import ipaddress
import json
import time

import click
from google.protobuf.duration_pb2 import Duration

from mesos_tw.cli.running import run, show
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.maintenance_pb2 import InverseOfferStatus, Schedule
from mesos_tw.protocols.master_pb2 import Call
from mesos_tw.web.v1 import CallError, from_v1, to_v1

__all__ = ["add_agent_commands", "maintenance", "parse_machine"]


def parse_machine(text):
    """
    A C{MachineID} from C{HOSTNAME}, C{HOSTNAME:IP} or an IP address.
    """
    hostname, _, ip = text.partition(":")
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        pass
    else:
        hostname, ip = "", hostname
    if not hostname and not ip:
        raise click.BadParameter(f"{text!r} names no machine")
    return mesos_pb2.MachineID(hostname=hostname, ip=ip)


def _machine(machine_id):
    if machine_id.hostname and machine_id.ip:
        return f"{machine_id.hostname}:{machine_id.ip}"
    return machine_id.hostname or machine_id.ip


def _when(nanoseconds):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(nanoseconds / 1e9))


@click.group()
def maintenance():
    """
    Maintenance: the schedule, machines down and up.
    """


@maintenance.command("schedule")
@click.option("--set", "source", type=click.File("r"), default=None, metavar="FILE",
              help="Replace the schedule with the JSON in FILE (- for standard input), "
                   "Mesos's format: {\"windows\": [{\"machine_ids\": [...], "
                   "\"unavailability\": {...}}]}.")
@click.pass_obj
def schedule(options, source):
    """
    Show the maintenance schedule, or replace it (--set).
    """
    new = None
    if source is not None:
        try:
            new = from_v1(Schedule, json.load(source), "the schedule")
        except (ValueError, CallError) as error:
            raise click.BadParameter(str(error), param_hint="--set") from None

    async def command(client):
        if new is not None:
            await client.call(Call(type=Call.UPDATE_MAINTENANCE_SCHEDULE,
                                   update_maintenance_schedule=Call.UpdateMaintenanceSchedule(
                                       schedule=new)))
            click.echo(f"Schedule set: {sum(len(w.machine_ids) for w in new.windows)} "
                       "machines")
            return
        response = await client.call(Call(type=Call.GET_MAINTENANCE_SCHEDULE))
        windows = response.get_maintenance_schedule.schedule
        rows = [(index, _machine(machine), _when(window.unavailability.start.nanoseconds),
                 f"{window.unavailability.duration.nanoseconds / 1e9:g}s"
                 if window.unavailability.HasField("duration") else "forever")
                for index, window in enumerate(windows.windows)
                for machine in window.machine_ids]
        show(options, ["WINDOW", "MACHINE", "START (UTC)", "DURATION"], rows,
                  to_v1(windows))
    run(options, command)


@maintenance.command("status")
@click.pass_obj
def status(options):
    """
    Each scheduled machine's mode, and the frameworks' answers to the
    inverse offers for its slaves.
    """

    async def command(client):
        response = await client.call(Call(type=Call.GET_MAINTENANCE_STATUS))
        cluster = response.get_maintenance_status.status
        rows = []
        for machine in cluster.draining_machines:
            answers = ", ".join(
                f"{s.framework_id.value}: {InverseOfferStatus.Status.Name(s.status).lower()}"
                for s in machine.statuses) or "-"
            rows.append((_machine(machine.id), "DRAINING", answers))
        rows.extend((_machine(machine), "DOWN", "-") for machine in cluster.down_machines)
        show(options, ["MACHINE", "MODE", "FRAMEWORKS"], rows, to_v1(cluster))
    run(options, command)


def _machines_command(kind, verb):
    @click.argument("machines", nargs=-1, required=True, metavar="MACHINE...")
    @click.pass_obj
    def command(options, machines):
        ids = [parse_machine(text) for text in machines]

        async def call(client):
            body = getattr(Call, "".join(part.title() for part in kind.lower().split("_")))(
                machines=ids)
            await client.call(Call(type=getattr(Call, kind), **{kind.lower(): body}))
            click.echo(f"{', '.join(machines)}: {verb}")
        run(options, call)
    return command


maintenance.command("down", help="Take scheduled machines DOWN: their slaves are shut "
                    "down and cannot register until the machines are up.")(
    _machines_command("START_MAINTENANCE", "DOWN"))
maintenance.command("up", help="Bring DOWN machines UP (they leave the schedule).")(
    _machines_command("STOP_MAINTENANCE", "UP"))


def add_agent_commands(agent):
    """
    Add C{drain}, C{deactivate}, C{reactivate} and C{gone} to the C{agent}
    group.
    """

    @agent.command("drain")
    @click.argument("agent_id")
    @click.option("--grace", type=float, default=None, metavar="SECONDS",
                  help="After this long, shut down the executors still running.")
    @click.option("--gone", is_flag=True, help="Mark the agent gone once drained.")
    @click.pass_obj
    def drain(options, agent_id, grace, gone):
        """
        Deactivate a slave and kill its tasks (DRAIN_AGENT).
        """
        body = Call.DrainAgent(agent_id=mesos_pb2.SlaveID(value=agent_id), mark_gone=gone)
        if grace is not None:
            body.max_grace_period.CopyFrom(Duration(seconds=int(grace),
                                                    nanos=int((grace % 1) * 1e9)))

        async def command(client):
            await client.call(Call(type=Call.DRAIN_AGENT, drain_agent=body))
            click.echo(f"Agent {agent_id} draining")
        run(options, command)

    for name, kind, message, done in (
            ("deactivate", "DEACTIVATE_AGENT", Call.DeactivateAgent, "deactivated"),
            ("reactivate", "REACTIVATE_AGENT", Call.ReactivateAgent, "reactivated"),
            ("gone", "MARK_AGENT_GONE", Call.MarkAgentGone, "marked gone")):
        agent.command(name, help=f"{kind}: the agent is {done}.")(
            _agent_command(kind, message, done))


def _agent_command(kind, message, done):
    @click.argument("agent_id")
    @click.pass_obj
    def command(options, agent_id):
        async def call(client):
            await client.call(Call(type=getattr(Call, kind), **{
                kind.lower(): message(agent_id=mesos_pb2.SlaveID(value=agent_id))}))
            click.echo(f"Agent {agent_id} {done}")
        run(options, call)
    return command
