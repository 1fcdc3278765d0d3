import pytest

from netwatch.domain.text import clean_text


@pytest.mark.parametrize("raw, clean", [
    ("網(wǎng)店", "網店"),
    ("好(hǎo)评（píng）", "好评"),
    ("容量(ml) 500", "容量(ml) 500"),          # not a gloss: no tone mark
    ("Nike(nài) air", "Nike(nài) air"),         # gloss only after a CJK character
    ("质量好,,价格低。。", "质量好,价格低。"),
    ("  多  余\t空白  ", "多 余 空白"),
    ("第一行\n\n\n  第二行", "第一行\n第二行"),
    ("象\u200b牙", "象\u200b牙"),               # evasion characters are the rule engine's business
    (None, None),
])
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean
