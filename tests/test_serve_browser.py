"""The reading room in a real browser: Chromium through Selenium, against the real server
(uvicorn on 127.0.0.1, port 0), with axe-core checking WCAG 2.2 AA on every page.

Skips, with the reason, where Chromium, chromedriver, Selenium or npm (to fetch
axe-core) is absent. Screenshots go to a temporary folder whose path is printed
(``-s`` shows it) so that a person can look at them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the reading room needs uvicorn")
webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from preserve.serve import ServeConfig, create_app  # noqa: E402
from tests.serve_support import (  # noqa: E402
    COSIGNER,
    identifiers,
    reading_room_archive,
    version_identifiers,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

AZ = AR = WITHDRAWN = ""  # filled from the built archive before the module's tests run


@pytest.fixture(scope="module", autouse=True)
def _statement_identifiers() -> None:
    global AZ, AR, WITHDRAWN
    AZ, AR, WITHDRAWN = identifiers()


@pytest.fixture(scope="module")
def axe_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """axe-core's axe.min.js, fetched with ``npm pack`` (the npm registry) into a temp dir."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is absent: cannot fetch axe-core")
    folder = tmp_path_factory.mktemp("axe")
    try:
        done = subprocess.run(
            [npm, "pack", "axe-core", "--silent"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("npm pack axe-core timed out")
    packs = list(folder.glob("axe-core-*.tgz"))
    if done.returncode != 0 or not packs:
        pytest.skip(f"npm pack axe-core failed: {done.stderr.strip()[:200]}")
    with tarfile.open(packs[0]) as tar:
        member = tar.extractfile("package/axe.min.js")
        assert member is not None
        return member.read().decode("utf-8")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    archive = reading_room_archive()
    app = create_app(ServeConfig(archive, cache_dir=tmp_path_factory.mktemp("pages")))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("PRESERVE_SCREENSHOTS") or tempfile.mkdtemp(prefix="serve-shots-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip(
            "chromium and chromium-driver are absent (apt-get install chromium chromium-driver)"
        )
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1400",
        "--lang=en",
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.downloads = downloads
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def axe_violations(driver: Any, axe: str) -> list[dict[str, Any]]:
    """Serious and critical WCAG 2.2 A/AA violations on the current page."""
    driver.execute_script(axe)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => done(r.violations)).catch(e => done([{id: 'axe-error', impact: 'critical',"
        " help: String(e), nodes: []}]));",
        WCAG,
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n.get("target") for n in v.get("nodes", [])][:3],
        }
        for v in result
        if v.get("impact") in ("serious", "critical")
    ]


def show_page_image(driver: Any, shots: Path, name: str) -> None:
    """Scroll to the first page image of the copy, wait until it has loaded, screenshot it."""
    image = driver.find_element(By.CSS_SELECTOR, ".pages img")
    driver.execute_script("arguments[0].scrollIntoView()", image)
    deadline = time.monotonic() + 30
    while not driver.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", image
    ):
        assert time.monotonic() < deadline, "the page image never loaded"
        time.sleep(0.2)
    assert driver.execute_script("return arguments[0].naturalWidth", image) > 800
    driver.save_screenshot(str(shots / f"{name}.png"))
    driver.execute_script("window.scrollTo(0, 0)")


def wait_for(driver: Any, in_url: str) -> None:
    """Wait for a click or a form to have navigated (its URL holds ``in_url``)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(lambda d: in_url in d.current_url)


def check_page(driver: Any, axe: str, shots: Path, name: str) -> None:
    driver.save_screenshot(str(shots / f"{name}.png"))
    assert axe_violations(driver, axe) == [], name
    assert not driver.find_elements(By.TAG_NAME, "script")  # every page works without script


def test_click_through_the_reading_room(
    browser: Any, server: str, axe_source: str, shots: Path
) -> None:
    d = browser
    d.get(server + "/")
    assert "Statements" in d.find_element(By.TAG_NAME, "h1").text
    # keyboard: the first Tab reaches the skip link, which moves focus to the main content
    d.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = d.switch_to.active_element
    assert skip.text == "Skip to content"
    check_page(d, axe_source, shots, "01-browse")

    # languages by name, each autonym in its own language and direction
    facet = d.find_element(By.CSS_SELECTOR, "section[aria-labelledby=facet-language]")
    arabic = facet.find_element(By.CSS_SELECTOR, 'a[href="/?language=ar"]')
    assert arabic.text == "Arabic (العربية)"
    autonym = arabic.find_element(By.TAG_NAME, "span")
    assert (autonym.get_attribute("lang"), autonym.get_attribute("dir")) == ("ar", "rtl")
    assert d.execute_script("return getComputedStyle(arguments[0]).direction", autonym) == "rtl"
    persian = facet.find_element(By.CSS_SELECTOR, 'a[href="/?language=fa"] span')
    assert (persian.get_attribute("lang"), persian.get_attribute("dir")) == ("fa", "rtl")
    armenian = facet.find_element(By.CSS_SELECTOR, 'a[href="/?language=hy"]')
    assert armenian.text == "Armenian (Հայերեն)"
    assert "az-Latn" not in facet.text and "Azerbaijani (Latin)" in facet.text

    # browse by a facet, then open an Azerbaijani statement from the list
    facet.find_element(By.CSS_SELECTOR, 'a[href="/?language=az-Latn"]').click()
    wait_for(d, "language=az-Latn")
    title = d.find_element(By.ID, "results-title").text
    assert "matching language Azerbaijani (Latin) (Azərbaycan (latın))" in title
    check_page(d, axe_source, shots, "02-browse-az")
    d.get(server + f"/statements/{AZ}")
    header = d.find_element(By.CSS_SELECTOR, "header.statement")
    assert header.get_attribute("lang") == "az-Latn" and header.get_attribute("dir") == "ltr"
    show_page_image(d, shots, "03-statement-az-copy")
    check_page(d, axe_source, shots, "03-statement-az")
    # both signers of its bag: the first and the countersigner, each trusted
    signers = d.find_elements(By.CSS_SELECTOR, "dl.signer")
    assert len(signers) == 2 and all("yes" in s.text for s in signers)
    assert COSIGNER in d.find_element(By.ID, "sig-h").find_element(By.XPATH, "..").text

    # the Arabic statement reads right to left
    d.get(server + f"/statements/{AR}")
    header = d.find_element(By.CSS_SELECTOR, "header.statement")
    assert header.get_attribute("dir") == "rtl" and header.get_attribute("lang") == "ar"
    assert d.execute_script("return getComputedStyle(arguments[0]).direction", header) == "rtl"
    show_page_image(d, shots, "04-statement-ar-copy")
    check_page(d, axe_source, shots, "04-statement-ar")

    # a download: the metadata record
    d.find_element(By.LINK_TEXT, "Metadata (JSON)").click()
    target = d.downloads / "statement.json"
    deadline = time.monotonic() + 20
    while not target.exists():
        assert time.monotonic() < deadline, "the download did not arrive"
        time.sleep(0.2)
    assert AR in target.read_text(encoding="utf-8")

    # search from the search page's form
    d.get(server + "/search")
    box = d.find_element(By.ID, "q")
    box.send_keys("kitabxana")
    box.send_keys(Keys.ENTER)
    wait_for(d, "q=kitabxana")
    assert "result" in d.find_element(By.ID, "hits-title").text
    assert d.find_elements(By.CSS_SELECTOR, ".snippet mark")
    check_page(d, axe_source, shots, "05-search")

    # the audit dashboard
    d.find_element(By.LINK_TEXT, "Audit").click()
    wait_for(d, "/audit")
    assert d.find_element(By.CSS_SELECTOR, "svg.chart")
    check_page(d, axe_source, shots, "06-audit")

    # an error page is a page too
    d.get(server + "/statements/no-such-thing")
    check_page(d, axe_source, shots, "07-not-found")

    # the OAI-PMH link in the menu: XML, shown as a tree (not one run-on paragraph)
    d.get(server + "/oai?verb=Identify")
    d.save_screenshot(str(shots / "10-oai-identify.png"))
    assert d.find_element(By.TAG_NAME, "body").text.startswith("This XML file")


def test_language_versions_side_by_side(
    browser: Any, server: str, axe_source: str, shots: Path
) -> None:
    d = browser
    ids = version_identifiers()
    d.get(server + f"/statements/{ids['ar']}")
    section = d.find_element(By.CSS_SELECTOR, "section[aria-labelledby=versions-h]")
    columns = section.find_elements(By.CSS_SELECTOR, "li.version")
    seen = [
        (
            c.get_attribute("lang"),
            d.execute_script("return getComputedStyle(arguments[0]).direction", c),
            c.location["y"],
            c.location["x"],
        )
        for c in columns
    ]
    assert [(lang, direction) for lang, direction, _, _ in seen] == [
        ("ar", "rtl"),
        ("az-Latn", "ltr"),
        ("en", "ltr"),
    ]
    # side by side: one row, three columns, left to right in the (English) page
    assert len({y for _, _, y, _ in seen}) == 1
    assert [x for *_, x in seen] == sorted(x for *_, x in seen)
    # the Arabic title is set right to left, its text aligned to the right of its column
    title = columns[0].find_element(By.TAG_NAME, "h3")
    assert d.execute_script("return getComputedStyle(arguments[0]).textAlign", title) in (
        "start",
        "right",
    )
    d.execute_script("arguments[0].scrollIntoView()", section)
    deadline = time.monotonic() + 60
    images = section.find_elements(By.TAG_NAME, "img")
    assert len(images) == 3
    while not all(
        d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)
        for i in images
    ):
        assert time.monotonic() < deadline, "the first page images never loaded"
        time.sleep(0.2)
    d.save_screenshot(str(shots / "08-versions-ar.png"))
    d.execute_script("window.scrollTo(0, 0)")
    check_page(d, axe_source, shots, "08-versions-ar-top")

    # a search hit shows its group; a click on a version opens it
    d.get(server + "/search?q=greenhouse")
    hit = d.find_element(By.CSS_SELECTOR, ".versions-line")
    link = hit.find_element(By.CSS_SELECTOR, "a[hreflang=ar]")
    assert link.find_element(By.TAG_NAME, "span").get_attribute("dir") == "rtl"
    check_page(d, axe_source, shots, "09-search-versions")
    link.click()
    wait_for(d, f"/statements/{ids['ar']}")
