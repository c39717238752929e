"""
The web UI's pages on a secured cluster: the user's HTTP credentials are
passed on to the slave the page reads (a slave asking for them checks the
user's own), the ACLs decide what each user sees (C{view_frameworks},
C{view_tasks}, C{view_executors}) and reads (C{access_sandboxes}), and with
TLS the slaves are read over HTTPS and downloads link to C{https://}.  A
real master and slave on an in-memory network; both HTTP apps behind
Basic authentication, as C{--authenticate_http_readonly} puts them.
"""

import base64
import json
import os

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.authorization.acls import parse_acls
from mesos_tw.authorization.local import LocalAuthorizer
from mesos_tw.detector import StandaloneDetector
from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.tls import TLSConfig
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.web.authentication import guarded, master_realm, slave_realm
from mesos_tw.web.layout import browse_link, download_link, tail_link

MASTER = UPID("master", "127.0.0.1", 5050)
SLAVE = UPID("slave(1)", "127.0.0.1", 5051)

CREDENTIALS = mesos_pb2.Credentials(credentials=[
    mesos_pb2.Credential(principal=name, secret=f"{name}-secret")
    for name in ("ops", "viewer", "fw", "executors")])

#: Any framework may register and run tasks; ops sees and reads everything
#: of alice's; viewer sees frameworks only; executors frameworks and
#: executors, not tasks; fw nothing.
ACLS = {
    "permissive": False,
    "register_frameworks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}],
    "run_tasks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
    "view_frameworks": [{"principals": {"values": ["ops", "viewer", "executors"]},
                         "users": {"type": "ANY"}}],
    "view_tasks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
    "view_executors": [{"principals": {"values": ["ops", "executors"]},
                        "users": {"type": "ANY"}}],
    "access_sandboxes": [{"principals": {"values": ["ops"]}, "users": {"values": ["alice"]}}],
}


class RecordingHTTP:
    """
    A treq-like client that passes requests on, keeping their URLs.
    """

    def __init__(self, inner):
        self.inner = inner
        self.urls = []

    def get(self, url, **kwargs):
        self.urls.append(url)
        return self.inner.get(url, **kwargs)


