"""Web-page leftovers: site text that scraping brings along with a statement.

Menus, breadcrumbs, share and print buttons, social-media headers and counters,
cookie and privacy lines, the site's own footer, "last modified" lines and photo
credits are recognised by word lists in the project's languages *and* by shape
(separators, counters, times, icon rows). They are looked for only where a page
puts them: before the body (the page header, with labels, datelines and the
title's own lines kept), and after it (the footer: site text below the
signature, with the statement's own contact lines, P.S. and annexes kept). Body
text is never cut: a photo caption inside it stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from preserve.statement.sentences import CLOSERS, ends_sentence


def fold(line: str) -> str:
    """A line for matching: one space between words, case folded, Turkic i's as plain i.

    "AÇIQLAMA".casefold() is "açiqlama" but "Açıqlama".casefold() is "açıqlama":
    dotless and dotted i are made plain "i" on both sides of every comparison.
    """
    folded = " ".join(line.split()).casefold()
    return folded.replace("\u0131", "i").replace("i\u0307", "i")


def _folded(words: Iterable[str]) -> frozenset[str]:
    return frozenset(fold(w) for w in words)


#: Whole lines of site text: navigation, buttons, section names, sharing, language
#: switches. Matched case-insensitively against a whole line (icons and edge
#: punctuation ignored), only in the page's header and footer.
LEFTOVER_LINES: frozenset[str] = _folded(
    (
        # English
        *("Search in archive", "Search the archive", "Search", "Archive", "Print", "Share"),
        *("Back", "Go back", "Back to top", "Home", "News", "Read more", "Share this"),
        *("Print version", "Version for the visually impaired", "Subscribe", "Tags"),
        *("Previous", "Next", "Related news", "Facebook", "Twitter", "X", "Telegram"),
        *("WhatsApp", "LinkedIn", "Email", "Copy link", "Menu", "Close", "Media releases"),
        *("Press releases", "Newsroom", "Latest news", "All news", "More news", "Download"),
        *("Download PDF", "Contact us", "Contacts", "Contact", "Sitemap", "Skip to content"),
        *("Skip to main content", "Follow us", "View in Telegram", "Open in Telegram"),
        *("Join channel", "Listen", "Text size", "Font size", "Accessibility", "Login"),
        *("Log in", "Sign in", "Cookie settings", "Accept", "Accept all", "Accept cookies"),
        *("I agree", "Privacy policy", "Privacy", "Terms of use", "Terms and conditions"),
        *("Disclaimer", "RSS", "Tweet", "Like", "Comments", "Leave a comment", "Top"),
        *("Print this page", "Share this page", "Share on social media", "Read also"),
        *("See also", "Related", "Related articles", "English", "Русский", "Français"),
        *("In English", "English version", "Terms", "Conditions of use", "Cookie policy"),
        *("Cookies", "Print page", "Back to news", "Share:", "Print:"),
        # Language switches and accessibility links, in the covered languages
        *("Deutsch", "Español", "Türkçe", "Azərbaycanca", "Azərbaycan dili", "Հայերեն"),
        *("ქართული", "العربية", "فارسی", "עברית", "中文", "English", "Українська"),
        *("Русская версия", "На русском", "Українською", "En français", "Auf Deutsch"),
        *("En español", "Для слабовидящих", "Людям із порушенням зору"),
        *("Görme engelliler için", "Version accessible", "Barrierefreie Version"),
        *("Versión accesible",),
        # Terms of use
        *("Conditions d'utilisation", "Nutzungsbedingungen", "Términos de uso"),
        *("Condiciones de uso", "Условия использования", "Умови використання"),
        *("Kullanım koşulları", "İstifadə şərtləri", "Օգտագործման պայմաններ"),
        *("გამოყენების წესები", "شروط الاستخدام", "شرایط استفاده", "תנאי שימוש", "使用条款"),
        *("Aviso de privacidad", "Kişisel Verilerin Korunması Kanunu"),
        # French
        *("Rechercher", "Recherche", "Imprimer", "Partager", "Retour", "Accueil"),
        *("Actualités", "Lire la suite", "En savoir plus", "S'abonner", "Précédent"),
        *("Suivant", "Fermer", "Plan du site", "Mentions légales", "Accessibilité"),
        *("Politique de confidentialité", "Gestion des cookies", "Nous contacter"),
        *("Diminuer la taille du texte", "Augmenter la taille du texte", "Taille du texte"),
        *("Communiqués de presse", "Espace presse", "Télécharger", "Haut de page"),
        *("Revenir en haut de la page", "Voir aussi", "À lire aussi", "Partager la page"),
        *("Imprimer la page", "Envoyer par e-mail"),
        # German
        *("Suche", "Suchen", "Drucken", "Teilen", "Zurück", "Startseite", "Aktuelles"),
        *("Nachrichten", "Mehr", "Weiterlesen", "Mehr erfahren", "Abonnieren", "Nach oben"),
        *("Zurück zum Seitenanfang", "Impressum", "Datenschutz", "Datenschutzerklärung"),
        *("Barrierefreiheit", "Kontakt", "Leichte Sprache", "Gebärdensprache"),
        *("Schriftgröße", "Seite drucken", "Seite teilen", "Pressemitteilungen", "Presse"),
        *("Artikel teilen", "Schließen", "Lesen Sie auch", "Seite vorlesen", "Vorlesen"),
        # Spanish
        *("Buscar", "Búsqueda", "Imprimir", "Compartir", "Volver", "Inicio", "Noticias"),
        *("Leer más", "Ver más", "Suscribirse", "Anterior", "Siguiente", "Cerrar"),
        *("Aviso legal", "Política de privacidad", "Política de cookies", "Accesibilidad"),
        *("Mapa del sitio", "Contacto", "Sala de prensa", "Comunicados", "Descargar"),
        *("Volver arriba", "Tamaño de letra", "Ver también", "Lea también"),
        # Russian
        *("Поиск в архиве", "Поиск по архиву", "Поиск", "Архив", "Печать", "Назад"),
        *("Версия для печати", "Поделиться", "Главная", "Новости", "Подробнее"),
        *("Читать далее", "Все новости", "Подписаться", "Закрыть", "Контакты"),
        *("Карта сайта", "Версия для слабовидящих", "Размер шрифта", "Пресс-релизы"),
        *("Политика конфиденциальности", "Вернуться", "Наверх", "Скачать"),
        *("Комментарии", "Открыть в Telegram", "Смотреть в Telegram", "Читайте также"),
        *("Смотрите также", "Распечатать"),
        # Ukrainian
        *("Пошук", "Архів", "Друк", "Друкувати", "Поділитися", "Поширити", "Головна"),
        *("Новини", "Детальніше", "Читати далі", "Усі новини", "Всі новини"),
        *("Підписатися", "Попередня", "Наступна", "Закрити", "Контакти", "Мапа сайту"),
        *("Версія для людей з порушенням зору", "Політика конфіденційності"),
        *("Прес-релізи", "Нагору", "Завантажити", "Читайте також", "Версія для друку"),
        # Turkish
        *("Ara", "Arama", "Arşiv", "Yazdır", "Paylaş", "Geri", "Ana Sayfa", "Anasayfa"),
        *("Haberler", "Devamını oku", "Detaylar", "Abone ol", "Önceki", "Sonraki"),
        *("Kapat", "İletişim", "Site haritası", "Kişisel verilerin korunması", "KVKK"),
        *("Gizlilik politikası", "Çerez politikası", "Basın açıklamaları", "Duyurular"),
        *("Yukarı", "İndir", "Yazı boyutu", "Paylaş:", "Tümü"),
        # Azerbaijani
        *("Arxivdə axtar", "Arxivdə axtarış", "Axtar", "Axtarış", "Arxiv", "Çap et"),
        *("Çap", "Geri qayıt", "Ana səhifə", "Əsas səhifə", "Xəbərlər", "Ətraflı"),
        *("Daha ətraflı", "Abunə ol", "Əvvəlki", "Növbəti", "Bağla", "Əlaqə"),
        *("Gizlilik siyasəti", "Sayt xəritəsi", "Bütün xəbərlər", "Yüklə"),
        # Armenian
        *("Որոնել արխիվում", "Որոնում", "Արխիվ", "Տպել", "Կիսվել", "Հետ", "Գլխավոր"),
        *("Լուրեր", "Նորություններ", "Ավելին", "Կարդալ ավելին", "Կապ", "Հետադարձ կապ"),
        *("Բոլոր նորությունները",),
        # Georgian
        *("არქივში ძიება", "ძიება", "არქივი", "ბეჭდვა", "გაზიარება", "უკან", "მთავარი"),
        *("სიახლეები", "ვრცლად", "კონტაქტი", "ყველა სიახლე"),
        # Arabic
        *("البحث في الأرشيف", "بحث", "الأرشيف", "طباعة", "مشاركة", "رجوع", "الرئيسية"),
        *("الأخبار", "اقرأ المزيد", "المزيد", "اتصل بنا", "سياسة الخصوصية", "خريطة الموقع"),
        *("شارك", "إغلاق", "تحميل", "السابق", "التالي", "اقرأ أيضا", "اقرأ أيضاً"),
        # Persian
        *("جستجو", "آرشیو", "چاپ", "اشتراک گذاری", "اشتراک‌گذاری", "بازگشت"),
        *("صفحه اصلی", "اخبار", "ادامه مطلب", "بیشتر", "تماس با ما", "نقشه سایت"),
        *("سیاست حفظ حریم خصوصی", "قبلی", "بعدی", "دانلود", "مطالب مرتبط"),
        # Hebrew
        *("חיפוש", "ארכיון", "הדפסה", "הדפס", "שיתוף", "שתף", "חזרה", "דף הבית", "ראשי"),
        *("חדשות", "קרא עוד", "לקריאה נוספת", "צור קשר", "מדיניות פרטיות", "נגישות"),
        *("הצהרת נגישות", "מפת אתר", "הקודם", "הבא", "סגור", "הורדה", "ראו גם"),
        # Chinese
        *("搜索", "检索", "打印", "打印本页", "分享", "分享到", "返回", "首页", "新闻"),
        *("阅读更多", "更多", "上一篇", "下一篇", "关闭", "关闭窗口", "联系我们"),
        *("隐私政策", "网站地图", "相关新闻", "相关阅读", "返回顶部", "收藏"),
        *("列印", "列印本頁", "友善列印", "關閉", "關閉視窗", "分享至", "回上頁", "回首頁", "首頁"),
        *("搜尋", "隱私權政策", "網站導覽", "相關新聞", "回到頂端", "字級", "字型大小"),
    )
)

#: Labels a site or the institution puts above a title, and the record ``type``
#: each says (``None``: a label that names no type of its own).
GENRE_LABELS: dict[str, str | None] = {
    fold(label): genre
    for genre, labels in (
        (
            "press-release",
            (
                "Press release",
                "Press-release",
                "Press statement",
                "Media release",
                "News release",
                "Communiqué de presse",
                "Communiqué",
                "Pressemitteilung",
                "Presseerklärung",
                "Comunicado",
                "Comunicado de prensa",
                "Nota de prensa",
                "Пресс-релиз",
                "Прес-реліз",
                "Basın açıklaması",
                "Basın bülteni",
                "Mətbuat relizi",
                "Մամուլի հաղորդագրություն",
                "პრესრელიზი",
                "بيان صحفي",
                "بيان صحافي",
                "خبر صحفي",
                "اطلاعیه مطبوعاتی",
                "بیانیه مطبوعاتی",
                "הודעה לעיתונות",
                "הודעה לתקשורת",
                "新闻稿",
                "新聞稿",
                "新闻发布",
            ),
        ),
        (
            "statement",
            (
                "Statement",
                "Joint statement",
                "Public statement",
                "Déclaration",
                "Déclaration commune",
                "Erklärung",
                "Stellungnahme",
                "Gemeinsame Erklärung",
                "Declaración",
                "Declaración conjunta",
                "Pronunciamiento",
                "Заявление",
                "Совместное заявление",
                "Заява",
                "Спільна заява",
                "Açıklama",
                "Ortak açıklama",
                "Bəyanat",
                "Açıqlama",
                "Birgə bəyanat",
                "Հայտարարություն",
                "განცხადება",
                "بيان",
                "بيان مشترك",
                "بیانیه",
                "בהודעה",
                "הצהרה",
                "声明",
                "聲明",
                "联合声明",
            ),
        ),
        (
            "appeal",
            (
                "Appeal",
                "Open appeal",
                "Appel",
                "Aufruf",
                "Llamamiento",
                "Обращение",
                "Звернення",
                "Çağrı",
                "Müraciət",
                "Կոչ",
                "მიმართვა",
                "نداء",
                "فراخوان",
                "קריאה",
                "呼吁",
            ),
        ),
        (
            "letter",
            (
                "Open letter",
                "Lettre ouverte",
                "Offener Brief",
                "Carta abierta",
                "Открытое письмо",
                "Відкритий лист",
                "Açık mektup",
                "Açıq məktub",
                "Բաց նամակ",
                "ღია წერილი",
                "رسالة مفتوحة",
                "نامه سرگشاده",
                "מכתב פתוח",
                "公开信",
            ),
        ),
        (
            "speech",
            (
                "Speech",
                "Discours",
                "Rede",
                "Discurso",
                "Выступление",
                "Виступ",
                "Konuşma",
                "Çıxış",
                "Ելույթ",
                "სიტყვა",
                "كلمة",
                "سخنرانی",
                "נאום",
                "讲话",
                "致辞",
            ),
        ),
        (
            "interview",
            (
                "Interview",
                "Entretien",
                "Entrevista",
                "Интервью",
                "Інтерв'ю",
                "Röportaj",
                "Müsahibə",
                "Հարցազրույց",
                "ინტერვიუ",
                "مقابلة",
                "مصاحبه",
                "ראיון",
                "采访",
                "专访",
            ),
        ),
        (
            None,
            (
                "Statements",
                "News",
                "Announcement",
                "Announcements",
                "Bəyanatlar",
                "Заявления",
                "Новости",
                "Новини",
                "Duyuru",
                "Haber",
                "Actualité",
                "Aktuelles",
                "Noticia",
                "Noticias",
                "أخبار",
                "خبر",
                "חדשות",
                "新闻",
            ),
        ),
    )
    for label in labels
}
#: The labels, for callers that only need to know a line is one.
LEADING_LABELS: frozenset[str] = frozenset(GENRE_LABELS)

#: Navigation words a breadcrumb trail starts with ("Home » News » Statements").
_BREADCRUMB_START = _folded(
    (
        *("Home", "Main", "Main page", "Ana səhifə", "Əsas", "Əsas səhifə", "Главная"),
        *("Головна", "Գլխավոր", "მთავარი", "الرئيسية", "Accueil", "Startseite", "Inicio"),
        *("Ana Sayfa", "Anasayfa", "首页", "صفحه اصلی", "דף הבית", "ראשי", "Home page"),
        *("الصفحة الرئيسية", "Начало", "Головна сторінка", "Inicio", "Portada"),
    )
)
_BREADCRUMB_SEP = re.compile(r"\s*(?:»|›|>|/|\||→|—>|::)\s*")
_ARROWS = re.compile(r"\s(?:»|›|>|→)\s")
_SOCIAL = (
    "facebook|twitter|x|telegram|whatsapp|linkedin|vk|vkontakte|ok|odnoklassniki|instagram|"
    "youtube|email|e-mail|viber|threads|bluesky|mastodon|weibo|wechat|微信|微博|qq|tiktok|"
    "pinterest|reddit|messenger"
)
_SHARE_WORDS = (
    "share|share this|share on|поделиться|поширити|поділитися|paylaş|kiş|կիսվել|გაზიარება|"
    "مشاركة|شارك|teilen|partager|compartir|分享|分享到|שתף|שיתוף|اشتراک گذاری|اشتراک‌گذاری"
)
_SHARE = re.compile(
    rf"^(?:{_SHARE_WORDS})\s*(?:on|in|via|в|через|на|sur|auf|en|:|：)?\s*"
    rf"(?:(?:{_SOCIAL})[\s,|·•/]*)*$|^(?:(?:{_SOCIAL})[\s,|·•/]*)+$|"
    r"^(?:tags|teqlər|etiketler|теги|метки|теґи|պիտակներ|თეგები|الوسوم|برچسب‌ها|תגיות|"
    r"标签|schlagwörter|mots-clés|etiquetas)\s*[:：]",
    re.IGNORECASE,
)
#: Counters: "Views: 120", "👁 1.2K", "1 234 views", "12.3K subscribers".
_COUNTER_WORDS = (
    r"views?|просмотр\w*|перегляд\w*|görüntülenme|okunma|baxış\w*|aufrufe|vues|visitas|"
    r"vistas|צפיות|مشاهدة|مشاهدات|المشاهدات|بازدید|դիտում\w*|ნახვ\w*|浏览(?:次数|量)?|阅读(?:量)?|"
    r"subscribers|подписчик\w*|підписник\w*|abone|abunəçi|reads"
)
_COUNTER = re.compile(
    rf"^(?:(?:кількість|количество|число|number of|total|toplam|sayı|nombre de|anzahl)\s+)?"
    rf"(?:{_COUNTER_WORDS})\s*[:：]?\s*[\d\s.,]+[kкmм]?$|"
    rf"^[👁👀🔥❤👍]?\s*[\d][\d\s.,]*[kкmм]?\s*(?:{_COUNTER_WORDS})$|^[👁👀]\s*[\d][\d\s.,]*[kкmм]?$",
    re.IGNORECASE,
)
#: An icon and a number: "👁 1.2K", "❤ 35", "🔁 12".
_ICON_COUNTER = re.compile(r"^(?:[^\w\s]{1,3}\s*\d[\d\s.,]*[kкmм]?\s*){1,4}$", re.IGNORECASE)
#: A time of day alone (a post's time stamp), a reading time, "edited".
_TIME = re.compile(
    r"^(?:edited\s*)?\d{1,2}:\d{2}(?:\s?[ap]\.?m\.?)?(?:\s*edited)?$|"
    r"^\d{1,2}\s*(?:min|minutes?|мин|хв|dk|dəq|分钟)\.?\s*(?:read|чтения|читання|okuma)?$",
    re.IGNORECASE,
)
#: "A A A", "A- A A+", "大 中 小": text-size buttons.
_FONT_SIZE = re.compile(
    r"^(?:a[-+]{1,2}|(?:a[-+]{0,2}\s*){2,4})$|"
    r"^[【\[]?(?:字[体號号]\s*[:：]?\s*)?大\s*中\s*小[】\]]?$",
    re.I,
)
_COPYRIGHT = re.compile(
    r"^(?:©|\(c\)\s|copyright\s+(?:©|\(c\)|\d{4}))|"
    r"all rights reserved|tous droits réservés|alle rechte vorbehalten|"
    r"todos los derechos reservados|все права защищены|усі права захищені|"
    r"всі права захищено|tüm hakları saklıdır|bütün hüquqlar qorunur|"
    r"բոլոր իրավունքները պաշտպանված են|ყველა უფლება დაცულია|جميع الحقوق محفوظة|"
    r"تمامی حقوق|כל הזכויות שמורות|版权所有|版權所有",
    re.IGNORECASE,
)
#: Cookie and privacy banners: a cookie word with a banner's verb, or a short line.
_PRIVACY = re.compile(
    r"\bcookies?\b|çerez|файл\w* cookie|куки|cookie-\w+",
    re.IGNORECASE,
)
_BANNER_WORDS = re.compile(
    r"\b(?:accept|agree|consent|settings|use|uses|using|utilise|utilisons|verwendet|"
    r"verwenden|utiliza|utilizamos|использует|використовує|kullanır|kullanıyoruz|"
    r"istifadə|privacy|datenschutz|confidentialité|privacidad)\b",
    re.IGNORECASE,
)
#: "Last modified: 05/12/2017", "Dernière modification : …", "Son güncelleme 12.03.2024".
_LAST_MODIFIED = re.compile(
    r"^(?:last modified|last updated|updated on|page last updated|dernière modification|"
    r"dernière mise à jour|mis à jour le|mise à jour le|son güncelleme|güncellenme tarihi|"
    r"güncelleme tarihi|последнее изменение|последнее обновление|обновлено|"
    r"дата обновления|останнє оновлення|оновлено|дата оновлення|zuletzt aktualisiert|"
    r"zuletzt geändert|letzte änderung|aktualisiert am|stand|última actualización|"
    r"actualizado el|última modificación|son yenilənmə|yenilənib|yeniləndi|更新时间|"
    r"最后更新|更新日期|آخر تحديث|تاريخ التحديث|آخرین به[‌ ]?روزرسانی|آخرین بروزرسانی|"
    r"עודכן לאחרונה|עדכון אחרון|ბოლო განახლება|განახლებულია|վերջին թարմացում|"
    r"թարմացվել է)\s*(?:on|le|am|el|:|：|-|–)?\s*[:：]?\s*(?:\S+\s*){0,3}\d",
    re.IGNORECASE,
)
_CREDIT = re.compile(
    r"^[\[(]?(?:photos?|photo credits?|crédits? photos?|© ?photo|фото|foto|fotos|fotoğraf|"
    r"bild|bildquelle|світлина|şəkil|ფოტო|լուսանկար(?:ը|ներ)?|صورة|الصورة|عکس|צילום|"
    r"图片来源|图片|摄影|圖片來源|攝影)\s*(?:[:：/©—–-]|by\b|credit\b|de\b|von\b)",
    re.IGNORECASE,
)
#: The site-wide footer: working hours (with a time), the office's address.
_FOOTER = re.compile(
    r"^(?:(?:our |the )?(?:working hours|opening hours|office hours|reception hours)|"
    r"режим работы|часы работы|график работы|часы при[её]ма|графік роботи|режим роботи|"
    r"iş saatları|iş vaxtı|qəbul saatları|qəbul günləri|vətəndaşların qəbulu|"
    r"приём граждан|прием граждан|прийом громадян|kabul saatleri|çalışma saatleri|"
    r"öffnungszeiten|sprechzeiten|"
    r"horaires d'ouverture|heures d'ouverture|horaires|horario de atención|horario|"
    r"ساعات العمل|ساعات کاری|שעות פעילות|שעות קבלת קהל|办公时间|工作时间|"
    r"სამუშაო საათები|աշխատանքային ժամեր)\b[^.!?]*\d{1,2}[:.]\d{2}|"
    r"^(?:address|adresse|dirección|адрес|адреса|ünvan|adres|anschrift|地址|العنوان|نشانی|"
    r"כתובת|მისამართი|հասցե)\s*[:：]",
    re.IGNORECASE,
)
_HOTLINE = re.compile(
    r"^(?:hotline|hot line|call cent(?:er|re)|qaynar xətt|çağrı mərkəzi|горячая линия|"
    r"телефон доверия|колл-центр|гаряча лінія|sıcak hat|alo|ცხელი ხაზი|թեժ գիծ|"
    r"الخط الساخن|خط ساخن|קו חם|热线|服务热线|hotline-nummer|numéro vert|línea gratuita)"
    r"\s*[:：\-–—]?\s*[\d\s+()\-–.,/]+$",
    re.IGNORECASE,
)
#: The page's own publication field: "Fecha: Jul 29, 2023", "опубліковано 12 березня
#: 2024 року о 10:15", "发布时间：2024-04-02  来源：…", "09:54, 10.12.2022". Site text,
#: but the one place some pages give the date of issue (see parsing).
_PUBLISHED = re.compile(
    r"^(?:fecha|date|published|posted|publication date|date de publication|publié le|"
    r"veröffentlicht(?: am)?|publicado(?: el)?|fecha de publicación|опубліковано|"
    r"опубликовано|дата публикации|дата публікації|yayınlanma tarihi|yayın tarihi|"
    r"yayımlanma tarihi|dərc (?:olunub|edilib)|tarix|հրապարակված|հրապարակման ամսաթիվ|"
    r"გამოქვეყნდა|გამოქვეყნების თარიღი|تاريخ النشر|نشر في|نُشر في|تاریخ انتشار|"
    r"تاريخ الإضافة|פורסם|תאריך פרסום|תאריך|发布时间|發布時間|发布日期|發佈日期|发表时间)"
    r"\s*[:：]?\s*.*\d|^\d{1,2}:\d{2}(?:\s*[ap]\.?m\.?)?\s*[,|·•]?\s*\S+.*\d{4}$",
    re.IGNORECASE,
)
#: Editor and source lines of news pages: "责任编辑：李明", "Редактор: …".
_EDITOR = re.compile(
    r"^(?:责任编辑|責任編輯|编辑|編輯|来源|來源|editor|редактор|redaktion|rédaction|"
    r"redacción|editör|redaktor|խմբագիր|რედაქტორი|تحرير|ویراستار|עורך|עריכה)\s*[:：]",
    re.IGNORECASE,
)
#: End marks of news items: "（完）", "-完-", "###", "-30-", "ENDS".
_END_MARK = re.compile(
    r"^[-–—(（\[【\s]*(?:完|完毕|结束|ends?|-?30-?)[-–—)）\]】\s]*$|^#{3,}$",
    re.IGNORECASE,
)
#: A row of bracketed buttons: "【打印本页】【关闭窗口】", "[Print] [Close]".
_BUTTONS = re.compile(r"[【\[]([^】\]]+)[】\]]")
#: What follows a channel's name in a messenger's header: its handle, its subscribers.
_CHANNEL = re.compile(
    r"^@[\w.]{3,}$|^[\d][\d\s.,]*[kкmм]?\s*(?:subscribers|подписчик\w*|підписник\w*|"
    r"abone|abunəçi|members|участник\w*)$",
    re.IGNORECASE,
)
#: A line of one short handle: "@channelname", "t.me/channel".
_HANDLE = re.compile(r"^(?:@[\w.]{3,}|(?:https?://)?t\.me/\S+)$", re.IGNORECASE)
#: Leading and trailing icons and edge punctuation ignored when matching lines.
_EDGE = " .:：|»›>←→↑↓•·*#🔍📌📎🖨📤🔗✉️👁‍🗨【】[]()"


def _fold(line: str) -> str:
    return fold(line).strip(_EDGE)


def chrome_kind(line: str) -> str | None:
    """What kind of site text a whole line is ("navigation", "share", ...), or None.

    The kinds: navigation (menus, breadcrumbs, buttons), share, social (channel
    headers, handles, counters, time stamps), privacy, copyright, footer (working
    hours, hotline, address), last-modified, credit (photo captions' credits).
    """
    text = " ".join(line.split())
    if not text:
        return None
    folded = _fold(text)
    if not folded:
        return "navigation" if len(text) <= 3 else None  # a row of icons or arrows
    if len(text) > 300:
        return None
    if folded in LEFTOVER_LINES or _FONT_SIZE.match(folded) or _END_MARK.match(text):
        return "navigation"
    buttons = _BUTTONS.findall(text)
    if (
        buttons
        and not _BUTTONS.sub("", text).strip()
        and all(_fold(b) in LEFTOVER_LINES for b in buttons)
    ):
        return "navigation"
    if _EDITOR.match(text) and len(text) <= 80:
        return "credit"
    if _PUBLISHED.match(folded) and len(text) <= 120:
        return "published"
    if _SHARE.match(folded):
        return "share"
    if _COUNTER.match(folded) or _ICON_COUNTER.match(text) or _TIME.match(folded):
        return "social"
    if _HANDLE.match(folded):
        return "social"
    if _CREDIT.match(text) and len(text) <= 160:
        return "credit"
    if _LAST_MODIFIED.match(folded) and len(text) <= 100:
        return "last-modified"
    if _COPYRIGHT.search(folded) and len(text) <= 200:
        return "copyright"
    if _FOOTER.search(folded) and len(text) <= 200:
        return "footer"
    if _HOTLINE.match(folded):
        return "footer"
    if (
        _PRIVACY.search(folded)
        and len(text) <= 300
        and (len(folded.split()) <= 4 or _BANNER_WORDS.search(folded))
    ):
        return "privacy"
    if _is_breadcrumb(text):
        return "navigation"
    return None


def _is_breadcrumb(text: str) -> bool:
    """ "Home › News › Statements", "Главная / Новости", "News » Statements » 2024"."""
    parts = [p for p in _BREADCRUMB_SEP.split(text) if p.strip()]
    if len(parts) < 2 or len(text) >= 160 or not all(len(p) <= 80 for p in parts):
        return False
    # A title with one " / " or " | " in it is not one.
    return (
        fold(parts[0]).strip(_EDGE) in _BREADCRUMB_START
        or len(_ARROWS.findall(text)) >= 2
        or all(_fold(p) in LEFTOVER_LINES for p in parts)
    )


def genre_label(line: str) -> str | None:
    """The label as written, when the whole line is a genre label ("Press release:")."""
    return line.strip() if fold(line).strip(" .:：|-–—") in GENRE_LABELS else None


def label_type(label: str) -> str | None:
    """The record ``type`` a genre label names ("press-release"), if it names one."""
    return GENRE_LABELS.get(fold(label).strip(" .:：|-–—"))


#: Weekdays: a page header that opens with one and a date is the site's "today".
_WEEKDAY = re.compile(
    r"^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|lundi|mardi|mercredi|"
    r"jeudi|vendredi|samedi|dimanche|montag|dienstag|mittwoch|donnerstag|freitag|samstag|"
    r"sonntag|lunes|martes|miércoles|jueves|viernes|sábado|domingo|понедельник|вторник|"
    r"среда|четверг|пятница|суббота|воскресенье|понеділок|вівторок|середа|четвер|"
    r"п['’]ятниця|субота|неділя|pazartesi|salı|çarşamba|perşembe|cuma|cumartesi|pazar|"
    r"bazar ertəsi|çərşənbə axşamı|çərşənbə|cümə axşamı|cümə|şənbə|bazar|երկուշաբթի|"
    r"երեքշաբթի|չորեքշաբթի|հինգշաբթի|ուրբաթ|շաբաթ|կիրակի|ორშაბათი|სამშაბათი|ოთხშაბათი|"
    r"ხუთშაბათი|პარასკევი|შაბათი|კვირა|الاثنين|الثلاثاء|الأربعاء|الخميس|الجمعة|السبت|"
    r"الأحد|دوشنبه|سه[\u200c ]?شنبه|چهارشنبه|پنج[\u200c ]?شنبه|جمعه|شنبه|یک[\u200c ]?شنبه|"
    r"יום (?:ראשון|שני|שלישי|רביעי|חמישי|שישי)|星期[一二三四五六日天]|周[一二三四五六日])"
    r"[,，،\s]+\S*\d",
    re.IGNORECASE,
)


def _site_today(lines: list[str], i: int) -> bool:
    """The page's first line a weekday and a date with no place ("دوشنبه ۲۷ فروردین
    ۱۴۰۳", "Monday, 5 March 2024"): the site header's today, not a dateline."""
    text = " ".join(lines[i].split())
    if len(text) > 40 or not _WEEKDAY.match(fold(text)):
        return False
    following = next((line.strip() for line in lines[i + 1 :] if line.strip()), "")
    return bool(following) and not _WEEKDAY.match(fold(following))


#: A page header holds at most this many lines that are not site text (labels,
#: datelines, the title's lines) before the body starts.
_HEAD_KEPT = 6
#: A page footer: at most this many statement lines (signature, contacts) under the body.
_TAIL_KEPT = 16
#: A line longer than this is body text, whatever it ends with.
_LONG = 200


def _headerish(line: str) -> bool:
    """A short line that may sit in a page header or footer: not body prose."""
    text = line.strip()
    stripped = text.rstrip(CLOSERS)
    return len(text) <= _LONG and (not ends_sentence(text) or stripped[-1:] in "!?")


def strip_leftovers(lines: list[str]) -> tuple[list[str], list[str]]:
    """Remove site text from the page's header and footer; return (kept, removed).

    Removed lines become blank lines, so what stood on either side of them stays
    apart. The header is walked from the top over site text and at most a few short
    statement lines (label, dateline, title), up to the first line of prose; the
    footer from the bottom over site text and the signature's short lines, up to
    the first sentence. Photo credits are removed anywhere.
    """
    kept = list(lines)
    removed: dict[int, str] = {}

    def remove(i: int) -> None:
        removed[i] = kept[i].strip()
        kept[i] = ""

    end = len(kept)
    statement_lines = 0
    for i in range(len(kept) - 1, -1, -1):
        line = kept[i]
        if not line.strip():
            continue
        if chrome_kind(line) is not None:
            remove(i)
            continue
        statement_lines += 1
        if statement_lines > _TAIL_KEPT or not _headerish(line):
            end = i
            break
    statement_lines = 0
    first: int | None = None
    for i in range(end):
        line = kept[i]
        if not line.strip() or i in removed:
            continue
        if chrome_kind(line) is not None or (statement_lines == 0 and _site_today(kept, i)):
            remove(i)
            # A channel's name stands right above its handle or subscriber count: the
            # page's header ("Ombudsman of Example" / "@ombudsman_example").
            if (
                statement_lines == 1
                and first is not None
                and _CHANNEL.match(_fold(line))
                and len(kept[first].strip()) <= 60
                and not ends_sentence(kept[first])
            ):
                remove(first)
                statement_lines = 0
            continue
        if statement_lines == 0:
            first = i
        statement_lines += 1
        if statement_lines > _HEAD_KEPT or not _headerish(line):
            break
    # Below the footer's first line of site text, a news site's own name is site text too.
    footer = [i for i in removed if i >= end]
    for i in range(min(footer, default=len(kept)) + 1, len(kept)):
        if i not in removed and kept[i].strip() and _is_site_name(kept[i]):
            remove(i)
    return kept, [removed[i] for i in sorted(removed)]


#: Words in the names of news sites and agencies ("Արևիկ Մեդիա", "City News 24").
_MEDIA = re.compile(
    r"(?:^|\s)(?:media|news|press|tv|radio|fm|info|online|daily|times|post|herald|tribune|"
    r"agency|24|365|медиа|новости|газета|агентство|інформ|новини|haber|haberleri|xəbər|"
    r"xəbərləri|մեդիա|լուր|ნიუს|مدیا|أخبار|خبرگزاری|חדשות|新闻|日报|網|网)(?:\s|$)|"
    r"\.(?:com|net|org|az|ru|ua|am|ge|tr|de|fr|es|ir|il|cn|info)\b",
    re.IGNORECASE,
)


def _is_site_name(line: str) -> bool:
    """A short line under the page's footer that names a news site or agency."""
    text = " ".join(line.split())
    return (
        len(text) <= 40
        and len(text.split()) <= 4
        and not ends_sentence(text)
        and bool(_MEDIA.search(text))
    )
