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
    "DEBTOR_FAULT": {
        "en": "One of this person's accounts could not be decided safely, so nobody is contacted about any of them.",
        "pl": "Nie udało się bezpiecznie podjąć decyzji dla jednego z rachunków tej osoby, dlatego nikt nie kontaktuje się z nią w sprawie żadnego z nich.",
    },
    "NO_ACCOUNT_CONTACT": {
        "en": "None of this person's accounts calls for a contact now.",
        "pl": "Żaden z rachunków tej osoby nie wymaga teraz kontaktu.",
    },
    "DEBTOR_BUNDLED": {
        "en": "One contact covers the accounts {accounts}.",
        "pl": "Jeden kontakt obejmuje rachunki {accounts}.",
    },
    "DEBTOR_ONE_CONTACT": {
        "en": "The person is contacted about account {lead} in this window; this account's step waits for a later decision, so the person gets one contact at a time.",
        "pl": "W tym oknie kontaktujemy się z osobą w sprawie rachunku {lead}; krok dla tego rachunku czeka na kolejną decyzję, aby osoba otrzymywała jeden kontakt naraz.",
    },
    "OFFERS_BY_CURRENCY": {
        "en": "The accounts are in {currencies}: amounts in different currencies are never summed, so each currency has its own offer.",
        "pl": "Rachunki są w walutach {currencies}: kwot w różnych walutach nigdy nie sumujemy, więc każda waluta ma własną ofertę.",
    },
    "OFFER_CONSOLIDATED": {
        "en": "One offer covers {total} {currency} owed on the accounts {order}; each payment goes to them in that order ({rule}).",
        "pl": "Jedna oferta obejmuje {total} {currency} należności z rachunków {order}; każda wpłata jest zaliczana w tej kolejności.",
    },
    "OFFER_NOT_CONSOLIDATED": {
        "en": "The offers for accounts {accounts} allow no common number of instalments, so they are not consolidated.",
        "pl": "Oferty dla rachunków {accounts} nie mają wspólnej liczby rat, dlatego nie zostały połączone.",
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
