"""
Credentials in Mesos's files: C{--credentials} (the master's, many) and
C{--credential} (a slave's or framework's, one), each a path or C{file://}
URL of Mesos's JSON (C{{"credentials": [{"principal": ..., "secret": ...}]}},
or one C{{"principal": ..., "secret": ...}}) or of the older text form, one
C{principal secret} per line.
"""

import json
import os
import stat

from twisted.logger import Logger

from mesos_tw.protocols import mesos_pb2

__all__ = ["CredentialsError", "read_credential", "read_credentials"]

log = Logger()


class CredentialsError(ValueError):
    """
    A credentials file that cannot be read or parsed; the message says why.
    """


def _read(value, what):
    path = value[len("file://"):] if value.startswith("file://") else value
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as error:
        raise CredentialsError(f"Failed to read {what} file '{path}': "
                               f"{error.strerror}") from None
    except UnicodeDecodeError:
        raise CredentialsError(f"{what} file '{path}' is not UTF-8 text") from None
    mode = os.stat(path).st_mode
    if mode & stat.S_IRWXO:
        log.warn("Permissions on {what} file '{path}' are too open; it is recommended that "
                 "your {what} file is NOT accessible by others", what=what, path=path)
    return path, text


def _credential(entry, where):
    if not isinstance(entry, dict):
        raise CredentialsError(f"{where} is not an object")
    principal, secret = entry.get("principal"), entry.get("secret", "")
    if not isinstance(principal, str) or not principal:
        raise CredentialsError(f"{where} needs a principal (a non-empty string)")
    if not isinstance(secret, str):
        raise CredentialsError(f"{where}'s secret must be a string")
    return mesos_pb2.Credential(principal=principal, secret=secret)


def _text_credentials(text, path):
    credentials = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        if len(words) != 2:
            raise CredentialsError(f"Invalid credential format in '{path}' at line {number}: "
                                   "expected 'principal secret'")
        credentials.append(mesos_pb2.Credential(principal=words[0], secret=words[1]))
    return credentials


def read_credentials(value):
    """
    The master's C{--credentials}: a C{Credentials} message.

    @raise CredentialsError: saying what is wrong with the file.
    """
    path, text = _read(value, "credentials")
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise CredentialsError(f"Invalid json format: {error}") from None
        entries = document.get("credentials") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise CredentialsError(f"Failed to parse credentials: '{path}' needs a "
                                   "\"credentials\" list")
        found = [_credential(entry, f"credentials[{index}]")
                 for index, entry in enumerate(entries)]
    else:
        found = _text_credentials(text, path)
    return mesos_pb2.Credentials(credentials=found)


def read_credential(value):
    """
    A slave's or framework's C{--credential}: one C{Credential}.

    @raise CredentialsError: saying what is wrong with the file.
    """
    path, text = _read(value, "credential")
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise CredentialsError(f"Invalid json format: {error}") from None
        return _credential(document, "the credential")
    found = _text_credentials(text, path)
    if len(found) != 1:
        raise CredentialsError(f"'{path}' must hold exactly one 'principal secret' line")
    return found[0]
