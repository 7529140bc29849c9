"""arnn_lite.book: the setup cell every chapter starts with (Colab branch simulated, no network)."""

import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from arnn_lite import _repo, book

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No Colab, no ARNN_MODE, no GPU, and a fresh `current()` for every test."""
    monkeypatch.delenv("ARNN_MODE", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(book, "_CURRENT", None)
    monkeypatch.setenv(book.REPOSITORY_ENV, "")  # recorded, so a fork set by a test is undone
    monkeypatch.delenv(book.REPOSITORY_ENV)


@pytest.fixture
def pip_calls(monkeypatch):
    """Record subprocess.run calls instead of running pip."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append((cmd, check)))
    return calls


def test_setup_returns_frozen_config_and_current():
    cfg = book.setup(seed=3, quiet=True)
    assert cfg == book.BookConfig(device="cpu", mode="book", seed=3, on_colab=False)
    assert book.current() is cfg
    with pytest.raises(AttributeError):
        cfg.mode = "full"


def test_current_before_setup_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"setup\(\)"):
        book.current()


@pytest.mark.parametrize("cuda, env, arg, expected", [
    (False, None, None, "book"),
    (True, None, None, "full"),
    (False, None, "full", "full"),
    (True, None, "book", "book"),
    (True, "book", None, "book"),
    (False, "full", None, "full"),
    (True, "book", "full", "book"),   # ARNN_MODE wins over the argument
])
def test_mode_rules(monkeypatch, cuda, env, arg, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    if env is not None:
        monkeypatch.setenv("ARNN_MODE", env)
    cfg = book.setup(mode=arg, quiet=True)
    assert (cfg.device, cfg.mode) == ("cuda" if cuda else "cpu", expected)
    assert book.is_full() == (expected == "full")
    assert book.budget(book=2, full=300) == (300 if expected == "full" else 2)


def test_bad_mode_names_the_argument():
    with pytest.raises(ValueError, match=r"^mode: expected one of \['book', 'full'\], got 'fast'"):
        book.setup(mode="fast", quiet=True)


def test_bad_env_mode_names_the_variable(monkeypatch):
    monkeypatch.setenv("ARNN_MODE", "gpu")
    with pytest.raises(ValueError, match=r"^ARNN_MODE: expected one of \['book', 'full'\], got 'gpu'"):
        book.setup(quiet=True)


def test_bad_seed_names_the_argument():
    with pytest.raises(ValueError, match=r"^seed: "):
        book.setup(seed=-1, quiet=True)


def draw():
    return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()


def test_seeding_is_deterministic():
    book.setup(seed=7, quiet=True)
    first = draw()
    book.setup(seed=7, quiet=True)
    assert draw() == first
    book.setup(seed=8, quiet=True)
    assert draw() != first


def test_figure_defaults_applied():
    import matplotlib

    matplotlib.rcParams["image.interpolation"] = "bilinear"
    book.setup(quiet=True)
    assert matplotlib.rcParams["image.interpolation"] == "nearest"


def test_not_on_colab_never_runs_pip(pip_calls, monkeypatch):
    monkeypatch.setattr(book, "_is_installed", lambda: False)
    assert book.setup(quiet=True).on_colab is False
    assert pip_calls == []


@pytest.mark.parametrize("how", ["module", "env"])
def test_colab_installs_package_without_torch(pip_calls, monkeypatch, tmp_path, how):
    if how == "module":
        monkeypatch.setitem(sys.modules, "google.colab", object())
    else:
        monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20250101")
    monkeypatch.setattr(_repo, "ROOT", tmp_path / "site-packages")
    monkeypatch.setattr(_repo, "REPOSITORY_URL", PUBLISHED)
    monkeypatch.setattr(_repo, "REPOSITORY_BRANCH", "main")
    monkeypatch.setenv("ARNN_DATA_DIR", str(tmp_path))  # data present: no clone
    monkeypatch.setattr(book, "_is_installed", lambda: False)
    monkeypatch.setattr(book, "missing_light_deps", lambda: list(book.LIGHT_DEPS))
    cfg = book.setup(quiet=True)
    assert cfg.on_colab is True
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    assert pip_calls == [
        (pip + ["--no-deps", f"git+{PUBLISHED}@main"], True),
        (pip + ["numpy", "matplotlib", "pillow", "cycler", "ipywidgets", "tqdm", "scikit-image"], True),
    ]
    assert not any("torch" in arg for cmd, _ in pip_calls for arg in cmd)


def test_colab_skips_install_when_installed(pip_calls, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(book, "_is_installed", lambda: True)
    assert book.setup(quiet=True).on_colab is True
    assert pip_calls == []


def test_light_deps_are_the_package_deps_except_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [d.split(">")[0].split("=")[0].split("<")[0].strip() for d in project["dependencies"]]
    assert sorted(book.LIGHT_DEPS) == sorted(n for n in names if n not in ("torch", "torchvision"))


def test_config_repository_matches_constant():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] == book.REPOSITORY_URL
    assert config["repository"]["branch"] == book.REPOSITORY_BRANCH
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


def test_data_dir_prefers_the_environment_then_the_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("ARNN_DATA_DIR", str(tmp_path))
    assert book.data_dir() == tmp_path
    monkeypatch.delenv("ARNN_DATA_DIR")
    assert book.data_dir() == _repo.ROOT / "data"


def test_data_dir_clones_the_repository_on_colab(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(_repo, "REPOSITORY_URL", PUBLISHED)
    monkeypatch.setattr(_repo, "REPOSITORY_BRANCH", "main")
    monkeypatch.delenv("ARNN_DATA_DIR", raising=False)
    monkeypatch.setattr(_repo, "ROOT", tmp_path / "site-packages")
    monkeypatch.setattr(book.Path, "home", lambda: tmp_path)
    monkeypatch.setenv("COLAB_RELEASE_TAG", "simulated")

    def fake_clone(cmd, check):
        calls.append(cmd)
        (Path(cmd[-1]) / "data").mkdir(parents=True)
    monkeypatch.setattr(book.subprocess, "run", fake_clone)
    assert book.data_dir() == tmp_path / "attentionrnn-book" / "data"
    assert calls == [["git", "clone", "--quiet", "--depth", "1", "--branch", "main",
                      PUBLISHED, str(tmp_path / "attentionrnn-book.partial")]]
    monkeypatch.delenv("COLAB_RELEASE_TAG")
    monkeypatch.setattr(book.Path, "home", lambda: tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError, match="set ARNN_DATA_DIR"):
        book.data_dir()


def test_figure_defaults_are_colour_blind_safe_and_readable():
    """setup()'s figure defaults: Okabe-Ito colours, each series with its own line style and
    marker, and no default text smaller than 8 pt."""
    import matplotlib
    from matplotlib.font_manager import FontProperties

    with matplotlib.rc_context():
        book.set_figure_defaults()
        cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()
        assert [c.upper() for c in cycle["color"]] == [c.upper() for c in book.PALETTE]
        assert "#FF0000" not in cycle["color"] and "tab:green" not in cycle["color"]
        for key in ("linestyle", "marker"):
            assert len(set(map(str, cycle[key]))) == len(cycle["color"]), key
        for key in ("font.size", "legend.fontsize", "xtick.labelsize", "ytick.labelsize",
                    "axes.labelsize", "axes.titlesize"):
            size = FontProperties(size=matplotlib.rcParams[key]).get_size_in_points()
            assert size >= book.MIN_FONT_PT, (key, size)


# --------------------------------------------------------------------------- Colab install cell
PUBLISHED = "https://github.com/someone/their-book"  # a repository URL that is not the placeholder


def on_colab_from_pip(monkeypatch, tmp_path):
    """Simulate Colab with arnn_lite installed by pip (no checkout next to the package)."""
    monkeypatch.setenv("COLAB_RELEASE_TAG", "simulated")
    monkeypatch.delenv("ARNN_DATA_DIR", raising=False)
    monkeypatch.setattr(_repo, "ROOT", tmp_path / "site-packages")
    monkeypatch.setattr(book.Path, "home", lambda: tmp_path)


def fake_git_and_pip(monkeypatch):
    """Record subprocess.run; a `git clone` creates the clone's data/ folder."""
    calls = []

    def run(cmd, check):
        calls.append(cmd)
        if cmd[:2] == ["git", "clone"]:
            (Path(cmd[-1]) / "data").mkdir(parents=True)
    monkeypatch.setattr(book.subprocess, "run", run)
    return calls


def one_sentence(message):
    return "\n" not in message and message.endswith(".") and ". " not in message[:-1]


def test_placeholder_url_stops_install_with_one_sentence(monkeypatch, tmp_path):
    on_colab_from_pip(monkeypatch, tmp_path)
    monkeypatch.setattr(_repo, "REPOSITORY_URL", book.PLACEHOLDER_URL)  # today's value
    monkeypatch.setattr(book, "_is_installed", lambda: False)
    calls = fake_git_and_pip(monkeypatch)
    with pytest.raises(RuntimeError) as err:
        book.setup(quiet=True)
    message = str(err.value)
    assert one_sentence(message), message
    assert "python book/set_repository.py https://github.com/OWNER/REPO" in message
    assert book.PLACEHOLDER_URL in message
    assert calls == []  # no pip, no git: nothing ran against a repository that does not exist


def test_placeholder_url_stops_the_data_clone_with_one_sentence(monkeypatch, tmp_path):
    on_colab_from_pip(monkeypatch, tmp_path)
    monkeypatch.setattr(_repo, "REPOSITORY_URL", book.PLACEHOLDER_URL)
    calls = fake_git_and_pip(monkeypatch)
    with pytest.raises(RuntimeError) as err:
        book.data_dir()
    assert one_sentence(str(err.value)) and "ARNN_DATA_DIR" in str(err.value), str(err.value)
    assert calls == []


def test_colab_install_from_the_published_repository(monkeypatch, tmp_path):
    on_colab_from_pip(monkeypatch, tmp_path)
    monkeypatch.setattr(_repo, "REPOSITORY_URL", PUBLISHED)
    monkeypatch.setattr(_repo, "REPOSITORY_BRANCH", "main")
    monkeypatch.setattr(book, "_is_installed", lambda: False)
    monkeypatch.setattr(book, "missing_light_deps", lambda: list(book.LIGHT_DEPS))
    calls = fake_git_and_pip(monkeypatch)
    book.setup(quiet=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    assert calls[:2] == [pip + ["--no-deps", f"git+{PUBLISHED}@main"], pip + list(book.LIGHT_DEPS)]
    assert calls[2][:2] == ["git", "clone"] and PUBLISHED in calls[2]
    for cmd in calls:  # Colab's own torch is never re-installed or upgraded
        assert not any("torch" in arg for arg in cmd), cmd
        assert not {"-U", "--upgrade", "--force-reinstall"} & set(cmd), cmd
    assert book.data_dir() == tmp_path / "attentionrnn-book" / "data"


def test_colab_installs_only_the_missing_light_deps(monkeypatch, tmp_path):
    on_colab_from_pip(monkeypatch, tmp_path)
    monkeypatch.setattr(_repo, "REPOSITORY_URL", PUBLISHED)
    monkeypatch.setattr(_repo, "REPOSITORY_BRANCH", "main")
    monkeypatch.setattr(book, "_is_installed", lambda: True)
    monkeypatch.setattr(book.importlib.util, "find_spec",
                        lambda name: None if name in ("tqdm", "ipywidgets") else object())
    calls = fake_git_and_pip(monkeypatch)
    book.install_on_colab(quiet=True)
    assert calls[0] == [sys.executable, "-m", "pip", "install", "--quiet", "ipywidgets", "tqdm"]
    assert [c[:2] for c in calls[1:]] == [["git", "clone"]]


def test_colab_fetches_the_data_once(monkeypatch, tmp_path):
    on_colab_from_pip(monkeypatch, tmp_path)
    monkeypatch.setattr(_repo, "REPOSITORY_URL", PUBLISHED)
    monkeypatch.setattr(_repo, "REPOSITORY_BRANCH", "main")
    monkeypatch.setattr(book, "_is_installed", lambda: True)
    monkeypatch.setattr(book, "missing_light_deps", lambda: [])
    calls = fake_git_and_pip(monkeypatch)
    book.setup(quiet=True)
    book.setup(quiet=True)  # the next chapter on the same runtime
    assert [c[:2] for c in calls] == [["git", "clone"]]


def test_colab_installs_a_checkout_from_itself(monkeypatch, tmp_path):
    """Run from a clone (`%cd` into it): pip installs that checkout, offline, whatever the URL."""
    checkout = tmp_path / "clone"
    (checkout / "arnn_lite").mkdir(parents=True)
    (checkout / "data").mkdir()
    (checkout / "pyproject.toml").write_text("[project]\nname = 'arnn_lite'\n")
    monkeypatch.setenv("COLAB_RELEASE_TAG", "simulated")
    monkeypatch.setattr(_repo, "ROOT", checkout)
    monkeypatch.setattr(_repo, "REPOSITORY_URL", book.PLACEHOLDER_URL)  # never needed here
    monkeypatch.setattr(book, "_is_installed", lambda: False)
    monkeypatch.setattr(book, "missing_light_deps", lambda: [])
    calls = fake_git_and_pip(monkeypatch)
    book.setup(quiet=True)
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", str(checkout)]]


FORK = "https://github.com/a-teacher/their-fork"


def test_a_forks_student_copy_installs_and_clones_the_fork(monkeypatch, tmp_path):
    """`classroom student --repo-url FORK`: the setup cell of every student copy installs the
    package from the fork and clones the fork's data/, even while the book's own URL is the
    placeholder; the fork reaches the processes the notebook starts."""
    from arnn_lite import classroom
    on_colab_from_pip(monkeypatch, tmp_path)
    monkeypatch.setattr(_repo, "REPOSITORY_URL", book.PLACEHOLDER_URL)  # today's value
    monkeypatch.setattr(_repo, "REPOSITORY_BRANCH", "main")
    monkeypatch.setattr(book, "_is_installed", lambda: False)
    monkeypatch.setattr(book, "missing_light_deps", lambda: [])
    monkeypatch.setattr("arnn_lite._repo.git_commit", lambda cwd=None: "unknown")  # setup prints it
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        nb = classroom.student_notebook(classroom.read_notebook(path), path.name, repo_url=FORK + "/")
        cell = next(c for c in nb.cells if c.cell_type == "code")
        assert f'setup(repository="{FORK}", chapter="{path.stem}")' in cell.source, path.name
        shutil.rmtree(tmp_path / "attentionrnn-book", ignore_errors=True)
        monkeypatch.delenv(book.REPOSITORY_ENV, raising=False)
        calls = fake_git_and_pip(monkeypatch)
        exec(compile(classroom.parse_cell(cell.source), path.name, "exec"), {})
        assert calls[0][-1] == f"git+{FORK}@main", path.name
        assert calls[1][:2] == ["git", "clone"] and calls[1][-2] == FORK, path.name
        assert os.environ[book.REPOSITORY_ENV] == FORK


def test_setup_refuses_a_repository_that_is_not_a_url():
    with pytest.raises(ValueError, match="repository: expected the https URL"):
        book.setup(quiet=True, repository="someone/their-fork")


def test_an_interrupted_data_clone_is_retried(monkeypatch, tmp_path):
    on_colab_from_pip(monkeypatch, tmp_path)
    monkeypatch.setattr(_repo, "REPOSITORY_URL", PUBLISHED)
    monkeypatch.setattr(_repo, "REPOSITORY_BRANCH", "main")
    (tmp_path / "attentionrnn-book.partial" / "junk").mkdir(parents=True)  # killed mid-clone
    (tmp_path / "attentionrnn-book").mkdir()  # an old clone without data/
    calls = fake_git_and_pip(monkeypatch)
    assert book.data_dir() == tmp_path / "attentionrnn-book" / "data"
    assert len(calls) == 1 and not (tmp_path / "attentionrnn-book.partial").exists()


# --------------------------------------------------------------------------- one repository URL
SCRIPT = ROOT / "book" / "set_repository.py"
COPIED = ["arnn_lite/_repo.py", "_config.yml", "pyproject.toml", "README.md", "chapters/*.ipynb",
          "book/*.md"]


def copy_of_the_repository(tmp_path):
    """The files that name the repository, copied into ``tmp_path`` (same relative paths)."""
    for pattern in COPIED:
        for path in ROOT.glob(pattern):
            target = tmp_path / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}


def script():
    """book/set_repository.py as a module."""
    spec = importlib.util.spec_from_file_location("set_repository", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def set_repository(root, *args):
    return subprocess.run([sys.executable, str(SCRIPT), *args, "--root", str(root)],
                          capture_output=True, text=True, timeout=60)


def test_every_place_names_the_same_repository():
    done = set_repository(ROOT, "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert book.REPOSITORY_URL in done.stdout


def test_set_repository_rewrites_every_place(tmp_path):
    before = copy_of_the_repository(tmp_path)
    new, pages = "https://github.com/Someone/their-book", "https://someone.github.io/their-book/"
    done = set_repository(tmp_path, new + "/", "--branch", "dev")
    assert done.returncode == 0, done.stderr
    old_owner_repo = book.REPOSITORY_URL.removeprefix("https://github.com/")
    old_pages = script().pages_url(book.REPOSITORY_URL)
    for rel in before:
        for line in (tmp_path / rel).read_text().splitlines():
            if not line.startswith("PLACEHOLDER_URL = "):  # the one line that must stay
                assert old_owner_repo not in line and old_pages not in line, (rel, line)
    text = (tmp_path / "arnn_lite/_repo.py").read_text()
    assert f'REPOSITORY_URL = "{new}"' in text and 'REPOSITORY_BRANCH = "dev"' in text
    assert f'PLACEHOLDER_URL = "{book.PLACEHOLDER_URL}"' in text
    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    assert config["repository"]["url"] == new and config["repository"]["branch"] == "dev"
    urls = tomllib.loads((tmp_path / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Homepage"] == new and urls["Documentation"] == pages
    readme = (tmp_path / "README.md").read_text()
    assert f"<{new}>" in readme and pages in readme
    chapters = sorted((tmp_path / "chapters").glob("*.ipynb"))
    assert len(chapters) == len(list((ROOT / "chapters").glob("*.ipynb"))) > 0
    for path in chapters:
        raw = path.read_text()
        nb = json.loads(raw)
        assert raw == json.dumps(nb, indent=1, ensure_ascii=False) + "\n", path.name  # format kept
        badge = "".join(nb["cells"][0]["source"])
        assert (f"colab.research.google.com/github/Someone/their-book/blob/dev/chapters/{path.name}"
                in badge), path.name
        setup = next("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert f'"git+{new}@dev"' in setup, path.name
    assert set_repository(tmp_path, "--check").returncode == 0
    # and back: the old URL and branch restore every file byte for byte
    assert set_repository(tmp_path, book.REPOSITORY_URL, "--branch", book.REPOSITORY_BRANCH).returncode == 0
    after = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_set_repository_refuses_a_url_colab_cannot_open(tmp_path):
    before = copy_of_the_repository(tmp_path)
    done = set_repository(tmp_path, "https://gitlab.com/someone/book")
    assert done.returncode == 2
    assert "url: expected https://github.com/OWNER/REPO" in done.stderr and "gitlab" in done.stderr
    assert {p.relative_to(tmp_path).as_posix(): p.read_bytes()
            for p in tmp_path.rglob("*") if p.is_file()} == before


def test_set_repository_check_names_a_place_that_disagrees(tmp_path):
    copy_of_the_repository(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace(book.REPOSITORY_URL, "https://github.com/x/y"))
    done = set_repository(tmp_path, "--check")
    assert done.returncode == 1 and "missing in README.md" in done.stdout


def test_set_repository_keeps_a_longer_repository_name_apart(tmp_path):
    """Rewriting .../book must not touch .../book-two (a neighbouring repository)."""
    text = "see https://github.com/a/book-two and git+https://github.com/a/book@main\n"
    new = script().rewrite_text(text, ("https://github.com/a/book", "main"), ("https://github.com/b/c", "main"))
    assert new == "see https://github.com/a/book-two and git+https://github.com/b/c@main\n"


# --------------------------------------------------------------------------- licences
def test_code_is_mit_and_text_is_cc_by():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE-text").read_text()
    assert "CC BY 4.0" in text and "https://creativecommons.org/licenses/by/4.0/" in text
    readme = (ROOT / "README.md").read_text()
    assert "(LICENSE)" in readme and "(LICENSE-text)" in readme and "CC BY 4.0" in readme
