"""
A master process's place in the leader election.

Every master process runs a L{MasterElection}: it stands for election
through an C{IMasterContender}, learns who leads through an
C{IMasterDetector}, and owns the process's message node.  Each time it
becomes the leader it starts a fresh L{Master} (a I{term}); the state of
the cluster is soft and is rebuilt from what slaves and frameworks report
when they re-register.

A leader that can no longer confirm its leadership (its ZooKeeper
connection is suspended) stops acting as leader at once: the term is
I{paused}.  Nothing it sends leaves the process and nothing that arrives
is handled; both wait.  If the same session comes back the term resumes
where it stopped (so a ZooKeeper server restarting costs the cluster
nothing); if the session is lost the term ends: everything that waited is
dropped, except that tasks which never reached their slave are reported
lost, and every connection is closed, so that slaves and schedulers
register afresh wherever the leader now is (even here, in a new term).

A master that does not lead (a I{standby}) handles nothing: slaves and
schedulers retry against the leader their own detectors find, and a task
launched at a standby is answered with C{TASK_LOST}.  One exception: a
registration reaching a standby comes from a slave or scheduler whose
detector already names us, because ZooKeeper told it before it told us.
Such registrations wait, for a little while, for our term (dropped, they
would be retried only a second or more later: the failover benchmark's
maxima showed it).
"""

from twisted.logger import Logger
from zope.interface import Attribute, Interface, implementer

from mesos_tw.detector import LEADING, NOT_LEADING, UNCONFIRMED
from mesos_tw.master.master import master_update, new_id_counters
from mesos_tw.master.validation import launched_tasks
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.network import IMessageNode, IMessageReceiver
from mesos_tw.protocols.upid import UPID

__all__ = ["ILeadership", "MasterElection", "PausableNode", "SoleMaster"]

# How long, and how many, registrations wait at a standby for its term.
EARLY_REGISTRATION_HOLD = 2.0
MAX_EARLY_REGISTRATIONS = 100_000

_REGISTRATIONS = (
    internal.RegisterSlaveMessage, internal.ReregisterSlaveMessage,
    internal.RegisterFrameworkMessage, internal.ReregisterFrameworkMessage,
)


class ILeadership(Interface):
    """
    Who leads, as the master's HTTP endpoints need to know it.
    """

    master = Attribute("The L{Master} of our term while we lead, else L{None}.")
    leader = Attribute("The leading master's L{UPID}, L{None} if none is known.")
    pid = Attribute("Our own L{UPID}.")
    elected = Attribute("Whether we lead now (confirmed).")


@implementer(ILeadership)
class SoleMaster:
    """
    A master outside any election, which always leads (tests, benchmarks).
    """

    def __init__(self, master):
        self.master = master
        self.pid = master.pid
        self.leader = master.pid
        self.elected = True


@implementer(IMessageNode)
class PausableNode:
    """
    The node a term's L{Master} sends through: while paused, what it sends
    waits, in order, instead of leaving the process.

    @ivar held: the C{(to, message)} pairs waiting.
    """

    def __init__(self, node):
        self._node = node
        self.receiver = None
        self.paused = False
        self.held = []

    @property
    def upid(self):
        return self._node.upid

    def send(self, to, message):
        """
        Send now, or hold while paused.
        """
        if self.paused:
            self.held.append((to, message))
        else:
            self._node.send(to, message)

    def connected_to(self, upid):
        """
        Whether the real node has a connection with C{upid}.
        """
        return self._node.connected_to(upid)

    def disconnect(self, upid):
        """
        Close the real node's connection with C{upid}.
        """
        self._node.disconnect(upid)

    def peers(self):
        """
        The real node's peers.
        """
        return self._node.peers()

    def disconnect_all(self):
        """
        Close every connection of the real node.
        """
        self._node.disconnect_all()

    def pin(self, upid):
        """
        Pin C{upid} to its connection on the real node.
        """
        self._node.pin(upid)

    def unpin(self, upid):
        """
        Unpin C{upid} on the real node.
        """
        self._node.unpin(upid)

    def admitted(self, upid):
        """
        Tell the real node C{upid} was admitted.
        """
        self._node.admitted(upid)

    def resume(self):
        """
        Send everything held, in order, and stop holding.
        """
        self.paused = False
        held, self.held = self.held, []
        for to, message in held:
            self._node.send(to, message)


