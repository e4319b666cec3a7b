"""Every script institutions write in: real PDFs in each newly covered script (CJK,
Indic, Thai, Khmer, Ethiopic, Persian, Urdu, emoji and flags), read back with poppler,
fonts inspected with pikepdf, PDF/A-1b checked with PDFBox Preflight; the missing-font
error; the font file record; line breaking (UAX #14, CJK rules, Thai dictionary)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pikepdf
import pytest

from preserve.errors import RenderError
from preserve.metadata import Metadata
from preserve.pdfa import PdfaLevel, check_pdfa
from preserve.render import Rendering, fonts, render_statement
from preserve.render.linebreak import break_opportunities, needs_dictionary
from preserve.render.shaping import words
from preserve.statement import Statement
from tests.pdf_tools import preflight_command, run_preflight
from tests.samples import sample_statement

REPO = Path(__file__).resolve().parents[1]
CREATED = dt.datetime(2024, 2, 23, 12, 0, tzinfo=dt.UTC)

# Invented statements on a neutral topic (library opening hours), in the shape real ones
# come in. key: (language, title, paragraphs, signer name, role, font that must be used)
SAMPLES: dict[str, tuple[str, str, list[str], str, str, str]] = {
    "zh-Hans": (
        "zh-Hans",
        "关于公共图书馆开放时间的声明",
        [
            "市公共图书馆自二〇二四年三月一日起延长开放时间，每天上午八点至晚上九点向所有读者"
            "免费开放。读者可以通过电话或网站预约座位，图书馆欢迎大家提出意见和建议。"
            "图书馆还将为老年读者和残疾读者提供上门借书服务，并在周末举办面向儿童的阅读活动。",
            "详情请见「图书馆公告」第三号。",
        ],
        "王小明",
        "馆长",
        "WenQuanYiZenHei",
    ),
    "zh-Hant": (
        "zh-Hant",
        "關於公共圖書館開放時間的聲明",
        ["市立圖書館自三月一日起延長開放時間，歡迎所有讀者前來閱讀與借書。"],
        "陳美玲",
        "館長",
        "WenQuanYiZenHei",
    ),
    "ja": (
        "ja",
        "公共図書館の開館時間についてのお知らせ",
        [
            "市立図書館は三月一日から開館時間を延長し、毎日午前八時から午後九時まで開館します。",
            "ご意見やご要望は、電話またはウェブサイトでお寄せください。",
        ],
        "山田花子",
        "館長",
        "WenQuanYiZenHei",
    ),
    "ko": (
        "ko",
        "공공 도서관 개관 시간에 관한 성명",
        [
            "시립 도서관은 3월 1일부터 개관 시간을 연장하여 "
            "매일 오전 8시부터 오후 9시까지 운영합니다."
        ],
        "김민지",
        "관장",
        "WenQuanYiZenHei",
    ),
    "hi": (
        "hi",
        "सार्वजनिक पुस्तकालय के समय के बारे में वक्तव्य",
        [
            "नगर पुस्तकालय एक मार्च से प्रतिदिन सुबह आठ बजे से रात नौ बजे तक खुला रहेगा।",
            "पाठक अपने सुझाव टेलीफ़ोन या वेबसाइट के माध्यम से भेज सकते हैं।",
        ],
        "अनीता शर्मा",
        "पुस्तकालय अध्यक्ष",
        "NotoSerifDevanagari",
    ),
    "bn": (
        "bn",
        "গণগ্রন্থাগারের সময়সূচি সম্পর্কে বিবৃতি",
        ["নগর গ্রন্থাগার পয়লা মার্চ থেকে প্রতিদিন সকাল আটটা থেকে রাত নয়টা পর্যন্ত খোলা থাকবে।"],
        "রহিম উদ্দিন",
        "গ্রন্থাগারিক",
        "NotoSerifBengali",
    ),
    "ta": (
        "ta",
        "பொது நூலக நேரம் குறித்த அறிக்கை",
        ["நகர நூலகம் மார்ச் ஒன்று முதல் தினமும் காலை எட்டு மணி முதல் இரவு ஒன்பது மணி வரை திறந்திருக்கும்."],
        "லக்ஷ்மி ராஜன்",
        "நூலகர்",
        "NotoSerifTamil",
    ),
    "th": (
        "th",
        "แถลงการณ์เรื่องเวลาเปิดห้องสมุดประชาชน",
        [
            # one long run without spaces: it must wrap at dictionary word boundaries
            "ห้องสมุดประชาชนของเมืองจะเปิดให้บริการทุกวันตั้งแต่เวลาแปดนาฬิกาถึงสามทุ่ม"
            "ตั้งแต่วันที่หนึ่งมีนาคมเป็นต้นไปผู้อ่านทุกคนสามารถใช้บริการได้โดยไม่เสียค่าใช้จ่าย"
            "และสามารถยืมหนังสือกลับบ้านได้ครั้งละห้าเล่ม",
        ],
        "สมชาย ใจดี",
        "บรรณารักษ์",
        "NotoSerifThai",
    ),
    "km": (
        "km",
        "សេចក្តីថ្លែងការណ៍អំពីម៉ោងបើកបណ្ណាល័យសាធារណៈ",
        ["បណ្ណាល័យក្រុងនឹងបើកជារៀងរាល់ថ្ងៃចាប់ពីម៉ោងប្រាំបីព្រឹករហូតដល់ម៉ោងប្រាំបួនយប់។"],
        "សុខ ចាន់ថា",
        "បណ្ណារក្ស",
        "NotoSerifKhmer",
    ),
    "am": (
        "am",
        "ስለ ሕዝብ ቤተ መጻሕፍት የሥራ ሰዓት መግለጫ",
        ["የከተማው ቤተ መጻሕፍት ከመጋቢት አንድ ጀምሮ በየቀኑ ከጠዋቱ ሁለት ሰዓት እስከ ምሽቱ ሦስት ሰዓት ክፍት ይሆናል።"],
        "አበበ ከበደ",
        "ዳይሬክተር",
        "NotoSerifEthiopic",
    ),
    "fa": (
        "fa",
        "بیانیه درباره ساعت کار کتابخانه عمومی",
        [
            "کتابخانه شهر از اول مارس هر روز از ساعت هشت صبح تا نه شب باز است.",
            # ZWNJ (U+200C) keeps می and خواهند apart; پ چ ژ گ are Persian letters
            "پژوهشگران می\u200cتوانند کتاب\u200cهای چاپی را امانت بگیرند.",
        ],
        "مریم احمدی",
        "رئیس کتابخانه",
        "NotoSansArabic",
    ),
    "ur": (
        "ur",
        "عوامی کتب خانے کے اوقات کے بارے میں بیان",
        [
            "شہر کا کتب خانہ یکم مارچ سے ہر روز صبح آٹھ بجے سے رات نو بجے تک کھلا رہے گا۔ "
            "کتابیں ڈاک سے بھی ملیں گی۔"
        ],
        "عائشہ خان",
        "لائبریرین",
        "NotoSansArabic",
    ),
    "gu": (
        "gu",
        "પુસ્તકાલયના સમય વિશે નિવેદન",
        ["જાહેર પુસ્તકાલય દરરોજ સવારે આઠ વાગ્યે ખુલે છે."],
        "મીરા પટેલ",
        "ગ્રંથપાલ",
        "NotoSerifGujarati",
    ),
    "pa": (
        "pa",
        "ਲਾਇਬ੍ਰੇਰੀ ਦੇ ਸਮੇਂ ਬਾਰੇ ਬਿਆਨ",
        ["ਸਰਵਜਨਕ ਲਾਇਬ੍ਰੇਰੀ ਹਰ ਰੋਜ਼ ਸਵੇਰੇ ਅੱਠ ਵਜੇ ਖੁੱਲ੍ਹਦੀ ਹੈ।"],
        "ਹਰਪ੍ਰੀਤ ਕੌਰ",
        "ਲਾਇਬ੍ਰੇਰੀਅਨ",
        "NotoSerifGurmukhi",
    ),
    "te": (
        "te",
        "గ్రంథాలయ సమయాల గురించి ప్రకటన",
        ["ప్రజా గ్రంథాలయం ప్రతిరోజు ఉదయం ఎనిమిది గంటలకు తెరుచుకుంటుంది."],
        "సీత రెడ్డి",
        "గ్రంథపాలకురాలు",
        "NotoSerifTelugu",
    ),
    "kn": (
        "kn",
        "ಗ್ರಂಥಾಲಯದ ಸಮಯದ ಬಗ್ಗೆ ಹೇಳಿಕೆ",
        ["ಸಾರ್ವಜನಿಕ ಗ್ರಂಥಾಲಯವು ಪ್ರತಿದಿನ ಬೆಳಿಗ್ಗೆ ಎಂಟು ಗಂಟೆಗೆ ತೆರೆಯುತ್ತದೆ."],
        "ರಮೇಶ್ ಗೌಡ",
        "ಗ್ರಂಥಪಾಲಕ",
        "NotoSerifKannada",
    ),
    "ml": (
        "ml",
        "ഗ്രന്ഥശാലയുടെ സമയത്തെക്കുറിച്ചുള്ള പ്രസ്താവന",
        ["പൊതു ഗ്രന്ഥശാല എല്ലാ ദിവസവും രാവിലെ എട്ടു മണിക്ക് തുറക്കും."],
        "അനിൽ കുമാർ",
        "ലൈബ്രേറിയൻ",
        "NotoSerifMalayalam",
    ),
    "or": (
        "or",
        "ପାଠାଗାର ସମୟ ବିଷୟରେ ବିବୃତି",
        ["ସାର୍ବଜନୀନ ପାଠାଗାର ପ୍ରତିଦିନ ସକାଳ ଆଠଟାରେ ଖୋଲେ।"],
        "ସୁମିତ୍ରା ଦାସ",
        "ଗ୍ରନ୍ଥାଗାରିକ",
        "NotoSansOriya",
    ),
    "si": (
        "si",
        # ප්‍ර: the ZWJ asks for the rakaransaya form
        "පුස්තකාල වේලාවන් පිළිබඳ ප්\u200dරකාශය",
        ["මහජන පුස්තකාලය සෑම දිනකම උදේ අට සිට විවෘතව ඇත."],
        "නිමල් පෙරේරා",
        "පුස්තකාලයාධිපති",
        "NotoSerifSinhala",
    ),
    "my": (
        "my",
        "စာကြည့်တိုက်ဖွင့်ချိန်ဆိုင်ရာ ထုတ်ပြန်ချက်",
        ["ပြည်သူ့စာကြည့်တိုက်သည် နေ့စဉ် နံနက် ရှစ်နာရီတွင် ဖွင့်ပါသည်။"],
        "အောင်မြင့်",
        "စာကြည့်တိုက်မှူး",
        "NotoSerifMyanmar",
    ),
    "lo": (
        "lo",
        "ຖະແຫຼງການກ່ຽວກັບເວລາເປີດຫໍສະໝຸດ",
        ["ຫໍສະໝຸດສາທາລະນະເປີດທຸກມື້ຕັ້ງແຕ່ແປດໂມງເຊົ້າ."],
        "ສົມພອນ ແກ້ວ",
        "ບັນນາຮັກ",
        "NotoSerifLao",
    ),
    "dv": (
        "dv",
        "ލައިބްރަރީގެ ވަގުތާ ބެހޭ ބަޔާން",
        ["ޢާންމު ލައިބްރަރީ ކޮންމެ ދުވަހަކު ހެނދުނު އަށެއްގައި ހުޅުވޭނެ."],
        "އާމިނަތު ޙަސަން",
        "ލައިބްރޭރިއަން",
        "NotoSansThaana",
    ),
    "zgh": (
        "zgh",
        "ⴰⵙⵎⵎⴻⵍ ⵅⴼ ⵜⴰⵙⴷⵍⵉⵙⵜ",
        ["ⵜⴰⵙⴷⵍⵉⵙⵜ ⵜⴰⵎⴰⵜⴰⵢⵜ ⵜⵔⵣⵎ ⴽⵓ ⴰⵙⵙ."],
        "ⵜⵉⵍⴻⵍⵍⵉ ⴰⵎⴰⵣⵉⵖ",
        "ⴰⵏⵎⵀⴰⵍ",
        "NotoSansTifinagh",
    ),
    "emoji": (
        "en",
        "Statement on clean water \U0001f4a7",
        [
            "Clean water \U0001f4a7 for every home \U0001f3e0, from the river to the tap.",
            "Flags of the partners: \U0001f1fa\U0001f1f3 \U0001f1eb\U0001f1f7 and a family "
            "\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f44d\U0001f3fd.",
        ],
        "Jane Doe",
        "Commissioner",
        "NotoEmoji",
    ),
}


def make(key: str, paragraphs: list[str] | None = None) -> tuple[Statement, Metadata]:
    lang, title, paras, name, role, _font = SAMPLES[key]
    return sample_statement(
        key, lang, title, paras if paragraphs is None else paragraphs, name, role
    )


def render(key: str, level: PdfaLevel = PdfaLevel.A2U) -> Rendering:
    return render_statement(*make(key), level, created=CREATED)


def squash(text: str) -> str:
    """NFC, without white space, bidi marks and joiners (poppler drops or adds them)."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]", "", text)
    return re.sub(r"\s+", "", text)


