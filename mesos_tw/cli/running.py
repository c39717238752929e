"""
How every C{mesos} command runs: on the reactor, with a L{MasterClient}
of the master the command line names, its failures one line on standard
error and an exit code, its results an aligned table (tabulate) or JSON.
"""

import json

import click
from tabulate import tabulate
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import react

from mesos_tw.cli.client import MasterClient, NoLeader, OperatorError
from mesos_tw.cli.tasks import Ambiguous, NotFound
from mesos_tw.detector import DetectorError

__all__ = ["EXIT_AMBIGUOUS", "EXIT_FAILED", "EXIT_NOT_FOUND", "EXIT_UNREACHABLE", "EXIT_USAGE",
           "Options", "fail", "run", "show"]

EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_NOT_FOUND, EXIT_AMBIGUOUS = 1, 2, 3, 4, 5


class Options:
    """
    What every command shares: the master and the output form.
    """

    def __init__(self, master, as_json):
        self.master = master
        self.as_json = as_json


def run(options, command):
    """
    Run C{command(client)} (an C{async} function of a L{MasterClient}) on
    the reactor and exit with its code (0 when it returns L{None}), its
    failures turned into one line on standard error and an exit code.
    """
    async def main(reactor):
        client = MasterClient(reactor, options.master)
        try:
            code = await command(client)
        except DetectorError as error:
            code = fail(f"invalid --master: {error}", EXIT_USAGE)
        except NoLeader as error:
            code = fail(str(error), EXIT_UNREACHABLE)
        except OperatorError as error:
            code = fail(f"refused ({error.code}): {error}",
                         EXIT_NOT_FOUND if error.code == 404 else EXIT_FAILED)
        except NotFound as error:
            code = fail(str(error), EXIT_NOT_FOUND)
        except Ambiguous as error:
            code = fail(str(error), EXIT_AMBIGUOUS)
        finally:
            await ensureDeferred(_stopped(client))
        if code:
            raise SystemExit(code)

    react(lambda reactor: ensureDeferred(main(reactor)))


async def _stopped(client):
    stopping = client.stop()
    if stopping is not None:
        await stopping


def fail(message, code):
    """
    Say C{message} on standard error; return C{code}.
    """
    click.echo(f"mesos: {message}", err=True)
    return code


def show(options, headers, rows, documents):
    """
    Print C{rows} under C{headers} as an aligned table, or C{documents}
    as JSON with C{--json}.
    """
    if options.as_json:
        click.echo(json.dumps(documents, indent=2, sort_keys=True))
    elif rows:
        click.echo(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))
    else:
        click.echo("(none)")
