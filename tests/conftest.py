import os
import shutil
import sys
import tempfile
from pathlib import Path

# make test's environment (the Makefile's): an idle OpenMP thread sleeps instead of spinning, so the two
# workers' threads do not starve each other on two cores. Set before torch loads OpenMP; it changes no result.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch
from filelock import FileLock
from hypothesis import Phase, configuration, settings

# Hypothesis writes caches (local constants, patches of failing examples) under its home directory,
# .hypothesis/ in the working directory by default: keep them out of the repository.
HYPOTHESIS_HOME = Path(tempfile.gettempdir()) / "lottobook-hypothesis"
configuration.set_hypothesis_home_dir(HYPOTHESIS_HOME)

# Property tests: deterministic examples and no example database (a run never depends on an earlier
# one). Under mutation testing (`make mutants`, which sets MUTANT_UNDER_TEST) fewer examples per
# property keep each mutant's run short.
settings.register_profile("lottobook", max_examples=25, deadline=None, derandomize=True, database=None)
settings.register_profile("mutants", max_examples=10, deadline=None, derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.generate])  # a mutant is killed by any failure: no shrinking
settings.load_profile("mutants" if os.environ.get("MUTANT_UNDER_TEST") else "lottobook")
# mutmut forks its workers from a process that already ran the tests: a torch (OpenMP) thread pool
# does not survive a fork, so mutation runs use one thread (make mutants also sets OMP_NUM_THREADS=1).
torch.set_num_threads(1 if os.environ.get("MUTANT_UNDER_TEST") else 2)

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

# make test runs the tests and the notebooks on both cores (pytest-xdist, one file per worker at a time).
# These files build fresh environments, mostly waiting for pip: they go first, so that the rest runs
# beside them rather than after them.
STARTED_FIRST = ("test_downloads.py", "test_grading.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in STARTED_FIRST)  # stable: each file keeps its order


@pytest.fixture(scope="session")
def built_assignments(tmp_path_factory, worker_id) -> dict[str, Path]:
    """Every assignment built once per test run (as `make assignments` does), by name.

    Building runs Otter Assign, which grades each solution with all its tests and fails otherwise. Under
    pytest-xdist the workers share one build: the first to ask builds it under a file lock, the other waits
    for it and reads the same folders.
    """
    sys.path.insert(0, str(SCRIPTS))
    from build_wheel import build_wheel
    from make_assignments import SOURCES, build

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    out, sources = shared / "assignments", sorted(SOURCES.glob("*.md"))
    with FileLock(str(shared / "assignments.lock")):
        if not (out / ".built").exists():
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
            for source in sources:
                build(source, out, wheel)
            (out / ".built").touch()
    return {source.stem: out / source.stem for source in sources}
