"""Host-side config: human units, the firmware's own validation, TOML round trip."""

import pytest

from afbms.cellconfig import (
    ConfigError,
    check,
    firmware_module,
    format_value,
    from_toml,
    key_by_name,
    parse_value,
    to_toml,
)
from afbms.protocol.enums import ConfigKey as K


@pytest.fixture
def defaults():
    cfg = firmware_module("bms.config")
    return {k: cfg.ROWS[k][2] for k in cfg.KEYS}


@pytest.mark.parametrize(
    "key,text,value",
    [
        (K.V_MAX_UV, "4.25V", 4_250_000),
        (K.V_MAX_UV, "4250 mV", 4_250_000),
        (K.V_MAX_UV, "4250000", 4_250_000),
        (K.I_CHARGE_MAX_UA, "1.5mA", 1_500),
        (K.ACTIVE_AREA_UM2K, "0.785cm2", 78_500),
        (K.ACTIVE_AREA_UM2K, "78.5 mm2", 78_500),
        (K.P_MIN_PA, "2MPa", 2_000_000),
        (K.T_MAX_MC, "60C", 60_000),
        (K.EOL_RETENTION_PPM, "80%", 800_000),
        (K.SAMPLE_PERIOD_MS, "0.5s", 500),
        (K.METAL, "sodium", 1),
    ],
)
def test_parse_human_units(key, text, value):
    assert parse_value(key, text) == value


@pytest.mark.parametrize(
    "key,text",
    [(K.V_MAX_UV, "4.25mA"), (K.V_MAX_UV, "4.25"), (K.V_MAX_UV, "abc"), (K.METAL, "gold")],
)
def test_bad_values_are_user_errors(key, text):
    with pytest.raises(ConfigError):
        parse_value(key, text)


def test_format_value():
    assert (format_value(K.V_MAX_UV, 4_250_000), format_value(K.METAL, 0)) == ("4.25 V", "lithium")


@pytest.mark.parametrize("name", ["v_max", "V_MAX_UV", "v-max-uv"])
def test_key_by_name(name):
    assert key_by_name(name) == K.V_MAX_UV


def test_unknown_key_lists_the_keys():
    with pytest.raises(ConfigError, match="v_max_uv"):
        key_by_name("voltage")


def test_check_accepts_a_consistent_change(defaults):
    check(defaults, {K.V_MAX_UV: 4_300_000})


def test_check_refuses_out_of_range_with_the_range(defaults):
    with pytest.raises(ConfigError, match=r"1\.5 V \.\. 5 V"):
        check(defaults, {K.V_MAX_UV: 9_000_000})


def test_check_refuses_inconsistent_with_the_rule(defaults):
    with pytest.raises(ConfigError, match="V_MIN"):
        check(defaults, {K.V_MIN_UV: 4_200_000})


def test_check_sees_a_change_that_fixes_another(defaults):
    check(defaults, {K.V_MAX_UV: 4_500_000, K.V_MIN_UV: 4_200_000})


def test_toml_round_trip(tmp_path, defaults):
    path = tmp_path / "cell.toml"
    path.write_text(to_toml(defaults, {"board": "pico"}), encoding="utf-8")
    values, unknown = from_toml(path)
    assert ({int(k): v for k, v in values.items()}, unknown) == (defaults, [])


def test_toml_from_a_newer_version_skips_unknown_keys(tmp_path):
    path = tmp_path / "cell.toml"
    path.write_text('[config]\nv_max_uv = 4200000\nwarp_factor = 9\nv_min = "3.1V"\n')
    values, unknown = from_toml(path)
    assert (values, unknown) == ({K.V_MAX_UV: 4_200_000, K.V_MIN_UV: 3_100_000}, ["warp_factor"])


def test_toml_errors_are_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[config\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        from_toml(path)
