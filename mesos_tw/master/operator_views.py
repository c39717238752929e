"""
The master's records as the v1 operator API shows them
(C{mesos.v1.master.Response} parts, Mesos's fields): agents, frameworks,
executors, tasks, roles, weights, the whole state.
"""

from mesos_tw import __version__
from mesos_tw.master.state import TERMINAL_STATES
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.master_pb2 import Response
from mesos_tw.resources import Resources
from mesos_tw.web.operator import time_info

__all__ = ["agent", "executors", "framework", "get_agents", "get_frameworks", "get_roles",
           "get_state", "get_tasks", "get_weights", "task"]

Agent = Response.GetAgents.Agent
Framework = Response.GetFrameworks.Framework


def task(record):
    """
    A C{TaskRecord} as a C{mesos.Task}: its latest state and every state
    it went through, with when.
    """
    internal = record.task
    result = mesos_pb2.Task(
        name=internal.name, task_id=internal.task_id, framework_id=internal.framework_id,
        slave_id=internal.slave_id, state=internal.state, resources=internal.resources)
    if internal.HasField("executor_id") and internal.executor_id.value:
        result.executor_id.CopyFrom(internal.executor_id)
    for state, timestamp in record.statuses:
        result.statuses.add(task_id=internal.task_id, state=state, timestamp=timestamp,
                            slave_id=internal.slave_id)
    return result


def agent(slave):
    """
    A C{SlaveRecord} as GET_AGENTS shows it.
    """
    result = Agent(
        agent_info=slave.info, active=not slave.deactivated, deactivated=slave.deactivated,
        version=__version__, pid=str(slave.pid), registered_time=time_info(slave.registered_time),
        total_resources=slave.total.to_protobuf(),
        allocated_resources=slave.used().to_protobuf(),
        offered_resources=Resources.sum(o.resources for o in slave.offers.values()).to_protobuf())
    if slave.reregistered_time is not None:
        result.reregistered_time.CopyFrom(time_info(slave.reregistered_time))
    if slave.drain_info is not None:
        result.drain_info.CopyFrom(slave.drain_info)
    return result


def framework(record):
    """
    A C{FrameworkRecord} (registered or completed) as GET_FRAMEWORKS shows
    it.
    """
    result = Framework(
        framework_info=record.info, active=record.active, connected=record.active,
        recovered=False, registered_time=time_info(record.registered_time),
        offers=[offer.offer for offer in record.offers.values()],
        allocated_resources=record.used().to_protobuf(),
        offered_resources=record.offered().to_protobuf())
    if record.reregistered_time is not None:
        result.reregistered_time.CopyFrom(time_info(record.reregistered_time))
    if record.unregistered_time is not None:
        result.unregistered_time.CopyFrom(time_info(record.unregistered_time))
    result.inverse_offers.extend(record.inverse_offers.values())
    return result


def get_agents(master):
    """
    GET_AGENTS: the registered slaves.
    """
    return Response.GetAgents(agents=[agent(slave) for slave in master.slaves.values()])


def get_frameworks(master):
    """
    GET_FRAMEWORKS: registered frameworks, and those removed.
    """
    return Response.GetFrameworks(
        frameworks=[framework(f) for f in master.frameworks.values()],
        completed_frameworks=[framework(f) for f in master.completed_frameworks])


def executors(master):
    """
    GET_EXECUTORS: every executor the slaves run, with its slave.
    """
    result = Response.GetExecutors()
    for slave in master.slaves.values():
        for infos in slave.executors.values():
            for info in infos.values():
                result.executors.add(executor_info=info, agent_id=slave.info.id)
    return result


def get_tasks(master):
    """
    GET_TASKS: the tasks that have not ended (on the slaves, whether or not
    their framework is registered), and the completed ones the master keeps.
    """
    result = Response.GetTasks()
    seen = set()
    for slave in master.slaves.values():
        for record in slave.tasks.values():
            if record.state not in TERMINAL_STATES:
                seen.add(record.key)
                result.tasks.append(task(record))
    for record_owner in list(master.frameworks.values()) + list(master.completed_frameworks):
        for record in record_owner.tasks.values():
            if record.key in seen:
                continue
            seen.add(record.key)
            if record.state in TERMINAL_STATES:
                result.completed_tasks.append(task(record))
            else:
                result.tasks.append(task(record))
        for record in record_owner.completed_tasks:
            if record.key not in seen:
                seen.add(record.key)
                result.completed_tasks.append(task(record))
    return result


def get_state(master):
    """
    GET_STATE (also SUBSCRIBED's): tasks, executors, frameworks, agents.
    """
    return Response.GetState(get_tasks=get_tasks(master), get_executors=executors(master),
                             get_frameworks=get_frameworks(master),
                             get_agents=get_agents(master))


def get_weights(master):
    """
    GET_WEIGHTS: the roles whose weight was set, by name.
    """
    return Response.GetWeights(weight_infos=[
        mesos_pb2.WeightInfo(role=role, weight=weight)
        for role, weight in sorted(master.weights.items())])


def get_roles(master):
    """
    GET_ROLES: every role known (in C{--roles}, given a weight, or used by
    a registered framework) with its weight, frameworks and what they hold.
    """
    roles = {}
    for role in set(master.roles or ()) | set(master.weights):
        roles.setdefault(role, [])
    for record in master.frameworks.values():
        roles.setdefault(record.info.role or "*", []).append(record)
    result = Response.GetRoles()
    for name, frameworks in sorted(roles.items()):
        held = Resources.sum(f.used() for f in frameworks)
        result.roles.add(
            name=name, weight=master.weights.get(name, 1.0),
            frameworks=[mesos_pb2.FrameworkID(value=f.id) for f in frameworks],
            resources=held.to_protobuf())
    return result
