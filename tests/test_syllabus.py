"""The course plan agrees with the chapters: every exercise says its level and time, the syllabus page lists
every exercise with the same level and time, and every chapter ends with Further reading, then Exercises.

The level line (shared with the exercises of every chapter) is the first line of the body of an ``{exercise}``
directive, exactly ``*Level: basic · about 15 minutes*``, with the level one of basic, intermediate or advanced.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "chapters" / "source").glob("*.md"))
APPENDIX = {"13_performance"}
CHAPTERS = [source for source in SOURCES if source.stem not in APPENDIX]
SYLLABUS = ROOT / "syllabus.md"

LEVELS = ("basic", "intermediate", "advanced")
_EXERCISE = re.compile(r"^```\{exercise\}[^\n]*\n((?::[\w-]+:[^\n]*\n)*)\n([^\n]*)\n", flags=re.M)
_LEVEL_LINE = re.compile(r"^\*Level: (basic|intermediate|advanced) · about ([1-9]\d*) minutes\*$")
_IN_PLAN = re.compile(r"\{ref\}`(ex-[\w-]+)` \((\w+) · about (\d+) minutes\)")
_IN_TABLE = re.compile(r"^\| \{ref\}`(ex-[\w-]+)` \| \{ref\}`([\w-]+)` \| (\w+) \| (\d+) min \|$", flags=re.M)


def exercise_levels(text: str) -> dict[str, tuple[str, int]]:
    """label -> (level, minutes) for every ``{exercise}`` of a chapter source; ValueError names a bad one."""
    found = {}
    for options, first_line in _EXERCISE.findall(text):
        label = re.search(r"^:label: (ex-[\w-]+)$", options, flags=re.M)
        if label is None:
            raise ValueError(f"an exercise without a label: {options!r}")
        level = _LEVEL_LINE.match(first_line)
        if level is None:
            raise ValueError(f"{label[1]}: the first line of the body is {first_line!r}, "
                             "not '*Level: basic · about 15 minutes*' (basic, intermediate or advanced)")
        found[label[1]] = (level[1], int(level[2]))
    if len(found) != text.count("```{exercise}"):
        raise ValueError("an exercise directive whose options or body the level check could not read")
    return found


def _chapter_label(text: str) -> str:
    target = re.search(r"^\((?P<label>[\w-]+)\)=\n#", text, flags=re.M)
    assert target is not None, "a chapter opens with its (label)= target"
    return target["label"]


def _all_levels() -> dict[str, dict[str, tuple[str, int]]]:
    """chapter -> its exercise levels."""
    return {source.stem: exercise_levels(source.read_text()) for source in CHAPTERS}


def _chapters() -> list:
    """CHAPTERS as test parameters, named by their file."""
    return [pytest.param(source, id=source.stem) for source in CHAPTERS]


def test_a_missing_or_malformed_level_line_is_named():
    good = "```{exercise} A\n:label: ex-a\n\n*Level: basic · about 15 minutes*\n\nBody.\n```\n"
    assert exercise_levels(good) == {"ex-a": ("basic", 15)}
    for first in ("Body.", "*Level: easy · about 15 minutes*", "*Level: basic · 15 minutes*",
                  "*Level: basic · about 0 minutes*", "Level: basic · about 15 minutes"):
        with pytest.raises(ValueError, match="ex-a"):
            exercise_levels(good.replace("*Level: basic · about 15 minutes*", first))


@pytest.mark.parametrize("source", _chapters())
def test_every_exercise_says_its_level_and_time(source):
    levels = exercise_levels(source.read_text())  # raises, naming the exercise, on a missing line
    assert len(levels) >= 2
    assert all(level in LEVELS and 5 <= minutes <= 120 for level, minutes in levels.values())


def test_the_syllabus_lists_every_exercise_with_the_chapters_level_and_time():
    text = SYLLABUS.read_text()
    every = _all_levels()
    chapter_of = {label: _chapter_label(source.read_text()) for source in CHAPTERS for label in every[source.stem]}
    levels = {label: level for chapter in every.values() for label, level in chapter.items()}
    table = {label: (chapter, level, int(minutes)) for label, chapter, level, minutes in _IN_TABLE.findall(text)}
    assert set(table) == set(levels), "the table of every exercise lists exactly the book's exercises"
    for label, (chapter, level, minutes) in table.items():
        assert chapter == chapter_of[label], label
        assert (level, minutes) == levels[label], label
    planned = _IN_PLAN.findall(text)
    assert {label for label, _, _ in planned} == set(levels), "the lecture plan uses every exercise"
    for label, level, minutes in planned:
        assert (level, int(minutes)) == levels[label], f"{label} in the lecture plan"


def test_the_syllabus_has_twelve_lectures_of_ninety_minutes():
    text = SYLLABUS.read_text()
    lectures = re.findall(r"^### Lecture (\d+): .+\n\n((?:- .+\n)+)", text, flags=re.M)
    assert [int(number) for number, _ in lectures] == list(range(1, 13))
    for number, items in lectures:
        parts = dict(re.findall(r"^- \*\*([\w ]+)\*\*[^\n]*?(?:\((\d+) min\))?:", items, flags=re.M))
        assert list(parts) == ["read before", "in the lecture", "in class", "after the lecture"], number
        assert int(parts["in the lecture"]) + int(parts["in class"]) == 90, f"lecture {number}"
        in_class = re.search(r"^- \*\*in class\*\* \((\d+) min\): .*about (\d+) minutes\)$", items, flags=re.M)
        assert in_class and in_class[1] == in_class[2], f"lecture {number}: the in-class time is its exercise's"


def test_the_syllabus_is_in_the_book_and_linked_from_the_teaching_page():
    assert "- file: syllabus" in (ROOT / "_toc.yml").read_text()
    assert "{ref}`syllabus`" in (ROOT / "teaching.md").read_text()


@pytest.mark.parametrize("source", _chapters())
def test_every_chapter_has_further_reading_before_its_exercises(source):
    text = source.read_text()
    sections = re.findall(r"^## (.+)$", text, flags=re.M)
    assert sections[-3:] == ["Key takeaways", "Further reading", "Exercises"]
    reading = text[text.index("\n## Further reading\n"):text.index("\n## Exercises\n")]
    assert re.search(r"\{cite:[tp]\}`", reading), "Further reading cites the bibliography"
