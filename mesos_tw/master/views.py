"""
The master's read-only JSON views beyond the full state: the summary and
the task list; the metrics snapshot (Mesos's names) is
L{mesos_tw.master.metrics}'s, importable from here too.
"""

import heapq
from collections import Counter
from operator import itemgetter

from mesos_tw.authorization.checks import ReadView
from mesos_tw.master.metrics import MESSAGE_METRICS, held_by_framework, metrics_snapshot
from mesos_tw.master.state import TaskRecord, state_name
from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.web.json import TURN, LazyList, LazyValue

__all__ = ["MESSAGE_METRICS", "frameworks_document", "held_by_framework", "metrics_snapshot",
           "slaves_document", "state_document", "state_summary", "task_list"]

#: Everything shown (no authorizer, or one that allows it all).
_EVERYTHING = ReadView()


#: The task states the summary counts.
_TASK_STATES = ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_FINISHED",
                "TASK_KILLED", "TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED",
                "TASK_UNREACHABLE", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN")


def _task_counts(states):
    """
    The summary's count of every task state, from a L{Counter} of states.
    """
    by_name = {state_name(state): count for state, count in states.items()}
    return {name: by_name.get(name, 0) for name in _TASK_STATES}


#: Every task state's name by number, for counting them fast.
_STATE_NAMES = {number: state_name(number) for number in mesos_pb2.TaskState.values()}


def _executor_resources(framework):
    """
    What each of a framework's executors holds, one L{Resources} each.
    """
    return [Resources.from_protobuf(info.resources)
            for infos in framework.executors.values() for info in infos.values()]


#: How many resource bags one step of a sum adds up (a step counts as
#: one item of a turn, like rendering one task).
_SUM_STEP = 10


def _framework_document(framework, view=_EVERYTHING):
    """
    A framework's state JSON as a L{LazyValue}: what it holds is summed a
    step at a time, then its tasks follow as lazy lists (of the task
    records it holds now, those C{view} shows).
    """
    tasks = view.tasks(framework.tasks.values(), framework)
    completed = view.tasks(framework.completed_tasks, framework)
    unreachable = view.tasks(framework.unreachable_tasks.values(), framework)
    offers = list(framework.offers.values())
    executors = _executor_resources(framework)

    def produce():
        bags = [task.resources for task in tasks] + executors
        used = Resources()
        for start in range(0, len(bags), _SUM_STEP):
            used = Resources.sum([used] + bags[start:start + _SUM_STEP])
            yield TURN
        json = framework.summary_json(used=used)
        if not view.executors(framework):
            json["executors"] = []
        json["tasks"] = LazyList(tasks, TaskRecord.to_json)
        json["completed_tasks"] = LazyList(completed, TaskRecord.to_json)
        json["unreachable_tasks"] = LazyList(unreachable, TaskRecord.to_json)
        json["offers"] = [offer.to_json() for offer in offers]
        yield json

    return LazyValue(produce)


def state_document(master, flags=None, view=_EVERYTHING):
    """
    C{/master/state} as a document for L{stream_json}: the JSON of
    C{master.state()} plus Mesos's C{leader_info} and C{flags} (the
    master's C{{name: text}}), its slaves, frameworks and tasks rendered a
    few at a time.  The records listed are those of the moment it is made
    (and that C{view}, a L{ReadView}, shows); a record that changes while
    the body is written is shown as it is when its turn comes.
    """
    document = master.state_fields()
    info = master.info
    document["leader_info"] = {"id": info.id, "pid": info.pid, "port": info.port,
                               "hostname": info.hostname}
    document["flags"] = dict(flags or {})
    document["slaves"] = slaves_document(master)["slaves"]
    frameworks = frameworks_document(master, view=view)
    document["frameworks"] = frameworks["frameworks"]
    document["completed_frameworks"] = frameworks["completed_frameworks"]
    return document


def _slave_summary(slave):
    """
    A slave's summary: its state JSON, its tasks counted by state, and the
    frameworks they belong to.  (Written for speed: the summary of 50,000
    slaves renders one of these per slave.)
    """
    summary = slave.to_json()
    summary.update(dict.fromkeys(_TASK_STATES, 0))
    tasks = slave.tasks
    if tasks:
        names = _STATE_NAMES
        for record in tasks.values():
            name = names.get(record.task.state)
            if name in summary:
                summary[name] += 1
    summary["framework_ids"] = sorted({key[0] for key in tasks})
    return summary


