"""
A functional test of a v1 scheduler that never reads its stream, over real
TCP against mesos-local: after SUBSCRIBED its client stops reading, and the
events the framework causes (reconciliation answers, here) pile up in the
kernel's buffers and then in the master's backlog.  The master must not
buffer without bound: past its limit it drops the subscription, and the
framework fails over as when a connection breaks; subscribing again with
the framework's id carries on.
"""

import json
import socket

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.protocol import Factory
from twisted.trial.unittest import TestCase

from mesos_tw.testing.local_cluster import start_mesos_local, until
from mesos_tw.testing.v1 import RawSubscriber

#: The master's backlog limit in this test (the default is 8 MB).
BACKLOG = 64 * 1024
#: Unknown tasks per RECONCILE call: each is answered with a TASK_LOST
#: UPDATE event of about 300 bytes.
TASKS_PER_CALL = 2000
#: Calls after which the test gives up (about 60 MB of events).
MAX_CALLS = 100


class SlowSubscriberTests(TestCase):
    """
    A subscriber that stops reading, against mesos-local over real TCP.
    """

    timeout = 120

    @inlineCallbacks
    def setUp(self):
        self.cluster, self.port = yield start_mesos_local(self, reactor)
        self.url = f"http://127.0.0.1:{self.port}/api/v1/scheduler"
        self.api = self.cluster.master_service.scheduler_api
        self.api.max_backlog = BACKLOG

    def subscribe(self, framework_id=None):
        """
        Subscribe with a raw client whose socket has a small receive
        buffer; it is closed at cleanup.
        """
        info = {"user": "root", "name": "slow reader", "failover_timeout": 3600}
        call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if framework_id is not None:
            info["id"] = {"value": framework_id}
        subscriber = RawSubscriber("127.0.0.1", self.port, "/api/v1/scheduler", call)
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Set before connecting, so that the advertised window stays small.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(("127.0.0.1", self.port))
        client.setblocking(False)
        factory = Factory()
        factory.buildProtocol = lambda address: subscriber
        reactor.adoptStreamConnection(client.fileno(), socket.AF_INET, factory)
        client.close()

        def close():
            if not subscriber.closed.called:
                subscriber.transport.abortConnection()
            return subscriber.closed

        self.addCleanup(close)
        return subscriber

    @inlineCallbacks
    def reconcile(self, stream_id, framework_id, first):
        """
        Ask about C{TASKS_PER_CALL} tasks the master does not know.

        @return: the response's status code.
        """
        call = {"type": "RECONCILE", "framework_id": {"value": framework_id},
                "reconcile": {"tasks": [{"task_id": {"value": f"unknown-{first + n}"}}
                                        for n in range(TASKS_PER_CALL)]}}
        response = yield treq.post(
            self.url, json.dumps(call).encode("utf-8"), persistent=False,
            headers={b"Content-Type": [b"application/json"],
                     b"Mesos-Stream-Id": [stream_id.encode("ascii")]})
        yield response.content()
        return response.code

    @inlineCallbacks
    def test_never_reading_subscriber_is_dropped(self):
        """
        Events for a subscriber that stopped reading wait in a bounded
        backlog; once it overflows the master drops the subscription (and
        the connection) and the framework is disconnected, its failover
        timeout running; a new SUBSCRIBE with its id gets SUBSCRIBED.
        """
        subscriber = self.subscribe()
        subscribed = yield subscriber.next("SUBSCRIBED")
        framework_id = subscribed["subscribed"]["framework_id"]["value"]
        stream_id = subscriber.headers["mesos-stream-id"]
        subscription = self.api.subscriptions[stream_id]
        subscriber.transport.pauseProducing()

        calls = 0
        while not subscription.closed.called:
            self.assertLess(calls, MAX_CALLS, "the subscription was never dropped")
            code = yield self.reconcile(stream_id, framework_id, calls * TASKS_PER_CALL)
            if subscription.closed.called:
                break
            self.assertEqual(code, 202)
            self.assertLessEqual(subscription._backlog_bytes, BACKLOG)
            calls += 1
        self.assertEqual(subscription.why_closed, "the subscriber stopped reading its stream")
        self.assertNotIn(stream_id, self.api.subscriptions)

        master = self.cluster.master_service.master
        yield until(reactor, lambda: not master.frameworks[framework_id].active,
                    "the framework to be disconnected")
        self.assertIsNotNone(master.frameworks[framework_id].failover_call)
        subscriber.transport.resumeProducing()
        yield subscriber.closed

        again = self.subscribe(framework_id)
        resubscribed = yield again.next("SUBSCRIBED")
        self.assertEqual(resubscribed["subscribed"]["framework_id"]["value"], framework_id)
        yield until(reactor, lambda: master.frameworks[framework_id].active,
                    "the framework to be active again")

