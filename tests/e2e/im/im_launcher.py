"""Run a real Infrastructure Manager (IM) REST server for the tests, confined to a directory.

Usage: python im_launcher.py WORKDIR

IM reads its settings from class attributes of `IM.config.Config` at import time of
`IM.im_service`, so they are set first: loopback only, a SQLite database and a log
file inside WORKDIR. The REST app is served by uvicorn on a socket this script binds
to port 0 itself (no free-port race); the chosen port is written to WORKDIR/port once
the server accepts connections. The process exits when its parent dies (the test).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time


def _die_with_parent(parent: int) -> None:
    # A test killed with SIGKILL cannot stop us; poll for re-parenting instead.
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    workdir = sys.argv[1]
    from IM.config import Config

    Config.REST_ADDRESS = "127.0.0.1"
    Config.REST_PORT = 0
    Config.DATA_DB = "sqlite://" + os.path.join(workdir, "im.db")
    Config.LOG_FILE = os.path.join(workdir, "im.log")
    Config.LOG_LEVEL = "DEBUG"
    Config.REMOTE_CONF_DIR = os.path.join(workdir, "remote")
    # Dummy VMs: refresh their state on every read instead of every 10 s.
    Config.VM_INFO_UPDATE_FREQUENCY = 0

    import uvicorn
    from IM import im_service
    from IM.InfrastructureList import InfrastructureList
    from IM.rest.REST import app

    im_service.config_logging()
    if not InfrastructureList.init_table():
        sys.exit(f"IM cannot open its database {Config.DATA_DB}")

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app=app, log_config=None, lifespan="off"))

    def announce() -> None:
        while not server.started:
            time.sleep(0.02)
        tmp = os.path.join(workdir, "port.tmp")
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, os.path.join(workdir, "port"))

    threading.Thread(target=_die_with_parent, args=(os.getppid(),), daemon=True).start()
    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
