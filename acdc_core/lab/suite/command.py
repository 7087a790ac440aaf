"""The notebook suite: ``acdc-suite list | run | refresh`` (also ``python -m acdc_core.lab.suite``).

The command line; what each part does is in the package's docstring."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import Refused
from .index import write_index
from .names import INDEX
from .profiles import plan, profiles
from .record import Record, check_out
from .running import refresh, run
from .selection import NOTEBOOKS, available, parameters, read_notebook, resolve


def list_notebooks(folder: Path = NOTEBOOKS) -> str:
    """Every notebook with its parameters (type, default, help), then the profiles."""
    lines = []
    for name, path in available(folder).items():
        lines.append(name)
        for parameter, spec in parameters(path).items():
            comment = f"  # {spec['help']}" if spec["help"] else ""
            lines.append(f"    {parameter}: {spec['type']} = {spec['default']}{comment}")
    lines.append(f"profiles (notebooks/params.yaml): {', '.join(profiles(folder))}")
    return "\n".join(lines)


class _Once(argparse.Action):
    """Store an option's value, refusing a second one (which would silently win)."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, f"_{self.dest}_given", False):
            parser.error(f"argument {option_string}: given twice ({getattr(namespace, self.dest)} "
                         f"and {values}); give it once")
        setattr(namespace, f"_{self.dest}_given", True)
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line, like the suite's refusals."""

    def error(self, message):
        self.exit(2, f"acdc-suite: {message} (see {self.prog} --help)\n")


def _folder_argument(text: str) -> Path:
    if not text:
        raise argparse.ArgumentTypeError("is empty; expected a folder")
    return Path(text)


def _arguments(argv) -> argparse.Namespace:
    parser = _Parser(prog="acdc-suite", description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=_folder_argument, default=NOTEBOOKS, action=_Once,
                        help="folder of the notebooks and params.yaml (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every notebook with its parameters")
    run_parser = sub.add_parser("run", help="execute notebooks into an output folder")
    run_parser.add_argument("names", nargs="*", help="notebook names or paths (default: all)")
    run_parser.add_argument("--profile", default="quick", action=_Once,
                            help="parameter profile (default quick)")
    run_parser.add_argument("-p", dest="overrides", action="append", default=[],
                            metavar="NAME=VALUE", help="override a parameter, VALUE as JSON (repeatable)")
    run_parser.add_argument("--out", type=_folder_argument, action=_Once,
                            help="output folder (default runs/PROFILE)")
    refresh_parser = sub.add_parser("refresh", help="re-execute notebooks in place")
    refresh_parser.add_argument("names", nargs="*", help="notebook names or paths (default: all)")
    return parser.parse_args(argv)


def _prepare_run(args) -> tuple[dict, Path, Record]:
    """Everything a run needs, checked: the work, the output folder and its record."""
    work = plan(args.names, args.profile, args.overrides, args.notebooks)
    out = args.out or Path("runs", args.profile)
    check_out(out, {name: path for name, (path, _) in work.items()}, args.notebooks)
    record = Record(out)
    record.check_targets([*work, INDEX])
    return work, out, record


def _run_all(work: dict, out: Path, record: Record, profile: str) -> int:
    out.mkdir(parents=True, exist_ok=True)
    record.clear(INDEX)  # the last run's index must not pass for this one
    results = {}
    for i, (name, (path, injected)) in enumerate(work.items(), 1):
        start = time.perf_counter()
        results[name] = run(name, path, out, injected, record)
        status = "ok" if results[name] else "FAILED"
        print(f"[{i}/{len(work)}] {name}: {status} in {time.perf_counter() - start:.0f} s", flush=True)
    index = write_index(out, results, profile, record)
    failed = [name for name, ok in results.items() if not ok]
    print(f"index: {index.resolve()}")
    if failed:
        print(f"failed: {', '.join(failed)} (their tracebacks are in {out}/NAME.html)", file=sys.stderr)
        return 1
    return 0


def _refresh_all(names: list[str], folder: Path) -> int:
    chosen = resolve(names, folder)
    for path in chosen.values():
        read_notebook(path)  # every one readable before any is rewritten
    for name, path in chosen.items():
        start = time.perf_counter()
        refresh(path)
        print(f"refreshed {name} in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


def main(argv=None) -> int:
    """The ``acdc-suite`` command: 0 when everything ran, 1 when a notebook failed, 2 when the
    request was refused (one line on stderr)."""
    args = _arguments(argv)
    try:
        if args.command == "list":
            print(list_notebooks(args.notebooks))
            return 0
        if args.command == "refresh":
            return _refresh_all(args.names, args.notebooks)
        work, out, record = _prepare_run(args)
    except Refused as refusal:
        message = str(refusal).replace("\r", "\\r").replace("\n", "\\n")
        print(f"acdc-suite: {message}", file=sys.stderr)
        return 2
    return _run_all(work, out, record, args.profile)
