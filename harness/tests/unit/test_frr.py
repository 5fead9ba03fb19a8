"""Answers over a daemon's vty socket: a JSON show of what is not there is an answer, not an error
(zebra answers `show ip route 10.9.9.9/32 json` with "{}" and CMD_WARNING while it has no such
route, as r1 for the VIP while no LB announces it); a refused command is an error."""
from pathlib import Path
from types import SimpleNamespace

import pytest

from vipcheck import REPO
from vipcheck.daemons import frr
from vipcheck.errors import ScenarioError


def router_answering(monkeypatch, status, output):
    asked = []

    def vty_command(path, command, timeout_ms):
        asked.append((path, command))
        return SimpleNamespace(answered=True, status=status, output=output, error="")
    monkeypatch.setattr(frr._core, "vty_command", vty_command)
    router = object.__new__(frr.FrrRouter)
    router.dir, router.node = Path("/run/vipcheck/ab12.r1"), SimpleNamespace(logical="r1")
    return router, asked


def test_a_route_zebra_does_not_have_is_an_empty_answer(monkeypatch):
    router, asked = router_answering(monkeypatch, frr.CMD_WARNING, "{}\n")
    assert router.ask_json("zebra", "show ip route 10.100.0.1/32") == {}
    assert asked == [("/run/vipcheck/ab12.r1/zebra.vty", "show ip route 10.100.0.1/32 json")]


def test_a_refused_command_is_an_error_naming_the_daemon_and_the_command(monkeypatch):
    router, _ = router_answering(monkeypatch, 2, "% Unknown command: show ip rout json\n")  # CMD_ERR_NO_MATCH
    with pytest.raises(RuntimeError, match="r1: zebra did not answer 'show ip rout json': % Unknown command"):
        router.ask_json("zebra", "show ip rout")


def test_a_scenarios_templates_layer_over_the_shipped_ones_and_a_missing_one_is_named(tmp_path):
    """frr_conf names a folder that holds only what it changes: the rest comes from frr-conf/."""
    own = tmp_path / "templates"
    (own / "lb").mkdir(parents=True)
    (own / "lb/zebra.conf.j2").write_text("! mine: {{ hostname }}\n")
    folders = (own, REPO / "frr-conf")
    assert frr.render(folders, "lb", "zebra", {"hostname": "lb1"}) == "! mine: lb1\n"
    assert "router ospf" in frr.render(folders, "router", "ospfd", {
        "hostname": "r1", "router_id": "10.2.0.1", "ospf": {"dead": 3, "hello": 1, "bfd": False},
        "ospf_links": [], "passive_links": []})
    with pytest.raises(ScenarioError, match="lb/ripd.conf.j2: FRR template missing"):
        frr.render(folders, "lb", "ripd", {})
