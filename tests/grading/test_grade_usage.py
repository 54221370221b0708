from course_lib import profile
from course_lib.grade import PROFILE_CHOICES, main


def test_profile_choices_match_the_library():
    assert PROFILE_CHOICES == profile.PROFILE_NAMES


def test_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main([str(tmp_path / "01_linear_pca.ipynb")]) == 2
    assert "not found" in capsys.readouterr().err


def test_notebook_without_questions_is_a_usage_error(tmp_path, capsys):
    notebook = tmp_path / "99_unknown.ipynb"
    notebook.write_text("{}")
    assert main([str(notebook)]) == 2
    assert "no questions for notebook '99_unknown.ipynb'" in capsys.readouterr().err


def test_malformed_notebook_is_a_usage_error(tmp_path, capsys):
    notebook = tmp_path / "01_linear_pca.ipynb"
    for text in ["", "[]", '{"cells": 3}']:
        notebook.write_text(text)
        assert main([str(notebook)]) == 2
        assert "could not read" in capsys.readouterr().err


def test_bad_arguments_are_usage_errors(tmp_path, monkeypatch, capsys):
    notebook = tmp_path / "01_linear_pca.ipynb"
    notebook.write_text("{}")
    assert main([str(notebook), "--timeout", "0"]) == 2
    assert main([str(notebook), "--profile", "huge"]) == 2
    monkeypatch.setenv("COURSE_PROFILE", "huge")
    assert main([str(notebook)]) == 2
    assert "COURSE_PROFILE='huge'" in capsys.readouterr().err
    assert main([]) == 2


def test_infinite_or_huge_timeouts_are_usage_errors(tmp_path, capsys):
    notebook = tmp_path / "01_linear_pca.ipynb"
    notebook.write_text("{}")
    for value in ["inf", "nan", "1e9", "-5"]:
        assert main([str(notebook), "--timeout", value]) == 2
        assert "--timeout must be a number of seconds" in capsys.readouterr().err
    assert main([str(notebook), "--question-timeout", "inf"]) == 2


def test_a_cell_whose_source_is_not_text_is_a_usage_error_naming_it(tmp_path, capsys):
    notebook = tmp_path / "01_linear_pca.ipynb"
    cells = '[{"cell_type": "markdown", "metadata": {}, "source": "hi", "id": "a"}, {"cell_type": "code", "metadata": {}, "source": 42, "outputs": [], "execution_count": null, "id": "b"}]'
    notebook.write_text('{"cells": ' + cells + ', "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    assert main([str(notebook)]) == 2
    assert "cell 2 has no text source" in capsys.readouterr().err
