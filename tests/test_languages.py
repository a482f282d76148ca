"""Languages: BCP 47 tags are accepted, a language without texts falls back to
English and says so, and every reason the engine writes itself exists in every
language it supports."""

from __future__ import annotations

import pytest

from engine.errors import InvalidSnapshot
from engine.registry import build_engine
from engine.snapshot import SUPPORTED_LANGUAGES
from engine.texts import TEXTS
from tests.conftest import AS_OF, REPO, snapshot


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    return build_engine(REPO / "rules")


def test_every_built_in_text_exists_in_every_supported_language() -> None:
    missing = [f"{key}: {language}" for key, texts in TEXTS.items() for language in SUPPORTED_LANGUAGES if not texts.get(language)]
    assert missing == []


@pytest.mark.parametrize("tag", ["pl-PL", "pl", "PL-pl"])
def test_a_polish_tag_with_a_region_is_answered_in_polish(engine, tag: str) -> None:  # type: ignore[no-untyped-def]
    decision = engine.decide(snapshot(language=tag, consents={"phone": True}), AS_OF)
    assert decision.reasons == engine.decide(snapshot(language="pl", consents={"phone": True}), AS_OF).reasons
    assert any(veto.guardrail == "consent" and "zgody" in veto.reason for veto in decision.vetoes)
    assert not any(warning.code == "LANGUAGE_FALLBACK" for warning in decision.data_warnings)


def test_the_engines_own_vetoes_speak_polish(engine) -> None:  # type: ignore[no-untyped-def]
    decision = engine.decide(snapshot(language="pl", consents={}), AS_OF)
    consent = [veto for veto in decision.vetoes if veto.guardrail == "consent"]
    assert consent and all("zgody" in veto.reason for veto in consent)


@pytest.mark.parametrize("tag", ["de", "de-AT", "en-GB", "sr-Latn-RS"])
def test_a_language_without_texts_is_answered_in_english_and_never_refused(engine, tag: str) -> None:  # type: ignore[no-untyped-def]
    decision = engine.decide(snapshot(language=tag), AS_OF)
    assert decision.action != "NO_CONTACT" or decision.reasons[0].code != "ENGINE_FAULT"
    fallback = [warning for warning in decision.data_warnings if warning.code == "LANGUAGE_FALLBACK"]
    if tag.startswith("en"):
        assert fallback == []
    else:
        assert len(fallback) == 1 and tag in fallback[0].text


@pytest.mark.parametrize("tag", ["!!", "polish language", "p", "pl_PL", "pl-"])
def test_a_tag_that_is_not_bcp_47_is_refused_by_name(tag: str) -> None:
    with pytest.raises(InvalidSnapshot) as error:
        snapshot(language=tag)
    assert [problem.field for problem in error.value.problems] == ["language"]
    assert "BCP 47" in error.value.problems[0].description


