"""
A batch job as its user writes it (``JOB.json``), read and checked:

    {"name": "wordcount",                       (optional)
     "max_retries": 3,                          (optional, per task; default 3)
     "tasks": [{"id": "t1", "command": "...", "cpus": 0.1, "mem": 32,
                "hosts": ["h1", "h2"], "racks": ["r1"], "max_retries": 1}]}

C{hosts} name the slaves (by hostname) holding the task's input and
C{racks} the racks (the slaves' C{rack} attribute); both may be left out.
Anything else is a L{JobError} whose message names the field at fault.
"""

import json
import math
from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_RETRIES", "JobError", "JobSpec", "TaskSpec", "parse_job"]

#: How many times a failed task is tried again (on other hosts) by default.
DEFAULT_MAX_RETRIES = 3

_TASK_FIELDS = {"id", "command", "cpus", "mem", "hosts", "racks", "max_retries"}
_JOB_FIELDS = {"name", "tasks", "max_retries"}


class JobError(ValueError):
    """
    A job description that cannot be run; the message says what is wrong
    and where.
    """


@dataclass(frozen=True)
class TaskSpec:
    """
    One task of a job: a shell command, what it needs, and where its input
    lives.
    """

    id: str
    command: str
    cpus: float = 0.1
    mem: float = 32.0
    hosts: tuple = ()
    racks: tuple = ()
    max_retries: int = DEFAULT_MAX_RETRIES


@dataclass(frozen=True)
class JobSpec:
    """
    A named list of tasks with distinct ids.
    """

    name: str
    tasks: tuple


def _number(value, where, minimum_exclusive=0.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise JobError(f"{where} must be a number, got {value!r}")
    if value <= minimum_exclusive:
        raise JobError(f"{where} must be more than {minimum_exclusive:g}, got {value!r}")
    return float(value)


def _count(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise JobError(f"{where} must be a whole number of at least 0, got {value!r}")
    return value


def _names(value, where):
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise JobError(f"{where} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _task(entry, index, default_retries):
    where = f"tasks[{index}]"
    if not isinstance(entry, dict):
        raise JobError(f"{where} must be an object, got {entry!r}")
    unknown = sorted(set(entry) - _TASK_FIELDS)
    if unknown:
        raise JobError(f"{where} has unknown field(s) {', '.join(unknown)} "
                       f"(known: {', '.join(sorted(_TASK_FIELDS))})")
    task_id = entry.get("id", str(index))
    if not isinstance(task_id, str) or not task_id or "/" in task_id:
        raise JobError(f"{where}.id must be a non-empty string without '/', got {task_id!r}")
    command = entry.get("command")
    if not isinstance(command, str) or not command.strip():
        raise JobError(f"{where}.command must be a non-empty string, got {command!r}")
    return TaskSpec(
        id=task_id, command=command,
        cpus=_number(entry.get("cpus", 0.1), f"{where}.cpus"),
        mem=_number(entry.get("mem", 32), f"{where}.mem"),
        hosts=_names(entry.get("hosts", []), f"{where}.hosts"),
        racks=_names(entry.get("racks", []), f"{where}.racks"),
        max_retries=_count(entry.get("max_retries", default_retries), f"{where}.max_retries"),
    )


def parse_job(source, default_name="job"):
    """
    The L{JobSpec} in C{source}: JSON text, or the already-decoded object.

    @raise JobError: naming what is wrong.
    """
    if isinstance(source, (str, bytes)):
        try:
            source = json.loads(source)
        except ValueError as error:
            raise JobError(f"the job is not valid JSON: {error}") from None
    if not isinstance(source, dict):
        raise JobError(f"the job must be a JSON object with \"tasks\", got {type(source).__name__}")
    unknown = sorted(set(source) - _JOB_FIELDS)
    if unknown:
        raise JobError(f"the job has unknown field(s) {', '.join(unknown)} "
                       f"(known: {', '.join(sorted(_JOB_FIELDS))})")
    name = source.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise JobError(f"name must be a non-empty string, got {name!r}")
    default_retries = _count(source.get("max_retries", DEFAULT_MAX_RETRIES), "max_retries")
    entries = source.get("tasks")
    if not isinstance(entries, list) or not entries:
        raise JobError(f"tasks must be a non-empty list, got {entries!r}")
    tasks = tuple(_task(entry, index, default_retries) for index, entry in enumerate(entries))
    seen = set()
    for task in tasks:
        if task.id in seen:
            raise JobError(f"task id {task.id!r} is used twice")
        seen.add(task.id)
    return JobSpec(name=name, tasks=tasks)
