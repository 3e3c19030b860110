"""The report and a mapper page in a real headless browser (Debian's chromium + its driver,
installed by scripts/setup): no console error, no network request, the key elements work.
Screenshots go to $HYPLIB_SHOTS (default: the test's temporary folder)."""
import os
import shutil
from pathlib import Path

import pytest

from hyplib.engine import inspect
from hyplib.report import topo, write
from hyplib.testing import DIGIT_UNIT, PlantedModel

from .conftest import char_kind, digit, planted_records, upper

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402

DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(DRIVER is None, reason="chromedriver is not installed: run "
                                "scripts/setup as root (it installs chromium-driver)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    data = planted_records()
    model = PlantedModel()
    out = tmp_path_factory.mktemp("site")
    topo(model, data, "features", char_kind, out / "topo" / "planted-features.html",
         records=40, points=800, lens="pca")
    result = inspect(model, data, [digit, upper, char_kind], progress=False)
    write(result, out, models=model, data=data, hypotheses=[digit, upper, char_kind],
          records=40, progress=False)
    return out


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1100",
                "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=opts)
    yield driver
    driver.quit()


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("HYPLIB_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def requests(driver) -> list[str]:
    import json

    events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    return [e["params"]["request"]["url"] for e in events
            if e["method"] == "Network.requestWillBeSent"]


def errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def test_report_pages_in_a_browser(site, browser, shots):
    browser.get((site / "index.html").as_uri())
    heat = browser.find_element(By.CSS_SELECTOR, "table.heat")
    rows = heat.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 12
    browser.save_screenshot(str(shots / "report-overview.png"))
    # sort by the test.digit column: the digit unit comes first
    headers = heat.find_elements(By.CSS_SELECTOR, "thead th")
    column = [h.text.split("\n")[0] for h in headers].index("test.digit")
    headers[column].click()
    first = heat.find_element(By.CSS_SELECTOR, "tbody tr")
    assert first.find_element(By.CSS_SELECTOR, "td").text == f"planted:features[{DIGIT_UNIT}]"
    # filter the columns, then the rows
    browser.find_element(By.CSS_SELECTOR, "input.colfilter").send_keys("kind=upper")
    shown = [h for h in headers if h.is_displayed()]
    assert [h.text.split("\n")[0] for h in shown] == ["unit", "test.kind=upper"]
    browser.find_element(By.CSS_SELECTOR, "input.rowfilter").send_keys(f"[{DIGIT_UNIT}]")
    assert sum(r.is_displayed() for r in rows) == 1
    browser.save_screenshot(str(shots / "report-overview-filtered.png"))
    # clicking a unit opens its page
    first.find_element(By.CSS_SELECTOR, "a.unit").click()
    assert browser.current_url.endswith(f"unit/planted_features_{DIGIT_UNIT}.html")
    assert browser.find_element(By.TAG_NAME, "h1").text == f"planted:features[{DIGIT_UNIT}]"
    assert browser.find_elements(By.CSS_SELECTOR, "#distribution rect")
    assert browser.find_elements(By.CSS_SELECTOR, ".snippet span.m")
    browser.set_window_size(1400, 2000)
    browser.save_screenshot(str(shots / "report-unit.png"))
    browser.set_window_size(1400, 1100)
    browser.find_element(By.LINK_TEXT, "test.digit").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "test.digit"
    browser.save_screenshot(str(shots / "report-hypothesis.png"))
    assert not errors(browser)
    urls = requests(browser)
    assert urls and all(u.startswith(("file://", "data:")) for u in urls), urls


def test_mapper_page_in_a_browser(site, browser, shots):
    browser.get((site / "index.html").as_uri())
    browser.find_element(By.PARTIAL_LINK_TEXT, "planted-features").click()
    nodes = browser.find_elements(By.CSS_SELECTOR, "circle.node")
    assert len(nodes) >= 2
    nodes[0].click()
    panel = browser.find_element(By.ID, "members")
    assert "members" in panel.text and panel.find_elements(By.CSS_SELECTOR, ".snippet")
    assert [n.get_attribute("fill") for n in nodes] == [n.get_attribute("data-label")
                                                         for n in nodes]
    browser.find_element(By.CSS_SELECTOR, "input[value=purity]").click()
    assert [n.get_attribute("fill") for n in nodes] == [n.get_attribute("data-purity")
                                                         for n in nodes]
    browser.save_screenshot(str(shots / "mapper.png"))
    assert not errors(browser)
    assert all(u.startswith(("file://", "data:")) for u in requests(browser))
