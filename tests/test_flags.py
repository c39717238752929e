"""
Tests for L{mesos_tw.flags}: Mesos flag names, hyphenated spellings,
C{MESOS_<FLAG>} environment variables and one-line errors.
"""

from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.flags import (
    MesosOptions,
    parse_attributes,
    parse_bool,
    parse_duration,
    parse_port,
    parse_resources,
)
from mesos_tw.resources import Resources


class ExampleOptions(MesosOptions):
    """
    Options with a few typical flags.
    """

    optParameters = [
        ["work_dir", None, "/tmp/mesos", "Where sandboxes go."],
        ["resources", None, None, "Resources to offer."],
        ["port", None, "5051", "Port to listen on."],
    ]
    coercions = {"resources": parse_resources, "port": parse_port}


class MesosOptionsTests(SynchronousTestCase):
    """
    Tests for L{MesosOptions}.
    """

    def parse(self, argv, environ=None):
        options = ExampleOptions(environ=environ or {})
        options.parseOptions(argv)
        return options

    def test_underscore_and_hyphen(self):
        """
        C{--work_dir} and C{--work-dir} both set the flag.
        """
        self.assertEqual(self.parse(["--work_dir=/a"])["work_dir"], "/a")
        self.assertEqual(self.parse(["--work-dir", "/b"])["work_dir"], "/b")

    def test_environment(self):
        """
        An unset flag comes from C{MESOS_<FLAG>}; the command line wins.
        """
        env = {"MESOS_WORK_DIR": "/env", "MESOS_PORT": "6000"}
        options = self.parse([], env)
        self.assertEqual((options["work_dir"], options["port"]), ("/env", 6000))
        self.assertEqual(self.parse(["--port=7000"], env)["port"], 7000)

    def test_defaults_coerced(self):
        """
        Default values go through the same parsers as given ones.
        """
        self.assertEqual(self.parse([])["port"], 5051)

    def test_values_parsed(self):
        """
        Coerced flags hold parsed values.
        """
        self.assertEqual(self.parse(["--resources=cpus:2"])["resources"], Resources.parse("cpus:2"))

    def test_bad_value_names_flag(self):
        """
        A bad value, on the command line or in the environment, is a
        one-line error naming the flag.
        """
        for argv, env in [(["--resources=cpus"], {}), ([], {"MESOS_PORT": "http"})]:
            with self.assertRaises(UsageError) as raised:
                self.parse(argv, env)
            message = str(raised.exception)
            self.assertTrue(message.startswith("invalid value for --"), message)
            self.assertNotIn("\n", message)

    def test_unknown_flag(self):
        """
        An unknown flag is refused.
        """
        self.assertRaises(UsageError, self.parse, ["--no_such_flag=1"])


class ParserTests(SynchronousTestCase):
    """
    Tests for the value parsers.
    """

    def test_duration(self):
        """
        Mesos durations and bare seconds.
        """
        self.assertEqual(parse_duration("15secs"), 15.0)
        self.assertEqual(parse_duration("1mins"), 60.0)
        self.assertEqual(parse_duration("500ms"), 0.5)
        self.assertEqual(parse_duration("2"), 2.0)
        self.assertRaises(ValueError, parse_duration, "soon")

    def test_bool(self):
        """
        true/false and friends.
        """
        self.assertTrue(parse_bool("true"))
        self.assertFalse(parse_bool("0"))
        self.assertRaises(ValueError, parse_bool, "maybe")

    def test_port(self):
        """
        Ports are 0-65535.
        """
        self.assertEqual(parse_port("0"), 0)
        self.assertRaises(ValueError, parse_port, "65536")
        self.assertRaises(ValueError, parse_port, "x")

    def test_attributes(self):
        """
        C{rack:r1;zone:west} becomes a dict; a part without a value is refused.
        """
        self.assertEqual(parse_attributes("rack:r1;zone:west"), {"rack": "r1", "zone": "west"})
        self.assertRaises(ValueError, parse_attributes, "rack")
