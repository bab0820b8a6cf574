"""Japanese text as people type, paste and scan it (booking.lib.japanese): width, separators, digits, kana."""

from __future__ import annotations

import pytest

from booking.lib.japanese import (
    drop_separators,
    is_katakana_name,
    katakana_text,
    name_key,
    nfkc,
    not_katakana,
    same_kana,
    to_katakana,
    typed_digits,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ＡＢＣ１２３", "ABC123"),  # an IME left in full-width mode
        ("ｷｮｳﾄ ﾀﾛｳ", "キョウト タロウ"),  # half-width kana from an older system
        ("ｶﾞｯｺｳ", "ガッコウ"),  # half-width voiced marks join their letter
        ("キョウト　タロウ", "キョウト タロウ"),  # the full-width space
        ("①②", "12"),  # circled digits
    ],
)
def test_nfkc_evens_out_widths(typed: str, expected: str) -> None:
    assert nfkc(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1234-5678-9012", "123456789012"),
        ("１２３４－５６７８－９０１２", "123456789012"),  # full-width digits and hyphen-minus
        ("1234ー5678ー9012", "123456789012"),  # the hyphen key in kana mode gives the long vowel mark
        ("1234ｰ5678ｰ9012", "123456789012"),  # the same, half-width
        ("1234‐5678‑9012", "123456789012"),  # hyphen, non-breaking hyphen (from a PDF or Word)
        ("1234–5678—9012", "123456789012"),  # en and em dash (autocorrect)
        ("1234―5678−9012", "123456789012"),  # horizontal bar, minus sign
        ("1234 5678　9012", "123456789012"),  # space and full-width space
        ("123456789012\r\n", "123456789012"),  # a barcode reader's Enter
        ("\t1234\t5678 9012 ", "123456789012"),
    ],
)
def test_drop_separators_takes_every_dash_and_space(typed: str, expected: str) -> None:
    assert drop_separators(typed) == expected


def test_drop_separators_takes_the_extra_characters_asked_for_only() -> None:
    assert drop_separators("(075) 123-4567") == "(075)1234567"
    assert drop_separators("（075）123-4567", "()（）") == "0751234567"  # full-width brackets are NFKC'd
    assert drop_separators("ABCD-EFGH.JK") == "ABCDEFGH.JK"  # dots are not separators


@pytest.mark.parametrize(
    ("typed", "lengths", "expected"),
    [
        ("1234-5678-9012", (12,), "123456789012"),
        ("１２３４ー５６７８ー９０１２", (12,), "123456789012"),
        ("12345678901234567890123", (12, 23), "12345678901234567890123"),
        ("1234 5678 9012 3456 7890 123", (23, 12), "12345678901234567890123"),
        ("1234-5678-901", (12,), None),  # a digit short
        ("1234-5678-90123", (12,), None),  # a digit too many
        ("1234-5678-901X", (12,), None),  # a letter
        ("1234/5678/9012", (12,), None),  # slashes are not separators
        ("", (12,), None),
        ("---", (), None),  # separators alone are no number
        ("٣٤٥", (), None),  # Arabic-Indic digits are digits to str.isdigit(), not to us
        ("²³", (), "23"),  # NFKC makes superscripts plain digits
        ("0751234567", (), "0751234567"),  # no lengths: any length
    ],
)
def test_typed_digits(typed: str, lengths: tuple[int, ...], expected: str | None) -> None:
    assert typed_digits(typed, *lengths) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("やまだ たろう", "ヤマダ タロウ"),  # hiragana, as a caller's name is typed
        ("やまだ　たろう", "ヤマダ タロウ"),  # with a full-width space
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ"),  # half-width kana
        ("  ヤマダ   タロウ  ", "ヤマダ タロウ"),  # spaces collapsed
        ("すずき ゔぃおら", "スズキ ヴィオラ"),  # ゔ and small letters
        ("いすゞ", "イスヾ"),  # the hiragana iteration mark
        ("ヤマダ・ジョン", "ヤマダ・ジョン"),  # already katakana, with the middle dot
        ("ローマ", "ローマ"),  # the long vowel mark is a letter in a name, never dropped
        ("山田", "山田"),  # kanji stay as they are (and are refused by is_katakana_name)
    ],
)
def test_to_katakana(typed: str, expected: str) -> None:
    assert to_katakana(typed) == expected


def test_katakana_text_leaves_hiragana_for_the_file_check_to_refuse() -> None:
    assert katakana_text("ｷｮｳﾄ　　ﾀﾛｳ") == "キョウト タロウ"
    assert katakana_text("きょうと") == "きょうと"
    assert not_katakana(katakana_text("きょうと たろう")) == sorted(set("きょうとたろ"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ヤマダ タロウ", True),
        ("ヴァン・デル・ヴェーレ", True),
        ("イスヾ ヽ", True),
        ("ヤマダ　タロウ", False),  # not normalised yet: the full-width space (to_katakana makes it " ")
        ("ヤマダ 太郎", False),
        ("やまだ", False),  # hiragana must be converted first (to_katakana)
        ("Yamada", False),
        ("ヤマダ1", False),
        ("", False),
        (" ", False),
    ],
)
def test_is_katakana_name(name: str, expected: bool) -> None:
    assert is_katakana_name(name) is expected


def test_not_katakana_names_each_wrong_character_once_sorted() -> None:
    assert not_katakana("ヤマダ 太郎 太") == ["太", "郎"]
    assert not_katakana("ヤマダ タロウ") == []


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("ヤマダ タロウ", "やまだ　たろう", True),
        ("ヤマダ タロウ", "ﾔﾏﾀﾞﾀﾛｳ", True),
        ("ヤマダタロウ", "ヤマダ  タロウ", True),
        ("ヤマダ タロウ", "ヤマダ ジロウ", False),
        ("ヤマダ タロウ", "ヤマタ タロウ", False),  # a voiced mark is a different name
    ],
)
def test_same_kana(first: str, second: str, expected: bool) -> None:
    assert same_kana(first, second) is expected


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("髙橋　一郎", "高橋一郎"),
        ("高橋 一郎", "高橋一郎"),
        ("山﨑", "山崎"),
        ("齋藤 ｻｸﾗ", "斎藤サクラ"),  # half-width kana to full width, not to hiragana
        ("渡邊", "渡辺"),
        ("三ヶ島", "三ケ島"),
        ("ＡＢＣ", "abc"),
        ("SMITH John", "smithjohn"),  # a Latin name is found whatever its case (a new user's walk)
    ],
)
def test_a_name_key_folds_variants_widths_and_spaces(typed: str, key: str) -> None:
    assert name_key(typed) == key


@pytest.mark.django_db
def test_the_database_folds_names_as_python_does(kyoto: None) -> None:
    from django.db.models import Value

    from booking.lib.japanese import name_key_sql
    from booking.models import Place

    names = ["髙橋　一郎", "山﨑 さくら", "齋藤", "ﾔﾏﾀﾞ 𠮷男", "三ヶ島", "ＳＭＩＴＨ John", "ÉLODIE Müller"]
    for name in names:
        folded = Place.objects.annotate(key=name_key_sql(Value(name))).values_list("key", flat=True)[0]
        assert folded == name_key(name)
