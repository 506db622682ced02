"""docker-compose.yml cannot run here (no Docker engine), so it is kept correct by reading it:
the commands, variables, ports and scrape targets it names must be the ones the code has."""

import re
import tomllib

import yaml

from services.cli import parser
from shared.config import DEFAULT_PORTS, REPO_ROOT, SERVICES, VARIABLES

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
KNOWN = {name.replace("<SERVICE>", s.upper()) for name in VARIABLES for s in SERVICES}
COMPOSE_ONLY = {"PORT"}  # read by the compose healthcheck, not by Loudong


def test_each_service_runs_its_own_loudong_command_on_its_default_port():
    for name in SERVICES:
        service = COMPOSE["services"][name]

        parser().parse_args(service["command"])

        assert service["command"] == [name]
        assert service["ports"] == [f"{DEFAULT_PORTS[name]}:{DEFAULT_PORTS[name]}"]
        assert service["environment"]["PORT"] == str(DEFAULT_PORTS[name])


def test_compose_sets_only_variables_that_loudong_reads():
    for name in SERVICES:
        unknown = set(COMPOSE["services"][name]["environment"]) - KNOWN - COMPOSE_ONLY

        assert not unknown, f"{name}: {unknown}"


def test_every_service_has_its_own_postgres_database_created_at_init():
    init = (REPO_ROOT / "deploy" / "postgres-init.sql").read_text()
    env = COMPOSE["services"]["intake"]["environment"]

    for name in SERVICES:
        database = env[f"LOUDONG_{name.upper()}_DATABASE_URL"].rsplit("/", 1)[1]
        assert f"CREATE DATABASE {database};" in init


def test_prometheus_scrapes_the_four_services():
    for config, host in (("prometheus.yml", "{name}"), ("local.yml", "127.0.0.1")):
        prometheus = yaml.safe_load((REPO_ROOT / "deploy" / "prometheus" / config).read_text())

        jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
        targets = jobs["loudong"]["static_configs"][0]["targets"]
        expected = [f"{host.format(name=n)}:{DEFAULT_PORTS[n]}" for n in SERVICES]
        assert sorted(targets) == sorted(expected), config
        assert prometheus["rule_files"] == ["rules/*.yml"] and "rabbitmq" in jobs


def test_the_readme_documents_every_variable():
    readme = (REPO_ROOT / "README.md").read_text()

    missing = [name for name in VARIABLES if f"`{name}`" not in readme]
    assert not missing


def test_the_dockerfile_installs_the_files_the_defaults_point_at():
    dockerfile = (REPO_ROOT / "deploy" / "Dockerfile").read_text()

    packages = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]
    for copied in (*(p.rstrip("*") for p in packages["include"]), "deploy"):
        assert re.search(rf"^COPY {copied} ", dockerfile, re.M), f"the image lacks {copied}/"
    assert "LOUDONG_DIRECTORY=/app/deploy/directory.yaml" in dockerfile
