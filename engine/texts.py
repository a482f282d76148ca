"""The engine's own words to a debtor, in every supported language (see snapshot.SUPPORTED_LANGUAGES)."""

from __future__ import annotations

from functools import lru_cache

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
        "en": "The offers for accounts {accounts} have no terms in common (instalments, discount), so they are not consolidated: each account keeps its own.",
        "pl": "Oferty dla rachunków {accounts} nie mają wspólnych warunków (rat, rabatu), dlatego nie zostały połączone: każdy rachunek zachowuje własną.",
    },
    "guardrail.gdpr-objection": {
        "en": "The debtor objected to processing (GDPR art. 21): no automated contact.",
        "pl": "Dłużnik wniósł sprzeciw wobec przetwarzania danych (art. 21 RODO): bez automatycznego kontaktu.",
    },
    "guardrail.gdpr-restriction": {
        "en": "Processing is restricted (GDPR art. 18): no automated contact.",
        "pl": "Przetwarzanie danych jest ograniczone (art. 18 RODO): bez automatycznego kontaktu.",
    },
    "guardrail.gdpr-erasure": {
        "en": "The debtor asked for erasure (GDPR art. 17): no automated contact.",
        "pl": "Dłużnik zażądał usunięcia danych (art. 17 RODO): bez automatycznego kontaktu.",
    },
    "guardrail.cease-and-desist": {
        "en": "The debtor asked us to stop contacting them.",
        "pl": "Dłużnik poprosił, abyśmy przestali się z nim kontaktować.",
    },
    "guardrail.attorney-represented": {
        "en": "The debtor is represented by an attorney: we do not contact them directly.",
        "pl": "Dłużnika reprezentuje pełnomocnik: nie kontaktujemy się z nim bezpośrednio.",
    },
    "guardrail.bankruptcy": {
        "en": "The debtor is in bankruptcy: collection is stayed.",
        "pl": "Wobec dłużnika toczy się postępowanie upadłościowe: windykacja jest wstrzymana.",
    },
    "guardrail.deceased": {
        "en": "The debtor has died: we do not contact or pursue them.",
        "pl": "Dłużnik zmarł: nie kontaktujemy się i nie dochodzimy należności od niego.",
    },
    "guardrail.dispute": {
        "en": "The debt is disputed: collection is on hold until the dispute is resolved.",
        "pl": "Dług jest sporny: windykacja jest wstrzymana do rozstrzygnięcia sporu.",
    },
    "guardrail.consent": {
        "en": "The debtor has not consented to contact by {channel}.",
        "pl": "Dłużnik nie wyraził zgody na kontakt kanałem {channel}.",
    },
    "guardrail.electronic-opt-out": {
        "en": "The debtor opted out of electronic communications.",
        "pl": "Dłużnik zrezygnował z komunikacji elektronicznej.",
    },
    "guardrail.contact-data": {
        "en": "The last {count} contacts by {channel} did not reach the debtor: the contact data needs checking.",
        "pl": "Ostatnie {count} kontakty kanałem {channel} nie dotarły do dłużnika: dane kontaktowe wymagają sprawdzenia.",
    },
    "guardrail.no-channel": {
        "en": "The rule names only the debtor's preferred channel, and the debtor has stated none.",
        "pl": "Reguła wskazuje tylko preferowany kanał dłużnika, a dłużnik żadnego nie wskazał.",
    },
    "guardrail.no-lawful-time": {
        "en": "There is no lawful time to contact the debtor on this channel in the next 14 days.",
        "pl": "W ciągu najbliższych 14 dni nie ma dozwolonego terminu kontaktu z dłużnikiem tym kanałem.",
    },
    "warning.contact-data": {
        "en": "{count} contacts by {channel} in a row did not reach the debtor; check the {channel} contact data.",
        "pl": "{count} kolejne kontakty kanałem {channel} nie dotarły do dłużnika; sprawdź dane kontaktowe dla kanału {channel}.",
    },
    "warning.language-fallback": {
        "en": "The engine has no texts in {requested}; the reasons are in English.",
        "pl": "Brak tekstów w języku {requested}; uzasadnienia podano po angielsku.",
    },
    "requirement.waiting": {"en": "({passed} of {days} days have passed.)", "pl": "(Minęło {passed} z {days} dni.)"},
    "offer.too_small_for_plan": {
        "en": "The amount is too small for {count} instalments of at least {minimum} {currency}.",
        "pl": "Kwota jest zbyt mała na {count} raty po co najmniej {minimum} {currency}.",
    },
    "offer.no_minimum_in_currency": {
        "en": "The rule sets no minimum instalment in {currency}, so none is given: agree an instalment the debtor can afford.",
        "pl": "Reguła nie określa minimalnej raty w walucie {currency}, dlatego jej nie podajemy: należy uzgodnić ratę, na którą stać dłużnika.",
    },
    "offer.no_discount": {"en": "No discount can be offered: {reason}", "pl": "Nie możemy zaproponować rabatu: {reason}"},
    "offer.no_plan": {"en": "No instalment plan can be offered: {reason}", "pl": "Nie możemy zaproponować planu rat: {reason}"},
}


def text(key: str, language: str, **values: object) -> str:
    texts = TEXTS[key]
    return texts.get(language, texts["en"]).format(**values)


# Kept: the same few reasons end many decisions (bounded: codes and languages are few).
@lru_cache(maxsize=256)
def system_reason(code: str, language: str) -> Reason:
    return Reason(code, text(code, language))
