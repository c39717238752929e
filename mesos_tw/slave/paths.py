"""
The slave's work directory layout (Mesos 0.12 ``src/slave/paths.hpp``).
"""

import os

__all__ = ["executor_run_directory", "create_run_directory"]


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
