"""o3:offsite (off-host copies with restic): bad config fails before any resource, naming the key;
the secrets are secret keys whose values no message echoes; the site id and schedule are shared."""

import copy

import pulumi
import pytest

from engine import evaluate, last_run
from site_fixtures import BASE
from sitespec import offsite
from sitespec.config import DEFAULT_DB_IMAGE, DEFAULT_RESTIC_IMAGE, parse

REPO_PASSWORD = "correct-horse-battery-staple"
HTTP_PASSWORD = "site-http-password-1"
SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
REST = {"repository": "rest:https://backup.example.org:8000/st-marys", "httpUser": "st-marys"}
SFTP = {"repository": "sftp:o3@backup.example.org:/srv/restic/st-marys", "knownHosts": "backup.example.org ssh-ed25519 AAAA"}


def cfg_with(offsite_obj=None, **secrets):
    cfg = copy.deepcopy(BASE)
    if offsite_obj is not None:
        cfg["o3:offsite"] = offsite_obj
    for k, v in secrets.items():
        cfg[f"o3:{k}"] = v
    return cfg, tuple(f"o3:{k}" for k in secrets)


BAD = [
    (dict(REST, repository="rest:http://backup.example.org:8000/x"), {}, ["o3:offsite.repository", "rest:https://"]),
    (dict(REST, repository="ftp://backup.example.org/x"), {}, ["o3:offsite.repository", "sftp:USER@HOST:/PATH"]),
    (dict(REST, repository="rest:https://u:pw@backup.example.org:8000/x"), {}, ["o3:offsite.repository"]),
    (REST, {"offsiteHttpPassword": HTTP_PASSWORD}, ["o3:offsitePassword: missing", "--secret"]),
    (REST, {"offsitePassword": REPO_PASSWORD}, ["o3:offsiteHttpPassword: missing for a rest: repository"]),
    ({k: v for k, v in REST.items() if k != "httpUser"}, {"offsitePassword": REPO_PASSWORD, "offsiteHttpPassword": HTTP_PASSWORD},
     ["o3:offsite.httpUser: missing"]),
    (SFTP, {"offsitePassword": REPO_PASSWORD}, ["o3:offsiteSshKey: missing for an sftp: repository"]),
    ({k: v for k, v in SFTP.items() if k != "knownHosts"}, {"offsitePassword": REPO_PASSWORD, "offsiteSshKey": SSH_KEY},
     ["o3:offsite.knownHosts: missing"]),
    (SFTP, {"offsitePassword": REPO_PASSWORD, "offsiteSshKey": "not a key at all"}, ["o3:offsiteSshKey", "not an SSH private key"]),
    (dict(REST, retention={"keepDaily": 0, "keepWeekly": 0, "keepMonthly": 0, "keepYearly": 0}),
     {"offsitePassword": REPO_PASSWORD, "offsiteHttpPassword": HTTP_PASSWORD}, ["o3:offsite.retention", "keeps no snapshot"]),
    (dict(REST, retention={"keepDaily": -1}), {"offsitePassword": REPO_PASSWORD, "offsiteHttpPassword": HTTP_PASSWORD},
     ["o3:offsite.retention.keepDaily"]),
    (dict(REST, retention={"keepDayly": 3}), {"offsitePassword": REPO_PASSWORD, "offsiteHttpPassword": HTTP_PASSWORD},
     ["o3:offsite.retention.keepDayly: unknown key"]),
    (dict(REST, schedule="3am"), {"offsitePassword": REPO_PASSWORD, "offsiteHttpPassword": HTTP_PASSWORD}, ["o3:offsite.schedule", "HH:MM"]),
    (dict(REST, rpoHours=0), {"offsitePassword": REPO_PASSWORD, "offsiteHttpPassword": HTTP_PASSWORD}, ["o3:offsite.rpoHours"]),
    (dict(REST, caCert="not a certificate"), {"offsitePassword": REPO_PASSWORD, "offsiteHttpPassword": HTTP_PASSWORD}, ["o3:offsite.caCert"]),
    (None, {"offsitePassword": REPO_PASSWORD}, ["o3:offsitePassword: is set but o3:offsite is not"]),
    (REST, {"offsitePassword": "short-pass", "offsiteHttpPassword": HTTP_PASSWORD}, ["o3:offsitePassword", "at least 16"]),
]


