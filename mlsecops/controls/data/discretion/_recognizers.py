"""The Presidio analyzer the PII control uses: recognizers chosen by locale, offline, no model download.

    analyzer = build_analyzer(policy.pii)        # AnalyzerEngine, cached per config digest
    analyzer.analyze("Call Maria Garcia at 212-555-0199", language="en")

Each recognizer is a small class (Presidio's shape): names and places from census/GeoNames lists,
US street addresses, NANP phone numbers, international phones/addresses and lower-case names
(`_international`), dates of birth (dates that have birth context), and an email
recognizer whose domain check never fetches the public suffix list.
"""

from __future__ import annotations

import bisect
import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from presidio_analyzer import (AnalysisExplanation, AnalyzerEngine, EntityRecognizer, LocalRecognizer, Pattern,
                               PatternRecognizer, RecognizerRegistry, RecognizerResult)
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, EmailRecognizer, PhoneRecognizer, SpacyRecognizer

from mlsecops.controls.data.discretion._gazetteer import COMMON_WORDS, Gazetteer, load_gazetteer
from mlsecops.controls.data.discretion._international import (STREET_PREFIX_WORD, IntlAddressRecognizer,
                                                              IntlPhoneRecognizer, LowercaseNameRecognizer,
                                                              job_words, organization_words)
from mlsecops.core.errors import PiiError

LANGUAGE = "en"
# Presidio tags the United Kingdom's recognizers "uk", not the ISO code "gb".
_PRESIDIO_COUNTRY = {"GB": "uk"}

# --------------------------------------------------------------------------------------------
# NLP engines


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """spaCy's rule-based English tokenizer only: no model, no NER, nothing downloaded.

    Lemmas are the lower-cased tokens so Presidio's context words ("phone", "ssn", "dob") still work
    (a blank pipeline has no lemmatizer and would silently disable context enhancement).
    """

    def __init__(self) -> None:
        super().__init__(models=[{"lang_code": LANGUAGE, "model_name": "blank"}])

    def load(self) -> None:
        import spacy

        self.nlp = {LANGUAGE: spacy.blank(LANGUAGE)}

    def _doc_to_nlp_artifact(self, doc, language: str) -> NlpArtifacts:  # noqa: ANN001
        return NlpArtifacts(entities=[], tokens=doc, tokens_indices=[t.idx for t in doc],
                            lemmas=[t.lower_ for t in doc], nlp_engine=self, language=language,
                            scores=[])


def installed_spacy_engine(model: str) -> SpacyNlpEngine:
    """A spaCy engine for a model that is already installed; never downloads one."""
    import spacy

    if not (spacy.util.is_package(model) or Path(model).exists()):
        raise PiiError(f"pii.nlp_engine is 'spacy' but the spaCy model '{model}' is not installed; "
                       f"install it from a source you trust, or set pii.nlp_engine: builtin")
    engine = SpacyNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": model}])
    engine.load()
    return engine


class FastContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's context enhancer with an O(log n) token lookup instead of a scan per finding."""

    @staticmethod
    def _find_index_of_match_token(word, start, tokens, tokens_indices):  # noqa: ANN001, ANN205
        i = bisect.bisect_right(tokens_indices, start) - 1
        if i < 0:
            return 0
        if start < tokens_indices[i] + len(tokens[i]) or i + 1 >= len(tokens_indices):
            return i
        return i + 1


# --------------------------------------------------------------------------------------------
# Pattern recognizers


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer; the domain check uses tldextract's bundled suffix list only."""

    def __init__(self) -> None:
        import tldextract

        super().__init__()
        # suffix_list_urls=() disables every HTTP request; cache_dir=None writes nothing to disk.
        self._tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

    def validate_result(self, pattern_text: str) -> bool:
        return self._tld(pattern_text).fqdn != ""


