from __future__ import annotations

from pathlib import Path

import pytest

from core.config import VARIABLES, Address, LogFormat, Role, load_settings
from core.errors import ConfigError


def test_settings_defaults_match_the_documented_listeners() -> None:
    settings = load_settings({})
    assert settings.api_addr == Address("127.0.0.1", 8080)
    assert settings.gateway_addr == Address("127.0.0.1", 8081)
    assert settings.voice_addr == Address("127.0.0.1", 8082)
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.data_dir == Path(".data")
    assert (settings.worker_id, settings.process_id) == (0, 0)
    assert settings.roles == frozenset(Role)
    assert settings.log_format is LogFormat.AUTO


def test_settings_read_every_variable() -> None:
    settings = load_settings(
        {
            "TRIOXIDE_API_ADDR": "0.0.0.0:9000",
            "TRIOXIDE_GATEWAY_ADDR": "[::1]:9001",
            "DATABASE_URL": "postgresql://db/trioxide",
            "REDIS_URL": "redis://cache:6379/0",
            "TRIOXIDE_WORKER_ID": "31",
            "TRIOXIDE_PROCESS_ID": "7",
            "TRIOXIDE_ROLES": "api, gateway",
            "TRIOXIDE_LOG_FORMAT": "json",
        }
    )
    assert settings.api_addr == Address("0.0.0.0", 9000)
    assert settings.gateway_addr == Address("::1", 9001)
    assert str(settings.gateway_addr) == "[::1]:9001"
    assert settings.database_url == "postgresql://db/trioxide"
    assert settings.redis_url == "redis://cache:6379/0"
    assert (settings.worker_id, settings.process_id) == (31, 7)
    assert settings.roles == {Role.API, Role.GATEWAY}
    assert settings.log_format is LogFormat.JSON


def test_roles_option_overrides_the_variable() -> None:
    settings = load_settings({"TRIOXIDE_ROLES": "api"}, roles="gateway,worker")
    assert settings.roles == {Role.GATEWAY, Role.WORKER}


