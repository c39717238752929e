"""
The simulated parts of a simulated cluster: executors that are in-memory
executor drivers on simulated time (L{SimulatedIsolator} starts one for
each executor a real slave launches), and a framework's scheduler that
launches tasks and records what it is told (L{SimulatedScheduler}).
Masters, slaves and the drivers themselves are the real classes.
"""

from mesos_tw.driver.executor import MesosExecutorDriver
from mesos_tw.interface import Executor, Scheduler, mesos_pb2
from mesos_tw.testing.isolation import FakeIsolator

__all__ = ["SimulatedExecutor", "SimulatedIsolator", "SimulatedScheduler", "TERMINAL"]

TERMINAL = frozenset({
    mesos_pb2.TASK_FINISHED, mesos_pb2.TASK_FAILED, mesos_pb2.TASK_KILLED,
    mesos_pb2.TASK_LOST, mesos_pb2.TASK_ERROR, mesos_pb2.TASK_DROPPED,
    mesos_pb2.TASK_GONE, mesos_pb2.TASK_GONE_BY_OPERATOR,
})


class SimulatedExecutor(Executor):
    """
    Runs each task for the seconds its C{data} holds: C{TASK_RUNNING} at
    once, C{TASK_FINISHED} when the time is up, C{TASK_KILLED} if killed.

    @param started: called with each task's id as it starts.
    """

    def __init__(self, clock, started):
        self.clock = clock
        self.started = started
        self.running = {}

    def launchTask(self, driver, task):
        task_id = task.task_id.value
        self.started(task_id)
        driver.sendStatusUpdate(mesos_pb2.TaskStatus(
            task_id=task.task_id, state=mesos_pb2.TASK_RUNNING))
        self.running[task_id] = self.clock.callLater(
            float(task.data.decode("ascii")), self._end, driver, task.task_id,
            mesos_pb2.TASK_FINISHED)

    def killTask(self, driver, taskId):
        if taskId.value in self.running:
            self._end(driver, taskId, mesos_pb2.TASK_KILLED)

    def shutdown(self, driver):
        for call in self.running.values():
            if call.active():
                call.cancel()
        self.running.clear()
        driver.stop()

    def _end(self, driver, task_id, state):
        call = self.running.pop(task_id.value, None)
        if call is not None and call.active():
            call.cancel()
        driver.sendStatusUpdate(mesos_pb2.TaskStatus(task_id=task_id, state=state))
        if not self.running:
            # Like the command executor: one task, then the executor ends.
            driver.stop()


class SimulatedIsolator(FakeIsolator):
    """
    A L{FakeIsolator} whose launched executors are L{SimulatedExecutor}s
    on in-memory executor drivers: they register with the slave over the
    simulated network and exit when their driver stops; destroying one
    kills its "process" (its connections drop at once).

    @param started: called with each task's id as an executor starts it.
    """

    def __init__(self, clock, network, started):
        FakeIsolator.__init__(self, clock)
        self.network = network
        self.started = started
        self.drivers = {}

    def launch(self, framework_id, executor_id, environment):
        d = FakeIsolator.launch(self, framework_id, executor_id, environment)
        key = (framework_id, executor_id)
        driver = MesosExecutorDriver(
            SimulatedExecutor(self.clock, self.started), reactor=self.clock,
            environ=dict(environment),
            node_factory=self.network.node, new_uuid=self.network.new_uuid)
        self.drivers[key] = driver
        driver.stopped.addCallback(self._driver_stopped, key, driver)
        self.clock.callLater(0, driver.start)
        return d

    def _driver_stopped(self, _, key, driver):
        if self.drivers.get(key) is driver:
            del self.drivers[key]
            if key in self.launched:
                self.exit(*key, status=0)

    def destroy(self, framework_id, executor_id):
        driver = self.drivers.pop((framework_id, executor_id), None)
        if driver is not None:
            if driver.node is not None:
                self.network.crash(driver.node.upid)
            driver.abort()
        return FakeIsolator.destroy(self, framework_id, executor_id)


class SimulatedScheduler(Scheduler):
    """
    Launches C{wanted} command tasks (cpus 0.1, mem 32) of seeded random
    durations on the offers it gets, and records every update.

    @ivar updates: C{{task id: [TaskState, ...]}} in the order received.
    @ivar unreachable_losses: C{(task id, index in updates)} of the
        C{TASK_LOST} updates that carry an C{unreachable_time} (the slave
        was found unreachable and may come back).
    @ivar launched: the task ids launched, in order.
    """

    def __init__(self, name, wanted, rng, clock):
        self.name = name
        self.wanted = wanted
        self.rng = rng
        self.clock = clock
        self.updates = {}
        self.unreachable_losses = set()
        self.launched = []
        self.framework_id = None
        self.errors = []

    def registered(self, driver, frameworkId, masterInfo):
        self.framework_id = frameworkId.value

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            tasks = []
            while len(self.launched) < self.wanted and cpus >= 0.1 and mem >= 32:
                task_id = f"{self.name}-task-{len(self.launched)}"
                self.launched.append(task_id)
                self.updates[task_id] = []
                info = mesos_pb2.TaskInfo(
                    name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
                    slave_id=offer.slave_id,
                    data=f"{self.rng.uniform(1.0, 120.0):.1f}".encode("ascii"))
                info.resources.add(name="cpus", type=mesos_pb2.Value.SCALAR).scalar.value = 0.1
                info.resources.add(name="mem", type=mesos_pb2.Value.SCALAR).scalar.value = 32
                info.command.value = "simulated"
                tasks.append(info)
                cpus, mem = cpus - 0.1, mem - 32
            if tasks:
                driver.launchTasks([offer.id], tasks)
            else:
                driver.declineOffer(offer.id, mesos_pb2.Filters(refuse_seconds=5))

    def reconcile(self, driver):
        """
        Ask about every task not known to have ended, by id (explicit
        reconciliation: the master answers for tasks it never heard of too),
        and about the rest the master knows (implicit).
        """
        open_tasks = [mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=task_id),
                                           state=mesos_pb2.TASK_STAGING)
                      for task_id in self.launched
                      if not self.updates[task_id] or self.updates[task_id][-1] not in TERMINAL]
        if open_tasks:
            driver.reconcileTasks(open_tasks)
        driver.reconcileTasks([])

    def statusUpdate(self, driver, status):
        states = self.updates.setdefault(status.task_id.value, [])
        if status.state == mesos_pb2.TASK_LOST and status.HasField("unreachable_time"):
            self.unreachable_losses.add((status.task_id.value, len(states)))
        states.append(status.state)

    def error(self, driver, message):
        self.errors.append(message)
