"""
Command-line flags in Mesos's style.

Every flag has Mesos's underscore name (``--work_dir``); the hyphenated
spelling (``--work-dir``) works too, and a flag not given on the command line
is read from the environment as ``MESOS_<FLAG>`` (``MESOS_WORK_DIR``).
Values are checked after parsing, so a bad one stops start-up with one line
naming the flag.
"""

import os
import re
import sys

from twisted.python import reflect, usage

from mesos_tw.resources import Resources, ResourcesError

__all__ = [
    "MesosOptions",
    "parse_attributes",
    "parse_bool",
    "parse_count",
    "parse_duration",
    "parse_percentage",
    "parse_port",
    "parse_positive_int",
    "parse_resources",
]

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ns|us|ms|secs?|s|mins?|hrs?|days?|weeks?)?\s*$")
_UNITS = {
    "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "secs": 1.0,
    "min": 60.0, "mins": 60.0, "hr": 3600.0, "hrs": 3600.0,
    "day": 86400.0, "days": 86400.0, "week": 604800.0, "weeks": 604800.0,
}


def parse_duration(text):
    """
    Seconds in Mesos's duration form: ``15secs``, ``1mins``, ``10ms``, or a
    bare number of seconds.
    """
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a duration (try 15secs, 1mins, 500ms)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def parse_bool(text):
    """
    ``true``/``false`` (also ``1``/``0``, ``yes``/``no``).
    """
    lowered = str(text).strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(f"{text!r} is not true or false")


def parse_port(text):
    """
    A TCP port number, 0 for any free port.
    """
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"{port} is not between 0 and 65535")
    return port


def _parse_whole(text):
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def parse_positive_int(text):
    """
    An integer of at least 1.
    """
    value = _parse_whole(text)
    if value < 1:
        raise ValueError(f"{value} must be at least 1")
    return value


def parse_count(text):
    """
    A whole number of at least 0 (Mesos's C{size_t} flags).
    """
    value = _parse_whole(text)
    if value < 0:
        raise ValueError(f"{value} must not be negative")
    return value


def parse_percentage(text):
    """
    A share from Mesos's C{N%} form (C{0%} to C{100%}, fractions allowed),
    as a fraction of 1: C{"50%"} is C{0.5}.
    """
    text = str(text).strip()
    if not text.endswith("%"):
        raise ValueError(f"{text!r} is missing '%'")
    try:
        value = float(text[:-1])
    except ValueError:
        raise ValueError(f"{text!r} is not a number followed by '%'") from None
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"{text!r} must be within [0%-100%]")
    return value / 100.0


def parse_resources(text):
    """
    A L{Resources} from Mesos's text form.
    """
    try:
        return Resources.parse(text)
    except ResourcesError as error:
        raise ValueError(str(error)) from None


def parse_attributes(text):
    """
    Slave attributes, ``rack:r1;zone:west``, as an ordered dict of text.
    """
    attributes = {}
    for part in filter(None, (p.strip() for p in str(text).split(";"))):
        name, colon, value = part.partition(":")
        if not colon or not name.strip() or not value.strip():
            raise ValueError(f"expected name:value, got {part!r}")
        attributes[name.strip()] = value.strip()
    return attributes


class MesosOptions(usage.Options):
    """
    Options whose parameters follow Mesos's flag conventions.

    Subclasses list C{optParameters} with Mesos's names and string defaults,
    and map names to parsers in C{coercions}; parsed values replace the text.

    @ivar environ: where C{MESOS_<FLAG>} values come from.
    """

    coercions = {}

    def __init__(self, environ=None):
        super().__init__()
        self.environ = os.environ if environ is None else environ
        self._given = set()

    def _long_names(self):
        return {name.rstrip("=") for name in self.longOpt}

    def parseOptions(self, options=None):
        """
        Accept hyphenated spellings of underscore flags, then parse.
        """
        if options is None:
            options = sys.argv[1:]
        known = self._long_names()
        rewritten = []
        for argument in options:
            if argument == "--":
                rewritten.append(argument)
                continue
            if argument.startswith("--"):
                name, equals, value = argument[2:].partition("=")
                underscored = name.replace("-", "_")
                if name not in known and underscored in known:
                    name = underscored
                self._given.add(name.replace("-", "_"))
                argument = "--" + name + equals + value
            rewritten.append(argument)
        super().parseOptions(rewritten)

    def postOptions(self):
        """
        Fill unset flags from C{MESOS_<FLAG>}, then check every value.
        """
        for name, short, default, doc, *rest in self._parameters():
            key = name.replace("-", "_")
            variable = "MESOS_" + key.upper()
            if key not in self._given and variable in self.environ:
                self[key] = self.environ[variable]
        for key, parse in self.coercions.items():
            value = self.get(key)
            if value is None or not isinstance(value, str):
                continue
            try:
                self[key] = parse(value)
            except ValueError as error:
                raise usage.UsageError(f"invalid value for --{key}: {error}") from None

    def _parameters(self):
        parameters = []
        reflect.accumulateClassList(self.__class__, "optParameters", parameters)
        return parameters
