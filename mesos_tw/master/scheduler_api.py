"""
Mesos's v1 HTTP scheduler API, ``POST /api/v1/scheduler``, in JSON or
protobuf.

A framework subscribes with a SUBSCRIBE call and keeps the response open:
it is a chunked stream of RecordIO records (C{<length>\\n<event>}), the
first SUBSCRIBED, then OFFERS, RESCIND, UPDATE, MESSAGE, FAILURE, ERROR
and HEARTBEAT as they happen.  Every later call carries the stream's
C{Mesos-Stream-Id} header and is answered C{202 Accepted}.

Each subscription is an L{HttpFramework}: a scheduler living inside the
master process that speaks the ordinary message protocol to the master
(through a message node of its own), so HTTP frameworks and driver-based
ones share one master, one allocator and one state.  Unlike the classic
driver it acknowledges nothing by itself: a status update is acknowledged
when the framework sends ACKNOWLEDGE, and re-sent by its slave until then.

Calls are parsed into C{mesos.v1.scheduler.Call} messages (from JSON with
the v1 names, C{agent_id} where the internal protocol says C{slave_id}, or
from binary protobuf, as the C{Content-Type} says); the stream's events
are C{mesos.v1.scheduler.Event} messages, encoded as the SUBSCRIBE's
C{Accept} asks.
"""

import random
import uuid

from zope.interface import implementer

from mesos_tw.checks.validation import validate_kill_policy
from mesos_tw.master._leading import redirect_to_leader

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.dispatch import Dispatcher
from mesos_tw.protocols.network import IMessageReceiver
from mesos_tw.protocols.scheduler_pb2 import Call, Event
from mesos_tw.protocols.upid import UPID
from mesos_tw.retry import RetryWithBackoff
from mesos_tw.web.authentication import principal_of
from mesos_tw.web.v1 import (
    HEARTBEAT_INTERVAL,
    JSON,
    MAX_STREAM_BACKLOG,
    CallError,
    Forbidden,
    Subscription,
    answer_errors,
    call_body,
    call_kind,
    error_response,
    parse_call,
    stream_media,
)

__all__ = ["HttpFramework", "SchedulerAPI"]


