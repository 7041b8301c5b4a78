"""The vendor's sizing table at every boundary, and the sizing command."""

import pytest

from ops.sizing import main
from sitespec import sizing
from sitespec.sizing import requirements

TABLE = [
    # users, pathology, cores, memory GB
    (1, False, 6, 12),
    (10, False, 6, 12),
    (11, False, 10, 20),
    (20, False, 10, 20),
    (21, False, 18, 36),
    (50, False, 18, 36),
    (51, False, 19, 40),  # a started 10 beyond 50
    (60, False, 19, 40),
    (61, False, 20, 44),
    (150, False, 28, 76),
    (1000, False, 113, 416),
    (4, False, 6, 12),
    (4, True, 6, 12),  # 1.5 x 4 = 6: the table already covers it
    (5, True, 8, 12),  # 7.5 rounded up: cores come whole
    (10, True, 15, 12),
    (11, True, 17, 20),  # 16.5 rounded up
    (60, True, 90, 40),
]


@pytest.mark.parametrize("users, pathology, cores, memory", TABLE)
def test_minimums_follow_the_vendor_table(users, pathology, cores, memory):
    req = requirements(users, pathology)
    assert (req.cores.value, req.memory_gb.value) == (cores, memory)
    assert (req.storage_gb.value, req.network_mbps.value) == (50, 100)


def test_reasons_name_the_row_and_pathology():
    assert "up to 20 users" in requirements(11).cores.reason
    assert "per started 10 users" in requirements(61).memory_gb.reason
    assert "digital pathology" in requirements(20, True).cores.reason
    assert "pathology needs only" in requirements(3, True).cores.reason


@pytest.mark.parametrize("exams, high", [(0, False), (149, False), (150, True), (600, True)])
def test_high_exam_load_is_flagged_from_150_a_day(exams, high):
    assert bool(requirements(10, exams_per_day=exams).high_exam_load) is high


def test_thresholds_are_overridable():
    req = requirements(10, True, 90, pathology_cores_per_user=2, min_storage_gb=500, min_network_mbps=1000,
                       exams_per_day_limit=80)
    assert (req.cores.value, req.storage_gb.value, req.network_mbps.value) == (20, 500, 1000)
    assert req.high_exam_load


def test_zero_users_is_refused():
    with pytest.raises(ValueError):
        requirements(0)


def test_findings_say_found_required_and_by_how_much():
    f = sizing.findings(requirements(35), 8, 64, 40, 1000)
    short = {x.key: x for x in f if x.short}
    assert set(short) == {"cpuCores", "storageGb"}
    assert "8 cores declared, 18 cores required" in short["cpuCores"].describe()
    assert "short by 10 cores" in short["cpuCores"].describe()


def test_command_prints_each_minimum_and_its_rule(capsys):
    assert main(["--users", "35", "--pathology"]) == 0
    out = capsys.readouterr().out
    assert "53" in out and "52.5, rounded up to whole cores" in out and "digital pathology" in out and "36" in out and "up to 50 users" in out


def test_command_checks_a_stack_and_fails_when_short(tmp_path, capsys):
    import shutil

    from engine import ROOT

    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    text = (ROOT / "tests" / "fleet" / "Pulumi.st-marys.yaml").read_text()
    (tmp_path / "Pulumi.ok.yaml").write_text(text)
    (tmp_path / "Pulumi.small.yaml").write_text(text.replace("cpuCores: 20", "cpuCores: 8"))
    assert main(["--stack", "ok", "--dir", str(tmp_path)]) == 0
    assert main(["--stack", "small", "--dir", str(tmp_path)]) == 1
    assert "FAIL cpuCores: 8 cores declared, 18 cores required" in capsys.readouterr().out
    assert main(["--stack", "missing", "--dir", str(tmp_path)]) == 2
    assert "no stack file Pulumi.missing.yaml" in capsys.readouterr().err
