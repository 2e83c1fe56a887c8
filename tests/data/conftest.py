"""Fixtures shared by the data tests."""

import pytest

from kiemnhiem.data.template import write_template


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return write_template(
        tmp_path_factory.mktemp("tpl") / "mau.xlsx", province="Sơn La", years=(2014, 2025)
    )
