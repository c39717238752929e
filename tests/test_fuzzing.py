"""
Fuzzing with hypothesis: the frame decoder with arbitrary bytes, every
message handler of the master, the slave and the scheduler driver with
random but well-typed messages of every type, the v1 API's parsers, and the
HTTP endpoints' arguments.  Nothing may raise out of a handler, log a
failure, or answer 500.  The examples per test are few here (a bounded run
in the suite); ``scripts/fuzz`` runs many more.
"""

import json
import os
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st
from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.detector import StandaloneDetector
from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.codec import FrameError, decode_envelope, encode_envelope
from mesos_tw.protocols.envelope_pb2 import Envelope
from mesos_tw.protocols.executor_pb2 import Call as ExecutorCall
from mesos_tw.protocols.framing import EnvelopeProtocol
from mesos_tw.protocols.message_types import MESSAGE_TYPES
from mesos_tw.protocols.scheduler_pb2 import Call as SchedulerCall
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.drivers import CallbackRecorder
from mesos_tw.testing.fuzzing import fuzz_settings, messages
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.master import MASTER, MasterTestCase, task_info
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.web._v1_codec import CallError, from_protobuf, from_v1

SLAVE = UPID("slave(1)", "127.0.0.1", 5051)
STRANGER = UPID("scheduler-x", "10.9.9.9", 0)

#: Every message type that may travel in a frame, in a fixed order.
ALL_TYPES = [MESSAGE_TYPES[name] for name in sorted(MESSAGE_TYPES)]


def any_message():
    """
    A random well-typed message of any type.
    """
    return st.sampled_from(ALL_TYPES).flatmap(messages)


class FailureWatch:
    """
    Collects logged failures (a handler's exception that something
    contained) while a test runs.
    """

    def __init__(self, case):
        self.failures = []
        globalLogPublisher.addObserver(self.observe)
        case.addCleanup(globalLogPublisher.removeObserver, self.observe)

    def observe(self, event):
        if "log_failure" in event:
            self.failures.append(event)

    def check(self, case, what):
        """
        Fail C{case} if anything failed while handling C{what}.
        """
        if self.failures:
            failure = self.failures[0]["log_failure"]
            self.failures.clear()
            case.fail(f"handling {what!r} logged {failure.getTraceback()}")


class FrameDecoderFuzzTests(SynchronousTestCase):
    """
    The frame decoder with arbitrary bytes, in arbitrary pieces.
    """

    @fuzz_settings()
    @given(st.binary(max_size=300), st.lists(st.integers(1, 40), max_size=10))
    def test_bytes(self, data, cuts):
        """
        Whatever arrives, the protocol either delivers decoded messages or
        closes the connection; it never raises.
        """
        delivered = []

        class Node:
            def frame_received(self, protocol, sender, message, recipient=None):
                delivered.append(message)

            def connection_lost(self, protocol):
                pass

        protocol = EnvelopeProtocol(Node(), max_frame_bytes=1024, clock=Clock())
        transport = StringTransport()
        protocol.makeConnection(transport)
        start = 0
        for size in cuts + [len(data)]:
            protocol.dataReceived(data[start:start + size])
            start += size
        self.assertTrue(all(message.IsInitialized() for message in delivered))

    @fuzz_settings()
    @given(st.sampled_from(sorted(MESSAGE_TYPES)), st.binary(max_size=200), st.text(max_size=30))
    def test_envelopes(self, name, body, sender):
        """
        An envelope naming a known type around arbitrary bytes, from an
        arbitrary sender, decodes or is refused with a L{FrameError}.
        """
        envelope = Envelope(name=name, body=body, **{"from": sender}).SerializeToString()
        try:
            decode_envelope(envelope)
        except FrameError:
            pass


class MasterFuzzTests(MasterTestCase):
    """
    The master's handlers with random messages from its slave, its
    framework's scheduler, and a stranger.
    """

    def setUp(self):
        super().setUp()
        self.watch = FailureWatch(self)
        self.slave, self.slave_id = self.add_slave()
        self.scheduler, self.framework_id = self.add_framework()
        offer = self.scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(self.scheduler, self.framework_id, offer, [task_info("t1", self.slave_id)])

    @fuzz_settings()
    @given(any_message(), st.sampled_from(["slave", "scheduler", "stranger"]))
    def test_handlers(self, message, who):
        """
        No message crashes a handler, whoever sends it.
        """
        sender = {"slave": self.slave.upid, "scheduler": self.scheduler.upid,
                  "stranger": STRANGER}[who]
        self.master.message_received(sender, message)
        self.turn()
        self.watch.check(self, message)


