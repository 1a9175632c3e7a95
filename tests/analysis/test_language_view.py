import pandas as pd
import pytest

from xstilts.analysis.language_view import grouped, language_deltas


def deltas():
    # de, hi: Indo-European (Latn, Deva); ja: Japonic (Jpan); two targets, one seed
    rows = [
        ("a", "xnli", "de", 2.0, 80.0), ("a", "xnli", "hi", 4.0, 70.0), ("a", "xnli", "ja", 6.0, 60.0),
        ("a", "pawsx", "de", 0.0, 90.0), ("a", "pawsx", "ja", 2.0, 75.0),
    ]  # fmt: skip
    df = pd.DataFrame(rows, columns=["arm", "target", "language", "delta", "baseline"])
    return df.assign(seed=1, group="general")


def test_language_deltas_carry_family_and_script():
    lang = language_deltas(deltas()).set_index("language")
    assert lang.loc["de", "delta"] == 1.0 and lang.loc["de", "n_targets"] == 2
    assert lang.loc["ja", "delta"] == 4.0
    assert lang.loc["hi", "family"] == "Indo-European" and lang.loc["hi", "script"] == "Deva"
    fam = grouped(language_deltas(deltas()), "family").set_index("family")
    assert fam.loc["Indo-European", "delta"] == pytest.approx(2.5)  # mean of de 1.0 and hi 4.0
    assert fam.loc["Indo-European", "languages"] == "de hi" and fam.loc["Japonic", "n_languages"] == 1


def test_unknown_language_code_is_kept():
    d = deltas().assign(language="xx")
    assert language_deltas(d)["family"].unique().tolist() == ["unknown"]