class AnyCardRecognizer(CreditCardRecognizer):
    """Presidio's card recognizer (Luhn check) widened to 12-19 digit cards: Mastercard 2-series,
    Maestro (incl. 0604), legacy 15-digit JCB (1800), 19-digit Visa, UnionPay."""

    PATTERNS = [Pattern("All card lengths", r"(?<![\w.,-])(?:[2-6]\d{3}|1800|0604)(?:[ -]?\d){8,15}(?![\w-]|[.,]\d)", 0.3)]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS, supported_language=LANGUAGE)


class NanpPhoneRecognizer(PatternRecognizer):
    """North American numbers in the formats people write, valid area code or not."""

    PATTERNS = [
        Pattern("NANP", r"(?<![\w+-])(?:(?:\+|00)?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}"
                        r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?(?![\w-])", 0.6),
        Pattern("NANP plain", r"(?<![\w+-])\+1\d{10}(?!\w)", 0.6),
    ]
    CONTEXT = ["phone", "telephone", "tel", "cell", "mobile", "call", "contact", "fax", "number"]

    def __init__(self) -> None:
        super().__init__(supported_entity="PHONE_NUMBER", patterns=self.PATTERNS, context=self.CONTEXT,
                         supported_language=LANGUAGE, name="NanpPhoneRecognizer")


_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
           r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")


class DateOfBirthRecognizer(PatternRecognizer):
    """A date is a date of birth when birth context surrounds it (or the column is named so)."""

    PATTERNS = [
        Pattern("ISO date", r"\b(?:19|20)\d{2}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])\b", 0.3),
        Pattern("US date", r"\b(?:0?[1-9]|1[0-2])[/.-](?:0?[1-9]|[12]\d|3[01])[/.-](?:19|20)?\d{2}\b", 0.3),
        Pattern("day-first date", r"\b(?:0?[1-9]|[12]\d|3[01])[/.](?:0?[1-9]|1[0-2])[/.](?:19|20)\d{2}\b", 0.3),
        Pattern("month name date", rf"\b{_MONTHS}\s+(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}\b", 0.3),
        Pattern("day month year", rf"\b(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?\s+{_MONTHS}\s+(?:19|20)\d{{2}}\b", 0.3),
    ]
    CONTEXT = ["birth", "born", "dob", "birthday", "birthdate", "d.o.b"]

    def __init__(self) -> None:
        super().__init__(supported_entity="DATE_OF_BIRTH", patterns=self.PATTERNS, context=self.CONTEXT,
                         supported_language=LANGUAGE, name="DateOfBirthRecognizer")


# --------------------------------------------------------------------------------------------
# Gazetteer recognizers

_UP, _LO = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
_TOKEN = re.compile(rf"(?<![\w’'])(?:(?:[{_UP}][’'])?[{_UP}](?:[{_LO}]+|[{_LO}]*[{_UP}][{_LO}]+)(?:-[{_UP}][{_LO}]+)?"
                    rf"|[{_UP}]{{2,}}(?:-[{_UP}]{{2,}})?)(?![\w’'])")
# Name suffixes and credentials that follow a name ("Lauren Webb MD", "Kenneth Hunt Jr").
_SUFFIXES = frozenset("MD DO DDS DMD DVM PHD RN NP PA JR SR II III IV V ESQ CPA MBA".split())
_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sr|Sra|Rev)\.?\s+$")
_TITLE_WORDS = frozenset("MR MRS MS MX MISS DR PROF REV".split())
_INITIAL = re.compile(r"\s+[A-Z]\.?\s+")
_LAST_FIRST = re.compile(r"\b([A-Z][a-zA-Z’'-]+),\s+([A-Z][a-z]+)\b")


def _key(token: str) -> str:
    """Census spelling: upper case, accents and punctuation removed ("O'Brien" -> "OBRIEN")."""
    ascii_form = unicodedata.normalize("NFKD", token).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Z]", "", ascii_form.upper())


# Surname particles between capitalised name tokens ("Jan van der Veen", "Maria da Silva").
_PARTICLES = re.compile(r" (?:van|von|de|der|den|del|della|di|da|dos|das|du|le|la|ter|ten|zu)"
                        r"(?: (?:der|den|la|los|las|de))? ")