@pytest.mark.parametrize("obj, secrets, words", BAD, ids=[w[0] for _, _, w in BAD])
def test_bad_offsite_config_fails_with_the_key_and_registers_nothing(obj, secrets, words):
    cfg, secret_keys = cfg_with(obj, **secrets)
    with pytest.raises(pulumi.RunError) as err:
        evaluate(cfg, secret_keys)
    msg = str(err.value)
    for w in words:
        assert w in msg, msg
    for v in secrets.values():
        assert v not in msg, "a secret's value was echoed"
    assert last_run().resources == []


def test_an_offsite_secret_in_plain_text_is_refused():
    cfg, _ = cfg_with(REST, offsitePassword=REPO_PASSWORD, offsiteHttpPassword=HTTP_PASSWORD)
    with pytest.raises(pulumi.RunError) as err:
        evaluate(cfg, ("o3:offsiteHttpPassword",))
    assert "o3:offsitePassword: is stored in plain text" in str(err.value)
    assert REPO_PASSWORD not in str(err.value)


def test_a_secure_key_a_command_cannot_decrypt_still_counts_as_set():
    """ops commands read the stack file: `secure:` values are left out but named."""
    raw = {k.removeprefix("o3:"): v for k, v in BASE.items() if k.startswith("o3:")}
    raw["offsite"] = REST
    cfg = parse(raw, {"offsitePassword", "offsiteHttpPassword"}, BASE.get("docker:host"))
    assert cfg.offsite.scheme == "rest" and cfg.offsite_password is None


def test_defaults_schedule_and_site_id():
    raw = {k.removeprefix("o3:"): v for k, v in BASE.items() if k.startswith("o3:")}
    raw.update(offsite=SFTP, offsitePassword=REPO_PASSWORD, offsiteSshKey=SSH_KEY, backup={"schedule": "23:45"})
    cfg = parse(raw, {"offsitePassword", "offsiteSshKey"}, BASE.get("docker:host"))
    o = cfg.offsite
    assert (o.retention.keep_daily, o.retention.keep_weekly, o.retention.keep_monthly, o.retention.keep_yearly) == (7, 5, 12, 7)
    assert o.rpo_hours == 26 and o.schedule_after(cfg.backup.schedule) == "00:15"
    assert cfg.images.restic == DEFAULT_RESTIC_IMAGE
    assert offsite.site_id(cfg) == cfg.site.name
    env = offsite.script_env(cfg)
    assert REPO_PASSWORD not in str(env) and SSH_KEY not in str(env)
    assert env["RESTIC_PASSWORD_FILE"].startswith(offsite.SECRETS_DIR)


# ---- what the program builds from it ------------------------------------------------------

SECRET_VALUES = {"offsitePassword": REPO_PASSWORD, "offsiteHttpPassword": HTTP_PASSWORD}


def _with_offsite(base):
    cfg = copy.deepcopy(base)
    cfg["o3:offsite"] = REST
    for k, v in SECRET_VALUES.items():
        cfg[f"o3:{k}"] = v
    return cfg, tuple(f"o3:{k}" for k in SECRET_VALUES)


def _no_plain_secret(value, where):
    text = str(value)
    for v in SECRET_VALUES.values():
        assert v not in text, f"a secret is in plain text in {where}"


def test_docker_offsite_container_gets_secrets_as_files_and_never_the_db_folder():
    ev = evaluate(*_with_offsite(BASE))
    c = ev.container(offsite.CONTAINER)
    for key in ("envs", "entrypoints", "command", "labels"):
        _no_plain_secret(c.plain(key), f"o3-offsite's {key}")
    uploads = {u["file"]: u for u in c.plain("uploads")}
    assert uploads[f"{offsite.SECRETS_DIR}/password"]["permissions"] == "0400"
    assert "uploads" in c.additional_secret_outputs
    mounts = {v["containerPath"]: v for v in c.plain("volumes")}
    assert all(mounts[p]["readOnly"] for p in offsite.STORAGE_PATHS.values())
    assert not any(v["hostPath"].endswith("compose/db") for v in mounts.values()), "the live MySQL folder is mounted"
    maint = ev.container("o3-maintenance")
    assert any(e.startswith("O3_OFFSITE_SCHEDULE=03:00") for e in maint.plain("envs"))
    assert maint.plain("entrypoints") == ["/bin/sh", offsite.DUMP_SCRIPT]
    assert "O3_OFFSITE_CONTAINER" in ev.command("-dump").plain("environment")


