"""
Tests for the slave's v1 operator API (L{mesos_tw.slave.operator_api}), in
memory: a real slave with a fake isolator and a recording master, calls
POSTed as in-memory requests.  The names follow Mesos's C{AgentAPITest}.
"""

import json
import os

from mesos_tw import __version__
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.agent_pb2 import Call, Response
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.testing.v1 import CallRequest
from mesos_tw.web.v1 import JSON, PROTOBUF, encode
from mesos_tw.testing.slave import SlaveTestCase


class AgentAPITests(SlaveTestCase):
    """
    The slave's calls, one by one.
    """

    def setUp(self):
        super().setUp()
        self.http = SlaveHTTP(self.slave, {"flags": {"work_dir": self.work_dir}})

    def post(self, message, media=PROTOBUF):
        """
        POST C{message}; the request, its C{body} the answer.
        """
        request = CallRequest(encode(message, media), media, {"Accept": media},
                              path=b"/api/v1")
        request.body = self.http.operator_api.answer(request)
        return request

    def ask(self, kind, **parts):
        """
        The C{Response} to a call of type C{kind}.
        """
        request = self.post(Call(type=getattr(Call, kind), **parts))
        self.assertEqual(request.responseCode, 200, request.body)
        return Response.FromString(request.body)

    def test_get_health(self):
        """
        GetHealth: healthy.
        """
        self.assertTrue(self.ask("GET_HEALTH").get_health.healthy)

    def test_get_flags(self):
        """
        GetFlags: the slave's flags.
        """
        (flag,) = self.ask("GET_FLAGS").get_flags.flags
        self.assertEqual((flag.name, flag.value), ("work_dir", self.work_dir))

    def test_get_version_and_metrics(self):
        """
        GetVersion and GetMetrics.
        """
        self.assertEqual(self.ask("GET_VERSION").get_version.version_info.version, __version__)
        metrics = {m.name: m.value for m in self.ask("GET_METRICS").get_metrics.metrics}
        self.assertEqual(metrics["slave/cpus_total"], 2.0)

    def test_get_containers(self):
        """
        GetContainers: one container per running executor, its id the
        executor run's.
        """
        self.register()
        self.run_task("t1")
        (container,) = self.ask("GET_CONTAINERS").get_containers.containers
        framework = self.slave.frameworks["F1"]
        executor = framework.executors["t1"]
        self.assertEqual((container.framework_id.value, container.executor_id.value,
                          container.container_id.value), ("F1", "t1", executor.run_id))

    def test_get_state_tasks_executors_frameworks(self):
        """
        GetState (and its parts): the framework, its executor, and its task
        waiting for the executor to register.
        """
        self.register()
        self.run_task("t1")
        state = self.ask("GET_STATE").get_state
        self.assertEqual(
            ([f.framework_info.name for f in state.get_frameworks.frameworks],
             [e.executor_info.executor_id.value for e in state.get_executors.executors],
             [(t.task_id.value, t.state, t.framework_id.value)
              for t in state.get_tasks.queued_tasks]),
            (["fw"], ["t1"], [("t1", mesos_pb2.TASK_STAGING, "F1")]))
        self.assertEqual(self.ask("GET_TASKS").get_tasks, state.get_tasks)

    def test_read_file(self):
        """
        ReadFile: part of a sandbox file and its size (JSON has the data in
        base64); outside the work directory is a 403, a missing file a 404.
        """
        sandbox = os.path.join(os.path.abspath(self.work_dir), "sandbox")
        os.makedirs(sandbox)
        path = os.path.join(sandbox, "stdout")
        with open(path, "wb") as file:
            file.write(b"hello\n")
        request = self.post(Call(type=Call.READ_FILE, read_file=Call.ReadFile(
            path=path, offset=0)), media=JSON)
        self.assertEqual(json.loads(request.body)["read_file"], {"size": 6, "data": "aGVsbG8K"})
        (info,) = self.ask("LIST_FILES", list_files=Call.ListFiles(
            path=sandbox)).list_files.file_infos
        self.assertEqual(info.path, path)
        outside = self.post(Call(type=Call.READ_FILE, read_file=Call.ReadFile(
            path="/etc/passwd", offset=0)))
        self.assertEqual(outside.responseCode, 403)
        missing = self.post(Call(type=Call.READ_FILE, read_file=Call.ReadFile(
            path=path + ".gone", offset=0)))
        self.assertEqual(missing.responseCode, 404)

    def test_unserved_call(self):
        """
        A call the slave does not serve is a 400 naming it.
        """
        request = self.post(Call(type=Call.LAUNCH_CONTAINER))
        self.assertEqual(request.responseCode, 400)
        self.assertIn(b"LAUNCH_CONTAINER is not served by the slave", request.body)