def _groups(text: str, particles: bool = False) -> Iterable[list[re.Match]]:
    """Runs of capitalised tokens separated by single spaces or a middle initial (or, for names, a particle)."""
    group: list[re.Match] = []
    for match in _TOKEN.finditer(text):
        if group:
            gap = text[group[-1].end():match.start()]
            if gap == " " or _INITIAL.fullmatch(gap) or (particles and _PARTICLES.fullmatch(gap)):
                group.append(match)
                continue
            yield group
        group = [match]
    if group:
        yield group


class NameRecognizer(LocalRecognizer):
    """PERSON from census first-name and surname lists plus titles, word shape and context."""

    CONTEXT = ["patient", "name", "mr", "mrs", "ms", "dr", "contact", "wife", "husband", "son",
               "daughter", "mother", "father", "sister", "brother", "spouse", "signed", "named",
               "called", "caregiver", "guardian", "relative"]

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gaz = gazetteer
        self.common = {w.upper() for w in COMMON_WORDS}
        super().__init__(supported_entities=["PERSON"], supported_language=LANGUAGE,
                         name="CensusNameRecognizer", context=self.CONTEXT)

    def load(self) -> None:
        pass

    def _is_first(self, token: str) -> bool:
        return _key(token) in self.gaz.first_names

    def _is_last(self, token: str) -> bool:
        parts = token.split("-")
        return _key(token) in self.gaz.last_names or all(_key(p) in self.gaz.last_names for p in parts)

    def _is_common(self, token: str) -> bool:
        return _key(token) in self.common

    def _score(self, tokens: list[str], titled: bool) -> float:
        if titled:
            return 0.85
        if len(tokens) == 1:
            token = tokens[0]
            known = self._is_first(token) or self._is_last(token)
            return 0.3 if known and not self._is_common(token) and _key(token) not in self.gaz.places else 0.0
        first, last = tokens[0], tokens[-1]
        f_in, l_in = self._is_first(first), self._is_last(last)
        f_word, l_word = self._is_common(first), self._is_common(last)
        if f_in and l_in and not (f_word and l_word):
            return 0.85
        placelike = _key(first) in _PLACE_PREFIXES or bool(_TOPONYM_SUFFIX.search(last))
        if f_in and not f_word and not l_word and not placelike:
            return 0.7
        if l_in and not l_word and not f_word and self._is_first(tokens[1] if len(tokens) > 2 else first):
            return 0.7
        if l_in and not l_word and not f_word:
            return 0.5
        if f_in and l_in:
            return 0.35
        return 0.0

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts = None) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for group in _groups(text, particles=True):
            while len(group) > 1 and _key(group[-1].group()) in _SUFFIXES:
                group = group[:-1]
            tokens = [m.group() for m in group]
            upper = [t.isupper() and len(t) > 1 for t in tokens]
            if any(upper) and not all(upper):
                continue  # "MRN Smith": an acronym next to a word is not a name
            titled = bool(_TITLE.search(text[max(0, group[0].start() - 8):group[0].start()]))
            # strip leading/trailing common words ("Patient Maria Garcia", "Garcia Clinic"), not after a title
            start, end = 0, len(tokens)
            if len(tokens) > 1 and _key(tokens[0]) in _TITLE_WORDS:
                titled, start = True, 1
            while not titled and start < end and self._is_common(tokens[start]) and not (
                    self._is_first(tokens[start]) and start + 1 < end and self._is_last(tokens[start + 1])
                    and not self._is_common(tokens[start + 1])):
                start += 1
            while end > start + titled and self._is_common(tokens[end - 1]) and not (
                    self._is_last(tokens[end - 1]) and end - 2 >= start and self._is_first(tokens[end - 2])
                    and not self._is_common(tokens[end - 2])):  # "Lisa Young" keeps its surname
                end -= 1
            if start >= end or end - start > 4:
                continue
            span = group[start:end]
            if all(upper) and not titled:
                keys = tokens[start:end]
                if len(keys) < 2 or not (self._is_first(keys[0]) and self._is_last(keys[-1])):
                    continue
            if not titled and end - start > 1 and " ".join(tokens[start:end]).upper() in self.gaz.places:
                continue  # "San Antonio", "Santa Clara": a known place, not a person
            if not titled and end - start > 1 and (_key(tokens[end - 1]) in job_words()
                                                   or _key(tokens[start]) in _PLACE_PREFIXES):
                continue  # "Research Officer", "Data Engineer": a job title; "Lake Ashley", "North Scott": a town
            if not titled and _organization(text, span[-1].end(), tokens[start:end]):
                continue  # "Coyne Group", "Grupo Codina", "Lecoq Peltier SARL": a firm named after people
            if not titled and _street_name(text, span[0].start(), tokens[start:end]):
                continue  # "12 Leonard Plaza", "Calle Soledad Garriga": a street named after a person
            score = self._score(tokens[start:end], titled)
            if score > 0:
                results.append(self._result(span[0].start(), span[-1].end(), score))
        for match in _LAST_FIRST.finditer(text):
            last, first = match.group(1), match.group(2)
            if (self._is_last(last) and self._is_first(first) and not self._is_common(last)
                    and not self._is_common(first) and _key(first) not in self.gaz.places):
                results.append(self._result(match.start(), match.end(), 0.7))
        return results

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return _result(self, "PERSON", start, end, score)


