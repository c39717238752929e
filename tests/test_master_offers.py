"""
Tests for the master's offers: allocation into offers, launches and their
validation, filters, offer timeouts, suppression, roles and the whitelist.
Driven message by message over an in-memory network on a fake clock.
"""

from mesos_tw.master.master import Master
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.master import (
    MASTER,
    MasterTestCase,
    executor_info,
    slave_info,
    task_info,
)
from mesos_tw.testing.peers import RecordingPeer


class OfferTests(MasterTestCase):
    """
    Offers, launches, declines and filters.
    """

    def test_resource_offer_with_multiple_slaves(self):
        """
        Each slave's free resources are offered, one offer per slave, with
        the slave's UPID alongside.
        """
        slave1, id1 = self.add_slave("slave(1)", 5051)
        slave2, id2 = self.add_slave("slave(2)", 5052, "cpus:4;mem:2048")
        scheduler, _ = self.add_framework()
        offers = scheduler.last(internal.ResourceOffersMessage)
        by_slave = {o.slave_id.value: Resources.from_protobuf(o.resources) for o in offers.offers}
        self.assertEqual(by_slave, {id1: Resources.parse("cpus:2;mem:1024"),
                                    id2: Resources.parse("cpus:4;mem:2048")})
        self.assertEqual(sorted(offers.pids), [str(slave1.upid), str(slave2.upid)])

    def test_task_running(self):
        """
        A valid task goes to its slave as RunTaskMessage, staged; the rest
        of the offer is re-offered after the filter.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info("t1", slave_id)])
        run = slave.last(internal.RunTaskMessage)
        self.assertEqual((run.task.task_id.value, run.pid), ("t1", str(scheduler.upid)))
        self.assertEqual(self.master.task_state_name(framework_id, "t1"), "TASK_STAGING")
        self.clock.advance(5)
        self.turn()
        offers = scheduler.of(internal.ResourceOffersMessage)
        self.assertEqual(Resources.from_protobuf(offers[-1].offers[0].resources),
                         Resources.parse("cpus:1;mem:896"))

    def test_status_update_forwarded_and_resources_recovered(self):
        """
        A slave's update goes to the scheduler unchanged; a terminal one
        returns the task's resources to the pool.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info("t1", slave_id)], 0)
        for state in (mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_FINISHED):
            update = internal.StatusUpdate(
                framework_id=mesos_pb2.FrameworkID(value=framework_id),
                slave_id=mesos_pb2.SlaveID(value=slave_id), timestamp=1.0, uuid=bytes([state]),
                status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t1"), state=state))
            slave.send(MASTER, internal.StatusUpdateMessage(update=update, pid=str(slave.upid)))
            self.turn()
        forwarded = scheduler.of(internal.StatusUpdateMessage)
        self.assertEqual([m.update.status.state for m in forwarded],
                         [mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_FINISHED])
        self.assertEqual(forwarded[0].pid, str(slave.upid))
        self.assertEqual(self.master.stats["finished_tasks"], 1)
        self.clock.advance(1)
        self.turn()
        offered = self.master.state()["frameworks"][0]["offered_resources"]
        self.assertEqual(offered, {"cpus": 2.0, "mem": 1024.0})

    def test_decline_with_filter_then_revive(self):
        """
        A declined offer is not re-offered until its filter expires, or the
        framework revives.
        """
        self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [], refuse_seconds=60)
        self.clock.advance(30)
        self.turn()
        self.assertEqual(len(scheduler.of(internal.ResourceOffersMessage)), 1)
        scheduler.send(MASTER, internal.ReviveOffersMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id)))
        self.turn()
        self.assertEqual(len(scheduler.of(internal.ResourceOffersMessage)), 2)

    def test_resources_get_reoffered_when_unused(self):
        """
        With no filter (refuse_seconds 0) an unused offer comes back at the
        next allocation.
        """
        self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [], refuse_seconds=0)
        self.assertEqual(len(scheduler.of(internal.ResourceOffersMessage)), 2)

    def test_invalid_offer(self):
        """
        A launch on an offer that does not exist: every task is TASK_LOST
        with a message naming the offer.
        """
        self.add_slave()
        scheduler, framework_id = self.add_framework()
        bogus = mesos_pb2.Offer(
            id=mesos_pb2.OfferID(value="nope"), framework_id=mesos_pb2.FrameworkID(value="f"),
            slave_id=mesos_pb2.SlaveID(value="s"), hostname="h")
        self.launch(scheduler, framework_id, bogus, [task_info("t1", "s")])
        update = scheduler.last(internal.StatusUpdateMessage)
        self.assertEqual(update.update.status.state, mesos_pb2.TASK_LOST)
        self.assertIn("invalid offer nope", update.update.status.message)
        self.assertEqual(update.update.status.reason, mesos_pb2.TaskStatus.REASON_INVALID_OFFERS)
        self.assertFalse(update.HasField("pid"))

    def test_another_frameworks_offer(self):
        """
        A framework cannot launch on an offer made to another.
        """
        self.add_slave(resources="cpus:1;mem:512")
        first, first_id = self.add_framework("scheduler-1")
        second, second_id = self.add_framework("scheduler-2")
        offer = first.last(internal.ResourceOffersMessage).offers[0]
        self.launch(second, second_id, offer, [task_info("t1", offer.slave_id.value)])
        self.assertEqual(self.updates(second), [("t1", mesos_pb2.TASK_LOST)])

    def invalid_task(self, make_tasks):
        """
        Launch the tasks C{make_tasks(slave_id)} and return the scheduler's
        updates and the messages of its TASK_ERRORs.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, make_tasks(slave_id), refuse_seconds=0)
        errors = [m.update.status.message for m in scheduler.of(internal.StatusUpdateMessage)
                  if m.update.status.state == mesos_pb2.TASK_ERROR]
        return self.updates(scheduler), errors, slave

    def test_task_uses_more_resources_than_offered(self):
        """
        TASK_ERROR saying the task uses more than the offer has.
        """
        updates, errors, slave = self.invalid_task(
            lambda s: [task_info("t1", s, "cpus:3;mem:128")])
        self.assertEqual(updates, [("t1", mesos_pb2.TASK_ERROR)])
        self.assertIn("more resources", errors[0])
        self.assertEqual(slave.of(internal.RunTaskMessage), [])

    def test_task_uses_invalid_resources(self):
        """
        TASK_ERROR for a negative resource.
        """
        def tasks(slave_id):
            task = task_info("t1", slave_id)
            task.resources[0].scalar.value = -1
            return [task]

        updates, errors, _ = self.invalid_task(tasks)
        self.assertIn("invalid resources", errors[0])

    def test_task_uses_no_resources(self):
        """
        TASK_ERROR for a task asking for nothing.
        """
        updates, errors, _ = self.invalid_task(lambda s: [task_info("t1", s, "")])
        self.assertIn("no resources", errors[0])

    def test_duplicate_task_id(self):
        """
        The second task with an id in use gets TASK_ERROR; the first runs.
        """
        updates, errors, slave = self.invalid_task(
            lambda s: [task_info("t1", s), task_info("t1", s)])
        self.assertEqual(updates, [("t1", mesos_pb2.TASK_ERROR)])
        self.assertIn("duplicate", errors[0])
        self.assertEqual(len(slave.of(internal.RunTaskMessage)), 1)

    def test_kill_policy_validation(self):
        """
        A negative kill-policy grace period is a TASK_ERROR (Mesos's
        message); a valid one is kept with the task.
        """
        def tasks(slave_id):
            bad, good = task_info("bad", slave_id, "cpus:0.5;mem:64"), task_info("good", slave_id)
            bad.kill_policy.grace_period.nanoseconds = -1
            good.kill_policy.grace_period.nanoseconds = 10
            return [bad, good]

        updates, errors, slave = self.invalid_task(tasks)
        self.assertEqual(updates, [("bad", mesos_pb2.TASK_ERROR)])
        self.assertEqual(errors, ["Task's 'kill_policy.grace_period' must be non-negative"])
        self.assertEqual(slave.last(internal.RunTaskMessage).task.kill_policy.grace_period
                         .nanoseconds, 10)

    def test_health_check_validation(self):
        """
        An invalid health check is a TASK_ERROR naming the mistake.
        """
        def tasks(slave_id):
            task = task_info("t1", slave_id)
            task.health_check.type = mesos_pb2.HealthCheck.HTTP
            task.health_check.http.port = 80
            task.health_check.http.path = "healthz"
            return [task]

        updates, errors, slave = self.invalid_task(tasks)
        self.assertEqual(errors, ["Task uses invalid health check: The path 'healthz' of HTTP "
                                  "health check must start with '/'"])
        self.assertEqual(slave.of(internal.RunTaskMessage), [])

    def test_health_and_killing_in_state(self):
        """
        A task's health, from its executor's updates, shows in its statuses
        in the state (one entry per state reached, however many health
        updates); TASK_KILLING is not terminal; the health check is shown.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        task = task_info("t1", slave_id)
        task.health_check.type = mesos_pb2.HealthCheck.TCP
        task.health_check.tcp.port = 8080
        self.launch(scheduler, framework_id, offer, [task], 0)
        for number, (state, healthy) in enumerate([
                (mesos_pb2.TASK_RUNNING, None), (mesos_pb2.TASK_RUNNING, True),
                (mesos_pb2.TASK_RUNNING, False), (mesos_pb2.TASK_KILLING, None)]):
            update = internal.StatusUpdate(
                framework_id=mesos_pb2.FrameworkID(value=framework_id),
                slave_id=mesos_pb2.SlaveID(value=slave_id), timestamp=float(number),
                uuid=bytes([number]), status=mesos_pb2.TaskStatus(
                    task_id=mesos_pb2.TaskID(value="t1"), state=state, healthy=healthy,
                    timestamp=float(number)))
            slave.send(MASTER, internal.StatusUpdateMessage(update=update, pid=str(slave.upid)))
            self.turn()
        [json] = self.master.state()["frameworks"][0]["tasks"]
        self.assertEqual(json["state"], "TASK_KILLING")
        self.assertEqual(json["statuses"][1:], [
            {"state": "TASK_RUNNING", "timestamp": 0.0, "healthy": False},
            {"state": "TASK_KILLING", "timestamp": 3.0}])
        self.assertEqual((json["health_check"]["type"], json["health_check"]["tcp"]["port"]),
                         ("TCP", 8080))
        self.assertEqual(self.master.stats["started_tasks"], 1)

    def test_executor_and_command(self):
        """
        A task with both an executor and a command, or neither, is an error.
        """
        def tasks(slave_id):
            both = task_info("t1", slave_id, executor=executor_info())
            both.command.value = "true"
            neither = task_info("t2", slave_id, command=None)
            return [both, neither]

        updates, errors, _ = self.invalid_task(tasks)
        self.assertEqual(len(errors), 2)
        self.assertTrue(all("exactly one of executor or command" in e for e in errors))

    def test_tasks_executor_info_differs(self):
        """
        Two tasks naming one executor id with different ExecutorInfos: the
        second is refused.
        """
        updates, errors, _ = self.invalid_task(lambda s: [
            task_info("t1", s, executor=executor_info(command="./a")),
            task_info("t2", s, executor=executor_info(command="./b")),
        ])
        self.assertEqual(updates, [("t2", mesos_pb2.TASK_ERROR)])
        self.assertIn("differs", errors[0])

    def test_wrong_slave(self):
        """
        A task naming another slave than its offer's is refused.
        """
        updates, errors, _ = self.invalid_task(lambda s: [task_info("t1", "elsewhere")])
        self.assertIn("offer is for slave", errors[0])

    def test_container_images_refused(self):
        """
        A task asking for a Docker image, a Mesos image or an image volume
        gets TASK_ERROR saying images are not supported; its neighbour of
        type MESOS without an image is launched as if it had no container.
        """
        ContainerInfo = mesos_pb2.ContainerInfo

        def tasks(slave_id):
            plain = task_info("plain", slave_id, "cpus:0.1;mem:16")
            plain.container.type = ContainerInfo.MESOS
            docker = task_info("docker", slave_id, "cpus:0.1;mem:16")
            docker.container.type = ContainerInfo.DOCKER
            docker.container.docker.image = "busybox"
            appc = task_info("mesos-image", slave_id, "cpus:0.1;mem:16")
            appc.container.type = ContainerInfo.MESOS
            appc.container.mesos.image.type = mesos_pb2.Image.DOCKER
            appc.container.mesos.image.docker.name = "busybox"
            volume = task_info("volume", slave_id, "cpus:0.1;mem:16")
            volume.container.type = ContainerInfo.MESOS
            volume.container.volumes.add(container_path="/data", mode=mesos_pb2.Volume.RO,
                                         image=appc.container.mesos.image)
            return [plain, docker, appc, volume]

        updates, errors, slave = self.invalid_task(tasks)
        self.assertEqual(sorted(updates), [("docker", mesos_pb2.TASK_ERROR),
                                           ("mesos-image", mesos_pb2.TASK_ERROR),
                                           ("volume", mesos_pb2.TASK_ERROR)])
        self.assertEqual(len(errors), 3)
        self.assertTrue(all("container images are not supported" in e for e in errors), errors)
        self.assertIn("'busybox'", errors[0])
        launched = slave.of(internal.RunTaskMessage)
        self.assertEqual([m.task.task_id.value for m in launched], ["plain"])

    def test_environment_variable_without_value(self):
        """
        An environment variable of type VALUE without a value, or a secret,
        is a TASK_ERROR in Mesos's words (CommandInfo's variables have an
        optional value in Mesos's protos, checked at launch); so is an
        executor's command without a shell, which we do not run.
        """
        def tasks(slave_id):
            novalue = task_info("novalue", slave_id, "cpus:0.1;mem:16")
            novalue.command.environment.variables.add(name="HOME")
            secret = task_info("secret", slave_id, "cpus:0.1;mem:16")
            secret.command.environment.variables.add(
                name="TOKEN", type=mesos_pb2.Environment.Variable.SECRET)
            executor = executor_info()
            executor.command.shell = False
            noshell = task_info("noshell", slave_id, "cpus:0.1;mem:16", executor=executor)
            return [novalue, secret, noshell]

        updates, errors, _ = self.invalid_task(tasks)
        self.assertEqual(len(errors), 3)
        self.assertIn("Environment variable 'HOME' of type 'VALUE' must have a value set",
                      errors[0])
        self.assertIn("'TOKEN' of type 'SECRET' is not supported", errors[1])
        self.assertIn("shell=false", errors[2])

    def test_command_without_shell(self):
        """
        A command task without a shell (a program and its arguments) is
        launched: the command executor runs it so.
        """
        def tasks(slave_id):
            task = task_info("t1", slave_id, "cpus:0.1;mem:16")
            task.command.shell = False
            task.command.value = "sleep"
            task.command.arguments.extend(["sleep", "1"])
            return [task]

        updates, errors, slave = self.invalid_task(tasks)
        self.assertEqual(errors, [])
        [run] = slave.of(internal.RunTaskMessage)
        self.assertEqual((run.task.command.shell, list(run.task.command.arguments)),
                         (False, ["sleep", "1"]))

    def test_executor_resources_counted(self):
        """
        A new executor's resources count against the offer.
        """
        updates, errors, _ = self.invalid_task(lambda s: [
            task_info("t1", s, "cpus:1.5;mem:128", executor=executor_info(resources="cpus:1"))])
        self.assertIn("more resources", errors[0])


