"""
Resource arithmetic: scalars (``cpus``, ``mem``), ranges (``ports``) and sets,
in Mesos's text form (``cpus:4;mem:8192;ports:[31000-32000];gpus:{a,b}``) and
as protobuf ``Resource`` lists.

L{Resources} is an immutable value: addition, subtraction and containment
return new values, so the master and allocator can share them freely.
"""

from math import inf as _INFINITY, isfinite

from mesos_tw.protocols import mesos_pb2

__all__ = ["Resources", "ResourcesError"]

# Below this a scalar is rounding noise left by float subtraction.
_EPSILON = 1e-9

_SCALAR, _RANGES, _SET = mesos_pb2.Value.SCALAR, mesos_pb2.Value.RANGES, mesos_pb2.Value.SET


class ResourcesError(ValueError):
    """
    A resource description that cannot be read.
    """


def _merge(ranges):
    """
    Sorted, non-overlapping, non-adjacent intervals covering C{ranges}.
    """
    merged = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return tuple(merged)


def _subtract_ranges(left, right):
    """
    The intervals of C{left} not covered by C{right}.
    """
    result = []
    for begin, end in left:
        pieces = [(begin, end)]
        for rbegin, rend in right:
            next_pieces = []
            for pbegin, pend in pieces:
                if rend < pbegin or rbegin > pend:
                    next_pieces.append((pbegin, pend))
                    continue
                if pbegin < rbegin:
                    next_pieces.append((pbegin, rbegin - 1))
                if rend < pend:
                    next_pieces.append((rend + 1, pend))
            pieces = next_pieces
        result.extend(pieces)
    return _merge(result)


def _ranges_contain(outer, inner):
    return not _subtract_ranges(inner, outer)


def _parse_value(name, text):
    """
    One resource's value: a float, a tuple of ranges or a frozenset.
    """
    text = text.strip()
    if text.startswith("["):
        if not text.endswith("]"):
            raise ResourcesError(f"resource {name!r}: unterminated range list {text!r}")
        ranges = []
        for part in filter(None, (p.strip() for p in text[1:-1].split(","))):
            begin, dash, end = part.partition("-")
            try:
                begin, end = int(begin), int(end if dash else begin)
            except ValueError:
                raise ResourcesError(f"resource {name!r}: bad range {part!r}") from None
            if begin < 0 or end < begin:
                raise ResourcesError(f"resource {name!r}: bad range {part!r}")
            ranges.append((begin, end))
        return _merge(ranges)
    if text.startswith("{"):
        if not text.endswith("}"):
            raise ResourcesError(f"resource {name!r}: unterminated set {text!r}")
        return frozenset(filter(None, (item.strip() for item in text[1:-1].split(","))))
    try:
        value = float(text)
    except ValueError:
        raise ResourcesError(f"resource {name!r}: {text!r} is not a number, range list or set") from None
    if value < 0 or not isfinite(value):
        raise ResourcesError(f"resource {name!r}: {text!r} must be a finite number >= 0")
    return value


def _format_value(value):
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ",".join(f"{b}-{e}" for b, e in value) + "]"
    return "{" + ",".join(sorted(value)) + "}"


def _accumulate(values, more):
    """
    Add the resources C{more} into the dict C{values}, in place.
    """
    for name, value in more.items():
        mine = values.get(name)
        if mine is None:
            values[name] = value
        elif isinstance(mine, float) and isinstance(value, float):
            values[name] = mine + value
        elif isinstance(mine, tuple) and isinstance(value, tuple):
            values[name] = _merge(mine + value)
        elif isinstance(mine, frozenset) and isinstance(value, frozenset):
            values[name] = mine | value
        else:
            raise ResourcesError(f"resource {name!r} has two different types")


def _is_empty(value):
    if isinstance(value, float):
        return value <= _EPSILON
    return not value