class SlaveFuzzTests(SynchronousTestCase):
    """
    The slave's handlers with random messages from its master and others.
    """

    def setUp(self):
        self.clock = Clock()
        from mesos_tw.testing.network import MemoryNetwork

        network = MemoryNetwork(self.clock)
        self.master = RecordingPeer(network, MASTER)
        self.watch = FailureWatch(self)
        self.slave = Slave(self.clock, network.node(SLAVE), StandaloneDetector(MASTER),
                           FakeIsolator(), self.mktemp(), Resources.parse("cpus:2;mem:1024"),
                           python="python3", environ={"PATH": "/bin"})
        self.slave.start()
        self.addCleanup(self.slave.stop)
        for _ in range(5):
            self.clock.advance(0)
        self.master.send(SLAVE, internal.SlaveRegisteredMessage(
            slave_id=mesos_pb2.SlaveID(value="S1")))
        for _ in range(5):
            self.clock.advance(0)

    @fuzz_settings()
    @given(any_message(), st.sampled_from([MASTER, STRANGER]))
    def test_handlers(self, message, sender):
        """
        No message crashes a handler, whoever sends it.
        """
        self.slave.message_received(sender, message)
        for _ in range(5):
            self.clock.advance(0)
        self.watch.check(self, message)


class SchedulerDriverFuzzTests(SynchronousTestCase):
    """
    The scheduler driver's handlers with random messages from its master.
    """

    def setUp(self):
        from mesos_tw.testing.network import MemoryNetwork

        self.clock = Clock()
        network = MemoryNetwork(self.clock)
        self.master = RecordingPeer(network, MASTER)
        self.watch = FailureWatch(self)
        self.driver = MesosSchedulerDriver(
            CallbackRecorder(), mesos_pb2.FrameworkInfo(user="u", name="fuzz"),
            str(MASTER), reactor=self.clock, node_factory=network.node)
        self.driver.start()
        self.addCleanup(self.driver.abort)
        self.told_error = False

    @fuzz_settings()
    @given(any_message())
    def test_handlers(self, message):
        """
        No message from the master crashes the driver; the only way it
        stops is a C{FrameworkErrorMessage}.
        """
        self.driver.message_received(MASTER, message)
        self.watch.check(self, message)
        self.told_error = self.told_error or isinstance(message, internal.FrameworkErrorMessage)
        if not self.told_error:
            self.assertEqual(self.driver.status, mesos_pb2.DRIVER_RUNNING)


def json_values():
    """
    Arbitrary JSON values.
    """
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
        st.text(max_size=10),
        lambda children: st.lists(children, max_size=4) |
        st.dictionaries(st.sampled_from(["type", "framework_id", "value", "subscribe",
                                         "framework_info", "accept", "offer_ids",
                                         "operations", "launch", "task_infos", "agent_id",
                                         "executor_id", "update", "status", "uuid", "data",
                                         "name", "user", "message", "kill", "task_id"]) |
                        st.text(max_size=8), children, max_size=5),
        max_leaves=20)


class V1ParserFuzzTests(SynchronousTestCase):
    """
    The v1 APIs' parsers with arbitrary JSON and bytes.
    """

    @fuzz_settings()
    @given(json_values(), st.sampled_from([SchedulerCall, ExecutorCall]))
    def test_json(self, value, call_class):
        """
        Arbitrary JSON parses into a call or is refused with a
        L{CallError}.
        """
        try:
            from_v1(call_class, value, "the call")
        except CallError:
            pass

    @fuzz_settings()
    @given(st.binary(max_size=200), st.sampled_from([SchedulerCall, ExecutorCall]))
    def test_protobuf(self, body, call_class):
        """
        Arbitrary bytes parse into a call or are refused with a
        L{CallError}.
        """
        try:
            from_protobuf(call_class, body, "the call")
        except CallError:
            pass

    @fuzz_settings()
    @given(messages(SchedulerCall), st.binary(max_size=8))
    def test_wellformed_protobuf_calls(self, call, tail):
        """
        A well-typed call, perhaps with bytes after it, is parsed or
        refused with a L{CallError}.
        """
        try:
            from_protobuf(SchedulerCall, call.SerializeToString() + tail, "the call")
        except CallError:
            pass


_MASTER_PATHS = ["/master/state", "/master/tasks", "/master/state-summary", "/master/flags",
                 "/metrics/snapshot", "/master/frameworks", "/master/slaves", "/ui/frameworks",
                 "/ui/frameworks/x", "/ui/slaves", "/ui/slaves/S1", "/ui/offers",
                 "/ui/slaves/S1/browse", "/ui/slaves/S1/tail", "/ui/slaves/S1/files/read", "/",
                 "/version", "/master/redirect"]
