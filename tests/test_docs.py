"""The README stands alone and every command documents every option."""

from pathlib import Path

import typer

ROOT = Path(__file__).parents[1]


def test_readme_cites_nothing_a_clone_lacks():
    text = (ROOT / "README.md").read_text()
    assert "DESIGN.md" not in text and "shared/" not in text and "STORE-CONVENTION" not in text


def _commands(group, path=()):
    for name, cmd in getattr(group, "commands", {}).items():
        yield from _commands(cmd, (*path, name)) if hasattr(cmd, "commands") else [((*path, name), cmd)]


def test_every_option_of_every_command_has_help():
    from tessera.cli import app

    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) >= 19  # every command and sub-command, not an empty walk
    missing = [
        f"tessera {' '.join(path)} {p.opts[0]}"
        for path, cmd in _commands(typer.main.get_command(app))
        for p in cmd.params
        if p.param_type_name == "option" and not getattr(p, "help", None)
    ]
    assert not missing, missing
