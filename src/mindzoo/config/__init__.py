"""Model-zoo style configuration: ``default_config.yaml`` + a per-model YAML + ``--key=value`` overrides.

``schema``: the keys, their types and help (default_config.yaml); ``aliases``: the model zoo's keys (``ALIASES``);
``merge``: the sources merged and validated (``load_config``).
"""
from mindzoo.config.aliases import ALIASES, Alias, AliasContext, train_root
from mindzoo.config.merge import dump_config, keys_set_by, load_config, parse_cli, resolve_config
from mindzoo.config.schema import CONFIG_DIR, DEFAULT_CONFIG, Config, KeyDoc, coerce, read_yaml, schema_docs

__all__ = [
    "ALIASES", "Alias", "AliasContext", "CONFIG_DIR", "Config", "DEFAULT_CONFIG", "KeyDoc", "coerce", "dump_config",
    "keys_set_by", "load_config", "parse_cli", "read_yaml", "resolve_config", "schema_docs", "train_root",
]
