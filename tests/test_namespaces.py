"""
A functional test across real hosts with their own addresses: Linux
network namespaces on a bridge (L{mesos_tw.testing.netns}), addresses from
198.18.0.0/15, no route out.  ZooKeeper and a master share one host, two
standby masters have their own, three slaves three more, and a framework
(L{mesos_tw.testing.commanded_framework}) a seventh.  The test, on the
machine itself, reads the cluster as a user would: the leader's state and
a sandbox through the master's UI.  It runs tasks on every slave, cuts one
slave's link for a while (shorter than the master's health checks), kills
the leading master, and checks that nothing was lost.

Skips, saying why, where namespaces cannot be made (not root, no C{ip}) or
ZooKeeper is not installed.
"""

import json
import os
import signal
import sys

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import SkipTest, TestCase

from mesos_tw.testing.netns import NetworkLab, unavailable
from mesos_tw.testing.processes import ClusterUnavailable, twistd_path
from mesos_tw.testing.zookeeper_server import ZooKeeperUnavailable, zookeeper_classpath

#: How long the slave's link stays cut: well inside the master's health
#: checks (1 s pings, 10 missed), so the slave must come through it.
CUT_SECONDS = 2.0

HOSTS = ["zk", "m2", "m3", "s1", "s2", "s3", "fw"]
MASTERS = ["zk", "m2", "m3"]
SLAVES = ["s1", "s2", "s3"]


