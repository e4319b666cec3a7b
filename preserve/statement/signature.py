"""The signature block: who signed (names), in what office (roles), and sign-offs.

A name is told from a role by its shape and by role vocabulary in the project's
languages, matched as whole words or word stems, never inside another word ("board"
is no role inside "Boardman"). The word lists are data, kept here and nowhere else;
:mod:`~preserve.statement.parsing` decides which lines are the signature block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from preserve.statement._record import Signer
from preserve.statement.sentences import SENTENCE_END, ends_sentence

#: Words that mark a line as an office rather than a person's name, per language.
#: A trailing ``*`` matches the word's inflected forms (a stem at a word start);
#: a leading ``*`` too matches it at the end of a compound ("Bürgerbeauftragte").
#: Chinese entries match anywhere (the script has no spaces between words).
ROLE_VOCABULARY: dict[str, str] = {
    "en": "archivist* librarian* principal dean rector commissioner* ombudsman ombudsmen "
    "ombudsperson* ombudswoman defender* advocate "
    "chair chairs chairman chairwoman chairperson director* director-general president* "
    "vice-president* minister* secretary secretary-general rapporteur* head representative* "
    "spokesperson spokesman spokeswoman deputy ambassador* mediator* coordinator* officer* "
    "inspector* chief adviser* advisor* executive member members governor mayor judge "
    "prosecutor* registrar founder* co-founder* manager* counsel",
    "fr": "défenseur* défenseure* médiateur* médiatrice* président* présidente* directeur* "
    "directrice* ministre* secrétaire* rapporteur* rapporteuse* commissaire* délégué* "
    "déléguée* contrôleur* contrôleure* contrôleuse* porte-parole chef cheffe responsable* "
    "représentant* représentante* ambassadeur* ambassadrice* adjoint* adjointe* conseiller* "
    "conseillère* inspecteur* inspectrice* haut-commissaire* maire préfet*",
    "es": "defensor* defensora* presidente* presidenta* director* directora* ministro* "
    "ministra* secretario* secretaria* relator* relatora* comisionado* comisionada* "
    "procurador* procuradora* jefe jefa portavoz representante* coordinador* coordinadora* "
    "subdirector* subdirectora* vicepresidente* vicepresidenta* embajador* embajadora* "
    "consejero* consejera* titular adjunto adjunta alcalde alcaldesa",
    "de": "*beauftragte* *präsident* *vorsitzende* *direktor* *minister* *sekretär* "
    "sprecher* sprecherin* leiter* leiterin* geschäftsführer* berichterstatter* "
    "bürgermeister* ombudsfrau ombudsmann vorstand* kommissar*",
    "ru": "уполномоченн* омбудсмен* председател* директор* министр* секретар* представител* "
    "руководител* комиссар* заместител* пресс-служб* пресс-секретар* глава начальник* "
    "президент* советник* докладчик* правозащитник* защитник* губернатор* прокурор* мэр",
    "uk": "уповноважен* омбудсман* голова голови заступник* директор* міністр* секретар* "
    "представник* керівник* комісар* речник* прес-служб* президент* радник* доповідач* "
    "начальник*",
    "tr": "başdenetçi* denetçi* ombudsman* başkan* müdür* bakan* sekreter* temsilci* sözcü* "
    "koordinatör* danışman* yardımcı* müsteşar* vali* raportör* genel",
    "az": "müvəkkil* ombudsman* sədr* rəhbər* nazir* direktor* katib* nümayəndə* komissar* "
    "müdir* başçı* rəis* müavin* prezident* məruzəçi* sözçü* mətbuat",
    "hy": "պետ պաշտպան* նախագահ* տնօրեն* նախարար* քարտուղար* ներկայացուցիչ* ղեկավար* տեղակալ* "
    "հանձնակատար* խոսնակ* օմբուդսմեն*",
    "ka": "დამცველ* თავმჯდომარე* დირექტორ* მინისტრ* მდივან* წარმომადგენელ* ხელმძღვანელ* "
    "მოადგილე* უფროს* სპიკერ* კომისარ* ომბუდსმენ* პრესსამსახურ*",
    "ar": "رئيس* مفوض* المفوض* أمين* الأمين* مدير* المدير* وزير* الوزير* ممثل* الممثل* "
    "مقرر* المقرر* المتحدث* متحدث* نائب* مستشار* المستشار* منسق* المنسق* سفير* "
    "ديوان المظالم",
    "fa": "رئیس* مدیر* وزیر* دبیر* دبیرکل* نماینده* سخنگو* معاون* گزارشگر* کمیسر* مشاور* بازرس*",
    "he": 'נציב* נציבת* יו"ר יושב יושבת מנכ"ל* מנכ"לית* מנהל* מנהלת* שר שרת מזכיר* '
    "מזכירת* דובר* דוברת* סגן* סגנית* ראש נשיא* נשיאת* מבקר* ממונה* יועץ* יועצת* מתאם* "
    "שגריר*",
    "zh": "馆长 館長 校长 校長 所长 所長 社长 社長 董事长 董事長 总裁 總裁 总监 總監 书记 書記 "
    "市长 市長 区长 區長 县长 縣長 省长 省長 科长 科長 组长 組長 行长 行長 秘书 秘書 经理 "
    "經理 主席 主任 专员 專員 部长 部長 院长 院長 秘书长 秘書長 监察 監察 发言人 發言人 "
    "会长 會長 局长 局長 委员 委員 理事长 理事長 报告员 報告員 大使 代表 总干事 總幹事 "
    "负责人 負責人 署长 署長 厅长 廳長 司长 司長 处长 處長 检察官 檢察官",
}
#: Phrases that name an office without one of the words above (several words).
ROLE_PHRASES: tuple[str, ...] = (
    "head of",
    "on behalf of",
    "press service",
    "press office",
    "press secretary",
    "human rights",
    "public defender",
    "défenseur des droits",
    "défenseure des droits",
    "en nombre de",
    "im auftrag",
    "по правам человека",
    "з прав людини",
    "insan hakları",
    "insan hüquqları",
    "kamu denetçi",
    "adına",
    "от имени",
    "від імені",
    "au nom de",
    "im namen",
    "باسم",
    "به نمایندگی",
    "בשם",
    "代表",
)
#: Institutions: a line naming one is not a person (and is the signer's organization).
ORG_VOCABULARY = (
    "office* board committee* council* commission* institution* ministry* department* "
    "agency* bureau* secretariat* institute* fund foundation* association* union* centre* "
    "center* network* coalition* society organization* organisation* ministère* "
    "commission* conseil* institution* comité* défensoría* defensoría* ministerio* "
    "comisión* oficina* consejo* procuraduría* institución* büro* ministerium* kommission* "
    "stelle* behörde* amt* ausschuss* аппарат* министерств* комисси* управлени* "
    "офис* служб* совет* секретариат* апарат* міністерств* комісі* управлінн* служб* "
    "рада kurum* kurumu* bakanlığı* başkanlığı* komisyon* aparat* aparatı* idarə* "
    "nazirliy* komissiya* şura* ofis* գրասենյակ* նախարարություն* հանձնաժողով* აპარატ* "
    "სამინისტრო* კომისია* ოფის* ديوان* وزارة* مكتب* هيئة* مفوضية* المفوضية* لجنة* "
    "مجلس* دفتر* وزارت* کمیسیون* سازمان* نهاد* משרד* נציבות* ועדת* הוועדה* "
    "委员会 委員會 办公室 辦公室 部 署 局 厅 公署"
)

#: Closing formulas that stand before a signature and are neither name nor role.
_SIGN_OFFS = frozenset(
    s.casefold()
    for s in (
        "Sincerely",
        "Yours sincerely",
        "Sincerely yours",
        "Yours faithfully",
        "Yours truly",
        "Respectfully",
        "Respectfully yours",
        "With respect",
        "Regards",
        "Kind regards",
        "Best regards",
        "With best regards",
        "Hörmətlə",
        "Ehtiramla",
        "Dərin hörmətlə",
        "С уважением",
        "С глубоким уважением",
        "Искренне ваш",
        "З повагою",
        "З глибокою повагою",
        "Հարգանքով",
        "პატივისცემით",
        "مع التحية",
        "مع خالص التحية",
        "مع خالص التحيات",
        "مع أطيب التحيات",
        "بإحترام",
        "باحترام",
        "مع الاحترام",
        "وتفضلوا بقبول فائق الاحترام",
        "وتفضلوا بقبول فائق الاحترام والتقدير",
        "با احترام",
        "با سپاس",
        "בברכה",
        "בכבוד רב",
        "Atentamente",
        "Cordialmente",
        "Saludos cordiales",
        "Un saludo",
        "Cordialement",
        "Bien cordialement",
        "Respectueusement",
        "Veuillez agréer l'expression de mes salutations distinguées",
        "Mit freundlichen Grüßen",
        "Mit freundlichen Grüssen",
        "Hochachtungsvoll",
        "Freundliche Grüße",
        "Saygılarımla",
        "Saygılarımızla",
        "此致",
        "敬礼",
        "此致敬礼",
        "此致 敬礼",
    )
)
_SIGN_OFF_STRIP = " ,.!:;՝،—–-"

#: Lower-case words that belong inside a person's name (particles, patronymics).
_NAME_PARTICLES = frozenset(
    word
    for words in (
        "van von de der den da di du la le del della dos das des y e",
        "bin bint ibn al el oğlu qızı kızı",
    )
    for word in words.split()
)
#: Short words an office's name cannot end in ("Chair of the", "Defensoría del").
_FUNCTION_WORDS = frozenset(
    "of the for and to on in at de del della des du la le les los las el al au aux der die "
    "das den dem von für mit zur zum im am по в на з у із при da do dos e y et und и і та".split()
)
#: Words of site text: a line made of them is a menu or a button, never a person.
_SITE_WORDS = frozenset(
    word.casefold()
    for words in (
        "privacy policy cookie cookies media release releases news view telegram share home",
        "contact contacts search menu subscribe login sitemap archive print follow like",
        "comment comments read more back top next previous related tags copyright rights",
        "reserved version download pdf website site page channel open app facebook twitter",
        "instagram youtube whatsapp linkedin newsletter terms conditions accessibility",
        "gizlilik siyasəti politikası paylaş xəbərlər əlaqə teilen datenschutz impressum",
        "kontakt drucken politique confidentialité mentions légales imprimer partager",
        "política privacidad aviso legal compartir noticias imprimir поделиться новости",
        "контакты главная печать политика конфиденциальности поширити новини друк",
        "haberler iletişim yazdır çerez",
    )
    for word in words.split()
)
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_.'’\-]*(?:[.'’\-][^\W\d_]+)*\.?$")
#: Initials: "A.", "A.B.", "И.И." (a capital and a full stop, repeated).
_INITIALS = re.compile(r"^(?:[^\W\d_]\.){1,3}$")
#: Scripts with no capital letters in everyday use (Georgian Mkhedruli has
#: Mtavruli capitals in Unicode, so Python calls its letters lower case).
_UNCASED = ((0x10D0, 0x10FF), (0x2D00, 0x2D2F))
_RTL_LETTERS = ((0x0590, 0x05FF), (0x0600, 0x06FF), (0x0750, 0x077F), (0xFB1D, 0xFDFF))
_HAN = re.compile(
    r"^[\u3400-\u4dbf\u4e00-\u9fff]{2,4}$|^[\u4e00-\u9fff]{1,6}[·•][\u4e00-\u9fff]{1,8}$"
)
_HAN_LINE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,20}")
_SEPARATORS = (", ", " – ", " — ", " - ", " | ", "، ", "，")


@cache
def _vocabulary_pattern(words: str, extra: tuple[str, ...] = ()) -> re.Pattern[str]:
    """One regex for a vocabulary: whole words, stems (``x*``), compound ends (``*x*``).

    Words of the same shape share one group inside one pair of word-boundary checks:
    the same matches as a lookbehind and lookahead around each word (the regex still
    tries every word at each position), at a quarter of the compile time (~30 ms for
    the role vocabulary, on every command that reads a signature).
    """
    shapes: dict[tuple[str, str, str], list[str]] = {}
    han: list[str] = []
    for word in words.split():
        core = re.escape(word.strip("*").casefold())
        if all("\u3400" <= ch <= "\u9fff" for ch in word.strip("*")):
            han.append(core)
            continue
        # Arabic, Persian and Hebrew glue conjunctions and articles to the word.
        prefix = r"(?:و|ف|ب|ل|لل|ال|وال|بال|ה|ו|ש|ל|ב|מ)?" if _is_rtl(word) else ""
        start = r"\w*" if word.startswith("*") else ""
        end = r"\w*" if word.endswith("*") else r"s?" if word.isascii() else ""
        shapes.setdefault((prefix, start, end), []).append(core)
    parts = []
    if shapes:
        inner = "|".join(
            f"{prefix}{start}(?:{'|'.join(cores)}){end}"
            for (prefix, start, end), cores in shapes.items()
        )
        parts.append(rf"(?<![\w\-])(?:{inner})(?![\w\-])")
    parts += han
    for phrase in extra:
        parts.append(rf"(?<!\w){re.escape(phrase.casefold())}")
    return re.compile("|".join(parts))


def _is_rtl(text: str) -> bool:
    return any(lo <= ord(ch) <= hi for ch in text for lo, hi in _RTL_LETTERS)


def _role_pattern() -> re.Pattern[str]:
    return _vocabulary_pattern(" ".join(ROLE_VOCABULARY.values()), ROLE_PHRASES)


def is_role(line: str) -> bool:
    """True when the line names an office (role vocabulary as whole words or stems)."""
    return _role_pattern().search(_fold(line)) is not None or is_organization(line)


def is_organization(line: str) -> bool:
    """True when the line names an institution rather than a person or an office."""
    return _vocabulary_pattern(ORG_VOCABULARY).search(_fold(line)) is not None


def _names_institution(line: str) -> bool:
    """A line that starts with an institution's word ("Office of…", "Defensoría del…"),
    or a Han line that names one ("市教育局")."""
    if _HAN_LINE.fullmatch(line.strip()):
        return is_organization(line) and not _personal_role(line)
    words = _fold(line).split()
    if words and words[0] in {"the", "el", "la", "le", "l'", "der", "die", "das"}:
        words = words[1:]
    return bool(words) and _vocabulary_pattern(ORG_VOCABULARY).match(words[0]) is not None


def _personal_role(line: str) -> bool:
    return _role_pattern().search(_fold(line)) is not None


def _fold(line: str) -> str:
    return " ".join(line.replace("’", "'").split()).casefold()


def is_sign_off(line: str) -> bool:
    """A closing formula ("Sincerely,", "С уважением,", "此致"): before the signature."""
    return _fold(line).strip(_SIGN_OFF_STRIP) in _SIGN_OFFS


def after_sign_off(line: str) -> str | None:
    """ "Anna Example" from "Sincerely, Anna Example" (a sign-off and more on one line)."""
    text = " ".join(line.replace("’", "'").split())
    folded = text.casefold()
    for sign_off in _SIGN_OFFS:
        if folded.startswith(sign_off) and len(folded) > len(sign_off):
            rest = text[len(sign_off) :]
            if rest[0] in _SIGN_OFF_STRIP + " ":
                return rest.strip(_SIGN_OFF_STRIP + " ") or None
    return None


#: A sentence ends inside the line and another begins: prose, not a signature line.
_ENDS_IN_INITIAL = re.compile(r"(?:^|[\s.])[^\W\d_]\.$")
_INNER_SENTENCE = re.compile(r"[^\W\d_]{3,}[.!?։。]\s+[^\W\d_]")


def is_signature_line(line: str) -> bool:
    """Short, not a sentence: what a name or a role line looks like."""
    stripped = line.strip()
    return (
        0 < len(stripped) <= 200
        and len(stripped.split()) <= 16
        and (not ends_sentence(stripped) or _ENDS_IN_INITIAL.search(stripped) is not None)
        and not _INNER_SENTENCE.search(stripped)
        and not stripped.startswith(("-", "•", "*", "–", "—"))
    )


def _capitalised(word: str) -> bool:
    first = word[0]
    return (
        first.isupper() or not first.islower() or any(lo <= ord(first) <= hi for lo, hi in _UNCASED)
    )


def signature_text(line: str) -> str:
    """A signature line as a name or office: spaces folded, and the comma or semicolon
    that joins it to the next line dropped ("Maria Jones," over her office)."""
    return " ".join(line.split()).strip(" ,;")


def name_strength(line: str) -> float:
    """How much a line looks like a person's name alone (0: not at all, 1: surely).

    Two to four capitalised words (initials allowed: "A. B. Petrov", "Петров И.И."),
    or a name in a script without capitals (Georgian, Arabic, Hebrew, Persian, Han);
    never a line with role or site vocabulary in it. One word is a weak name: it may
    as well be a button or a site's name.
    """
    text = signature_text(line)
    if not text or len(text) > 80 or is_role(text):
        return 0.0
    if _HAN.match(text):
        return 0.8
    # "И.И. Петров" and "A.B.Petrov": initials glued to each other or to the surname.
    words = re.sub(r"(?<=\.)(?=[^\W\d_])", " ", text).split()
    if not all(_NAME_WORD.match(w) or _INITIALS.match(w) for w in words):
        return 0.0
    if any(w.casefold().strip(".") in _SITE_WORDS for w in words):
        return 0.0
    named = [w for w in words if w.casefold() not in _NAME_PARTICLES]
    if not named or not _capitalised(words[0]) or not all(_capitalised(w) for w in named):
        return 0.0
    if len(named) > 5:
        return 0.0
    full = [w for w in named if not _INITIALS.match(w)]
    if not full:
        return 0.0
    if len(named) == 1:
        return 0.3
    letters = [ch for w in full for ch in w if ch.isalpha()]
    if len(full) > 1 and all(ch.isupper() for ch in letters):
        return 0.5  # "VIEW IN TELEGRAM", "MEDIA RELEASES": a banner more often than a name
    return 0.9 if len(named) <= 4 else 0.6


def _split_name_role(line: str) -> tuple[str, str] | None:
    """(name, role) from one line: "Name, Role", "Role, Name", "Role Name", "Name Role"."""
    text = signature_text(line)
    if len(text) > 200 or (ends_sentence(text) and not text.endswith(".")):
        return None
    for sep in _SEPARATORS:
        if sep in text:
            head, tail = (p.strip(" ,;") for p in text.split(sep, 1))
            if name_strength(head) >= 0.6 and is_role(tail):
                return head, tail
            if is_role(head) and name_strength(tail) >= 0.6:
                return tail, head
    words = text.split()
    # "Уполномоченный по правам человека И. Петров", "Директор городского архива
    # Н. П. Белова": the name at the end of the line. Without a comma the boundary
    # must be plain: the name has initials, or the office ends in a lower-case word
    # that is no particle ("Chair of the" + "Board", "Directora del CEIP" + "Los
    # Olivos" are not splits).
    for k in (4, 3, 2):
        if len(words) <= k:
            continue
        role, name = " ".join(words[:-k]), " ".join(words[-k:])
        before = words[-k - 1]
        plain = any(_INITIALS.match(w) for w in name.split()) or (
            before[:1].islower() and before.casefold() not in _FUNCTION_WORDS
        )
        if (
            plain
            and _personal_role(role)
            and name_strength(name) >= 0.6
            and not is_role(name)
            and any(ch.isupper() for ch in name)  # a script without capitals needs a comma
        ):
            return name, role
    # "Leyla Həsənova Commissioner for Human Rights": an office of two words or more,
    # starting with a capitalised office word, after a name with no institution in it.
    for k in (2, 3):
        if len(words) > k + 1:
            name, role = " ".join(words[:k]), " ".join(words[k:])
            if (
                name_strength(name) >= 0.9
                and words[k][:1].isupper()
                and _personal_role(words[k])
                and any(ch.isupper() for ch in name)
            ):
                return name, role
    # "總經理 林志明", "市体育局局长 王建国": a Han office, a space, a Han name.
    han = re.fullmatch(r"([\u4e00-\u9fff]{2,30})\s+([\u4e00-\u9fff]{2,4})", text)
    if han and _personal_role(han.group(1)) and not is_role(han.group(2)):
        return han.group(2), han.group(1)
    # Chinese "国家人权委员会主任 王伟" without a space is caught by the separators above
    # only when spaced; a Han role directly followed by a 2-3 character name:
    han = re.fullmatch(r"([\u4e00-\u9fff]{2,30})\s*([\u4e00-\u9fff]{2,3})", text)
    if han and _personal_role(han.group(1)) and not is_role(han.group(2)):
        return han.group(2), han.group(1)
    return None


@dataclass
class SignatureReading:
    """What the signature lines say: who signed, and which lines that took."""

    signers: list[Signer] = field(default_factory=list)
    #: One flag per input line: part of the signature (name, role, organization).
    used: list[bool] = field(default_factory=list)
    #: 0..1: how sure the first signer's name is.
    confidence: float = 0.0
    #: A line that might be the signer but was not trusted (for the note).
    unsure_name: str | None = None
    #: A line next to the name that might be the role but is no known office.
    unsure_role: str | None = None


def read_signature(
    lines: list[str], block_of: list[int], signed_off: bool = False
) -> SignatureReading:
    """Signers (name, role, organization) from the signature lines, in order.

    ``lines`` are the candidate lines (dates and sign-offs already set aside), with
    the paragraph block each belongs to. Names and roles pair by structure: a name
    and the office lines under it (or above it, when the block starts with an
    office), "Name, Role" on one line, or an office with the name at its end. A line
    that is neither name nor office stays out of the signature.
    """
    reading = SignatureReading(used=[False] * len(lines))
    kinds: list[str] = []
    split: dict[int, tuple[str, str]] = {}
    for i, line in enumerate(lines):
        strength = name_strength(line)
        pair = None if strength >= 0.6 else _split_name_role(line)
        if pair is not None:
            kinds.append("pair")
            split[i] = pair
        elif strength >= 0.6:
            kinds.append("name")
        elif is_role(line):
            kinds.append("role")
        elif strength > 0:
            kinds.append("weak")
        else:
            kinds.append("other")
    names = [i for i, k in enumerate(kinds) if k in {"name", "pair"}]
    if not names and len(lines) == 1 and _names_institution(lines[0]):
        # Only an institution signs ("Office of the Commissioner"): it is the signer.
        reading.signers.append(Signer(" ".join(lines[0].split())))
        reading.used[0] = True
        reading.confidence = 0.7
        return reading
    if not names:
        weak = [i for i, k in enumerate(kinds) if k == "weak"]
        if weak:
            reading.unsure_name = lines[weak[-1]]
        return reading
    # Role before name: the block starts with an office and the name follows it.
    role_first = kinds[0] == "role" and kinds[names[0] - 1] == "role"
    groups: list[list[int]] = []
    if role_first:
        current: list[int] = []
        for i, kind in enumerate(kinds):
            if kind == "role":
                if current and any(kinds[j] in {"name", "pair"} for j in current):
                    groups.append(current)
                    current = []
                current.append(i)
            elif kind in {"name", "pair"}:
                if any(kinds[j] in {"name", "pair"} for j in current):
                    groups.append(current)
                    current = []
                current.append(i)
        if current:
            groups.append(current)
    else:
        current = []
        for i, kind in enumerate(kinds):
            if kind in {"name", "pair"}:
                if current:
                    groups.append(current)
                current = [i]
            elif kind == "role" and current:
                # A role belongs to the name above it in the same block, or in the
                # next block when the name stands alone in its own.
                last = current[-1]
                if block_of[i] == block_of[last] or (
                    block_of[i] == block_of[last] + 1
                    and kinds[last] == "name"
                    and len(current) == 1
                ):
                    current.append(i)
            elif kind == "role" and not current:
                continue
        if current:
            groups.append(current)
    # Two name-shaped lines in one block, neither with an office: the second may be
    # an office we do not know ("Kamu Başdenetçisi"), so it is no second signer.
    merged: list[list[int]] = []
    for group in groups:
        has_role = any(kinds[j] in {"role", "pair"} for j in group)
        if merged:
            previous = merged[-1]
            prev_role = any(kinds[j] in {"role", "pair"} for j in previous)
            if (
                not has_role
                and not prev_role
                and len(previous) == 1
                and len(group) == 1
                and block_of[group[0]] == block_of[previous[0]]
                and group[0] == previous[0] + 1
            ):
                reading.unsure_role = lines[group[0]]
                continue
        merged.append(group)
    for group in merged:
        name: str | None = None
        roles: list[str] = []
        for j in group:
            if kinds[j] == "pair":
                name, role = split[j]
                roles.append(role)
            elif kinds[j] == "name":
                name = signature_text(lines[j])
            else:
                roles.append(signature_text(lines[j]))
            reading.used[j] = True
        if name is None:
            continue
        organization = None
        if len(roles) > 1 and _names_institution(roles[-1]):
            organization = roles.pop()
        reading.signers.append(Signer(name, " ".join(roles) or None, organization))
    first = merged[0]
    has_role = any(kinds[j] in {"role", "pair"} for j in first)
    strength = (
        max(name_strength(lines[j]) for j in first if kinds[j] == "name")
        if any(kinds[j] == "name" for j in first)
        else 0.9
    )
    reading.confidence = min(1.0, strength + (0.1 if has_role or signed_off else 0.0))
    # A line right under the name that is neither name nor office ("for the library
    # team") may be the role: said, not taken.
    nxt = first[-1] + 1
    if (
        not has_role
        and reading.unsure_role is None
        and nxt < len(lines)
        and kinds[nxt] == "other"
        and block_of[nxt] == block_of[first[-1]]
    ):
        reading.unsure_role = lines[nxt]
        return reading
    if reading.unsure_role and not has_role:
        reading.used[lines.index(reading.unsure_role)] = True
    return reading


def signature_in_last_line(line: str) -> tuple[str, Signer] | None:
    """A signature run into the end of the last paragraph's line: (the prose, signer).

    "… we will go on with this work. Anna Example, Commissioner" — the text after the
    last sentence is a name with an office (or a name alone of two to four words).
    """
    text = " ".join(line.split())
    cut = max(text.rfind(ch + " ") for ch in SENTENCE_END)
    if cut <= 0:
        return None
    prose, tail = text[: cut + 1], text[cut + 2 :].strip(" —–-")
    if not tail or ends_sentence(tail) or len(tail.split()) > 16:
        return None
    pair = _split_name_role(tail)
    if pair is not None:
        return prose, Signer(pair[0], pair[1])
    if name_strength(tail) >= 0.9 and len(tail.split()) >= 2:
        return prose, Signer(tail)
    return None
