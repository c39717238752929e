"""
Tests for L{mesos_tw.resources}: parsing, printing and the arithmetic laws.
"""

from hypothesis import given, strategies as st
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources, ResourcesError

scalars = st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda v: round(v, 3))
ranges = st.lists(
    st.tuples(st.integers(0, 2000), st.integers(0, 50)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=4,
)
items = st.frozensets(st.sampled_from(["a", "b", "c", "d"]))


@st.composite
def bags(draw):
    """
    Random resource bags with a scalar, a range and a set resource.
    """
    values = {}
    if draw(st.booleans()):
        values["cpus"] = draw(scalars)
    if draw(st.booleans()):
        values["mem"] = draw(scalars)
    if draw(st.booleans()):
        values["ports"] = Resources.parse(
            "ports:[" + ",".join(f"{b}-{e}" for b, e in draw(ranges)) + "]"
        ).get("ports") or ()
    if draw(st.booleans()):
        values["gpus"] = draw(items)
    return Resources(values)


class ParsingTests(SynchronousTestCase):
    """
    Mesos's text form in and out.
    """

    def test_parse_all_kinds(self):
        """
        Scalars, ranges and sets parse to their values.
        """
        bag = Resources.parse("cpus:4;mem:8192;ports:[31000-32000,5-9];gpus:{a,b}")
        self.assertEqual(bag.scalar("cpus"), 4.0)
        self.assertEqual(bag.get("ports"), ((5, 9), (31000, 32000)))
        self.assertEqual(bag.get("gpus"), frozenset({"a", "b"}))

    def test_print_parses_back(self):
        """
        The text form of a bag parses to an equal bag.
        """
        bag = Resources.parse("cpus:2.5;ports:[1-3,7-7];disk:0;gpus:{x}")
        self.assertEqual(str(bag), "cpus:2.5;gpus:{x};ports:[1-3,7-7]")
        self.assertEqual(Resources.parse(str(bag)), bag)

    def test_json(self):
        """
        JSON renders scalars as numbers, ranges and sets as text (Mesos).
        """
        bag = Resources.parse("cpus:1;ports:[31000-32000]")
        self.assertEqual(bag.to_json(), {"cpus": 1.0, "ports": "[31000-32000]"})

    def test_malformed(self):
        """
        Malformed descriptions raise L{ResourcesError} naming the problem.
        """
        cases = {
            "cpus": "expected name:value",
            "cpus:lots": "not a number",
            "cpus:-1": ">= 0",
            "ports:[5-1]": "bad range",
            "ports:[1-2": "unterminated",
            "gpus:{a": "unterminated",
            "cpus:1;cpus:[1-2]": "two different types",
        }
        for text, fragment in cases.items():
            with self.assertRaises(ResourcesError, msg=text) as raised:
                Resources.parse(text)
            self.assertIn(fragment, str(raised.exception))

    def test_protobuf_round_trip(self):
        """
        A bag survives conversion to C{mesos.Resource} messages and back.
        """
        bag = Resources.parse("cpus:4;mem:512;ports:[1-5];gpus:{a,b}")
        self.assertEqual(Resources.from_protobuf(bag.to_protobuf()), bag)

    @given(bags(), bags())
    def test_protobuf_reads_what_adding_gives(self, a, b):
        """
        Reading messages naming a resource twice, or with an empty value,
        gives the bag that adding their parts gives, with the same
        scalars.
        """
        read = Resources.from_protobuf(
            a.to_protobuf() + [mesos_pb2.Resource(name="disk", type=mesos_pb2.Value.SCALAR,
                                                  scalar=mesos_pb2.Value.Scalar(value=0))]
            + b.to_protobuf())
        self.assertEqual(read, a + b)
        self.assertEqual(read.scalars(), (a + b).scalars())
        self.assertNotIn("disk", read.names())

    def test_protobuf_invalid(self):
        """
        Malformed resource messages are refused with a reason.
        """
        negative = mesos_pb2.Resource(name="cpus", type=mesos_pb2.Value.SCALAR)
        negative.scalar.value = -1
        inverted = mesos_pb2.Resource(name="ports", type=mesos_pb2.Value.RANGES)
        inverted.ranges.range.add(begin=5, end=1)
        unset = mesos_pb2.Resource(name="cpus", type=mesos_pb2.Value.SCALAR)
        not_a_number = mesos_pb2.Resource(name="cpus", type=mesos_pb2.Value.SCALAR)
        not_a_number.scalar.value = float("nan")
        infinite = mesos_pb2.Resource(name="cpus", type=mesos_pb2.Value.SCALAR)
        infinite.scalar.value = float("inf")
        for resource in (negative, inverted, mesos_pb2.Resource(name="", type=0), unset,
                         not_a_number, infinite):
            self.assertRaises(ResourcesError, Resources.from_protobuf, [resource])

    def test_protobuf_two_types(self):
        """
        A name given as a scalar and as ranges is refused, in either order,
        and so is an empty scalar after ranges of its name (one before them
        is dropped as it comes, as adding bags drops it).
        """
        def scalar(amount):
            return mesos_pb2.Resource(name="ports", type=mesos_pb2.Value.SCALAR,
                                      scalar=mesos_pb2.Value.Scalar(value=amount))
        ranges = mesos_pb2.Resource(name="ports", type=mesos_pb2.Value.RANGES)
        ranges.ranges.range.add(begin=1, end=5)
        for both in ([scalar(1.0), ranges], [ranges, scalar(1.0)], [ranges, scalar(0.0)]):
            self.assertRaises(ResourcesError, Resources.from_protobuf, both)
        self.assertEqual(Resources.from_protobuf([scalar(0.0), ranges]),
                         Resources.parse("ports:[1-5]"))


class ArithmeticTests(SynchronousTestCase):
    """
    The laws the master and allocator rely on.
    """

    @given(bags(), bags())
    def test_take_then_give_back(self, a, b):
        """
        Taking out what a bag contains and giving it back restores the bag:
        (a + b) - b + b == a + b, the master's allocate-then-recover cycle.
        """
        total = a + b
        self.assertEqual((total - b) + b, total)

    @given(scalars, scalars)
    def test_scalar_add_then_subtract(self, x, y):
        """
        For scalars, (a + b) - b == a.
        """
        a, b = Resources({"cpus": x}), Resources({"cpus": y})
        self.assertEqual((a + b) - b, a)

    @given(bags(), bags())
    def test_sum_contains_parts(self, a, b):
        """
        a + b contains both a and b.
        """
        self.assertTrue((a + b).contains(a))
        self.assertTrue((a + b).contains(b))

    @given(bags(), bags())
    def test_addition_commutes(self, a, b):
        """
        a + b == b + a.
        """
        self.assertEqual(a + b, b + a)

    @given(bags(), bags())
    def test_difference_contained(self, a, b):
        """
        a - b is contained in a, and adding b back covers a.
        """
        self.assertTrue(a.contains(a - b))
        self.assertTrue(((a - b) + b).contains(a))

    @given(bags(), bags())
    def test_difference_has_no_empty_entry(self, a, b):
        """
        What a subtraction leaves empty is gone from the bag, so a bag minus
        itself is empty and equals the empty bag.
        """
        difference = a - b
        self.assertEqual(difference, Resources({n: difference.get(n) for n in difference.names()}))
        for name in difference.names():
            self.assertTrue(Resources({name: difference.get(name)}))
        self.assertFalse(a - a)
        self.assertEqual((a - a).names(), set())

    @given(bags(), bags())
    def test_difference_scalars(self, a, b):
        """
        The scalars of a difference are its scalar entries, whether the bag
        subtracted from was read from messages (its scalars known at once)
        or made otherwise.
        """
        for left in (a, Resources.from_protobuf(a.to_protobuf()),
                     Resources.from_protobuf(Resources(a.scalars()).to_protobuf())):
            difference = left - b
            self.assertEqual(difference.scalars(),
                             {name: difference.get(name) for name in difference.names()
                              if isinstance(difference.get(name), float)})

    def test_ports_subtraction_splits(self):
        """
        Taking a port out of a range splits it.
        """
        bag = Resources.parse("ports:[31000-32000]") - Resources.parse("ports:[31005-31005]")
        self.assertEqual(bag.get("ports"), ((31000, 31004), (31006, 32000)))

    def test_contains_needs_every_resource(self):
        """
        A bag does not contain a resource it lacks or has too little of.
        """
        bag = Resources.parse("cpus:1;mem:128")
        self.assertFalse(bag.contains(Resources.parse("cpus:2")))
        self.assertFalse(bag.contains(Resources.parse("disk:1")))
        self.assertTrue(bag.contains(Resources.parse("cpus:0.5;mem:128")))


class SumTests(SynchronousTestCase):
    """
    L{Resources.sum}.
    """

    @given(st.lists(bags(), max_size=6))
    def test_sum_is_repeated_addition(self, many):
        """
        Summing many bags equals adding them one by one.
        """
        total = Resources()
        for bag in many:
            total = total + bag
        self.assertEqual(Resources.sum(many), total)
