"""Legacy Vietnamese encodings: TCVN3 (ABC, .VnTime fonts) and VNI (VNI-Times fonts).

Offices still type with these fonts. The text is stored as bytes of the legacy code, and any
Unicode program (Excel saving CSV, openpyxl reading a cell) shows those bytes as the Windows-1252
glyphs they happen to have: "Huyện Phù Yên" typed in .VnTime reads "HuyÖn Phï Yªn", typed in
VNI-Times "Huyeän Phuø Yeân". The tables below are written from the two codes' definitions:

- TCVN3 (TCVN 5712:1993, VN3) is a single-byte code: one byte per lower-case letter, tones
  included, and one byte each for Ă Â Ê Ô Ơ Ư Đ. Upper-case letters with tones have no byte:
  .VnTimeH fonts draw the lower-case bytes as capitals, so an all-capital word comes back in
  capitals here.
- VNI writes a base letter followed by a diacritic byte (``a`` + ``ù`` = á, ``e`` + ``ä`` = ệ),
  except for a few letters with a byte of their own (ơ, ư, đ, and i and ỵ with tones).

Whether a text is legacy is decided per text by trying each reading and keeping the one that
leaves no legacy glyph and no impossible Vietnamese syllable (:func:`convert_legacy`). Text that
is already Unicode Vietnamese never changes: it has nothing to improve.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["tcvn3", "vni"]

_VOWELS = "aăâeêioôơuưy"
_TONES = ("", "\u0300", "\u0309", "\u0303", "\u0301", "\u0323")  # none, huyền, hỏi, ngã, sắc, nặng


def _toned(base: str, tone: int) -> str:
    return unicodedata.normalize("NFC", base + _TONES[tone])


# -- TCVN3 -------------------------------------------------------------------------------------
# Bytes of each lower-case vowel with tones in the order huyền, hỏi, ngã, sắc, nặng; the plain
# letters a e i o u y are ASCII.
_TCVN3_TONED = {
    "a": (0xB5, 0xB6, 0xB7, 0xB8, 0xB9),
    "ă": (0xBB, 0xBC, 0xBD, 0xBE, 0xC6),
    "â": (0xC7, 0xC8, 0xC9, 0xCA, 0xCB),
    "e": (0xCC, 0xCE, 0xCF, 0xD0, 0xD1),
    "ê": (0xD2, 0xD3, 0xD4, 0xD5, 0xD6),
    "i": (0xD7, 0xD8, 0xDC, 0xDD, 0xDE),
    "o": (0xDF, 0xE1, 0xE2, 0xE3, 0xE4),
    "ô": (0xE5, 0xE6, 0xE7, 0xE8, 0xE9),
    "ơ": (0xEA, 0xEB, 0xEC, 0xED, 0xEE),
    "u": (0xEF, 0xF1, 0xF2, 0xF3, 0xF4),
    "ư": (0xF5, 0xF6, 0xF7, 0xF8, 0xF9),
    "y": (0xFA, 0xFB, 0xFC, 0xFD, 0xFE),
}
_TCVN3_PLAIN = {
    "ă": 0xA8, "â": 0xA9, "ê": 0xAA, "ô": 0xAB, "ơ": 0xAC, "ư": 0xAD, "đ": 0xAE,
    "Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7,
}  # fmt: skip


def _tcvn3_table() -> dict[str, str]:
    """Unicode letter -> the Windows-1252 glyph of its TCVN3 byte."""
    table = {letter: bytes([b]).decode("latin-1") for letter, b in _TCVN3_PLAIN.items()}
    for base, codes in _TCVN3_TONED.items():
        for tone, b in enumerate(codes, start=1):
            table[_toned(base, tone)] = bytes([b]).decode("latin-1")
    return table


TCVN3_ENCODE = _tcvn3_table()
TCVN3_DECODE = {glyph: letter for letter, glyph in TCVN3_ENCODE.items()}

# -- VNI ---------------------------------------------------------------------------------------
# Diacritic glyphs (lower case; the upper-case letter takes the upper-case glyph).
_VNI_TONE = ("ø", "û", "õ", "ù", "ï")  # huyền, hỏi, ngã, sắc, nặng on a e o u y ơ ư
_VNI_CIRCUMFLEX = ("â", "à", "å", "ã", "á", "ä")  # â ê ô: none, huyền, hỏi, ngã, sắc, nặng
_VNI_BREVE = ("ê", "è", "ú", "ü", "é", "ë")  # ă: none, huyền, hỏi, ngã, sắc, nặng
_VNI_OWN = {"ơ": "ô", "ư": "ö", "đ": "ñ"}  # letters with a byte of their own
_VNI_I = ("ì", "æ", "ó", "í", "ò")  # ì ỉ ĩ í ị
_VNI_Y_DOT = "î"  # ỵ; the other tones of y are y + tone glyph


def _vni_table() -> dict[str, str]:
    """Unicode letter -> its VNI glyph sequence (both cases)."""
    lower: dict[str, str] = {}
    for base in "aeouy":
        for tone, mark in enumerate(_VNI_TONE, start=1):
            lower[_toned(base, tone)] = base + mark
    for letter, base in (("â", "a"), ("ê", "e"), ("ô", "o")):
        for tone, mark in enumerate(_VNI_CIRCUMFLEX):
            lower[_toned(letter, tone)] = base + mark
    for tone, mark in enumerate(_VNI_BREVE):
        lower[_toned("ă", tone)] = "a" + mark
    for letter, glyph in (("ơ", "ô"), ("ư", "ö")):
        lower[letter] = glyph
        for tone, mark in enumerate(_VNI_TONE, start=1):
            lower[_toned(letter, tone)] = glyph + mark
    lower["đ"] = "ñ"
    for tone, glyph in enumerate(_VNI_I, start=1):
        lower[_toned("i", tone)] = glyph
    lower[_toned("y", 5)] = _VNI_Y_DOT
    table = dict(lower)
    for letter, glyphs in lower.items():
        table[letter.upper()] = glyphs.upper()
    return table


VNI_ENCODE = _vni_table()
VNI_DECODE = {glyphs: letter for letter, glyphs in VNI_ENCODE.items()}
_VNI_LONGEST = re.compile("|".join(re.escape(g) for g in sorted(VNI_DECODE, key=len, reverse=True)))

# Every Vietnamese letter outside ASCII: 67 lower-case, 67 upper-case.
VIETNAMESE_LETTERS = frozenset(
    [_toned(v, t) for v in _VOWELS for t in range(6) if _toned(v, t) not in "aeiouy"]
    + ["đ"]
    + [_toned(v, t).upper() for v in _VOWELS for t in range(6) if _toned(v, t) not in "aeiouy"]
    + ["Đ"]
)
# Glyphs a legacy text shows that Vietnamese never uses: their presence is the evidence.
_LEGACY_GLYPHS = frozenset(
    ch
    for ch in set("".join(TCVN3_ENCODE.values())) | set("".join(VNI_ENCODE.values()))
    if ch not in VIETNAMESE_LETTERS and not ch.isascii()
)


# Legacy glyphs that Unicode text also uses as symbols; the soft hyphen is TCVN3's ư but also an
# invisible character of its own (removed later, see kiemnhiem.data.cells).
_SYMBOLS = frozenset("«»·©®°±×÷§¨\u00ad")


def encode_legacy(text: str, encoding: Encoding) -> str:
    """``text`` as the Windows-1252 glyphs of its legacy bytes (what a Unicode program shows).

    For tests and the corpus; TCVN3 has no capitals with tones (they are written lower-case,
    as .VnTimeH fonts expect) and raises ``ValueError`` for nothing else.
    """
    text = unicodedata.normalize("NFC", text)
    if encoding == "tcvn3":
        out = []
        for ch in text:
            if ch in TCVN3_ENCODE:
                out.append(TCVN3_ENCODE[ch])
            elif ch.lower() in TCVN3_ENCODE and ch not in _TCVN3_PLAIN:
                out.append(TCVN3_ENCODE[ch.lower()])  # .VnTimeH: the capital is the font's
            else:
                out.append(ch)
        return "".join(out)
    return "".join(VNI_ENCODE.get(ch, ch) for ch in text)


# An ơ (with any tone) before ng, c or u is impossible: the ư in front of it was a soft hyphen
# (TCVN3's byte for ư), which copying and web pages often drop ("Mêng Kh¬ng").
_LOST_U_HORN = re.compile(r"(?<![ưƯ])([ơờởỡớợ])(?=ng|c|u)|(?<![ưƯ])([ƠỜỞỠỚỢ])(?=NG|C|U)")


def _decode_tcvn3(text: str) -> str:
    out = "".join(TCVN3_DECODE.get(ch, ch) for ch in text)
    out = _LOST_U_HORN.sub(lambda m: ("ư" + m[1]) if m[1] else ("Ư" + m[2]), out)
    # .VnTimeH: a text typed in capitals comes back with its toned letters in lower case. A text
    # whose ASCII letters are all capitals (two or more) is capitals; so is such a word in a
    # mixed text ("Sè" is Số, not SỐ: one capital is a capitalized word).
    if len(re.findall(r"[A-Z]", out)) >= 2 and not re.search(r"[a-z]", out):
        return out.upper()
    return re.sub(
        r"\w+",
        lambda m: (
            m[0].upper()
            if len(re.findall(r"[A-Z]", m[0])) >= 2 and not re.search(r"[a-z]", m[0])
            else m[0]
        ),
        out,
    )


def _decode_vni(text: str) -> str:
    return _VNI_LONGEST.sub(lambda m: VNI_DECODE[m[0]], text)


_DECODERS = {"tcvn3": _decode_tcvn3, "vni": _decode_vni}

# -- Is the result Vietnamese? -----------------------------------------------------------------
_ONSETS = frozenset("b c ch d đ g gh gi h k kh l m n ng ngh nh p ph q qu r s t th tr v x".split())
_NUCLEI = frozenset(
    (
        "a ă â e ê i o ô ơ u ư y ai ao au âu ay ây eo êu ia iê iu oa oă oe oi ôi ơi oo ôô ua uâ "
        "uê ui uô uơ uy ưa ưi ươ ưu yê iêu oai oao oay oeo uây uôi ươi ươu uya uyê uyu yêu"
    ).split()
)
_CODAS = frozenset(("", "c", "ch", "m", "n", "ng", "nh", "p", "t"))
_BASE = {}
for _v in _VOWELS:
    for _t in range(6):
        _BASE[_toned(_v, _t)] = (_v, _t)


def _plausible(word: str) -> bool:
    """A Vietnamese syllable: onset, vowel cluster, coda, at most one tone."""
    w = unicodedata.normalize("NFC", word.lower())
    i = 0
    while i < len(w) and w[i] not in _BASE:
        i += 1
    onset = w[:i]
    if onset == "q" and w[i : i + 1] == "u":
        onset, i = "qu", i + 1
    elif onset == "g" and w[i : i + 1] == "i" and i + 1 < len(w) and w[i + 1] in _BASE:
        onset, i = "gi", i + 1
    if onset and onset not in _ONSETS:
        return False
    j = i
    tones = 0
    bases = []
    while j < len(w) and w[j] in _BASE:
        base, tone = _BASE[w[j]]
        bases.append(base)
        tones += tone > 0
        j += 1
    nucleus, coda = "".join(bases), w[j:]
    if not nucleus or tones > 1 or nucleus not in _NUCLEI or coda not in _CODAS:
        return False
    if nucleus == "ơ" and coda in ("c", "ng", "ch", "nh"):
        return False
    if tones == 0 or len(nucleus) == 1:
        return True
    at = next(k for k, ch in enumerate(w[i:j]) if _BASE[ch][1] > 0)
    return at in _tone_places(nucleus, coda)


def _tone_places(nucleus: str, coda: str) -> tuple[int, ...]:
    """Where a vowel cluster may carry its tone, old and new placement both allowed."""
    hats = [k for k, ch in enumerate(nucleus) if ch in "ăâêôơư"]
    if hats:
        return (hats[-1],)
    if coda:
        return (len(nucleus) - 1,)
    if nucleus in ("oa", "oe", "uy"):
        return (0, 1)  # hóa (old) and hoá (new)
    return (1,) if len(nucleus) == 3 else (0,)


_WORD = re.compile(r"[^\W\d_]+")


def _score(text: str) -> int:
    """How un-Vietnamese ``text`` looks: legacy glyphs, and twice each impossible word that
    has letters outside ASCII (ASCII words are names, codes or English: never judged)."""
    score = sum(ch in _LEGACY_GLYPHS or ch == "\u00ad" for ch in text)
    for word in _WORD.findall(text):
        if word.isascii() or any(ch in _LEGACY_GLYPHS for ch in word):
            continue
        if not _plausible(word):
            score += 2
    return score


@dataclass(frozen=True)
class Conversion:
    """What :func:`convert_legacy` decided for one text.

    ``encoding`` is None when the text was left as it is; ``unsure`` is True when the text shows
    legacy glyphs but no reading gives clean Vietnamese (or both do): it must be refused.
    """

    text: str
    encoding: Encoding | None = None
    unsure: bool = False


def convert_legacy(text: str) -> Conversion:
    """Convert ``text`` from TCVN3 or VNI glyphs to Unicode (NFC) when that is certain.

    A text is converted when it shows legacy glyphs and exactly one reading leaves none and
    only possible Vietnamese syllables. It is ``unsure`` when both readings are clean, or when
    neither is and the text shows a glyph that only legacy text has (not a typographic symbol
    such as « » ° ©, which Unicode text uses too). Otherwise it is returned unchanged.
    """
    if text.isascii() or not any(ch in _LEGACY_GLYPHS for ch in text):
        return Conversion(text)
    before = _score(text)
    if before == 0:
        return Conversion(text)
    readings = {enc: unicodedata.normalize("NFC", dec(text)) for enc, dec in _DECODERS.items()}
    clean = [enc for enc, out in readings.items() if _score(out) == 0]
    if len(clean) == 1:
        return Conversion(readings[clean[0]], clean[0])
    if clean or any(ch in _LEGACY_GLYPHS and ch not in _SYMBOLS for ch in text):
        return Conversion(text, None, unsure=True)
    return Conversion(text)


# Bytes that Windows-1258 Vietnamese text does not use (symbols, and Latin-1 letters that are
# not Vietnamese) but TCVN3 or VNI text does; Windows-1258's own Vietnamese bytes are left out.
_NOT_CP1258_VIETNAMESE = frozenset(
    b for b in range(0xA1, 0x100) if bytes([b]).decode("latin-1") in _LEGACY_GLYPHS
) - frozenset(b"\xc3\xcc\xd0\xd2\xd5\xdd\xde\xe3\xec\xf0\xf2\xf5\xfd\xfe")


def legacy_glyph_text(raw: bytes) -> str | None:
    """The bytes of a text file as Windows-1252 glyphs when they are TCVN3 or VNI text, for the
    cell-by-cell conversion of :func:`convert_legacy`; None when Windows-1258 reads them better.

    A file saved from a program using .VnTime or VNI-Times fonts holds the legacy bytes
    themselves; read as Windows-1258 they would turn into other letters and tone marks.
    """
    if not any(b in _NOT_CP1258_VIETNAMESE for b in raw):
        return None
    glyphs = raw.decode("latin-1")
    try:
        as_1258 = unicodedata.normalize("NFC", raw.decode("cp1258"))
    except UnicodeDecodeError:
        as_1258 = None
    lines = glyphs.splitlines()
    converted = [convert_legacy(line) for line in lines]
    if not any(c.encoding for c in converted):
        return None
    legacy_score = sum(_score(c.text) for c in converted)
    if as_1258 is not None and _score(as_1258) <= legacy_score:
        return None
    return unicodedata.normalize("NFC", glyphs)


def decode_as(text: str, encoding: Encoding) -> Conversion:
    """``text`` read in ``encoding`` because the rest of its file is: for the texts that show
    no glyph of their own that only legacy text has ("Quúnh Nhai" is TCVN3 for Quỳnh Nhai, but
    ú is a Vietnamese letter too). Converted only when the reading differs and every word of it
    is a possible Vietnamese syllable."""
    if text.isascii() or any(ord(ch) > 0xFF for ch in text):
        return Conversion(text)
    out = unicodedata.normalize("NFC", _DECODERS[encoding](text))
    if out != text and _score(out) == 0:
        return Conversion(out, encoding)
    return Conversion(text)
