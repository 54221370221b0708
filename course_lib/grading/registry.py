"""Find each chapter's questions: one module ``ch<NN>_<topic>.py`` per exercise notebook.

The notebook ``<NN>_<topic>.ipynb`` is graded by ``course_lib.grading.ch<NN>_<topic>``,
whose ``QUESTIONS`` lists :class:`~course_lib.grading.core.Question` objects in
notebook order. Modules are discovered with :mod:`pkgutil`, so a new chapter
only adds its file.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from course_lib.grading.core import Question

_CHAPTER = re.compile(r"ch\d\d_\w+")
CHECKS = "course_lib.grading.checks"  # the package of the chapters' modules


def chapter_modules() -> list[str]:
    """Full names of every chapter's grading module, in chapter order (no imports)."""
    found = pkgutil.iter_modules([str(Path(__file__).parent / "checks")])
    return sorted(f"{CHECKS}.{m.name}" for m in found if _CHAPTER.fullmatch(m.name))


def module_for_notebook(path: str | Path) -> str:
    """Name of the grading module of an exercise or solution notebook.

    Args:
        path: a notebook such as ``exercises/01_linear_pca.ipynb``; only its
            file name counts (``01_linear_pca`` -> ``course_lib.grading.checks.ch01_linear_pca``).

    Raises:
        LookupError: when no chapter module matches, listing the gradable notebooks.
    """
    name = f"{CHECKS}.ch{Path(path).stem}"
    modules = chapter_modules()
    if name not in modules:
        gradable = ", ".join(f"{m.rsplit('.', 1)[1][2:]}.ipynb" for m in modules)
        raise LookupError(
            f"no questions for notebook {Path(path).name!r} (looked for module {name}); "
            f"gradable notebooks: {gradable or 'none'}"
        )
    return name


def load_questions(module_name: str) -> list[Question]:
    """Import a chapter module and return its ``QUESTIONS``.

    Args:
        module_name: e.g. ``"course_lib.grading.checks.ch01_linear_pca"``.

    Raises:
        TypeError: when the module's ``QUESTIONS`` is not a list of ``Question``.
    """
    questions = getattr(importlib.import_module(module_name), "QUESTIONS", None)
    if not isinstance(questions, list) or not all(isinstance(q, Question) for q in questions):
        raise TypeError(f"{module_name}.QUESTIONS must be a list of Question objects")
    if not questions or len({q.name for q in questions}) != len(questions):
        raise TypeError(f"{module_name}.QUESTIONS must name at least one question, each once")
    if any(q.points <= 0 for q in questions):
        raise TypeError(f"{module_name}.QUESTIONS: every question must be worth a positive number of points")
    return list(questions)


def find_question(name: str) -> Question:
    """The question called ``name``, searched in every chapter.

    Raises:
        ValueError: when no chapter has a question of that name, listing the known ones.
    """
    questions = {q.name: q for m in chapter_modules() for q in load_questions(m)}
    if name not in questions:
        raise ValueError(f"name: no question called {name!r}; known: {', '.join(questions)}")
    return questions[name]
