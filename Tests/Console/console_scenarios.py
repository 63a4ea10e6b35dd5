#!/usr/bin/env python3
"""End-to-end scenarios of the operator console in a real browser (issue 19).

Starts a real `herald serve` (the binary at $HERALD_BIN, or --herald) with a temporary configuration: tenant t1
streaming to the file sink (files/people) and to the C test sink (test/faulty: every first attempt fails and one
attempt is allowed, so its messages become dead letters; a replay is attempt 2, which it accepts), SQLite in a
temporary data directory, a free port. Then drives headless Chromium through chromedriver with Selenium:

  1 sign in                       5 a broken filter in the playground: the error at the right position
  2 lag falls to 0 after a load   6 a read-only token sees no edit, pause, replay or purge controls
  3 create a destination          7 an entity named <img src=x onerror=alert(1)> renders as text
  4 a dead letter: open, replay, see it delivered

Prints one line per scenario (PASS, or FAIL with the detail) and exits 1 when one failed.
--screenshots DIR keeps a PNG of each page (docs/console/ holds the ones docs/console.md shows).
Run: HERALD_BIN=.build/debug/herald python3 Tests/Console/console_scenarios.py [--only 2,4] [--screenshots DIR]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ADMIN = "console-admin-token-0123456789"
READER = "console-read-token-0123456789"
XSS = "<img src=x onerror=alert(1)>"

SCHEMA = {
    "entityTypes": [
        {"uri": "configuration/entityTypes/Individual", "attributes": [
            {"name": "FirstName", "type": "String"}, {"name": "LastName", "type": "String"},
            {"name": "Email", "type": "Email"}, {"name": "Age", "type": "Int"}]},
    ],
    "sources": [{"uri": "configuration/sources/CRM"}, {"uri": "configuration/sources/WEB"}],
}


def check(condition, message):
    if not condition:
        raise AssertionError(message)


class Herald:
    """`herald serve` on a free port with a temporary configuration; stopped by stop()."""

    def __init__(self, binary, workdir):
        self.dir = workdir
        build = os.path.dirname(os.path.abspath(binary))
        plugins = os.path.join(workdir, "plugins.d")
        os.makedirs(plugins)
        for name in ("file", "test"):
            with open(os.path.join(plugins, name + ".json"), "w") as f:
                json.dump({"name": name, "library": f"{build}/libherald-sink-{name}.so", "abi": "1.1",
                           "description": "console test"}, f)
        self.faulty_out = os.path.join(workdir, "faulty.ndjson")
        config = {
            "server": {"host": "127.0.0.1", "port": 0, "tokens": [
                {"name": "operator", "token": ADMIN, "role": "admin", "tenants": ["t1"]},
                {"name": "viewer", "token": READER, "role": "read", "tenants": ["t1"]}]},
            "dataDirectory": "data",
            "pluginDirectories": [plugins],
            "tenants": [dict(SCHEMA, id="t1", streamingConfig={"messaging": {
                "providers": {
                    "files": {"plugin": "file", "config": {"path": "out/{destination}.ndjson"}},
                    "test": {"plugin": "test", "isolation": "inProcess",
                             "config": {"output": self.faulty_out, "retryEveryNth": 1}}},
                "destinations": [
                    {"provider": "files", "name": "people", "batch": {"lingerMs": 0}},
                    {"provider": "test", "name": "faulty", "format": "JSON_ZIP_BASE64",
                     "objectFilter": "equals(attributes.LastName, 'Deadletter')",
                     "retry": {"maxAttempts": 1}, "batch": {"lingerMs": 0}}]}})],
        }
        self.config = os.path.join(workdir, "herald.json")
        with open(self.config, "w") as f:
            json.dump(config, f, indent=2)
        self.log = open(os.path.join(workdir, "serve.log"), "w")
        self.process = subprocess.Popen([binary, "serve", "--config", self.config, "--port", "0"],
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.port = None
        found = threading.Event()

        def read():
            for line in self.process.stdout:
                if self.port is None and "listening on " in line:
                    self.port = int(line.strip().rsplit(":", 1)[1])
                    found.set()
        threading.Thread(target=read, daemon=True).start()
        if not found.wait(30):
            self.stop()
            raise RuntimeError("herald serve did not start:\n" + self.read_log())
        self.url = f"http://127.0.0.1:{self.port}"

    def read_log(self):
        with open(os.path.join(self.dir, "serve.log")) as f:
            return f.read()[-4000:]

    def api(self, method, path, body=None, token=ADMIN):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + token)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text.decode(errors="replace")

    def post_people(self, count, prefix, last="Smith", first=None):
        for start in range(0, count, 100):
            batch = [{"type": "Individual",
                      "attributes": {"FirstName": [first or f"{prefix}{i}"], "LastName": [last]},
                      "crosswalks": [{"type": "CRM", "value": f"{prefix}-{i}"}]}
                     for i in range(start, min(count, start + 100))]
            status, answer = self.api("POST", "/api/t1/entities", batch)
            check(status == 200 and all(r.get("successful") for r in answer), f"posting people: {status} {answer}")
        return answer

    def destination(self, id):
        status, answer = self.api("GET", "/api/t1/streaming/status")
        check(status == 200, f"status: {status} {answer}")
        return next((d for d in answer["destinations"] if d["id"] == id), None)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Console:
    """The browser, on the console of one server."""

    def __init__(self, herald, screenshots):
        self.herald = herald
        self.screenshots = screenshots
        options = webdriver.ChromeOptions()
        for binary in ("/usr/lib/chromium/chromium", "/usr/bin/chromium"):
            if os.path.exists(binary):
                options.binary_location = binary
                break
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1280,1000", "--no-first-run", "--disable-extensions"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
        self.driver = webdriver.Chrome(service=Service(executable_path=driver), options=options)
        self.driver.set_page_load_timeout(30)

    def open(self, route=""):
        """Loads the console (a full page load) at `#/route`."""
        self.driver.get(f"{self.herald.url}/console/" + (f"#/{route}" if route else ""))

    def go(self, route):
        """Moves to `#/route` inside the page (no reload: the session and hooks stay)."""
        self.driver.execute_script("location.hash = arguments[0]", "#/" + route)

    def wait(self, condition, seconds=45, message="condition"):
        try:
            # The pages refresh parts of themselves every few seconds: an element read as it is replaced is read again.
            return WebDriverWait(self.driver, seconds, poll_frequency=0.2,
                                 ignored_exceptions=[StaleElementReferenceException]).until(lambda d: condition())
        except TimeoutException:
            raise AssertionError(f"timed out after {seconds} s waiting for {message}")

    def find(self, css, seconds=45):
        return self.wait(lambda: self.first(css), seconds, f"'{css}'")

    def click(self, css, seconds=45):
        """Clicks the first element matching `css`, found again if the page replaces it first (a click on a
        replaced element raises before it reaches the page, so nothing is clicked twice)."""
        def attempt():
            found = self.first(css)
            if found is None:
                return False
            found.click()
            return True
        self.wait(attempt, seconds, f"'{css}' to click")

    def first(self, css):
        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        return found[0] if found else None

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def sign_in(self, token):
        self.open("signin")
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.refresh()
        field = self.find("#token")
        field.clear()
        field.send_keys(token)
        self.click("#signin-button")
        self.find("#role")

    def shot(self, name):
        if self.screenshots:
            import base64
            os.makedirs(self.screenshots, exist_ok=True)
            self.driver.execute_script("document.getElementById('flash').replaceChildren(); window.scrollTo(0, 0)")
            # The whole page (at most 2,000 pixels high), not only the window.
            height = min(2000, self.driver.execute_script("return document.documentElement.scrollHeight"))
            picture = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}})
            with open(os.path.join(self.screenshots, name + ".png"), "wb") as f:
                f.write(base64.b64decode(picture["data"]))

    def accept_confirm(self):
        alert = self.wait(lambda: self.alert(), 30, "a confirmation dialog")
        text = alert.text
        alert.accept()
        return text

    def alert(self):
        try:
            return self.driver.switch_to.alert
        except NoAlertPresentException:
            return None

    def text(self, css):
        """The text of the first element matching `css`, or None; read in one step (the page may replace it)."""
        return self.driver.execute_script(
            "const n = document.querySelector(arguments[0]); return n ? n.textContent : null", css)

    def cell(self, destination, field):
        return self.text(f'tr[data-destination="{destination}"] td[data-field="{field}"]')

    def quit(self):
        self.driver.quit()


def number(text):
    return int(text.replace(",", "")) if text and text.replace(",", "").isdigit() else None


# ---- the scenarios --------------------------------------------------------------------------------------------

def sign_in(c):
    """1: a wrong token is refused; the admin token signs in; it is in sessionStorage, never in a cookie."""
    c.open()
    c.find("#signin")
    c.shot("signin")
    c.find("#token").send_keys("not-a-token")
    c.click("#signin-button")
    c.wait(lambda: "not one of the server" in c.find("#signin-error").text, message="the refusal")
    c.sign_in(ADMIN)
    check(c.find("#user").text == "operator", "signed in as operator")
    check(c.find("#role").text == "admin", "role admin")
    check(c.driver.execute_script("return sessionStorage.getItem('herald.token')") == ADMIN, "token in sessionStorage")
    check(c.driver.get_cookies() == [], f"no cookies: {c.driver.get_cookies()}")
    c.find("tr[data-destination='files/people']")


def lag_falls_to_zero(c):
    """2: after loading 300 people the overview shows files/people with lag 0 and 300 sent."""
    c.go("overview")
    c.find("tr[data-destination='files/people']")
    c.herald.post_people(300, "load")
    c.wait(lambda: c.cell("files/people", "lagEvents") == "0" and (number(c.cell("files/people", "sent")) or 0) >= 300,
           60, "files/people: lag 0 and 300 sent")
    check(c.cell("files/people", "state") == "RUNNING", f"state {c.cell('files/people', 'state')}")
    # The throughput chart (redrawn on a new visit) has a line for files/people peaking at tens of messages per 10 s.
    c.go("events")
    c.go("overview")
    c.wait(lambda: c.first("#throughput svg") or c.first("#throughput p"), 20, "the throughput chart")
    check(c.first("#throughput svg") is not None, f"the throughput chart: {c.text('#throughput')}")
    peak = number(c.text("#throughput svg text.max"))
    check(peak is not None and peak >= 50, f"the chart's peak: {peak}")
    check(c.first("#throughput polyline.s0") is not None, "a line for files/people")
    time.sleep(1)
    c.shot("overview")


def create_destination(c):
    """3: an admin creates a destination with the form; its sent count rises as entities are posted."""
    c.go("new-destination")
    form = c.find("#destination-form")
    provider = form.find_element(By.NAME, "provider")
    provider.clear()
    provider.send_keys("files")
    form.find_element(By.NAME, "name").send_keys("created")
    form.find_element(By.CSS_SELECTOR, "input[name=typeFilter][value=ENTITY_CREATED]").click()
    Select(form.find_element(By.NAME, "payloadType")).select_by_value("SNAPSHOT")
    form.find_element(By.NAME, "payloadFields").send_keys("uri, attributes.FirstName")
    form.find_element(By.NAME, "batch.lingerMs").send_keys("0")
    c.shot("destination-new")
    c.click("#save")
    c.wait(lambda: "destination/files%2Fcreated" in c.driver.current_url or c.first("#form-issues li")
           or c.first(".field .issue span"), 20, "the new destination's page or the server's issues")
    issues = [n.text for n in c.all("#form-issues li, .field .issue span")]
    check(not issues, f"the server refused the form: {issues}")
    c.find("#destination-status [data-field=sent]")
    before = number(c.text("#destination-status [data-field=sent]")) or 0
    c.herald.post_people(25, "created")
    c.wait(lambda: (number(c.text("#destination-status [data-field=sent]")) or 0) >= before + 25, 60,
           "the new destination's sent count to rise by 25")
    out = os.path.join(c.herald.dir, "out", "created.ndjson")
    c.wait(lambda: os.path.exists(out), 10, "created.ndjson")
    # Selected fields without sub-attributes: the messages are made from the stored bytes (a hostile name with a
    # quote, from a scenario that ran earlier, would be decoded: only the stored-bytes count is checked).
    c.wait(lambda: (c.text("#destination-status [data-field=renders]") or "").split(" from the stored bytes")[0].replace(",", "")
           .isdigit() and number(c.text("#destination-status [data-field=renders]").split(" ")[0]) >= 25, 20,
           "the destination's renders: at least 25 from the stored bytes")
    # Pause and resume from the page.
    c.click("#pause")
    c.wait(lambda: c.text("#destination-status [data-field=state]") == "PAUSED", 20, "state PAUSED")
    c.click("#resume")
    c.wait(lambda: c.text("#destination-status [data-field=state]") == "RUNNING", 20, "state RUNNING again")
    c.find("#destination-form")
    # A refused change shows the server's issue next to its field.
    objectFilter = c.find("#destination-form textarea[name=objectFilter]")
    objectFilter.send_keys("equals(attributes.Nope, 'x')")
    c.click("#save")
    c.wait(lambda: c.first("[data-field=objectFilter] .issue span") or c.first("#form-issues li"), 20,
           "the refusal of a filter naming an unknown attribute")
    c.shot("destination")
    # An accepted edit: no filter, ENTITY_CHANGED too; the server holds what the form sent.
    c.find("#destination-form textarea[name=objectFilter]").clear()
    c.click("#destination-form input[name=typeFilter][value=ENTITY_CHANGED]")
    c.click("#save")
    c.wait(lambda: "Saved: files/created" in c.find("#flash").text, 20, "the edit to be saved")
    status, saved = c.herald.api("GET", "/api/t1/streaming/destinations/files%2Fcreated")
    check(status == 200 and saved.get("typeFilter") == ["ENTITY_CREATED", "ENTITY_CHANGED"]
          and "objectFilter" not in saved, f"the saved destination: {status} {saved}")
    # The audit list names the operator's changes.
    c.go("changes")
    c.wait(lambda: len([r for r in c.all("#changes tr") if "files/created" in r.text]) >= 4, 20,
           "create, pause, resume and replace of files/created in the audit list")
    c.shot("changes")


def dead_letter(c):
    """4: a message the test sink refuses becomes a dead letter; it is opened (JSON_ZIP_BASE64 decoded), replayed
    and delivered."""
    c.herald.post_people(1, "dl", last="Deadletter", first="Grace")
    c.wait(lambda: (c.herald.destination("test/faulty") or {}).get("deadLetterCount") == 1, 30,
           "one dead letter on test/faulty")
    c.go("dlq")
    Select(c.find("#dlq-destination")).select_by_value("test/faulty")
    # Selecting the destination loads the list again: the row is read, and its link clicked, in steps that survive
    # the list being replaced meanwhile.
    row = c.wait(lambda: c.text("#dlq-list tr[data-id]"), 20, "a row in the dead-letter list")
    check("RETRIES_EXHAUSTED" in row, f"the row: {row}")
    c.shot("dead-letters")
    c.click("#dlq-list tr[data-id] a")
    c.find("#decoded-note")
    body = c.find("#dlq-body pre.json").text
    check('"Deadletter"' in body and '"type": "ENTITY_CREATED"' in body, f"the decoded, pretty-printed body: {body[:300]}")
    c.shot("dead-letter")
    c.click("#replay-one")
    check("Replay dead letter" in c.accept_confirm(), "a confirmation before the replay")
    c.wait(lambda: "#/dlq" in c.driver.current_url, 10, "back on the list")
    c.wait(lambda: c.first("#dlq-empty"), 30, "the list to be empty after the replay")
    c.wait(lambda: os.path.exists(c.herald.faulty_out) and "Deadletter" in open(c.herald.faulty_out).read()
           or "Deadletter" in decoded_lines(c.herald.faulty_out), 30, "the replayed message in the sink's output")
    c.wait(lambda: (c.herald.destination("test/faulty") or {}).get("sent") == 1, 30, "test/faulty: sent 1")
    # Another dead letter, purged from the list: selected, confirmed, gone, not delivered.
    c.herald.post_people(1, "dl2", last="Deadletter", first="Ada")
    c.wait(lambda: (c.herald.destination("test/faulty") or {}).get("deadLetterCount") == 1, 30,
           "a second dead letter on test/faulty")
    c.go("overview")
    c.go("dlq")
    c.click("#dlq-list input.pick")
    c.click("#dlq-purge")
    check("Purge 1 dead letter?" in c.accept_confirm(), "a confirmation before the purge")
    c.wait(lambda: c.first("#dlq-empty"), 30, "the list to be empty after the purge")
    after = c.herald.destination("test/faulty")
    check(after["deadLetterCount"] == 0 and after["sent"] == 1, f"purged, not delivered: {after}")
    # The destination's recent errors show the failed attempts.
    c.go("destination/test%2Ffaulty")
    c.wait(lambda: c.first("#recent-errors table, #recent-errors p"), 20, "the recent errors")
    check("injected retry" in c.text("#recent-errors table"), f"the recent errors: {c.text('#recent-errors')}")


def decoded_lines(path):
    """The test sink's output with JSON_ZIP_BASE64 bodies decoded."""
    import base64
    import gzip
    text = []
    if not os.path.exists(path):
        return ""
    for line in open(path):
        try:
            text.append(gzip.decompress(base64.b64decode(json.loads(line)["body"])).decode())
        except Exception:
            text.append(line)
    return "\n".join(text)


