"""
The simulator's command line:

    python -m mesos_tw.simulation --seeds N [--first S] [--faults=network,crash,zk,...]
                                  [--mutation=NAME] [--buggify] [--replay SEED [--only=I,J]]
                                  [--shrink]

It runs seeds S to S+N-1 (or only SEED, printing its trace; with C{--only},
just those of its scheduled faults) and prints one summary line: runs,
simulated hours, faults injected, violations (by invariant).  Each failing
seed is printed with the command that replays it, and with C{--shrink}
the command that replays its smallest failing schedule.  It exits 1 when
any invariant was violated, 2 for bad arguments.

A run is replayable only with the same hash seed (Python randomises the
order of sets of strings per process), so the command sets
C{PYTHONHASHSEED=0} and starts again if it was not set.
"""

import argparse
import os
import sys
import time
from collections import Counter

from twisted.logger import globalLogBeginner

from mesos_tw.simulation.faults import KINDS, parse_profile
from mesos_tw.simulation.run import MUTATIONS, shrink, simulate

__all__ = ["main"]


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m mesos_tw.simulation",
        description="Deterministic simulation of a whole cluster, with faults.")
    parser.add_argument("--seeds", type=int, default=10, help="how many seeds to run")
    parser.add_argument("--first", type=int, default=0, help="the first seed")
    parser.add_argument("--faults", default="all",
                        help=f"a profile (none, all) or kinds from {', '.join(KINDS)}")
    parser.add_argument("--mutation", choices=MUTATIONS, default=None,
                        help="put a known bug back, to see the simulator find it")
    parser.add_argument("--buggify", action="store_true",
                        help="make faults (and so rare paths) far more common")
    parser.add_argument("--replay", type=int, default=None, metavar="SEED",
                        help="run only SEED and print its trace")
    parser.add_argument("--only", default=None, metavar="I,J",
                        help="with --replay: only these of the seed's scheduled faults "
                             "(indexes; 'none' for none), as --shrink prints")
    parser.add_argument("--shrink", action="store_true",
                        help="re-run each failing seed with fewer faults, and print the "
                             "smallest schedule that still fails")
    return parser


def _only(text):
    if text is None:
        return None
    if text == "none":
        return set()
    return {int(part) for part in text.split(",") if part.strip()}


def _replay_command(seed, options, faults=None, only=None):
    command = f"python -m mesos_tw.simulation --replay {seed} --faults={faults or options.faults}"
    if only is not None:
        command += f" --only={','.join(map(str, sorted(only))) or 'none'}"
    if options.mutation:
        command += f" --mutation={options.mutation}"
    if options.buggify:
        command += " --buggify"
    return command


def main(argv=None):
    """
    Run the seeds the arguments ask for; returns the exit status.
    """
    options = _parser().parse_args(argv)
    # Components log what they would on a real cluster (injected handler
    # failures included, with tracebacks): the trace says what matters.
    globalLogBeginner.beginLoggingTo([lambda event: None], redirectStandardIO=False,
                                     discardBuffer=True)
    try:
        kinds = parse_profile(options.faults)
    except ValueError as error:
        print(f"python -m mesos_tw.simulation: --faults: {error}", file=sys.stderr)
        return 2
    try:
        only = _only(options.only)
    except ValueError:
        print(f"python -m mesos_tw.simulation: --only: not indexes: {options.only}",
              file=sys.stderr)
        return 2
    if only is not None and options.replay is None:
        print("python -m mesos_tw.simulation: --only goes with --replay", file=sys.stderr)
        return 2
    seeds = [options.replay] if options.replay is not None else \
        range(options.first, options.first + options.seeds)
    started, cpu_started = time.perf_counter(), time.process_time()
    simulated, faults, violations, failing = 0.0, Counter(), Counter(), []
    for seed in seeds:
        run = simulate(seed, kinds, options.mutation, options.buggify, only)
        simulated += run.simulated_seconds
        faults.update(run.faults)
        if options.replay is not None:
            for at, text in run.trace:
                print(f"{at:10.3f} {text}")
        if run.violations:
            failing.append(seed)
            violations.update(name for name, _, _ in run.violations)
            name, at, text = run.violations[0]
            print(f"seed {seed}: {len(run.violations)} violation(s), first at {at:.1f}s: "
                  f"{name}: {text}")
            print(f"  replay: {_replay_command(seed, options, only=only)}")
            if options.shrink:
                smallest = shrink(seed, kinds, options.mutation, options.buggify)
                if smallest is not None:
                    fewer, kept, invariant = smallest
                    print(f"  smallest schedule failing {invariant}: "
                          f"{_replay_command(seed, options, ','.join(sorted(fewer)) or 'none', kept)}")
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    runs = len(seeds)
    print(f"{runs} runs, {simulated / 3600:.1f} simulated hours "
          f"({simulated / max(elapsed, 1e-9):.0f} simulated s per real s, "
          f"{cpu:.1f} CPU s), "
          f"{sum(faults.values())} faults injected "
          f"({', '.join(f'{k} {v}' for k, v in sorted(faults.items())) or 'none'}), "
          f"{sum(violations.values())} violations"
          + (f" ({', '.join(f'{k} {v}' for k, v in sorted(violations.items()))}; "
             f"failing seeds: {' '.join(map(str, failing))})" if violations else ""))
    return 1 if violations else 0


if __name__ == "__main__":
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-m", "mesos_tw.simulation", *sys.argv[1:]])
    sys.exit(main())
