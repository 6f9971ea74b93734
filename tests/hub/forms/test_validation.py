"""Form values, bundles and the 書かない figure: pure, with property tests for the parsers."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.catalog.procedures import load_catalog
from hub.forms import validation as forms
from hub.forms.validation import (
    KANA,
    FieldValueError,
    FormsError,
    Provenance,
    count_entries,
    fill,
    make_bundle,
    my_number_check_digit,
    parse_date,
    parse_kana,
    parse_my_number,
    parse_phone,
    parse_postal_code,
    parse_submission,
    to_wareki,
    validate_bundle,
    validate_submission,
)
from tests.hub.intake.samples import MY_NUMBER, certificate_bundle, tennyu_bundle

CATALOG = load_catalog()
TODAY = date(2024, 4, 10)
FULL_WIDTH = str.maketrans("0123456789.-/", "０１２３４５６７８９．－／")
KANJI = "〇一二三四五六七八九"

dates = st.dates(min_value=date(1873, 1, 1), max_value=date(2200, 12, 31))


def _kanji(n: int) -> str:
    """10 -> 十, 31 -> 三十一, 2024 -> 二〇二四 (as people write them)."""
    if n >= 100:
        return "".join(KANJI[int(d)] for d in str(n))
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else "十" if tens == 1 else KANJI[tens] + "十") + (
        KANJI[ones] if ones else ""
    )


def _code(text: str) -> str:
    with pytest.raises(FieldValueError) as caught:
        parse_date(text)
    return caught.value.code


# -- dates ------------------------------------------------------------------------------------


@given(dates)
def test_wareki_and_seireki_round_trip(day: date) -> None:
    era = forms.era_of(day)
    year = day.year - era.first.year + 1
    for text in (
        to_wareki(day),
        to_wareki(day, "letter"),
        to_wareki(day, "letter").lower(),
        f"{era.letter}{year:02d}.{day.month:02d}.{day.day:02d}",
        f"{era.ja}{_kanji(year)}年{_kanji(day.month)}月{_kanji(day.day)}日",
        to_wareki(day).translate(FULL_WIDTH),
        day.isoformat(),
        day.isoformat().translate(FULL_WIDTH),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{day.year}{day.month:02d}{day.day:02d}",
        f" {day.year} 年 {day.month} 月 {day.day} 日 ",
    ):
        assert parse_date(text) == day, text


@given(dates)
def test_a_wareki_date_in_the_wrong_era_names_the_right_one(day: date) -> None:
    right = forms.era_of(day)
    for wrong in forms.ERAS:
        if wrong is right or wrong.first.year > day.year:
            continue
        year = day.year - wrong.first.year + 1
        with pytest.raises(FieldValueError) as caught:
            parse_date(f"{wrong.ja}{year}年{day.month}月{day.day}日")
        assert caught.value.code == "era_out_of_range"
        assert to_wareki(day) in caught.value.params["suggestion"]


@given(st.text(max_size=30))
def test_any_text_is_a_date_or_a_clear_refusal(text: str) -> None:
    try:
        result = parse_date(text)
    except FieldValueError as exc:
        assert exc.code in forms.MESSAGES
    else:
        assert date(1873, 1, 1) <= result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("平成31年4月30日", date(2019, 4, 30)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("R1.5.1", date(2019, 5, 1)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("大正15年12月24日", date(1926, 12, 24)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("㍻31.4.30", date(2019, 4, 30)),
        ("令和六年四月一日", date(2024, 4, 1)),
        ("令6.4.1", date(2024, 4, 1)),
        ("西暦2024年4月1日", date(2024, 4, 1)),
    ],
)
def test_era_boundaries(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("平成31年5月1日", "era_out_of_range"),
        ("令和元年4月30日", "era_out_of_range"),
        ("昭和64年1月8日", "era_out_of_range"),
        ("平成元年1月7日", "era_out_of_range"),
        ("令和0年1月1日", "bad_date"),
        ("2023-02-29", "no_such_date"),
        ("令和6年2月30日", "no_such_date"),
        ("明治5年12月2日", "date_too_early"),
        ("R641", "bad_date"),
        ("来週", "bad_date"),
        ("", "bad_date"),
    ],
)
def test_dates_that_do_not_exist_are_refused(text: str, code: str) -> None:
    assert _code(text) == code


def test_a_heisei_date_after_the_era_suggests_reiwa() -> None:
    with pytest.raises(FieldValueError) as caught:
        parse_date("平成31年5月1日")
    assert caught.value.params["suggestion"] == "令和元年5月1日（2019-05-01）"


# -- kana -------------------------------------------------------------------------------------

katakana = st.characters(min_codepoint=0x30A1, max_codepoint=0x30FA)
hiragana = st.characters(min_codepoint=0x3041, max_codepoint=0x3096)
words = st.lists(st.text(katakana, min_size=1, max_size=8), min_size=1, max_size=4)


@given(words, st.sampled_from([" ", "\u3000", "  ", " \u3000 "]))
def test_katakana_stays_and_spaces_become_one_full_width_space(
    parts: list[str], space: str
) -> None:
    assert parse_kana(f" {space.join(parts)} ") == "\u3000".join(parts)


@given(st.lists(st.text(hiragana, min_size=1, max_size=8), min_size=1, max_size=3))
def test_hiragana_becomes_katakana(parts: list[str]) -> None:
    expected = "\u3000".join(
        "".join(chr(ord(c) + 0x60) for c in unicodedata.normalize("NFKC", p)) for p in parts
    )
    assert parse_kana(" ".join(parts)) == expected


@given(st.text(max_size=20))
def test_any_text_is_a_reading_or_a_clear_refusal(text: str) -> None:
    try:
        result = parse_kana(text)
    except FieldValueError as exc:
        assert exc.code == "bad_kana"
    else:
        assert KANA.fullmatch(result)
        assert parse_kana(result) == result  # normal form is a fixed point


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ\u3000タロウ"),
        ("すずき　いちろー", "スズキ\u3000イチロー"),
        ("スミス・ジョン", "スミス・ジョン"),
        ("ヴァイオリン", "ヴァイオリン"),
        ("こ-じ", "コージ"),
    ],
)
def test_readings(text: str, expected: str) -> None:
    assert parse_kana(text) == expected


@pytest.mark.parametrize("text", ["yamada", "山田", "ヤマダ1", ""])
def test_what_is_not_a_reading(text: str) -> None:
    with pytest.raises(FieldValueError, match="bad_kana"):
        parse_kana(text)


# -- postal codes, phones, My Number ----------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["123-4567", "1234567", "〒123-4567", "１２３－４５６７", "123ー4567"]
)
def test_postal_codes(text: str) -> None:
    assert parse_postal_code(text) == "123-4567"


@pytest.mark.parametrize("text", ["12-34567", "123456", "abc-defg", "123-45678"])
def test_bad_postal_codes(text: str) -> None:
    with pytest.raises(FieldValueError, match="bad_postal_code"):
        parse_postal_code(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("03-1234-5678", "03-1234-5678"),
        ("0312345678", "03-1234-5678"),
        ("(03)1234-5678", "03-1234-5678"),
        ("０９０－１２３４－５６７８", "090-1234-5678"),
        ("09012345678", "090-1234-5678"),
        ("+81 90 1234 5678", "090-1234-5678"),
        ("+81-3-1234-5678", "03-1234-5678"),
        ("0120123456", "0120-123-456"),
        ("0800-123-4567", "0800-123-4567"),
        ("050-1234-5678", "050-1234-5678"),
        ("0172-12-3456", "0172-12-3456"),
    ],
)
def test_phone_numbers(text: str, expected: str) -> None:
    assert parse_phone(text) == expected


@pytest.mark.parametrize(
    "text", ["1234-5678", "090-1234-567", "0012345678", "03-1234-56789", "電話"]
)
def test_bad_phone_numbers(text: str) -> None:
    with pytest.raises(FieldValueError, match="bad_phone"):
        parse_phone(text)


def test_my_number_check_digit_by_hand() -> None:
    # 1·6 + 2·5 + 3·4 + 4·3 + 5·2 + 6·7 + 7·6 + 8·5 + 9·4 + 0·3 + 1·2 = 212; 212 mod 11 = 3
    assert my_number_check_digit("12345678901") == 8
    assert parse_my_number("1234 5678 9018") == MY_NUMBER
    assert parse_my_number("１２３４-５６７８-９０１８") == MY_NUMBER


@given(st.text("0123456789", min_size=11, max_size=11), st.integers(1, 9))
def test_my_number_check_digit_catches_a_wrong_last_digit(first: str, shift: int) -> None:
    check = my_number_check_digit(first)
    assert parse_my_number(first + str(check)) == first + str(check)
    with pytest.raises(FieldValueError) as caught:
        parse_my_number(first + str((check + shift) % 10))
    assert caught.value.code == "my_number_check_digit"
    assert first not in str(caught.value)  # never echoed


@pytest.mark.parametrize("text", ["12345678901", "1234567890189", "12345678901x"])
def test_my_number_has_twelve_digits(text: str) -> None:
    with pytest.raises(FieldValueError, match="bad_my_number"):
        parse_my_number(text)


# -- bundles ----------------------------------------------------------------------------------


def _family() -> forms.Bundle:
    return make_bundle(
        CATALOG, "tennyu", {"with_children": True, "national_health_insurance": True}
    )


def test_shared_fields_are_asked_once() -> None:
    bundle = _family()
    keys = [s.key for s in bundle.shared]
    assert len(keys) == len(set(keys))
    name = bundle.shared_field("name")
    assert name is not None and name.required and name.card == "name"
    assert [pid for pid, _ in name.users] == [p.id for p in bundle.procedures]
    # 転入: the card still shows the previous address.
    previous, address = bundle.shared_field("previous_address"), bundle.shared_field("address")
    assert previous is not None and previous.card == "address"
    assert address is not None and address.card is None
    for procedure in bundle.procedures:
        own = bundle.per_form[procedure.id]
        assert not any(f.shared_key for f in own)
        assert not any(f.id in bundle.presets[procedure.id] for f in own)
    assert bundle.needs_my_number
    assert bundle.skills == ("juumin", "kokuho", "kosodate")


def test_a_bundle_without_the_number_does_not_ask_for_it() -> None:
    bundle = make_bundle(CATALOG, "tenkyo", procedures=["tenkyo_todoke", "juuminhyou_koufu"])
    assert not bundle.needs_my_number
    assert bundle.shared_field("my_number") is None


def test_fill_copies_shared_values_and_presets_into_each_form() -> None:
    bundle = _family()
    body = tennyu_bundle()
    filled = fill(bundle, body["shared"], body["forms"])
    for procedure in bundle.procedures:
        assert filled[procedure.id]["name"] == "山田 太郎"
    assert filled["kokuho_shikaku"]["kind"] == "shutoku"
    assert filled["kokuho_shikaku"]["event_date"] == "R6.4.1"  # raw: fill checks nothing
    assert filled["jidou_teate"]["children"] == body["shared"]["children"]
    assert "children" not in filled["tennyu_todoke"]


def test_a_valid_bundle_comes_out_in_normal_form() -> None:
    body = tennyu_bundle()
    result = validate_bundle(_family(), body["shared"], body["forms"], today=TODAY)
    assert result.ok, result.issues
    kokuho = result.forms["kokuho_shikaku"]
    assert kokuho["event_date"] == "2024-04-01"
    assert kokuho["name_kana"] == "ヤマダ\u3000タロウ"
    assert kokuho["postal_code"] == "100-0013"
    assert kokuho["household"][1]["name_kana"] == "ヤマダ\u3000ハナコ"
    assert kokuho["household"][1]["birth_date"] == "1990-03-04"
    assert result.forms["jidou_teate"]["my_number"] == MY_NUMBER


def _issues(shared: dict[str, Any], own: dict[str, Any], bundle: Any = None) -> list[Any]:
    result = validate_bundle(bundle or _family(), shared, own, today=TODAY)
    return [(i.form, i.field, i.code, i.item, i.member_field) for i in result.issues]


def test_a_missing_shared_value_is_reported_once() -> None:
    body = tennyu_bundle()
    del body["shared"]["name"]
    assert _issues(body["shared"], body["forms"]) == [(None, "name", "required", None, None)]


def test_errors_carry_stable_codes_and_words_in_both_languages() -> None:
    body = tennyu_bundle()
    body["shared"].update(
        birth_date="平成31年5月1日", phone="12", my_number="123456789012", name_kana="Yamada"
    )
    body["shared"]["household"][1]["birth_date"] = "2030-01-01"
    body["forms"]["jidou_teate"]["account_number"] = "12-34"
    body["forms"]["jidou_teate"]["pension"] = "gold"
    body["forms"]["kodomo_iryou"]["color"] = "blue"
    body["forms"]["kokuho_shikaku"] = {"kind": "soushitsu"}
    result = validate_bundle(_family(), body["shared"], body["forms"], today=TODAY)
    found = {(i.form, i.field, i.code, i.item) for i in result.issues}
    assert found == {
        (None, "birth_date", "era_out_of_range", None),
        (None, "phone", "bad_phone", None),
        (None, "my_number", "my_number_check_digit", None),
        (None, "name_kana", "bad_kana", None),
        (None, "household", "date_in_future", 1),
        ("jidou_teate", "account_number", "bad_format", None),
        ("jidou_teate", "pension", "bad_option", None),
        ("kodomo_iryou", "color", "unknown_field", None),
        ("kokuho_shikaku", "kind", "fixed_by_life_event", None),
    }
    for issue in result.issues:
        assert issue.ja and issue.en and "{" not in issue.ja + issue.en
        assert MY_NUMBER[:11] not in issue.ja + issue.en
    by_field = {i.field: i for i in result.issues}
    assert "令和元年5月1日" in by_field["birth_date"].ja
    assert by_field["household"].ja.startswith("異動する世帯員（2人目）生年月日")


def test_required_if_follows_the_other_field() -> None:
    bundle = make_bundle(CATALOG, "shoumeisho")
    body = certificate_bundle()
    assert _issues(body["shared"], body["forms"], bundle) == []
    body["forms"]["juuminhyou_koufu"]["purpose"] = "other"
    assert _issues(body["shared"], body["forms"], bundle) == [
        ("juuminhyou_koufu", "purpose_detail", "required", None, None)
    ]
    body["forms"]["juuminhyou_koufu"]["purpose_detail"] = "ビザの申請"
    body["forms"]["juuminhyou_koufu"]["copies"] = "３"
    result = validate_bundle(bundle, body["shared"], body["forms"], today=TODAY)
    assert result.ok and result.forms["juuminhyou_koufu"]["copies"] == 3
    body["forms"]["juuminhyou_koufu"]["copies"] = 21
    assert _issues(body["shared"], body["forms"], bundle) == [
        ("juuminhyou_koufu", "copies", "out_of_range", None, None)
    ]


def test_household_members_are_checked_column_by_column() -> None:
    body = tennyu_bundle()
    body["shared"]["household"] = [{"name": "山田 太郎", "sex": "other", "age": 40}]
    found = _issues(body["shared"], body["forms"])
    assert (None, "household", "unknown_field", 0, None) in found
    assert (None, "household", "bad_option", 0, "sex") in found
    assert (None, "household", "required", 0, "birth_date") in found
    body["shared"]["household"] = "山田 太郎"
    assert (None, "household", "bad_household", None, None) in _issues(
        body["shared"], body["forms"]
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda b: b.update(life_event="marriage"), "unknown_life_event"),
        (lambda b: b.update(procedures=["tennyu_todoke", "passport"]), "unknown_procedure"),
        (lambda b: b.update(procedures=["tennyu_todoke", "tennyu_todoke"]), "duplicate_procedure"),
        (lambda b: b.update(procedures=[]), "no_procedures"),
        (lambda b: b["answers"].update(rich=True), "unknown_condition"),
        (lambda b: b.update(colour="red"), "bad_bundle"),
        (lambda b: b.update(forms=[]), "bad_bundle"),
        (lambda b: b["signature"].update(width=0), "bad_signature"),
        (lambda b: b["signature"]["strokes"].append([[400, 10]]), "bad_signature"),
        (lambda b: b["signature"].update(strokes=[[[1, float("nan")]]]), "bad_signature"),
        (lambda b: b.update(documents=["../etc/passwd"]), "bad_documents"),
    ],
)
def test_a_malformed_submission_is_refused(change: Any, code: str) -> None:
    body = tennyu_bundle()
    change(body)
    with pytest.raises(FormsError) as caught:
        parse_submission(body, CATALOG)
    assert caught.value.code == code


def test_provenance_and_signature_are_checked() -> None:
    body = tennyu_bundle()
    body["provenance"]["shared"].update(address="card", phone="neighbour")
    body["provenance"]["forms"]["jidou_teate"]["bank_name"] = "card"
    del body["signature"]
    result = validate_submission(parse_submission(body, CATALOG), today=TODAY)
    assert {(i.form, i.field, i.code) for i in result.issues} == {
        (None, "address", "not_from_card"),  # at 転入 the card holds the previous address
        (None, "phone", "bad_provenance"),
        ("jidou_teate", "bank_name", "not_from_card"),
        (None, "signature", "required"),
    }


# -- the 書かない figure ------------------------------------------------------------------------


def test_entries_of_one_certificate_by_hand() -> None:
    body = certificate_bundle()
    submission = parse_submission(body, CATALOG)
    result = validate_submission(submission, today=TODAY)
    assert result.ok
    counts = count_entries(submission.bundle, result.forms, submission.provenance)
    # On paper: certificate, scope, copies, purpose, name, birth date, address, phone and a
    # signature. Here: the signature on the terminal only.
    assert counts.to_json() == {"forms": 1, "paper": 9, "resident": 1, "avoided": 8}
    resident = Provenance(shared={"phone": "resident"}, forms={})
    assert count_entries(submission.bundle, result.forms, resident).resident == 2


def test_entries_of_a_family_moving_in() -> None:
    submission = parse_submission(tennyu_bundle(), CATALOG)
    result = validate_submission(submission, today=TODAY)
    assert result.ok
    counts = count_entries(submission.bundle, result.forms, submission.provenance)
    # The phone number (once, though four forms have it), the account number, the signature.
    assert counts.resident == 3
    filled = sum(forms._entries(v) for values in result.forms.values() for v in values.values())
    assert counts.paper == filled + 4  # a signature per form
    assert counts.avoided == counts.paper - 3 > 70
    record = forms.submission_record(submission, result)
    assert record["entries"] == counts.to_json()
    assert record["provenance"]["kokuho_shikaku"]["kind"] == "preset"
    assert record["provenance"]["jidou_teate"]["phone"] == "resident"
    assert record["provenance"]["jidou_teate"]["name"] == "card"