# USPS Publication 28, appendix C1: the common street suffixes, full and abbreviated.
_STREET_SUFFIXES = """
Alley Aly Annex Anx Arcade Arc Avenue Ave Av Bayou Byu Beach Bch Bend Bnd Bluff Blf Bluffs Blfs Bottom Btm
Boulevard Blvd Branch Br Bridge Brg Brook Brk Brooks Brks Burg Bg Burgs Bgs Bypass Byp Camp Cp Canyon Cyn
Cape Cpe Causeway Cswy Center Ctr Centers Ctrs Circle Cir Circles Cirs Cliff Clf Cliffs Clfs Club Clb
Common Cmn Commons Cmns Corner Cor Corners Cors Course Crse Court Ct Courts Cts Cove Cv Coves Cvs Creek Crk
Crescent Cres Crest Crst Crossing Xing Crossroad Xrd Crossroads Xrds Curve Curv Dale Dl Dam Dm Divide Dv
Drive Dr Drives Drs Estate Est Estates Ests Expressway Expy Extension Ext Extensions Exts Fall Falls Fls
Ferry Fry Field Fld Fields Flds Flat Flt Flats Flts Ford Frd Fords Frds Forest Frst Forge Frg Forges Frgs
Fork Frk Forks Frks Fort Ft Freeway Fwy Garden Gdn Gardens Gdns Gateway Gtwy Glen Gln Glens Glns Green Grn
Greens Grns Grove Grv Groves Grvs Harbor Hbr Harbors Hbrs Haven Hvn Heights Hts Highway Hwy Hill Hl Hills Hls
Hollow Holw Inlet Inlt Island Is Islands Iss Isle Junction Jct Junctions Jcts Key Ky Keys Kys Knoll Knl
Knolls Knls Lake Lk Lakes Lks Land Landing Lndg Lane Ln Light Lgt Lights Lgts Loaf Lf Lock Lck Locks Lcks
Lodge Ldg Loop Mall Manor Mnr Manors Mnrs Meadow Mdw Meadows Mdws Mews Mill Ml Mills Mls Mission Msn
Motorway Mtwy Mount Mt Mountain Mtn Mountains Mtns Neck Nck Orchard Orch Oval Overpass Opas Park Parks
Parkway Pkwy Parkways Pass Passage Psge Path Pike Pine Pne Pines Pnes Place Pl Plain Pln Plains Plns Plaza
Plz Point Pt Points Pts Port Prt Ports Prts Prairie Pr Radial Radl Ramp Ranch Rnch Rapid Rpd Rapids Rpds
Rest Rst Ridge Rdg Ridges Rdgs River Riv Road Rd Roads Rds Route Rte Row Rue Run Shoal Shl Shoals Shls
Shore Shr Shores Shrs Skyway Skwy Spring Spg Springs Spgs Spur Spurs Square Sq Squares Sqs Station Sta
Stravenue Stra Stream Strm Street St Streets Sts Summit Smt Terrace Ter Throughway Trwy Trace Trce Track
Trak Trafficway Trfy Trail Trl Trailer Trlr Tunnel Tunl Turnpike Tpke Underpass Upas Union Un Unions Uns
Valley Vly Valleys Vlys Viaduct Via Vw View Views Vws Village Vlg Villages Vlgs Ville Vl Vista Vis Walk
Walks Wall Way Ways Well Wl Wells Wls
""".split()
_SUFFIX = "|".join(sorted(set(_STREET_SUFFIXES), key=len, reverse=True))
_STREET_KEYS = frozenset(w.upper() for w in _STREET_SUFFIXES)
_NEVER_SURNAMES = frozenset("STREET AVENUE AVE ROAD RD BOULEVARD BLVD PLAZA CANYON VILLE TERRACE DRIVE "
                             "NAGAR CHOWK MARG GANJ ZILA".split())
