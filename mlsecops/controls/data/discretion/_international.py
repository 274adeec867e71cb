"""International PII recognizers: phone numbers of any region, non-US street addresses and postal
codes, lower-case names, and multi-locale name lists.

    IntlPhoneRecognizer()            # phone-shaped digits, checked with `phonenumbers` (all regions)
    IntlAddressRecognizer()          # "Hauptstr. 5", "48, rue Lucie Brun", "ul. Polna 3", "72-984 Jaworzno"
    LowercaseNameRecognizer(gaz)     # "maria garcia" in chat: both tokens in the name lists, neither a word
    faker_names()                    # first names and surnames of Faker's Latin-script locales

Nothing is downloaded: `phonenumbers` (a Presidio dependency) carries its region metadata and Faker its
locale name lists. Street vocabulary is the postal words of each language (not Faker's lists).
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import Iterable

import phonenumbers
from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

LANGUAGE = "en"
# Locales whose names the held-out benchmark keeps unseen (bench/pii_heldout.py measures generalization on them).
HELD_OUT_NAME_LOCALES = frozenset({"cs_CZ", "hu_HU", "fi_FI", "ro_RO"})
# Regions tried, in order, for a number written without a country code (US first: the default locale).
_REGIONS = ("US", "GB", "CA", "AU", "DE", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "SE", "NO", "DK", "FI",
            "PL", "PT", "BR", "MX", "AR", "IE", "IN", "NZ", "ZA", "CZ", "HU", "RO", "GR", "TR", "JP", "CN",
            "KR", "SG", "PH", "NG", "KE", "IL", "AE", "CO", "CL")


def _result(recognizer: LocalRecognizer, entity: str, start: int, end: int, score: float) -> RecognizerResult:
    return RecognizerResult(entity, start, end, score,
                            analysis_explanation=AnalysisExplanation(recognizer.name, score),
                            recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: recognizer.name,
                                                  RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id})


# --------------------------------------------------------------------------------------------
# Phone numbers

_PHONE = re.compile(r"(?<![\w+.\-/@:])(?:\+|00)?[ ]?\(?\d(?:[ .\-/()]{0,3}\d){6,15}"
                    r"(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6})?(?![\w\-/@]|[.,:]\d)")
_NOT_PHONE = [re.compile(p) for p in (
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}",                # ISO dates
    r"\d{1,2}[-/.]\d{1,2}[-/.](?:\d{2}|\d{4})",     # day/month/year
    r"\d{1,3}(?:\.\d{1,3}){3}",                      # IPv4
    r"\d{3}-\d{2}-\d{4}",                            # US SSN
    r"\d{4}[ -]\d{4}[ -]\d{4}(?:[ -]\d{1,4})?",      # card-like groups of four
)]


def _phone_score(text: str) -> float:
    """Confidence that a phone-shaped string is a phone number (0: it is not)."""
    core = re.split(r"[ ]?(?:x|ext\.?|extension)[ ]?\d", text)[0].strip()
    if any(p.fullmatch(core) for p in _NOT_PHONE):
        return 0.0
    digits = re.sub(r"\D", "", core)
    separated = bool(re.search(r"[ .\-/()]", core))
    if core.startswith(("+", "00")):
        try:
            number = phonenumbers.parse("+" + digits[2:] if core.startswith("00") else core, None)
        except phonenumbers.NumberParseException:
            return 0.5 if len(digits) >= 8 else 0.0
        if phonenumbers.is_valid_number(number):
            return 0.85
        return 0.7 if phonenumbers.is_possible_number(number) else 0.55
    if not 7 <= len(digits) <= 13:
        return 0.0
    valid = False
    for region in _REGIONS:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(core, region)):
                valid = True
                break
        except phonenumbers.NumberParseException:
            continue
    trunk = digits.startswith("0") or core.startswith("(")
    if separated:
        return 0.6 if valid else 0.45 if trunk else 0.35
    return 0.45 if valid and trunk else 0.35 if valid else 0.0


class IntlPhoneRecognizer(LocalRecognizer):
    """PHONE_NUMBER in any region's format: +CC numbers, trunk-prefixed national numbers, grouped digits.

    Numbers valid by `phonenumbers` metadata score highest; plausible shapes score lower and need
    context ("tel", "mobile", "call") to pass the threshold.
    """

    CONTEXT = ["phone", "telephone", "tel", "cell", "mobile", "mob", "call", "fax", "whatsapp", "contact",
               "ring", "text", "t", "m", "ph", "telefon", "telefoon", "téléphone", "telefono", "celular"]

    def __init__(self) -> None:
        super().__init__(supported_entities=["PHONE_NUMBER"], supported_language=LANGUAGE,
                         name="IntlPhoneRecognizer", context=self.CONTEXT)

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts = None) -> list[RecognizerResult]:
        out = []
        for match in _PHONE.finditer(text):
            value = match.group().rstrip(" ")
            start = match.start() + (len(value) - len(value.lstrip(" ")))
            score = _phone_score(value.strip())
            if score:
                out.append(_result(self, "PHONE_NUMBER", start, match.start() + len(value), score))
        return out


# --------------------------------------------------------------------------------------------
# Addresses

# Words that open a street name (French, Italian, Spanish, Portuguese, Catalan, Polish, ...).
_STREET_PREFIX = (r"rue|avenue|av\.?|avda\.?|boulevard|bd|allée|chemin|impasse|place|quai|route|cours|"
                  r"via|viale|vicolo|piazza|piazzale|corso|largo|borgo|strada|contrada|rotonda|"
                  r"calle|avenida|rua|r\.|praça|travessa|alameda|estrada|rodovia|carrer|paseo|plaza|camino|"
                  r"carretera|ronda|rambla|privada|calzada|cerrada|callejón|andador|pasaje|urbanización|pasadizo|"
                  r"glorieta|cuesta|vía|camí|passeig|travesía|vial|acceso|"
                  r"ul\.|ulica|al\.|aleja|plac|os\.|osiedle")
STREET_PREFIX_WORD = re.compile(rf"(?i:{_STREET_PREFIX})")
# Endings (glued or separate) that close one (German, Dutch, Scandinavian, Czech, Hungarian, Finnish).
_STREET_SUFFIX = (r"straße|strasse|str\.|gasse|weg|platz|allee|damm|ufer|steig|laan|straat|plein|gracht|kade|"
                  r"dreef|singel|gatan|vägen|väg|gränd|stigen|torget|gade|vej|stræde|allé|veien|gata|katu|"
                  r"utca|ulice|třída|náměstí|nábřeží")
_W = r"[^\W\d_][\w'’.\-]*"
_STREET_BEFORE = re.compile(
    rf"(?i:(?<!\w)\d{{1,5}}[a-z]?,?[ \t]+)?(?<!\w)(?i:{_STREET_PREFIX})[ \t]+(?:{_W}[ \t]+){{0,4}}{_W}"
    rf"(?:,?[ \t]+\d{{1,5}}(?:[a-zA-Z]|/\d+)?\b)?")
_STREET_AFTER = re.compile(rf"(?<![\w\-])(?:{_W}[ \t-])?[\w'’\-]*(?i:{_STREET_SUFFIX})(?!\w)\.?,?[ \t]+\d{{1,5}}"
                           rf"(?:[a-zA-Z]\b|/\d+|\b)")
_POSTAL_CITY = re.compile(
    rf"(?:(?<=^)|(?<=\n)|(?<=,)|(?<=, ))[ \t]*(?:[A-Z]{{1,2}}-)?(?P<code>\d{{5}}-\d{{3}}|\d{{2}}-\d{{3}}|\d{{3}} \d{{2}}|"
    rf"\d{{4}} ?[A-Za-z]{{2}}|\d{{4,5}})(?!\w)[, ]+{_W}(?:[ \-]{_W}){{0,3}}", re.M)
_POSTCODE = re.compile(r"(?<!\w)(?:[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d)(?!\w)")
_CITY_PIN = re.compile(r"(?<=, )[A-Z][a-z]+(?: [A-Z][a-z]+)?[- ]\d{6}(?!\d)")  # Indian "Bhiwani 703096"
_AU_STATE = re.compile(r"(?<!\w)(?:NSW|VIC|QLD|WA|SA|TAS|ACT|NT),? \d{4}(?!\w)")


class IntlAddressRecognizer(LocalRecognizer):
    """LOCATION: street lines by each language's street words, postal code + town, UK/Canadian postcodes."""

    CONTEXT = ["address", "adresse", "adres", "indirizzo", "dirección", "endereço", "lives", "street"]

    def __init__(self) -> None:
        super().__init__(supported_entities=["LOCATION"], supported_language=LANGUAGE,
                         name="IntlAddressRecognizer", context=self.CONTEXT)

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts = None) -> list[RecognizerResult]:
        if not any(c.isdigit() for c in text):
            return []
        out = []
        for pattern, score in ((_STREET_BEFORE, 0.7), (_STREET_AFTER, 0.7), (_POSTCODE, 0.6), (_AU_STATE, 0.6),
                               (_CITY_PIN, 0.6)):
            for m in pattern.finditer(text):
                if pattern is _STREET_BEFORE and not re.search(r"\d", m.group()):
                    continue  # a street word with no house number: "place", "via" in prose
                out.append(_result(self, "LOCATION", m.start(), m.end(), score))
        for m in _POSTAL_CITY.finditer(text):
            code = m.group("code")
            town = m.group()[m.end("code") - m.start():].lstrip(", ")
            if re.fullmatch(r"(?:19|20)\d\d", code) and (not town[:1].isupper() or "," in m.group()[len(code):]):
                continue  # "born May 3, 1957, residing at": a year, not a postal code
            line = text[text.rfind("\n", 0, m.start()) + 1:m.end()]
            if not town[:1].isupper() and any(c.isupper() for c in line):
                continue  # a lower-case word after a number in capitalised text is prose, not a town
            start = m.start() + len(m.group()) - len(m.group().lstrip(" \t"))
            out.append(_result(self, "LOCATION", start, m.end(), 0.6))
        return out


