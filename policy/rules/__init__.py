"""The o3-site policy pack's rules, one per module."""

from . import (
    data_survives_deletion,
    exam_load,
    log_limits,
    mysql_8_recommended,
    mysql_port_private,
    mysql_supported,
    no_plaintext_secrets,
    periodic_singleton,
    pinned_images,
    sizing_cores,
    sizing_memory,
    sizing_network,
    sizing_storage,
    tls_no_plain_ports,
)

PACK_NAME = "o3-site"

ALL = [
    m.POLICY
    for m in (
        sizing_cores,
        sizing_memory,
        sizing_storage,
        sizing_network,
        exam_load,
        pinned_images,
        mysql_supported,
        mysql_8_recommended,
        no_plaintext_secrets,
        mysql_port_private,
        periodic_singleton,
        data_survives_deletion,
        tls_no_plain_ports,
        log_limits,
    )
]
