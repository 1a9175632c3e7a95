import pytest

from xstilts.config import RunConfig, TrainingConfig, load_config
from xstilts.errors import ConfigError


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_typo_names_the_field(tmp_path):
    p = write(tmp_path, "name: x\ntargets: [{task: xnli}]\narms: [{name: a, taks: [mnli]}]\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert "arms.0.taks" in str(err.value) and str(p) in str(err.value)


def test_wrong_type_names_the_field(tmp_path):
    p = write(tmp_path, "name: x\ntargets: [{task: xnli, training: {learning_rate: fast}}]\n")
    with pytest.raises(ConfigError, match=r"targets\.0\.training\.learning_rate"):
        load_config(p)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "name: [unclosed\n"))


def test_duplicate_arm_names_rejected(tmp_path):
    p = write(tmp_path, "name: x\ntargets: [{task: xnli}]\narms: [{name: a}, {name: a, tasks: [mnli]}]\n")
    with pytest.raises(ConfigError, match="unique"):
        load_config(p)


def test_training_layers_merge_later_wins():
    a = TrainingConfig(learning_rate=1e-5, epochs=3)
    b = TrainingConfig(epochs=1)
    merged = a.merged(b)
    assert merged.learning_rate == 1e-5 and merged.epochs == 1


def test_data_paths_resolve_against_config_folder(tmp_path):
    p = write(tmp_path, "name: x\ndata: {xtreme_dir: data/xt}\ntargets: [{task: xnli}]\n")
    cfg = load_config(p)
    assert cfg.data.xtreme_dir == (tmp_path / "data/xt").resolve()
    assert isinstance(cfg, RunConfig)
