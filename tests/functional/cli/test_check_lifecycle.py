"""``--check`` shows each configured model's lifecycle in the configured region, from the catalogue (no
network): active, legacy (with end-of-life date and successor), end of life (exit 1, the env var to set)."""

from __future__ import annotations

from chains.cli import main

CLAUDE_3_HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def _check(clean_env, capsys, region="us-east-1", **env):
    clean_env.setenv("AWS_REGION", region)
    for k, v in env.items():
        clean_env.setenv(k, v)
    code = main(["--check"])
    out = capsys.readouterr().out
    return code, {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and "lifecycle:" in line}


def test_active_defaults_pass(clean_env, capsys):
    code, lines = _check(clean_env, capsys)
    assert code == 0
    assert set(lines) == {"nova_pro", "claude_haiku", "claude_sonnet"}
    assert all("lifecycle: active in us-east-1" in line for line in lines.values())


def test_a_retired_model_fails_the_check_and_says_what_to_do(clean_env, capsys):
    code, lines = _check(clean_env, capsys, ANTHROPIC_CLAUDE_HAIKU_MODEL_ID=CLAUDE_3_HAIKU)
    assert code == 1
    line = lines["claude_haiku"]
    assert "END OF LIFE in us-east-1 since 2026-09-10" in line
    assert "successor anthropic.claude-haiku-4-5-20251001-v1:0" in line and "ANTHROPIC_CLAUDE_HAIKU_MODEL_ID" in line
    assert "active" in lines["nova_pro"]


def test_legacy_is_shown_with_its_successor_and_does_not_fail(clean_env, capsys):
    # Claude 3 Haiku is legacy (not yet end of life) in ap-northeast-2 per the catalogue.
    code, lines = _check(clean_env, capsys, region="ap-northeast-2", ANTHROPIC_CLAUDE_HAIKU_MODEL_ID=CLAUDE_3_HAIKU,
                         AMAZON_NOVA_PRO_MODEL_ID="apac.amazon.nova-pro-v1:0",
                         ANTHROPIC_CLAUDE_SONNET_MODEL_ID="apac.anthropic.claude-sonnet-5-5")
    assert code == 0, lines
    assert "lifecycle: legacy in ap-northeast-2" in lines["claude_haiku"]
    assert "successor anthropic.claude-haiku-4-5-20251001-v1:0" in lines["claude_haiku"]


def test_the_same_id_is_active_where_it_is_still_served(clean_env, capsys):
    code, lines = _check(clean_env, capsys, region="ca-central-1", ANTHROPIC_CLAUDE_HAIKU_MODEL_ID=CLAUDE_3_HAIKU)
    assert code == 0 and "lifecycle: active in ca-central-1" in lines["claude_haiku"]


def _ping(clean_env, capsys, region="us-east-1", **env):
    clean_env.setenv("AWS_REGION", region)
    for k, v in env.items():
        clean_env.setenv(k, v)
    code = main(["--check", "--ping"])
    out = capsys.readouterr().out
    return code, {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and "lifecycle:" in line}


def test_ping_shows_bedrocks_live_lifecycle_beside_the_catalogues(clean_env, capsys):
    """GetFoundationModel on the emulator's control plane, for each configured model's base id."""
    code, lines = _ping(clean_env, capsys)
    assert code == 0, lines
    assert set(lines) == {"nova_pro", "claude_haiku", "claude_sonnet"}
    for line in lines.values():
        assert "lifecycle: active in us-east-1" in line and "live: ACTIVE" in line and " OK " in line


def test_ping_shows_legacy_live_and_a_retired_model_as_not_found(clean_env, capsys):
    _, lines = _ping(clean_env, capsys, region="ap-northeast-2", ANTHROPIC_CLAUDE_HAIKU_MODEL_ID=CLAUDE_3_HAIKU,
                     AMAZON_NOVA_PRO_MODEL_ID="apac.amazon.nova-pro-v1:0",
                     ANTHROPIC_CLAUDE_SONNET_MODEL_ID="apac.anthropic.claude-sonnet-5-5")
    assert "lifecycle: legacy in ap-northeast-2" in lines["claude_haiku"] and "live: LEGACY" in lines["claude_haiku"]
    code, lines = _ping(clean_env, capsys, ANTHROPIC_CLAUDE_HAIKU_MODEL_ID=CLAUDE_3_HAIKU)
    assert code == 1
    assert "END OF LIFE" in lines["claude_haiku"] and "live: not found in us-east-1" in lines["claude_haiku"]
    assert "live: ACTIVE" in lines["nova_pro"]
