"""
The two encodings of Mesos's v1 HTTP APIs: a call's body, JSON or binary
protobuf, parsed into the API's C{Call} message; events encoded either way
as the subscriber's C{Accept} asks, in RecordIO records.

JSON follows the v1 protos: their field names (C{agent_id} where our
mesos.proto says C{slave_id}, guided by each message's descriptor, so only
real fields are renamed), their enum names (C{SOURCE_AGENT} for our
C{SOURCE_SLAVE}), bytes in base64.  Both encodings are as lenient as
Mesos's parsers: a field Mesos's protos do not have (a JSON key, a
protobuf field number) is ignored, and logged at debug level, so that
clients built for later or earlier Mesos releases are not refused.  What
protects stays strict: types, enum names and values, required fields,
sizes, each refused with the path of the field at fault.
"""

import base64
import binascii
import functools
import json
import re

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet
from twisted.logger import Logger

__all__ = [
    "JSON",
    "MAX_CALL_BYTES",
    "PROTOBUF",
    "CallError",
    "NotAcceptable",
    "accepts",
    "encode",
    "from_protobuf",
    "from_v1",
    "parse_call",
    "record",
    "stream_media",
    "to_v1",
]

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
#: What a call may be sent as and a stream may be read as, the first
#: preferred (as Mesos prefers JSON when both are acceptable).
MEDIA_TYPES = (JSON, PROTOBUF)
#: The largest call body accepted.
MAX_CALL_BYTES = 4 * 1024 * 1024

_FIELD_RENAMES = {"slave_id": "agent_id", "slave_ids": "agent_ids"}
_INTERNAL_NAMES = re.compile(r"\bslave_id(s?)\b")

_log = Logger(namespace="mesos_tw.web.v1")


class CallError(ValueError):
    """
    A call that cannot be carried out: the message says why (a 400).
    """


class NotAcceptable(ValueError):
    """
    A subscriber that accepts neither encoding of the stream (a 406).
    """


def _v1_field_name(field):
    return _FIELD_RENAMES.get(field.name, field.name)


def _v1_enum_name(name):
    # Ours keep Mesos 0.x's SOURCE_SLAVE, REASON_SLAVE_REMOVED...
    return name.replace("_SLAVE", "_AGENT")


@functools.cache
def _v1_fields(descriptor):
    """
    C{descriptor}'s fields by their v1 names.
    """
    return {_v1_field_name(field): field for field in descriptor.fields}


@functools.cache
def _v1_enum_values(enum):
    """
    C{enum}'s value names by their v1 names.
    """
    return {_v1_enum_name(value.name): value.name for value in enum.values}


def _join(path, name):
    return f"{path}.{name}" if path else name


def _map_value_field(field):
    """
    The value field of a protobuf map field (JSON writes a map as an
    object), or L{None} for any other field.
    """
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return field.message_type.fields_by_name["value"]
    return None


_64_BIT_TYPES = frozenset({FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64})


def to_v1(message, defaults=False):
    """
    A protobuf message as v1 JSON (a dict): the v1 field and enum names,
    bytes in base64, 64-bit integers as numbers (as Mesos writes them;
    protobuf's JSON mapping would write strings, which clients that do
    arithmetic on port ranges would trip over).

    @param defaults: also write the unset fields that have an explicit
        default and are not deprecated, as Mesos's C{JSON::Protobuf} does
        (the state endpoints show a health check's C{interval_seconds}
        that way).
    """
    value = _renamed_to_v1(
        json_format.MessageToDict(message, preserving_proto_field_name=True),
        message.DESCRIPTOR)
    if defaults:
        _add_defaults(message, value)
    return value


def _add_defaults(message, value):
    for field in message.DESCRIPTOR.fields:
        name = _v1_field_name(field)
        if field.is_repeated:
            continue
        if field.message_type is not None:
            if message.HasField(field.name):
                _add_defaults(getattr(message, field.name), value[name])
        elif (name not in value and field.has_default_value
              and not field.GetOptions().deprecated):
            default = field.default_value
            if field.enum_type is not None:
                default = _v1_enum_name(field.enum_type.values_by_number[default].name)
            value[name] = default


