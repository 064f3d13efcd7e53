"""Browser-test fixtures: the real app under uvicorn (background thread, free 127.0.0.1 port) over a fresh
SQLite database seeded with the demo alliance, and the system Chromium driven through Playwright."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - (app, gate)
    from yilian.app import create_app
    from yilian.config import Settings
    from yilian.demo.load import load_demo
    from yilian.store import schema

    db = tmp_path_factory.mktemp("browser") / "yilian.db"
    settings = Settings(database_url=f"sqlite:///{db}", demo=True, _env_file=None)
    app = create_app(settings)
    schema.upgrade(app.state.gate.engine)
    load_demo(app.state.gate, patients=12, seed=7)
    return app


@pytest.fixture(scope="module")
def base_url(demo_app) -> Iterator[str]:  # noqa: ANN001
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound before uvicorn starts, so no other process can take the port
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(demo_app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def page():  # noqa: ANN201 - a Playwright Page
    if CHROMIUM is None:
        pytest.skip("needs the system Chromium (/usr/bin/chromium), which is not installed")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        finally:
            browser.close()


@pytest.fixture
def sign_in(page, base_url):  # noqa: ANN001, ANN201 - sign_in(user, password) on the shared page
    def go(user: str, password: str) -> None:
        page.context.clear_cookies()
        page.goto(f"{base_url}/signin")
        page.fill("#username", user)
        page.fill("#password", password)
        page.locator("form:has(#username) button[type=submit]").click()
        page.wait_for_url(lambda url: "/signin" not in url)

    return go
