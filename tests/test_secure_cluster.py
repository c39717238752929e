"""
A secured cluster as an operator runs it (docs/security.md): a master and
two slaves as real processes speaking TLS only, with mutual TLS
(certificates required and verified), CRAM-MD5 authentication of
frameworks and slaves, HTTP authentication and ACLs.  The classic test
framework runs its tasks on it; a framework with a wrong secret, a slave
without a credential, a plain-text connection and a framework in a role
the ACLs refuse are each refused.  A pymesos framework (pymesos has no TLS
of its own) runs its tasks through stunnel, a TLS tunnel with the
framework's certificate, as an operator would give it one; curl reads the
state over HTTPS with a client certificate.  The web UI works in a real
headless Chromium over HTTPS with Basic credentials, reading slaves that
ask for credentials too.
"""

import json
import os
import shutil
import signal
import socket
import sys

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase
from twisted.web.client import Agent

from mesos_tw.protocols.tls import TLSConfig
from mesos_tw.testing.certificates import CertificateAuthority, ClientPolicy
from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.processes import CHECKOUT, FRAMEWORKS, Daemon, registered_slaves, run_twistd
from mesos_tw.testing.web import chromium, run_chromium
from mesos_tw.testing.zookeeper_server import free_port
from mesos_tw.web.layout import browse_link, download_link, tail_link
from mesos_tw.web.slave_pages import executor_link

PYMESOS_FRAMEWORK = os.path.join(FRAMEWORKS, "pymesos_framework.py")

try:
    import pymesos  # noqa: F401
except ImportError:
    PYMESOS_MISSING = "pymesos is not installed (bash scripts/install-pymesos)"
else:
    PYMESOS_MISSING = None

ACLS = {
    "permissive": False,
    "register_frameworks": [{"principals": {"values": ["scheduler"]},
                             "roles": {"values": ["*"]}}],
    "run_tasks": [{"principals": {"values": ["scheduler"]}, "users": {"type": "ANY"}}],
    "view_frameworks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
    "view_tasks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
    "view_executors": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
    "access_sandboxes": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
}