_SLAVE_PATHS = ["/files/browse", "/files/read", "/files/download", "/slave(1)/state",
                "/monitor/statistics", "/metrics/snapshot", "/slave(1)/flags"]
_ARGUMENTS = ["path", "offset", "length", "limit", "order", "jsonp", "frameworkId"]


def queries():
    """
    Query strings of known and unknown arguments with arbitrary values.
    """
    argument = st.tuples(st.sampled_from(_ARGUMENTS) | st.text(max_size=5),
                         st.text(max_size=12) | st.integers().map(str))
    return st.lists(argument, max_size=4).map(
        lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs))


class EndpointArgumentFuzzTests(MasterTestCase):
    """
    The master's and slave's endpoints with arbitrary query arguments.
    """

    def setUp(self):
        super().setUp()
        work_dir = os.path.abspath(self.mktemp())
        os.makedirs(work_dir)
        slave = Slave(self.clock, self.network.node(SLAVE), StandaloneDetector(MASTER),
                      FakeIsolator(), work_dir, Resources.parse("cpus:1;mem:64"))
        self.master_client = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())
        self.slave_client = StubTreq(SlaveHTTP(slave).resource())

    def code(self, client, url, method="GET"):
        """
        The status of a request, once its body is complete.
        """
        d = client.request(method, url)
        for _ in range(20):
            self.clock.advance(0)
            client.flush()
        response = self.successResultOf(d)
        body = response.content()
        for _ in range(20):
            self.clock.advance(0)
            client.flush()
        self.successResultOf(body)
        return response.code

    @fuzz_settings()
    @given(st.sampled_from(_MASTER_PATHS), queries())
    def test_master(self, path, query):
        """
        No argument makes a master endpoint fail with a 500.
        """
        code = self.code(self.master_client, f"http://master{path}?{query}")
        self.assertLess(code, 500, f"{path}?{query}")

    @fuzz_settings()
    @given(st.sampled_from(_SLAVE_PATHS), queries())
    def test_slave(self, path, query):
        """
        No argument makes a slave endpoint fail with a 500.
        """
        code = self.code(self.slave_client, f"http://slave{path}?{query}")
        self.assertLess(code, 500, f"{path}?{query}")

    @fuzz_settings()
    @given(queries())
    def test_teardown(self, query):
        """
        Teardown with arbitrary form arguments is a 200 or a 4xx.
        """
        code = self.code(self.master_client, f"http://master/master/teardown?{query}", "POST")
        self.assertLess(code, 500, query)


class RegressionTests(SynchronousTestCase):
    """
    Inputs fuzzing found that once crashed, kept.
    """

    def test_nul_in_sandbox_path(self):
        """
        A path holding a NUL was a 500 (C{ValueError} from the file
        system); it is a 400 saying so.
        """
        clock = Clock()
        from mesos_tw.testing.network import MemoryNetwork

        slave = Slave(clock, MemoryNetwork(clock).node(SLAVE), StandaloneDetector(MASTER),
                      FakeIsolator(), os.path.abspath(self.mktemp()),
                      Resources.parse("cpus:1;mem:64"))
        client = StubTreq(SlaveHTTP(slave).resource())
        response = self.successResultOf(client.get("http://slave/files/read?path=/a%00b"))
        self.assertEqual(response.code, 400)
        self.assertIn(b"NUL", self.successResultOf(response.content()))

    def test_envelope_round_trip(self):
        """
        What we encode we decode (a sanity check for the fuzzers' frames).
        """
        message = internal.PingSlaveMessage()
        sender, decoded = decode_envelope(encode_envelope(MASTER, message))
        self.assertEqual((sender, decoded), (MASTER, message))
        self.assertEqual(json.loads("{}"), {})


class MasterRegressionTests(MasterTestCase):
    """
    Messages fuzzing found that once failed a master handler, kept.
    """

    def test_reregistration_with_bad_task_resources(self):
        """
        A re-registering slave reporting a task whose resources do not
        parse (an empty name, an unknown type) failed the master's handler
        half-way; the re-registration is dropped with a logged reason, and
        the master goes on.
        """
        slave = RecordingPeer(self.network, SLAVE)
        task = internal.Task(name="", task_id=mesos_pb2.TaskID(value="t"),
                             framework_id=mesos_pb2.FrameworkID(value="F"),
                             slave_id=mesos_pb2.SlaveID(value="S"), state=mesos_pb2.TASK_RUNNING)
        task.resources.add(name="", type=mesos_pb2.Value.SCALAR).scalar.value = 1
        slave.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value="S"), slave=mesos_pb2.SlaveInfo(hostname="h"),
            tasks=[task]))
        self.turn()
        self.assertEqual((self.master.slaves, slave.of(internal.SlaveReregisteredMessage)),
                         ({}, []))