_NUMBER_BEFORE = re.compile(r"(?:^|\s)\d+[A-Za-z]?(?:/\d+)?,?\s+$")


# Words that make capitalised names a company (English and the legal forms of other countries).
_COMPANY_WORDS = frozenset(_key(w) for w in """Group Grupo Groep Gruppe Inc Incorporated Ltd Limited LLC LLP PLC Corp
Corporation Company Co Holdings Holding Partners Associates Sons Brothers Bros Industries Enterprises Solutions
Services Systems Consulting GmbH AG KG OHG SE SA SAS SARL SL SLU SpA Srl Snc BV NV VOF Ltda EIRELI ME AB ASA ApS
Oy Oyj sp zoo Zonen Söhne Figli Hijos Filhos Irmãos Cia Cie Banco Despacho Hermanos""".split()) | organization_words()


def _organization(text: str, end: int, tokens: list[str]) -> bool:
    """Whether a company word opens or closes the tokens, or follows them ("Coyne & Sons", "Rossi S.p.A.")."""
    if _key(tokens[0]) in _COMPANY_WORDS or (len(tokens) > 1 and _key(tokens[-1]) in _COMPANY_WORDS):
        return True
    after = re.match(r"[\s,&+]*(?:e |y |und |en |and )?([\w.]+)", text[end:end + 24])
    return bool(after and _key(after.group(1)) in _COMPANY_WORDS)


def _street_name(text: str, start: int, tokens: list[str]) -> bool:
    """Whether capitalised tokens that look like a name are a street: a street word ends them after a
    house number (or is never a surname), or a street word of another language opens them."""
    last = tokens[-1].upper()
    if len(tokens) > 1 and (last in _NEVER_SURNAMES or (last in _STREET_KEYS and
                                                         _NUMBER_BEFORE.search(text[max(0, start - 12):start]))):
        return True
    return bool(STREET_PREFIX_WORD.fullmatch(tokens[0]) or re.fullmatch(r"Cañada|Colonia|Barrio", tokens[0]))
_WORD = r"[A-Z][A-Za-z'’.-]*"
_UNIT = r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Bldg|Floor|Fl|Room|Rm|#)\.?\s*#?\s*[A-Za-z0-9-]+)?"
_CITY_STATE_ZIP = r"[A-Z][A-Za-z'’.-]*(?:\s[A-Z][A-Za-z'’.-]*){0,3},?\s+(?P<state>[A-Z]{2})\s+\d{5}(?:-\d{4})?"
_STREET = re.compile(
    rf"\b\d{{1,6}}[A-Z]?\s+(?:[NSEW]{{1,2}}\.?\s+)?(?:{_WORD}\s+){{1,4}}(?:{_SUFFIX})\b\.?{_UNIT}"
    rf"(?:,?\s*\n?\s*{_CITY_STATE_ZIP}|,\s*[A-Z][A-Za-z'’.-]*(?:\s[A-Z][A-Za-z'’.-]*){{0,2}}(?=\s*(?:[.;,)\n]|$)))?")
