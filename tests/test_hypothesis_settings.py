"""The property tests run the same examples every time and leave nothing in the repository."""

from pathlib import Path

from hypothesis import configuration, given, settings
from hypothesis import strategies as st

REPOSITORY = Path(__file__).resolve().parent.parent


def test_hypothesis_keeps_its_files_out_of_the_repository():
    home = Path(configuration.storage_directory(intent_to_write=False).path).resolve()
    assert REPOSITORY not in home.parents and home != REPOSITORY


@given(st.integers())
def test_the_profile_is_deterministic_and_has_no_example_database(value):
    current = settings()
    assert current.database is None and current.derandomize
    assert isinstance(value, int)
