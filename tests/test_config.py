"""Bad stack config fails before any resource is registered, with one message per problem."""

import copy
import json
from typing import Annotated, Optional

import pulumi
import pytest
from pydantic import Field, StrictBool, StrictInt, ValidationError

from sitespec.config import ConfigError, LogSettings, OnlyOn, SiteConfig, parse, platforms
from site_fixtures import BASE, PASSWORD
from engine import evaluate, last_run


def with_(path: str, value, base=BASE):
    """BASE with o3:<obj>.<field> set (value None removes it)."""
    cfg = copy.deepcopy(base)
    key, _, field = path.partition(".")
    if not field:
        if value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
        return cfg
    obj = cfg.setdefault(key, {})
    if value is None:
        obj.pop(field, None)
    else:
        obj[field] = value
    return cfg


BAD = [
    # (config, secret keys, expected words in the message)
    (with_("o3:site", None), (), ["o3:site: missing"]),
    (with_("o3:site.storagePath", "data/o3"), (), ["o3:site.storagePath", "absolute path"]),
    (with_("o3:site.storagePath", "/srv/o3:rw"), (), ["o3:site.storagePath", "':'"]),
    (with_("o3:site.storagePath", "/srv/../o3"), (), ["o3:site.storagePath", "'..'"]),
    (with_("o3:site.timezone", "Europe/Atlantis"), (), ["o3:site.timezone", "IANA"]),
    (with_("o3:site.concurrentUsers", 0), (), ["o3:site.concurrentUsers", "greater than or equal to 1"]),
    (with_("o3:site.concurrentUsers", "ten"), (), ["o3:site.concurrentUsers", "integer"]),
    (with_("o3:site.name", "St Marys"), (), ["o3:site.name", "DNS label"]),
    (with_("o3:site.examsPerDay", None), (), ["o3:site.examsPerDay: missing"]),
    (with_("o3:site.pathalogy", True), (), ["o3:site.pathalogy: unknown key"]),
    (with_("o3:images.pacs", "europe-west1-docker.pkg.dev/o3-cloud-internal/partner/pacs-cloud:{X.Y.Z}"), (), ["o3:images.pacs", "placeholder"]),
    (with_("o3:images.view", None), (), ["o3:images.view: missing"]),
    (with_("o3:images.db", "MySQL 8"), (), ["o3:images.db", "not a valid image reference"]),
    (with_("o3:network", {"subnet": "172.16.1.0/33"}), (), ["o3:network.subnet", "IPv4 CIDR"]),
    (with_("o3:network", {"subnet": "172.16.1.5/24"}), (), ["o3:network.subnet", "host bits"]),
    (with_("o3:database", {"publish": "everywhere"}), (), ["o3:database.publish", "'off', 'loopback'"]),
    (with_("o3:database", {"ulimits": {"nofileSoft": 50000, "nofileHard": 20000}}), (), ["o3:database.ulimits", "nofileSoft"]),
    (with_("o3:ports", {"viewHttp": 8080}), (), ["host ports", "different"]),
    (with_("o3:host.memoryGb", -4), (), ["o3:host.memoryGb", "greater than 0"]),
    (with_("o3:extraEnv", {"pacs": {"TZ": "UTC"}}), (), ["o3:extraEnv.pacs", "'TZ' is set by the program"]),
    (with_("o3:sites", {"name": "x"}), (), ["o3:sites: unknown key"]),
    (with_("o3:site", "st-marys"), (), ["o3:site: must be an object"]),
    (with_("o3:dbPassword", PASSWORD), (), ["o3:dbPassword", "plain text", "--secret"]),
    (with_("o3:dbPassword", "short"), ("o3:dbPassword",), ["o3:dbPassword", "12-128 characters"]),
    (with_("o3:dbPassword", "has;semicolon-x"), ("o3:dbPassword",), ["o3:dbPassword", "connection strings"]),
    (with_("o3:registryKey", "not json"), ("o3:registryKey",), ["o3:registryKey", "JSON key file"]),
    (with_("docker:host", "pacs01:2375"), (), ["docker:host", "ssh://"]),
    (with_("docker:sshOpts", ["-i", "/keys/site"]), (), ["docker:sshOpts is set but docker:host is not an ssh:// URL"]),
    (dict(with_("docker:sshOpts", "-i /keys/site"), **{"docker:host": "ssh://o3@h"}), (), ["docker:sshOpts: must be a list"]),
]


@pytest.mark.parametrize("cfg, secrets, words", BAD, ids=[w[0] for _, _, w in BAD])
def test_bad_config_fails_with_the_key_and_registers_nothing(cfg, secrets, words):
    with pytest.raises(pulumi.RunError) as err:
        evaluate(cfg, secrets)
    msg = str(err.value)
    for w in words:
        assert w in msg, msg
    assert last_run().resources == [], "resources were registered before the config was validated"


def test_every_problem_is_reported_at_once():
    cfg = with_("o3:site.timezone", "Mars/Olympus", with_("o3:site.storagePath", "relative", with_("o3:images.view", None)))
    with pytest.raises(pulumi.RunError) as err:
        evaluate(cfg)
    problems = [line for line in str(err.value).splitlines() if line.startswith("  - ")]
    assert len(problems) == 3, problems


def test_a_secret_value_is_never_echoed_in_an_error():
    with pytest.raises(pulumi.RunError) as err:
        evaluate(with_("o3:dbPassword", "Bad;Password;Value"), ("o3:dbPassword",))
    assert "Bad;Password;Value" not in str(err.value)


