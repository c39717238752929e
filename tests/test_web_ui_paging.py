"""
Tests for the web UI's long tables, rendered in memory: for a large cluster
the pages stay small (the first slaves on the dashboard, the rest a page at
a time).
"""

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.interface import mesos_pb2
from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.master import MASTER
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer


class LongTablesTests(SynchronousTestCase):
    """
    Pages stay small for a large cluster: the dashboard lists the first
    slaves only, and the slaves, offers and a framework's tasks come a page
    at a time.
    """

    def setUp(self):
        """
        Build the cluster the tests look at.
        """
        clock = Clock()
        network = MemoryNetwork(clock)
        self.master = Master(clock, network.node(MASTER))
        self.master.start()
        self.addCleanup(self.master.stop)
        for number in range(25):
            RecordingPeer(network, UPID("slave(1)", f"10.0.0.{number}", 5051)).send(
                MASTER, internal.RegisterSlaveMessage(slave=mesos_pb2.SlaveInfo(
                    hostname=f"node-{number}",
                    resources=Resources.parse("cpus:4;mem:1024").to_protobuf())))
        scheduler = RecordingPeer(network, UPID("scheduler-1", "127.0.0.1", 0))
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="u", name="long")))
        for _ in range(5):
            clock.advance(0)
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.framework_id = offer.framework_id.value
        tasks = [mesos_pb2.TaskInfo(
            name=f"task-{n}", task_id=mesos_pb2.TaskID(value=f"task-{n}"),
            slave_id=offer.slave_id, resources=Resources.parse("cpus:1;mem:10").to_protobuf(),
            command=mesos_pb2.CommandInfo(value="true")) for n in range(3)]
        scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=offer.framework_id, offer_id=offer.id, tasks=tasks,
            filters=mesos_pb2.Filters()))
        for _ in range(5):
            clock.advance(0)
        self.client = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())

    def get(self, path):
        """
        GET C{path}: the response and its text.
        """
        response = self.successResultOf(self.client.get("http://master" + path))
        return response, self.successResultOf(response.content()).decode()

    def slave_rows(self, body):
        """
        How many slaves the page's slaves table lists.
        """
        table = body.split('id="slaves"', 1)[1].split("</table>", 1)[0]
        return table.count('<a href="/ui/slaves/')

    def test_dashboard_lists_first_slaves(self):
        """
        The dashboard lists 20 of the 25 slaves and links the rest.
        """
        _, body = self.get("/")
        self.assertEqual(self.slave_rows(body), 20)
        self.assertIn('and 5 more: <a href="/ui/slaves">all slaves</a>', body)

    def test_slaves_pages(self):
        """
        /slaves shows C{limit} slaves from C{offset}, says which, and links
        the previous and next pages.
        """
        _, body = self.get("/ui/slaves?limit=10")
        self.assertEqual(self.slave_rows(body), 10)
        self.assertIn("Showing 1\u201310 of 25", body)
        self.assertIn('href="/ui/slaves?offset=10&amp;limit=10"', body)
        _, body = self.get("/ui/slaves?offset=20&limit=10")
        self.assertEqual(self.slave_rows(body), 5)
        self.assertIn("Showing 21\u201325 of 25", body)
        self.assertIn('href="/ui/slaves?offset=10&amp;limit=10"', body)
        self.assertNotIn("next", body)
        _, body = self.get("/ui/slaves")
        self.assertEqual(self.slave_rows(body), 25)
        self.assertNotIn("Showing", body)
        _, body = self.get("/ui/slaves?offset=30&limit=10")
        self.assertEqual(self.slave_rows(body), 0)
        self.assertIn("Nothing from 31: there are 25", body)

    def test_offset_past_any_table(self):
        """
        An offset near the largest integer (the fuzzer's, which once got a
        500) is an empty page like any offset past the end.
        """
        for path in ("/ui/slaves?offset=9223372036854775708",
                     "/ui/offers?offset=99999999999999999999&limit=100"):
            response, body = self.get(path)
            self.assertEqual(response.code, 200, path)
            self.assertIn("Nothing from", body, path)

    def test_framework_tasks_pages(self):
        """
        A framework's unfinished tasks come a page at a time.
        """
        _, body = self.get(f"/ui/frameworks/{self.framework_id}?limit=2")
        self.assertIn("Showing 1\u20132 of 3", body)
        table = body.split('id="tasks"', 1)[1].split("</table>", 1)[0]
        self.assertEqual(table.count("<tr>") - 1, 2)

    def test_bad_page_arguments(self):
        """
        A malformed offset or limit is a 400 naming it.
        """
        for path, text in (("/ui/slaves?offset=x", "offset must be an integer"),
                           ("/ui/slaves?limit=0", "limit must be at least 1"),
                           ("/ui/offers?offset=-1", "offset must be at least 0"),
                           (f"/ui/frameworks/{self.framework_id}?limit=no",
                            "limit must be an integer")):
            response, body = self.get(path)
            self.assertEqual(response.code, 400, path)
            self.assertIn(text, body)
