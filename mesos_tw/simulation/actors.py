"""
The simulated parts of a simulated cluster: executors that are in-memory
executor drivers on simulated time (L{SimulatedIsolator} starts one for
each executor a real slave launches), and a framework's scheduler that
launches tasks and records what it is told (L{SimulatedScheduler}).
Masters, slaves and the drivers themselves are the real classes.
"""

from mesos_tw.interface import Executor, Scheduler, mesos_pb2
from mesos_tw.testing.isolation import FakeIsolator

__all__ = ["SimulatedExecutor", "SimulatedIsolator", "SimulatedScheduler", "TERMINAL"]

#: What each simulated task uses: a slave (cpus 1) runs four at once, so
#: frameworks compete for the cluster.
CPUS, MEM = 0.25, 64

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
    A L{FakeIsolator} for one slave process of a
    L{mesos_tw.simulation.processes.SlaveMachine}: the executors it
    launches are the machine's L{ExecutorProcess}es (in-memory executor
    drivers that register with the slave over the simulated network),
    which outlive the slave process; a restarted slave's isolator recovers
    those still running.  Destroying one kills its process.

    @ivar machine: the machine, or L{None} once this slave process died.
    """

    def __init__(self, clock, machine):
        FakeIsolator.__init__(self, clock)
        self.machine = machine
        self._processes = {}

    def recover(self, containers):
        """
        Resume the containers whose executor process still runs; kill the
        machine's other executor processes (orphans).
        """
        running = self.machine.executors
        listed = {container.pid for container in containers}
        self.dead_pids = listed - set(running)
        for pid, process in list(running.items()):
            if pid not in listed:
                process.kill()
        for container in containers:
            if container.pid in running:
                self._processes[container.key] = running[container.pid]
        return FakeIsolator.recover(self, containers)

    def launch(self, framework_id, executor_id, environment):
        """
        Start the executor's process on the machine.
        """
        d = FakeIsolator.launch(self, framework_id, executor_id, environment)
        if not self.launched.get((framework_id, executor_id)):
            return d
        key = (framework_id, executor_id)
        pid = self.machine.launch(key, environment)
        self._processes[key] = self.machine.executors[pid]
        return d.addCallback(lambda _: pid)

    def process_exited(self, process, status):
        """
        An executor process of the machine ended: its container ends.
        """
        if self._processes.get(process.key) is process:
            del self._processes[process.key]
            if process.key in self.launched:
                self.exit(*process.key, status=status)

    def destroy(self, framework_id, executor_id):
        """
        Kill the executor's process, if it runs.
        """
        process = self._processes.pop((framework_id, executor_id), None)
        if process is not None:
            process.kill()
        return FakeIsolator.destroy(self, framework_id, executor_id)


class SimulatedScheduler(Scheduler):
    """
    Launches C{wanted} command tasks (L{CPUS}, L{MEM} each) of seeded random
    durations (up to C{longest} seconds) on the offers it gets, and records
    every update.

    @ivar updates: C{{task id: [TaskState, ...]}} in the order received.
    @ivar unreachable_losses: C{(task id, index in updates)} of the
        C{TASK_LOST} updates that carry an C{unreachable_time} (the slave
        was found unreachable and may come back).
    @ivar launched: the task ids launched, in order.
    """

    def __init__(self, name, wanted, rng, clock, longest=60.0):
        self.name = name
        self.longest = longest
        self.wanted = wanted
        self.rng = rng
        self.clock = clock
        self.updates = {}
        self.unreachable_losses = set()
        self.launched = []
        self.framework_id = None
        self.errors = []
        #: How many scheduler processes have run this framework.
        self.incarnation = 0
        #: How many v1 SUBSCRIBE calls it made without a framework id (each
        #: may leave a framework the master keeps: its SUBSCRIBED event
        #: may be lost with the stream).
        self.anonymous_subscriptions = 0
        #: task id -> the incarnation that heard its terminal update.
        self.ended_in = {}
        #: Tasks heard of after their terminal update.
        self.late = set()
        #: Terminal updates heard again by a later incarnation (their
        #: acknowledgement died with the process that heard them first).
        self.redelivered = 0

    def registered(self, driver, frameworkId, masterInfo):
        self.framework_id = frameworkId.value

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
            tasks = []
            while len(self.launched) < self.wanted and cpus >= CPUS and mem >= MEM:
                task_id = f"{self.name}-task-{len(self.launched)}"
                self.launched.append(task_id)
                self.updates[task_id] = []
                info = mesos_pb2.TaskInfo(
                    name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
                    slave_id=offer.slave_id,
                    data=f"{self.rng.uniform(0.1, self.longest):.1f}".encode("ascii"))
                info.resources.add(name="cpus", type=mesos_pb2.Value.SCALAR).scalar.value = CPUS
                info.resources.add(name="mem", type=mesos_pb2.Value.SCALAR).scalar.value = MEM
                info.command.value = "simulated"
                tasks.append(info)
                cpus, mem = cpus - CPUS, mem - MEM
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
        task_id = status.task_id.value
        states = self.updates.setdefault(task_id, [])
        ended = self.ended_in.get(task_id)
        if ended is not None and ended < self.incarnation and status.state == states[-1]:
            # At-least-once: the process that heard it may have died before
            # its acknowledgement reached the slave.
            self.redelivered += 1
            return
        # Mesos 1.5+: a TASK_LOST with an unreachable_time (its slave was
        # found unreachable) may be followed by the task's state again.
        unreachable = (status.state == mesos_pb2.TASK_LOST
                       and status.HasField("unreachable_time"))
        if unreachable:
            self.unreachable_losses.add((task_id, len(states)))
        states.append(status.state)
        if ended is not None:
            self.late.add(task_id)
        elif status.state in TERMINAL and not unreachable:
            self.ended_in[task_id] = self.incarnation

    def error(self, driver, message):
        self.errors.append(message)
