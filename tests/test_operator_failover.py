"""
An operator's SUBSCRIBE stream across a master failover, on a real
ZooKeeper ensemble with masters and slaves as ``twistd`` processes (as
Mesos's C{MasterAPITest.MasterFailover} and C{Subscribe}): the stream,
opened through L{mesos_tw.cli.client.MasterClient} with the C{zk://} URL,
sees a task added and running, a slave come, the leader die, the stream
start again with the new leader's whole state, then the task finish and a
slave go.
"""

import os
import signal

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks

from twisted.trial.unittest import SkipTest, TestCase

from mesos_tw.cli.client import MasterClient
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.master_pb2 import Event
from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.processes import ClusterUnavailable, ProcessCluster
from mesos_tw.testing.scheduler import RecordingScheduler
from mesos_tw.testing.zookeeper_server import start_ensemble

#: Short enough to keep the test quick, long enough for a loaded machine.
SESSION_TIMEOUT = 2.0


class SubscribeAcrossFailoverTests(TestCase):
    """
    The event stream follows the leader.
    """

    timeout = 180

    @inlineCallbacks
    def start_cluster(self, masters, slaves):
        """
        A ZooKeeper server, the masters and the slaves, once a leader has
        every slave registered.
        """
        self.ensemble = yield start_ensemble(self, reactor, size=1)
        self.url = self.ensemble.url("/mesos")
        try:
            self.cluster = ProcessCluster(reactor, self.mktemp(), self.url,
                                          f"{SESSION_TIMEOUT}secs")
        except ClusterUnavailable as error:
            raise SkipTest(str(error)) from None
        self.addCleanup(self.cluster.stop)
        for _ in range(masters):
            self.cluster.start_master()
        for _ in range(slaves):
            self.cluster.start_slave()
        yield self.cluster.wait_for(lambda port, state: len(state["slaves"]) == slaves,
                                    f"{slaves} slaves to register")

    def start_framework(self):
        """
        A recording scheduler whose driver finds the leader in ZooKeeper.
        """
        scheduler = RecordingScheduler(reactor)
        driver = MesosSchedulerDriver(scheduler, mesos_pb2.FrameworkInfo(
            user="", name="operator test", failover_timeout=120), self.url, reactor=reactor)
        driver.start()
        self.addCleanup(driver.abort)
        return scheduler

    def kinds(self, events, since=0):
        """
        The names of the types of C{events[since:]}.
        """
        return [Event.Type.Name(event.type) for event in events[since:]]

    def view_since(self, events, since):
        """
        The task ids and the number of slaves a client knows from the
        latest C{SUBSCRIBED} in C{events[since:]} (the stream subscribes
        again whenever it loses its leader) and the events after it.
        """
        tasks, agents, subscribed = set(), set(), False
        for event in events[since:]:
            if event.type == Event.SUBSCRIBED:
                subscribed = True
                state = event.subscribed.get_state
                tasks = {t.task_id.value for t in state.get_tasks.tasks}
                agents = {a.agent_info.id.value for a in state.get_agents.agents}
            elif subscribed and event.type == Event.TASK_ADDED:
                tasks.add(event.task_added.task.task_id.value)
            elif subscribed and event.type == Event.AGENT_ADDED:
                agents.add(event.agent_added.agent.agent_info.id.value)
        return tasks, len(agents)

    @inlineCallbacks
    def test_stream_follows_leader(self):
        """
        TASK_ADDED, TASK_UPDATED (running) and AGENT_ADDED on the first
        leader's stream; after the leader is killed the client subscribes
        with the new leader, whose SUBSCRIBED and the events after it show
        the running task and both slaves (however many had re-registered by
        then); then TASK_UPDATED (finished) and AGENT_REMOVED.
        """
        yield self.start_cluster(masters=2, slaves=1)
        client = MasterClient(reactor, self.url)
        self.addCleanup(client.stop)
        events = []
        stream = client.subscribe(events.append)
        self.addCleanup(stream.stop)
        yield until(reactor, lambda: "SUBSCRIBED" in self.kinds(events), "SUBSCRIBED")
        scheduler = self.start_framework()
        finish = os.path.abspath(self.mktemp())
        scheduler.launch("t1", finish)
        yield scheduler.wait(lambda s: s.latest("t1") == "TASK_RUNNING", "t1 to run")
        added = self.cluster.start_slave()
        yield until(reactor, lambda: "AGENT_ADDED" in self.kinds(events), "AGENT_ADDED")
        first = self.kinds(events)
        self.assertIn("TASK_ADDED", first)
        self.assertEqual([e.task_updated.state for e in events
                          if e.type == Event.TASK_UPDATED][-1], mesos_pb2.TASK_RUNNING)

        old_port, _ = yield self.cluster.wait_for(lambda port, state: True, "a leader")
        yield self.cluster.kill_master(old_port)
        killed = len(events)
        # Once or more: a subscription a standby or a leader not yet
        # confirmed ends is made again.
        yield until(reactor, lambda: "SUBSCRIBED" in self.kinds(events, killed),
                    "the stream to subscribe with the new leader", deadline=60)
        # The new leader's snapshot holds what had re-registered when the
        # stream subscribed; the slaves that re-register after it come as
        # events.  A client's view is the snapshot plus the events since.
        yield until(reactor, lambda: self.view_since(events, killed) == ({"t1"}, 2),
                    "the new leader's view to hold t1 and both slaves", deadline=60)

        after = len(events)
        open(finish, "w").close()
        yield until(reactor, lambda: any(
            e.type == Event.TASK_UPDATED and e.task_updated.state == mesos_pb2.TASK_FINISHED
            for e in events[after:]), "TASK_UPDATED to TASK_FINISHED", deadline=60)
        # An explicit shutdown (SIGUSR1) unregisters; SIGTERM would leave it
        # disconnected until its pings fail, as in Mesos.
        added.signal(signal.SIGUSR1)
        yield until(reactor, lambda: "AGENT_REMOVED" in self.kinds(events, after),
                    "AGENT_REMOVED", deadline=60)
