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


# ---------------------------------------------------------------- help comments and the alias table

import yaml  # noqa: E402

from mindzoo.config import (  # noqa: E402
    ALIASES, DEFAULT_CONFIG, keys_set_by, resolve_config, schema_docs, train_root,
)
from mindzoo.errors import HelpRequested  # noqa: E402

MODEL_ZOO_YAML = REPO / "tests" / "data" / "resnext152_model_zoo_config.yaml"


def test_every_schema_key_has_a_section_and_a_help_comment():
    """default_config.yaml is the --help text: a key added without `# meaning` fails here."""
    docs = schema_docs()
    keys = list(yaml.safe_load(DEFAULT_CONFIG.read_text()))
    assert [doc.key for doc in docs] == keys
    assert not [doc.key for doc in docs if not doc.help], "keys without a help comment"
    assert not [doc.key for doc in docs if not doc.section], "keys above the first # ---- section ---- header"
    sections = {doc.section for doc in docs}
    assert {"run", "data", "optimisation", "export"} <= sections


def test_help_comment_parser(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text('# ---- one ----\na: "x # not a comment"  # the meaning\nb: 2\n# ---- two ----\nc: [1, 2] # list\n')
    docs = schema_docs(path)
    assert [(d.key, d.section, d.help) for d in docs] == [("a", "one", "the meaning"), ("b", "one", ""),
                                                         ("c", "two", "list")]


def test_alias_table_is_consistent_with_the_schema():
    schema = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for alias in ALIASES.values():
        assert alias.kind in ("maps", "same", "launcher", "ignored"), alias
        assert alias.meaning, alias.name
        assert all(target in schema for target in alias.targets), alias
        assert (alias.name in schema) == (alias.kind == "same"), alias
    for name in ("data_dir", "platform", "is_distributed", "pretrained", "image_size", "per_batch_size", "lr",
                 "lr_scheduler", "lr_epochs", "lr_gamma", "eta_min", "T_max", "max_epoch", "backbone",
                 "warmup_epochs", "weight_decay", "momentum", "is_dynamic_loss_scale", "loss_scale", "label_smooth",
                 "label_smooth_factor", "ckpt_interval", "ckpt_path", "rank", "group_size", "is_save_on_master"):
        assert name in ALIASES, name


def test_the_model_zoo_default_config_loads_with_its_meanings():
    cfg, notes = resolve_config([f"--config_path={MODEL_ZOO_YAML}"])
    assert cfg.net_name == "resnext152_64x4d"  # network: "resnext152"
    assert cfg.batch_size == 128 and cfg.export_batch_size == 1  # per_batch_size trains; batch_size: export's
    assert cfg.lr == 0.4 and cfg.lr_base_batch == 0  # the model zoo's LR is used as given
    assert cfg.lr_schedule == "warmup_cosine_annealing" and cfg.lr_milestones == [30, 60, 90, 120]
    assert cfg.epoch_size == 150 and cfg.warmup_epochs == 1
    assert cfg.train_image_size == cfg.eval_image_size == 224
    assert cfg.loss_scale_type == "fixed" and cfg.loss_scale == 1024.0
    assert cfg.label_smoothing == pytest.approx(0.1 * 1000 / 999)
    assert cfg.save_checkpoint_epochs == 5 and cfg.keep_checkpoint_max == 5 and cfg.output_dir == "output_demo/"
    assert cfg.width == cfg.height == 224 and cfg.file_name == "resnext152" and cfg.device_target == "Ascend"
    text = "\n".join(notes)
    assert "per_batch_size=128 -> batch_size=128" in text and "network=resnext152 -> net_name=resnext152_64x4d" in text
    assert "is_save_on_master, rank, group_size come from the launcher" in text
    assert "not used by mindzoo" in text and "enable_modelarts" in text


def test_an_unknown_key_in_a_model_zoo_yaml_is_still_an_error(tmp_path):
    bad = tmp_path / "zoo.yaml"
    bad.write_text(MODEL_ZOO_YAML.read_text().replace("ckpt_interval: 5", "ckpt_intervall: 5"))
    with pytest.raises(ConfigError, match=r"unknown config key 'ckpt_intervall' in .*zoo.yaml; did you mean"):
        load_config([f"--config_path={bad}"])
    bad.write_text("per_batch_size: 8\nbatch_size: 8\nexport_batch_size: 2\n")
    with pytest.raises(ConfigError, match="conflicting values"):
        load_config([f"--config_path={bad}"])


def test_alias_and_key_conflict_on_one_command_line():
    with pytest.raises(ConfigError) as err:
        load_config(["--per_batch_size=32", "--batch_size=64"])
    assert str(err.value) == ("conflicting values in the command line: per_batch_size=32 and batch_size=64 both set "
                              "batch_size; give only one of them")
    assert load_config(["--per_batch_size=32", "--batch_size=32"]).batch_size == 32
    with pytest.raises(ConfigError, match="backbone='resnet18' and network='resnet50' both set net_name|"
                                          "network='resnet50' and backbone='resnet18'"):
        load_config(["--network=resnet50", "--backbone=resnet18"])


def test_a_later_source_wins_over_an_alias(tmp_path):
    cfg = load_config([f"--config_path={MODEL_ZOO_YAML}", "--batch_size=8", "--max_epoch=2", "--T_max=2",
                       "--label_smoothing=0.0"])
    assert cfg.batch_size == 8 and cfg.epoch_size == 2 and cfg.label_smoothing == 0.0
    assert {"batch_size", "epoch_size", "label_smoothing"} <= cfg.explicit


def test_aliases_that_mean_different_things_to_train_and_eval(tmp_path):
    root = tmp_path / "imagenet"
    (root / "train" / "a").mkdir(parents=True)
    (root / "val" / "a").mkdir(parents=True)
    train = load_config([f"--data_dir={root / 'train'}/", "--per_batch_size=16"], command="train")
    assert train.data_path == str(root) and train.batch_size == 16 and train.eval_batch_size == 32
    assert load_config([f"--data_dir={root}"], command="train").data_path == str(root)
    evaluation = load_config([f"--data_dir={root / 'val'}", "--per_batch_size=16"], command="eval")
    assert evaluation.data_path == str(root / "val") and evaluation.eval_batch_size == 16
    assert evaluation.batch_size == 32
    (tmp_path / "flat" / "a").mkdir(parents=True)
    with pytest.raises(ConfigError, match="data_dir .*flat has no train/ folder and is not one"):
        load_config([f"--data_dir={tmp_path / 'flat'}"], command="train")
    assert train_root(str(root / "train")) == str(root) and train_root(str(root)) == str(root)
    assert train_root(str(tmp_path / "flat")) == str(tmp_path / "flat")


def test_value_conversions():
    cfg = load_config(["--image_size=32,32", "--platform=GPU", "--is_distributed=1", "--max_epoch=3", "--T_max=3",
                       "--lr_scheduler=exponential", "--lr_epochs=1,2", "--is_dynamic_loss_scale=1",
                       "--backbone=resnext50", "--ckpt_interval=2", "--ckpt_save_max=4", "--ckpt_path=out/"])
    assert (cfg.train_image_size, cfg.eval_image_size, cfg.device_target, cfg.run_distribute) == (32, 32, "GPU", True)
    assert (cfg.epoch_size, cfg.lr_schedule, cfg.lr_milestones) == (3, "warmup_step", [1, 2])
    assert (cfg.loss_scale_type, cfg.net_name) == ("dynamic", "resnext50_32x4d")
    assert (cfg.save_checkpoint_epochs, cfg.keep_checkpoint_max, cfg.output_dir) == (2, 4, "out/")
    assert load_config(["--image_size=64"]).train_image_size == 64
    assert load_config(["--label_smooth=0", "--label_smooth_factor=0.1"]).label_smoothing == 0.0
    four = load_config(["--label_smooth_factor=0.1", "--num_classes=4"])
    assert four.label_smoothing == pytest.approx(0.1 * 4 / 3)  # targets 0.9 / 0.0333, as the model zoo's
    assert load_config([f"--config_path={MODEL_ZOO_YAML}", "--num_classes=4"]).label_smoothing == pytest.approx(0.4 / 3)
    assert load_config(["--run_eval=0"]).run_eval is False


@pytest.mark.parametrize("args, message", [
    (["--image_size=224,192"], "square crops"),
    (["--image_size=big"], "image_size in the command line must be"),
    (["--lr_scheduler=linear"], "lr_scheduler in the command line must be cosine_annealing or exponential"),
    (["--lr_scheduler=cosine_annealing", "--max_epoch=10", "--T_max=20"],
     "T_max=20 in the command line differs from the run's 10 epochs"),
    (["--is_distributed=2"], "'run_distribute' in the command line .from is_distributed. expects bool"),
    (["--max_epoch=ten"], "'epoch_size' in the command line .from max_epoch. expects int"),
])
def test_bad_alias_values_are_one_line_errors(args, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_config(args)
    assert "\n" not in str(err.value)


def test_lr_is_the_model_zoos_only_next_to_its_keys():
    assert load_config(["--lr=0.0125"]).lr_base_batch == 256
    cfg, notes = resolve_config(["--data_dir=x", "--lr=0.0125", "--per_batch_size=32"])
    assert cfg.lr == 0.0125 and cfg.lr_base_batch == 0 and any("used as given" in n for n in notes)
    assert load_config(["--platform=CPU", "--lr=0.1", "--lr_base_batch=128"]).lr_base_batch == 128


def test_help_flag_and_keys_set_by(tmp_path):
    with pytest.raises(HelpRequested) as request:
        load_config(["--config_path", str(MODEL_ZOO_YAML), "--nonsense", "-h"], command="eval")
    assert request.value.command == "eval" and request.value.config_path == str(MODEL_ZOO_YAML)
    assert keys_set_by(["--platform=CPU", "--per_batch_size", "4", "--lr=1"], "train") == {
        "device_target", "batch_size", "lr"}
    assert keys_set_by(["--per_batch_size=4"], "eval") == {"eval_batch_size"}


@pytest.mark.parametrize("page", ["docs/configuration.md", "docs/configuration_CN.md"])
def test_docs_list_every_alias(page):
    text = (REPO / page).read_text(encoding="utf-8")
    missing = [name for name in ALIASES if f"`{name}`" not in text]
    assert not missing, f"{page} does not list the model-zoo keys {missing}"
