"""
Frameworks of a simulated cluster that use Mesos's v1 HTTP scheduler API
rather than the classic driver: each subscribes to the leading master's
real L{SchedulerAPI} (C{POST /api/v1/scheduler}) with an in-memory
request, reads its stream of events, and sends its calls (ACCEPT, DECLINE,
ACKNOWLEDGE, RECONCILE) as further requests carrying the stream's id.

The HTTP connections themselves are simulated: a stream's records reach
the framework a turn after the master writes them (on the framework
process's clock, so nothing reaches a dead process), a stream ends for
both sides when either closes it, when its master process dies, or when
the C{stream} fault cuts it; a call is answered at once (202, or the error
a call to a master that no longer leads or no longer has the stream
gets).  A framework whose stream ended subscribes again, with its
framework id once it has one.
"""

import uuid

from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure

from mesos_tw.detector.zookeeper import ZooKeeperDetector
from mesos_tw.master.scheduler_api import SchedulerAPI
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.scheduler_pb2 import Call, Event
from mesos_tw.simulation.clock import ProcessClock
from mesos_tw.testing.v1 import CallRequest
from mesos_tw.web.v1 import PROTOBUF

__all__ = ["V1FrameworkProcess", "cut_streams", "scheduler_api"]

#: How long a framework waits before subscribing again (at most, jittered).
RESUBSCRIBE_SECONDS = 2.0

#: The acknowledged updates' uuids a framework remembers, to acknowledge a
#: duplicate again rather than pass it on (a slave sends an update again
#: until it hears the acknowledgement, which the network may lose).
REMEMBERED_ACKNOWLEDGEMENTS = 1000


def scheduler_api(world, clock, election):
    """
    The v1 scheduler API of a simulated master process (as C{mesos-master}
    serves it), its subscriptions' nodes on the world's network, named
    from the seed.
    """
    return SchedulerAPI(clock, election, world.network.node,
                        new_uuid=lambda: uuid.UUID(bytes=world.network.new_uuid()),
                        jitter=world.random_source("jitter/v1-subscriptions").random)


def cut_streams(api):
    """
    The master process of C{api} died: every stream's connection is lost.
    """
    for subscription in list(api.subscriptions.values()):
        subscription.request.cut()


def _forget_node(world, subscription):
    # A closed subscription's node goes (its connection with the master
    # closes, as a real one's does), a turn later: the subscription
    # disconnects it itself first.
    upid = subscription.node.upid

    def forget(why):
        world.clock.callLater(0, world.network.crash, upid)
        return why

    subscription.closed.addBoth(forget)


class _Stream(CallRequest):
    """
    A SUBSCRIBE request as its framework sees it: each RecordIO record the
    master writes is parsed into an C{Event} and handed to C{received} a
    turn later on the framework's clock; L{cut} loses the connection.
    """

    def __init__(self, body, clock, received):
        CallRequest.__init__(self, body, PROTOBUF, {"Accept": PROTOBUF})
        self._clock = clock
        self._received = received
        self._buffer = b""

    def write(self, data):
        """
        Bytes of the stream: pass on each whole record (none is kept).
        """
        self._buffer += data
        while b"\n" in self._buffer:
            length, rest = self._buffer.split(b"\n", 1)
            if len(rest) < int(length):
                return
            self._clock.callLater(0, self._received, Event.FromString(rest[:int(length)]))
            self._buffer = rest[int(length):]

    def cut(self):
        """
        The connection is lost: the master's subscription ends.
        """
        self.processingFailed(Failure(ConnectionLost("the simulated stream was cut")))


class _CallDriver:
    """
    What a L{SimulatedScheduler} calls (the classic driver's methods it
    uses), turned into v1 calls on the framework's subscription.
    """

    def __init__(self, process):
        self.process = process

    def launchTasks(self, offer_ids, tasks, filters=None):
        operation = mesos_pb2.Offer.Operation(
            type=mesos_pb2.Offer.Operation.LAUNCH,
            launch=mesos_pb2.Offer.Operation.Launch(task_infos=tasks))
        self.process.call(Call(type=Call.ACCEPT, accept=Call.Accept(
            offer_ids=offer_ids, operations=[operation],
            filters=filters or mesos_pb2.Filters())))

    def declineOffer(self, offer_id, filters=None):
        self.process.call(Call(type=Call.DECLINE, decline=Call.Decline(
            offer_ids=[offer_id], filters=filters or mesos_pb2.Filters())))

    def reconcileTasks(self, statuses):
        self.process.call(Call(type=Call.RECONCILE, reconcile=Call.Reconcile(tasks=[
            Call.Reconcile.Task(task_id=status.task_id) for status in statuses])))


