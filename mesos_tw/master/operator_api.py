"""
Mesos's v1 operator API on the master, C{POST /api/v1}, in JSON or
protobuf (C{mesos.v1.master.Call}, answered with a C{Response} in the
encoding C{Accept} asks for).

A standby answers every call with a 307 to the leader's C{/api/v1} (503
while none is known).  SUBSCRIBE keeps the response open: a RecordIO
stream whose first event, SUBSCRIBED, carries the whole state, then
TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED, FRAMEWORK_ADDED,
FRAMEWORK_UPDATED, FRAMEWORK_REMOVED as they happen and a HEARTBEAT at
once and every 15 s.  The stream ends when the master stops leading; the
subscriber subscribes again with the new leader.

The maintenance and draining calls are L{mesos_tw.master.maintenance_api}'s.
"""

from mesos_tw.master import operator_views as views
from mesos_tw.master._leading import redirect_to_leader
from mesos_tw.master.maintenance_api import MaintenanceCalls
from mesos_tw.master.views import metrics_snapshot
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.master_pb2 import Call, Event, Response
from mesos_tw.web.operator import AttachedFiles, LoggingLevel, OperatorCalls
from mesos_tw.web.v1 import HEARTBEAT_INTERVAL, MAX_STREAM_BACKLOG, CallError, Subscription, \
    error_response, stream_media

__all__ = ["MasterOperatorAPI", "OperatorSubscription"]


class OperatorSubscription(Subscription):
    """
    An operator's SUBSCRIBE stream: it listens to the leading master's
    L{mesos_tw.master.events.MasterEvents} and sends each as a v1 event.
    """

    event_class = Event

    def __init__(self, reactor, request, master, heartbeat_interval,
                 max_backlog=MAX_STREAM_BACKLOG, media=None):
        Subscription.__init__(self, reactor, request, None, None, heartbeat_interval,
                              max_backlog, media)
        self.master = master

    def describe(self):
        """
        What we are, for the log.
        """
        return "An operator's subscription"

    def subscribe(self):
        """
        Listen to the master; send SUBSCRIBED with its whole state, and a
        first HEARTBEAT.
        """
        self.master.events.subscribe(self)
        self.closed.addCallback(self._unsubscribe)
        self._send_event(Event(type=Event.SUBSCRIBED, subscribed=Event.Subscribed(
            get_state=views.get_state(self.master),
            heartbeat_interval_seconds=self.heartbeat_interval)))
        self._send_heartbeat()
        self.start_heartbeat()

    def _unsubscribe(self, why):
        self.master.events.unsubscribe(self)
        return why

    # What the master reports.

    def task_added(self, record):
        """
        TASK_ADDED.
        """
        self._send_event(Event(type=Event.TASK_ADDED,
                               task_added=Event.TaskAdded(task=views.task(record))))

    def task_updated(self, record, status):
        """
        TASK_UPDATED: the status, and the task's latest state.
        """
        self._send_event(Event(type=Event.TASK_UPDATED, task_updated=Event.TaskUpdated(
            framework_id=record.task.framework_id, status=status, state=record.state)))

    def agent_added(self, slave):
        """
        AGENT_ADDED.
        """
        self._send_event(Event(type=Event.AGENT_ADDED,
                               agent_added=Event.AgentAdded(agent=views.agent(slave))))

    def agent_removed(self, slave_id):
        """
        AGENT_REMOVED.
        """
        self._send_event(Event(type=Event.AGENT_REMOVED, agent_removed=Event.AgentRemoved(
            agent_id=mesos_pb2.SlaveID(value=slave_id))))

    def framework_added(self, framework):
        """
        FRAMEWORK_ADDED.
        """
        self._send_event(Event(type=Event.FRAMEWORK_ADDED, framework_added=Event.FrameworkAdded(
            framework=views.framework(framework))))

    def framework_updated(self, framework):
        """
        FRAMEWORK_UPDATED.
        """
        self._send_event(Event(type=Event.FRAMEWORK_UPDATED,
                               framework_updated=Event.FrameworkUpdated(
                                   framework=views.framework(framework))))

    def framework_removed(self, framework):
        """
        FRAMEWORK_REMOVED.
        """
        self._send_event(Event(type=Event.FRAMEWORK_REMOVED,
                               framework_removed=Event.FrameworkRemoved(
                                   framework_info=framework.info)))

    def term_ended(self, why):
        """
        The master stopped leading: the stream ends.
        """
        self.close(why)