@implementer(IMessageReceiver)
class HttpFramework(Subscription):
    """
    One subscription: the scheduler side of the protocol, translated to v1
    events on the subscriber's stream (a L{Subscription}).

    @param request: the SUBSCRIBE request, whose response is the stream.
    @param node: a message node of our own (our UPID is its UPID).
    @param master: the master's UPID.
    @param media: the stream's encoding (C{JSON} or C{PROTOBUF}).
    @param stream_id: the stream's C{Mesos-Stream-Id} (a new UUID if
        L{None}).
    @param jitter: the random source of the registration's back-off (see
        L{RetryWithBackoff}; a simulation passes a seeded one).
    """

    event_class = Event

    def __init__(self, reactor, request, node, master, framework_info, heartbeat_interval,
                 max_backlog=MAX_STREAM_BACKLOG, media=JSON, stream_id=None,
                 jitter=random.random):
        Subscription.__init__(self, reactor, request, node, master, heartbeat_interval,
                              max_backlog, media)
        self.master = master
        self.framework_info = framework_info
        self.stream_id = stream_id or str(uuid.uuid4())
        self.framework_id = framework_info.id.value or None
        self._slave_pids = {}
        # Our (re)registration is a message to the master, which may be
        # lost (a handler that fails, a connection that breaks before it
        # is written): sent again with a back-off until the master
        # answers, as the classic driver does, so that a subscription
        # never waits for ever for its SUBSCRIBED.
        self._registration = RetryWithBackoff(reactor, self._register, jitter=jitter)
        self.closed.addBoth(self._stop_registering)
        self.dispatcher = Dispatcher({
            internal.FrameworkRegisteredMessage: self._subscribed,
            internal.FrameworkReregisteredMessage: self._subscribed,
            internal.ResourceOffersMessage: self._offers,
            internal.RescindResourceOfferMessage: self._rescind,
            internal.RescindInverseOfferMessage: self._rescind_inverse,
            internal.StatusUpdateMessage: self._update,
            internal.ExecutorToFrameworkMessage: self._message,
            internal.LostSlaveMessage: self._slave_lost,
            internal.ExitedExecutorMessage: self._executor_exited,
            internal.FrameworkErrorMessage: self._error,
        }, self.log, with_sender=False)

    def describe(self):
        """
        The stream and framework, for the log.
        """
        return f"Subscription {self.stream_id} of framework {self.framework_id}"

    def subscribe(self):
        """
        Register (or, with a framework id, fail over) with the master, and
        again until it answers.
        """
        self._registration.start()

    def _stop_registering(self, why):
        self._registration.stop()
        return why

    def _register(self):
        if self.framework_id:
            message = internal.ReregisterFrameworkMessage(
                framework=self.framework_info, failover=True)
        else:
            message = internal.RegisterFrameworkMessage(framework=self.framework_info)
        self.node.send(self.master, message)

    # Calls.

    def send(self, message):
        """
        Send an internal message for a call to the master.
        """
        self.node.send(self.master, message)

    def acknowledge(self, slave_id, task_id, uuid_bytes):
        """
        Acknowledge an update to the slave that sent it.
        """
        pid = self._slave_pids.get(slave_id.value)
        if pid is None:
            raise CallError(f"no update from agent {slave_id.value} is waiting for an "
                            "acknowledgement")
        self.node.send(pid, internal.StatusUpdateAcknowledgementMessage(
            slave_id=slave_id, framework_id=mesos_pb2.FrameworkID(value=self.framework_id),
            task_id=task_id, uuid=uuid_bytes))

    # Events.

    def message_received(self, sender, message):
        """
        Turn what the master sends into an event.
        """
        if sender != self.master:
            return
        self.dispatcher.dispatch(sender, message)

    def peer_lost(self, upid):
        """
        The master's connection closed (it died or stepped down): the
        subscription ends, and the framework subscribes again with the
        leader, as Mesos's schedulers do.
        """
        if upid == self.master:
            self.close("the master's connection closed")

    def _subscribed(self, message):
        self._registration.stop()
        if self.closed.called or self._heartbeat.running:
            # Closed, or the answer to a registration sent again before the
            # first answer came: the stream has had its one SUBSCRIBED.
            return
        self.framework_id = message.framework_id.value
        self._send_event(Event(type=Event.SUBSCRIBED, subscribed=Event.Subscribed(
            framework_id=message.framework_id,
            heartbeat_interval_seconds=self.heartbeat_interval,
            master_info=message.master_info)))
        self.start_heartbeat()

    def _offers(self, message):
        for offer, pid in zip(message.offers, message.pids):
            try:
                self._slave_pids[offer.slave_id.value] = UPID.parse(pid)
            except ValueError:
                pass
        if message.offers:
            self._send_event(Event(type=Event.OFFERS,
                                   offers=Event.Offers(offers=message.offers)))
        if message.inverse_offers:
            self._send_event(Event(type=Event.INVERSE_OFFERS, inverse_offers=Event.InverseOffers(
                inverse_offers=message.inverse_offers)))

    def _rescind_inverse(self, message):
        self._send_event(Event(type=Event.RESCIND_INVERSE_OFFER,
                               rescind_inverse_offer=Event.RescindInverseOffer(
                                   inverse_offer_id=message.inverse_offer_id)))

    def _rescind(self, message):
        self._send_event(Event(type=Event.RESCIND,
                               rescind=Event.Rescind(offer_id=message.offer_id)))

    def _update(self, message):
        update = message.update
        status = mesos_pb2.TaskStatus()
        status.CopyFrom(update.status)
        if message.pid and update.uuid:
            # Reliable: the slave re-sends it until we pass on ACKNOWLEDGE.
            status.uuid = update.uuid
            try:
                self._slave_pids[update.slave_id.value] = UPID.parse(message.pid)
            except ValueError:
                pass
        else:
            status.ClearField("uuid")
        self._send_event(Event(type=Event.UPDATE, update=Event.Update(status=status)))

    def _message(self, message):
        self._send_event(Event(type=Event.MESSAGE, message=Event.Message(
            agent_id=message.slave_id, executor_id=message.executor_id, data=message.data)))

    def _slave_lost(self, message):
        self._send_event(Event(type=Event.FAILURE,
                               failure=Event.Failure(agent_id=message.slave_id)))

    def _executor_exited(self, message):
        self._send_event(Event(type=Event.FAILURE, failure=Event.Failure(
            agent_id=message.slave_id, executor_id=message.executor_id,
            status=message.status)))

    def _error(self, message):
        self._send_event(Event(type=Event.ERROR, error=Event.Error(message=message.message)))
        self.close(f"error: {message.message}")