def letters(text: str) -> str:
    return "".join(ch for ch in squash(text) if unicodedata.category(ch)[0] in "LMN")


def bases(text: str) -> str:
    return "".join(ch for ch in squash(text) if unicodedata.category(ch)[0] in "LN")


def pdftotext(pdf: bytes, tmp_path: Path, *args: str) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (apt: poppler-utils) is not installed")
    path = tmp_path / "x.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", *args, "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture(scope="module")
def cjk_font() -> None:
    """The pinned CJK font (Debian fonts-wqy-zenhei); CJK tests skip without it."""
    found = fonts.locate(fonts.FAMILIES[[f.name for f in fonts.FAMILIES].index("WenQuanYiZenHei")])
    if isinstance(found, str):
        pytest.skip(found)


def needs_cjk(key: str) -> bool:
    return SAMPLES[key][5] == "WenQuanYiZenHei"


# --------------------------------------------------------------------------- every script


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_every_character_comes_back_and_every_font_is_embedded(
    key: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if needs_cjk(key):
        request.getfixturevalue("cjk_font")
    statement, metadata = make(key)
    rendering = render(key)
    assert SAMPLES[key][5] in rendering.fonts
    raw = squash(pdftotext(rendering.pdf, tmp_path, "-raw"))
    default = pdftotext(rendering.pdf, tmp_path)
    for part in (metadata.title, *statement.paragraphs, statement.signer_name):
        assert part is not None
        # the content stream holds the text in logical order, every character of it
        assert squash(part) in raw, f"{part!r} not in {raw!r}"
        # poppler's reading order keeps every letter (punctuation may move in RTL lines;
        # Thai and Khmer marks stacked above a letter are put where poppler's geometric
        # guess puts them, so there only the base letters are compared)
        if key in ("th", "km", "lo", "my"):
            assert bases(part) in bases(default), f"{part!r} not in {default!r}"
        elif key == "dv":
            # Thaana puts a vowel mark on every consonant, right to left: poppler's
            # geometric guess splits them into lines of their own, so its reading order
            # is no guide (the content stream above is exact)
            pass
        else:
            assert letters(part) in letters(default), f"{part!r} not in {default!r}"
    with pikepdf.open(io.BytesIO(rendering.pdf)) as pdf:
        seen = 0
        for page in pdf.pages:
            for _name, font in page.obj.Resources.Font.items():
                descendant = font.get("/DescendantFonts")
                descriptor = (descendant[0] if descendant else font).FontDescriptor
                assert "/FontFile2" in descriptor, f"{font.BaseFont} is not embedded as TrueType"
                assert "/ToUnicode" in font
                seen += 1
        assert seen >= 2
    assert check_pdfa(rendering.pdf) == []


def test_persian_zero_width_non_joiner_is_kept(tmp_path: Path) -> None:
    # Without the ZWNJ, "می" would join "توانند" into one word form; the joiner must
    # reach HarfBuzz and come back out of the PDF.
    rendering = render("fa")
    raw = re.sub(r"[\s\u202a-\u202e]+", "", pdftotext(rendering.pdf, tmp_path, "-raw"))
    assert "می\u200cتوانند" in unicodedata.normalize("NFC", raw)


def test_right_to_left_text_with_a_soft_hyphen_renders(tmp_path: Path) -> None:
    # Scraped web text carries soft hyphens; python-bidi drops such "BN" characters
    # from its level list, which made right-to-left paragraphs with one crash with a
    # ValueError (a traceback, not a one-line error).
    paragraph = "يفتح المكتبة\u00adالعامة أبوابها كل يوم."
    rendering = render_statement(*make("fa", [paragraph]), created=CREATED)
    raw = pdftotext(rendering.pdf, tmp_path, "-raw")
    assert letters(paragraph) in letters(raw)


def test_a_flag_is_one_glyph_and_extracts_as_its_two_letters(tmp_path: Path) -> None:
    rendering = render("emoji")
    raw = pdftotext(rendering.pdf, tmp_path, "-raw")
    assert "\U0001f1fa\U0001f1f3" in raw and "\U0001f4a7" in raw
    from preserve.render.shaping import shape

    family = fonts.family_for("\U0001f1fa")
    assert family is not None and family.name == "NotoEmoji"
    run = shape("\U0001f1fa\U0001f1f3", family, False, False, None)
    assert len(run.glyphs) == 1  # the regional-indicator pair became the flag


def test_selectors_joiners_and_tags_need_no_glyph_and_come_back(
    cjk_font: None, tmp_path: Path
) -> None:
    # An ideographic variation selector (Japanese names), ZWJ after CJK, a keycap, text
    # and emoji presentation selectors, and the tag sequence of a subdivision flag: none
    # has a glyph of its own, none may stop the render, and none may be lost.
    paragraph = (
        "葛\U000e0100飾区の図書館。\u200d中文 #\ufe0f\u20e3 ❤\ufe0f ☺\ufe0e "
        "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    )
    rendering = render_statement(*make("ja", [paragraph]), created=CREATED)
    raw = pdftotext(rendering.pdf, tmp_path, "-raw")
    assert unicodedata.normalize("NFC", paragraph) in unicodedata.normalize("NFC", raw)


@pytest.mark.parametrize("key", ["zh-Hans", "ko", "emoji", "hi", "th", "ur", "si", "dv"])
def test_new_scripts_are_valid_pdfa_1b(
    key: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if needs_cjk(key):
        request.getfixturevalue("cjk_font")
    code, report = run_preflight(preflight_command(), render(key, PdfaLevel.A1B).pdf, tmp_path, key)
    assert code == 0 and "is a valid PDF/A-1b file" in report, report


@pytest.mark.parametrize("key", ["zh-Hans", "emoji"])
def test_pikepdf_pdfa_validator_finds_no_violation_at_2u(
    key: str, request: pytest.FixtureRequest
) -> None:
    if needs_cjk(key):
        request.getfixturevalue("cjk_font")
    try:
        import pikepdf.pdfa as validator
    except ImportError as exc:
        pytest.skip(f"pikepdf.pdfa is not available: {exc}")
    with pikepdf.open(io.BytesIO(render(key).pdf)) as pdf:
        report = validator.check(pdf, "2b")
    # it knows conformance B only, so the claim of U is the one finding it may make
    findings = [f for f in report.findings if "pdfaid:conformance is 'U'" not in f.message]
    assert findings == [], findings


def test_same_cjk_input_gives_the_same_bytes(cjk_font: None) -> None:
    assert render("zh-Hans").pdf == render("zh-Hans").pdf


def test_bytes_do_not_depend_on_what_the_process_rendered_before(
    cjk_font: None, tmp_path: Path
) -> None:
    # Shaped glyphs get private codes in the order a process first meets them; the PDF
    # must not show it. One process renders other scripts first, the other does not.
    import sys

    code = (
        "import sys, hashlib; sys.path.insert(0, 'tests'); import test_fonts as t; "
        "[t.render(k) for k in sys.argv[1:]]; "
        "print(hashlib.sha256(t.render('emoji').pdf + t.render('zh-Hans').pdf).hexdigest())"
    )

    def digest(*before: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", code, *before],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert digest() == digest("ja", "fa", "hi", "emoji", "th")


# --------------------------------------------------------------------------- missing fonts


@pytest.fixture
def no_cjk_font(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As on a machine without fonts-wqy-zenhei: the font's folder is empty."""
    families = tuple(
        dataclasses.replace(f, system=dataclasses.replace(f.system, dirs=(str(tmp_path / "none"),)))
        if f.system
        else f
        for f in fonts.FAMILIES
    )
    monkeypatch.setattr(fonts, "FAMILIES", families)
    monkeypatch.delenv(fonts.FONT_PATH_ENV, raising=False)
    fonts.clear_caches()
    yield
    monkeypatch.undo()
    fonts.clear_caches()


def test_missing_cjk_font_names_character_script_and_install_command(no_cjk_font: None) -> None:
    statement, metadata = make("zh-Hans")
    with pytest.raises(RenderError) as info:
        render_statement(statement, metadata, created=CREATED)
    message = info.value.one_line()
    assert message.startswith("U+5173 CJK UNIFIED IDEOGRAPH-5173 '关' (Han script) in the title")
    assert "apt-get install fonts-wqy-zenhei" in message
    assert info.value.exit_code == 1
    assert "\n" not in message


def test_missing_cjk_font_on_the_command_line_exits_1_and_writes_nothing(
    no_cjk_font: None, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from preserve.cli import cli

    source = tmp_path / "s.txt"
    source.write_text(
        "Statement on the library\n\nThe library opens at 8.\n\nOpening hours: 八点.\n\n"
        "Jane Doe\nCommissioner\n23 February 2024\n",
        encoding="utf-8",
    )
    meta = tmp_path / "s.json"
    meta.write_text('{"language": "en", "type": "statement"}', encoding="utf-8")
    out_pdf = tmp_path / "out.pdf"
    result = CliRunner().invoke(
        cli, ["render", str(source), "-o", str(out_pdf), "--metadata", str(meta)]
    )
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "U+516B CJK UNIFIED IDEOGRAPH-516B '八' (Han script)" in lines[0]
    assert "apt-get install fonts-wqy-zenhei" in lines[0]
    assert not out_pdf.exists()


def test_a_cjk_font_that_is_not_the_pinned_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Another version of the font would change glyphs and line breaks: refuse it.
    (tmp_path / "wqy-zenhei.ttc").write_bytes(
        (REPO / "preserve/fonts/NotoSerif-Regular.ttf").read_bytes()
    )
    families = tuple(
        dataclasses.replace(f, system=dataclasses.replace(f.system, dirs=(str(tmp_path),)))
        if f.system
        else f
        for f in fonts.FAMILIES
    )
    monkeypatch.setattr(fonts, "FAMILIES", families)
    monkeypatch.delenv(fonts.FONT_PATH_ENV, raising=False)
    fonts.clear_caches()
    try:
        with pytest.raises(RenderError, match="not the pinned WenQuanYi Zen Hei"):
            render_statement(*make("ja"), created=CREATED)
    finally:
        monkeypatch.undo()
        fonts.clear_caches()


def test_a_symlinked_font_is_not_followed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = fonts.locate(next(f for f in fonts.FAMILIES if f.system))
    if isinstance(target, str):
        pytest.skip(target)
    (tmp_path / "wqy-zenhei.ttc").symlink_to(target)
    family = next(f for f in fonts.FAMILIES if f.system)
    assert family.system is not None
    moved = dataclasses.replace(family, system=dataclasses.replace(family.system, dirs=()))
    monkeypatch.setenv(fonts.FONT_PATH_ENV, str(tmp_path))
    assert isinstance(fonts.locate(moved), str)


def test_a_character_no_font_has_is_still_named_with_its_script() -> None:
    statement, metadata = make("hi", ["पुस्तकालय \U00013000"])
    with pytest.raises(
        RenderError,
        match=r"U\+13000 EGYPTIAN HIEROGLYPH A001 .*"
        r"\(Egyptian Hieroglyphs script\) in paragraph 1 has no glyph",
    ):
        render_statement(statement, metadata, created=CREATED)


# --------------------------------------------------------------------------- font files


def test_font_files_used_gives_name_path_and_sha256(cjk_font: None) -> None:
    rendering = render("ja")
    files = fonts.font_files_used(rendering.fonts)
    assert [f.name for f in files] == sorted(rendering.fonts)
    for f in files:
        assert f.sha256 == hashlib.sha256(f.path.read_bytes()).hexdigest()
    cjk = next(f for f in files if f.name == "WenQuanYiZenHei")
    assert cjk.sha256 == fonts.WQY_ZENHEI.sha256 and cjk.source == "fonts-wqy-zenhei"
    serif = next(f for f in files if f.name == "NotoSerif")
    assert serif.source == "vendored" and serif.path.name == "NotoSerif-Regular.ttf"


@pytest.mark.parametrize("name", ["NotoEmoji", "WenQuanYiZenHei", "NotoSerif"])
def test_embedded_advances_are_the_font_programs(name: str) -> None:
    # ReportLab stored the shared advance of the glyphs past numberOfHMetrics scaled to
    # 1/1000 em and embedded it as font units: PDF/A validators refused the emoji flags.
    from fontTools.ttLib import TTFont
    from reportlab.pdfbase import pdfmetrics

    family = next(f for f in fonts.FAMILIES if f.name == name)
    if not fonts.available(family):
        pytest.skip(str(fonts.locate(family)))
    registered = pdfmetrics.getFont(fonts.ensure_registered(family, False))
    path = fonts.font_file(family, False)
    program = TTFont(str(path), lazy=True, fontNumber=fonts.subfont_of(family))
    hmtx = program["hmtx"]
    order = program.getGlyphOrder()
    assert program["hhea"].numberOfHMetrics < len(order)
    assert [aw for aw, _ in registered.face.hmetrics] == [hmtx[g][0] for g in order]


def test_vendored_fonts_match_their_provenance_table() -> None:
    table = (REPO / "preserve/fonts/PROVENANCE.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\S+\.ttf) \|.*\| ([0-9a-f]{64}) \|$", table, re.MULTILINE))
    on_disk = {p.name for p in (REPO / "preserve/fonts").glob("*.ttf")}
    assert set(rows) == on_disk
    for name, digest in rows.items():
        assert hashlib.sha256((REPO / "preserve/fonts" / name).read_bytes()).hexdigest() == digest
    for family in fonts.FAMILIES:
        if family.system is None:
            assert {family.regular, family.bold} <= on_disk


def test_every_vendored_font_has_truetype_outlines() -> None:
    from fontTools.ttLib import TTFont

    for path in (REPO / "preserve/fonts").glob("*.ttf"):
        assert "glyf" in TTFont(str(path), lazy=True), f"{path.name} is not TrueType"


# --------------------------------------------------------------------------- line breaking


def pieces(text: str, language: str | None) -> list[str]:
    offsets = break_opportunities(text, language)
    return [text[a:b] for a, b in zip([0, *offsets], [*offsets, len(text)], strict=True)]


def test_cjk_breaks_between_ideographs_but_not_before_closing_or_after_opening() -> None:
    text = "图书馆。「公告」第三号，欢迎"
    got = pieces(text, "zh")
    assert "".join(got) == text
    assert all(not p.startswith(("。", "」", "，")) for p in got)  # no break before closing
    assert all(not p.endswith("「") for p in got)  # no break after opening
    assert "图" in got and "书" in got  # a break between two ideographs


def test_thai_breaks_at_dictionary_words() -> None:
    assert pieces("ประเทศไทยมีประชากรมาก", "th") == ["ประเทศไทย", "มี", "ประชากร", "มาก"]


def test_khmer_breaks_inside_unspaced_text() -> None:
    text = "បណ្ណាល័យក្រុងនឹងបើកជារៀងរាល់ថ្ងៃ"
    got = pieces(text, "km")
    assert len(got) > 2 and "".join(got) == text
    assert all(not unicodedata.category(p[0]).startswith("M") for p in got)


def test_offsets_are_code_points_even_after_astral_characters() -> None:
    text = "\U0001f4a7水\U0001f4a7电"
    assert break_opportunities(text, "zh") == [1, 2, 3]


def test_spaced_latin_breaks_after_spaces() -> None:
    assert break_opportunities("one two", "en") == [4]
    assert not needs_dictionary("one two") and needs_dictionary("one 二")


def test_words_accepts_break_offsets_and_glues_pieces_without_space() -> None:
    text = "图书馆开放。读者欢迎"
    ws = words(text, bold=False, base=0, language="zh", breaks=break_opportunities(text, "zh"))
    assert len(ws) > 3
    assert "".join(r.text for w in ws for r in w.runs) == text
    assert all(w.space == "" for w in ws)
    # without offsets the old behaviour: one word per space-separated piece
    assert len(words(text, bold=False, base=0, language="zh")) == 1


def test_over_long_unspaced_text_is_cut_at_break_opportunities() -> None:
    text = SAMPLES["th"][2][0]
    allowed = set(break_opportunities(text, "th"))
    ws = words(text, bold=False, base=0, language="th", max_units=20000)
    assert len(ws) > 1
    assert all(w.units <= 20000 for w in ws)
    ends = []
    at = 0
    for w in ws[:-1]:
        at += sum(len(r.text) for r in w.runs)
        ends.append(at)
    assert set(ends) <= allowed, "a Thai line was cut inside a word"


def test_cjk_paragraph_wraps_into_lines_that_fit(cjk_font: None) -> None:
    text = SAMPLES["zh-Hans"][2][0]
    ws = words(text, bold=False, base=0, language="zh-Hans", max_units=40000)
    assert len(ws) >= 3
    assert all(w.units <= 40000 for w in ws)
    assert "".join(r.text for w in ws for r in w.runs) == text
    assert not any("".join(r.text for r in w.runs).startswith(("，", "。", "」")) for w in ws)


ALPHABET = (
    "abc xyz,.()-"  # Latin, punctuation
    "سلام گپ"  # Arabic and Persian
    "שלום"  # Hebrew
    "ประเทศไทย"  # Thai
    "नगर पुस्तकालय"  # Devanagari
    "图书馆。「」，"  # CJK (drawn only where the CJK font is installed)
    "\U0001f4a7\U0001f1fa\U0001f1f3"  # emoji, a flag
    "\u200c\u200d\ufe0f\n"
)


def rebuilt(ws: list[object]) -> str:
    out = []
    for w in ws:
        out.append("".join(r.text for r in w.runs))  # type: ignore[attr-defined]
        out.append(w.space)  # type: ignore[attr-defined]
    return "".join(out)


def expected(text: str) -> str:
    text = text.strip()
    return re.sub(r"\s+", lambda m: "\n" if "\n" in m.group() else " ", text)


@pytest.mark.parametrize("with_breaks", [False, True])
def test_words_keep_every_character_in_order(with_breaks: bool) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    cjk = not isinstance(fonts.locate(next(f for f in fonts.FAMILIES if f.system)), str)
    alphabet = ALPHABET if cjk else re.sub("[图书馆。「」，]", "", ALPHABET)

    @settings(max_examples=150, deadline=None)
    @given(st.text(alphabet=alphabet, min_size=1, max_size=80), st.integers(800, 30000))
    def check(text: str, width: int) -> None:
        breaks = break_opportunities(text, None) if with_breaks else None
        ws = words(text, bold=False, base=0, language=None, max_units=width, breaks=breaks)
        assert rebuilt(ws).rstrip() == expected(text)

    check()


def test_icu_is_loaded_only_by_text_that_needs_it() -> None:
    import sys

    code = (
        "import sys; sys.path.insert(0, 'tests'); import test_fonts as t; "
        "t.render('hi'); t.render('fa'); t.render('emoji'); "
        "print('icu4py' in sys.modules); t.render('th'); print('icu4py' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True"]


def test_check_coverage_names_the_first_uncovered_character_in_reading_order() -> None:
    """Characters are looked up once each; a miss is still reported where a reader
    meets it first, from an iterator of parts as from a list."""
    parts = [
        ("the title", "Plain words"),
        ("paragraph 1", "Still plain \u200d\ufe0f"),
        ("paragraph 2", "Then \U00013000 and \U00013001"),
        ("paragraph 3", "\U00013001 first here"),
    ]
    fonts.check_coverage(parts[:2])
    fonts.check_coverage(iter(parts[:2]))
    for given in (parts, iter(parts)):
        with pytest.raises(RenderError, match=r"U\+13000 .* in paragraph 2 has no glyph"):
            fonts.check_coverage(given)
