"""
Functional tests of v1 subscriptions cut mid-record, over real TCP against
mesos-local: a raw client (plain HTTP/1.1 written and parsed here) sends a
SUBSCRIBE, reads the response headers and the first records, then only part
of one record, and closes its connection.  For the scheduler API the master
then treats the framework as disconnected, its failover timeout running,
and a new SUBSCRIBE with its id gets SUBSCRIBED and the UPDATE it never
read; for the executor API the slave treats the executor as disconnected,
and a new SUBSCRIBE gets SUBSCRIBED and the task it never read.

The slave's isolator is the fake one (nothing runs): the raw clients stand
in for the scheduler and the executor.
"""

import json

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave.state import RUNNING
from mesos_tw.testing.executor_api import RecordingIsolatorFactory
from mesos_tw.testing.local_cluster import start_mesos_local, until
from mesos_tw.testing.v1 import RawSubscriber


def _scalar(name, value):
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}



class StreamCutTests(TestCase):
    """
    Subscriptions cut mid-record, against mesos-local over real TCP.
    """

    timeout = 120

    @inlineCallbacks
    def setUp(self):
        self.isolators = RecordingIsolatorFactory()
        self.cluster, self.master_port = yield start_mesos_local(
            self, reactor, "--executor_reregistration_timeout=1mins",
            isolator_factory=self.isolators)
        self.scheduler_url = f"http://127.0.0.1:{self.master_port}/api/v1/scheduler"
        self.slave = self.cluster.slave_services[0].slave

    @inlineCallbacks
    def raw_subscribe(self, port, path, call, cut_inside=None):
        """
        Connect a L{RawSubscriber}; it is disconnected at cleanup.
        """
        subscriber = RawSubscriber("127.0.0.1", port, path, call, cut_inside)
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), subscriber)

        def close():
            if not subscriber.closed.called:
                subscriber.transport.abortConnection()
            return subscriber.closed

        self.addCleanup(close)
        return subscriber

    @inlineCallbacks
    def post(self, url, call, stream_id=None):
        """
        POST a JSON call; assert it is accepted (202).
        """
        headers = {b"Content-Type": [b"application/json"]}
        if stream_id is not None:
            headers[b"Mesos-Stream-Id"] = [stream_id.encode("ascii")]
        response = yield treq.post(url, data=json.dumps(call).encode("utf-8"), headers=headers,
                                   persistent=False)
        body = yield response.content()
        self.assertEqual(response.code, 202, body)

    def launch(self, framework_id, stream_id, offer, task_id):
        """
        ACCEPT C{offer} with a LAUNCH of C{task_id} on a custom executor
        (which the fake isolator "runs": it never registers by itself).
        """
        task = {"name": task_id, "task_id": {"value": task_id}, "agent_id": offer["agent_id"],
                "executor": {"executor_id": {"value": "cut-executor"},
                             "command": {"value": "my-executor"},
                             "resources": [_scalar("cpus", 0.1), _scalar("mem", 32)]},
                "resources": [_scalar("cpus", 0.1), _scalar("mem", 32)]}
        return self.post(self.scheduler_url, {
            "type": "ACCEPT", "framework_id": {"value": framework_id},
            "accept": {"offer_ids": [offer["id"]],
                       "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}]}},
            stream_id)

    def subscribe_call(self, framework_id=None):
        """
        A scheduler's SUBSCRIBE, with a long failover timeout.
        """
        info = {"user": "root", "name": "cut stream", "failover_timeout": 3600.0}
        if framework_id is not None:
            info["id"] = {"value": framework_id}
        return {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}

    @inlineCallbacks
    def test_scheduler_stream_cut_mid_record(self):
        """
        A scheduler that reads the headers, SUBSCRIBED and OFFERS, then half
        of the UPDATE of its killed task, and closes: the master marks the
        framework disconnected with its failover timeout running (it is
        not removed), and the slave keeps the update.  Subscribing again
        with the framework's id gives SUBSCRIBED with that id and the same
        UPDATE, whose acknowledgement reaches the slave.
        """
        master = self.cluster.master_service.master
        first = yield self.raw_subscribe(self.master_port, "/api/v1/scheduler",
                                         self.subscribe_call(), cut_inside="UPDATE")
        subscribed = yield first.next("SUBSCRIBED")
        self.assertEqual(first.status, 200)
        stream_id = first.headers["mesos-stream-id"]
        framework_id = subscribed["subscribed"]["framework_id"]["value"]
        offers = yield first.next("OFFERS")
        yield self.launch(framework_id, stream_id, offers["offers"]["offers"][0], "t1")
        yield self.isolators.isolator.next_launch()
        # Killed while queued for its executor: the slave answers TASK_KILLED.
        yield self.post(self.scheduler_url, {
            "type": "KILL", "framework_id": {"value": framework_id},
            "kill": {"task_id": {"value": "t1"}}}, stream_id)
        length, read = yield first.cut
        self.assertLess(len(read), length)
        yield first.closed

        yield until(reactor, lambda: not master.frameworks[framework_id].active,
                    "the master to see the framework disconnected")
        framework = master.frameworks[framework_id]
        self.assertTrue(framework.failover_call.active())
        response = yield treq.get(f"http://127.0.0.1:{self.master_port}/master/state",
                                  persistent=False)
        state = json.loads((yield response.content()))
        (shown,) = [f for f in state["frameworks"] if f["id"] == framework_id]
        self.assertEqual((shown["connected"], shown["active"]), (False, False))
        self.assertEqual(self.slave.status_updates.pending(framework_id), 1)

        second = yield self.raw_subscribe(self.master_port, "/api/v1/scheduler",
                                          self.subscribe_call(framework_id))
        again = yield second.next("SUBSCRIBED")
        self.assertEqual(again["subscribed"]["framework_id"]["value"], framework_id)
        update = yield second.next("UPDATE")
        status = update["update"]["status"]
        self.assertEqual((status["task_id"]["value"], status["state"]), ("t1", "TASK_KILLED"))
        self.assertTrue(master.frameworks[framework_id].active)
        self.assertIsNone(master.frameworks[framework_id].failover_call)
        yield self.post(self.scheduler_url, {
            "type": "ACKNOWLEDGE", "framework_id": {"value": framework_id},
            "acknowledge": {"agent_id": status["agent_id"], "task_id": status["task_id"],
                            "uuid": status["uuid"]}}, second.headers["mesos-stream-id"])
        yield until(reactor, lambda: self.slave.status_updates.pending(framework_id) == 0,
                    "the slave to get the acknowledgement of the update")

    @inlineCallbacks
    def test_executor_stream_cut_mid_record(self):
        """
        An executor that reads the headers and SUBSCRIBED, then half of the
        LAUNCH of its task, and closes: the slave marks it disconnected
        (still running, not killed, waiting for it to subscribe again).
        Subscribing again gives SUBSCRIBED and the task again, since the
        executor did not list it as received.
        """
        scheduler = yield self.raw_subscribe(self.master_port, "/api/v1/scheduler",
                                             self.subscribe_call())
        subscribed = yield scheduler.next("SUBSCRIBED")
        framework_id = subscribed["subscribed"]["framework_id"]["value"]
        offers = yield scheduler.next("OFFERS")
        yield self.launch(framework_id, scheduler.headers["mesos-stream-id"],
                          offers["offers"]["offers"][0], "t1")
        environment = yield self.isolators.isolator.next_launch()
        host, port = environment["MESOS_AGENT_ENDPOINT"].split(":")
        ids = {"framework_id": {"value": environment["MESOS_FRAMEWORK_ID"]},
               "executor_id": {"value": environment["MESOS_EXECUTOR_ID"]}}
        call = dict(ids, type="SUBSCRIBE", subscribe={})

        first = yield self.raw_subscribe(int(port), "/api/v1/executor", call, cut_inside="LAUNCH")
        yield first.next("SUBSCRIBED")
        self.assertEqual(first.status, 200)
        length, read = yield first.cut
        self.assertLess(len(read), length)
        yield first.closed

        executor = self.slave.frameworks[framework_id].executors["cut-executor"]
        yield until(reactor, lambda: executor.pid is None, "the slave to see the executor disconnected")
        self.assertEqual((executor.state, executor.connected), (RUNNING, False))
        self.assertTrue(executor.reregistration_timer.active())
        self.assertEqual(self.isolators.isolator.killed, [])
        self.assertEqual(executor.tasks["t1"].state, mesos_pb2.TASK_STAGING)

        second = yield self.raw_subscribe(int(port), "/api/v1/executor", call)
        yield second.next("SUBSCRIBED")
        launch = yield second.next("LAUNCH")
        self.assertEqual(launch["launch"]["task"]["task_id"], {"value": "t1"})
        self.assertEqual([e["type"] for e in second.events], ["SUBSCRIBED", "LAUNCH"])
        self.assertTrue(executor.connected)
        self.assertIsNone(executor.reregistration_timer)
        self.assertEqual(len(self.isolators.isolator.launched), 1)