def _bag(cls, values, scalars=None):
    """
    A bag of C{values}, which must hold no empty entry (not checked), and,
    if known, its C{scalars} (see L{Resources.scalars}; the same dict when
    every value is a scalar: neither is ever changed).
    """
    bag = cls.__new__(cls)
    bag._values = values
    bag._scalars = scalars
    return bag


class Resources:
    """
    A bag of named resources.  Empty entries are dropped, so two values that
    describe the same resources compare equal.
    """

    __slots__ = ("_values", "_scalars")

    def __init__(self, values=None):
        # _is_empty inlined: bags are made several times per task launched.
        self._values = {
            name: value for name, value in values.items()
            if (value > _EPSILON if value.__class__ is float else value)
        } if values else {}
        # The allocator asks a bag for its scalars several times per offer.
        self._scalars = None

    @classmethod
    def parse(cls, text):
        """
        Read Mesos's text form, C{name:value;...}.

        @raise ResourcesError: saying which part is malformed.
        """
        values = {}
        for part in filter(None, (p.strip() for p in text.split(";"))):
            name, colon, value = part.partition(":")
            name = name.strip()
            if not colon or not name:
                raise ResourcesError(f"expected name:value, got {part!r}")
            if "(" in name:
                name = name.split("(", 1)[0].strip()
            parsed = _parse_value(name, value)
            if name in values:
                previous = values[name]
                if type(previous) is not type(parsed):
                    raise ResourcesError(f"resource {name!r} given with two different types")
                _accumulate(values, {name: parsed})
                continue
            values[name] = parsed
        return cls(values)

    @classmethod
    def from_protobuf(cls, resources):
        """
        Read a list of C{mesos.Resource} messages.

        @raise ResourcesError: for a malformed resource (wrong value for its
            type, a negative, infinite or not-a-number scalar, an inverted
            range).
        """
        # Accumulated in one dict, the bag made once at the end, without
        # filtering it again: a new leader reads thousands of these a
        # second.  Empty values are left out as they come, as adding bags
        # drops them.
        values = {}
        only_scalars = True
        for resource in resources:
            name = resource.name
            if not name:
                raise ResourcesError("a resource has an empty name")
            kind = resource.type
            if kind == _SCALAR:
                # Nearly every resource is a scalar: its own short way.
                value = resource.scalar.value
                # (An unset scalar reads 0: only an amount not above
                # nothing, infinite or not a number needs a closer look.)
                if not _EPSILON < value < _INFINITY and (
                        not resource.HasField("scalar") or not isfinite(value) or value < 0):
                    raise ResourcesError(f"resource {name!r}: invalid scalar")
                existing = values.get(name)
                if existing is None:
                    if value > _EPSILON:
                        values[name] = value
                    continue
                if existing.__class__ is not float:
                    raise ResourcesError(f"resource {name!r} given with two different types")
                if value > _EPSILON:
                    values[name] = existing + value
                continue
            if kind == _RANGES:
                pairs = [(r.begin, r.end) for r in resource.ranges.range]
                if any(end < begin for begin, end in pairs):
                    raise ResourcesError(f"resource {name!r}: a range ends before it begins")
                value = _merge(pairs)
            elif kind == _SET:
                value = frozenset(resource.set.item)
            else:
                raise ResourcesError(f"resource {name!r}: unsupported type")
            existing = values.get(name)
            if existing is not None and type(existing) is not type(value):
                raise ResourcesError(f"resource {name!r} given with two different types")
            if _is_empty(value):
                continue
            if existing is None:
                values[name] = value
                only_scalars = False
            else:
                _accumulate(values, {name: value})
        return _bag(cls, values, values if only_scalars else None)

    def to_protobuf(self):
        """
        This bag as a list of C{mesos.Resource} messages, sorted by name.
        """
        Value = mesos_pb2.Value
        result = []
        for name, value in sorted(self._values.items()):
            resource = mesos_pb2.Resource(name=name)
            if isinstance(value, float):
                resource.type = Value.SCALAR
                resource.scalar.value = value
            elif isinstance(value, tuple):
                resource.type = Value.RANGES
                for begin, end in value:
                    resource.ranges.range.add(begin=begin, end=end)
            else:
                resource.type = Value.SET
                resource.set.item.extend(sorted(value))
            result.append(resource)
        return result

    def to_json(self):
        """
        Mesos's JSON rendering: scalars as numbers, ranges and sets as text.
        """
        return {
            name: value if isinstance(value, float) else _format_value(value)
            for name, value in sorted(self._values.items())
        }

    def scalar(self, name):
        """
        The amount of scalar resource C{name} (0.0 if absent).
        """
        value = self._values.get(name, 0.0)
        return value if isinstance(value, float) else 0.0

    def scalars(self):
        """
        A dict of every scalar resource's amount, computed once per bag and
        shared: read it, never change it.
        """
        if self._scalars is None:
            self._scalars = {n: v for n, v in self._values.items() if isinstance(v, float)}
        return self._scalars

    def names(self):
        """
        The names of the resources present.
        """
        return set(self._values)

    def get(self, name):
        """
        The raw value of C{name}: a float, a tuple of (begin, end) ranges, a
        frozenset, or L{None}.
        """
        return self._values.get(name)

    def __bool__(self):
        return bool(self._values)

    def __eq__(self, other):
        if not isinstance(other, Resources):
            return NotImplemented
        if self._values.keys() != other._values.keys():
            return False
        for name, value in self._values.items():
            theirs = other._values[name]
            if isinstance(value, float):
                if not isinstance(theirs, float) or abs(value - theirs) > _EPSILON:
                    return False
            elif value != theirs:
                return False
        return True

    def __hash__(self):
        return hash(frozenset(self._values))

    def __add__(self, other):
        # Bags are immutable, so adding to nothing can hand back the other
        # bag itself; the allocator's filters then recognise a slave's
        # returned resources by identity, without comparing them.
        if not self._values:
            return other
        if not other._values:
            return self
        values = dict(self._values)
        _accumulate(values, other._values)
        return Resources(values)

    @classmethod
    def sum(cls, bags):
        """
        The sum of many bags, built once (much cheaper than adding them one
        by one, which makes a new bag per addition).
        """
        values = {}
        for bag in bags:
            _accumulate(values, bag._values)
        return cls(values)

    def __sub__(self, other):
        if not other._values:
            return self
        values = dict(self._values)
        for name, value in other._values.items():
            mine = values.get(name)
            if mine is None:
                continue
            if mine.__class__ is float and value.__class__ is float:
                left = mine - value
            elif isinstance(mine, tuple) and isinstance(value, tuple):
                left = _subtract_ranges(mine, value)
            elif isinstance(mine, frozenset) and isinstance(value, frozenset):
                left = mine - value
            else:
                continue
            # Dropped here when empty, so that the bag is made without
            # filtering every entry again (the allocator subtracts once
            # per slave added, thousands a second after a failover).
            if _is_empty(left):
                del values[name]
            else:
                values[name] = left
        # What is left of a bag of scalars only is scalars only.
        return _bag(Resources, values, values if self._scalars is self._values else None)

    def contains(self, other):
        """
        Whether every resource in C{other} is available in this bag.
        """
        for name, value in other._values.items():
            mine = self._values.get(name)
            if mine is None:
                return False
            # (Every scalar is a float itself: parsed, or a protobuf double.)
            if value.__class__ is float:
                if mine.__class__ is not float or mine + _EPSILON < value:
                    return False
            elif isinstance(value, tuple):
                if not isinstance(mine, tuple) or not _ranges_contain(mine, value):
                    return False
            elif not isinstance(mine, frozenset) or not value <= mine:
                return False
        return True

    def __str__(self):
        return ";".join(f"{n}:{_format_value(v)}" for n, v in sorted(self._values.items()))

    def __repr__(self):
        return f"Resources({str(self)!r})"
