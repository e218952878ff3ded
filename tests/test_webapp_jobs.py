"""Issue 23 item 5 in the browser: jobs as a research log. A run is recorded in the page's URL as its job
(`job=<id>` replaces `run=1`), so Back, a reload or the history show that job and start none (after cancelling a
5,000-step job, Back once started it again); rerunning a cancelled spec asks; a shared link with run=1 runs once;
the Jobs page shows each job's model, parameters, start and duration (or the time left) and opens it on its page
with its form filled in; a page shows the server's estimate before a run of over a minute."""

import re
import time

import httpx
import pytest

from webapp_helpers import serious_violations as serious

pytestmark = pytest.mark.usefixtures("one_thread")

VISUALIZE = "/#/model/digits/visualize"


def jobs_of(server, recipe="visualize") -> list[dict]:
    """The server's jobs of `recipe` (the pages' quick lookups, layer and model lists, left out)."""
    return [j for j in httpx.get(f"{server}/api/jobs").json()["jobs"] if j["recipe"] == recipe]


def job_in_url(page) -> str:
    page.wait_for_function("() => /[?&]job=/.test(window.location.hash)")
    return re.search(r"[?&]job=([0-9a-f]+)", page.url).group(1)


def test_back_after_cancel_starts_no_job(server, page):
    page.goto(f"{server}{VISUALIZE}?layer=features.3&channels=2&steps=5000")
    page.get_by_test_id("run").click()
    job = job_in_url(page)  # run=1 became the job, in the same history entry
    assert "run=1" not in page.url
    page.locator(".run-panel button", has_text="Cancel").click()
    page.get_by_test_id("job-cancelled").wait_for()
    assert httpx.get(f"{server}/api/jobs/{job}").json()["status"] == "cancelled"
    count = len(jobs_of(server))
    # away to the Jobs page, then Back: the cancelled job is shown, nothing starts
    page.locator("nav").get_by_text("Jobs").click()
    page.get_by_test_id(f"job-{job}").wait_for()
    page.go_back()
    page.get_by_test_id("job-cancelled").wait_for()
    assert f"job={job}" in page.url and job in page.get_by_test_id("job-cancelled").inner_text()
    page.reload()
    page.get_by_test_id("job-cancelled").wait_for()
    page.go_back()  # the page before the run, then forward to the run again
    page.wait_for_function("() => !window.location.hash.includes('job=')")
    page.go_forward()
    page.get_by_test_id("job-cancelled").wait_for()
    page.wait_for_timeout(1500)  # time for any run to be submitted
    assert len(jobs_of(server)) == count, "Back, reload or Forward started a job"
    assert serious(page) == []
    # Run again: the page asks first; no, then nothing runs; yes, then it runs
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.get_by_test_id("run").click()
    page.get_by_test_id("not-rerun").wait_for()
    assert "was cancelled" in asked[0] and job in asked[0] and len(jobs_of(server)) == count
    page.once("dialog", lambda d: d.accept())
    page.get_by_test_id("run").click()
    page.wait_for_function(f"() => /job=/.test(window.location.hash) && !window.location.hash.includes('{job}')")
    again = job_in_url(page)
    assert len(jobs_of(server)) == count + 1 and again != job
    httpx.delete(f"{server}/api/jobs/{again}")


def test_reload_of_a_finished_run_starts_no_job(server, page):
    """A shared link with run=1 runs once; its URL then names the job: a reload shows the result, runs nothing."""
    before = len(jobs_of(server))
    page.goto(f"{server}{VISUALIZE}?layer=features.3&channels=4&steps=6&run=1")
    page.get_by_test_id("result").wait_for(timeout=120_000)
    job = job_in_url(page)
    assert len(jobs_of(server)) == before + 1 and "run=1" not in page.url
    page.reload()
    page.get_by_test_id("result").wait_for()
    page.wait_for_function("() => document.querySelectorAll('.result img').length >= 1")
    page.wait_for_timeout(1000)
    assert len(jobs_of(server)) == before + 1 and f"job={job}" in page.url
    assert page.locator("input[name=steps]").input_value() == "6"
    assert serious(page) == []


