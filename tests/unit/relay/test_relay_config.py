"""RelayConfig: how a request path becomes an object path, the content-type and cache rules,
who may connect."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.relay.relay import RelayConfig


def test_config_rules_and_paths() -> None:
    config = RelayConfig(
        prefix="live/channel1/",
        content_types=(("*.ts", "video/MP2T"), ("*.weird", "application/x-weird")),
    )
    assert config.object_path("/index.m3u8?x=1") == "live/channel1/index.m3u8"
    assert config.object_path("/a%2Db.ts") == "live/channel1/a-b.ts"
    assert config.content_type_for("live/a.weird") == "application/x-weird"
    assert config.content_type_for("live/a.m3u8") == "application/vnd.apple.mpegurl"
    assert config.content_type_for("live/a.unknown", "image/x-mine") == "image/x-mine"
    assert config.content_type_for("live/a.unknown", "bad type;") == "application/octet-stream"
    assert config.cache_control_for("live/a.m3u8") == "max-age=1"
    assert config.cache_control_for("live/a.mpd") == "max-age=1"
    assert config.cache_control_for("live/a.ts") == "max-age=31536000"
    assert config.availability_for("live/a.ts") == "streaming"
    assert config.availability_for("live/a.m3u8") is None
    with pytest.raises(ValueError):
        config.object_path("/../etc/passwd")


def test_config_refuses_remote_peers_without_token() -> None:
    with pytest.raises(InvalidInputError, match="requires a token"):
        RelayConfig(allowed_peers=("127.0.0.0/8", "10.0.0.0/8"))
    with pytest.raises(InvalidInputError):
        RelayConfig(allowed_peers=("not-an-address",))
    with pytest.raises(ValueError):
        RelayConfig(prefix="bad prefix/")
    config = RelayConfig(allowed_peers=("10.0.0.0/8",), token="t" * 32)
    assert "t" * 32 not in repr(config)


def test_relay_config_takes_one_network_object_as_one_range() -> None:
    config = RelayConfig(allowed_peers=ipaddress.ip_network("127.0.0.0/8"))
    assert config.allowed_peers == ("127.0.0.0/8",)


def test_journal_dir_takes_a_path_object(tmp_path: Path) -> None:
    assert RelayConfig(journal_dir=tmp_path).journal_dir == str(tmp_path)  # type: ignore[arg-type]
