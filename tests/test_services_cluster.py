"""
Functional test of mesos-services on a real cluster: a ZooKeeper server, a
master, five slaves (each with its own hostname) and two ``twistd
mesos-services`` instances, all processes.  A Python ``http.server``
service with an HTTP health check and ``hostname UNIQUE`` is deployed,
loses an instance, has one turn unhealthy, survives a bad deploy (then
cancelled), is scaled to 5 and back, and outlives the failover of the
service scheduler with no instance restarted.

Each step waits, with a deadline, for what the API shows; none waits for a
fixed time.
"""

import glob
import json
import os
import random
import signal
import subprocess
import sys

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SkipTest, TestCase

from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.processes import ClusterUnavailable, ProcessCluster
from mesos_tw.testing.zookeeper_server import free_port, start_ensemble

#: The service: it serves its sandbox's www/ directory, which holds the
#: health check's file.
SERVE = (f"mkdir -p www && touch www/health && exec {sys.executable} -m http.server "
         "$PORT0 --bind 127.0.0.1 --directory www")

#: The bad version: the same server without the health check's file.
BROKEN = (f"mkdir -p empty && exec {sys.executable} -m http.server $PORT0 --bind 127.0.0.1 "
          "--directory empty")

SLAVES = 5


class ServicesClusterTests(TestCase):
    """
    mesos-services keeping a service up through crashes, a bad deploy, a
    scale and its own failover.
    """

    timeout = 420

    @inlineCallbacks
    def setUp(self):
        ensemble = yield start_ensemble(self, reactor, size=1)
        try:
            self.cluster = ProcessCluster(reactor, self.mktemp(), ensemble.url("/mesos"),
                                          "4secs")
        except ClusterUnavailable as error:
            raise SkipTest(str(error)) from None
        self.addCleanup(self.cluster.stop)
        self.directory = self.cluster.directory
        self.cluster.start_master()
        base = 61000 + 100 * random.randrange(30)
        for index in range(SLAVES):
            port = free_port()
            ports = f"[{base + 10 * index}-{base + 10 * index + 9}]"
            daemon = self.cluster.spawn(
                f"slave {index}", "mesos-slave", f"--master={self.cluster.zk_url}",
                "--ip=127.0.0.1", f"--port={port}", f"--hostname=node-{index}",
                "--zk_session_timeout=4secs",
                f"--work_dir={os.path.join(self.directory, f'slave-{index}')}",
                f"--resources=cpus:1;mem:512;disk:100;ports:{ports}")
            self.cluster.slaves.append(daemon)
        yield self.cluster.wait_for(lambda port, state: len(state["slaves"]) == SLAVES,
                                    f"{SLAVES} slaves to register")
        zk = ensemble.url("/services")
        self.services = {}
        for name in ("a", "b"):
            port = free_port()
            self.services[port] = self.cluster.spawn(
                f"services {name} :{port}", "mesos-services", f"--master={self.cluster.zk_url}",
                f"--zk={zk}", f"--http_port={port}", "--hostname=127.0.0.1",
                "--zk_session_timeout=4000", "--failover_timeout=300")
            self.cluster.masters[port] = self.services[port]
        self.leader = yield self.until(self.leading_port, "a leading mesos-services")

    def logs(self):
        return self.cluster.logs()

    @inlineCallbacks
    def call(self, method, path, body=None, port=None):
        """
        C{(code, JSON)} of a call on the leader (or C{port}).
        """
        port = port or self.leader
        data = None if body is None else json.dumps(body).encode()
        try:
            response = yield treq.request(method, f"http://127.0.0.1:{port}{path}", data=data,
                                          persistent=False, allow_redirects=False, timeout=10)
            content = yield response.content()
        except Exception as error:
            return None, str(error)
        try:
            return response.code, json.loads(content)
        except ValueError:
            return response.code, content.decode(errors="replace")

    def until(self, probe, what):
        """
        Poll C{probe()} (a Deferred) every half second until it fires with
        something true; that value.
        """
        return until(reactor, probe, what, deadline=120.0, interval=0.5,
                     details=lambda last: f"last: {last!r}\n{self.logs()}")

    @inlineCallbacks
    def leading_port(self, exclude=()):
        for port, daemon in self.services.items():
            if port in exclude or not daemon.running:
                continue
            code, info = yield self.call("GET", "/v2/info", port=port)
            if code == 200 and info.get("elected") and info.get("frameworkId"):
                return port
        return None

    @inlineCallbacks
    def app(self):
        code, body = yield self.call("GET", "/v2/apps/web")
        return body["app"] if code == 200 else None

    def settled(self, count, exclude=()):
        """
        A probe: the app with C{count} healthy instances, none of
        C{exclude}, and no deployment under way.
        """
        @inlineCallbacks
        def probe():
            app = yield self.app()
            if app is None or app["deployments"] or app["tasksHealthy"] != count:
                return None
            if len(app["tasks"]) != count or {t["id"] for t in app["tasks"]} & set(exclude):
                return None
            return app
        return probe

    def sandbox(self, task_id):
        """
        The sandbox of an instance's run on its slave.
        """
        [path] = glob.glob(os.path.join(self.directory, "slave-*", "slaves", "*", "frameworks",
                                        "*", "executors", task_id, "runs", "latest"))
        return path

    @inlineCallbacks
    def serves(self, task):
        response = yield treq.get(f"http://127.0.0.1:{task['ports'][0]}/health",
                                  persistent=False, timeout=10)
        yield response.content()
        return response.code

    @inlineCallbacks
    def test_service_stays_up(self):
        """
        Deploy, crash, unhealthy, bad deploy cancelled, scale, failover.
        """
        code, created = yield self.call("POST", "/v2/apps", {
            "id": "/web", "cmd": SERVE, "instances": 3, "cpus": 0.1, "mem": 32,
            "constraints": [["hostname", "UNIQUE"]], "backoffSeconds": 0.5,
            "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/health", "portIndex": 0,
                              "delaySeconds": 0, "intervalSeconds": 1, "timeoutSeconds": 5,
                              "gracePeriodSeconds": 60, "maxConsecutiveFailures": 2}]})
        self.assertEqual(code, 201, created)
        app = yield self.until(self.settled(3), "3 healthy instances")
        self.assertEqual(len({t["host"] for t in app["tasks"]}), 3)
        for task in app["tasks"]:
            self.assertEqual((yield self.serves(task)), 200)

        # An instance's process dies: it is replaced.
        crashed = app["tasks"][0]["id"]
        pids = subprocess.run(
            ["pgrep", "-f", f"http.server {app['tasks'][0]['ports'][0]} "],
            capture_output=True, text=True).stdout.split()
        self.assertEqual(len(pids), 1, pids)
        os.kill(int(pids[0]), signal.SIGKILL)
        app = yield self.until(self.settled(3, exclude=[crashed]), "the crashed one replaced")

        # An instance turns unhealthy: it is killed and replaced.
        sick = app["tasks"][0]["id"]
        os.remove(os.path.join(self.sandbox(sick), "www", "health"))
        app = yield self.until(self.settled(3, exclude=[sick]), "the unhealthy one replaced")
        before = {t["id"] for t in app["tasks"]}
        version = app["version"]

        # A version that never becomes healthy leaves the old ones serving;
        # its deployment is cancelled, and rolled back.
        code, body = yield self.call("PUT", "/v2/apps/web", {"cmd": BROKEN})
        self.assertEqual(code, 200, body)

        @inlineCallbacks
        def new_ones_running():
            app = yield self.app()
            if app is None:
                return None
            fresh = [t for t in app["tasks"] if t["id"] not in before]
            return app if len(fresh) == 2 and all(
                t["state"] == "TASK_RUNNING" for t in fresh) else None

        app = yield self.until(new_ones_running, "two instances of the bad version running")
        old = [t for t in app["tasks"] if t["id"] in before]
        self.assertEqual(len(old), 3)
        for task in old:
            self.assertEqual((yield self.serves(task)), 200)
        code, body = yield self.call("DELETE", f"/v2/deployments/{body['deploymentId']}")
        self.assertEqual(code, 200, body)
        app = yield self.until(self.settled(3), "the rollback")
        self.assertEqual({t["id"] for t in app["tasks"]}, before)
        self.assertEqual(app["version"], version)

        # Scale to 5 and back to 3 (a scale is not a new version).
        code, body = yield self.call("PUT", "/v2/apps/web", {"instances": 5})
        self.assertEqual(code, 200, body)
        app = yield self.until(self.settled(5), "5 healthy instances")
        self.assertEqual(len({t["host"] for t in app["tasks"]}), 5)
        code, body = yield self.call("PUT", "/v2/apps/web", {"instances": 3})
        self.assertEqual(code, 200, body)
        app = yield self.until(self.settled(3), "back to 3")
        self.assertEqual(app["version"], version)
        running = {t["id"]: t["startedAt"] for t in app["tasks"]}

        # The leading mesos-services dies: the other takes over, with the
        # same framework, and restarts nothing.
        code, info = yield self.call("GET", "/v2/info")
        yield self.services[self.leader].kill()
        self.leader = yield self.until(lambda: self.leading_port(exclude=[self.leader]),
                                       "the other mesos-services to lead")
        code, info_after = yield self.call("GET", "/v2/info")
        self.assertEqual(info_after["frameworkId"], info["frameworkId"])
        app = yield self.until(self.settled(3), "the instances reconciled")
        self.assertEqual({t["id"]: t["startedAt"] for t in app["tasks"]}, running)
