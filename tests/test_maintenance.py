"""
Tests for maintenance and draining (L{mesos_tw.master.maintenance},
L{mesos_tw.master.draining}) through the master's v1 operator API and its
older endpoints, in memory.  The names follow Mesos's
C{MasterMaintenanceTest} and C{MasterDrainingTest}.
"""

import json
from types import SimpleNamespace

from google.protobuf.duration_pb2 import Duration
from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.interface import Scheduler
from mesos_tw.master.operator_api import MasterOperatorAPI
from mesos_tw.master.scheduler_api import SchedulerAPI
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import scheduler_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.maintenance_pb2 import InverseOfferStatus, Schedule
from mesos_tw.protocols.master_pb2 import Call, Response
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.master import MASTER, MasterTestCase, slave_info
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.v1 import CallRequest
from mesos_tw.web.v1 import PROTOBUF, encode

HOUR = 3600 * 10**9


def machine(hostname="host1", ip="127.0.0.1"):
    """
    A C{MachineID}.
    """
    return mesos_pb2.MachineID(hostname=hostname, ip=ip)


def schedule(*machines, start=0, duration=HOUR):
    """
    A schedule of one window holding C{machines}.
    """
    result = Schedule()
    result.windows.add(machine_ids=machines, unavailability=mesos_pb2.Unavailability(
        start=mesos_pb2.TimeInfo(nanoseconds=start),
        duration=mesos_pb2.DurationInfo(nanoseconds=duration)))
    return result


class OperatorCase(MasterTestCase):
    """
    A master with its operator API, and a task running on a slave.
    """

    def setUp(self):
        super().setUp()
        self.api = MasterOperatorAPI(self.clock, SoleMaster(self.master))

    def post(self, kind, **parts):
        """
        POST a call; C{(code, Response or error text)}.
        """
        request = CallRequest(encode(Call(type=getattr(Call, kind), **parts), PROTOBUF),
                              PROTOBUF, {"Accept": PROTOBUF}, path=b"/api/v1")
        body = self.api.handle(request)
        self.turn()
        code = request.responseCode or 200
        if code == 200 and body:
            return code, Response.FromString(body)
        return code, body.decode()

    def ok(self, kind, **parts):
        """
        POST a call that must succeed; its Response (or L{None}).
        """
        code, answer = self.post(kind, **parts)
        self.assertEqual(code, 200, answer)
        return answer or None

    def inverse_offers(self, scheduler):
        """
        The inverse offers the scheduler was sent (Mesos 0.25's shape: in
        C{ResourceOffersMessage}s).
        """
        return [offer for message in scheduler.of(internal.ResourceOffersMessage)
                for offer in message.inverse_offers]


