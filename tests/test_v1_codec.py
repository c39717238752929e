"""
Tests for the v1 APIs' encodings (L{mesos_tw.web._v1_codec}): v1 JSON
names guided by the descriptors, parsing of JSON and protobuf calls (lenient
as Mesos's for what it does not define, strict for what is malformed),
the same call either way, C{Accept} negotiation, and RecordIO framing.
"""

import base64
import json

from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import executor_pb2, mesos_pb2, scheduler_pb2
from mesos_tw.protocols.scheduler_pb2 import Call, Event
from mesos_tw.testing.v1 import CallRequest, accept_call, records
from mesos_tw.web._v1_codec import (
    JSON,
    MAX_CALL_BYTES,
    PROTOBUF,
    CallError,
    NotAcceptable,
    accepts,
    encode,
    from_protobuf,
    from_v1,
    parse_call,
    record,
    stream_media,
    to_v1,
)


class JSONNamesTests(SynchronousTestCase):
    """
    v1 JSON names and values.
    """

    def test_agent_where_v1_says_agent(self):
        """
        Fields of our mesos types named C{slave_id} are C{agent_id} in v1
        JSON, beside the v1 messages' own C{agent_id} fields, both ways.
        """
        call = Call(type=Call.ACKNOWLEDGE, framework_id=mesos_pb2.FrameworkID(value="F1"),
                    acknowledge=Call.Acknowledge(agent_id=mesos_pb2.SlaveID(value="S1"),
                                                 task_id=mesos_pb2.TaskID(value="t1"),
                                                 uuid=b"u" * 16))
        value = to_v1(call)
        self.assertEqual(value["acknowledge"]["agent_id"], {"value": "S1"})
        launch = to_v1(accept_call())["accept"]["operations"][0]["launch"]["task_infos"][0]
        self.assertEqual((launch["agent_id"], "slave_id" in launch), ({"value": "S1"}, False))
        self.assertEqual(from_v1(Call, value, "the call"), call)

    def test_enum_values_say_agent(self):
        """
        Our C{SOURCE_SLAVE} and C{REASON_SLAVE_*} are v1's C{SOURCE_AGENT}
        and C{REASON_AGENT_*}, both ways; enums are names.
        """
        status = mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t"),
                                      state=mesos_pb2.TASK_LOST,
                                      source=mesos_pb2.TaskStatus.SOURCE_SLAVE,
                                      reason=mesos_pb2.TaskStatus.REASON_SLAVE_REMOVED)
        value = to_v1(status)
        self.assertEqual((value["state"], value["source"], value["reason"]),
                         ("TASK_LOST", "SOURCE_AGENT", "REASON_AGENT_REMOVED"))
        self.assertEqual(from_v1(mesos_pb2.TaskStatus, value, "status"), status)
        self.assertRaises(CallError, from_v1, mesos_pb2.TaskStatus,
                          dict(value, source="SOURCE_SLAVE"), "status")

    def test_bytes_base64(self):
        """
        Bytes are base64 text; text that is not base64 is refused by name.
        """
        value = to_v1(accept_call())
        task = value["accept"]["operations"][0]["launch"]["task_infos"][0]
        self.assertEqual(base64.b64decode(task["data"]), b"\x00\xffbinary\n")
        task["data"] = "%%%"
        with self.assertRaises(CallError) as raised:
            from_v1(Call, value, "the call")
        self.assertIn("accept.operations[0].launch.task_infos[0].data is not base64",
                      str(raised.exception))

    def test_64_bit_integers_are_numbers(self):
        """
        64-bit integers (port range bounds) are JSON numbers, as Mesos
        writes them, and read back either as numbers or as strings.
        """
        ranges = mesos_pb2.Value.Ranges(range=[mesos_pb2.Value.Range(begin=31000, end=32000)])
        value = to_v1(ranges)
        self.assertEqual(value, {"range": [{"begin": 31000, "end": 32000}]})
        self.assertEqual(from_v1(mesos_pb2.Value.Ranges, value, "ranges"), ranges)
        self.assertEqual(from_v1(mesos_pb2.Value.Ranges,
                                 {"range": [{"begin": "31000", "end": "32000"}]}, "ranges"),
                         ranges)

    def test_null_is_absent(self):
        """
        A JSON null reads as an absent field.
        """
        self.assertEqual(from_v1(Call, {"type": "REVIVE", "revive": None}, "the call"),
                         Call(type=Call.REVIVE))