class MasterOperatorAPI(MaintenanceCalls, OperatorCalls):
    """
    The master's C{/api/v1}.

    @param leadership: an C{ILeadership} (who leads, our master while we do).
    @param flags: C{{"flags": {...}}}, as C{/master/flags} shows them.
    @param files: the L{AttachedFiles} LIST_FILES and READ_FILE serve.
    """

    call_class = Call
    response_class = Response
    what = "the master"

    def __init__(self, reactor, leadership, flags=None, files=None,
                 heartbeat_interval=HEARTBEAT_INTERVAL, max_backlog=MAX_STREAM_BACKLOG):
        self.reactor = reactor
        self.leadership = leadership
        self.flags = flags or {"flags": {}}
        self.attached = files if files is not None else AttachedFiles()
        self.heartbeat_interval = heartbeat_interval
        self.max_backlog = max_backlog
        self.logging_level = LoggingLevel(reactor)
        self.subscriptions = []

    def handle(self, request):
        """
        Answer one call, or send it to the leader.
        """
        leadership = self.leadership
        if not leadership.elected or leadership.master is None:
            leader = leadership.leader
            if leader is None or leader == leadership.pid:
                request.setHeader(b"Retry-After", b"1")
                return error_response(request, 503,
                                      "no leading master is elected; try again shortly")
            return redirect_to_leader(request, leader, b"/api/v1")
        return self.answer(request)

    @property
    def master(self):
        """
        The leading L{Master}.
        """
        return self.leadership.master

    def files(self):
        """
        The files attached to the master.
        """
        return self.attached

    def metrics(self):
        """
        The master's metrics snapshot.
        """
        return metrics_snapshot(self.master)

    def _response(self, kind, **parts):
        return Response(type=getattr(Response, kind), **parts)

    def call_get_logging_level(self, request, body):
        """
        GET_LOGGING_LEVEL.
        """
        return self._response("GET_LOGGING_LEVEL", get_logging_level=Response.GetLoggingLevel(
            level=self.logging_level.level))

    def call_set_logging_level(self, request, body):
        """
        SET_LOGGING_LEVEL: the level, for C{duration}.
        """
        self.logging_level.set(body.level, body.duration.nanoseconds / 1e9)

    def call_get_state(self, request, body):
        """
        GET_STATE.
        """
        return self._response("GET_STATE", get_state=views.get_state(self.master))

    def call_get_agents(self, request, body):
        """
        GET_AGENTS.
        """
        return self._response("GET_AGENTS", get_agents=views.get_agents(self.master))

    def call_get_frameworks(self, request, body):
        """
        GET_FRAMEWORKS.
        """
        return self._response("GET_FRAMEWORKS", get_frameworks=views.get_frameworks(self.master))

    def call_get_executors(self, request, body):
        """
        GET_EXECUTORS.
        """
        return self._response("GET_EXECUTORS", get_executors=views.executors(self.master))

    def call_get_tasks(self, request, body):
        """
        GET_TASKS.
        """
        return self._response("GET_TASKS", get_tasks=views.get_tasks(self.master))

    def call_get_roles(self, request, body):
        """
        GET_ROLES.
        """
        return self._response("GET_ROLES", get_roles=views.get_roles(self.master))

    def call_get_weights(self, request, body):
        """
        GET_WEIGHTS.
        """
        return self._response("GET_WEIGHTS", get_weights=views.get_weights(self.master))

    def call_update_weights(self, request, body):
        """
        UPDATE_WEIGHTS: each role's new weight (positive), for this master
        and the leaders after it only if they run with the same
        C{--weights} (the weights are not kept in the registry).
        """
        update_weights(self.master, {info.role: info.weight for info in body.weight_infos})

    def call_get_master(self, request, body):
        """
        GET_MASTER.
        """
        master = self.master
        return self._response("GET_MASTER", get_master=Response.GetMaster(
            master_info=master.info, start_time=master.start_time,
            elected_time=master.start_time))

    def call_teardown(self, request, body):
        """
        TEARDOWN: remove the framework (its tasks are killed); 400 for one
        the master does not have.
        """
        teardown(self.master, body.framework_id.value)

    def call_subscribe(self, request, body):
        """
        SUBSCRIBE: the event stream.
        """
        media = stream_media(request)
        subscription = OperatorSubscription(self.reactor, request, self.master,
                                            self.heartbeat_interval, self.max_backlog, media)
        self.subscriptions.append(subscription)
        subscription.closed.addCallback(self._forget, subscription)
        return subscription.serve()

    def _forget(self, why, subscription):
        self.subscriptions.remove(subscription)
        return why


def update_weights(master, weights):
    """
    Give roles new weights (C{{role: weight}}), in the master and its
    allocator.

    @raise CallError: for a weight that is not positive or a role without
        a name, changing nothing.
    """
    for role, weight in weights.items():
        if not role:
            raise CallError("a weight_info has no role")
        if not weight > 0:
            raise CallError(f"the weight of role {role!r} must be positive, not {weight}")
    master.weights.update(weights)
    master.allocator.update_weights(weights)
    master.allocate_soon()


def teardown(master, framework_id):
    """
    Remove a framework as an operator asks: its scheduler hears that it
    was removed, its tasks are killed.

    @raise CallError: if the master does not have it.
    """
    framework = master.frameworks.get(framework_id)
    if framework is None:
        raise CallError(f"no framework {framework_id} is registered")
    if framework.active:
        master.node.send(framework.pid, internal.FrameworkErrorMessage(
            message="Framework has been removed"))
    master.remove_framework(framework, "an operator tore it down")
