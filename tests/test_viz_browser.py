"""The backward page (viz.save_html) in a real browser: headless Chromium driven by selenium.
It must load offline without a console error or a single request, every step must be
reachable with the buttons, the slider and the arrow keys, and the numbers it shows must be
the engine's."""
import json
import shutil
import tempfile

import numpy as np
import pytest

import tinygrad1d as tg
from tinygrad1d import viz

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="needs selenium and Debian's chromium: pip install selenium; "
    "apt-get install -y chromium chromium-driver (.ci/run does)")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(BROWSER is None or DRIVER is None,
                       reason="needs a headless browser: apt-get install -y chromium "
                       "chromium-driver (.ci/run does)"),
    pytest.mark.skipif(shutil.which("dot") is None,
                       reason="the page's drawing needs Graphviz's dot: apt-get install graphviz"),
]
# The machine has no network: without these Chromium keeps trying its update, sync and
# safe-browsing services and floods the log with refused connections.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1400,900"]


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tg-chromium-")  # a fresh profile: nothing carried over
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def open_page(driver, path) -> list[str]:
    """Load the page; return what went wrong: console errors and requests for anything but
    the page itself (the performance log lists every request the browser made)."""
    driver.get_log("browser")  # drop what an earlier page left
    driver.get_log("performance")
    url = path.resolve().as_uri()
    driver.get(url)
    problems = [f"console: {e['message']}" for e in driver.get_log("browser")
                if e["level"] == "SEVERE"]
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            params = message["params"]
            asked = params["request"]["url"]
            # the browser's own pages (a new tab's chrome:// resources) are not the page's
            ours = params.get("documentURL") == url
            if (ours and asked != url) or asked.split(":")[0] in ("http", "https", "ws", "wss"):
                problems.append(f"request: {asked}")
    return problems


def caption(driver) -> str:
    return driver.find_element(By.ID, "caption").text


def frame(driver) -> tuple:
    """What a reader sees of the current step: the caption, the panel and the highlights."""
    classes = driver.execute_script(
        "return [...document.querySelectorAll('#drawing g')].map(g => g.getAttribute('class'))")
    return (caption(driver), driver.find_element(By.ID, "panel").get_attribute("innerHTML"),
            classes)


def leaf_values(driver, name: str) -> list[float]:
    (el,) = [e for e in driver.find_elements(By.CSS_SELECTOR, ".leaf")
             if e.get_attribute("data-name") == name]
    return json.loads(el.get_attribute("data-values"))


@pytest.fixture
def seed_page(tmp_path):
    x, w, b = (tg.Tensor(v, requires_grad=True) for v in ([1, 2, 3, 4], [3, 5, 7], [1]))
    x.name, w.name, b.name = "x", "w", "b"
    a = tg.stack([(x[i:i + 3] * w).sum() for i in range(2)]) + b
    walk = viz.steps(a, np.array([10.0, 20.0], np.float32))  # the engine's order, to compare
    (page := tmp_path / "seed.html").write_text(walk.html())
    return page, w, [s.op for s in walk]


def test_page_loads_offline_without_an_error(browser, seed_page):
    page, *_ = seed_page
    assert open_page(browser, page) == []
    assert caption(browser).startswith("Step 1 of 8: add")


def test_the_checks_catch_a_request_and_an_error(browser, tmp_path, seed_page):
    """The two checks above can fail: a page that asks for an image is caught twice (the
    CSP refuses it, which is a console error), and a script error is caught too."""
    page, *_ = seed_page
    bad = tmp_path / "bad.html"
    bad.write_text(page.read_text().replace(
        "<h1>", '<img src="http://127.0.0.1:9/x.png"><script>undefinedName()</script><h1>', 1))
    problems = open_page(browser, bad)
    assert any("x.png" in p for p in problems)
    assert any("undefinedName" in p for p in problems)