class SecuredPagesTests(SynchronousTestCase):
    """
    The UI of a master and slave that ask for credentials and apply ACLs,
    with alice's framework running one task.
    """

    def setUp(self):
        self.clock = Clock()
        network = MemoryNetwork(self.clock)
        authorizer = LocalAuthorizer(parse_acls(json.dumps(ACLS)))
        self.master = Master(self.clock, network.node(MASTER), authorizer=authorizer)
        self.master.start()
        self.addCleanup(self.master.stop)
        self.slave = Slave(
            self.clock, network.node(SLAVE), StandaloneDetector(MASTER), FakeIsolator(self.clock),
            os.path.abspath(self.mktemp()), Resources.parse("cpus:4;mem:2048"),
            hostname="node-a", python="python3", environ={"PATH": "/bin"})
        self.slave.start()
        self.addCleanup(self.slave.stop)
        self.deliver()
        scheduler = RecordingPeer(network, UPID("scheduler-1", "127.0.0.1", 0))
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="alice", name="alices-fw")))
        self.deliver()
        self.framework_id = scheduler.last(internal.FrameworkRegisteredMessage).framework_id.value
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.slave_id = offer.slave_id.value
        scheduler.send(MASTER, internal.LaunchTasksMessage(
            framework_id=offer.framework_id, offer_id=offer.id, filters=mesos_pb2.Filters(),
            tasks=[mesos_pb2.TaskInfo(
                name="t", task_id=mesos_pb2.TaskID(value="sleeper"), slave_id=offer.slave_id,
                resources=Resources.parse("cpus:1;mem:64").to_protobuf(),
                command=mesos_pb2.CommandInfo(value="sleep 60"))]))
        self.deliver()
        self.sandbox = self.slave.frameworks[self.framework_id].executors["sleeper"].directory
        with open(os.path.join(self.sandbox, "stdout"), "w") as stdout:
            stdout.write("alice's output\n")
        self.slave_http = RecordingHTTP(StubTreq(guarded(
            SlaveHTTP(self.slave, authorizer=authorizer).resource(),
            CREDENTIALS, {"readonly"}, "mesos-agent", slave_realm)))
        self.client = self.master_client()

    def master_client(self, tls=None):
        """
        An in-memory client of the master's HTTP app (with C{tls}).
        """
        return StubTreq(guarded(
            MasterHTTP(SoleMaster(self.master), slave_http=self.slave_http,
                       authorizer=self.master.authorizer, tls=tls).resource(),
            CREDENTIALS, {"readonly"}, "mesos-master", master_realm))

    def deliver(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def get(self, path, principal, client=None, scheme="http"):
        """
        C{(code, text)} of a GET of C{path} as C{principal}.
        """
        credentials = base64.b64encode(f"{principal}:{principal}-secret".encode()).decode()
        response = self.successResultOf((client or self.client).get(
            f"{scheme}://master{path}", headers={"Authorization": "Basic " + credentials}))
        return response.code, self.successResultOf(response.content()).decode()

    def executor_page(self):
        """
        The path of the sleeper's executor page.
        """
        return f"/ui/slaves/{self.slave_id}/frameworks/{self.framework_id}/executors/sleeper"

    def test_credentials_passed_on(self):
        """
        The slave asks for credentials: the pages reading it pass the
        user's on, so ops sees the slave's executors, the executor's page
        and the sandbox.
        """
        code, body = self.get(f"/ui/slaves/{self.slave_id}", "ops")
        self.assertEqual(code, 200)
        self.assertIn(f'href="{self.executor_page()}"', body)
        self.assertNotIn("did not answer", body)
        self.assertEqual(self.get(self.executor_page(), "ops")[0], 200)
        code, body = self.get(browse_link(self.slave_id, self.sandbox), "ops")
        self.assertEqual(code, 200)
        self.assertIn("stdout", body)
        stdout = os.path.join(self.sandbox, "stdout")
        self.assertEqual(self.get(tail_link(self.slave_id, stdout), "ops")[0], 200)
        code, body = self.get(f"/ui/slaves/{self.slave_id}/files/read?path={stdout}", "ops")
        self.assertEqual(json.loads(body)["data"], "alice's output\n")
        self.assertEqual(self.get(download_link(self.slave_id, stdout), "ops"),
                         (200, "alice's output\n"))

    def test_view_frameworks(self):
        """
        viewer sees the framework but not its tasks nor executors; fw does
        not see it at all (left out of the lists, a 403 on its page);
        executors sees the executor's page without its tasks.
        """
        for path in ("/", "/ui/frameworks", f"/ui/frameworks/{self.framework_id}"):
            self.assertIn("alices-fw", self.get(path, "viewer")[1], path)
            self.assertNotIn("alices-fw", self.get(path, "fw")[1], path)
        self.assertIn("sleeper", self.get(f"/ui/frameworks/{self.framework_id}", "ops")[1])
        self.assertNotIn("sleeper", self.get(f"/ui/frameworks/{self.framework_id}", "viewer")[1])
        self.assertEqual(self.get(f"/ui/frameworks/{self.framework_id}", "fw"),
                         (403, "Not authorized to view frameworks of 'alice'\n"))
        # The launch's filter refuses the rest of the slave for 5 seconds.
        self.clock.advance(6)
        self.deliver()
        self.assertTrue(self.master.offers)
        self.assertIn(self.framework_id, self.get("/ui/offers", "ops")[1])
        self.assertNotIn(self.framework_id, self.get("/ui/offers", "fw")[1])
        code, body = self.get(f"/ui/slaves/{self.slave_id}", "viewer")
        self.assertEqual(code, 200)
        self.assertNotIn(self.executor_page(), body)
        self.assertNotIn("sleeper", body)
        self.assertEqual(self.get(self.executor_page(), "viewer"),
                         (403, "Not authorized to view executors of 'alice'\n"))
        ops_page = self.get(self.executor_page(), "ops")[1]
        self.assertIn("<code>sleeper</code>", executor_tasks(ops_page))
        code, body = self.get(self.executor_page(), "executors")
        self.assertEqual(code, 200)
        self.assertNotIn("<code>sleeper</code>", executor_tasks(body))

    def test_access_sandboxes(self):
        """
        Only ops may read alice's sandbox: viewer's browse, tail, read and
        download are 403s saying so, before the slave is asked.
        """
        stdout = os.path.join(self.sandbox, "stdout")
        asked = len(self.slave_http.urls)
        for path in (browse_link(self.slave_id, self.sandbox), tail_link(self.slave_id, stdout),
                     f"/ui/slaves/{self.slave_id}/files/read?path={stdout}",
                     download_link(self.slave_id, stdout)):
            self.assertEqual(self.get(path, "viewer"),
                             (403, "Not authorized to access sandboxes of 'alice'\n"), path)
        self.assertEqual(len(self.slave_http.urls), asked)

    def test_tls(self):
        """
        With TLS, the master reads its slaves over HTTPS, for the pages and
        the downloads it relays.
        """
        client = self.master_client(TLSConfig.from_settings({"enabled": "true"}))
        stdout = os.path.join(self.sandbox, "stdout")
        self.assertEqual(self.get(browse_link(self.slave_id, self.sandbox), "ops", client,
                                  "https")[0], 200)
        self.assertEqual(self.get(download_link(self.slave_id, stdout), "ops", client,
                                  "https")[0], 200)
        self.assertEqual([url.split("?")[0] for url in self.slave_http.urls],
                         ["https://127.0.0.1:5051/files/browse",
                          "https://127.0.0.1:5051/files/download"])


def executor_tasks(page):
    """
    The tasks table of an executor's page.
    """
    return page.split('id="executor-tasks"', 1)[1].split("</table>", 1)[0]