@implementer(IMessageReceiver, ILeadership)
class MasterElection:
    """
    Runs terms of leadership for one master process.

    @param node: the process's L{IMessageNode}; we become its receiver.
    @param contender: an C{IMasterContender}.
    @param detector: an C{IMasterDetector}, or L{None} without ZooKeeper
        (then we are the leader whenever we lead).
    @param make_master: C{make_master(node, info, ids)} returns a new,
        unstarted L{Master} using C{node}.
    @ivar leadership: L{LEADING}, L{UNCONFIRMED} or L{NOT_LEADING}.
    @ivar terms: how many terms we have started.
    """

    log = Logger()

    def __init__(self, reactor, node, contender, detector, make_master):
        self.reactor = reactor
        self.node = node
        node.receiver = self
        self.contender = contender
        self.detector = detector
        self.info = None
        self.make_master = make_master
        self.leadership = NOT_LEADING
        self.leader = None
        self.master = None
        self.terms = 0
        self._gate = None
        self._waiting = []
        # Registrations that came before our election: (deadline, sender,
        # message), oldest first, and the call that drops the overdue ones.
        self._early = []
        self._early_call = None
        self._ids = new_id_counters()

    @property
    def elected(self):
        return self.leadership == LEADING

    @property
    def pid(self):
        return self.node.upid

    def start(self, info):
        """
        Stand for election as the master C{info} (a C{MasterInfo}, which the
        contender publishes) and watch who leads.
        """
        self.info = info
        if self.detector is not None:
            self.detector.start(self._leader_detected)
        self.contender.contend(self.info, self._leadership_changed)

    def stop(self):
        """
        End any term and leave the election.

        @return: a Deferred (or L{None}) from the contender's withdrawal.
        """
        self._end_term("the master is stopping")
        self._drop_early(len(self._early))
        self.leadership = NOT_LEADING
        if self.detector is not None:
            self.detector.stop()
        return self.contender.withdraw()

    # Leadership.

    def _leader_detected(self, upid):
        self.leader = upid
        self.log.info("Leading master: {leader}", leader=str(upid) if upid else "none")
        if upid != self.pid and self.master is None:
            self._release_waiting()
            if upid is not None:
                # Another master leads: what waited for us goes to it instead.
                self._drop_early(len(self._early))

    def _awaiting_election(self):
        """
        Whether ZooKeeper already names us the leader but our contender has
        not told us yet: slaves and schedulers that saw the change first
        are already registering with us, and their messages should wait
        for our term rather than be dropped (they would only retry later).
        """
        return self.master is None and self.detector is not None and self.leader == self.pid

    def _release_waiting(self):
        waiting, self._waiting = self._waiting, []
        for event in waiting:
            self._deliver(*event)

    def _leadership_changed(self, leadership):
        previous, self.leadership = self.leadership, leadership
        if leadership == previous:
            return
        if leadership == LEADING:
            if self.detector is None:
                self.leader = self.pid
            if previous == UNCONFIRMED and self.master is not None:
                self._resume_term()
            else:
                self._start_term()
        elif leadership == UNCONFIRMED:
            self._pause_term()
        else:
            if self.detector is None:
                self.leader = None
            self._end_term("leadership was lost")

    def _start_term(self):
        self.terms += 1
        self._gate = PausableNode(self.node)
        self.master = self.make_master(self._gate, self.info, self._ids)
        self.master.start()
        self.log.info("Elected leading master {pid} (term {term})", pid=str(self.pid),
                      term=self.terms)
        self._release_waiting()
        early, self._early = self._early, []
        self._cancel_early_call()
        for _, sender, message in early:
            self._deliver("message", sender, message)

    def _pause_term(self):
        if self.master is None:
            return
        self.log.warn("Cannot confirm leadership (ZooKeeper unreachable); pausing the master "
                      "until it is confirmed or lost")
        self._gate.paused = True

    def _resume_term(self):
        self.log.info("Leadership confirmed again; resuming")
        self._gate.resume()
        self._release_waiting()

    def _end_term(self, reason):
        master, gate = self.master, self._gate
        self.master = self._gate = None
        if master is None:
            return
        self.log.warn("No longer the leading master: {reason}", reason=reason)
        master.stop()
        for to, message in gate.held:
            if isinstance(message, internal.RunTaskMessage):
                self._report_unlaunched(message.pid, message.framework_id.value,
                                        [message.task])
            elif isinstance(message, internal.RunTaskGroupMessage):
                self._report_unlaunched(message.pid, message.framework.id.value,
                                        message.task_group.tasks)
        self._release_waiting()
        # As if the old leader had died: every slave and scheduler sees its
        # connection close and registers again, even with this process if
        # it is elected once more (its state is gone with the term).  Every
        # connection: one whose first frame is still on its way (a peer we
        # do not know yet) would carry what was sent to this term into a
        # later one (simulation seed 80043: a slave's re-registration sent
        # to the ended term was handled by the next, with a task that had
        # finished since; the next term asked the slave about it, and the
        # finished task was reported lost).
        self.node.disconnect_all()

    def _report_unlaunched(self, pid, framework_id, tasks):
        """
        Tasks (one, or a task group) the ended term launched but never sent
        to their slave: tell their scheduler they are lost rather than let
        them vanish.
        """
        try:
            scheduler = UPID.parse(pid)
        except ValueError:
            return
        for task in tasks:
            self.node.send(scheduler, internal.StatusUpdateMessage(update=master_update(
                framework_id, task, mesos_pb2.TASK_LOST,
                "The master lost its leadership before the task reached slave "
                f"{task.slave_id.value}", mesos_pb2.TaskStatus.REASON_MASTER_DISCONNECTED,
                self.reactor.seconds())))

    # The message network.

    def message_received(self, sender, message):
        """
        The leader's master handles it; a paused one holds it; a standby
        refuses it.
        """
        self._deliver("message", sender, message)

    def peer_lost(self, upid):
        """
        Like a message: handled, held or ignored.
        """
        self._deliver("lost", upid, None)

    def _deliver(self, kind, sender, message):
        if (self.master is not None and self._gate.paused) or self._awaiting_election():
            self._waiting.append((kind, sender, message))
        elif self.master is not None:
            if kind == "message":
                self.master.message_received(sender, message)
            else:
                self.master.peer_lost(sender)
        elif kind == "message":
            if (isinstance(message, _REGISTRATIONS) and self.detector is not None
                    and len(self._early) < MAX_EARLY_REGISTRATIONS):
                self._hold_early(sender, message)
            else:
                self._refuse(sender, message)

    def _hold_early(self, sender, message):
        self._early.append((self.reactor.seconds() + EARLY_REGISTRATION_HOLD, sender, message))
        if self._early_call is None:
            self._early_call = self.reactor.callLater(
                EARLY_REGISTRATION_HOLD, self._drop_overdue)

    def _drop_overdue(self):
        self._early_call = None
        now = self.reactor.seconds()
        overdue = 0
        while overdue < len(self._early) and self._early[overdue][0] <= now:
            overdue += 1
        self._drop_early(overdue)
        if self._early:
            self._early_call = self.reactor.callLater(
                self._early[0][0] - now, self._drop_overdue)

    def _drop_early(self, count):
        """
        Refuse the C{count} oldest registrations that waited for a term.
        """
        dropped, self._early = self._early[:count], self._early[count:]
        if not self._early:
            self._cancel_early_call()
        for _, sender, message in dropped:
            self._refuse(sender, message)

    def _cancel_early_call(self):
        if self._early_call is not None and self._early_call.active():
            self._early_call.cancel()
        self._early_call = None

    def _refuse(self, sender, message):
        leader = str(self.leader) if self.leader is not None else "none known"
        if isinstance(message, internal.LaunchTasksMessage):
            now = self.reactor.seconds()
            for task in launched_tasks(message):
                self.node.send(sender, internal.StatusUpdateMessage(update=master_update(
                    message.framework_id.value, task, mesos_pb2.TASK_LOST,
                    f"Not the leading master (the leader: {leader})",
                    mesos_pb2.TaskStatus.REASON_MASTER_DISCONNECTED, now)))
        self.log.info("Not the leading master (the leader: {leader}); dropping {name} from "
                      "{sender}, which will retry with the leader",
                      leader=leader, name=message.DESCRIPTOR.full_name, sender=str(sender))
