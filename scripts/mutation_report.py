"""Summarise a `mutmut run` (make mutants): the kill rate per module and every surviving mutant.

Usage: python scripts/mutation_report.py [--json OUT]

Reads mutmut's results in mutants/lottolib/*.py.meta. A surviving mutant is either a gap in the
tests (then write the test that kills it) or *equivalent*: it computes the same function as the
original (e.g. ``x >= 0`` for ``x > 0`` where x = 0 gives the same result either way). Equivalent
mutants are listed, with the reason, in ``tests/equivalent_mutants.toml``; the kill rate is
reported among the others, as killed / (killed + survived + timeout + no tests), and beside it the
detection rate, (killed + timeout) / the same: a mutant whose tests run past mutmut's time limit
(a few times their normal CPU time) has changed what the code does, but no assertion saw it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KILLED = {1, 3}
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUT = {36, -24, 24, 152, 255}


def load_results() -> dict[str, dict[str, int | None]]:
    """{module: {mutant name: exit code}} from mutmut's meta files."""
    results = {}
    for meta in sorted((ROOT / "mutants" / "lottolib").glob("*.py.meta")):
        results[meta.name.removesuffix(".py.meta")] = json.loads(meta.read_text())["exit_code_by_key"]
    if not results:
        sys.exit("no mutmut results under mutants/: run `make mutants` first")
    return results


def equivalent_mutants() -> dict[str, str]:
    """{mutant name: why it computes the same function} from tests/equivalent_mutants.toml."""
    path = ROOT / "tests" / "equivalent_mutants.toml"
    return tomllib.loads(path.read_text()).get("equivalent", {}) if path.exists() else {}


def classify(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    if code in TIMEOUT:
        return "timeout"
    return "not checked" if code is None else f"other ({code})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path, help="also write the table and survivors as JSON")
    parser.add_argument("--diffs", action="store_true", help="print each survivor's diff (mutmut show)")
    arguments = parser.parse_args()
    equivalent = equivalent_mutants()
    table, survivors = [], []
    for module, codes in load_results().items():
        counts = Counter(classify(code) for name, code in codes.items() if name not in equivalent)
        alive = counts["survived"] + counts["no tests"] + counts["timeout"]
        considered = counts["killed"] + alive
        table.append({"module": module, "mutants": len(codes), "equivalent": sum(n in equivalent for n in codes),
                      **{key: counts[key] for key in ("killed", "survived", "no tests", "timeout", "not checked")},
                      "kill_rate": counts["killed"] / considered if considered else None,
                      "detection_rate": (counts["killed"] + counts["timeout"]) / considered if considered else None})
        survivors += [name for name, code in codes.items()
                      if classify(code) not in ("killed", "not checked") and name not in equivalent]
    header = ("module", "mutants", "equiv.", "killed", "survived", "no tests", "timeout", "kill rate", "detected")
    print("".join(f"{h:<14}" if i == 0 else f"{h:>10}" for i, h in enumerate(header)))
    for row in table:
        rate, detected = ("-" if row[key] is None else f"{100 * row[key]:.1f}%" for key in ("kill_rate", "detection_rate"))
        cells = (row["mutants"], row["equivalent"], row["killed"], row["survived"], row["no tests"], row["timeout"],
                 rate, detected)
        print(f"{row['module']:<14}" + "".join(f"{cell:>10}" for cell in cells))
    print(f"\n{len(survivors)} surviving non-equivalent mutants" + (":" if survivors else "."))
    for name in survivors:
        print(" ", name)
        if arguments.diffs:
            mutmut = str(Path(sys.executable).with_name("mutmut"))
            shown = subprocess.run([mutmut, "show", name], cwd=ROOT, capture_output=True, text=True)
            print("\n".join("    " + line for line in shown.stdout.splitlines()))
    if arguments.json:
        arguments.json.write_text(json.dumps({"table": table, "survivors": survivors,
                                              "equivalent": equivalent}, indent=1) + "\n")


if __name__ == "__main__":
    main()