def test_the_jobs_list_is_a_research_log(server, page):
    spec = {"model": {"spec": "digits"}, "layer": "features.3", "channels": [1, 3], "steps": 7, "seed": 5}
    done = httpx.post(f"{server}/api/runs", json={"recipe": "visualize", "spec": spec}).json()["job"]
    end = time.time() + 120
    while (view := httpx.get(f"{server}/api/jobs/{done}").json())["status"] != "done":
        assert time.time() < end and view["status"] in ("queued", "running"), view["status"]
        time.sleep(0.2)
    slow = {**spec, "channels": [0], "steps": 100_000}
    running = httpx.post(f"{server}/api/runs", json={"recipe": "visualize", "spec": slow}).json()["job"]
    try:
        page.goto(f"{server}/#/jobs")
        row = page.get_by_test_id(f"job-{done}")
        row.wait_for()
        assert page.get_by_test_id(f"model-{done}").inner_text() == "digits"
        params = page.get_by_test_id(f"params-{done}").inner_text()
        # the parameters that differ from the recipe's defaults (steps 256, seed 0), not those left at them
        for shown in ("layer=features.3", "channels=1,3", "steps=7", "seed=5"):
            assert shown in params, params
        assert "param=" not in params and "batch_size" not in params
        assert re.search(r"\d\d:\d\d:\d\d", page.get_by_test_id(f"started-{done}").inner_text())
        took = view["ended"] - view["started"]
        assert page.get_by_test_id(f"time-{done}").inner_text() == (
            f"{took:.1f} s" if took < 10 else f"{round(took)} s"
        )
        # the running job: the time it has left, from its progress
        page.wait_for_function(
            f"() => document.querySelector('[data-testid=time-{running}]')?.innerText.includes('left')", timeout=60_000
        )
        assert serious(page) == []
        page.get_by_test_id(f"cancel-{running}").click()
        page.locator(f"[data-testid=job-{running}] .status-cancelled").wait_for(timeout=30_000)
        count = len(jobs_of(server))
        # open: the page with the job's spec in its form and its result, nothing run
        page.get_by_test_id(f"open-{done}").click()
        page.get_by_test_id("result").wait_for()
        assert re.search(rf"#/model/digits/visualize\?.*job={done}", page.url), page.url
        assert page.locator("input[name=steps]").input_value() == "7"
        assert page.locator("input[name=channels]").input_value() == "1,3"
        assert page.locator("input[name=seed]").input_value() == "5"
        assert page.get_by_test_id("layer-select").input_value() == "features.3"
        assert page.locator(".result img").count() >= 2  # the two channels' pictures
        assert "mix=" not in page.url and "param=" not in page.url  # values at the page's defaults stay out
        page.wait_for_timeout(500)
        assert len(jobs_of(server)) == count
    finally:
        httpx.delete(f"{server}/api/jobs/{running}")


def test_a_long_run_shows_its_estimate_first(server, page):
    """From the journal: a past run's seconds per step times the steps asked (100,000 steps: well over a minute)."""
    spec = {"model": {"spec": "digits"}, "layer": "features.3", "channels": [6], "steps": 100_000}
    estimate = httpx.post(f"{server}/api/runs/estimate", json={"recipe": "visualize", "spec": spec}).json()
    assert estimate["seconds"] > 60, estimate  # earlier tests of this module ran visualizations on digits
    count = len(jobs_of(server))
    page.goto(f"{server}{VISUALIZE}?layer=features.3&channels=6&steps=100000")
    shown = page.get_by_test_id("estimate")
    shown.wait_for()
    assert shown.inner_text().startswith("estimated ") and "past run" in shown.inner_text()
    minutes = estimate["seconds"] / 60
    assert f"{int(minutes)} min" in shown.inner_text() or f"{int(minutes // 60)} h" in shown.inner_text()
    # a short one shows none
    page.locator("input[name=steps]").fill("8")
    page.wait_for_function("() => !document.querySelector('[data-testid=estimate]')")
    assert len(jobs_of(server)) == count  # estimating runs nothing
    assert serious(page) == []