def broken_filter(c):
    """5: the playground shows a broken filter's error with the caret at its position, and accepts a fixed one."""
    c.go("playground")
    box = c.find("#filter")
    box.clear()
    text = "equals(attributes.FirstName, 'John'"
    box.send_keys(text)
    error = c.wait(lambda: c.first("#filter-error"), 10, "the filter's error")
    check(error.get_attribute("data-position") == "35", f"position {error.get_attribute('data-position')}, expected 35")
    caret = c.find("#filter-error span.caret").get_attribute("textContent")
    check(caret == " " * 35 + "^", f"the caret line: {caret!r}")
    check("missing ')'" in error.text, f"the message: {error.text}")
    c.shot("playground-error")
    # Another error, mid-text: the unknown property at position 7.
    box.clear()
    box.send_keys("equals(FirstName, 'John')")
    c.wait(lambda: (c.first("#filter-error") or box).get_attribute("data-position") == "7", 10, "position 7")
    box.clear()
    box.send_keys("equals(attributes.LastName, 'Smith') and startsWith(attributes.FirstName, 'load29')")
    c.find("#filter-valid", 10)
    c.click("#run-test")
    c.wait(lambda: c.first("#test-summary") or c.first("#results p.error, #results p.unavailable"), 20,
           "the test against the last events")
    check(c.first("#test-summary") is not None, f"the test against the last events: {c.text('#results')}")
    # The last 20 events: people load281 … load299 and Grace Deadletter, so load290 … load299 pass.
    passing = [r.get_attribute("data-seq") for r in c.all("#results tr.pass")]
    check(len(passing) == 10, f"10 of the last 20 events pass: {c.text('#test-summary')}")
    check(c.text("#test-summary") == "10 of 20 events pass.", c.text("#test-summary"))
    first = c.find("#results tr.pass details")
    first.find_element(By.CSS_SELECTOR, "summary").click()
    check("startsWith(attributes.FirstName, 'load29')" in first.text, f"the explanation: {first.text}")
    c.shot("playground")


