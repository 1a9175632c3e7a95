"""Language metadata: code -> English name, ISO 639-3 code, script, family.

Covers the 40 XTREME languages plus the five extra Tatoeba languages of the sample (az lt pl ro uk).

* ``name`` is the English name the ``google/xtreme`` hub uses in its ``udpos.{name}`` configs (the hub config
  is ``udpos.Afrikaans``; only the README's old tag list spells it "Afrikans") and, lower-cased, as the
  language prefix of TyDiQA question ids (``english-123-1``).
* ``iso3`` is the ISO 639-3 code that LASER's Tatoeba files and the hub's ``tatoeba.{iso3}`` configs use:
  the individual language where LASER picks one (``pes`` Persian, ``swh`` Swahili, ``cmn`` Mandarin), which
  differs from a macrolanguage code (``fas``, ``swa``, ``zho``) -- PROTOCOL pitfall 9.
* ``script`` is the ISO 15924 code; ``family`` / ``genus`` follow the XTREME paper's language table.
"""

from __future__ import annotations

from dataclasses import dataclass

from xstilts.errors import UnknownNameError


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    name: str
    iso3: str
    script: str
    family: str
    genus: str


_TABLE = (
    Language("af", "Afrikaans", "afr", "Latn", "Indo-European", "Germanic"),
    Language("ar", "Arabic", "ara", "Arab", "Afro-Asiatic", "Semitic"),
    Language("az", "Azerbaijani", "aze", "Latn", "Turkic", "Oghuz"),
    Language("bg", "Bulgarian", "bul", "Cyrl", "Indo-European", "Slavic"),
    Language("bn", "Bengali", "ben", "Beng", "Indo-European", "Indo-Aryan"),
    Language("de", "German", "deu", "Latn", "Indo-European", "Germanic"),
    Language("el", "Greek", "ell", "Grek", "Indo-European", "Greek"),
    Language("en", "English", "eng", "Latn", "Indo-European", "Germanic"),
    Language("es", "Spanish", "spa", "Latn", "Indo-European", "Romance"),
    Language("et", "Estonian", "est", "Latn", "Uralic", "Finnic"),
    Language("eu", "Basque", "eus", "Latn", "Basque", "Basque"),
    Language("fa", "Persian", "pes", "Arab", "Indo-European", "Iranian"),
    Language("fi", "Finnish", "fin", "Latn", "Uralic", "Finnic"),
    Language("fr", "French", "fra", "Latn", "Indo-European", "Romance"),
    Language("he", "Hebrew", "heb", "Hebr", "Afro-Asiatic", "Semitic"),
    Language("hi", "Hindi", "hin", "Deva", "Indo-European", "Indo-Aryan"),
    Language("hu", "Hungarian", "hun", "Latn", "Uralic", "Ugric"),
    Language("id", "Indonesian", "ind", "Latn", "Austronesian", "Malayo-Polynesian"),
    Language("it", "Italian", "ita", "Latn", "Indo-European", "Romance"),
    Language("ja", "Japanese", "jpn", "Jpan", "Japonic", "Japanese"),
    Language("jv", "Javanese", "jav", "Latn", "Austronesian", "Malayo-Polynesian"),
    Language("ka", "Georgian", "kat", "Geor", "Kartvelian", "Karto-Zan"),
    Language("kk", "Kazakh", "kaz", "Cyrl", "Turkic", "Kipchak"),
    Language("ko", "Korean", "kor", "Hang", "Koreanic", "Korean"),
    Language("lt", "Lithuanian", "lit", "Latn", "Indo-European", "Baltic"),
    Language("ml", "Malayalam", "mal", "Mlym", "Dravidian", "South Dravidian"),
    Language("mr", "Marathi", "mar", "Deva", "Indo-European", "Indo-Aryan"),
    Language("ms", "Malay", "zsm", "Latn", "Austronesian", "Malayo-Polynesian"),
    Language("my", "Burmese", "mya", "Mymr", "Sino-Tibetan", "Lolo-Burmese"),
    Language("nl", "Dutch", "nld", "Latn", "Indo-European", "Germanic"),
    Language("pl", "Polish", "pol", "Latn", "Indo-European", "Slavic"),
    Language("pt", "Portuguese", "por", "Latn", "Indo-European", "Romance"),
    Language("ro", "Romanian", "ron", "Latn", "Indo-European", "Romance"),
    Language("ru", "Russian", "rus", "Cyrl", "Indo-European", "Slavic"),
    Language("sw", "Swahili", "swh", "Latn", "Niger-Congo", "Bantu"),
    Language("ta", "Tamil", "tam", "Taml", "Dravidian", "South Dravidian"),
    Language("te", "Telugu", "tel", "Telu", "Dravidian", "South-Central Dravidian"),
    Language("th", "Thai", "tha", "Thai", "Kra-Dai", "Tai"),
    Language("tl", "Tagalog", "tgl", "Latn", "Austronesian", "Malayo-Polynesian"),
    Language("tr", "Turkish", "tur", "Latn", "Turkic", "Oghuz"),
    Language("uk", "Ukrainian", "ukr", "Cyrl", "Indo-European", "Slavic"),
    Language("ur", "Urdu", "urd", "Arab", "Indo-European", "Indo-Aryan"),
    Language("vi", "Vietnamese", "vie", "Latn", "Austro-Asiatic", "Vietic"),
    Language("yo", "Yoruba", "yor", "Latn", "Niger-Congo", "Volta-Niger"),
    Language("zh", "Chinese", "cmn", "Hans", "Sino-Tibetan", "Sinitic"),
)

LANGUAGES: dict[str, Language] = {lang.code: lang for lang in _TABLE}
_BY_ISO3: dict[str, Language] = {lang.iso3: lang for lang in _TABLE}


def get_language(code: str) -> Language:
    if code not in LANGUAGES:
        raise UnknownNameError("language", code, list(LANGUAGES))
    return LANGUAGES[code]


def from_iso3(iso3: str) -> Language:
    """The language of a LASER / hub Tatoeba code (``pes`` -> fa)."""
    if iso3 not in _BY_ISO3:
        raise UnknownNameError("ISO 639-3 code", iso3, list(_BY_ISO3))
    return _BY_ISO3[iso3]


def template_values(code: str) -> dict[str, str]:
    """Values for the ``{lang}``, ``{lang_name}``, ``{lang_iso3}`` placeholders of task-spec templates."""
    lang = get_language(code)
    return {"lang": lang.code, "lang_name": lang.name, "lang_iso3": lang.iso3}