class NamespacedClusterTests(TestCase):
    """
    A cluster whose every part has its own address.
    """

    timeout = 240

    @inlineCallbacks
    def setUp(self):
        reason = unavailable()
        if reason is not None:
            raise SkipTest(reason)
        try:
            self.classpath = zookeeper_classpath()
            self.twistd = twistd_path()
        except (ZooKeeperUnavailable, ClusterUnavailable) as error:
            raise SkipTest(str(error))
        self.lab = NetworkLab(reactor)
        try:
            self.hosts = self.lab.create(HOSTS)
        except RuntimeError as error:
            raise SkipTest(f"cannot build the namespaces' network here: {error}")
        self.addCleanup(self.lab.destroy)
        self.zk = f"zk://{self.hosts['zk']}:2181/mesos"
        directory = os.path.abspath(self.mktemp())
        self.lab.spawn("zk", "zookeeper", [
            "java", "-Xmx128m", "-XX:+UseSerialGC", "-cp", self.classpath,
            "-Dzookeeper.admin.enableServer=false",
            "org.apache.zookeeper.server.ZooKeeperServerMain", "2181",
            f"{directory}/zk", "200"])
        self.masters = {host: self.lab.spawn(host, f"master {host}", [
            self.twistd, "--nodaemon", "--pidfile=", "mesos-master",
            f"--ip={self.hosts[host]}", "--port=5050", f"--zk={self.zk}",
            "--zk_session_timeout=4secs", "--slave_ping_timeout=1secs",
            "--max_slave_ping_timeouts=10"]) for host in MASTERS}
        self.slaves = {host: self.lab.spawn(host, f"slave {host}", [
            self.twistd, "--nodaemon", "--pidfile=", "mesos-slave",
            f"--ip={self.hosts[host]}", "--port=5051", f"--master={self.zk}",
            "--zk_session_timeout=4secs", f"--work_dir={directory}/{host}",
            "--resources=cpus:1;mem:256;disk:100"]) for host in SLAVES}
        self.framework = self.lab.spawn("fw", "framework", [
            sys.executable, "-m", "mesos_tw.testing.commanded_framework", self.zk])
        yield self.wait_for_event("registered")

    def events(self):
        """
        The framework's events so far.
        """
        return [json.loads(line) for line in self.framework.text(last=10 ** 7).splitlines()
                if line.startswith("{")]

    def wait_for_event(self, event, **fields):
        """
        Fire once the framework reports C{event} with C{fields} (in the
        order it prints them).
        """
        text = json.dumps({"event": event, **fields})[1:-1]
        d = self.framework.wait_for_output(reactor, text.encode("utf-8"), timeout=90.0)

        def add_output(failure):
            failure.trap(AssertionError)
            said = "\n".join(f"--- {daemon.name} ---\n{daemon.text()}"
                             for daemon in self.lab.daemons if daemon is not self.framework)
            raise AssertionError(f"{failure.value}\n{said}")

        return d.addErrback(add_output)

    def launch(self, task_id, host, command):
        """
        Have the framework run C{command} on the slave C{host}.
        """
        address = "*" if host == "*" else self.hosts[host]
        self.framework.transport.write(f"launch {task_id} {address} {command}\n".encode())

    @inlineCallbacks
    def get_json(self, host, port, path):
        """
        GET C{path} from C{host}:C{port}, from outside the namespaces (a
        standby master's redirect to the leader is not followed).
        """
        response = yield treq.get(f"http://{self.hosts[host]}:{port}{path}", timeout=10,
                                  persistent=False, allow_redirects=False)
        body = yield response.text()
        self.assertEqual(response.code, 200, body)
        return json.loads(body)

    @inlineCallbacks
    def leader(self):
        """
        The leading master's host and state, asking each master in turn.
        """
        for _ in range(600):
            for host in MASTERS:
                if not self.masters[host].running:
                    continue
                try:
                    state = yield self.get_json(host, 5050, "/master/state")
                except Exception:
                    continue
                if state.get("leader") == state.get("pid") and len(state.get("slaves", [])) == 3:
                    return host, state
            yield deferLater(reactor, 0.2, lambda: None)
        raise AssertionError("no leader with 3 slaves")

    @inlineCallbacks
    def test_cluster_across_hosts(self):
        """
        Tasks run on all three slaves, each at its own address; a sandbox is
        read through the leader's UI from outside; a slave whose link was cut
        for a while keeps its task and runs new ones; after the leader is
        killed a standby leads, the framework and slaves re-register, the
        long task is still running, and no task was lost.
        """
        leader, state = yield self.leader()
        self.assertEqual(sorted(s["hostname"] for s in state["slaves"]),
                         sorted(self.hosts[h] for h in SLAVES))
        for host in SLAVES:
            self.launch(f"hello-{host}", host, f"echo hello from {host}")
        self.launch("long", "s3", "sleep 600")
        for host in SLAVES:
            yield self.wait_for_event("update", task=f"hello-{host}", state="TASK_FINISHED")
        yield self.wait_for_event("update", task="long", state="TASK_RUNNING")

        # A sandbox, through the leader's UI, from outside.
        slave_state = yield self.get_json("s1", 5051, "/state")
        executor = [e for f in slave_state["completed_frameworks"] + slave_state["frameworks"]
                    for e in f["completed_executors"] + f["executors"]
                    if e["id"] == "hello-s1"][0]
        read = yield self.get_json(
            leader, 5050, f"/ui/slaves/{slave_state['id']}/files/read"
                          f"?path={executor['directory']}/stdout&offset=0")
        self.assertIn("hello from s1", read["data"])

        # The slave with the long task is cut off for a while.
        self.lab.link_down("s3")
        yield deferLater(reactor, CUT_SECONDS, lambda: None)
        self.lab.link_up("s3")
        self.launch("after-cut", "s3", "echo back")
        yield self.wait_for_event("update", task="after-cut", state="TASK_FINISHED")

        # The leader dies; a standby takes over.
        self.masters[leader].signal(signal.SIGKILL)
        yield self.wait_for_event("reregistered")
        new_leader, state = yield self.leader()
        self.assertNotEqual(new_leader, leader)
        tasks = {t["id"]: t["state"] for f in state["frameworks"] for t in f["tasks"]}
        self.assertEqual(tasks.get("long"), "TASK_RUNNING")
        self.launch("after-failover", "s1", "echo again")
        yield self.wait_for_event("update", task="after-failover", state="TASK_FINISHED")
        states = [e["state"] for e in self.events() if e["event"] == "update"]
        self.assertNotIn("TASK_LOST", states)
        self.assertNotIn("slave_lost", [e["event"] for e in self.events()])
