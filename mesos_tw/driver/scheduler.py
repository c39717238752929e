"""
The scheduler driver: registers a framework with the master, turns messages
into L{Scheduler <mesos_tw.interface.Scheduler>} callbacks, and scheduler
calls into messages.  See ``docs/flows.md``.
"""

import getpass
import random
import socket
from collections import OrderedDict

from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw import constants
from mesos_tw.authentication.client import ClientAuthentication
from mesos_tw.detector import DetectorError, detector_for
from mesos_tw.driver.base import DriverBase
from mesos_tw.interface import SchedulerDriver
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.dispatch import Dispatcher
from mesos_tw.protocols.network import IMessageReceiver
from mesos_tw.protocols.upid import UPID
from mesos_tw.retry import RetryWithBackoff

__all__ = ["MesosSchedulerDriver"]

RUNNING = mesos_pb2.DRIVER_RUNNING

#: How many acknowledged update uuids the driver remembers, to keep
#: re-sent duplicates from reaching the scheduler twice.
MAX_REMEMBERED_ACKNOWLEDGEMENTS = 100_000


@implementer(IMessageReceiver)
class MesosSchedulerDriver(DriverBase, SchedulerDriver):
    """
    Connects C{scheduler} to the master C{master} (C{host:port},
    C{master@host:port}, C{file:///path}) as the framework C{framework};
    the arguments are those of Mesos 1.x's Python bindings.

    @param implicitAcknowledgements: when true (the default), returning
        from C{statusUpdate} acknowledges the update; when false the
        scheduler acknowledges each one itself with
        L{acknowledgeStatusUpdate} (Mesos 0.22+).
    @param credential: a C{mesos_pb2.Credential} to authenticate with; kept
        as C{credential}.
    @param reactor: run on this reactor (a Twisted application); L{None} for
        the classic blocking use from plain threads.  A keyword, so that a
        framework written for Mesos 1.x, passing C{implicitAcknowledgements}
        fourth, is understood.
    @param node_factory: makes the message node for our UPID (tests pass an
        in-memory network's).
    @param jitter: the random source of the registration back-off (see
        L{RetryWithBackoff}; a simulation passes a seeded one).
    @param credential: a C{mesos_pb2.Credential} to authenticate with
        before registering (as Mesos 1.x's bindings take it), or L{None};
        C{framework.principal} must then be its principal or unset.  A
        refusal is reported to C{error} and aborts the driver.
    """

    log = Logger()

    def __init__(self, scheduler, framework, master, implicitAcknowledgements=True,
                 credential=None, *, reactor=None, node_factory=None, jitter=random.random):
        DriverBase.__init__(self, reactor, node_factory)
        self.scheduler = scheduler
        self.implicit_acknowledgements = bool(implicitAcknowledgements)
        self.credential = None
        if credential is not None:
            self.credential = mesos_pb2.Credential()
            self.credential.CopyFrom(credential)
        self.framework = mesos_pb2.FrameworkInfo()
        self.framework.CopyFrom(framework)
        if not self.framework.user:
            self.framework.user = _current_user()
        self.master_spec = master
        self.master = None
        self.connected = False
        self.node = None
        self._detector = None
        self._failover = self.framework.HasField("id")
        self._slave_pids = {}
        self._acknowledged = OrderedDict()
        self._registration = RetryWithBackoff(self._reactor, self._register, jitter=jitter)
        self._authentication = ClientAuthentication(
            self._reactor, None, credential, self._registration.start, self._refused)
        self.dispatcher = Dispatcher({
            internal.FrameworkRegisteredMessage: self._registered,
            internal.FrameworkReregisteredMessage: self._reregistered,
            internal.ResourceOffersMessage: self._offers,
            internal.RescindResourceOfferMessage: self._rescinded,
            internal.RescindInverseOfferMessage: self._inverse_rescinded,
            internal.StatusUpdateMessage: self._status_update,
            internal.LostSlaveMessage: self._lost_slave,
            internal.ExecutorToFrameworkMessage: self._framework_message,
            internal.ExitedExecutorMessage: self._exited_executor,
            internal.FrameworkErrorMessage: self._error,
        }, self.log)

    # Life cycle.

    def start(self):
        """
        Find the master and register; returns C{DRIVER_RUNNING}, or
        C{DRIVER_ABORTED} (after C{error()}) if the master cannot be used.
        """
        return self._call(self._start)

    def _start(self):
        if self.status != mesos_pb2.DRIVER_NOT_STARTED:
            return self.status
        self.status = RUNNING
        try:
            self._detector = detector_for(self.master_spec, self._reactor)
        except DetectorError as error:
            self._invoke(self.scheduler, "error", str(error))
            self._finish(mesos_pb2.DRIVER_ABORTED)
            return self.status
        host = socket.gethostname()
        self.node = self._node_factory(UPID(self.new_process_id("scheduler"), host, 0))
        self.node.receiver = self
        self._authentication.node = self.node
        self._detector.start(self._new_master)
        return self.status

    def stop(self, failover=False):
        """
        Stop.  C{failover=False} unregisters the framework (its tasks are
        killed); C{failover=True} leaves them running for a new scheduler
        to take over within the framework's failover timeout.
        """
        return self._call(self._stop, failover)

    def _stop(self, failover):
        if self.status not in (RUNNING, mesos_pb2.DRIVER_ABORTED):
            return self.status
        if self.status == RUNNING and self.connected:
            framework_id = mesos_pb2.FrameworkID(value=self.framework.id.value)
            message = (internal.DeactivateFrameworkMessage if failover
                       else internal.UnregisterFrameworkMessage)(framework_id=framework_id)
            self.node.send(self.master, message)
        status = mesos_pb2.DRIVER_STOPPED if self.status == RUNNING else self.status
        self._shut_down(status)
        return status

    def abort(self):
        """
        Stop at once, without unregistering: no more callbacks.
        """
        return self._call(self._abort)

    def _abort(self):
        if self.status != RUNNING:
            return self.status
        self._shut_down(mesos_pb2.DRIVER_ABORTED)
        return self.status

    def _shut_down(self, status):
        self.status = status
        self._registration.stop()
        self._authentication.stop()
        if self._detector is not None:
            self._detector.stop()
        if self.master is not None and self.node is not None:
            self.node.disconnect(self.master)
        self.connected = False
        self._finish(status)

    # Registration.

    def _new_master(self, upid):
        if self.status != RUNNING:
            return
        if self.connected:
            self.connected = False
            if not self._invoke(self.scheduler, "disconnected"):
                return
        self.master = upid
        self._registration.stop()
        self._authentication.stop()
        if upid is not None:
            self._authentication.start(upid)

    def _refused(self, message):
        """
        The master refused our credential: tell the scheduler, and abort.
        """
        self._invoke(self.scheduler, "error", message)
        self._abort()

    def _register(self):
        if self.status != RUNNING or self.connected or self.master is None:
            self._registration.stop()
            return
        if self.framework.HasField("id"):
            message = internal.ReregisterFrameworkMessage(
                framework=self.framework, failover=self._failover)
        else:
            message = internal.RegisterFrameworkMessage(framework=self.framework)
        self.node.send(self.master, message)

    def _registered(self, sender, message):
        if self._connect(message):
            self._invoke(self.scheduler, "registered", message.framework_id, message.master_info)

    def _reregistered(self, sender, message):
        if self._connect(message):
            self._invoke(self.scheduler, "reregistered", message.master_info)

    def _connect(self, message):
        """
        Take the master's answer to our registration.

        @return: whether it is news (not a repeated answer).
        """
        if self.connected:
            return False
        self.framework.id.CopyFrom(message.framework_id)
        self.connected = True
        self._failover = False
        self._registration.stop()
        return True

    # The message network.

    def message_received(self, sender, message):
        """
        Turn a message from the master into a callback.
        """
        if self.status != RUNNING:
            return
        if sender != self.master:
            self.log.warn("Ignoring {name} from {sender}, which is not our master",
                          name=message.DESCRIPTOR.full_name, sender=str(sender))
            return
        if self._authentication.received(sender, message):
            return
        self.dispatcher.dispatch(sender, message)

    def peer_lost(self, upid):
        """
        Losing the master: tell the scheduler and register again.
        """
        if upid != self.master or self.status != RUNNING:
            return
        if self.connected:
            self.connected = False
            if not self._invoke(self.scheduler, "disconnected"):
                return
        # The master forgets an authentication with its connection.
        self._registration.stop()
        self._authentication.start(upid, delay=constants.REGISTRATION_RETRY_INTERVAL)

    # Callbacks.

    def _offers(self, sender, message):
        for offer, pid in zip(message.offers, message.pids):
            try:
                self._slave_pids[offer.slave_id.value] = UPID.parse(pid)
            except ValueError:
                pass
        if message.offers:
            self._invoke(self.scheduler, "resourceOffers", list(message.offers))
        if message.inverse_offers:
            self._invoke(self.scheduler, "inverseOffers", list(message.inverse_offers))

    def _inverse_rescinded(self, sender, message):
        self._invoke(self.scheduler, "inverseOfferRescinded", message.inverse_offer_id)

    def _rescinded(self, sender, message):
        self._invoke(self.scheduler, "offerRescinded", message.offer_id)

    def _status_update(self, sender, message):
        update = message.update
        status = mesos_pb2.TaskStatus()
        status.CopyFrom(update.status)
        if update.uuid and not status.uuid:
            status.uuid = update.uuid
        if update.HasField("slave_id") and not status.HasField("slave_id"):
            # acknowledgeStatusUpdate(status) needs to know the slave.
            status.slave_id.CopyFrom(update.slave_id)
        slave_pid = None
        if message.pid:
            try:
                slave_pid = UPID.parse(message.pid)
                self._slave_pids[update.slave_id.value] = slave_pid
            except ValueError:
                self.log.warn("Status update names a malformed slave pid {pid}", pid=message.pid)
        reliable = slave_pid is not None and bool(update.uuid)
        if not reliable:
            # As in Mesos, only an update to acknowledge carries a uuid
            # (master-made ones carry no slave pid).
            status.ClearField("uuid")
        if reliable and update.uuid in self._acknowledged:
            # A re-send whose acknowledgement the slave missed: acknowledge
            # again, but the scheduler has seen it already.
            self._acknowledge(slave_pid, update.slave_id, update.status.task_id, update.uuid)
            return
        self._invoke(self.scheduler, "statusUpdate", status)
        # Returning from the callback is the acknowledgement, unless the
        # scheduler aborted in it or acknowledges explicitly.
        if self.status == RUNNING and reliable and self.implicit_acknowledgements:
            self._acknowledge(slave_pid, update.slave_id, update.status.task_id, update.uuid)

    def _acknowledge(self, slave_pid, slave_id, task_id, uuid):
        self._acknowledged[uuid] = None
        if len(self._acknowledged) > MAX_REMEMBERED_ACKNOWLEDGEMENTS:
            self._acknowledged.popitem(last=False)
        self.node.send(slave_pid, internal.StatusUpdateAcknowledgementMessage(
            slave_id=slave_id, framework_id=self._framework_id(),
            task_id=task_id, uuid=uuid))

    def acknowledgeStatusUpdate(self, status):
        """
        Acknowledge the update C{status} (as C{statusUpdate} gave it), for a
        driver made with C{implicitAcknowledgements=False}: until then the
        slave keeps it and sends it again.  An update without a uuid (the
        master's own) needs none and is passed over, as in Mesos.

        @raise ValueError: if the driver acknowledges implicitly (Mesos
            aborts the process there).
        """
        if self.implicit_acknowledgements:
            raise ValueError("Cannot call acknowledgeStatusUpdate: implicit acknowledgements "
                             "are enabled")
        return self._call(self._acknowledge_status, status)

    def _acknowledge_status(self, status):
        if self.status != RUNNING:
            return self.status
        if not (status.uuid and status.slave_id.value):
            self.log.debug("No acknowledgement for an update without uuid or slave id")
            return self.status
        slave_pid = self._slave_pids.get(status.slave_id.value)
        if slave_pid is None or not self.connected:
            # The slave sends the update again, and it is acknowledged then.
            self.log.info("Not acknowledging {task}'s update: slave {slave} not known",
                          task=status.task_id.value, slave=status.slave_id.value)
            return self.status
        self._acknowledge(slave_pid, status.slave_id, status.task_id, status.uuid)
        return self.status

    def _lost_slave(self, sender, message):
        self._slave_pids.pop(message.slave_id.value, None)
        self._invoke(self.scheduler, "slaveLost", message.slave_id)

    def _framework_message(self, sender, message):
        self._invoke(self.scheduler, "frameworkMessage", message.executor_id, message.slave_id,
                     message.data)

    def _exited_executor(self, sender, message):
        self._invoke(self.scheduler, "executorLost", message.executor_id, message.slave_id,
                     message.status)

    def _error(self, sender, message):
        self._invoke(self.scheduler, "error", message.message)
        self._abort()

    # Calls from the scheduler.

    def _framework_id(self):
        return mesos_pb2.FrameworkID(value=self.framework.id.value)

    def launchTasks(self, offerIds, tasks, filters=None):
        """
        Launch C{tasks} on an offer (or a list of offers of one slave).
        """
        if isinstance(offerIds, mesos_pb2.OfferID):
            offerIds = [offerIds]
        return self._call(self._launch, list(offerIds), list(tasks), filters)

    def _launch(self, offer_ids, tasks, filters):
        if self.status != RUNNING:
            return self.status
        if not self.connected:
            for task in tasks:
                status = mesos_pb2.TaskStatus(
                    task_id=task.task_id, state=mesos_pb2.TASK_LOST,
                    message="Master disconnected", source=mesos_pb2.TaskStatus.SOURCE_MASTER,
                    reason=mesos_pb2.TaskStatus.REASON_MASTER_DISCONNECTED,
                    timestamp=self._reactor.seconds())
                if not self._invoke(self.scheduler, "statusUpdate", status):
                    break
            return self.status
        message = internal.LaunchTasksMessage(
            framework_id=self._framework_id(), tasks=tasks,
            filters=filters if filters is not None else mesos_pb2.Filters(),
            offer_ids=offer_ids)
        if offer_ids:
            message.offer_id.CopyFrom(offer_ids[0])
        self.node.send(self.master, message)
        return self.status

    def acceptInverseOffers(self, inverseOfferIds, filters=None):
        """
        Accept inverse offers: the framework is ready for their machines'
        maintenance.
        """
        return self._call(self._answer_inverse, list(inverseOfferIds), True, filters)

    def declineInverseOffers(self, inverseOfferIds, filters=None):
        """
        Decline inverse offers; C{filters.refuse_seconds} (default 5) keeps
        new ones for the same slaves away that long.
        """
        return self._call(self._answer_inverse, list(inverseOfferIds), False, filters)

    def _answer_inverse(self, offer_ids, accept, filters):
        message = internal.InverseOffersAnswerMessage(
            framework_id=self._framework_id(), inverse_offer_ids=offer_ids, accept=accept)
        if filters is not None:
            message.filters.CopyFrom(filters)
        return self._send_to_master(message)

    def declineOffer(self, offerId, filters=None):
        """
        Decline an offer; C{filters.refuse_seconds} (default 5) keeps its
        resources from coming back for that long.
        """
        return self._call(self._launch_or_decline, offerId, filters)

    def _launch_or_decline(self, offer_id, filters):
        if self.status == RUNNING and self.connected:
            return self._launch([offer_id], [], filters)
        return self.status

    def _send_to_master(self, message):
        if self.status == RUNNING and self.connected:
            self.node.send(self.master, message)
        return self.status

    def killTask(self, taskId, killPolicy=None):
        """
        Kill a task; its TASK_KILLED (or TASK_LOST) update follows.

        @param killPolicy: a C{KillPolicy} whose C{grace_period} overrides
            the one the task was launched with (Mesos's v1 C{KILL} call's).
        """
        kill = internal.KillTaskMessage(framework_id=self._framework_id(), task_id=taskId)
        if killPolicy is not None:
            kill.kill_policy.CopyFrom(killPolicy)
        return self._call(self._send_to_master, kill)

    def reviveOffers(self):
        """
        Drop every filter: the allocator may offer everything again.
        """
        return self._call(self._send_to_master, internal.ReviveOffersMessage(
            framework_id=self._framework_id()))

    def suppressOffers(self):
        """
        Ask for no more offers until C{reviveOffers}: a framework with
        nothing to run stops holding resources others could use.
        """
        return self._call(self._send_to_master, internal.SuppressOffersMessage(
            framework_id=self._framework_id()))

    def requestResources(self, requests):
        """
        Hint at the resources wanted (the allocator logs it).
        """
        return self._call(self._send_to_master, internal.ResourceRequestMessage(
            framework_id=self._framework_id(), requests=list(requests)))

    def reconcileTasks(self, statuses):
        """
        Ask for the latest state of tasks; an empty list asks for all.
        """
        return self._call(self._send_to_master, internal.ReconcileTasksMessage(
            framework_id=self._framework_id(), statuses=list(statuses)))

    def sendFrameworkMessage(self, executorId, slaveId, data):
        """
        Send C{data} to an executor: straight to its slave when we know the
        slave, through the master otherwise.
        """
        return self._call(self._send_framework_message, executorId, slaveId, data)

    def _send_framework_message(self, executor_id, slave_id, data):
        if self.status != RUNNING or not self.connected:
            return self.status
        message = internal.FrameworkToExecutorMessage(
            slave_id=slave_id, framework_id=self._framework_id(), executor_id=executor_id,
            data=data)
        self.node.send(self._slave_pids.get(slave_id.value, self.master), message)
        return self.status


def _current_user():
    """
    The user running this process (Mesos's default for C{FrameworkInfo.user}).
    """
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "root"
