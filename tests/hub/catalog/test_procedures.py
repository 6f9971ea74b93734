"""The procedure catalog: the shipped files hold together, and a broken file is refused naming
the file and the entry."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from hub.catalog import CatalogError, load_skills
from hub.catalog.procedures import (
    CARD_TYPES,
    FIELD_TYPES,
    LIFE_EVENTS_FILE,
    SHARED_FILE,
    load_catalog,
    parse_catalog,
)
from hub.forms.validation import make_bundle
from hub.sessions.router import load_rules

CATALOG = load_catalog()


def _files() -> dict[str, str]:
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in resources.files("hub.catalog").joinpath("data", "procedures").iterdir()
        if entry.name.endswith(".json")
    }


def test_the_procedures_of_the_issue_are_all_there() -> None:
    titles = {p.id: p.ja for p in CATALOG.procedures.values()}
    for needed in (
        "転入届",
        "転出届",
        "転居届",
        "国民健康保険 資格取得・喪失",
        "児童手当 認定請求",
        "子ども医療費 受給資格",
        "印鑑登録",
        "住民票の写し等交付請求",
        "税証明交付請求",
        "介護保険 住所地特例",
    ):
        assert any(needed in title for title in titles.values()), needed
    assert {"tennyu", "tenshutsu", "tenkyo", "shussei", "shoumeisho"} <= set(CATALOG.life_events)


def test_every_field_is_well_formed() -> None:
    for procedure in CATALOG.procedures.values():
        assert procedure.ja and procedure.en
        assert procedure.skill in load_skills(), procedure.id
        for spec in procedure.fields:
            where = f"{procedure.id}.{spec.id}"
            assert spec.type in FIELD_TYPES, where
            assert spec.ja.strip() and spec.en.strip(), where
            assert bool(spec.options) == (spec.type == "select"), where
            if spec.source == "card":
                assert spec.type in CARD_TYPES and spec.shared_key, where
            if spec.required_if is not None:
                other = procedure.field(spec.required_if.field)
                assert other is not None and other is not spec, where
                assert not spec.required, where


def test_the_my_number_is_asked_exactly_where_the_law_needs_it() -> None:
    needing = {p.id for p in CATALOG.procedures.values() if p.needs_my_number}
    assert needing == {"tennyu_todoke", "kokuho_shikaku", "jidou_teate", "kaigo_jushochi_tokurei"}
    for procedure in CATALOG.procedures.values():
        numbers = [f for f in procedure.fields if f.type == "my_number"]
        assert len(numbers) == (1 if procedure.needs_my_number else 0), procedure.id


def test_shared_keys_have_one_type_across_procedures() -> None:
    seen: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for procedure in CATALOG.procedures.values():
        for spec in procedure.fields:
            if spec.shared_key is None:
                continue
            shape = (spec.type, spec.options)
            assert seen.setdefault(spec.shared_key, shape) == shape, (procedure.id, spec.id)
            assert CATALOG.shared_keys[spec.shared_key].type == spec.type
    assert {"name", "name_kana", "address", "birth_date", "sex", "phone", "household"} <= set(seen)
    assert {"previous_address", "move_date", "my_number"} <= set(seen)
    # Every form names the resident; the name comes from the card.
    for procedure in CATALOG.procedures.values():
        name = next(f for f in procedure.fields if f.shared_key == "name")
        assert name.required and name.source == "card", procedure.id


def test_card_fields_are_the_card_items() -> None:
    card = {k.key: k.card for k in CATALOG.shared_keys.values() if k.card}
    assert card == {
        "name": "name",
        "birth_date": "birth_date",
        "sex": "sex",
        "my_number": "my_number",
        "address": "address",
    }


def test_every_life_event_holds_together() -> None:
    purposes = set(load_rules().purposes)
    for event in CATALOG.life_events.values():
        assert event.purpose in purposes, event.id
        assert event.procedures
        for entry in event.procedures:
            procedure = CATALOG.procedures[entry.procedure]
            assert set(entry.when) <= set(CATALOG.questions)
            for field_id in entry.preset:
                assert procedure.field(field_id) is not None
        # Whatever the answers, the preselected procedures make a bundle.
        answers = dict.fromkeys(CATALOG.questions, True)
        assert make_bundle(CATALOG, event.id, answers).procedures


def test_moving_in_with_and_without_children() -> None:
    without = make_bundle(CATALOG, "tennyu", {"with_children": False})
    assert [p.id for p in without.procedures] == ["tennyu_todoke"]
    family = make_bundle(
        CATALOG, "tennyu", {"with_children": True, "national_health_insurance": True}
    )
    assert [p.id for p in family.procedures] == [
        "tennyu_todoke",
        "kokuho_shikaku",
        "jidou_teate",
        "kodomo_iryou",
    ]
    assert family.presets["kokuho_shikaku"] == {"kind": "shutoku", "reason": "tennyu"}
    # 印鑑登録 is offered, not preselected: the specialist adds it.
    offered = make_bundle(CATALOG, "tennyu", procedures=["tennyu_todoke", "inkan_touroku"])
    assert offered.skills == ("juumin", "inkan")


def test_the_catalog_is_served_as_json() -> None:
    data = json.loads(json.dumps(CATALOG.to_json(), ensure_ascii=False))
    procedures = {p["id"]: p for p in data["procedures"]}
    sex = next(f for f in procedures["tennyu_todoke"]["fields"] if f["id"] == "sex")
    assert [o["value"] for o in sex["options"]] == ["male", "female"]  # the shared key's
    assert {e["id"] for e in data["life_events"]} == set(CATALOG.life_events)
    assert [m["id"] for m in data["household_member"]][:2] == ["name", "name_kana"]


def _broken(name: str, change: Any) -> dict[str, str]:
    files = _files()
    data = json.loads(files[name])
    change(data)
    files[name] = json.dumps(data, ensure_ascii=False)
    return files


def _field(data: dict[str, Any], field_id: str) -> dict[str, Any]:
    return next(f for f in data["fields"] if f["id"] == field_id)


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        (
            "zei_shoumei.json",
            lambda d: _field(d, "copies").update(type="integer"),
            r"zei_shoumei\.json: fields\[2\] \(copies\): unknown type 'integer'",
        ),
        ("zei_shoumei.json", lambda d: d.update(skill="tax"), "unknown skill 'tax'"),
        (
            "zei_shoumei.json",
            lambda d: _field(d, "phone").update(type="text"),
            "differs from shared key 'phone'",
        ),
        (
            "zei_shoumei.json",
            lambda d: _field(d, "purpose_detail")["required_if"].update(field="nothing"),
            "required_if names another field",
        ),
        (
            "zei_shoumei.json",
            lambda d: _field(d, "purpose_detail")["required_if"].update({"in": ["elsewhere"]}),
            "required_if value 'elsewhere' never in purpose",
        ),
        ("zei_shoumei.json", lambda d: d.update(needs_my_number=True), "needs_my_number"),
        ("zei_shoumei.json", lambda d: d.update(id="zei"), "name it after the id"),
        (
            "zei_shoumei.json",
            lambda d: _field(d, "copies").update(min=30),
            "min exceeds max",
        ),
        (
            "zei_shoumei.json",
            lambda d: _field(d, "address").update(source="scanner"),
            "source is 'card'",
        ),
        (
            LIFE_EVENTS_FILE,
            lambda d: d["life_events"][0]["procedures"].append({"procedure": "marriage"}),
            "unknown procedure 'marriage'",
        ),
        (
            LIFE_EVENTS_FILE,
            lambda d: d["life_events"][0]["procedures"][1].update(preset={"kind": "maybe"}),
            "preset kind='maybe'",
        ),
        (
            LIFE_EVENTS_FILE,
            lambda d: d["life_events"][0]["procedures"][1].update(when=["rich"]),
            "when lists known conditions",
        ),
        (
            LIFE_EVENTS_FILE,
            lambda d: d["life_events"][0].update(card={"address": "nowhere"}),
            "card maps card attributes",
        ),
        (
            SHARED_FILE,
            lambda d: d["shared_keys"]["sex"].update(type="boolean"),
            "only select keys have options",
        ),
    ],
)
def test_a_broken_file_is_refused_naming_it(name: str, change: Any, message: str) -> None:
    with pytest.raises(CatalogError, match=message) as caught:
        parse_catalog(_broken(name, change))
    assert str(caught.value).startswith(name) or name == SHARED_FILE


def test_files_that_are_not_json_or_missing_are_refused() -> None:
    files = _files()
    with pytest.raises(CatalogError, match=r"inkan_touroku\.json: not JSON"):
        parse_catalog({**files, "inkan_touroku.json": "{"})
    del files[LIFE_EVENTS_FILE]
    with pytest.raises(CatalogError, match=r"life_events\.json: missing"):
        parse_catalog(files)