def read_only(c):
    """6: a read-only token sees no edit, pause, delete, replay or purge controls."""
    c.sign_in(READER)
    check(c.find("#role").text == "read", "role read")
    c.find("tr[data-destination='files/people']")
    check(not c.all("a[href='#/new-destination']"), "no link to create a destination")
    c.go("destination/" + "files%2Fpeople")
    c.find("#destination-status [data-field=state]")
    c.wait(lambda: c.first("#destination-config p, #destination-config pre, #destination-config form"), 10, "the configuration")
    for css in ("#pause", "#resume", "#delete", "#seek", "#destination-form", "#save"):
        check(not c.all(css), f"a read-only token sees {css}")
    c.shot("read-only-destination")
    c.go("dlq")
    c.find("#dlq-list p, #dlq-list table")
    for css in ("#dlq-replay", "#dlq-purge", "input.pick"):
        check(not c.all(css), f"a read-only token sees {css}")
    status, answer = c.herald.api("POST", "/api/t1/streaming/dlq/_purge?all=true", token=READER)
    check(status == 403, f"the API refuses a purge with the read token: {status} {answer}")


def hostile_name(c):
    """7: an entity named <img src=x onerror=alert(1)> renders as text everywhere."""
    answer = c.herald.post_people(1, "xss", first=XSS, last="Hostile")
    uri = answer[0]["uri"]
    # A second record of the same person, merged by hand: the entity page shows the merge and its events.
    other = c.herald.post_people(1, "xss-twin", first=XSS, last="Hostile")[0]["uri"]
    status, merged = c.herald.api("POST", f"/api/t1/{uri}/_sameAs?uri={other}")
    check(status == 200 and merged.get("uri") == uri, f"the merge: {status} {merged}")
    c.driver.execute_script("window.__alerts = []; window.alert = m => window.__alerts.push(String(m));")
    c.go("entity/" + uri.split("/", 1)[1])
    label = c.find("#entity-label")
    check(XSS in label.text, f"the name as text in the title: {label.text!r}")
    c.wait(lambda: c.first("#entity-events table"), 20, "the entity's events")
    check(XSS in c.find("dl.attributes").text, "the name as text in the attributes")
    c.wait(lambda: c.first("#merges table"), 20, "the merge history")
    check(other in c.text("#merges table") and "manual" in c.text("#merges table"), c.text("#merges"))
    types = [r.find_elements(By.CSS_SELECTOR, "td")[2].text for r in c.all("#entity-events tr[data-seq]")]
    check(types[0] == "ENTITY_CREATED" and "ENTITIES_MERGED" in types and "ENTITY_CHANGED" in types,
          f"the entity's events in order: {types}")
    c.shot("entity")
    c.go("events")
    tail = c.find("#tail")
    tail.clear()
    tail.send_keys("8")
    c.click("#events-refresh")
    status, queue = c.herald.api("GET", "/api/t1/events?tail=8")
    c.wait(lambda: len(c.all("#events-list tr[data-seq]")) == len(queue["events"]), 20, "the newest 8 events")
    shown = [int(r.get_attribute("data-seq")) for r in c.all("#events-list tr[data-seq]")]
    check(shown == [e["seq"] for e in queue["events"]], f"the newest 8 events, oldest first: {shown}")
    c.wait(lambda: any(XSS in n.text for n in c.all("#events-list span.label")), 20, "the name as text in the events")
    check(c.driver.execute_script("return document.querySelectorAll('main img').length") == 0, "no img element")
    check(c.driver.execute_script("return window.__alerts.length") == 0, "no alert ran")
    check(c.alert() is None, "no alert dialog")
    c.shot("events")


