"""Configuration: defaults <- model YAML <- --key=value, with unknown keys and bad types rejected."""
import pytest

from mindzoo.config import load_config
from mindzoo.errors import ConfigError
from conftest import REPO

CONFIGS = ["resnet50", "resnext152_64x4d", "fixres_resnet50"]


@pytest.mark.parametrize("name", CONFIGS)
def test_model_yaml_loads_and_names_a_registered_model(name):
    import mindzoo

    cfg = load_config(["--config_path", str(REPO / "configs" / f"{name}.yaml")])
    assert cfg.net_name in mindzoo.list_models()


def test_top_level_default_config_is_the_schema():
    assert (REPO / "default_config.yaml").resolve() == (REPO / "src/mindzoo/configs/default_config.yaml").resolve()


def test_cli_overrides_scalars_lists_and_bools():
    cfg = load_config([
        f"--config_path={REPO / 'configs/resnet50.yaml'}", "--lr=0.05", "--batch_size", "8",
        "--lr_milestones=[2,4]", "--run_eval=False", "--zero_init_last_bn", "--net_name=resnet18",
    ])
    assert cfg.lr == 0.05 and cfg.batch_size == 8 and cfg.lr_milestones == [2, 4]
    assert cfg.run_eval is False and cfg.zero_init_last_bn is True and cfg.net_name == "resnet18"
    assert cfg.explicit == {"lr", "batch_size", "lr_milestones", "run_eval", "zero_init_last_bn", "net_name"}


def test_comma_separated_list_and_int_for_float():
    cfg = load_config(["--lr_milestones=1,3", "--lr=1"])
    assert cfg.lr_milestones == [1, 3] and isinstance(cfg.lr, float)


def test_model_yaml_overrides_defaults_and_cli_overrides_yaml():
    cfg = load_config([f"--config_path={REPO / 'configs/resnext152_64x4d.yaml'}"])
    assert cfg.zero_init_last_bn is True and cfg.net_name == "resnext152_64x4d"
    cfg = load_config([f"--config_path={REPO / 'configs/resnext152_64x4d.yaml'}", "--zero_init_last_bn=false"])
    assert cfg.zero_init_last_bn is False


def test_unknown_cli_key_names_it_and_suggests():
    with pytest.raises(ConfigError, match=r"unknown config key 'learning_rat' in the command line; did you mean 'warmup_lr_init'|unknown config key 'learning_rat'"):
        load_config(["--learning_rat=0.1"])
    with pytest.raises(ConfigError, match=r"unknown config key 'batchsize'.*did you mean 'batch_size'"):
        load_config(["--batchsize=4"])


def test_unknown_yaml_key_names_file_and_suggests(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("net_name: resnet50\nepochs_size: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config([f"--config_path={bad}"])
    assert "'epochs_size'" in str(err.value) and str(bad) in str(err.value) and "'epoch_size'" in str(err.value)


def test_wrong_type_is_an_error():
    with pytest.raises(ConfigError, match="'batch_size'.*expects int"):
        load_config(["--batch_size=many"])
    with pytest.raises(ConfigError, match="'run_eval'.*expects bool"):
        load_config(["--run_eval=maybe"])


def test_missing_or_malformed_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config([f"--config_path={tmp_path / 'nope.yaml'}"])
    bad = tmp_path / "broken.yaml"
    bad.write_text("lr: [0.1\n")
    with pytest.raises(ConfigError, match="cannot parse config file"):
        load_config([f"--config_path={bad}"])


def test_positional_argument_is_rejected():
    with pytest.raises(ConfigError, match="unexpected argument 'resnet50'"):
        load_config(["resnet50"])
