import json
import subprocess
import sys

import pytest

from tlkeras.cli import main
from tlkeras.strategies import STRATEGIES


def test_bases_command_lists_a_family(capsys):
    assert main(["bases", "--family", "mobilenet_v2"]) == 0
    assert capsys.readouterr().out.split() == ["MobileNetV2"]


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["trane"])
    assert info.value.code == 2
    assert "invalid choice: 'trane'" in capsys.readouterr().err


def test_bad_labels_per_class(capsys, tmp_path):
    assert (
        main(["demo", "--out", str(tmp_path), "--labels-per-class", "0"]) == 2
    )
    assert "--labels-per-class must be >= 1" in capsys.readouterr().err


def test_demo_fine_tuning_beats_scratch(tmp_path):
    """The main job, as a user runs it: the console script, real output."""
    out = tmp_path / "demo"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tlkeras.cli.main",
            "demo",
            "--out",
            str(out),
            "--verbose",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "fine-tuning" in run.stdout and "from scratch" in run.stdout
    report = json.loads((out / "results.json").read_text())
    accuracy = {r["name"]: r["accuracy"] for r in report["results"]}
    assert accuracy["fine-tuning"] > accuracy["from scratch"]
    assert accuracy["fine-tuning"] > accuracy["feature extraction"]
    png = (out / "learning_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_photo_demo_needs_the_assets(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="datasets/hymenoptera"):
        main(["demo", "--out", str(tmp_path), "--assets", str(tmp_path)])


def test_every_option_says_what_it_does_and_its_default():
    import argparse

    from tlkeras.cli.main import _parser

    commands = next(
        a
        for a in _parser()._actions
        if isinstance(a, argparse._SubParsersAction)
    )
    for name, command in commands.choices.items():
        text = " ".join(command.format_help().split())
        for action in command._actions:
            assert action.help, (name, action.dest)
            # By identity: a default of 0 (== False) is stated too.
            unstated = (None, False, argparse.SUPPRESS)
            if action.option_strings and not any(
                action.default is value for value in unstated
            ):
                assert (
                    f"(default: {action.default})"
                    in text.replace("\n", " ").replace("  ", " ")
                    or "default:" in action.help
                ), (
                    name,
                    action.dest,
                )


def _run(code, env=None):
    import os

    environment = {
        k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"
    }
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )


def test_help_and_argument_errors_never_import_tensorflow():
    run = _run(
        "import sys, tlkeras_cli\n"
        "for argv in (['--help'], ['train', '--help'], ['trane']):\n"
        "    try:\n"
        "        tlkeras_cli.main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('tensorflow' in sys.modules)\n"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "False"
    assert "usage: tlkeras train" in run.stdout


def test_tensorflow_start_up_log_is_quiet_unless_asked_for():
    code = (
        "import tlkeras_cli\n"
        "tlkeras_cli.main(['bases', '--family', 'mobilenet_v2'])"
    )
    quiet = _run(code)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.split() == ["MobileNetV2"]
    assert quiet.stderr == ""
    # Set by the user: their level, and TensorFlow's own lines, stand.
    loud = _run(code, {"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert loud.returncode == 0 and "I0000" in loud.stderr


def test_compare_help_names_every_strategy(capsys):
    import tlkeras_cli

    with pytest.raises(SystemExit):
        tlkeras_cli.main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in STRATEGIES:
        assert name in text


def test_every_help_states_each_default_once(capsys):
    import tlkeras_cli

    parser = tlkeras_cli._parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        with pytest.raises(SystemExit):
            tlkeras_cli.main([name, "--help"])
        assert capsys.readouterr().out.startswith(f"usage: tlkeras {name}")
        formatter = command._get_formatter()
        for action in command._actions:
            # The help as --help prints it, one option at a time (its text
            # may name other options).
            text = formatter._expand_help(action) if action.help else ""
            assert text.count("(default") <= 1, (name, action.dest, text)


def test_choices_spelled_out_for_a_quick_help_match_the_library():
    """`--help` must not import TensorFlow, so the parser spells some
    choices out; they must stay what the library accepts."""
    import tlkeras_cli
    from tlkeras.evaluation.tta import TTA
    from tlkeras.recipes import STRATEGIES as RECIPES

    commands = tlkeras_cli._parser()._subparsers._group_actions[0].choices

    def choices(command, dest):
        action = next(a for a in commands[command]._actions if a.dest == dest)
        return tuple(action.choices)

    assert choices("train", "strategy") == ("auto",) + tuple(RECIPES)
    assert choices("evaluate", "tta") == tuple(k for k in TTA if k is not None)
