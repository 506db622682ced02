"""`make monitor`: a real Prometheus (Debian's package) scraping the services `make run`
started on this machine, with the project's recording and alerting rules loaded
(deploy/prometheus/local.yml). RabbitMQ's own endpoint is scraped too when its
rabbitmq_prometheus plugin is on: this turns it on where the broker is this machine's.
Prints the URL, then runs in the foreground until Ctrl-C; its data under data/prometheus."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from shared.config import REPO_ROOT

CONFIG = REPO_ROOT / "deploy" / "prometheus" / "local.yml"
LISTEN = "127.0.0.1:9090"


def rabbitmq_endpoint_on() -> None:
    """Best effort: a broker this machine does not control is left as it is."""
    plugins = shutil.which("rabbitmq-plugins")
    if plugins is None:
        print("rabbitmq-plugins not found: RabbitMQ's own metrics are not scraped")
        return
    done = subprocess.run(
        [plugins, "enable", "rabbitmq_prometheus"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(f"could not enable rabbitmq_prometheus: {done.stderr.strip()[:200]}")


def main() -> int:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        print("prometheus is not installed: `make monitor` installs it with apt-get")
        return 1
    rabbitmq_endpoint_on()
    data = Path(os.environ.get("LOUDONG_DATA_DIR", REPO_ROOT / "data")) / "prometheus"
    data.mkdir(parents=True, exist_ok=True)
    print(f"Prometheus at http://{LISTEN}/ (alerts: http://{LISTEN}/alerts), rules from {CONFIG}")
    command = [
        prometheus,
        f"--config.file={CONFIG}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address={LISTEN}",
        "--storage.tsdb.retention.time=7d",
    ]
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
