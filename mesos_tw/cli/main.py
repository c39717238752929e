"""
The C{mesos} command line: run a command on the cluster, list and inspect
its tasks, slaves and frameworks, read and follow sandbox files, tear
frameworks down and schedule maintenance, through the v1 operator API.

The master is C{--master} (C{host:port}, C{zk://host:port,.../path} or
C{file:///path}), or the C{MESOS_MASTER} environment variable.  Lists are
aligned tables (tabulate), or JSON with C{--json}.  Exit codes: 0 done,
1 the cluster refused or the task did not finish, 2 bad usage, 3 no
leading master could be reached, 4 nothing matches what was named, 5
several things do.
"""

import json
import sys

import click
from twisted.internet.task import deferLater

from mesos_tw.cli.execute import CommandScheduler, command_task
from mesos_tw.cli.maintenance import add_agent_commands, maintenance
from mesos_tw.cli.running import EXIT_FAILED, Options, fail, run, show
from mesos_tw.cli.tasks import NotFound, TaskFiles, find_task, task_ended, tasks_of
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.master_pb2 import Call
from mesos_tw.resources import Resources, ResourcesError
from mesos_tw.web.v1 import to_v1

__all__ = ["cli", "main"]

def _scalar(resources, name):
    return Resources.from_protobuf(resources).scalar(name)


def _state(value):
    return mesos_pb2.TaskState.Name(value)


