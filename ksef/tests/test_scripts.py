"""The README's commands when no Odoo is found: they say what they need and do what they can without it."""
import importlib.util
import os
import pathlib
import socket
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]


def run(script, *args, tmp_path):
    env = dict(os.environ, ODOO_SRC=str(tmp_path / 'no-odoo-here'))   # set, and not an Odoo 18 tree
    return subprocess.run(['bash', str(REPO / 'scripts' / script), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def test_run_without_odoo_says_what_it_needs_and_runs_the_standalone_demo(tmp_path):
    done = run('run.sh', '--no-emulator', tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert 'needs an Odoo 18' in done.stdout
    assert 'ODOO_SRC' in done.stdout and 'ODOO_PYTHON' in done.stdout
    assert 'is not Odoo 18' in done.stdout                    # the ODOO_SRC given was looked at and refused
    assert 'FA(3)' in done.stdout                            # then the stand-alone demonstration ran


def test_odoo_tests_without_odoo_say_plainly_they_were_skipped(tmp_path):
    done = run('odoo_tests.sh', tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('Odoo tests SKIPPED: no Odoo 18 source tree found')


def load_demo():
    spec = importlib.util.spec_from_file_location('odoo_demo', REPO / 'scripts' / 'odoo_demo.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_ports_the_preferred_one_else_a_free_one():
    demo = load_demo()
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        free = probe.getsockname()[1]
    assert demo.free_port(free) == free
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        taken = busy.getsockname()[1]
        other = demo.free_port(taken)
        assert other != taken and other > 0


def test_demo_work_files_are_outside_the_addon():
    demo = load_demo()
    assert REPO not in demo.WORK.parents, "Odoo scans the addon folder: nothing of the demo may live in it"
