"""
Tests for mesos-services' REST API (L{mesos_tw.services.api}): Marathon's
paths, status codes and bodies, through treq's in-memory client; and its
command line (L{mesos_tw.services.tap}).
"""

import json

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import mesos_pb2
from mesos_tw.services.api import ServicesAPI
from mesos_tw.services.scheduler import ServiceScheduler
from mesos_tw.services.store import MemoryStore
from mesos_tw.services.tap import Options
from mesos_tw.testing.drivers import RecordingSchedulerDriver, numbered_offer


class FakeLeadership:
    """
    Leads with C{scheduler}, or follows C{leader}.
    """

    def __init__(self, scheduler=None, leader=None):
        self.scheduler = scheduler
        self.leader = leader

    def leader_url(self):
        return "http://me:8080" if self.scheduler else self.leader


class APITests(SynchronousTestCase):
    """
    The API of a leading instance.
    """

    def setUp(self):
        self.clock = Clock()
        self.driver = RecordingSchedulerDriver()
        self.scheduler = ServiceScheduler(self.clock, MemoryStore())
        self.scheduler.registered(self.driver, mesos_pb2.FrameworkID(value="F"),
                                  mesos_pb2.MasterInfo(id="m", ip=0, port=5050))
        self.client = StubTreq(ServicesAPI(FakeLeadership(self.scheduler), {}).resource())

    def call(self, method, path, body=None):
        """
        C{(status, JSON body or text)}.
        """
        data = None if body is None else json.dumps(body).encode()
        response = self.successResultOf(self.client.request(
            method, "http://services" + path, data=data))
        content = self.successResultOf(response.content())
        self.clock.advance(0)
        try:
            return response.code, json.loads(content)
        except ValueError:
            return response.code, content.decode()

    def create(self, **fields):
        body = {"id": "/prod/web", "cmd": "serve", "instances": 1, "cpus": 0.5, "mem": 64}
        body.update(fields)
        return self.call("POST", "/v2/apps", body)

    def test_ping_and_info(self):
        """
        C{/ping} says pong; C{/v2/info} names the framework and leader.
        """
        self.assertEqual(self.call("GET", "/ping"), (200, "pong"))
        code, info = self.call("GET", "/v2/info")
        self.assertEqual((code, info["frameworkId"], info["leader"], info["name"]),
                         (200, "F", "me:8080", "mesos-services"))

    def test_create_get_list(self):
        """
        POST creates (201, with its deployment); GET shows the app with
        its counts and tasks; the list embeds tasks when asked.
        """
        code, app = self.create()
        self.assertEqual((code, app["id"], app["instances"]), (201, "/prod/web", 1))
        self.assertEqual(len(app["deployments"]), 1)
        self.scheduler.resourceOffers(self.driver, [numbered_offer(1, "a")])
        code, body = self.call("GET", "/v2/apps/prod/web")
        self.assertEqual((code, body["app"]["tasksStaged"], len(body["app"]["tasks"])),
                         (200, 1, 1))
        _, listed = self.call("GET", "/v2/apps?embed=apps.tasks")
        self.assertEqual([len(a["tasks"]) for a in listed["apps"]], [1])
        _, tasks = self.call("GET", "/v2/tasks")
        self.assertEqual(tasks["tasks"][0]["appId"], "/prod/web")
        _, tasks = self.call("GET", "/v2/apps/prod/web/tasks")
        self.assertEqual(len(tasks["tasks"]), 1)

    def test_errors(self):
        """
        422 with the offending paths, 409 for a taken id, 404 for an
        unknown app or deployment.
        """
        code, body = self.create(cpus=-1)
        self.assertEqual((code, body["message"], body["details"][0]["path"]),
                         (422, "Object is not valid", "/cpus"))
        self.create()
        code, body = self.create()
        self.assertEqual((code, body["message"]),
                         (409, "An app with id [/prod/web] already exists."))
        self.assertEqual(self.call("GET", "/v2/apps/nope"),
                         (404, {"message": "App '/nope' does not exist"}))
        self.assertEqual(self.call("DELETE", "/v2/deployments/nope")[0], 404)
        code, body = self.call("POST", "/v2/apps", "not an app")
        self.assertEqual(code, 422)

    def test_put_locked_then_forced(self):
        """
        A change during a deployment is a 409 naming it; ?force=true goes
        ahead; the change keeps the fields not given.
        """
        _, app = self.create()
        code, body = self.call("PUT", "/v2/apps/prod/web", {"cmd": "serve --v2"})
        self.assertEqual((code, body["deployments"]), (409, app["deployments"]))
        code, body = self.call("PUT", "/v2/apps/prod/web?force=true", {"cmd": "serve --v2"})
        self.assertEqual(code, 200)
        self.assertIn("deploymentId", body)
        _, shown = self.call("GET", "/v2/apps/prod/web")
        self.assertEqual((shown["app"]["cmd"], shown["app"]["cpus"]), ("serve --v2", 0.5))

    def test_deployments_and_cancel(self):
        """
        GET /v2/deployments lists them; DELETE rolls back (200) or, with
        force, stops one (202).
        """
        _, app = self.create()
        _, deployments = self.call("GET", "/v2/deployments")
        self.assertEqual([d["affectedApps"] for d in deployments], [["/prod/web"]])
        code, body = self.call("DELETE", f"/v2/deployments/{deployments[0]['id']}?force=true")
        self.assertEqual((code, body), (202, {}))
        self.call("PUT", "/v2/apps/prod/web", {"cmd": "v2"})
        _, [deployment] = self.call("GET", "/v2/deployments")
        code, body = self.call("DELETE", f"/v2/deployments/{deployment['id']}")
        self.assertEqual(code, 200)
        _, shown = self.call("GET", "/v2/apps/prod/web")
        self.assertEqual(shown["app"]["cmd"], "serve")

    def test_kill_task_and_scale(self):
        """
        DELETE of a task kills it (a replacement follows); with ?scale=true
        the app wants one fewer.
        """
        self.create(instances=2)
        self.scheduler.resourceOffers(self.driver, [numbered_offer(1, "a")])
        first, second = sorted(self.scheduler.apps["/prod/web"].instances)
        code, body = self.call("DELETE", f"/v2/apps/prod/web/tasks/{first}")
        self.assertEqual((code, body["task"]["id"]), (200, first))
        code, body = self.call("DELETE", f"/v2/apps/prod/web/tasks/{second}?scale=true")
        self.assertEqual(code, 200)
        self.assertEqual(self.scheduler.apps["/prod/web"].definition.instances, 1)
        self.assertEqual(self.driver.killed, [first, second])
        self.assertEqual(self.call("DELETE", "/v2/apps/prod/web/tasks/nope")[0], 404)

    def test_restart_and_delete(self):
        """
        Restart makes a new version; DELETE removes the app.
        """
        _, app = self.create()
        self.call("DELETE", f"/v2/deployments/{app['deployments'][0]['id']}?force=true")
        code, body = self.call("POST", "/v2/apps/prod/web/restart")
        self.assertEqual(code, 200)
        self.assertNotEqual(body["version"], app["version"])
        code, body = self.call("DELETE", "/v2/apps/prod/web?force=true")
        self.assertEqual(code, 200)
        self.assertEqual(self.call("GET", "/v2/apps/prod/web")[0], 404)

    def test_services_page(self):
        """
        The page lists apps, instances with their health, deployments.
        """
        self.create()
        self.scheduler.resourceOffers(self.driver, [numbered_offer(1, "host-a")])
        code, page = self.call("GET", "/")
        self.assertEqual(code, 200)
        for text in ("/prod/web", "host-a", "StartApplication", "TASK_STAGING"):
            self.assertIn(text, page)