_CITY_STATE = re.compile(rf"\b{_CITY_STATE_ZIP}\b")
_MILITARY = re.compile(r"\b(?:(?:USNS|USNV|USS|USCGC)\s+[A-Z][a-z]+|(?:PSC|Unit|CMR)\s+\d{1,5},?\s+Box\s+\d{1,5})"
                       r",?\s*\n?\s*[ADF]PO\s+A[AEP]\s+\d{5}\b")
_PLACE_PREPOSITION = re.compile(r"\b(?:in|from|to|near|at|visiting|lives|moved|resides|born)\s+$", re.I)
_AFTER_PLACE = re.compile(rf"[{_UP}][{_LO}]+,\s+$")           # "Springfield, Illinois"
# English place-name elements (toponymy), for towns not in GeoNames' list of larger cities.
_TOPONYM_SUFFIX = re.compile(r"(?:ville|ton|town|burg|burgh|borough|bury|mouth|port|haven|field|ford|land|side"
                             r"|view|stad|chester|caster|cester|wick|ham|by|furt|heim|hausen|dorf|berg|shire|mont)$")
_PLACE_PREFIXES = frozenset("NORTH SOUTH EAST WEST NEW LAKE PORT FORT MOUNT SAINT ST SAN SANTA LOS LAS EL LA".split())


class PlaceRecognizer(LocalRecognizer):
    """LOCATION: US street and military addresses by pattern; cities, states, countries from GeoNames."""

    CONTEXT = ["address", "lives", "resides", "moved", "city", "town", "located", "street", "home"]

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gaz = gazetteer
        self.common = {w.upper() for w in COMMON_WORDS}
        super().__init__(supported_entities=["LOCATION"], supported_language=LANGUAGE,
                         name="GeoNamesPlaceRecognizer", context=self.CONTEXT)

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts = None) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        taken: list[tuple[int, int]] = []

        def add(start: int, end: int, score: float) -> None:
            taken.append((start, end))
            results.append(_result(self, "LOCATION", start, end, score))

        if any(c.isdigit() for c in text):
            for pattern in (_STREET, _MILITARY):
                for match in pattern.finditer(text):
                    add(match.start(), match.end(), 0.85)
            for match in _CITY_STATE.finditer(text):
                if match.group("state") in self.gaz.state_codes and not _inside(match.start(), match.end(), taken):
                    add(match.start(), match.end(), 0.85)
        for group in _groups(text):
            tokens = [m.group() for m in group]
            # longest gazetteer match first, left to right, up to four tokens
            i = 0
            while i < len(tokens):
                for j in range(min(len(tokens), i + 4), i, -1):
                    name = " ".join(tokens[i:j]).upper()
                    if name not in self.gaz.places:
                        continue
                    start, end = group[i].start(), group[j - 1].end()
                    if _inside(start, end, taken):
                        break
                    before = text[max(0, start - 14):start]
                    cue = bool(_PLACE_PREPOSITION.search(before) or _AFTER_PLACE.search(before))
                    if j - i > 1:
                        score = 0.7
                    elif name in self.common:
                        score = 0.0
                    elif name in self.gaz.ambiguous_places:
                        score = 0.55 if cue else 0.0
                    elif name in self.gaz.regions:
                        score = 0.6
                    else:
                        score = 0.6 if cue else 0.45
                    if score:
                        add(start, end, score)
                    i = j - 1
                    break
                else:
                    self._toponym(text, group, i, tokens, taken, add)
                i += 1
        return results

    def _toponym(self, text: str, group: list[re.Match], i: int, tokens: list[str],
                 taken: list[tuple[int, int]], add: Callable[[int, int, float], None]) -> None:
        """Places missing from GeoNames, by English place-name shape: "Oakville", "Port Ellen"."""
        token, start = tokens[i], group[i].start()
        before = text[max(0, start - 14):start]
        if not _PLACE_PREPOSITION.search(before) or _inside(start, group[i].end(), taken):
            return
        key = _key(token)
        if (i + 1 < len(tokens) and key in _PLACE_PREFIXES and not self.common & {_key(tokens[i + 1])}):
            add(start, group[i + 1].end(), 0.55)
        elif (_TOPONYM_SUFFIX.search(token) and key not in self.gaz.first_names and key not in self.common):
            add(start, group[i].end(), 0.55)


