"""The unit matcher: codes, names with and without diacritics, prefixes, homonyms, refusals."""

import pytest

from kiemnhiem.data.units import UnitMatcher, fold, resolve_province, resolve_unit
from kiemnhiem.exceptions import UnitError

SON_LA = {
    "116": "Thành phố Sơn La",
    "118": "Huyện Quỳnh Nhai",
    "119": "Huyện Thuận Châu",
    "120": "Huyện Mường La",
    "121": "Huyện Bắc Yên",
    "122": "Huyện Phù Yên",
    "123": "Thị xã Mộc Châu",
    "124": "Huyện Yên Châu",
    "125": "Huyện Mai Sơn",
    "126": "Huyện Sông Mã",
    "127": "Huyện Sốp Cộp",
    "128": "Huyện Vân Hồ",
}


@pytest.fixture(scope="module")
def son_la():
    return UnitMatcher("Sơn La")


def test_fold():
    assert fold("  Huyện  Phù Yên ") == "huyen phu yen"
    assert fold("Điện Biên Đông") == "dien bien dong"


def test_province_by_name_and_code():
    assert resolve_province("Sơn La") == ("14", "Tỉnh Sơn La")
    assert resolve_province("tinh son la")[0] == "14"
    assert resolve_province(14)[0] == "14"
    assert resolve_province("Phú Yên")[0] == "54"


def test_every_son_la_unit_by_code_and_name(son_la):
    for code, name in SON_LA.items():
        assert son_la.resolve(code).code == code
        assert son_la.resolve(name).code == code


@pytest.mark.parametrize(
    "text, code",
    [
        ("Phù Yên", "122"),
        ("phu yen", "122"),
        ("PHU YEN", "122"),
        ("Huyện Phù Yên", "122"),
        ("huyen phu yen", "122"),
        ("Thành phố", "116"),
        ("TP Sơn La", "116"),
        ("TP. Sơn La", "116"),
        ("Thanh pho Son La", "116"),
        ("Mộc Châu", "123"),
        ("Thị xã Mộc Châu", "123"),
        ("Huyện Mộc Châu", "123"),  # a huyện during the pilots, a thị xã in later lists
        ("Quynh Nhai", "118"),
        ("Sop Cop", "127"),
    ],
)
def test_son_la_spellings(son_la, text, code):
    assert son_la.resolve(text).code == code


def test_phu_yen_district_is_not_phu_yen_province(son_la):
    unit = son_la.resolve("Phù Yên")
    assert unit.province_code == "14"
    # a wrong tone mark is a different name, refused with the right candidate
    with pytest.raises(UnitError) as err:
        son_la.resolve("Phú Yên")
    assert any("Phù Yên" in c for c in err.value.candidates)


def test_codes_keep_leading_zeros():
    # Điện Biên Phủ city is 094; read from CSV it may arrive as "94"
    assert resolve_unit("94", "Điện Biên").code == "094"
    assert resolve_unit("094", "Điện Biên").name == "Thành phố Điện Biên Phủ"
    assert resolve_unit("Điện Biên Phủ", "11").code == "094"


@pytest.mark.parametrize(
    "province, text, code",
    [
        ("Long An", "Châu Thành", "808"),
        ("Tiền Giang", "Huyện Châu Thành", "821"),
        ("Hậu Giang", "Châu Thành", "933"),
        ("Hậu Giang", "Châu Thành A", "932"),
        ("Hà Nội", "Ba Vì", "271"),
        ("Hồ Chí Minh", "Quận 1", "760"),
        ("Đà Nẵng", "Hải Châu", "492"),
    ],
)
def test_other_provinces(province, text, code):
    assert resolve_unit(text, province).code == code


def test_homonym_without_province_is_ambiguous():
    national = UnitMatcher(None)
    with pytest.raises(UnitError) as err:
        national.resolve("Châu Thành")
    assert len(err.value.candidates) >= 10
    assert national.resolve("Châu Thành, Long An").code == "808"
    assert national.resolve("Phù Yên, Sơn La").code == "122"


def test_unknown_name_lists_candidates(son_la):
    with pytest.raises(UnitError) as err:
        son_la.resolve("Mai Sơnn")
    assert err.value.candidates == ["Huyện Mai Sơn (125)"]
    assert "Mai Sơnn" in err.value.message_vi and "not found" in err.value.message_en


def test_unit_of_another_province_is_refused(son_la):
    with pytest.raises(UnitError) as err:
        son_la.resolve("Mường Tè")  # Lai Châu
    assert "Huyện Mường Tè (107)" in err.value.candidates
    with pytest.raises(UnitError):
        son_la.resolve("808")


def test_empty_and_unknown_code(son_la):
    with pytest.raises(UnitError):
        son_la.resolve("  ")
    with pytest.raises(UnitError):
        son_la.resolve("999")


def test_thanh_pho_alone_needs_a_province():
    with pytest.raises(UnitError):
        UnitMatcher(None).resolve("Thành phố")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT DISTINCT districtCode, district, provinceCode FROM admin_units_legacy "
        "WHERE districtCode IS NOT NULL ORDER BY districtCode",
        "SELECT DISTINCT provinceKey, provinceShort FROM admin_units ORDER BY provinceKey",
    ],
)
def test_the_unit_table_is_read_as_vietnamadminunits_reads_it(sql):
    """The bundled SQLite table, read without importing the package (its parsers cost every
    kernel 0.4 s), gives exactly the rows of the package's own ``database.query``."""
    from vietnamadminunits.database import query

    from kiemnhiem.data.units import _query

    rows = _query(sql)
    assert rows == query(sql) and len(rows) >= 34  # 34 provinces since 2025, 63 before


def test_loading_a_dataset_does_not_import_the_address_parsers():
    """Run in a fresh interpreter: what a report's kernel pays."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from kiemnhiem.data.dataset import load_dataset\n"
        "load_dataset(None)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('vietnamadminunits', 'geopy'))))"
    )
    from kiemnhiem.run.execute import _kernel_env

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_kernel_env(), check=True
    )
    assert out.stdout.strip() == "[]"
