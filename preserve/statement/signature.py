"""The signature block: who signed (name), in what office (role), and sign-offs.

A name is told from a role by its shape and by the role words below; the word
lists are data, kept here and nowhere else.
"""

from __future__ import annotations

import re

from preserve.statement.sentences import ends_sentence

#: Words that mark a line as a role or office rather than a person's name.
ROLE_WORDS: tuple[str, ...] = tuple(
    w.casefold()
    for w in (
        "commissioner",
        "ombudsman",
        "ombudsperson",
        "defender",
        "chair",
        "chairman",
        "chairwoman",
        "chairperson",
        "director",
        "president",
        "minister",
        "secretary",
        "representative",
        "rapporteur",
        "head of",
        "spokesperson",
        "spokesman",
        "deputy",
        "ambassador",
        "advocate",
        "mediator",
        "coordinator",
        "executive",
        "officer",
        "board",
        "council",
        "office",
        "committee",
        "members of",
        "on behalf of",
        "inspector",
        "chief",
        "adviser",
        "advisor",
        "press service",
        "press office",
        "press secretary",
        "spokeswoman",
        "vice-",
        "member of",
        "staff of",
        "team",
        "general",
        "human rights",
        # Azerbaijani
        "müvəkkil",
        "ombudsman",
        "sədr",
        "rəhbər",
        "nazir",
        "direktor",
        "katib",
        "nümayəndə",
        "komissar",
        "idarə",
        "aparat",
        "mətbuat",
        "xidmət",
        "insan hüquqları",
        # Russian
        "уполномоченн",
        "омбудсмен",
        "председател",
        "директор",
        "министр",
        "секретар",
        "представител",
        "руководител",
        "комиссар",
        "заместител",
        "пресс-служба",
        "аппарат",
        "по правам человека",
        # Armenian
        "պաշտպան",
        "նախագահ",
        "տնօրեն",
        "նախարար",
        "քարտուղար",
        "ներկայացուցիչ",
        # Georgian
        "დამცველი",
        "თავმჯდომარე",
        "დირექტორი",
        "მინისტრი",
        "მდივანი",
        "წარმომადგენელი",
        # Arabic
        "رئيس",
        "مفوض",
        "المفوض",
        "أمين عام",
        "الأمين العام",
        "مدير",
        "وزير",
        "ممثل",
        "ديوان",
        "المظالم",
    )
)

#: Closing formulas that stand before a signature and are neither name nor role.
_SIGN_OFFS = frozenset(
    s.casefold()
    for s in (
        "Sincerely",
        "Yours sincerely",
        "Sincerely yours",
        "Yours faithfully",
        "Respectfully",
        "Respectfully yours",
        "With respect",
        "Regards",
        "Kind regards",
        "Best regards",
        "Hörmətlə",
        "Ehtiramla",
        "Dərin hörmətlə",
        "С уважением",
        "С глубоким уважением",
        "Искренне ваш",
        "Искренне Ваш",
        "Հարգանքով",
        "Հարգանքով՝",
        "პატივისცემით",
        "مع التحية",
        "مع خالص التحية",
        "مع خالص التحيات",
        "مع أطيب التحيات",
        "وتفضلوا بقبول فائق الاحترام",
        "وتفضلوا بقبول فائق الاحترام والتقدير",
    )
)

#: Lower-case words that belong inside a person's name (particles, patronymics).
_NAME_PARTICLES = frozenset(
    word
    for words in (
        "van von de der den da di du la le del della",
        "bin bint ibn al el y oğlu qızı kızı",
    )
    for word in words.split()
)
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_.'’\-]*(?:[.'’\-][^\W\d_]*)*\.?$")
#: Scripts with no capital letters in everyday use (Georgian Mkhedruli has
#: Mtavruli capitals in Unicode, so Python calls its letters lower case).
_UNCASED = ((0x10D0, 0x10FF), (0x2D00, 0x2D2F))


def _is_role(line: str) -> bool:
    folded = line.casefold()
    return any(word in folded for word in ROLE_WORDS)


