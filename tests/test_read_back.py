"""What the program declares is what the docker provider reads back, so the nightly
`preview --refresh --expect-no-changes` stays green. Each case was a diff the real engine showed
right after the first `up` (tests/e2e/test_site_lifecycle.py), which the mock engine cannot show:
a diff on ports or on the network's IPAM config replaces containers (ForceNew)."""

import ipaddress

from engine import evaluate
from site_fixtures import BASE

CONTAINER = "docker:index/container:Container"


def test_published_ports_are_listed_in_the_order_the_provider_reads_them():
    # The provider flattens a container's PortMap sorted by internal port.
    ev = evaluate(BASE)
    seen = 0
    for c in ev.of_type(CONTAINER):
        internal = [p["internal"] for p in c.plain("ports") or []]
        assert internal == sorted(internal), (c.name, internal)
        seen += len(internal) > 1
    assert seen, "no container publishes two ports: the check above proved nothing"


def test_the_network_declares_the_gateway_docker_reports():
    (net,) = evaluate(BASE).of_type("docker:index/network:Network")
    (ipam,) = net.plain("ipamConfigs")
    subnet = ipaddress.ip_network(ipam["subnet"])
    assert ipam["gateway"] == str(subnet.network_address + 1)


def test_every_operation_reads_the_host_first():
    # Seen with the real engine: after `docker rm -f view`, `preview --refresh` showed the drift
    # but a plain `up` did nothing, since its state still held the removed container.
    from pathlib import Path

    from ruamel.yaml import YAML

    project = YAML(typ="safe").load((Path(__file__).resolve().parent.parent / "Pulumi.yaml").read_text())
    assert project["options"]["refresh"] == "always"