def _check_principal(request, framework_info):
    """
    Refuse (403) a call authenticated as another principal than the
    framework's (with C{--authenticate_http_frameworks}).
    """
    principal = principal_of(request)
    if principal is not None and principal != framework_info.principal:
        raise Forbidden(f"Authenticated principal '{principal}' does not match principal "
                        f"'{framework_info.principal}' set in `FrameworkInfo`")


class SchedulerAPI:
    """
    The C{/api/v1/scheduler} endpoint of one master process.

    @param leadership: an C{ILeadership} (who leads; our UPID).
    @param node_factory: makes a message node for a subscription's UPID.
    @param max_backlog: the bytes of events that may wait for a subscriber
        that stopped reading before it is dropped.
    @param new_uuid: makes the UUID that names a subscription (its stream
        id and its node's process id); a simulation passes a seeded one.
    @param jitter: the random source of the subscriptions' registration
        back-off; a simulation passes a seeded one.
    """

    def __init__(self, reactor, leadership, node_factory, heartbeat_interval=HEARTBEAT_INTERVAL,
                 max_backlog=MAX_STREAM_BACKLOG, new_uuid=uuid.uuid4, jitter=random.random):
        self.reactor = reactor
        self.new_uuid = new_uuid
        self.jitter = jitter
        self.leadership = leadership
        self.node_factory = node_factory
        self.heartbeat_interval = heartbeat_interval
        self.max_backlog = max_backlog
        self.subscriptions = {}

    def handle(self, request):
        """
        Answer one call: a stream for SUBSCRIBE, 202 for the others, or an
        error status with a message saying what was wrong.
        """
        leadership = self.leadership
        if not leadership.elected:
            leader = leadership.leader
            if leader is None or leader == leadership.pid:
                return error_response(request, 503, "no leading master is elected; try again shortly")
            return redirect_to_leader(request, leader, b"/api/v1/scheduler")
        return answer_errors(request, lambda: self._answer(request))

    def _answer(self, request):
        call = parse_call(request, Call)
        if call_kind(call) == "SUBSCRIBE":
            return self._subscribe(request, call)
        subscription = self._subscription_for(request, call)
        self._dispatch(subscription, call)
        request.setResponseCode(202)
        return b""

    def _subscribe(self, request, call):
        if request.getHeader(b"mesos-stream-id") is not None:
            raise CallError("SUBSCRIBE must not carry a Mesos-Stream-Id")
        info = call_body(call).framework_info
        media = stream_media(request)
        framework_id = call.framework_id.value
        if info.id.value and framework_id and info.id.value != framework_id:
            raise CallError("framework_id and framework_info.id differ")
        if framework_id and not info.id.value:
            info.id.value = framework_id
        for old in [s for s in self.subscriptions.values()
                    if info.id.value and s.framework_id == info.id.value]:
            # One subscription per framework: a new SUBSCRIBE replaces it.
            old.close("the framework subscribed again")
        _check_principal(request, info)
        pid = self.leadership.pid
        stream_id = str(self.new_uuid())
        node = self.node_factory(UPID(f"scheduler-http-{stream_id}", pid.host, 0))
        # The subscription speaks for the framework inside the master: it
        # needs no CRAM-MD5 exchange (HTTP authentication vouches for it).
        self.leadership.master.trust(node.upid, info.principal)
        subscription = HttpFramework(self.reactor, request, node, pid, info,
                                     self.heartbeat_interval, self.max_backlog, media=media,
                                     stream_id=stream_id, jitter=self.jitter)
        self.subscriptions[subscription.stream_id] = subscription
        subscription.closed.addCallback(self._forget, subscription)
        return subscription.serve(
            [(b"Mesos-Stream-Id", subscription.stream_id.encode("ascii"))])

    def _forget(self, why, subscription):
        self.subscriptions.pop(subscription.stream_id, None)
        return why

    def _subscription_for(self, request, call):
        stream_id = request.getHeader(b"mesos-stream-id")
        if stream_id is None:
            raise Forbidden("the call needs the Mesos-Stream-Id of the framework's subscription")
        subscription = self.subscriptions.get(stream_id.decode("ascii", "replace"))
        if subscription is None or subscription.framework_id is None:
            raise Forbidden("no subscription has that Mesos-Stream-Id")
        if call.framework_id.value != subscription.framework_id:
            raise Forbidden("the call's framework_id is not the subscription's")
        _check_principal(request, subscription.framework_info)
        return subscription

    def _dispatch(self, subscription, call):
        kind = call_kind(call)
        handler = getattr(self, "_call_" + kind.lower(), None)
        if handler is None:
            raise CallError(f"{kind} calls are not supported")
        handler(subscription, call.framework_id, call_body(call))

    # The calls.

    def _call_teardown(self, subscription, framework_id, body):
        subscription.send(internal.UnregisterFrameworkMessage(framework_id=framework_id))
        subscription.close("the framework tore itself down")

    @staticmethod
    def _offer_ids(kind, body):
        if not body.offer_ids:
            raise CallError(f"{kind}.offer_ids must name at least one offer")
        return body.offer_ids

    @staticmethod
    def _filters(body):
        return body.filters if body.HasField("filters") else mesos_pb2.Filters()

    def _call_accept(self, subscription, framework_id, body):
        message = internal.LaunchTasksMessage(
            framework_id=framework_id, offer_ids=self._offer_ids("accept", body),
            filters=self._filters(body))
        for index, operation in enumerate(body.operations):
            if operation.type == mesos_pb2.Offer.Operation.LAUNCH:
                message.tasks.extend(operation.launch.task_infos)
            elif operation.type == mesos_pb2.Offer.Operation.LAUNCH_GROUP:
                if not operation.HasField("launch_group"):
                    raise CallError(f"accept.operations[{index}] is a LAUNCH_GROUP without "
                                    "launch_group")
                # The master validates the group; we only translate.
                message.groups.add(executor=operation.launch_group.executor,
                                   task_group=operation.launch_group.task_group)
            else:
                name = mesos_pb2.Offer.Operation.Type.Name(operation.type)
                raise CallError(f"accept.operations[{index}]: operation {name} is not "
                                "supported (only LAUNCH and LAUNCH_GROUP)")
        subscription.send(message)

    def _answer_inverse(self, subscription, framework_id, body, accept):
        if not body.inverse_offer_ids:
            raise CallError("inverse_offer_ids must name at least one inverse offer")
        message = internal.InverseOffersAnswerMessage(
            framework_id=framework_id, inverse_offer_ids=body.inverse_offer_ids, accept=accept)
        if body.HasField("filters"):
            message.filters.CopyFrom(body.filters)
        subscription.send(message)

    def _call_accept_inverse_offers(self, subscription, framework_id, body):
        self._answer_inverse(subscription, framework_id, body, True)

    def _call_decline_inverse_offers(self, subscription, framework_id, body):
        self._answer_inverse(subscription, framework_id, body, False)

    def _call_decline(self, subscription, framework_id, body):
        subscription.send(internal.LaunchTasksMessage(
            framework_id=framework_id, offer_ids=self._offer_ids("decline", body),
            filters=self._filters(body)))

    def _call_revive(self, subscription, framework_id, body):
        subscription.send(internal.ReviveOffersMessage(framework_id=framework_id))

    def _call_suppress(self, subscription, framework_id, body):
        subscription.send(internal.SuppressOffersMessage(framework_id=framework_id))

    def _call_kill(self, subscription, framework_id, body):
        kill = internal.KillTaskMessage(framework_id=framework_id, task_id=body.task_id)
        if body.HasField("kill_policy"):
            error = validate_kill_policy(body.kill_policy)
            if error is not None:
                raise CallError(f"kill.kill_policy is invalid: {error}")
            kill.kill_policy.CopyFrom(body.kill_policy)
        subscription.send(kill)

    def _call_shutdown(self, subscription, framework_id, body):
        subscription.send(internal.ShutdownExecutorMessage(
            executor_id=body.executor_id, framework_id=framework_id, slave_id=body.agent_id))

    def _call_acknowledge(self, subscription, framework_id, body):
        if not body.uuid:
            raise CallError("acknowledge.uuid is empty")
        subscription.acknowledge(body.agent_id, body.task_id, body.uuid)

    def _call_reconcile(self, subscription, framework_id, body):
        statuses = []
        for task in body.tasks:
            status = mesos_pb2.TaskStatus(task_id=task.task_id, state=mesos_pb2.TASK_STAGING)
            if task.HasField("agent_id"):
                status.slave_id.CopyFrom(task.agent_id)
            statuses.append(status)
        subscription.send(internal.ReconcileTasksMessage(
            framework_id=framework_id, statuses=statuses))

    def _call_message(self, subscription, framework_id, body):
        subscription.send(internal.FrameworkToExecutorMessage(
            slave_id=body.agent_id, framework_id=framework_id,
            executor_id=body.executor_id, data=body.data))

    def _call_request(self, subscription, framework_id, body):
        subscription.send(internal.ResourceRequestMessage(
            framework_id=framework_id, requests=body.requests))