class FollowerTests(SynchronousTestCase):
    """
    An instance that does not lead.
    """

    def request(self, leadership, path):
        client = StubTreq(ServicesAPI(leadership, {}).resource())
        response = self.successResultOf(client.get("http://services" + path,
                                                               allow_redirects=False))
        return response.code, response.headers.getRawHeaders("location")

    def test_redirects_to_leader(self):
        """
        The API answers 307 to the same path on the leader.
        """
        self.assertEqual(self.request(FakeLeadership(leader="http://other:8080"),
                                      "/v2/apps?embed=apps.tasks"),
                         (307, ["http://other:8080/v2/apps?embed=apps.tasks"]))

    def test_no_leader(self):
        """
        503 while no instance leads; /ping still answers.
        """
        self.assertEqual(self.request(FakeLeadership(), "/v2/apps")[0], 503)
        self.assertEqual(self.request(FakeLeadership(), "/ping")[0], 200)


class OptionsTests(SynchronousTestCase):
    """
    Marathon's flags.
    """

    def test_defaults_and_flags(self):
        """
        --master is required; --http_port defaults to 8080; --zk parses.
        """
        options = Options()
        options.parseOptions(["--master", "127.0.0.1:5050", "--zk", "zk://127.0.0.1:2181/svc"])
        self.assertEqual((options["http_port"], options["zk"].path, options["failover_timeout"]),
                         (8080, "/svc", 604800.0))
        with self.assertRaises(usage.UsageError) as raised:
            Options().parseOptions([])
        self.assertIn("--master is required", str(raised.exception))
        with self.assertRaises(usage.UsageError) as raised:
            Options().parseOptions(["--master", "127.0.0.1:5050", "--zk", "http://x"])
        self.assertIn("invalid value for --zk", str(raised.exception))
