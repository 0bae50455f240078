"""Headless Chromium for the course's browser checks (site, slides, explorer).

The checks drive Debian's ``chromium`` (or any Chromium given by ``XAI_CHROMIUM``) with
Playwright's Python package and its bundled driver; nothing is downloaded (Playwright's own
browser download is never used). Install the browser once:

* Debian/Ubuntu: ``sudo apt-get update && sudo apt-get install -y chromium`` (Ubuntu's
  ``chromium-browser`` is a snap: point ``XAI_CHROMIUM`` at any Chromium or Chrome binary);
* as root on a Debian machine (CI), :func:`ensure_chromium` installs it itself;
* macOS/Windows: set ``XAI_CHROMIUM`` to the Chrome or Chromium executable.

:class:`Browser` records, for every page it opens, the console errors, the failed requests
and every request to a host other than the local server, so a test can require "no console
errors, no outside request".
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

#: Flags for a headless Chromium on a machine without network (no background traffic).
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps",
]  # fmt: skip
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


def find_chromium() -> str | None:
    """Return the path of a Chromium executable (``XAI_CHROMIUM`` first), or None."""
    given = os.environ.get("XAI_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def ensure_chromium() -> str:
    """Return a Chromium executable, installing Debian's package when run as root.

    Raises
    ------
    RuntimeError
        When there is none and it cannot be installed here, with the command to run.
    """
    found = find_chromium()
    if found:
        return found
    can_install = hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
    if can_install:
        import fcntl  # POSIX only, like apt-get

        # parallel test workers: one installs, the others wait for it
        with open(Path(tempfile.gettempdir()) / "xai-course-chromium.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = find_chromium()
            if found:
                return found
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for cmd in (["apt-get", "update", "-qq"],
                        ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                         "chromium"]):
                done = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if done.returncode:
                    raise RuntimeError(f"installing Chromium failed ({' '.join(cmd)}):\n"
                                       f"{done.stderr[-2000:]}")
        found = find_chromium()
        if found:
            return found
    raise RuntimeError(
        "the browser checks need Chromium: 'sudo apt-get update && sudo apt-get install -y "
        "chromium' (Debian/Ubuntu), or set XAI_CHROMIUM to a Chromium/Chrome executable"
    )


@dataclass
class PageLog:
    """What one page did: console errors, failed and outside requests."""

    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Return every console error, failed request and outside request."""
        return ([f"console error: {m}" for m in self.console_errors]
                + [f"failed request: {u}" for u in self.failed]
                + [f"request to an outside host: {u}" for u in self.outside])


class Browser:
    """A headless Chromium (Playwright) that logs what each page requests and prints.

    Requests to hosts other than localhost are recorded and aborted, so a page that would
    need the network fails visibly here even on a machine that has one.
    """

    def __init__(self, executable: str | None = None) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(
                executable_path=executable or ensure_chromium(), args=CHROMIUM_ARGS)
        except Exception:
            self._pw.stop()
            raise

    def open(self, url: str, width: int = 1280, height: int = 900, wait: str = "load"):
        """Open ``url`` in a new page; return ``(page, log)``."""
        page = self._browser.new_page(viewport={"width": width, "height": height})
        log = PageLog()

        def route(r):
            host = urlsplit(r.request.url).hostname or ""
            if urlsplit(r.request.url).scheme in ("data", "blob", "about"):
                return r.continue_()
            if host not in LOCAL_HOSTS:
                log.outside.append(r.request.url)
                return r.abort()
            return r.continue_()

        page.route("**/*", route)
        page.on("console", lambda m: log.console_errors.append(m.text)
                if m.type == "error" else None)
        page.on("pageerror", lambda e: log.console_errors.append(f"uncaught: {e}"))
        page.on("request", lambda r: log.requests.append(r.url))
        page.on("requestfailed", lambda r: log.failed.append(r.url)
                if urlsplit(r.url).hostname in LOCAL_HOSTS else None)
        page.goto(url, wait_until=wait)
        return page, log

    def close(self) -> None:
        """Close the browser and the Playwright driver."""
        try:
            self._browser.close()
        finally:
            self._pw.stop()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def serve(folder: Path | str):
    """Serve ``folder`` over HTTP on a free localhost port; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