@click.group()
@click.option("--master", envvar="MESOS_MASTER", default="127.0.0.1:5050", show_default=True,
              help="The master: host:port, zk://host:port,.../path or file:///path "
                   "(or $MESOS_MASTER).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def cli(context, master, as_json):
    """
    Operate a mesos_tw (Apache Mesos) cluster.
    """
    context.obj = Options(master, as_json)


@cli.command()
@click.pass_obj
def state(options):
    """
    The master's whole state (GET_STATE), as JSON.
    """
    async def command(client):
        response = await client.call(Call(type=Call.GET_STATE))
        click.echo(json.dumps(to_v1(response.get_state), indent=2, sort_keys=True))
    run(options, command)


@cli.group()
def task():
    """
    Tasks: list them, read their logs.
    """


def _list_tasks(options, include_completed):
    async def command(client):
        response = await client.call(Call(type=Call.GET_STATE))
        hosts = {a.agent_info.id.value: a.agent_info.hostname
                 for a in response.get_state.get_agents.agents}
        tasks = list(response.get_state.get_tasks.tasks)
        if include_completed:
            tasks += list(response.get_state.get_tasks.completed_tasks)
        rows = [(t.task_id.value, t.name, _state(t.state), t.framework_id.value,
                 hosts.get(t.slave_id.value, t.slave_id.value)) for t in tasks]
        show(options, ["ID", "NAME", "STATE", "FRAMEWORK", "HOST"], rows,
             [to_v1(t) for t in tasks])
    run(options, command)


@task.command("list")
@click.option("--all", "include_completed", is_flag=True, help="Completed tasks too.")
@click.pass_obj
def task_list(options, include_completed):
    """
    The tasks that have not ended (with --all, the completed ones too).
    """
    _list_tasks(options, include_completed)


@cli.command()
@click.option("--all", "include_completed", is_flag=True, help="Completed tasks too.")
@click.pass_obj
def ps(options, include_completed):
    """
    The tasks that have not ended, as `mesos task list`.
    """
    _list_tasks(options, include_completed)


async def _task_files(client, spec):
    response = await client.call(Call(type=Call.GET_TASKS))
    found = find_task(tasks_of(response, include_completed=True), spec)
    return found, await TaskFiles.of(client, found)


def _write(data):
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@task.command("log")
@click.argument("task_spec", metavar="TASK")
@click.option("--follow", "-f", is_flag=True, help="Keep printing as the file grows, until "
              "the task ends.")
@click.option("--file", "name", default="stdout", show_default=True,
              help="The sandbox file: stdout, stderr, or another.")
@click.pass_obj
def task_log(options, task_spec, follow, name):
    """
    A task's stdout (or --file), by task id, unique id prefix, or name.
    """
    async def command(client):
        found, files = await _task_files(client, task_spec)
        if not follow:
            await files.cat(name, _write)
            return
        await files.follow(name, _write, lambda: task_ended(
            client, found.task_id.value, found.framework_id.value))
    run(options, command)


@cli.command()
@click.argument("task_spec", metavar="TASK")
@click.argument("name", metavar="FILE")
@click.pass_obj
def cat(options, task_spec, name):
    """
    A file of a task's sandbox.
    """
    async def command(client):
        _, files = await _task_files(client, task_spec)
        await files.cat(name, _write)
    run(options, command)


@cli.group()
def agent():
    """
    Slaves (agents).
    """


@agent.command("list")
@click.pass_obj
def agent_list(options):
    """
    The registered slaves: resources used of total, and state.
    """
    async def command(client):
        response = await client.call(Call(type=Call.GET_AGENTS))
        agents = response.get_agents.agents
        rows = []
        for a in agents:
            status = "active" if a.active else "deactivated"
            if a.HasField("drain_info"):
                status = mesos_pb2.DrainState.Name(a.drain_info.state).lower()
            rows.append((a.agent_info.id.value, a.agent_info.hostname,
                         a.pid.split("@", 1)[-1], status,
                         f"{_scalar(a.allocated_resources, 'cpus'):g}/"
                         f"{_scalar(a.total_resources, 'cpus'):g}",
                         f"{_scalar(a.allocated_resources, 'mem'):g}/"
                         f"{_scalar(a.total_resources, 'mem'):g}"))
        show(options, ["ID", "HOSTNAME", "ADDRESS", "STATE", "CPUS", "MEM"], rows,
             [to_v1(a) for a in agents])
    run(options, command)


@cli.group()
def framework():
    """
    Frameworks: list them, tear one down.
    """


@framework.command("list")
@click.option("--all", "include_completed", is_flag=True, help="Completed frameworks too.")
@click.pass_obj
def framework_list(options, include_completed):
    """
    The registered frameworks (with --all, the completed ones too).
    """
    async def command(client):
        response = await client.call(Call(type=Call.GET_FRAMEWORKS))
        frameworks = list(response.get_frameworks.frameworks)
        if include_completed:
            frameworks += list(response.get_frameworks.completed_frameworks)
        rows = [(f.framework_info.id.value, f.framework_info.name, f.framework_info.role,
                 "active" if f.active else "inactive",
                 f"{_scalar(f.allocated_resources, 'cpus'):g}",
                 f"{_scalar(f.allocated_resources, 'mem'):g}") for f in frameworks]
        show(options, ["ID", "NAME", "ROLE", "STATE", "CPUS", "MEM"], rows,
             [to_v1(f) for f in frameworks])
    run(options, command)


@framework.command("teardown")
@click.argument("framework_id")
@click.pass_obj
def framework_teardown(options, framework_id):
    """
    Remove a framework and kill its tasks.
    """
    async def command(client):
        await client.call(Call(type=Call.TEARDOWN, teardown=Call.Teardown(
            framework_id=mesos_pb2.FrameworkID(value=framework_id))))
        click.echo(f"Framework {framework_id} torn down")
    run(options, command)


def _environment(pairs):
    environment = []
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--env")
        environment.append((key, value))
    return environment


@cli.command()
@click.option("--command", required=True, help="The shell command to run.")
@click.option("--name", required=True, help="The task's name (its id is the name and a "
              "random suffix).")
@click.option("--resources", default="cpus:0.1;mem:32", show_default=True,
              help="What the task needs.")
@click.option("--env", "env", multiple=True, metavar="NAME=VALUE",
              help="An environment variable for the command (repeatable).")
@click.option("--role", default="*", show_default=True, help="The framework's role.")
@click.option("--output/--no-output", default=True, show_default=True,
              help="Print the task's stdout as it runs.")
@click.pass_obj
def execute(options, command, name, resources, env, role, output):
    """
    Run one command as a task, print its states (and its output), and exit
    0 if it finished, 1 if not.
    """
    try:
        needed = Resources.parse(resources)
    except ResourcesError as error:
        raise click.BadParameter(str(error), param_hint="--resources") from None
    task_info = command_task(name, command, needed, _environment(env))

    def report(status):
        line = f"{status.task_id.value}: {_state(status.state)}"
        if status.message:
            line += f" ({status.message})"
        click.echo(line, err=output)

    async def run_task(client):
        scheduler = CommandScheduler(task_info, report)
        info = mesos_pb2.FrameworkInfo(user="", name=f"mesos execute {name}", role=role)
        driver = MesosSchedulerDriver(scheduler, info, options.master, reactor=client.reactor)
        driver.start()
        try:
            if output:
                await scheduler.launched
                await _print_output(client, scheduler)
            status = await scheduler.ended
        except RuntimeError as error:
            return fail(str(error), EXIT_FAILED)
        finally:
            driver.stop()
        return 0 if status.state == mesos_pb2.TASK_FINISHED else EXIT_FAILED

    run(options, run_task)


async def _print_output(client, scheduler):
    """
    Follow the task's stdout until it ends (once its sandbox exists).
    """
    task_id = scheduler.task.task_id.value
    while True:
        try:
            response = await client.call(Call(type=Call.GET_TASKS))
            found = find_task(tasks_of(response, include_completed=True), task_id)
            files = await TaskFiles.of(client, found)
            break
        except NotFound:
            if scheduler.ended.called:
                return
            await deferLater(client.reactor, 0.2, lambda: None)
    await files.follow("stdout", _write, lambda: scheduler.ended.called)


cli.add_command(maintenance)
add_agent_commands(agent)


def main():
    """
    The console script.
    """
    cli(prog_name="mesos")