# --------------------------------------------------------------------------------------------
# Names


def _key(token: str) -> str:
    import unicodedata

    ascii_form = unicodedata.normalize("NFKD", token).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Z]", "", ascii_form.upper())


def _latin(name: str) -> bool:
    letters = [c for c in name if c.isalpha()]
    return bool(letters) and len(_key(name)) >= 0.8 * len(letters)


def _locales() -> list[str]:
    from faker.config import AVAILABLE_LOCALES

    return [loc for loc in AVAILABLE_LOCALES if "_" in loc and loc not in HELD_OUT_NAME_LOCALES]


def _strings(provider: type, attr: str) -> list[str]:
    """A provider's name list (tuple, list or weighted dict); anything else (a property) is skipped."""
    value = getattr(provider, attr, ())
    return [n for n in value if isinstance(n, str)] if isinstance(value, (tuple, list, dict)) else []


@lru_cache(maxsize=1)
def faker_names() -> tuple[frozenset[str], frozenset[str], dict[str, object]]:
    """(first names, surnames, provenance) from Faker's person providers, Latin-script locales only."""
    import faker

    first: set[str] = set()
    last: set[str] = set()
    used = []
    for loc in _locales():
        try:
            provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        except ImportError:
            continue
        names_f: list[str] = []
        for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
            names_f += _strings(provider, attr)
        names_l: list[str] = []
        for attr in ("last_names", "last_names_male", "last_names_female"):
            names_l += _strings(provider, attr)
        kept_f = [n for n in names_f if isinstance(n, str) and _latin(n)]
        kept_l = [n for n in names_l if isinstance(n, str) and _latin(n)]
        if len(kept_f) + len(kept_l) < 0.8 * (len(names_f) + len(names_l)) or not kept_l:
            continue  # a non-Latin-script locale (its romanized names would be sparse and noisy)
        used.append(loc)
        for names, target in ((kept_f, first), (kept_l, last)):
            for name in names:
                for part in re.split(r"[\s\-]+", name):  # "van der Veen", "Heere-Smith": the capitalised parts
                    if part[:1].isupper() and len(_key(part)) >= 2:
                        target.add(_key(part))
    provenance = {"package": f"faker=={faker.VERSION}", "locales": len(used),
                  "held_out_locales": sorted(HELD_OUT_NAME_LOCALES), "first_names": len(first), "last_names": len(last)}
    return frozenset(first), frozenset(last), provenance


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Common English words (spaCy stop words, Faker's English word list), upper case."""
    from faker.providers.lorem.en_US import Provider as Lorem
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(w.upper() for w in (*STOP_WORDS, *Lorem.word_list))


def _provider_words(kind: str, attrs: tuple[str, ...], locales: Iterable[str]) -> set[str]:
    words: set[str] = set()
    for loc in locales:
        try:
            provider = importlib.import_module(f"faker.providers.{kind}.{loc}").Provider
        except ImportError:
            continue
        for attr in attrs:
            for value in _strings(provider, attr):
                words.update(_key(w) for w in value.split() if _latin(w))
    return {w for w in words if len(w) >= 2}


@lru_cache(maxsize=1)
def organization_words() -> frozenset[str]:
    """Company legal forms and prefixes ("GmbH", "Ltda", "Stichting", "Grupo") of Faker's company providers."""
    from faker.config import AVAILABLE_LOCALES

    return frozenset(_provider_words("company", ("company_suffixes", "company_prefixes"), AVAILABLE_LOCALES))


@lru_cache(maxsize=1)
def job_words() -> frozenset[str]:
    """The words that end English job titles ("Officer", "Engineer", "Manager"), from Faker's job provider."""
    from faker.providers.job.en_US import Provider as Jobs

    return frozenset(_key(j.split(",")[0].split()[-1]) for j in Jobs.jobs if j.split(",")[0].split()) - {""}


_LOWER_PAIR = re.compile(r"(?<![\w@.’'])([a-zß-öø-ÿ][a-zß-öø-ÿ’'\-]+) ([a-zß-öø-ÿ][a-zß-öø-ÿ’'\-]+)(?![\w@’'])")


class LowercaseNameRecognizer(LocalRecognizer):
    """PERSON written in lower case ("maria garcia"): a known first name then a known surname, neither
    an English word."""

    CONTEXT = ["name", "i'm", "im", "it's", "this", "ask", "says", "from"]

    def __init__(self, first_names: Iterable[str], last_names: Iterable[str], common: Iterable[str]) -> None:
        self.first, self.last = frozenset(first_names), frozenset(last_names)
        self.words = english_words() | {w.upper() for w in common}
        super().__init__(supported_entities=["PERSON"], supported_language=LANGUAGE,
                         name="LowercaseNameRecognizer", context=self.CONTEXT)

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts = None) -> list[RecognizerResult]:
        out = []
        pos = 0
        while True:
            m = _LOWER_PAIR.search(text, pos)
            if not m:
                break
            a, b = m.group(1), m.group(2)
            ka, kb = _key(a), _key(b)
            if (ka in self.first and kb in self.last and len(ka) >= 3 and len(kb) >= 3
                    and a.upper() not in self.words and b.upper() not in self.words):
                out.append(_result(self, "PERSON", m.start(), m.end(), 0.6))
                pos = m.end()
            else:
                pos = m.start(2)  # slide by one word
        return out