def test_buttons_reach_every_step_in_the_engines_order(browser, seed_page):
    page, _, ops = seed_page
    open_page(browser, page)
    seen = [caption(browser)]
    for _ in ops[1:]:
        browser.find_element(By.ID, "next").click()
        seen.append(caption(browser))
    assert [s.split(": ")[1].split(" ")[0] for s in seen] == ops
    assert [s.split(":")[0] for s in seen] == [f"Step {i + 1} of 8" for i in range(8)]
    browser.find_element(By.ID, "next").click()  # past the end: stays at the last step
    assert caption(browser) == seen[-1]
    for _ in ops[1:]:
        browser.find_element(By.ID, "prev").click()
    assert caption(browser) == seen[0]


def test_the_slider_and_the_arrow_keys_reach_every_step(browser, seed_page):
    page, _, ops = seed_page
    open_page(browser, page)
    slider = browser.find_element(By.ID, "step")
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("0", "7")
    slider.send_keys(Keys.HOME)  # the slider's own keys: it moves, the page follows
    seen = [caption(browser)]
    for _ in ops[1:]:
        slider.send_keys(Keys.ARROW_RIGHT)
        seen.append(caption(browser))
    assert [s.split(": ")[1].split(" ")[0] for s in seen] == ops
    browser.execute_script("document.activeElement.blur()")  # keys to the page itself now
    keys = ActionChains(browser)
    for i in reversed(range(len(ops) - 1)):
        keys.send_keys(Keys.ARROW_LEFT).perform()
        assert caption(browser).startswith(f"Step {i + 1} of 8: {ops[i]}")
        assert slider.get_attribute("value") == str(i)
    keys.send_keys(Keys.END).perform()
    assert caption(browser).startswith("Step 8 of 8")


def test_first_and_last_frames_differ_and_the_shared_weight_adds_up(browser, seed_page):
    page, w, ops = seed_page
    open_page(browser, page)
    first = frame(browser)
    assert "no gradient yet" in first[1]  # nothing has reached the leaves at the root
    slider = browser.find_element(By.ID, "step")
    for _ in range(6):  # to the second multiply: the first window's turn
        slider.send_keys(Keys.ARROW_RIGHT)
    cells = browser.find_elements(By.CSS_SELECTOR, ".leaf[data-name='w'] td.changed .delta")
    assert [c.text for c in cells] == ["+= 10", "+= 20", "+= 30"]  # 10 * [1, 2, 3]
    slider.send_keys(Keys.END)
    last = frame(browser)
    assert first[0] != last[0] and first[1] != last[1] and first[2] != last[2]
    np.testing.assert_array_equal(leaf_values(browser, "w"), w.grad)  # the engine's .grad
    shown = browser.find_elements(By.CSS_SELECTOR, ".leaf[data-name='w'] td")
    assert [float(c.text.split("+=")[0]) for c in shown] == w.grad.tolist() == [50, 80, 110]


def test_the_paper_cnn_page_shows_the_engines_gradients_and_stays_small(browser, tmp_path):
    from tinygrad1d.app import models
    from tinygrad1d.app.report import training_step

    preset = models.get_preset("paper_cnn")
    tg.manual_seed(0)
    model = preset.build()
    xs = tg.randn(2, 40).data
    loss, title = training_step("paper_cnn", preset, model, xs, np.array([3, 7]))
    path = viz.save_html(loss, tmp_path / "backward.html", title=title)
    assert path.stat().st_size < 3_000_000
    assert open_page(browser, path) == []
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.END)
    assert browser.find_element(By.ID, "step").get_attribute("value") == str(
        int(browser.find_element(By.ID, "step").get_attribute("max")))
    conv = model[0].weight  # shared by all 19 windows of both samples
    np.testing.assert_allclose(leaf_values(browser, "0.weight"), conv.grad.ravel(), rtol=1e-6)
    np.testing.assert_allclose(leaf_values(browser, "input"), loss_input_grad(model, xs),
                               rtol=1e-5, atol=1e-7)


def loss_input_grad(model, xs) -> np.ndarray:
    """The input's gradient by the same step, run again without the page."""
    import tinygrad1d.functional as F

    x = tg.Tensor(xs.reshape(2, 1, 40), requires_grad=True)
    F.cross_entropy(model(x), np.array([3, 7])).backward()
    return x.grad.ravel()