def _framework_summary(framework):
    """
    A framework's summary as a L{LazyValue}: what it holds, its task
    counts and its slaves are gathered ten tasks per step.
    """
    tasks = list(framework.tasks.values())
    unreachable = [record.task.state for record in framework.unreachable_tasks.values()]
    executors = _executor_resources(framework)

    def produce():
        used, states, slave_ids = Resources.sum(executors), Counter(unreachable), set()
        for start in range(0, len(tasks), _SUM_STEP):
            step = tasks[start:start + _SUM_STEP]
            used = Resources.sum([used] + [record.resources for record in step])
            states.update(record.task.state for record in step)
            slave_ids.update(record.task.slave_id.value for record in step)
            yield TURN
        summary = framework.summary_json(used=used)
        del summary["executors"]
        summary.update(_task_counts(states))
        summary["slave_ids"] = sorted(slave_ids)
        yield summary

    return LazyValue(produce)


def state_summary(master, view=_EVERYTHING):
    """
    C{/master/state-summary} as a document for L{stream_json}: slaves and
    frameworks (those C{view} shows) with task counts, no task lists.
    """
    return {"hostname": master.info.hostname, "cluster": master.cluster or "",
            "slaves": LazyList(list(master.slaves.values()), _slave_summary, plain=True),
            "frameworks": LazyList([_framework_summary(f) for f in master.frameworks.values()
                                    if view.framework(f)], lambda value: value)}


def frameworks_document(master, framework_id=None, view=_EVERYTHING):
    """
    C{/master/frameworks} as a document for L{stream_json}: frameworks,
    active and completed, as in the state (those C{view} shows); only the
    one C{framework_id} names, if given.
    """
    def chosen(frameworks):
        return [_framework_document(f, view) for f in frameworks
                if (framework_id is None or f.id == framework_id) and view.framework(f)]

    return {
        "frameworks": LazyList(chosen(master.frameworks.values()), lambda value: value),
        "completed_frameworks": LazyList(chosen(master.completed_frameworks),
                                         lambda value: value),
        "unregistered_frameworks": [],
    }


def slaves_document(master, slave_id=None):
    """
    C{/master/slaves} as a document for L{stream_json}; only the slave
    C{slave_id} names, if given.
    """
    slaves = [slave for slave in master.slaves.values()
              if slave_id is None or slave.id == slave_id]
    return {"slaves": LazyList(slaves, lambda slave: slave.to_json(), plain=True),
            "recovered_slaves": []}


def task_list(master, limit=100, offset=0, order="des", framework_id=None, task_id=None,
              view=_EVERYTHING):
    """
    C{/master/tasks}: every task (running and completed; those C{view}
    shows) ordered by when it was launched, newest first unless C{order}
    is C{"asc"}; C{limit}
    L{None} means all of them, C{framework_id} and C{task_id} keep only
    the tasks they name.  Only the first C{offset + limit} are ordered (a
    heap, not a sort of them all).
    """
    def launched(record):
        return record.statuses[0][1] if record.statuses else 0.0

    entries = []
    for framework in list(master.frameworks.values()) + list(master.completed_frameworks):
        if framework_id is not None and framework.id != framework_id:
            continue
        entries.extend((launched(r), framework.id, r.task.task_id.value, r)
                       for r in view.tasks(framework.unreachable_tasks.values(), framework))
        entries.extend((launched(r), framework.id, r.task.task_id.value, r)
                       for r in view.tasks(framework.tasks.values(), framework))
        entries.extend((launched(r), framework.id, r.task.task_id.value, r)
                       for r in view.tasks(framework.completed_tasks, framework))
    if task_id is not None:
        entries = [entry for entry in entries if entry[2] == task_id]
    if limit is None:
        chosen = sorted(entries, key=itemgetter(0, 1, 2), reverse=order != "asc")
    else:
        pick = heapq.nsmallest if order == "asc" else heapq.nlargest
        chosen = pick(offset + limit, entries, key=itemgetter(0, 1, 2))
    return {"tasks": [entry[3].to_json() for entry in chosen[offset:]]}
