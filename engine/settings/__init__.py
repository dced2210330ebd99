"""The run's settings: each declared once, a frozen Config, and the rules between them.

- bounds: the numbers and names a setting may take;
- text: settings as people type them, values as messages echo them;
- schema: every setting once (key, kind, default, flag, TOML key, form field, help), from
  which the command line, the TOML reader, the app's form and the docs' reference tables are made;
- errors: ConfigError, which names its setting by key for each front end to word;
- rules: the named checks every config obeys, and the checks against loaded data;
- config: the Config, its defaults and validate().

May import engine.maths, engine.model and engine.check (names the settings choose from).
"""