def _result(recognizer: EntityRecognizer, entity: str, start: int, end: int, score: float) -> RecognizerResult:
    return RecognizerResult(entity, start, end, score,
                            analysis_explanation=AnalysisExplanation(recognizer.name, score),
                            recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: recognizer.name,
                                                  RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id})


def _inside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


# --------------------------------------------------------------------------------------------
# Registry and analyzer


def _country(locale: str) -> str:
    code = locale.split("_")[1]
    return _PRESIDIO_COUNTRY.get(code, code.lower())


def build_registry(*, locale: str, entities: tuple[str, ...], nlp_engine: SpacyNlpEngine,
                   gazetteers: bool) -> RecognizerRegistry:
    """Presidio's predefined recognizers for the locale's country only, with offline replacements."""
    language, country = locale.split("_")[0], _country(locale)
    if language != LANGUAGE:
        raise PiiError(f"pii.locale '{locale}': only English ('en_*') text is supported by the builtin engine")
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=nlp_engine, countries=[country])
    kept: list[EntityRecognizer] = []
    for recognizer in registry.recognizers:
        if isinstance(recognizer, EmailRecognizer):
            kept.append(OfflineEmailRecognizer())
        elif isinstance(recognizer, SpacyRecognizer) and isinstance(nlp_engine, BlankSpacyNlpEngine):
            continue  # a blank pipeline has no NER: the gazetteer recognizers replace it
        elif isinstance(recognizer, CreditCardRecognizer):
            kept.append(AnyCardRecognizer())
        elif isinstance(recognizer, PhoneRecognizer):
            kept.append(PhoneRecognizer(supported_regions=(locale.split("_")[1],), supported_language=LANGUAGE))
        else:
            kept.append(recognizer)
    if country == "us":
        kept.append(NanpPhoneRecognizer())
    kept += [IntlPhoneRecognizer(), IntlAddressRecognizer(), DateOfBirthRecognizer()]  # any region's formats
    if gazetteers:
        gaz = load_gazetteer()
        kept += [NameRecognizer(gaz), PlaceRecognizer(gaz),
                 LowercaseNameRecognizer(gaz.first_names, gaz.last_names, COMMON_WORDS)]
    wanted = set(entities)
    registry.recognizers = [r for r in kept if wanted & set(r.supported_entities)]
    found = {e for r in registry.recognizers for e in r.supported_entities}
    missing = sorted(wanted - found)
    if missing:
        raise PiiError(f"pii.entities {missing} have no recognizer for locale {locale} and engine "
                       f"{type(nlp_engine).__name__}; remove them from the policy or change pii.locale")
    return registry


@lru_cache(maxsize=4)
def build_analyzer(*, locale: str, entities: tuple[str, ...], nlp_engine: str, spacy_model: str,
                   gazetteers: bool) -> AnalyzerEngine:
    """One analyzer per configuration and process (loading the lists takes about a second)."""
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    if nlp_engine == "builtin":
        engine: SpacyNlpEngine = BlankSpacyNlpEngine()
        engine.load()
        gazetteers = True
    else:
        engine = installed_spacy_engine(spacy_model)
    registry = build_registry(locale=locale, entities=entities, nlp_engine=engine, gazetteers=gazetteers)
    return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=[LANGUAGE],
                          context_aware_enhancer=FastContextEnhancer(context_matching_mode="whole_word"))