def test_defaults_are_the_guides():
    cfg = parse({k.removeprefix("o3:"): v for k, v in BASE.items()})
    assert cfg.images.db == "mysql:8.0.34"
    assert (cfg.network.name, cfg.network.subnet) == ("o3net", "172.16.1.0/24")
    assert (cfg.registry.server, cfg.registry.username) == ("europe-west1-docker.pkg.dev", "_json_key")
    assert (cfg.ports.pacs_http, cfg.ports.pacs_service, cfg.ports.view_http) == (8080, 4568, 8181)
    assert cfg.database.publish == "off"
    assert cfg.site.pathology is False


def test_pulumi_yaml_empty_defaults_mean_not_set():
    # The CLI fills Pulumi.yaml's defaults ({} and "") into every stack.
    raw = {k.removeprefix("o3:"): v for k, v in BASE.items()}
    raw.update(registry="{}", network="{}", database="{}", ports="{}", extraEnv="{}", dbPassword="", registryKey="")
    cfg = parse(raw)
    assert cfg.db_password is None and cfg.registry_key is None
    assert cfg.network.name == "o3net"


# --- which platform owns a key: field metadata, read by the refusals ---------------------------

class _LogsWithANewKnob(LogSettings):
    rotate_hourly: Annotated[StrictBool, OnlyOn("docker")] = Field(False, alias="rotateHourly")
    """A Docker-only field the real models do not have."""


class _ConfigWithNewKeys(SiteConfig):
    logs: _LogsWithANewKnob = _LogsWithANewKnob()
    """Log limits, with the new field."""
    docker_knob: Annotated[Optional[StrictInt], OnlyOn("docker")] = Field(None, alias="dockerKnob")
    """A new top-level Docker-only key."""
    kube_knob: Annotated[Optional[StrictInt], OnlyOn("kubernetes", required=True)] = Field(None, alias="kubeKnob")
    """A new Kubernetes-only key that Kubernetes stacks must set."""


def _config(cfg: dict) -> dict:
    return {k.removeprefix("o3:"): v for k, v in cfg.items()}


KUBE_SITE = {"name": "big-site", "timezone": "Europe/Rome", "concurrentUsers": 60, "examsPerDay": 100}


def test_a_new_docker_only_field_is_refused_on_kubernetes_with_no_other_edit():
    kube = {"platform": "kubernetes", "site": KUBE_SITE, "images": BASE["o3:images"],
            "kubernetes": {"storageClass": "nas", "storageGb": 100}, "kubeKnob": 1}
    _ConfigWithNewKeys.model_validate(kube)  # not set: nothing to refuse
    with pytest.raises(ValidationError) as err:
        _ConfigWithNewKeys.model_validate({**kube, "dockerKnob": 3, "logs": {"rotateHourly": True}})
    msg = str(err.value)
    assert "o3:dockerKnob: is for o3:platform docker only, and this stack sets o3:platform kubernetes" in msg, msg
    assert "o3:logs.rotateHourly: is for o3:platform docker only" in msg, msg
    docker = _ConfigWithNewKeys.model_validate({**_config(BASE), "dockerKnob": 3, "logs": {"rotateHourly": True}})
    assert docker.docker_knob == 3 and docker.logs.rotate_hourly is True


def test_a_new_required_kubernetes_key_is_asked_for_by_name_and_refused_on_docker():
    kube = {"platform": "kubernetes", "site": KUBE_SITE, "images": BASE["o3:images"],
            "kubernetes": {"storageClass": "nas", "storageGb": 100}}
    with pytest.raises(ValidationError) as err:
        _ConfigWithNewKeys.model_validate(kube)
    assert "o3:kubeKnob: missing while o3:platform is kubernetes; set it with" in str(err.value)
    with pytest.raises(ValidationError) as err:
        _ConfigWithNewKeys.model_validate({**_config(BASE), "kubeKnob": 1})
    assert "o3:kubeKnob: is for o3:platform kubernetes only" in str(err.value)


def test_the_platforms_keys_are_read_from_the_metadata():
    docker = {key for key, _, _ in platforms.owned(_ConfigWithNewKeys, "docker")}
    assert {"o3:dockerKnob", "o3:logs.rotateHourly"} <= docker
    assert docker - {"o3:dockerKnob", "o3:logs.rotateHourly"} == {k for k, _, _ in platforms.owned(SiteConfig, "docker")}
    assert [k for k, _, _ in platforms.owned(SiteConfig, "kubernetes")] == ["o3:kubernetes"]


# --- JSON text, as the CLI hands objects and lists over, read by pydantic ----------------------

def test_json_text_is_read_like_the_mapping_it_holds():
    raw = {k: json.dumps(v) for k, v in _config(BASE).items()}
    assert parse(raw, set(), "ssh://o3@h", '["-i", "/keys/site"]') == parse(_config(BASE), set(), "ssh://o3@h", ["-i", "/keys/site"])


@pytest.mark.parametrize("text", ["st-marys", "[1, 2]", '"st-marys"', "{not json"])
def test_an_object_key_that_is_not_an_object_is_one_problem_naming_the_key_and_the_fix(text):
    with pytest.raises(ConfigError) as err:
        parse({**_config(BASE), "site": text})
    assert err.value.problems == [
        "o3:site: must be an object with named fields; set it with `pulumi config set --path o3:site.name <value>` "
        "(needs o3:site.name, .timezone, .concurrentUsers, .examsPerDay)"]


def test_an_o3_key_named_like_a_docker_key_is_unknown():
    with pytest.raises(ConfigError) as err:
        parse({**_config(BASE), "dockerHost": "ssh://o3@h"})
    assert err.value.problems == ["o3:dockerHost: unknown key; check the spelling against the config table in docs/config.md"]
