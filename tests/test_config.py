"""Bad stack config fails before any resource is registered, with one message per problem."""

import copy

import pulumi
import pytest

from sitespec.config import parse
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