def test_no_offsite_no_restic_container_and_nothing_else_changes():
    """A site without o3:offsite keeps o3-maintenance and the pre-upgrade command as they were."""
    from components.docker.backup import OFFSITE_PART
    from components import MAINTENANCE_SH
    ev = evaluate(BASE)
    assert not [r for r in ev.of_type("docker:index/container:Container") if r.plain("name") == offsite.CONTAINER]
    maint = ev.container("o3-maintenance")
    assert not any(e.startswith("O3_OFFSITE") for e in maint.plain("envs"))
    assert [u["file"] for u in maint.plain("uploads") if u["file"].endswith(".sh")] == ["/o3/maintenance.sh"]
    assert "offsite" not in MAINTENANCE_SH
    assert OFFSITE_PART not in ev.command("-dump").plain("create")


def test_kubernetes_cronjob_same_image_and_script_bounded_and_secrets_in_a_secret():
    kube = {"o3:platform": "kubernetes", "o3:images": copy.deepcopy(BASE["o3:images"]),
            "o3:site": {"name": "big-site", "timezone": "Europe/Rome", "concurrentUsers": 60, "examsPerDay": 100},
            "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 500}, "o3:dbPassword": "Site-Secret_Pw.2026"}
    cfg, secrets = _with_offsite(kube)
    ev = evaluate(cfg, secrets + ("o3:dbPassword",))
    cron = next(r for r in ev.of_type("kubernetes:batch/v1:CronJob") if r.plain("metadata")["name"] == offsite.CONTAINER)
    spec = cron.plain("spec")
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0
    containers = {c["name"]: c for c in job["template"]["spec"]["containers"]}
    assert containers["restic"]["image"] == DEFAULT_RESTIC_IMAGE
    assert containers["restic"]["command"][-2:] == ["job", "nightly"]
    assert containers["dump"]["image"] == cfg["o3:images"].get("db", DEFAULT_DB_IMAGE) and containers["dump"]["command"][-1] == "dump"
    for c in containers.values():
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
        _no_plain_secret(c, f"the CronJob's {c['name']} container")
    assert not any(m.get("subPath") == "compose/db" for c in containers.values() for m in c["volumeMounts"])
    secret = next(r for r in ev.of_type("kubernetes:core/v1:Secret") if r.plain("metadata")["name"] == "o3-offsite")
    assert set(secret.plain("stringData")) == {"password", "http-password"}


def test_an_ssh_key_file_ends_with_a_newline():
    """`pulumi config set --secret o3:offsiteSshKey` from stdin drops the last newline; ssh refuses such a key."""
    assert offsite.file_content("offsiteSshKey", SSH_KEY.rstrip("\n")) == SSH_KEY
    assert offsite.file_content("offsiteSshKey", SSH_KEY) == SSH_KEY
    assert offsite.file_content("offsitePassword", "pw") == "pw"


@pytest.mark.parametrize("repository, endpoint, egress", [
    ("rest:https://10.231.9.2:8000/st-marys", ("10.231.9.2", 8000),
     [{"to": [{"ipBlock": {"cidr": "10.231.9.2/32"}}], "ports": [{"port": 8000, "protocol": "TCP"}]}]),
    ("rest:https://backup.example.org/st-marys", ("backup.example.org", 443), [{"ports": [{"port": 443, "protocol": "TCP"}]}]),
    ("sftp:o3@10.0.0.5:/srv/restic/x", ("10.0.0.5", 22),
     [{"to": [{"ipBlock": {"cidr": "10.0.0.5/32"}}], "ports": [{"port": 22, "protocol": "TCP"}]}]),
    ("s3:s3.eu-central-1.amazonaws.com/bucket/x", ("s3.eu-central-1.amazonaws.com", 443), [{"ports": [{"port": 443, "protocol": "TCP"}]}]),
])
def test_kubernetes_offsite_pod_reaches_mysql_and_only_the_repository(repository, endpoint, egress):
    # The namespace denies all egress by default: without these the CronJob's pod reached nothing.
    from components.kubernetes.hardening import DB_CLIENT
    kube = {"o3:platform": "kubernetes", "o3:images": copy.deepcopy(BASE["o3:images"]),
            "o3:site": {"name": "big-site", "timezone": "Europe/Rome", "concurrentUsers": 60, "examsPerDay": 100},
            "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 500}, "o3:dbPassword": "Site-Secret_Pw.2026"}
    cfg, secrets = _with_offsite(kube)
    cfg["o3:offsite"] = {"repository": repository}
    if repository.startswith("rest:"):
        cfg["o3:offsite"]["httpUser"] = "big-site"
    else:
        del cfg["o3:offsiteHttpPassword"]
        secrets = ("o3:offsitePassword",)
    if repository.startswith("sftp:"):
        cfg["o3:offsite"]["knownHosts"] = "10.0.0.5 ssh-ed25519 AAAA"
        cfg["o3:offsiteSshKey"], secrets = SSH_KEY, secrets + ("o3:offsiteSshKey",)
    raw = {k.removeprefix("o3:"): v for k, v in cfg.items() if k.startswith("o3:")}
    assert parse(raw, {k.removeprefix("o3:") for k in secrets + ("o3:dbPassword",)}).offsite.endpoint == endpoint
    ev = evaluate(cfg, secrets + ("o3:dbPassword",))
    cron = next(r for r in ev.of_type("kubernetes:batch/v1:CronJob") if r.plain("metadata")["name"] == offsite.CONTAINER)
    pod_labels = cron.plain("spec")["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert pod_labels[DB_CLIENT] == "true"
    policies = {r.plain("metadata")["name"]: r.plain("spec") for r in ev.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert policies["o3-offsite"] == {
        "podSelector": {"matchLabels": {"o3.site": "big-site"}, "matchExpressions": [
            {"key": "app.kubernetes.io/name", "operator": "In", "values": ["offsite", "backup"]}]},
        "policyTypes": ["Egress"], "egress": egress}


def test_kubernetes_pre_upgrade_job_sends_its_dump_off_host_before_it_ends():
    """The Job the db and the apps wait for: the dump (an init container) names its file, restic
    sends it; a failed send fails the Job, so nothing is replaced without the copy."""
    kube = {"o3:platform": "kubernetes", "o3:images": copy.deepcopy(BASE["o3:images"]),
            "o3:site": {"name": "big-site", "timezone": "Europe/Rome", "concurrentUsers": 60, "examsPerDay": 100},
            "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 500}, "o3:dbPassword": "Site-Secret_Pw.2026"}
    cfg, secrets = _with_offsite(kube)
    ev = evaluate(cfg, secrets + ("o3:dbPassword",))
    (job,) = [r for r in ev.of_type("kubernetes:batch/v1:Job") if r.name.endswith("-backup-pre-upgrade")]
    pod = job.plain("spec")["template"]["spec"]
    (dump,), (restic,) = pod["initContainers"], pod["containers"]
    assert dump["command"][-3] == "backup" and restic["image"] == DEFAULT_RESTIC_IMAGE
    named = next(e["value"] for e in dump["env"] if e["name"] == "O3_DUMP_NAME_FILE")
    assert f"cat {named}" in restic["command"][-1] and "offsite-backup.sh file \"$f\" pre-upgrade" in restic["command"][-1]
    assert {m["mountPath"] for m in dump["volumeMounts"]} & {m["mountPath"] for m in restic["volumeMounts"]} >= {
        named.rsplit("/", 1)[0], "/backups"}
    assert job.plain("spec")["backoffLimit"] == 0
    _no_plain_secret(pod, "the pre-upgrade Job's pod")
    without = evaluate(kube, ("o3:dbPassword",))
    (plain,) = [r for r in without.of_type("kubernetes:batch/v1:Job") if r.name.endswith("-backup-pre-upgrade")]
    assert "initContainers" not in plain.plain("spec")["template"]["spec"]  # without o3:offsite, as it was
