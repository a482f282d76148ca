"""The engine's own words to a debtor, in every supported language (see snapshot.SUPPORTED_LANGUAGES)."""

from __future__ import annotations

from engine.decision import Reason

TEXTS: dict[str, dict[str, str]] = {
    "ENGINE_FAULT": {
        "en": "The engine could not decide this case safely, so nobody is contacted.",
        "pl": "System nie mógł bezpiecznie podjąć decyzji w tej sprawie, dlatego nikt nie zostanie skontaktowany.",
    },
    "ALL_CANDIDATES_VETOED": {
        "en": "Every action the strategy proposed is not allowed for this case now, so nobody is contacted.",
        "pl": "Żadne z proponowanych działań nie jest teraz dozwolone w tej sprawie, dlatego nikt nie zostanie skontaktowany.",
    },
    "NO_RULE_MATCHED": {
        "en": "No strategy rule covers this case, so nobody is contacted.",
        "pl": "Żadna reguła strategii nie obejmuje tej sprawy, dlatego nikt nie zostanie skontaktowany.",
    },
    "offer.too_small_for_plan": {
        "en": "The amount is too small for {count} instalments of at least {minimum} {currency}.",
        "pl": "Kwota jest zbyt mała na {count} raty po co najmniej {minimum} {currency}.",
    },
    "offer.no_discount": {"en": "No discount can be offered: {reason}", "pl": "Nie możemy zaproponować rabatu: {reason}"},
    "offer.no_plan": {"en": "No instalment plan can be offered: {reason}", "pl": "Nie możemy zaproponować planu rat: {reason}"},
}


def text(key: str, language: str, **values: object) -> str:
    texts = TEXTS[key]
    return texts.get(language, texts["en"]).format(**values)


def system_reason(code: str, language: str) -> Reason:
    return Reason(code, text(code, language))
