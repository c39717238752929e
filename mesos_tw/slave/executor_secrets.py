"""
Per-executor secrets for the v1 executor API (Mesos's executor
authentication tokens): the slave hands each executor a token in
C{MESOS_EXECUTOR_AUTHENTICATION_TOKEN}, and with
C{--authenticate_http_executors} a call is accepted only with the token of
the executor it names (C{Authorization: Bearer <token>}), so one executor
cannot speak for another.

A token is an HMAC of the framework and executor ids under the slave's key
(C{--executor_secret_key}, a file, or random per slave process), so the
slave keeps no table of them.
"""

import base64
import hmac
import os

__all__ = ["ENVIRONMENT_VARIABLE", "ExecutorSecrets", "read_key"]

#: Mesos's variable for the token.
ENVIRONMENT_VARIABLE = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN"


def read_key(path):
    """
    The key in the file C{path} (C{file://} allowed).

    @raise ValueError: if it cannot be read or is empty.
    """
    path = path[len("file://"):] if path.startswith("file://") else path
    try:
        with open(path, "rb") as file:
            key = file.read().strip()
    except OSError as error:
        raise ValueError(f"cannot read '{path}': {error.strerror}") from None
    if not key:
        raise ValueError(f"'{path}' is empty")
    return key


class ExecutorSecrets:
    """
    Makes and checks executors' tokens.

    @param key: the secret key (bytes); random when not given.
    """

    def __init__(self, key=None):
        self._key = key if key is not None else os.urandom(32)

    def token(self, framework_id, executor_id):
        """
        The token of executor C{executor_id} of framework C{framework_id}.
        """
        digest = hmac.new(self._key, f"{framework_id}\0{executor_id}".encode("utf-8"),
                          "sha256").digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def check(self, authorization, framework_id, executor_id):
        """
        Whether the C{Authorization} header value C{authorization} (bytes or
        L{None}) carries that executor's token.
        """
        if authorization is None:
            return False
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode("ascii", "replace"),
            self.token(framework_id, executor_id).encode("ascii"))
