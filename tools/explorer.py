"""Start the explanation explorer (``explorer/explorer.ipynb``) as a web app with Voila.

Usage (from the repository root, with the course environment active)::

    python tools/explorer.py                 # a free port on 127.0.0.1; prints the address
    python tools/explorer.py --port 8866     # a fixed port

It runs ``voila explorer/explorer.ipynb`` on a free local port with the template
``explorer/voila/templates/xai-explorer``: Voila's lab template without the two Font Awesome
style sheets that it links from a CDN (its JavaScript bundle carries Font Awesome already), so
the page makes no request to another host and renders on an offline HPC node. Plain
``voila explorer/explorer.ipynb`` works too, but its browser then asks cdn.jsdelivr.net.
On a cluster, forward the port to your laptop first (``ssh -L 8866:127.0.0.1:8866 node``)
and open the printed address there. Stop it with Ctrl+C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "explorer" / "explorer.ipynb"
TEMPLATE = "xai-explorer"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command(port: int) -> tuple[list[str], dict[str, str]]:
    """Return the Voila command line and its environment for ``port``."""
    voila = shutil.which("voila", path=str(Path(sys.executable).parent)) or shutil.which("voila")
    if voila is None:
        raise SystemExit("voila is not installed: pip install voila (see README)")
    env = dict(os.environ)
    # Voila looks for templates in <jupyter path>/voila/templates/<name>
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in [str(ROOT / "explorer"),
                                                      env.get("JUPYTER_PATH", "")] if p)
    args = [voila, str(NOTEBOOK.relative_to(ROOT)), f"--template={TEMPLATE}", "--no-browser",
            f"--port={port}", "--Voila.ip=127.0.0.1"]  # fmt: skip
    return args, env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    options = parser.parse_args(argv)
    port = options.port or free_port()
    args, env = command(port)
    print(f"Explanation explorer: http://127.0.0.1:{port}/  (starting Voila; Ctrl+C stops it)",
          flush=True)  # fmt: skip
    os.chdir(ROOT)
    os.execve(args[0], args, env)  # Voila takes over this process (its id, its signals)


if __name__ == "__main__":
    main()
