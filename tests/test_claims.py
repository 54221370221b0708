import pytest

from course_lib.claims import ClaimFailed, claim


def test_claim_prints_and_raises_only_when_false(capsys):
    claim("two is more than one", 2 > 1, "2 > 1")
    assert "[PASS] two is more than one: 2 > 1" in capsys.readouterr().out
    with pytest.raises(ClaimFailed, match="one is more than two"):
        claim("one is more than two", 1 > 2, "1 <= 2")
    assert "[FAIL]" in capsys.readouterr().out