class V1FrameworkProcess:
    """
    A framework's scheduler process on the v1 HTTP API, with the same
    L{SimulatedScheduler} (and so the same state, kept outside the
    process) as a classic one; it can crash, fail over (subscribing with
    its framework id) and have its stream cut.

    @ivar stream: the open SUBSCRIBE request, or L{None}.
    @ivar master: the master process it subscribed to, or L{None}.
    """

    #: Where the frameworks' scheduler processes run.
    HOST = "198.18.3.1"

    def __init__(self, world, scheduler, checkpoint):
        self.world = world
        self.scheduler = scheduler
        self.checkpoint = checkpoint
        self.clock = None
        self.client = None
        self.detector = None
        self.stream = None
        self.master = None
        self.stream_id = None
        self.leader = None
        self.driver = _CallDriver(self)
        self._acknowledged = {}
        self._jitter = None
        self._retry = None

    @property
    def alive(self):
        """
        Whether the process runs.
        """
        return self.clock is not None and not self.clock.dead

    def start(self):
        """
        Start a scheduler process: it finds the leader and subscribes.
        """
        world = self.world
        self.clock = ProcessClock(world.clock)
        self.scheduler.incarnation += 1
        self._acknowledged = {}
        self._jitter = world.random_source(f"jitter/{self.scheduler.name}")
        self.client = world.zookeeper.client(10.0)
        self.client.start()
        self.detector = ZooKeeperDetector(self.client, "/mesos")
        self.detector.start(self._leader_detected)

    def crash(self):
        """
        The process dies: its connections (its stream) close.
        """
        self.clock.kill()
        self.detector.stop()
        self.client.stop()
        self._drop_stream()

    def cut(self):
        """
        The stream's connection breaks (both ends see it); the framework
        subscribes again.  Returns whether there was one.
        """
        if self.stream is None:
            return False
        self._drop_stream()
        self._resubscribe_soon()
        return True

    def _drop_stream(self):
        stream, self.stream, self.master, self.stream_id = self.stream, None, None, None
        if stream is not None:
            stream.cut()

    def _leader_detected(self, upid):
        self.leader = upid
        if self.master is not None and self.master.upid != upid:
            # The master we subscribed to leads no more: go to the new one.
            self._drop_stream()
        if self.stream is None:
            self._resubscribe_soon(now=True)

    def _resubscribe_soon(self, now=False):
        if self._retry is not None and self._retry.active():
            return
        delay = 0 if now else self._jitter.uniform(0, RESUBSCRIBE_SECONDS)
        self._retry = self.clock.callLater(delay, self._subscribe)

    def _leading_master(self):
        for process in self.world.masters:
            if process.alive and process.upid == self.leader:
                return process
        return None

    def _subscribe(self):
        if self.stream is not None or self.leader is None:
            return
        process = self._leading_master()
        if process is None:
            return
        info = mesos_pb2.FrameworkInfo(user="sim", name=self.scheduler.name,
                                       failover_timeout=3600, checkpoint=self.checkpoint)
        call = Call(type=Call.SUBSCRIBE, subscribe=Call.Subscribe(framework_info=info))
        if self.scheduler.framework_id is not None:
            info.id.value = self.scheduler.framework_id
            call.framework_id.value = self.scheduler.framework_id
        else:
            self.scheduler.anonymous_subscriptions += 1
        self.world.record(f"{self.scheduler.name} subscribes to {process.upid} (v1)")
        stream = _Stream(call.SerializeToString(), self.clock, self._event)
        answer = process.api.handle(stream)
        if stream.responseCode != 200:
            self.world.record(f"{self.scheduler.name}: SUBSCRIBE answered {stream.responseCode}")
            self._resubscribe_soon()
            return
        self.stream, self.master = stream, process
        self.stream_id = stream.responseHeaders.getRawHeaders(b"mesos-stream-id")[0]
        _forget_node(self.world, process.api.subscriptions[self.stream_id.decode("ascii")])
        answer.addCallback(lambda _: self.clock.callLater(0, self._ended, stream))

    def _ended(self, stream):
        # The master ended the stream (its subscription closed).
        if self.stream is stream:
            self.stream, self.master, self.stream_id = None, None, None
            self.world.record(f"{self.scheduler.name}: its v1 stream ended")
            self._resubscribe_soon()

    def call(self, call):
        """
        POST C{call} on the current subscription (a call without one, or
        one the master refuses, is lost: the framework learns the outcome
        by reconciling).
        """
        if self.stream is None or self.scheduler.framework_id is None:
            return
        call.framework_id.value = self.scheduler.framework_id
        request = CallRequest(call.SerializeToString(), PROTOBUF,
                              {"Mesos-Stream-Id": self.stream_id.decode("ascii")})
        self.master.api.handle(request)
        if request.responseCode != 202:
            self.world.record(f"{self.scheduler.name}: {Call.Type.Name(call.type)} answered "
                              f"{request.responseCode}")

    def _event(self, event):
        scheduler = self.scheduler
        if event.type == Event.SUBSCRIBED:
            scheduler.framework_id = event.subscribed.framework_id.value
        elif event.type == Event.OFFERS:
            scheduler.resourceOffers(self.driver, event.offers.offers)
        elif event.type == Event.UPDATE:
            self._update(event.update.status)

    def _update(self, status):
        if status.uuid and status.uuid in self._acknowledged:
            # Heard and acknowledged already: the slave did not hear that.
            self._acknowledge(status)
            return
        self.scheduler.statusUpdate(self.driver, status)
        if status.uuid:
            self._acknowledged[status.uuid] = None
            while len(self._acknowledged) > REMEMBERED_ACKNOWLEDGEMENTS:
                del self._acknowledged[next(iter(self._acknowledged))]
            self._acknowledge(status)

    def _acknowledge(self, status):
        self.call(Call(type=Call.ACKNOWLEDGE, acknowledge=Call.Acknowledge(
            agent_id=status.slave_id, task_id=status.task_id, uuid=status.uuid)))
