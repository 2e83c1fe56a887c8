"""Legacy Vietnamese encodings: TCVN3 (.VnTime) and VNI (VNI-Times) read as Unicode."""

import unicodedata

import pytest

from kiemnhiem.data.legacy import VIETNAMESE_LETTERS, convert_legacy, encode_legacy

# Every precomposed Vietnamese letter, written out by hand (12 vowels x 6 tones, less the
# 6 plain ASCII vowels, plus đ): 67 lower case and their 67 capitals.
LOWER = ("àảãáạ ăằẳẵắặ âầẩẫấậ èẻẽéẹ êềểễếệ ìỉĩíị òỏõóọ ôồổỗốộ ơờởỡớợ ùủũúụ ưừửữứự ỳỷỹýỵ đ").replace(
    " ", ""
)
UPPER = LOWER.upper()


def test_the_hand_written_alphabet_is_the_module_alphabet():
    assert len(LOWER) == 67 and len(set(LOWER + UPPER)) == 134
    assert set(LOWER + UPPER) == VIETNAMESE_LETTERS
    assert all(unicodedata.is_normalized("NFC", ch) for ch in LOWER + UPPER)


def _word(letter: str) -> str:
    """A syllable holding ``letter``: the vowel alone, or đi / ĐI."""
    return {"đ": "đi", "Đ": "ĐI"}.get(letter, letter)


# A word whose legacy form no Unicode text holds: the evidence a text is legacy. Alone, many
# legacy words look like Unicode ("ngô" is VNI for ngơ), so each letter is tried beside one.
EVIDENCE = {"vni": ("Phuø", "Phù"), "tcvn3": ("Hµ", "Hà")}


@pytest.mark.parametrize("letter", list(LOWER + UPPER))
def test_vni_round_trip_of_every_letter(letter):
    legacy, unicode = EVIDENCE["vni"]
    text = encode_legacy(_word(letter), "vni") + " " + legacy
    assert convert_legacy(text).text == f"{_word(letter)} {unicode}"


@pytest.mark.parametrize("letter", list(LOWER))
def test_tcvn3_round_trip_of_every_lower_case_letter(letter):
    legacy, unicode = EVIDENCE["tcvn3"]
    text = encode_legacy(_word(letter), "tcvn3") + " " + legacy
    assert convert_legacy(text).text == f"{_word(letter)} {unicode}"


@pytest.mark.parametrize("letter", list(UPPER))
def test_tcvn3_capitals_come_back_in_capital_text(letter):
    # TCVN3 has bytes only for Ă Â Ê Ô Ơ Ư Đ; other capitals are typed with .VnTimeH fonts,
    # which draw the lower-case byte as a capital: a text of capitals reads as capitals.
    word = "ĐI" if letter == "Đ" else f"NG{letter}"
    text = encode_legacy(f"{word} HÀ", "tcvn3")
    assert text.endswith("Hµ")  # the capital À has no byte: it is the lower-case one
    assert convert_legacy(text).text == f"{word} HÀ"


@pytest.mark.parametrize(
    "legacy, unicode, encoding",
    [
        # the examples of DOMAIN.md and of the public material the issue cites
        ("HuyÖn Phï Yªn", "Huyện Phù Yên", "tcvn3"),
        ("Huyeän Phuø Yeân", "Huyện Phù Yên", "vni"),
        ("B¶o Th¾ng", "Bảo Thắng", "tcvn3"),
        # "ư" is TCVN3's byte 0xAD, a soft hyphen: copied text loses it ("Mường Khương")
        ("Mêng Kh¬ng", "Mường Khương", "tcvn3"),
        ("M\u00adêng Kh\u00ad¬ng", "Mường Khương", "tcvn3"),
        ("Thµnh phè S¬n La", "Thành phố Sơn La", "tcvn3"),
        ("Thaønh phoá Sôn La", "Thành phố Sơn La", "vni"),
        ("Hoµn thµnh tèt nhiÖm vô", "Hoàn thành tốt nhiệm vụ", "tcvn3"),
        ("Hoaøn thaønh toát nhieäm vuï", "Hoàn thành tốt nhiệm vụ", "vni"),
        ("HUYÖN Mï C¡NG CH¶I", "HUYỆN MÙ CĂNG CHẢI", "tcvn3"),
    ],
)
def test_public_examples_convert(legacy, unicode, encoding):
    result = convert_legacy(legacy)
    assert (result.text, result.encoding, result.unsure) == (unicode, encoding, False)


@pytest.mark.parametrize(
    "text",
    [
        "Huyện Phù Yên",
        "Hoà Bình",  # old-style tone placement: "oà" would be VNI's ồ
        "Thanh Hoá",
        "Yên Châu",  # only Latin-1 letters, each also a TCVN3 glyph
        "Nhiệt độ 25°C",
        "«Hà»",  # guillemets are TCVN3 glyphs too, but nothing reads better
        "Báo Sơn La, số 12",
        "kinh_phi_hoat_dong",
    ],
)
def test_unicode_text_never_changes(text):
    assert convert_legacy(text).text == text
    assert convert_legacy(text).encoding is None and not convert_legacy(text).unsure


def test_a_text_no_reading_makes_clean_is_unsure():
    # TCVN3 glyphs and a VNI sequence in one text: neither reading is clean Vietnamese.
    result = convert_legacy("HuyÖn Phuø")
    assert result.unsure and result.text == "HuyÖn Phuø"