class MasterMaintenanceTests(OperatorCase):
    """
    Schedules, inverse offers, machines down and up.
    """

    def test_update_schedule(self):
        """
        UPDATE_MAINTENANCE_SCHEDULE stores the schedule GET_MAINTENANCE_SCHEDULE
        gives, and the machine is DRAINING in the status.
        """
        self.ok("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule=Call.
                UpdateMaintenanceSchedule(schedule=schedule(machine())))
        answer = self.ok("GET_MAINTENANCE_SCHEDULE").get_maintenance_schedule
        self.assertEqual(answer.schedule, schedule(machine()))
        status = self.ok("GET_MAINTENANCE_STATUS").get_maintenance_status.status
        self.assertEqual([m.id.hostname for m in status.draining_machines], ["host1"])

    def test_bad_schedules(self):
        """
        A machine in two windows, or without hostname and ip, is a 400
        saying so, and the schedule is unchanged.
        """
        twice = schedule(machine())
        twice.windows.add().CopyFrom(twice.windows[0])
        code, text = self.post("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule=Call.
                               UpdateMaintenanceSchedule(schedule=twice))
        self.assertEqual(code, 400)
        self.assertIn("more than one window", text)
        code, text = self.post("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule=Call.
                               UpdateMaintenanceSchedule(schedule=schedule(mesos_pb2.MachineID())))
        self.assertIn("neither hostname nor ip", text)
        self.assertEqual(self.master.maintenance.schedule, Schedule())

    def test_inverse_offers(self):
        """
        InverseOffers: a framework running on a scheduled machine gets an
        inverse offer for its slave with the window's unavailability; it
        declines (its status says so, and no new one comes within the
        filter), then accepts the next; none comes after that.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        self.ok("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule=Call.
                UpdateMaintenanceSchedule(schedule=schedule(machine())))
        (offer,) = self.inverse_offers(scheduler)
        self.assertEqual((offer.slave_id.value, offer.framework_id.value,
                          offer.unavailability.duration.nanoseconds),
                         (slave_id, framework_id, HOUR))
        status = self.ok("GET_MAINTENANCE_STATUS").get_maintenance_status.status
        self.assertEqual([s.status for s in status.draining_machines[0].statuses],
                         [InverseOfferStatus.UNKNOWN])
        scheduler.send(MASTER, internal.InverseOffersAnswerMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            inverse_offer_ids=[offer.id], accept=False,
            filters=mesos_pb2.Filters(refuse_seconds=10)))
        self.turn()
        self.master.allocate()
        self.assertEqual(len(self.inverse_offers(scheduler)), 1)
        status = self.ok("GET_MAINTENANCE_STATUS").get_maintenance_status.status
        self.assertEqual([s.status for s in status.draining_machines[0].statuses],
                         [InverseOfferStatus.DECLINE])
        self.clock.advance(11)
        self.turn()
        offers = self.inverse_offers(scheduler)
        self.assertEqual(len(offers), 2)
        scheduler.send(MASTER, internal.InverseOffersAnswerMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id),
            inverse_offer_ids=[offers[1].id], accept=True))
        self.turn()
        self.clock.advance(60)
        self.turn()
        self.assertEqual(len(self.inverse_offers(scheduler)), 2)
        status = self.ok("GET_MAINTENANCE_STATUS").get_maintenance_status.status
        self.assertEqual([s.status for s in status.draining_machines[0].statuses],
                         [InverseOfferStatus.ACCEPT])

    def test_pending_unavailability(self):
        """
        PendingUnavailabilityTest: offers of a slave on a scheduled machine
        carry the window's unavailability; taken out of the schedule, they
        do not, and its outstanding inverse offers are rescinded.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        window = schedule(machine(), start=5 * 10**9)
        self.ok("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule=Call.
                UpdateMaintenanceSchedule(schedule=window))
        self.clock.advance(6)
        self.turn()
        offers = [o for m in scheduler.of(internal.ResourceOffersMessage) for o in m.offers]
        self.assertEqual(offers[-1].unavailability, window.windows[0].unavailability)
        self.ok("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule=Call.
                UpdateMaintenanceSchedule(schedule=Schedule()))
        (rescinded,) = scheduler.of(internal.RescindInverseOfferMessage)
        self.assertEqual(rescinded.inverse_offer_id, self.inverse_offers(scheduler)[0].id)

    def test_down_and_up_machines(self):
        """
        DownAndUpMachines: START_MAINTENANCE takes the machine DOWN (its
        slave removed and told to shut down, its task lost); the slave
        cannot register while it is down; STOP_MAINTENANCE brings it UP and
        out of the schedule, and it registers again.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        self.ok("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule=Call.
                UpdateMaintenanceSchedule(schedule=schedule(machine())))
        self.ok("START_MAINTENANCE", start_maintenance=Call.StartMaintenance(
            machines=[machine()]))
        self.turn()
        self.assertEqual(self.master.slaves, {})
        self.assertIn("DOWN for maintenance", slave.last(internal.ShutdownMessage).message)
        self.assertEqual(self.updates(scheduler)[-1], ("t1", mesos_pb2.TASK_LOST))
        status = self.ok("GET_MAINTENANCE_STATUS").get_maintenance_status.status
        self.assertEqual(list(status.down_machines), [machine()])
        again = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5061))
        again.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        self.assertEqual((again.of(internal.SlaveRegisteredMessage), self.master.slaves),
                         ([], {}))
        self.assertIn("DOWN", again.last(internal.ShutdownMessage).message)
        self.ok("STOP_MAINTENANCE", stop_maintenance=Call.StopMaintenance(machines=[machine()]))
        self.assertEqual(self.master.maintenance.schedule, Schedule())
        again.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info()))
        self.turn()
        self.assertEqual(len(again.of(internal.SlaveRegisteredMessage)), 1)

    def test_bring_down_machines(self):
        """
        BringDownMachines: a machine not in the schedule cannot be brought
        down or up; one not down cannot be brought up; a DOWN machine must
        stay in the schedule.
        """
        code, text = self.post("START_MAINTENANCE", start_maintenance=Call.StartMaintenance(
            machines=[machine()]))
        self.assertEqual(code, 400)
        self.assertIn("not in the maintenance schedule", text)
        self.ok("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule=Call.
                UpdateMaintenanceSchedule(schedule=schedule(machine())))
        code, text = self.post("STOP_MAINTENANCE", stop_maintenance=Call.StopMaintenance(
            machines=[machine()]))
        self.assertIn("is not DOWN", text)
        self.ok("START_MAINTENANCE", start_maintenance=Call.StartMaintenance(
            machines=[machine()]))
        code, text = self.post("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule=Call.
                               UpdateMaintenanceSchedule(schedule=Schedule()))
        self.assertEqual(code, 400)
        self.assertIn("bring it up", text)

    def test_older_endpoints(self):
        """
        C{/master/maintenance/schedule} (GET and POST),
        C{/master/maintenance/status}, C{/master/machine/down} and
        C{/master/machine/up} take and give Mesos's JSON.
        """
        http = StubTreq(MasterHTTP(SoleMaster(self.master), operator_api=self.api).resource())

        def request(method, path, body=None):
            response = self.successResultOf(http.request(
                method, "http://master" + path,
                data=body if body is None or isinstance(body, bytes)
                else json.dumps(body).encode()))
            return response.code, self.successResultOf(response.content())

        body = {"windows": [{"machine_ids": [{"hostname": "host1", "ip": "127.0.0.1"}],
                             "unavailability": {"start": {"nanoseconds": 1},
                                                "duration": {"nanoseconds": HOUR}}}]}
        self.assertEqual(request("POST", "/master/maintenance/schedule", body)[0], 200)
        self.assertEqual(json.loads(request("GET", "/master/maintenance/schedule")[1]), body)
        code, _ = request("POST", "/master/machine/down", [{"hostname": "host1",
                                                           "ip": "127.0.0.1"}])
        self.assertEqual(code, 200)
        status = json.loads(request("GET", "/master/maintenance/status")[1])
        self.assertEqual(status, {"down_machines": [{"hostname": "host1", "ip": "127.0.0.1"}]})
        code, _ = request("POST", "/master/machine/up", [{"hostname": "host1",
                                                         "ip": "127.0.0.1"}])
        self.assertEqual(code, 200)
        code, text = request("POST", "/master/machine/up", [{"hostname": "host1"}])
        self.assertEqual(code, 400)
        code, text = request("POST", "/master/maintenance/schedule", b"not json")
        self.assertEqual(code, 400)


class MaintenancePageTests(OperatorCase):
    """
    The web UI's slaves page shows maintenance and draining.
    """

    def test_slaves_page(self):
        """
        A draining slave on a scheduled machine says both.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        self.ok("UPDATE_MAINTENANCE_SCHEDULE", update_maintenance_schedule=Call.
                UpdateMaintenanceSchedule(schedule=schedule(machine(), start=HOUR)))
        self.ok("DRAIN_AGENT", drain_agent=Call.DrainAgent(
            agent_id=mesos_pb2.SlaveID(value=slave_id)))
        http = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())
        response = self.successResultOf(http.get("http://master/ui/slaves"))
        page = self.successResultOf(response.content()).decode()
        self.assertIn("<td>draining; machine DRAINING: down from 1970-01-01 01:00:00 UTC for "
                      "3600 s</td>", page)