@pytest.mark.parametrize(
    ("environ", "roles", "variable", "says"),
    [
        ({"TRIOXIDE_API_ADDR": "127.0.0.1:notaport"}, None, "TRIOXIDE_API_ADDR", "0 to 65535"),
        ({"TRIOXIDE_API_ADDR": "127.0.0.1:70000"}, None, "TRIOXIDE_API_ADDR", "0 to 65535"),
        ({"TRIOXIDE_GATEWAY_ADDR": "8081"}, None, "TRIOXIDE_GATEWAY_ADDR", "host:port"),
        ({"TRIOXIDE_WORKER_ID": "32"}, None, "TRIOXIDE_WORKER_ID", "0 to 31"),
        ({"TRIOXIDE_PROCESS_ID": "-1"}, None, "TRIOXIDE_PROCESS_ID", "0 to 31"),
        ({"TRIOXIDE_WORKER_ID": "one"}, None, "TRIOXIDE_WORKER_ID", "0 to 31"),
        ({"TRIOXIDE_ROLES": "api,chat"}, None, "TRIOXIDE_ROLES", "api, gateway, voice, worker"),
        ({}, "api,chat", "--roles", "api, gateway, voice, worker"),
        ({}, ",", "--roles", "no role given"),
        ({"TRIOXIDE_DB_POOL_SIZE": "0"}, None, "TRIOXIDE_DB_POOL_SIZE", "1 to 100"),
        ({"TRIOXIDE_SHUTDOWN_GRACE_S": "soon"}, None, "TRIOXIDE_SHUTDOWN_GRACE_S", "0 to 300"),
        ({"TRIOXIDE_LOG_LEVEL": "loud"}, None, "TRIOXIDE_LOG_LEVEL", "debug, info"),
        ({"TRIOXIDE_LOG_FORMAT": "xml"}, None, "TRIOXIDE_LOG_FORMAT", "auto"),
        ({"TRIOXIDE_S3_ENDPOINT": "s3.example"}, None, "TRIOXIDE_S3_ENDPOINT", "http(s)://"),
        ({"REDIS_URL": "cache:6379"}, None, "REDIS_URL", "redis://, rediss://"),
        ({"REDIS_URL": "redis://cache:6379/zero"}, None, "REDIS_URL", "must be a number"),
        (
            {"TRIOXIDE_S3_ENDPOINT": "https://s3.example/bucket"},
            None,
            "TRIOXIDE_S3_ENDPOINT",
            "no path",
        ),
        (
            {"TRIOXIDE_S3_ENDPOINT": "https://s3.example", "TRIOXIDE_S3_BUCKET": "My_Files"},
            None,
            "TRIOXIDE_S3_BUCKET",
            "lowercase",
        ),
        (
            {"TRIOXIDE_S3_ENDPOINT": "https://s3.example"},
            None,
            "TRIOXIDE_S3_ACCESS_KEY_ID",
            "must not be empty",
        ),
        (
            {"TRIOXIDE_PUBLIC_VOICE_ENDPOINT": "wss://voice.example:8082"},
            None,
            "TRIOXIDE_PUBLIC_VOICE_ENDPOINT",
            "host:port alone",
        ),
        (
            {"TRIOXIDE_PUBLIC_VOICE_ENDPOINT": "voice.example:0"},
            None,
            "TRIOXIDE_PUBLIC_VOICE_ENDPOINT",
            "1 to 65535",
        ),
        (
            {"TRIOXIDE_PUBLIC_VOICE_ENDPOINT": "voice.example"},
            None,
            "TRIOXIDE_PUBLIC_VOICE_ENDPOINT",
            "host:port",
        ),
        (
            {"TRIOXIDE_VOICE_TLS_CERT": "/etc/voice/cert.pem"},
            None,
            "TRIOXIDE_VOICE_TLS_KEY",
            "with TRIOXIDE_VOICE_TLS_CERT",
        ),
        (
            {"TRIOXIDE_VOICE_TLS_KEY": "/etc/voice/key.pem"},
            None,
            "TRIOXIDE_VOICE_TLS_CERT",
            "with TRIOXIDE_VOICE_TLS_KEY",
        ),
    ],
)
def test_bad_setting_names_the_variable_and_the_accepted_range(
    environ: dict[str, str], roles: str | None, variable: str, says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ, roles=roles)
    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"{variable}: ")
    assert says in str(raised.value)


def test_every_variable_has_a_name_help_and_a_valid_default() -> None:
    names = [variable.name for variable in VARIABLES]
    assert len(names) == len(set(names))
    for variable in VARIABLES:
        assert variable.help
        if variable.default is not None:
            variable.parse(variable.default)


def test_voice_settings_default_to_a_generated_certificate_and_the_voice_listener() -> None:
    settings = load_settings({})
    assert (settings.voice_tls_cert, settings.voice_tls_key) == (None, None)
    assert settings.public_voice_endpoint is None
    given = load_settings(
        {
            "TRIOXIDE_VOICE_TLS_CERT": "/etc/voice/cert.pem",
            "TRIOXIDE_VOICE_TLS_KEY": "/etc/voice/key.pem",
            "TRIOXIDE_PUBLIC_VOICE_ENDPOINT": "voice.example:443",
        }
    )
    assert given.voice_tls_cert == Path("/etc/voice/cert.pem")
    assert given.voice_tls_key == Path("/etc/voice/key.pem")
    assert given.public_voice_endpoint == Address("voice.example", 443)


def test_an_s3_store_is_read_whole_and_its_secret_never_printed() -> None:
    assert load_settings({}).s3 is None
    settings = load_settings(
        {
            "TRIOXIDE_S3_ENDPOINT": "https://s3.example:9000/",
            "TRIOXIDE_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "TRIOXIDE_S3_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "TRIOXIDE_JWT_KEYS": "k1:" + "s" * 32,
        }
    )
    assert settings.s3 is not None
    assert (settings.s3.endpoint, settings.s3.bucket, settings.s3.region) == (
        "https://s3.example:9000",
        "trioxide",
        "us-east-1",
    )
    assert settings.s3.secret_access_key.startswith("wJalr")
    assert "wJalr" not in repr(settings)
    assert "s" * 32 not in repr(settings)
