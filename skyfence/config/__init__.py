"""The config file of `skyfence watch`: read (`file`), its keys' lines found (`toml_lines`), and
checked whole without starting anything (`check`)."""