class StrictParsingTests(SynchronousTestCase):
    """
    Parsing as lenient as Mesos's where that is harmless (what Mesos's
    protos do not define is ignored) and strict where it protects: what is
    malformed or missing is refused, saying why, in either encoding.
    """

    def assert_refused(self, parse, text):
        """
        C{parse()} raises a L{CallError} whose message holds C{text}.
        """
        with self.assertRaises(CallError) as raised:
            parse()
        self.assertIn(text, str(raised.exception))

    def test_unknown_json_keys_ignored(self):
        """
        JSON keys that name no field, at any depth (a later release's
        field, a misspelling, C{slave_id} beside C{agent_id}), are ignored
        as Mesos ignores them, and their paths reported to the caller.
        """
        value = to_v1(accept_call())
        value["accept"]["operations"][0]["teleport"] = {"resources": []}
        value["accept"]["operations"][0]["launch"]["task_infos"][0]["slave_id"] = {"value": "S1"}
        value["future_field"] = 1
        ignored = []
        self.assertEqual(from_v1(Call, value, "the call", ignored), accept_call())
        self.assertEqual(sorted(ignored), [
            "accept.operations[0].launch.task_infos[0].slave_id",
            "accept.operations[0].teleport",
            "future_field",
        ])

    def test_unknown_protobuf_fields_ignored(self):
        """
        A protobuf field number Mesos's protos do not define (kept aside by
        protobuf) is ignored, and reported by the path to its message.
        """
        data = accept_call().SerializeToString()
        # Call.accept (4) holding Operation (2) holding a field 99, empty.
        unknown = b"\x9a\x06\x00"
        operation = b"\x12" + bytes([len(unknown)]) + unknown
        data += b"\x22" + bytes([len(operation)]) + operation
        ignored = []
        call = from_protobuf(Call, data, "the call", ignored)
        self.assertEqual(ignored, ["accept.operations[2].#99"])
        self.assertEqual(len(call.accept.operations), 3)

    def test_ignored_fields_logged_at_debug(self):
        """
        L{parse_call} logs what it ignored, at debug level, by path.
        """
        value = to_v1(accept_call())
        value["extra"] = True
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        parse_call(CallRequest(json.dumps(value).encode(), JSON), Call)
        [event] = [e for e in events if e.get("fields") == ["extra"]]
        self.assertEqual((event["log_level"], event["call_type"], event["media"]),
                         (LogLevel.debug, "mesos.v1.scheduler.Call", JSON))

    def test_slave_id_alone_is_missing_agent_id(self):
        """
        A task that says C{slave_id} and not C{agent_id} lacks a required
        field (as in Mesos); the error says the v1 name.
        """
        value = to_v1(accept_call())
        task = value["accept"]["operations"][0]["launch"]["task_infos"][0]
        task["slave_id"] = task.pop("agent_id")
        self.assert_refused(
            lambda: from_v1(Call, value, "the call"),
            "the call is missing required fields: "
            "accept.operations[0].launch.task_infos[0].agent_id "
            "(accept.operations[0].launch.task_infos[0].slave_id was ignored: v1 says agent_id)")

    def test_wrong_wire_type_refused(self):
        """
        A known protobuf field holding the wrong wire type is refused.
        """
        # Call.type (2) sent as a length-delimited field.
        self.assert_refused(lambda: from_protobuf(Call, b"\x12\x00", "the call"),
                            "type has the wrong wire type")

    def test_unknown_type(self):
        """
        A call type we do not know is refused, named, in JSON and protobuf.
        """
        self.assert_refused(lambda: from_v1(Call, {"type": "FLY"}, "the call"),
                            "type: mesos.v1.scheduler.Call.Type has no value 'FLY'")
        self.assert_refused(lambda: from_protobuf(Call, b"\x10\x63", "the call"),
                            "type: mesos.v1.scheduler.Call.Type has no value 99")

    def test_missing_required_fields(self):
        """
        Missing required fields are named with their v1 names.
        """
        value = to_v1(accept_call())
        del value["accept"]["operations"][0]["launch"]["task_infos"][0]["agent_id"]
        self.assert_refused(lambda: from_v1(Call, value, "the call"),
                            "the call is missing required fields: "
                            "accept.operations[0].launch.task_infos[0].agent_id")
        call = executor_pb2.Call(type=executor_pb2.Call.HEARTBEAT)
        self.assert_refused(
            lambda: from_protobuf(executor_pb2.Call, call.SerializePartialToString(), "the call"),
            "the call is missing required fields: executor_id, framework_id")

    def test_protobuf_that_does_not_decode(self):
        """
        Bytes that are not a protobuf message are refused, saying so.
        """
        self.assert_refused(lambda: from_protobuf(Call, b"\xff\xff\xff", "the call"),
                            "the call is not a mesos.v1.scheduler.Call protobuf")

    def test_wrong_json_types(self):
        """
        A JSON value of the wrong kind is refused by the path to it.
        """
        self.assert_refused(lambda: from_v1(Call, {"accept": {"offer_ids": {}}}, "the call"),
                            "accept.offer_ids must be a JSON array")
        self.assert_refused(lambda: from_v1(Call, {"accept": []}, "the call"),
                            "accept must be a JSON object")
        self.assert_refused(lambda: from_v1(Call, {"framework_id": {"value": 5}}, "the call"),
                            "the call is malformed")
        self.assert_refused(lambda: from_v1(Call, [], "the call"),
                            "the call must be a JSON object")