def _renamed_to_v1(value, descriptor):
    renamed = {}
    for name, item in value.items():
        field = descriptor.fields_by_name[name]
        map_value = _map_value_field(field)
        if map_value is not None:
            if map_value.message_type is not None:
                item = {key: _renamed_to_v1(each, map_value.message_type)
                        for key, each in item.items()}
        elif field.message_type is not None:
            if field.is_repeated:
                item = [_renamed_to_v1(each, field.message_type) for each in item]
            else:
                item = _renamed_to_v1(item, field.message_type)
        elif field.enum_type is not None:
            if field.is_repeated:
                item = [_v1_enum_name(each) if isinstance(each, str) else each for each in item]
            elif isinstance(item, str):
                item = _v1_enum_name(item)
        elif field.cpp_type in _64_BIT_TYPES:
            item = [int(each) for each in item] if field.is_repeated else int(item)
        renamed[_v1_field_name(field)] = item
    return renamed


def from_v1(cls, value, what, ignored=None):
    """
    The protobuf C{cls} that v1 JSON C{value} describes.

    @param ignored: a list to which the paths of the keys that name no
        field (and are ignored, as Mesos ignores them) are appended.
    @raise CallError: naming C{what} and every field that is malformed or
        missing.
    """
    if ignored is None:
        ignored = []
    if not isinstance(value, dict):
        raise CallError(f"{what} must be a JSON object")
    problems = []
    renamed = _proto_names(value, cls.DESCRIPTOR, "", problems, ignored)
    if problems:
        raise CallError(f"{what} is malformed: {'; '.join(problems)}")
    message = cls()
    try:
        json_format.ParseDict(renamed, message)
    except json_format.ParseError as error:
        raise CallError(f"{what} is malformed: {_v1_names_in(str(error))}") from None
    _check_initialized(message, what, ignored)
    return message


def _proto_names(value, descriptor, path, problems, ignored):
    """
    The v1 JSON object C{value} with our field and enum names, for
    C{json_format}; what is wrong with it goes to C{problems}, the paths of
    keys that name no field to C{ignored}.
    """
    if not isinstance(value, dict):
        problems.append(f"{path} must be a JSON object")
        return {}
    fields = _v1_fields(descriptor)
    renamed = {}
    for key, item in value.items():
        if item is None:
            # JSON's null: the field is absent, as json_format has it.
            continue
        where = _join(path, key)
        field = fields.get(key)
        if field is None:
            ignored.append(where)
            continue
        map_value = _map_value_field(field)
        if map_value is not None:
            if not isinstance(item, dict):
                problems.append(f"{where} must be a JSON object")
                continue
            item = {key: _proto_value(each, map_value, f"{where}[{key!r}]", problems, ignored)
                    for key, each in item.items()}
        elif field.is_repeated:
            if not isinstance(item, list):
                problems.append(f"{where} must be a JSON array")
                continue
            item = [_proto_value(each, field, f"{where}[{index}]", problems, ignored)
                    for index, each in enumerate(item)]
        else:
            item = _proto_value(item, field, where, problems, ignored)
        renamed[field.name] = item
    return renamed


def _proto_value(item, field, where, problems, ignored):
    if field.message_type is not None:
        return _proto_names(item, field.message_type, where, problems, ignored)
    if field.enum_type is not None:
        return _proto_enum(item, field.enum_type, where, problems)
    if field.type == field.TYPE_BYTES:
        if not isinstance(item, str):
            problems.append(f"{where} must be base64 text")
        else:
            try:
                base64.b64decode(item, validate=True)
            except binascii.Error as error:
                problems.append(f"{where} is not base64: {error}")
    return item


def _proto_enum(item, enum, where, problems):
    values = _v1_enum_values(enum)
    if isinstance(item, str) and item in values:
        return values[item]
    if isinstance(item, int) and not isinstance(item, bool) and item in enum.values_by_number:
        return item
    problems.append(f"{where}: {enum.full_name} has no value {item!r}")
    return item


def from_protobuf(cls, data, what, ignored=None):
    """
    The protobuf C{cls} that the binary C{data} holds.

    @param ignored: a list to which the fields whose numbers Mesos's protos
        do not define (and that are ignored, as Mesos ignores them) are
        appended, as C{path.#number}.
    @raise CallError: naming C{what}, if C{data} does not decode, or holds
        enum values we do not know or a known field with the wrong wire
        type, or lacks required fields.
    """
    if ignored is None:
        ignored = []
    message = cls()
    try:
        message.ParseFromString(data)
    except DecodeError as error:
        raise CallError(f"{what} is not a {cls.DESCRIPTOR.full_name} protobuf: {error}") \
            from None
    problems = []
    _unknown_fields(message, "", problems, ignored)
    if problems:
        raise CallError(f"{what} is malformed: {'; '.join(problems)}")
    _check_initialized(message, what, ignored)
    return message