class MasterDrainingTests(OperatorCase):
    """
    Deactivating, draining, reactivating and marking slaves gone.
    """

    def test_drain_agent(self):
        """
        DrainAgent: the slave is deactivated (offered nothing), its task
        killed; when the task ends the slave is DRAINED, and with
        C{mark_gone} then gone (removed, told to shut down).
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        self.ok("DRAIN_AGENT", drain_agent=Call.DrainAgent(
            agent_id=mesos_pb2.SlaveID(value=slave_id), mark_gone=True))
        (kill,) = slave.of(internal.KillTaskMessage)
        self.assertEqual(kill.task_id.value, "t1")
        (agent,) = self.ok("GET_AGENTS").get_agents.agents
        self.assertEqual((agent.deactivated, agent.drain_info.state),
                         (True, mesos_pb2.DRAINING))
        offers = len(scheduler.of(internal.ResourceOffersMessage))
        self.report(slave, slave_id, framework_id, "t1", mesos_pb2.TASK_KILLED)
        self.master.allocate()
        self.turn()
        self.assertEqual(len(scheduler.of(internal.ResourceOffersMessage)), offers)
        self.assertEqual(self.master.slaves, {})
        self.assertIn("marked it gone", slave.last(internal.ShutdownMessage).message)

    def test_drain_grace_period(self):
        """
        A task still running when C{max_grace_period} is over has its
        executor shut down.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        self.master.slaves[slave_id].executors.setdefault(framework_id, {})["e1"] = \
            mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value="e1"))
        self.ok("DRAIN_AGENT", drain_agent=Call.DrainAgent(
            agent_id=mesos_pb2.SlaveID(value=slave_id), max_grace_period=Duration(seconds=30)))
        self.clock.advance(29)
        self.assertEqual(slave.of(internal.ShutdownExecutorMessage), [])
        self.clock.advance(1)
        self.turn()
        (shutdown,) = slave.of(internal.ShutdownExecutorMessage)
        self.assertEqual(shutdown.executor_id.value, "e1")
        self.report(slave, slave_id, framework_id, "t1", mesos_pb2.TASK_KILLED)
        (agent,) = self.ok("GET_AGENTS").get_agents.agents
        self.assertEqual(agent.drain_info.state, mesos_pb2.DRAINED)

    def test_drain_agent_disconnected(self):
        """
        DrainAgentDisconnected: a disconnected slave being drained gets its
        kills when it re-registers, and is DRAINED once its task ends.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        self.network.crash(slave.upid)
        self.turn()
        self.ok("DRAIN_AGENT", drain_agent=Call.DrainAgent(
            agent_id=mesos_pb2.SlaveID(value=slave_id)))
        self.assertEqual(slave.of(internal.KillTaskMessage), [])
        record = self.master.slaves[slave_id].tasks[(framework_id, "t1")]
        slave = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5051))
        slave.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id), slave=slave_info(),
            tasks=[record.task]))
        self.turn()
        (kill,) = slave.of(internal.KillTaskMessage)
        self.assertEqual(kill.task_id.value, "t1")
        self.report(slave, slave_id, framework_id, "t1", mesos_pb2.TASK_KILLED)
        self.assertEqual(self.master.slaves[slave_id].drain_info.state, mesos_pb2.DRAINED)
        self.assertTrue(self.master.slaves[slave_id].deactivated)

    def test_drain_agent_unknown(self):
        """
        Draining (or deactivating) a slave the master does not have, one
        it removed after its health checks failed among them, is a 400
        naming it (Mesos drains an unreachable agent it keeps; we keep
        none).
        """
        code, text = self.post("DRAIN_AGENT", drain_agent=Call.DrainAgent(
            agent_id=mesos_pb2.SlaveID(value="S-none")))
        self.assertEqual((code, text), (400, "no agent S-none is registered\n"))

    def test_deactivate_and_reactivate(self):
        """
        A deactivated slave is offered nothing (its offers rescinded) and
        its tasks go on; reactivated, it is offered again.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        self.master.allocate()
        self.turn()
        self.ok("DEACTIVATE_AGENT", deactivate_agent=Call.DeactivateAgent(
            agent_id=mesos_pb2.SlaveID(value=slave_id)))
        self.assertEqual(self.master.offers, {})
        self.assertEqual(slave.of(internal.KillTaskMessage), [])
        (agent,) = self.ok("GET_AGENTS").get_agents.agents
        self.assertEqual((agent.active, agent.deactivated), (False, True))
        self.ok("REACTIVATE_AGENT", reactivate_agent=Call.ReactivateAgent(
            agent_id=mesos_pb2.SlaveID(value=slave_id)))
        self.clock.advance(6)
        self.turn()
        self.assertEqual([o.slave_id for o in self.master.offers.values()], [slave_id])

    def test_mark_agent_gone(self):
        """
        MARK_AGENT_GONE: the slave is removed and shut down, its task ends
        (TASK_LOST for this framework, which is not partition-aware: see
        tests.test_master_partitions for one that is), and it may not come
        back.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        self.ok("MARK_AGENT_GONE", mark_agent_gone=Call.MarkAgentGone(
            agent_id=mesos_pb2.SlaveID(value=slave_id)))
        self.turn()
        self.assertEqual(self.updates(scheduler)[-1], ("t1", mesos_pb2.TASK_LOST))
        self.assertEqual(scheduler.last(internal.StatusUpdateMessage).update.status.reason,
                         mesos_pb2.TaskStatus.REASON_SLAVE_REMOVED)
        self.assertIn(slave_id, self.master.removed_slaves)
        slave.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value=slave_id), slave=slave_info()))
        self.turn()
        self.assertEqual(self.master.slaves, {})


class InverseOfferScheduler(Scheduler):
    """
    A classic scheduler that keeps the inverse offers it is given, and
    the ones rescinded.
    """

    def __init__(self):
        self.inverse = []
        self.rescinded = []
        self.offers = []

    def resourceOffers(self, driver, offers):
        """
        Keep the offers (there should be none with inverse offers).
        """
        self.offers.extend(offers)

    def inverseOffers(self, driver, inverseOffers):
        """
        Keep them.
        """
        self.inverse.extend(inverseOffers)

    def inverseOfferRescinded(self, driver, inverseOfferId):
        """
        Keep the id.
        """
        self.rescinded.append(inverseOfferId.value)


def inverse_offer(offer_id="I1"):
    """
    An C{InverseOffer} of framework F1 for slave S1.
    """
    return mesos_pb2.InverseOffer(
        id=mesos_pb2.OfferID(value=offer_id), framework_id=mesos_pb2.FrameworkID(value="F1"),
        slave_id=mesos_pb2.SlaveID(value="S1"), unavailability=mesos_pb2.Unavailability(
            start=mesos_pb2.TimeInfo(nanoseconds=1)))


class InverseOfferDeliveryTests(SynchronousTestCase):
    """
    How frameworks hear of inverse offers and answer them: a classic
    driver's C{inverseOffers} callback and C{acceptInverseOffers} /
    C{declineInverseOffers}; the v1 API's INVERSE_OFFERS and
    RESCIND_INVERSE_OFFER events and ACCEPT_INVERSE_OFFERS /
    DECLINE_INVERSE_OFFERS calls.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.master = RecordingPeer(self.network, MASTER)

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def test_classic_driver(self):
        """
        The driver hands inverse offers (Mesos 0.25's place, in a
        C{ResourceOffersMessage} without offers) to C{inverseOffers}, and
        sends the scheduler's answers to the master.
        """
        scheduler = InverseOfferScheduler()
        driver = MesosSchedulerDriver(scheduler, mesos_pb2.FrameworkInfo(user="u", name="n"),
                                      "127.0.0.1:5050", reactor=self.clock,
                                      node_factory=self.network.node)
        driver.start()
        self.addCleanup(driver.abort)
        self.turn()
        self.master.send(driver.node.upid, internal.FrameworkRegisteredMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            master_info=mesos_pb2.MasterInfo(id="m", ip=1, port=5050)))
        self.master.send(driver.node.upid, internal.ResourceOffersMessage(
            inverse_offers=[inverse_offer()], pids=["slave(1)@127.0.0.1:5051"]))
        self.master.send(driver.node.upid, internal.RescindInverseOfferMessage(
            inverse_offer_id=mesos_pb2.OfferID(value="I0")))
        self.turn()
        self.assertEqual((scheduler.inverse, scheduler.offers, scheduler.rescinded),
                         ([inverse_offer()], [], ["I0"]))
        driver.declineInverseOffers([mesos_pb2.OfferID(value="I1")],
                                    mesos_pb2.Filters(refuse_seconds=30))
        driver.acceptInverseOffers([mesos_pb2.OfferID(value="I1")])
        self.turn()
        answers = self.master.of(internal.InverseOffersAnswerMessage)
        self.assertEqual([(a.accept, a.filters.refuse_seconds) for a in answers],
                         [(False, 30.0), (True, 5.0)])

    def test_v1_scheduler_api(self):
        """
        An HTTP framework gets INVERSE_OFFERS and RESCIND_INVERSE_OFFER
        events; its ACCEPT_INVERSE_OFFERS and DECLINE_INVERSE_OFFERS reach
        the master as answers.
        """
        leading = SimpleNamespace(pid=MASTER, trust=lambda upid, principal: None)
        api = SchedulerAPI(self.clock, SoleMaster(leading),
                           self.network.node)
        subscribe = scheduler_pb2.Call(type=scheduler_pb2.Call.SUBSCRIBE,
                                       subscribe=scheduler_pb2.Call.Subscribe(
                                           framework_info=mesos_pb2.FrameworkInfo(
                                               user="u", name="http")))
        stream = CallRequest(encode(subscribe, PROTOBUF), PROTOBUF, {"Accept": PROTOBUF})
        api.handle(stream)
        self.turn()
        (subscription,) = api.subscriptions.values()
        self.master.send(subscription.upid, internal.FrameworkRegisteredMessage(
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            master_info=mesos_pb2.MasterInfo(id="m", ip=1, port=5050)))
        self.master.send(subscription.upid, internal.ResourceOffersMessage(
            inverse_offers=[inverse_offer()], pids=["slave(1)@127.0.0.1:5051"]))
        self.master.send(subscription.upid, internal.RescindInverseOfferMessage(
            inverse_offer_id=mesos_pb2.OfferID(value="I1")))
        self.turn()
        events = stream.events(scheduler_pb2.Event.FromString)
        self.assertEqual([scheduler_pb2.Event.Type.Name(e.type) for e in events],
                         ["SUBSCRIBED", "INVERSE_OFFERS", "RESCIND_INVERSE_OFFER"])
        self.assertEqual(list(events[1].inverse_offers.inverse_offers), [inverse_offer()])
        for kind, accept in (("ACCEPT_INVERSE_OFFERS", True), ("DECLINE_INVERSE_OFFERS", False)):
            body = getattr(scheduler_pb2.Call, "AcceptInverseOffers" if accept
                           else "DeclineInverseOffers")(
                inverse_offer_ids=[mesos_pb2.OfferID(value="I1")])
            call = scheduler_pb2.Call(type=getattr(scheduler_pb2.Call, kind),
                                      framework_id=mesos_pb2.FrameworkID(value="F1"),
                                      **{kind.lower(): body})
            request = CallRequest(encode(call, PROTOBUF), PROTOBUF, {
                "Mesos-Stream-Id": subscription.stream_id})
            api.handle(request)
            self.assertEqual(request.responseCode, 202)
        self.turn()
        self.assertEqual([a.accept for a in self.master.of(internal.InverseOffersAnswerMessage)],
                         [True, False])