class OfferPolicyTests(MasterTestCase):
    """
    Offer timeouts, suppression, roles and the whitelist.
    """

    def restart_master(self, **options):
        """
        Replace the master with one made with C{options}.
        """
        self.master.stop()
        self.network.nodes.pop(MASTER)
        self.master = Master(self.clock, self.network.node(MASTER), **options)
        self.master.start()
        self.addCleanup(self.master.stop)

    def test_offer_timeout_rescinds(self):
        """
        With C{offer_timeout}, an offer left unanswered that long is
        rescinded, its resources recovered and offered again.
        """
        self.restart_master(offer_timeout=10.0)
        self.add_slave()
        scheduler, _ = self.add_framework()
        first = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.clock.advance(9.9)
        self.turn()
        self.assertEqual(scheduler.of(internal.RescindResourceOfferMessage), [])
        self.clock.advance(0.1)
        self.turn()
        self.assertEqual(scheduler.last(internal.RescindResourceOfferMessage).offer_id, first.id)
        self.assertNotIn(first.id.value, self.master.offers)
        self.assertEqual(len(scheduler.of(internal.ResourceOffersMessage)), 2)

    def test_used_offer_never_rescinded(self):
        """
        An offer answered before the timeout is not rescinded later.
        """
        self.restart_master(offer_timeout=10.0)
        _, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info("t1", slave_id)])
        self.clock.advance(20)
        self.turn()
        self.assertNotIn(offer.id, [m.offer_id for m in
                                    scheduler.of(internal.RescindResourceOfferMessage)])

    def test_suppress_then_revive(self):
        """
        A framework that suppresses offers gets none, even once its decline
        filter expires, until it revives.
        """
        _, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        scheduler.send(MASTER, internal.SuppressOffersMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id)))
        self.launch(scheduler, framework_id, offer, [], refuse_seconds=1.0)
        self.clock.advance(5)
        self.turn()
        self.assertEqual(len(scheduler.of(internal.ResourceOffersMessage)), 1)
        scheduler.send(MASTER, internal.ReviveOffersMessage(
            framework_id=mesos_pb2.FrameworkID(value=framework_id)))
        self.turn()
        self.assertEqual(len(scheduler.of(internal.ResourceOffersMessage)), 2)

    def test_role_not_allowed(self):
        """
        With C{roles}, a framework of another role is refused with an error
        naming the allowed ones; the default role is always allowed.
        """
        self.restart_master(roles={"prod"})
        scheduler = RecordingPeer(self.network, UPID("scheduler-x", "127.0.0.1", 0))
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="u", name="x", role="dev")))
        self.turn()
        self.assertIn("'dev' is not one of the master's --roles (prod)",
                      scheduler.last(internal.FrameworkErrorMessage).message)
        self.assertEqual(self.master.frameworks, {})
        _, framework_id = self.add_framework()
        self.assertIn(framework_id, self.master.frameworks)

    def test_whitelist_file(self):
        """
        With a whitelist file, only the slaves it names are offered; an
        edit takes effect when the file is next read.
        """
        path = self.mktemp()
        with open(path, "w", encoding="utf-8") as whitelist:
            whitelist.write("# only host2\nhost2\n")
        self.restart_master(whitelist=path)
        slave1 = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5051))
        slave1.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info(hostname="host1")))
        slave2 = RecordingPeer(self.network, UPID("slave(2)", "127.0.0.1", 5052))
        slave2.send(MASTER, internal.RegisterSlaveMessage(slave=slave_info(hostname="host2")))
        self.turn()
        scheduler, _ = self.add_framework()
        hosts = [o.hostname for m in scheduler.of(internal.ResourceOffersMessage) for o in m.offers]
        self.assertEqual(hosts, ["host2"])
        with open(path, "w", encoding="utf-8") as whitelist:
            whitelist.write("*\n")
        self.clock.advance(5)
        self.turn()
        hosts = [o.hostname for m in scheduler.of(internal.ResourceOffersMessage) for o in m.offers]
        self.assertEqual(hosts, ["host2", "host1"])
