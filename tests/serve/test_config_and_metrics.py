"""Configuration precedence and redaction, the metrics helpers, the progress map, log limiting."""

from __future__ import annotations

import argparse
import logging
import math

import pytest
from prometheus_client import CollectorRegistry

from ihomer.events import EventLog
from ihomer.serve.cli import add_arguments, run
from ihomer.serve.config import ServeConfig
from ihomer.serve.logs import RateLimitFilter
from ihomer.serve.metrics import ServeMetrics
from ihomer.serve.models import LabelwiseLogistic, make_model
from ihomer.serve.progress import ProgressFile


def test_precedence_file_env_cli(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[serve]\ncheckpoint_interval = 10\nmodel = "br-logreg"\nseed = 5\n')
    env = {"IHOMER_CHECKPOINT_INTERVAL": "20", "IHOMER_SEED": "6", "OTHER": "x"}
    cfg = ServeConfig.load(file=f, env=env, cli={"seed": 7, "role": None})
    assert (cfg.checkpoint_interval, cfg.model, cfg.seed, cfg.role) == (20, "br-logreg", 7, "both")


def test_json_file_and_top_level_table(tmp_path):
    f = tmp_path / "c.json"
    f.write_text('{"metrics-port": 0, "role": "server"}')
    cfg = ServeConfig.load(file=f, env={})
    assert cfg.metrics_port == 0 and cfg.serves and not cfg.learns


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"env": {"IHOMER_CHECKPOINT_INTERVAL": "many"}}, "IHOMER_CHECKPOINT_INTERVAL"),
        ({"env": {}, "cli": {"role": "boss"}}, "role must be one of"),
        ({"env": {}, "cli": {"checkpoint_interval": 0}}, "checkpoint_interval must be >= 1"),
        ({"env": {}, "cli": {"metrics_port": 70000}}, "metrics_port"),
    ],
)
def test_bad_settings_name_their_source(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ServeConfig.load(**kwargs)


def test_bad_file(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("colour = 'red'\n")
    with pytest.raises(ValueError, match=r"c.toml: unknown setting 'colour'"):
        ServeConfig.load(file=f, env={})
    f.write_text("[[[")
    with pytest.raises(ValueError, match="invalid config file"):
        ServeConfig.load(file=f, env={})


def test_redaction():
    cfg = ServeConfig(sasl_password="pw", checkpoint_key="k", ssl_password="")
    red = cfg.redacted()
    assert red["sasl_password"] == "***" and red["checkpoint_key"] == "***"
    assert red["ssl_password"] == "" and red["bootstrap_servers"] == cfg.bootstrap_servers
    assert cfg.sasl_password == "pw"  # the config itself is untouched


def test_cli_flags_and_config_error(capsys, monkeypatch):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--checkpoint-interval", "5", "--role", "learner"])
    assert args.checkpoint_interval == 5 and args.role == "learner" and args.seed is None
    monkeypatch.setenv("IHOMER_MAX_POLL_RECORDS", "-1")
    assert run(args) == 2
    assert "max_poll_records" in capsys.readouterr().err


class _Model:
    def __init__(self):
        self.events = EventLog()
        self.n_clusters = 3


def test_observe_model_counts_new_events_only():
    m = ServeMetrics(CollectorRegistry())
    model = _Model()
    model.events.record(1, "cluster_split")
    m.observe_model(model, 10)
    model.events.record(2, "cluster_split")
    model.events.record(3, "global_drift")
    m.observe_model(model, 11)
    reg = m.registry
    assert reg.get_sample_value("ihomer_structural_events_total", {"kind": "cluster_split"}) == 2
    assert reg.get_sample_value("ihomer_structural_events_total", {"kind": "global_drift"}) == 1
    assert reg.get_sample_value("ihomer_label_clusters") == 3
    assert reg.get_sample_value("ihomer_model_instances") == 11
    restored = _Model()  # a model loaded from a checkpoint: old events are not new
    for n in range(5):
        restored.events.record(n, "repartition")
    m.reset_event_baseline(restored)
    m.observe_model(restored, 12)
    assert reg.get_sample_value("ihomer_structural_events_total", {"kind": "repartition"}) is None


def test_any_river_model_works_with_the_metrics():
    m = ServeMetrics(CollectorRegistry())
    m.observe_model(LabelwiseLogistic(), 0)
    assert math.isnan(m.registry.get_sample_value("ihomer_label_clusters"))
    m.set_report({"micro_f1": 0.5, "note": "text"})
    assert m.registry.get_sample_value("ihomer_prequential_metric", {"metric": "micro_f1"}) == 0.5
    assert math.isnan(m.registry.get_sample_value("ihomer_checkpoint_age_seconds"))
    m.mark_checkpoint(0.0)
    assert m.registry.get_sample_value("ihomer_checkpoint_age_seconds") > 1e9


def test_metric_names_follow_conventions():
    m = ServeMetrics(CollectorRegistry())
    m.records.labels(topic="t", outcome="learned").inc()
    families = list(m.registry.collect())
    assert len(families) >= 15
    bounded = {"topic", "partition", "outcome", "reason", "kind", "metric", "path", "le"}
    for fam in families:
        assert fam.name.startswith("ihomer_"), fam.name
        if fam.type == "counter":
            assert all(
                s.name in (fam.name + "_total", fam.name + "_created") for s in fam.samples
            ), fam.name
        if fam.type == "histogram" or "age" in fam.name:
            assert fam.name.endswith("_seconds"), fam.name
        for sample in fam.samples:
            assert set(sample.labels) <= bounded, (fam.name, sample.labels)


def test_metrics_http_on_loopback():
    import urllib.request

    m = ServeMetrics(CollectorRegistry())
    m.records.labels(topic="t", outcome="learned").inc(3)
    server, port = m.serve_http("127.0.0.1", 0)
    try:
        assert server.server_address[0] == "127.0.0.1"
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        assert b'ihomer_records_total{outcome="learned",topic="t"} 3.0' in body
    finally:
        server.shutdown()
        server.server_close()


def test_progress_file(tmp_path):
    path = tmp_path / "p"
    p = ProgressFile(path, 4)
    p[0], p[3] = 10, 7
    assert ProgressFile.read(path) == {0: 10, 3: 7}  # visible without close (page cache)
    p.close()
    assert ProgressFile.read(tmp_path / "absent") == {}
    path.write_bytes(b"garbage")
    assert ProgressFile.read(path) == {}
    with pytest.raises(ValueError):
        ProgressFile(path, 0)


def test_rate_limit_groups_by_message_shape():
    f = RateLimitFilter(interval_s=3600)

    def rec(msg):
        return logging.LogRecord("kafka.conn", logging.ERROR, "f", 1, msg, None, None)

    assert f.filter(rec("node 1 down"))
    assert not f.filter(rec("node 2 down"))  # numbers ignored
    assert f.filter(rec("metadata failed"))
    f.interval_s = 0
    r = rec("node 3 down")
    assert f.filter(r) and "1 similar messages suppressed" in r.getMessage()


def test_model_factory():
    assert type(make_model("br-logreg")).__name__ == "LabelwiseLogistic"
    assert type(make_model("ihomer", seed=3)).__name__ == "IHOMER"
    assert type(make_model("ihomer.serve.models:LabelwiseLogistic")).__name__ == "LabelwiseLogistic"
    with pytest.raises(ValueError, match="unknown model"):
        make_model("nope")
    with pytest.raises(ValueError, match="cannot load"):
        make_model("no.such.module:f")


def test_a_second_learner_on_the_same_checkpoint_refuses(tmp_path, caplog):
    from ihomer.serve.daemon import Daemon

    cfg = ServeConfig(checkpoint_path=str(tmp_path / "m.ckpt"), model="br-logreg")
    first = Daemon(cfg)
    first.learner.checkpointer.take_lock()
    try:
        with caplog.at_level(logging.ERROR, logger="ihomer.serve"):
            assert Daemon(cfg).run() == 3
        assert "another learner holds this checkpoint" in caplog.text
    finally:
        first.learner.checkpointer.close()


def test_progress_file_on_a_full_disk_is_an_oserror_not_sigbus(tmp_path, monkeypatch):
    """The file is allocated by real writes: a full disk fails there, never on a mapped store."""
    import errno
    import os

    from ihomer.serve import progress

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(progress.os, "write", full)
    with pytest.raises(OSError, match="No space left"):
        ProgressFile(tmp_path / "p", 4)
    monkeypatch.setattr(progress.os, "write", lambda fd, data: len(data) // 2)  # a short write
    with pytest.raises(OSError, match="short write"):
        ProgressFile(tmp_path / "p", 4)
    monkeypatch.undo()
    assert os.path.getsize(tmp_path / "p") == 0  # nothing mapped beyond what was written


def test_progress_file_names_the_record_in_hand_and_counts_strikes(tmp_path):
    path = tmp_path / "p"
    p = ProgressFile(path, 2)
    p[1] = 40
    p.begin(1)  # the process dies here
    assert ProgressFile.read_state(path) == ({1: 40}, 1, (1, 40, 1))
    p.set_strikes(1, 40, 1)  # the next run carries the strike and dies on the same record
    assert ProgressFile.read_state(path)[2] == (1, 40, 2)
    p.end()
    assert ProgressFile.read_state(path) == ({1: 40}, -1, (-1, -1, 0))
    p.close()
