"""
Tests for mesos-services' app definitions (L{mesos_tw.services.apps}) and
Marathon's constraints (L{mesos_tw.services.constraints}).
"""

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.services.apps import InvalidApp, normalize_id, parse_app
from mesos_tw.services.constraints import satisfies, validate_constraint


class AppDefinitionTests(SynchronousTestCase):
    """
    Parsing with Marathon's defaults, and its validation errors.
    """

    def test_defaults(self):
        """
        A minimal app gets Marathon's defaults; its id becomes a path.
        """
        app = parse_app({"id": "web", "cmd": "serve"})
        self.assertEqual((app.id, app["instances"], app["cpus"], app["mem"], app["ports"]),
                         ("/web", 1, 1.0, 128.0, [0]))
        self.assertEqual(app["upgradeStrategy"],
                         {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0})
        self.assertEqual((app["backoffSeconds"], app["backoffFactor"],
                          app["maxLaunchDelaySeconds"]), (1.0, 1.15, 3600.0))

    def test_ids(self):
        """
        Groups are path segments; relative paths resolve.
        """
        self.assertEqual(normalize_id("prod/web"), "/prod/web")
        self.assertEqual(normalize_id("/prod/../dev/./web/"), "/dev/web")

    def errors(self, body):
        """
        The details of the 422 that C{body} gets.
        """
        with self.assertRaises(InvalidApp) as raised:
            parse_app(body)
        return {d["path"]: d["errors"] for d in raised.exception.details}

    def test_invalid_fields_name_their_paths(self):
        """
        Each bad field is reported at its path, all at once.
        """
        errors = self.errors({"id": "Web_1", "cmd": "x", "cpus": -1, "instances": 1.5,
                              "upgradeStrategy": {"minimumHealthCapacity": 2},
                              "constraints": [["hostname", "SOMETIMES"]],
                              "healthChecks": [{"protocol": "HTTP", "portIndex": 3}]})
        self.assertEqual(sorted(errors), ["/constraints(0)", "/cpus", "/healthChecks(0)/portIndex",
                                          "/id", "/instances",
                                          "/upgradeStrategy/minimumHealthCapacity"])
        self.assertEqual(errors["/cpus"], ["got -1, expected 0 or more"])

    def test_needs_a_command(self):
        """
        Neither cmd nor args: an error at the root.
        """
        self.assertEqual(self.errors({"id": "web"}),
                         {"/": ["AppDefinition must either contain one of 'cmd' or 'args'"]})

    def test_body_must_be_an_object(self):
        """
        A body that is not a JSON object is refused.
        """
        self.assertEqual(self.errors([1]), {"/": ["expected a JSON object"]})

    def test_to_json_round_trip(self):
        """
        The definition reads back as it was written.
        """
        app = parse_app({"id": "/a/b", "args": ["serve", "--port", "1"], "env": {"A": "1"},
                         "healthChecks": [{"protocol": "TCP"}], "ports": [0, 0]})
        again = parse_app(app.to_json())
        self.assertEqual(again.to_json(), app.to_json())
        self.assertEqual(app["healthChecks"][0]["gracePeriodSeconds"], 300)

    def test_scale_only(self):
        """
        A new instance count alone is a scale.
        """
        app = parse_app({"id": "web", "cmd": "x"})
        self.assertTrue(app.differs_only_in_scale(app.with_changes(instances=5)))
        self.assertFalse(app.differs_only_in_scale(app.with_changes(cmd="y")))


class ConstraintTests(SynchronousTestCase):
    """
    Marathon's operators, on hostnames and attributes.
    """

    def test_validation(self):
        """
        Unknown operators, missing values and bad regular expressions are
        refused, saying so.
        """
        self.assertIsNone(validate_constraint(["hostname", "UNIQUE"]))
        self.assertIn("unknown operator", validate_constraint(["hostname", "NEVER"]))
        self.assertEqual(validate_constraint(["rack", "LIKE"]), "LIKE needs a value")
        self.assertIn("not a valid regular expression", validate_constraint(["rack", "LIKE", "("]))
        self.assertIn("whole number", validate_constraint(["rack", "MAX_PER", "x"]))

    def test_unique(self):
        """
        One instance per hostname (or attribute value).
        """
        self.assertTrue(satisfies(["hostname", "UNIQUE"], "a", {}, [("b", {})]))
        self.assertFalse(satisfies(["hostname", "UNIQUE"], "a", {}, [("a", {})]))
        self.assertFalse(satisfies(["rack", "UNIQUE"], "a", {"rack": "1"}, [("b", {"rack": "1"})]))

    def test_cluster(self):
        """
        All on the given value, or all on the first one's.
        """
        self.assertTrue(satisfies(["rack", "CLUSTER", "1"], "a", {"rack": "1"}, []))
        self.assertFalse(satisfies(["rack", "CLUSTER", "1"], "a", {"rack": "2"}, []))
        self.assertFalse(satisfies(["hostname", "CLUSTER"], "a", {}, [("b", {})]))

    def test_like_unlike(self):
        """
        Regular expressions matching the whole value.
        """
        self.assertTrue(satisfies(["rack", "LIKE", "r[12]"], "a", {"rack": "r1"}, []))
        self.assertFalse(satisfies(["rack", "LIKE", "r[12]"], "a", {"rack": "r10"}, []))
        self.assertTrue(satisfies(["rack", "UNLIKE", "r1"], "a", {"rack": "r2"}, []))

    def test_max_per(self):
        """
        At most n per value.
        """
        placed = [("b", {"rack": "1"}), ("c", {"rack": "1"})]
        self.assertFalse(satisfies(["rack", "MAX_PER", "2"], "a", {"rack": "1"}, placed))
        self.assertTrue(satisfies(["rack", "MAX_PER", "3"], "a", {"rack": "1"}, placed))

    def test_group_by(self):
        """
        Spread evenly: a value with more instances than another waits.
        """
        placed = [("b", {"rack": "1"}), ("c", {"rack": "2"}), ("d", {"rack": "1"})]
        self.assertFalse(satisfies(["rack", "GROUP_BY"], "a", {"rack": "1"}, placed))
        self.assertTrue(satisfies(["rack", "GROUP_BY"], "a", {"rack": "2"}, placed))
        self.assertTrue(satisfies(["rack", "GROUP_BY"], "a", {"rack": "3"}, placed))
        self.assertFalse(satisfies(["rack", "GROUP_BY", "3"], "a", {"rack": "1"},
                                   [("b", {"rack": "1"})]))