SCENARIOS = [
    (1, "sign in", sign_in),
    (2, "lag falls to 0 after a load", lag_falls_to_zero),
    (4, "dead letter opened, replayed, delivered", dead_letter),
    (5, "broken filter: error at its position", broken_filter),
    (3, "create a destination with the form; its sent count rises", create_destination),
    (7, "a hostile entity name renders as text", hostile_name),
    (6, "read-only token: no edit controls", read_only),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--herald", default=os.environ.get("HERALD_BIN", ".build/debug/herald"))
    parser.add_argument("--only", help="comma-separated scenario numbers")
    parser.add_argument("--screenshots", help="directory for the PNG screenshots")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    only = {int(n) for n in args.only.split(",")} if args.only else None

    workdir = tempfile.mkdtemp(prefix="herald-console-")
    herald = Herald(args.herald, workdir)
    console = None
    failures = 0
    try:
        console = Console(herald, args.screenshots)
        signed_in = False
        for number_, name, scenario in SCENARIOS:
            if only and number_ not in only:
                continue
            if number_ != 1 and not signed_in:
                console.sign_in(ADMIN)
            signed_in = True
            started = time.time()
            try:
                scenario(console)
                print(f"PASS {number_} {name} ({time.time() - started:.1f} s)", flush=True)
            except Exception as error:  # noqa: BLE001 — every failure is reported, then the next scenario runs
                failures += 1
                print(f"FAIL {number_} {name}: {error}", flush=True)
                traceback.print_exc(file=sys.stdout)
                logs = [entry["message"] for entry in console.driver.get_log("browser")][-10:]
                if logs:
                    print("  browser console:\n    " + "\n    ".join(logs), flush=True)
                console.go("overview")
    finally:
        if console:
            console.quit()
        herald.stop()
        if failures:
            print("herald's log (end):\n" + herald.read_log(), flush=True)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("kept " + workdir)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
