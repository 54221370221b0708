import pytest

from course_lib.claims import ClaimFailed, claim


def test_claim_prints_and_raises_only_when_false(capsys):
    claim("two is more than one", 2 > 1, "2 > 1")
    assert "[PASS] two is more than one: 2 > 1" in capsys.readouterr().out
    with pytest.raises(ClaimFailed, match="one is more than two"):
        claim("one is more than two", 1 > 2, "1 <= 2")
    assert "[FAIL]" in capsys.readouterr().out


def test_claims_log_collects_every_verdict(tmp_path, monkeypatch):
    log = tmp_path / "claims.txt"
    monkeypatch.setenv("COURSE_CLAIMS_LOG", str(log))
    claim("first", True, "1")
    with pytest.raises(ClaimFailed):
        claim("second", False, "2")
    assert log.read_text(encoding="utf-8").splitlines() == ["[PASS] first: 1", "[FAIL] second: 2"]


def test_a_dry_run_prints_claims_without_a_verdict_and_never_raises(tmp_path, monkeypatch, capsys):
    log = tmp_path / "claims.txt"
    monkeypatch.setenv("COURSE_CLAIMS_LOG", str(log))
    monkeypatch.setenv("COURSE_DRY_RUN", "5")
    claim("one is more than two", 1 > 2, "1 <= 2")
    claim("two is more than one", 2 > 1, "2 > 1")
    assert log.read_text(encoding="utf-8").splitlines() == [
        "[DRY RUN] one is more than two: 1 <= 2", "[DRY RUN] two is more than one: 2 > 1"]
    assert "PASS" not in capsys.readouterr().out
