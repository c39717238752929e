"""
The master's use of its authorizer (Mesos's C{--acls}): a framework may
register in its role only if C{register_frameworks} allows its principal
that role, and its tasks run only as users C{run_tasks} allows it (the
others end C{TASK_ERROR} with C{REASON_TASK_UNAUTHORIZED}).  Mixed into
L{mesos_tw.master.master.Master}, which holds C{authorizer} (an
L{IAuthorizer}, or L{None} to allow everything).
"""

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2

__all__ = ["AuthorizationManagement", "task_user"]


def task_user(task, framework_info, executor=None):
    """
    The user a task runs as: its command's, else its executor's command's,
    else its framework's (as Mesos decides it).
    """
    if task.HasField("command") and task.command.HasField("user"):
        return task.command.user
    if executor is None and task.HasField("executor"):
        executor = task.executor
    if executor is not None and executor.command.HasField("user"):
        return executor.command.user
    return framework_info.user


class AuthorizationManagement:
    """
    Authorization of registrations and launches, for the L{Master}.
    """

    def _authorization_handlers(self):
        """
        The registration and launch handlers, wrapped in the
        authorizer's checks.
        """
        return {
            internal.RegisterFrameworkMessage: self._role_authorized(
                self.dispatcher.handlers[internal.RegisterFrameworkMessage]),
            internal.ReregisterFrameworkMessage: self._role_authorized(
                self.dispatcher.handlers[internal.ReregisterFrameworkMessage]),
            internal.LaunchTasksMessage: self._launch_authorized(
                self.dispatcher.handlers[internal.LaunchTasksMessage]),
        }

    def _role_authorized(self, handler):
        def check(sender, message):
            if self.authorizer is None:
                return handler(sender, message)
            info = message.framework
            roles = sorted(set(info.roles)) or [info.role or "*"]
            principal = info.principal or None

            def decide(approved):
                if all(approved(role) for role in roles):
                    return handler(sender, message)
                named = f" {info.id.value}" if info.id.value else ""
                self._send_error(sender, f"Not authorized to register framework{named} with "
                                         f"roles {{ {', '.join(roles)} }}")

            def failed(failure):
                self.log.failure("The authorizer failed", failure)
                self._send_error(sender, f"Authorization failure: {failure.getErrorMessage()}")

            self.authorizer.approver(principal, "register_frameworks").addCallbacks(
                decide, failed)
        return check

    def _launch_authorized(self, handler):
        def check(sender, message):
            framework = self.frameworks.get(message.framework_id.value)
            if self.authorizer is None or framework is None or framework.pid != sender:
                return handler(sender, message)
            principal = framework.info.principal or None

            def failed(failure):
                self.log.failure("The authorizer failed", failure)
                refuse_all = lambda task: False  # noqa: E731
                return self._launch_approved(refuse_all, sender, message, framework, handler,
                                             f"Authorization failure: "
                                             f"{failure.getErrorMessage()}")

            self.authorizer.approver(principal, "run_tasks").addCallbacks(
                self._launch_approved, failed, (sender, message, framework, handler))
        return check

    def _launch_approved(self, approved, sender, message, framework, handler, why=None):
        """
        Refuse the tasks (and whole task groups) run as users the
        framework may not use (or all, saying C{why}, when the authorizer
        failed), and launch the rest: with none left, the offers are
        declined.
        """
        allowed = internal.LaunchTasksMessage()
        allowed.CopyFrom(message)
        del allowed.tasks[:]
        del allowed.groups[:]
        for task in message.tasks:
            user = task_user(task, framework.info)
            if approved(user):
                allowed.tasks.add().CopyFrom(task)
            else:
                self._refuse_unauthorized(framework, task, user, why)
        for group in message.groups:
            users = {task_user(task, framework.info, group.executor)
                     for task in group.task_group.tasks}
            refused = sorted(user for user in users if not approved(user))
            if refused:
                for task in group.task_group.tasks:
                    self._refuse_unauthorized(framework, task, refused[0], why)
            else:
                allowed.groups.add().CopyFrom(group)
        handler(sender, allowed)

    def _refuse_unauthorized(self, framework, task, user, why=None):
        text = why or (f"Not authorized to launch task {task.task_id.value} of framework "
                       f"{framework.id} under user '{user}'")
        self.log.warn("{message}", message=text)
        self.stats["error_tasks"] += 1
        self._send_update(framework.pid, self._status_update_for(
            framework.id, task, mesos_pb2.TASK_ERROR, text,
            mesos_pb2.TaskStatus.REASON_TASK_UNAUTHORIZED))
