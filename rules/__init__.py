"""Rule packs and check definitions: data, not code. Installed with netwatch as the package `netwatch_rules`
so that a normal (non-editable) install finds them (netwatch.config.rules_dir)."""