class ParseCallTests(SynchronousTestCase):
    """
    L{parse_call}: a request's body, as its C{Content-Type} says.
    """

    def test_same_call_either_way(self):
        """
        One call sent as JSON and as protobuf parses to the same message,
        the one the client meant.
        """
        call = accept_call()
        as_json = parse_call(CallRequest(encode(call, JSON), JSON), Call)
        as_protobuf = parse_call(CallRequest(encode(call, PROTOBUF), PROTOBUF), Call)
        self.assertEqual((as_json, as_protobuf), (call, call))

    def test_content_type_parameters(self):
        """
        Parameters and case of the C{Content-Type} do not matter.
        """
        body = json.dumps({"type": "REVIVE"}).encode()
        self.assertEqual(
            parse_call(CallRequest(body, "Application/JSON; charset=utf-8"), Call),
            Call(type=Call.REVIVE))

    def test_refusals(self):
        """
        Each bad request is a L{CallError} that says what is wrong: no or
        another C{Content-Type}, a body over the limit (either encoding),
        a body that is not JSON.
        """
        cases = [
            (CallRequest(b"{}", None), "the call needs a Content-Type: application/json or "
                                       "application/x-protobuf"),
            (CallRequest(b"{}", "text/plain"), "Content-Type 'text/plain' is not supported"),
            (CallRequest(b" " * (MAX_CALL_BYTES + 1), JSON),
             f"the call is larger than {MAX_CALL_BYTES} bytes"),
            (CallRequest(b"\x00" * (MAX_CALL_BYTES + 1), PROTOBUF),
             f"the call is larger than {MAX_CALL_BYTES} bytes"),
            (CallRequest(b"{nope", JSON), "the body is not JSON"),
        ]
        for request, text in cases:
            with self.assertRaises(CallError) as raised:
                parse_call(request, Call)
            self.assertIn(text, str(raised.exception))


class AcceptTests(SynchronousTestCase):
    """
    Which encoding a subscriber's C{Accept} asks for, as Mesos decides.
    """

    def test_accepts(self):
        """
        No header accepts anything; the most specific matching entry
        decides; a q-value of 0 refuses.
        """
        cases = [
            (None, JSON, True), ("*/*", PROTOBUF, True), ("application/*", JSON, True),
            ("application/x-protobuf", JSON, False), ("application/x-protobuf", PROTOBUF, True),
            ("application/json;q=0, */*", JSON, False), ("application/json;q=0.5", JSON, True),
            ("text/html", JSON, False), ("", JSON, False), ("APPLICATION/JSON", JSON, True),
        ]
        self.assertEqual([accepts(header, media) for header, media, _ in cases],
                         [expected for _, _, expected in cases])

    def test_stream_media(self):
        """
        JSON when acceptable (as Mesos prefers it), else protobuf; neither
        is L{NotAcceptable}, saying what is offered.
        """
        def media(accept):
            headers = {} if accept is None else {"Accept": accept}
            return stream_media(CallRequest(b"", JSON, headers))

        self.assertEqual(
            [media(None), media("*/*"), media("application/x-protobuf"),
             media("application/x-protobuf, application/json;q=0.1"),
             media("application/json;q=0, application/x-protobuf")],
            [JSON, JSON, PROTOBUF, JSON, PROTOBUF])
        with self.assertRaises(NotAcceptable) as raised:
            media("text/html")
        self.assertIn("must allow application/json or application/x-protobuf",
                      str(raised.exception))


class RecordTests(SynchronousTestCase):
    """
    Events in RecordIO records.
    """

    def test_records_either_encoding(self):
        """
        A record is the encoded event's length, a newline and the event;
        binary events holding newlines frame correctly.
        """
        event = scheduler_pb2.Event(type=Event.MESSAGE, message=Event.Message(
            agent_id=mesos_pb2.SlaveID(value="S1"), executor_id=mesos_pb2.ExecutorID(value="e"),
            data=b"\n\n12\n"))
        data = (b'{"type":"MESSAGE","message":{"agent_id":{"value":"S1"},'
                b'"executor_id":{"value":"e"},"data":"CgoxMgo="}}')
        self.assertEqual(record(encode(event, JSON)), b"%d\n%s" % (len(data), data))
        stream = record(encode(event, PROTOBUF)) * 2
        self.assertEqual([Event.FromString(data) for data in records(stream)], [event, event])
