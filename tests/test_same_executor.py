"""
L{mesos_tw.master.validation.same_executor}: whether a launch names the
executor a framework already runs on a slave, framework ids aside.
"""

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master.validation import same_executor
from mesos_tw.protocols import mesos_pb2


def _executor(framework_id=None, command="run-it"):
    info = mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value="e1"),
                                  command=mesos_pb2.CommandInfo(value=command))
    if framework_id is not None:
        info.framework_id.value = framework_id
    return info


class SameExecutorTests(SynchronousTestCase):
    """
    Framework ids are compared only when both are given.
    """

    def test_alike(self):
        """
        The same executor, with no framework id, the same one, or one on
        either side only.
        """
        for one, other in [(None, None), ("F1", "F1"), ("F1", None), (None, "F1"), ("", None)]:
            self.assertTrue(same_executor(_executor(one), _executor(other)), (one, other))

    def test_different(self):
        """
        Another command, or two different framework ids, make another
        executor.
        """
        self.assertFalse(same_executor(_executor(), _executor(command="other")))
        self.assertFalse(same_executor(_executor("F1"), _executor("F1", command="other")))
        self.assertFalse(same_executor(_executor("F1"), _executor("F2")))
