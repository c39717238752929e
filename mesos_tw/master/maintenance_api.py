"""
The maintenance and draining calls of the master's v1 operator API
(L{mesos_tw.master.operator_api}): GET_MAINTENANCE_STATUS,
GET_MAINTENANCE_SCHEDULE, UPDATE_MAINTENANCE_SCHEDULE, START_MAINTENANCE,
STOP_MAINTENANCE, DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT and
MARK_AGENT_GONE, carried out by L{mesos_tw.master.maintenance} and
L{mesos_tw.master.draining}.
"""

from mesos_tw.protocols.master_pb2 import Response
from mesos_tw.web.v1 import CallError

__all__ = ["MaintenanceCalls"]


class MaintenanceCalls:
    """
    The calls, for an operator API whose C{master} is the leading master.
    """

    def call_get_maintenance_status(self, request, body):
        """
        GET_MAINTENANCE_STATUS: DRAINING machines with their frameworks'
        answers to the inverse offers, and DOWN machines.
        """
        return Response(type=Response.GET_MAINTENANCE_STATUS,
                        get_maintenance_status=Response.GetMaintenanceStatus(
                            status=self.master.maintenance.status()))

    def call_get_maintenance_schedule(self, request, body):
        """
        GET_MAINTENANCE_SCHEDULE.
        """
        return Response(type=Response.GET_MAINTENANCE_SCHEDULE,
                        get_maintenance_schedule=Response.GetMaintenanceSchedule(
                            schedule=self.master.maintenance.schedule))

    def call_update_maintenance_schedule(self, request, body):
        """
        UPDATE_MAINTENANCE_SCHEDULE.
        """
        self.master.maintenance.update_schedule(body.schedule)

    def call_start_maintenance(self, request, body):
        """
        START_MAINTENANCE: machines DOWN.
        """
        self.master.maintenance.start_maintenance(body.machines)

    def call_stop_maintenance(self, request, body):
        """
        STOP_MAINTENANCE: machines UP.
        """
        self.master.maintenance.stop_maintenance(body.machines)

    def call_drain_agent(self, request, body):
        """
        DRAIN_AGENT: deactivate, kill the tasks, after C{max_grace_period}
        shut the executors down; DRAINED (and gone, with C{mark_gone}) once
        no task is left.
        """
        grace = None
        if body.HasField("max_grace_period"):
            grace = body.max_grace_period.seconds + body.max_grace_period.nanos / 1e9
            if grace < 0:
                raise CallError("drain_agent.max_grace_period must not be negative")
        self.master.draining.drain(body.agent_id.value, grace, body.mark_gone)

    def call_deactivate_agent(self, request, body):
        """
        DEACTIVATE_AGENT.
        """
        self.master.draining.deactivate(body.agent_id.value)

    def call_reactivate_agent(self, request, body):
        """
        REACTIVATE_AGENT.
        """
        self.master.draining.reactivate(body.agent_id.value)

    def call_mark_agent_gone(self, request, body):
        """
        MARK_AGENT_GONE.
        """
        self.master.draining.mark_gone(body.agent_id.value)
