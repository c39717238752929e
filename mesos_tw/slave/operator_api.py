"""
Mesos's v1 operator API on the slave, C{POST /api/v1}, in JSON or
protobuf (C{mesos.v1.agent.Call}, answered with a C{Response} in the
encoding C{Accept} asks for): health, flags, version, metrics, the state,
containers, frameworks, executors, tasks, and listing and reading the
sandboxes' files.
"""

from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.agent_pb2 import Call, Response
from mesos_tw.slave.metrics import metrics_snapshot
from mesos_tw.web.operator import OperatorCalls

__all__ = ["SlaveOperatorAPI"]


def _task(task, state=None):
    """
    An internal C{Task} (or a queued C{TaskInfo}, in C{state}) as a
    C{mesos.Task}.
    """
    result = mesos_pb2.Task(name=task.name, task_id=task.task_id, slave_id=task.slave_id,
                            resources=task.resources)
    if state is None:
        result.framework_id.CopyFrom(task.framework_id)
        result.state = task.state
        if task.HasField("executor_id") and task.executor_id.value:
            result.executor_id.CopyFrom(task.executor_id)
    else:
        result.state = state
    return result


class SlaveOperatorAPI(OperatorCalls):
    """
    The slave's C{/api/v1}.

    @param flags: C{{"flags": {...}}}, as C{/slave(1)/flags} shows them.
    @param files: the slave's L{mesos_tw.slave.files.SandboxFiles}.
    """

    call_class = Call
    response_class = Response
    what = "the slave"

    def __init__(self, slave, flags, files):
        self.slave = slave
        self.flags = flags
        self.sandboxes = files

    def files(self):
        """
        The sandboxes under the slave's work directory.
        """
        return self.sandboxes

    def metrics(self):
        """
        The slave's metrics snapshot.
        """
        return metrics_snapshot(self.slave)

    def _executors(self):
        return [(framework, executor) for framework in self.slave.frameworks.values()
                for executor in framework.executors.values()]

    def _frameworks(self):
        result = Response.GetFrameworks(
            frameworks=[Response.GetFrameworks.Framework(framework_info=f.info)
                        for f in self.slave.frameworks.values()],
            completed_frameworks=[Response.GetFrameworks.Framework(framework_info=f.info)
                                  for f in self.slave.completed_frameworks])
        return result

    def _executor_list(self):
        result = Response.GetExecutors()
        for framework in self.slave.frameworks.values():
            for executor in framework.executors.values():
                result.executors.add(executor_info=executor.info)
            for executor in framework.completed_executors:
                result.completed_executors.add(executor_info=executor.info)
        return result

    def _tasks(self):
        result = Response.GetTasks()
        frameworks = list(self.slave.frameworks.values()) + list(self.slave.completed_frameworks)
        for framework in frameworks:
            for executor in list(framework.executors.values()) + list(
                    framework.completed_executors):
                for info in executor.queued_tasks.values():
                    task = result.queued_tasks.add()
                    task.CopyFrom(_task(info, mesos_pb2.TASK_STAGING))
                    task.framework_id.value = framework.id
                    task.executor_id.CopyFrom(executor.info.executor_id)
                result.launched_tasks.extend(_task(t) for t in executor.tasks.values())
                result.completed_tasks.extend(_task(t) for t in executor.completed_tasks)
        return result

    def call_get_state(self, request, body):
        """
        GET_STATE: tasks, executors, frameworks.
        """
        return Response(type=Response.GET_STATE, get_state=Response.GetState(
            get_tasks=self._tasks(), get_executors=self._executor_list(),
            get_frameworks=self._frameworks()))

    def call_get_frameworks(self, request, body):
        """
        GET_FRAMEWORKS: those with executors here, and those done.
        """
        return Response(type=Response.GET_FRAMEWORKS, get_frameworks=self._frameworks())

    def call_get_executors(self, request, body):
        """
        GET_EXECUTORS: running and completed executors.
        """
        return Response(type=Response.GET_EXECUTORS, get_executors=self._executor_list())

    def call_get_tasks(self, request, body):
        """
        GET_TASKS: queued (waiting for their executor), launched, completed.
        """
        return Response(type=Response.GET_TASKS, get_tasks=self._tasks())

    def call_get_containers(self, request, body):
        """
        GET_CONTAINERS: each running executor's container (its run's id)
        with its latest resource usage, where sampled.
        """
        usage = {(sample.framework_id, sample.executor_id): sample.statistics
                 for sample in self.slave.monitor.samples()}
        result = Response(type=Response.GET_CONTAINERS)
        for framework, executor in self._executors():
            container = result.get_containers.containers.add(
                framework_id=mesos_pb2.FrameworkID(value=framework.id),
                executor_id=executor.info.executor_id, executor_name=executor.info.name,
                container_id=mesos_pb2.ContainerID(value=executor.run_id))
            statistics = usage.get((framework.id, executor.id))
            if statistics is not None:
                container.resource_statistics.CopyFrom(statistics)
        return result
