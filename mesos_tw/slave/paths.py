"""
The slave's work directory layout (Mesos's ``src/slave/paths.hpp``): the
executors' sandboxes, and the checkpointed state under C{meta/}.
"""

import os

__all__ = [
    "boot_id_path",
    "create_run_directory",
    "executor_meta_directory",
    "executor_run_directory",
    "framework_meta_directory",
    "meta_directory",
    "point_latest",
    "run_meta_directory",
    "slave_info_path",
    "slave_meta_directory",
    "slaves_meta_directory",
    "task_meta_directory",
]


def executor_run_directory(work_dir, slave_id, framework_id, executor_id, run_id):
    """
    C{<work_dir>/slaves/<slave>/frameworks/<framework>/executors/<executor>/runs/<run>}.
    """
    return os.path.join(
        work_dir, "slaves", slave_id, "frameworks", framework_id,
        "executors", executor_id, "runs", run_id,
    )


def create_run_directory(work_dir, slave_id, framework_id, executor_id, run_id):
    """
    Make a run's sandbox and point C{runs/latest} at it.

    @return: the sandbox path.
    """
    directory = executor_run_directory(work_dir, slave_id, framework_id, executor_id, run_id)
    os.makedirs(directory, exist_ok=True)
    latest = os.path.join(os.path.dirname(directory), "latest")
    try:
        if os.path.islink(latest):
            os.unlink(latest)
        os.symlink(run_id, latest)
    except OSError:
        pass
    return directory


# The checkpointed state, after Mesos's src/slave/paths.hpp:
#
#   <work_dir>/meta/boot_id
#   <work_dir>/meta/slaves/latest -> <slave_id>
#   <work_dir>/meta/slaves/<slave_id>/slave.info
#     frameworks/<framework_id>/framework.info, framework.pid
#       executors/<executor_id>/executor.info
#         runs/latest -> <run_id>
#         runs/<run_id>/executor.sentinel        (the run has ended)
#           pids/forked.pid, pids/forked.starttime, pids/libprocess.pid
#           tasks/<task_id>/task.info, task.updates

def meta_directory(work_dir):
    """
    C{<work_dir>/meta}.
    """
    return os.path.join(work_dir, "meta")


def boot_id_path(work_dir):
    """
    Where the boot id of the slave's last start is kept.
    """
    return os.path.join(meta_directory(work_dir), "boot_id")


def slaves_meta_directory(work_dir):
    """
    C{<work_dir>/meta/slaves}, holding one directory per slave id and
    C{latest}.
    """
    return os.path.join(meta_directory(work_dir), "slaves")


def slave_meta_directory(work_dir, slave_id):
    """
    C{<work_dir>/meta/slaves/<slave_id>}.
    """
    return os.path.join(slaves_meta_directory(work_dir), slave_id)


def slave_info_path(work_dir, slave_id):
    """
    The slave's checkpointed C{SlaveInfo}.
    """
    return os.path.join(slave_meta_directory(work_dir, slave_id), "slave.info")


def framework_meta_directory(work_dir, slave_id, framework_id):
    """
    C{.../meta/slaves/<slave_id>/frameworks/<framework_id>}.
    """
    return os.path.join(slave_meta_directory(work_dir, slave_id), "frameworks", framework_id)


def executor_meta_directory(work_dir, slave_id, framework_id, executor_id):
    """
    C{.../frameworks/<framework_id>/executors/<executor_id>}.
    """
    return os.path.join(framework_meta_directory(work_dir, slave_id, framework_id),
                        "executors", executor_id)


def run_meta_directory(work_dir, slave_id, framework_id, executor_id, run_id):
    """
    C{.../executors/<executor_id>/runs/<run_id>}.
    """
    return os.path.join(executor_meta_directory(work_dir, slave_id, framework_id, executor_id),
                        "runs", run_id)


def task_meta_directory(work_dir, slave_id, framework_id, executor_id, run_id, task_id):
    """
    C{.../runs/<run_id>/tasks/<task_id>}.
    """
    return os.path.join(run_meta_directory(work_dir, slave_id, framework_id, executor_id, run_id),
                        "tasks", task_id)


def point_latest(directory, name):
    """
    Make C{<directory>/latest} a symbolic link to C{name} (atomically:
    made beside it, then renamed over it), making C{directory} if need be.
    """
    os.makedirs(directory, exist_ok=True)
    latest = os.path.join(directory, "latest")
    temporary = os.path.join(directory, f".latest.{os.getpid()}")
    try:
        os.unlink(temporary)
    except FileNotFoundError:
        pass
    os.symlink(name, temporary)
    os.replace(temporary, latest)