def _unknown_fields(message, path, problems, ignored):
    """
    Sort the fields of C{message} (and of the messages in it) that protobuf
    kept aside rather than failing: numbers we do not know go to
    C{ignored}, known fields holding what they cannot hold to C{problems}.
    """
    descriptor = message.DESCRIPTOR
    for unknown in UnknownFieldSet(message):
        field = descriptor.fields_by_number.get(unknown.field_number)
        if field is None:
            ignored.append(_join(path, f"#{unknown.field_number}"))
        elif field.enum_type is not None and isinstance(unknown.data, int):
            problems.append(f"{_join(path, _v1_field_name(field))}: {field.enum_type.full_name} "
                            f"has no value {unknown.data}")
        else:
            problems.append(f"{_join(path, _v1_field_name(field))} has the wrong wire type")
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        where = _join(path, _v1_field_name(field))
        if field.is_repeated:
            for index, each in enumerate(value):
                _unknown_fields(each, f"{where}[{index}]", problems, ignored)
        else:
            _unknown_fields(value, where, problems, ignored)


def _v1_names_in(text):
    return _INTERNAL_NAMES.sub(r"agent_id\1", text)


def _check_initialized(message, what, ignored):
    if not message.IsInitialized():
        missing = [_v1_names_in(name) for name in message.FindInitializationErrors()]
        hints = [f" ({name[:-len('agent_id')]}slave_id was ignored: v1 says agent_id)"
                 for name in missing
                 if name.endswith("agent_id") and name[:-len("agent_id")] + "slave_id" in ignored]
        raise CallError(f"{what} is missing required fields: {', '.join(missing)}"
                        f"{''.join(hints)}")


def parse_call(request, call_class):
    """
    The C{call_class} message in C{request}'s body, JSON or protobuf as its
    C{Content-Type} says.

    @raise CallError: for another or no C{Content-Type}, a body over
        L{MAX_CALL_BYTES}, one that does not decode, or one that is not a
        complete call (each saying so).
    """
    header = request.getHeader(b"content-type")
    if header is None:
        raise CallError(f"the call needs a Content-Type: {JSON} or {PROTOBUF}")
    media = header.split(b";")[0].strip().lower().decode("latin-1")
    if media not in MEDIA_TYPES:
        raise CallError(f"Content-Type {media!r} is not supported: send {JSON} or {PROTOBUF}")
    body = request.content.read(MAX_CALL_BYTES + 1)
    if len(body) > MAX_CALL_BYTES:
        raise CallError(f"the call is larger than {MAX_CALL_BYTES} bytes")
    ignored = []
    if media == PROTOBUF:
        call = from_protobuf(call_class, body, "the call", ignored)
    else:
        try:
            value = json.loads(body)
        except ValueError as error:
            raise CallError(f"the body is not JSON: {error}") from None
        call = from_v1(call_class, value, "the call", ignored)
    if ignored:
        _log.debug("Ignored what {call_type} does not define in a {media} call: {fields}",
                   call_type=call_class.DESCRIPTOR.full_name, media=media, fields=ignored)
    return call


def accepts(header, media):
    """
    Whether an C{Accept} header (text, or L{None} when absent) allows
    C{media}, as Mesos decides: the most specific entry that matches
    (C{type/subtype}, then C{type/*}, then C{*/*}) with a q-value above 0.
    """
    if header is None:
        return True
    entries = [entry.split(";") for entry in re.sub(r"\s", "", header).split(",")]
    main = media.split("/")[0]
    for candidate in (media, f"{main}/*", "*/*"):
        for name, *parameters in entries:
            if name.lower() != candidate:
                continue
            q = [p.split("=", 1)[1] for p in parameters if p.startswith("q=")]
            if len(q) != 1:
                return True
            try:
                return float(q[0]) > 0
            except ValueError:
                return False
    return False


def stream_media(request):
    """
    The encoding of the stream C{request} subscribes to: JSON unless its
    C{Accept} allows only protobuf.

    @raise NotAcceptable: if it allows neither.
    """
    header = request.getHeader(b"accept")
    if header is not None:
        header = header.decode("latin-1")
    for media in MEDIA_TYPES:
        if accepts(header, media):
            return media
    raise NotAcceptable(f"Accept ({header}) must allow {JSON} or {PROTOBUF}: the event "
                        "stream is offered in those")


def encode(message, media):
    """
    An event as C{media}: v1 JSON, or binary protobuf.
    """
    if media == PROTOBUF:
        return message.SerializeToString()
    return json.dumps(to_v1(message), separators=(",", ":")).encode("utf-8")


def record(data):
    """
    One RecordIO record: C{data}'s length in decimal, a newline, C{data}.
    """
    return b"%d\n%s" % (len(data), data)