class SecureClusterTests(TestCase):
    """
    The secured cluster and its refusals.
    """

    timeout = 300

    def twistd(self, *argv):
        """
        Run C{twistd --nodaemon <argv>} (ended at cleanup).
        """
        return run_twistd(self, reactor, *argv)

    def setUp(self):
        directory = os.path.abspath(self.mktemp())
        ca = CertificateAuthority(directory)
        cert_file, key_file = ca.issue("node")
        self.tls = {"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_CERT_FILE": cert_file,
                    "LIBPROCESS_SSL_KEY_FILE": key_file, "LIBPROCESS_SSL_CA_FILE": ca.ca_file,
                    "LIBPROCESS_SSL_VERIFY_CERT": "true", "LIBPROCESS_SSL_REQUIRE_CERT": "true"}
        self.credentials = os.path.join(directory, "credentials")
        with open(self.credentials, "w") as file:
            json.dump({"credentials": [
                {"principal": "scheduler", "secret": "s3cret"},
                {"principal": "agent", "secret": "an0ther"},
                {"principal": "ops", "secret": "0ps"}]}, file)
        self.credential = os.path.join(directory, "agent-credential")
        with open(self.credential, "w") as file:
            file.write("agent an0ther\n")
        self.directory = directory
        self.port = free_port()
        self.saved = {name: os.environ.get(name) for name in self.tls}
        os.environ.update(self.tls)
        self.addCleanup(self.restore)

    def restore(self):
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def client(self):
        """
        An HTTPS client with a certificate the cluster's CA signed.
        """
        return treq.client.HTTPClient(Agent(reactor, contextFactory=ClientPolicy(
            TLSConfig.from_environ(self.tls))))

    @inlineCallbacks
    def state(self, principal="ops", secret="0ps"):
        """
        The master's state, over HTTPS with Basic credentials.
        """
        response = yield self.client().get(
            f"https://127.0.0.1:{self.port}/master/state", auth=(principal, secret))
        body = yield response.content()
        return response.code, body

    def wait_for_slaves(self, port, count, daemon):
        """
        Poll the master's state (over HTTPS, as ops) until C{count} slaves
        are registered; fire with it.  Fails at once if C{daemon} exits.
        """
        return until(reactor, lambda: registered_slaves(daemon, count, self.state),
                     f"{count} slave(s) to register", interval=0.1,
                     details=lambda _: daemon.text())

    def start_cluster(self, *flags):
        """
        The master (with C{flags} too) and two authenticated slaves, TLS
        only; the slaves' endpoints ask for credentials too.
        """
        master = self.twistd(
            "mesos-master", f"--port={self.port}", f"--credentials={self.credentials}",
            "--authenticate_frameworks=true", "--authenticate_agents=true",
            "--authenticate_http_readonly=true", "--acls=" + json.dumps(ACLS), *flags)
        for number in (1, 2):
            self.twistd("mesos-slave", f"--master=127.0.0.1:{self.port}", "--port=0",
                        f"--credential={self.credential}",
                        "--authenticate_http_readonly=true",
                        f"--http_credentials={self.credentials}",
                        f"--work_dir={os.path.join(self.directory, f'slave{number}')}",
                        "--resources=cpus:2;mem:512;disk:100")
        return master

    @inlineCallbacks
    def framework(self, principal="scheduler", secret="s3cret"):
        """
        Run the classic test framework with a credential; its exit code and
        output.
        """
        env = dict(os.environ, MESOS_AUTHENTICATE="1", DEFAULT_PRINCIPAL=principal,
                   DEFAULT_SECRET=secret)
        args = [os.path.join(FRAMEWORKS, "test_framework.py"), f"127.0.0.1:{self.port}",
                "--tasks", "3"]
        out, err, code = yield getProcessOutputAndValue(sys.executable, args, env=env,
                                                        path=CHECKOUT)
        return code, (out + err).decode(errors="replace")

    @inlineCallbacks
    def test_secure_cluster(self):
        """
        The classic test framework runs its tasks on the secured cluster;
        a wrong secret is refused with Mesos's message; a slave without a
        credential never registers; plain text and a wrong password are
        refused; so is a principal the ACLs do not let register.
        """
        master = self.start_cluster()
        yield self.wait_for_slaves(self.port, 2, master)
        code, output = yield self.framework()
        self.assertEqual(code, 0, output)
        self.assertIn("All 3 tasks finished", output)

        code, output = yield self.framework(secret="wrong")
        self.assertNotEqual(code, 0)
        self.assertIn("Master refused authentication", output)

        code, output = yield self.framework(principal="ops", secret="0ps")
        self.assertNotEqual(code, 0)
        self.assertIn("Not authorized to register framework with roles { * }", output)

        mark = len(master.output)
        stranger = self.twistd("mesos-slave", f"--master=127.0.0.1:{self.port}", "--port=0",
                               f"--work_dir={os.path.join(self.directory, 'stranger')}",
                               "--resources=cpus:1;mem:128;disk:10")
        yield master.wait_for_output(reactor, b"because it is not authenticated", since=mark)
        self.assertTrue(stranger.running)
        self.assertEqual(len(json.loads((yield self.state())[1])["slaves"]), 2)

        with socket.create_connection(("127.0.0.1", self.port)) as plain:
            plain.sendall(b"GET /master/state HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = plain.recv(100)
            except ConnectionResetError:
                answer = b""
            self.assertEqual(answer, b"")
        self.assertEqual((yield self.state(secret="wrong"))[0], 401)

    def tunnel(self, stunnel):
        """
        Start stunnel in client mode: plain connections to a local port
        leave as TLS to the master, with the node's certificate, the
        master's checked against the CA and its address.

        @return: the tunnel's daemon and port.
        """
        port = free_port()
        config = os.path.join(self.directory, "stunnel.conf")
        with open(config, "w") as file:
            file.write("\n".join([
                "foreground = yes", "pid =", "[mesos-master]", "client = yes",
                f"accept = 127.0.0.1:{port}", f"connect = 127.0.0.1:{self.port}",
                f"cert = {self.tls['LIBPROCESS_SSL_CERT_FILE']}",
                f"key = {self.tls['LIBPROCESS_SSL_KEY_FILE']}",
                f"CAfile = {self.tls['LIBPROCESS_SSL_CA_FILE']}",
                "verifyChain = yes", "checkIP = 127.0.0.1", ""]))
        daemon = Daemon("stunnel")
        reactor.spawnProcess(daemon, stunnel, [stunnel, config], env=os.environ.copy())
        self.addCleanup(ended, daemon)
        return daemon, port

    @inlineCallbacks
    def test_pymesos_and_curl(self):
        """
        With C{--authenticate_http_frameworks}, a pymesos framework
        authenticated with HTTP Basic runs its tasks through stunnel; the
        master's state then shows it; curl reads the state over HTTPS with
        a client certificate and Basic credentials.
        """
        if PYMESOS_MISSING:
            raise SkipTest(PYMESOS_MISSING)
        stunnel = shutil.which("stunnel4") or shutil.which("stunnel")
        curl = shutil.which("curl")
        if stunnel is None or curl is None:
            raise SkipTest("stunnel and curl are needed (Debian's stunnel4 and curl)")
        master = self.start_cluster("--authenticate_http_frameworks=true")
        yield self.wait_for_slaves(self.port, 2, master)
        tunnel, port = self.tunnel(stunnel)
        yield tunnel.wait_for_output(reactor, b"Configuration successful")
        out, err, code = yield getProcessOutputAndValue(
            sys.executable, [PYMESOS_FRAMEWORK, f"127.0.0.1:{port}", "--tasks", "3",
                             "--timeout", "150",  # its default, 60 s, is short under load
                             "--principal", "scheduler", "--secret", "s3cret"],
            env=os.environ.copy(), path=CHECKOUT)
        output = (out + err).decode(errors="replace")
        self.assertEqual(code, 0, output)
        self.assertIn("All 3 tasks finished", output)

        out, err, code = yield getProcessOutputAndValue(curl, [
            "--silent", "--show-error", "--cacert", self.tls["LIBPROCESS_SSL_CA_FILE"],
            "--cert", self.tls["LIBPROCESS_SSL_CERT_FILE"],
            "--key", self.tls["LIBPROCESS_SSL_KEY_FILE"], "--user", "ops:0ps",
            f"https://127.0.0.1:{self.port}/master/state"])
        self.assertEqual(code, 0, err)
        state = json.loads(out)
        self.assertEqual(len(state["slaves"]), 2)
        framework, = state["completed_frameworks"] or state["frameworks"]
        self.assertEqual((framework["name"], framework["principal"]),
                         ("pymesos command framework", "scheduler"))

    @inlineCallbacks
    def test_web_ui_in_chromium(self):
        """
        The web UI in a real headless Chromium over HTTPS with Basic
        credentials (this master also takes clients without a certificate,
        as browsers are): the slave's page lists the executors the test
        framework ran, read from a slave that asks for credentials, over
        mutual TLS; the sandbox page lists the executor's stdout; curl
        downloads it through the master's relay.
        """
        browser = chromium()
        master = self.start_cluster("--ssl_require_cert=false")
        yield self.wait_for_slaves(self.port, 2, master)
        code, output = yield self.framework()
        self.assertEqual(code, 0, output)
        framework, = json.loads((yield self.state())[1])["completed_frameworks"]
        task = framework["completed_tasks"][0]
        slave = next(s for s in json.loads((yield self.state())[1])["slaves"]
                     if s["id"] == task["slave_id"])
        response = yield self.client().get(
            f"https://{slave['pid'].split('@')[1]}/slave(1)/state", auth=("ops", "0ps"))
        slave_state = json.loads((yield response.content()))
        # The executor may still be ending: running or completed.
        executor = next(e for f in slave_state["completed_frameworks"] + slave_state["frameworks"]
                        for e in f["executors"] + f["completed_executors"]
                        if e["id"] == (task["executor_id"] or task["id"]))

        profile = os.path.abspath(self.mktemp())

        @inlineCallbacks
        def dom(path):
            out, err, code = yield run_chromium(reactor, browser, [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--user-data-dir={profile}", "--ignore-certificate-errors",
                "--dump-dom", f"https://ops:0ps@127.0.0.1:{self.port}{path}"])
            self.assertEqual(code, 0, err.decode(errors="replace"))
            # Chromium prints nothing, and exits 0, when the page fails to load
            # (its standard error says why: "Page load failed: net::...").
            self.assertTrue(out.strip(), err.decode(errors="replace"))
            return out.decode(errors="replace")

        page = yield dom(f"/ui/slaves/{slave['id']}")
        self.assertIn(executor_link(slave["id"], framework["id"], executor["id"]), page)
        self.assertNotIn("did not answer", page)
        stdout = os.path.join(executor["directory"], "stdout")
        page = yield dom(browse_link(slave["id"], executor["directory"]))
        self.assertIn(tail_link(slave["id"], stdout).replace("&", "&amp;"), page)
        out, err, code = yield getProcessOutputAndValue(shutil.which("curl"), [
            "--silent", "--show-error", "--cacert", self.tls["LIBPROCESS_SSL_CA_FILE"],
            "--user", "ops:0ps",
            f"https://127.0.0.1:{self.port}{download_link(slave['id'], stdout)}"])
        self.assertEqual(code, 0, err)
        with open(stdout, "rb") as file:
            self.assertEqual(out, file.read())


def ended(daemon):
    """
    Terminate C{daemon} if it runs; fires once it has ended.
    """
    daemon.signal(signal.SIGTERM)
    return daemon.ended