def is_sign_off(line: str) -> bool:
    return " ".join(line.split()).casefold().rstrip(" ,.!:՝") in _SIGN_OFFS


def is_signature_line(line: str) -> bool:
    """Short, not a sentence: what a name or a role line looks like."""
    stripped = line.strip()
    return (
        0 < len(stripped) <= 200
        and len(stripped.split()) <= 20
        and not ends_sentence(stripped)
        and not stripped.startswith(("-", "•", "*", "–", "—"))
    )


def _capitalised(word: str) -> bool:
    first = word[0]
    return (
        first.isupper() or not first.islower() or any(lo <= ord(first) <= hi for lo, hi in _UNCASED)
    )


def _is_name(line: str) -> bool:
    """A person's name: 1-5 words of letters, capitalised where the script has capitals."""
    words = line.split()
    if not 1 <= len(words) <= 5 or len(line) > 80 or _is_role(line):
        return False
    if not all(_NAME_WORD.match(w) for w in words):
        return False
    named = [w for w in words if w.casefold() not in _NAME_PARTICLES]
    return bool(named) and all(_capitalised(w) for w in named) and _capitalised(words[0])


def split_signature(
    lines: list[str], block_of: list[int]
) -> tuple[str | None, str | None, list[bool], list[str]]:
    """Name and role from the signature lines; which lines were used; other names.

    The name is a line that looks like a person's name, preferably one next to an
    office line; the role is the office line(s) after it (in its block, or the next
    block when the name stands alone, as scraped pages have it), else the office
    lines just before it. "Name, Role" or "Name – Role" on one line is split.
    """
    used = [False] * len(lines)
    names = [i for i, line in enumerate(lines) if _is_name(line)]
    if not names:
        for i, line in enumerate(lines):
            for sep in (",", " – ", " — ", " - "):
                if sep in line:
                    head, tail = (part.strip() for part in line.split(sep, 1))
                    if _is_name(head) and _is_role(tail):
                        used[i] = True
                        return head, tail, used, []
        return None, None, used, []

    def next_to_role(i: int) -> bool:
        return any(0 <= j < len(lines) and _is_role(lines[j]) for j in (i - 1, i + 1))

    first = next((n for n in names if next_to_role(n)), names[0])
    role_lines = _role_lines(lines, block_of, first)
    used[first] = True
    for j in role_lines:
        used[j] = True
    role = " ".join(lines[j] for j in role_lines) or None
    # A joint statement: the other signers (and their roles) are signature, not body.
    extra: list[str] = []
    for n in names:
        if not used[n]:
            extra.append(lines[n])
            used[n] = True
            for j in _role_lines(lines, block_of, n):
                used[j] = True
    return lines[first], role, used, extra


def _role_lines(lines: list[str], block_of: list[int], i: int) -> list[int]:
    """The office lines of the name at ``i``.

    In order: the rest of its block; office lines just above it in its block (role
    before name); the next block when the name stands alone (scraped pages put blank
    lines between name and role); office lines just above it across a blank line.
    """

    def run_from(candidates: list[int]) -> list[int]:
        if not any(_is_role(lines[j]) for j in candidates):
            return []
        run: list[int] = []
        for j in candidates:
            if _is_name(lines[j]):  # the next signer of a joint statement
                break
            run.append(j)
        return run

    def roles_above(same_block: bool) -> list[int]:
        above: list[int] = []
        for j in range(i - 1, -1, -1):
            if not _is_role(lines[j]) or (same_block and block_of[j] != block_of[i]):
                break
            above.insert(0, j)
        return above

    after = [j for j in range(i + 1, len(lines)) if block_of[j] == block_of[i]]
    if after:
        return run_from(after) or roles_above(True)
    found = roles_above(True)
    if not found and i + 1 < len(lines):
        found = run_from([j for j in range(i + 1, len(lines)) if block_of[j] == block_of[i + 1]])
    return found or roles_above(False)
