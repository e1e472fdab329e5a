"""papermill reproduction: order, parameters, output folder, status table and failures."""
import json
import subprocess
import sys

import nbformat
import pytest

from primps_core.study import reproduce


def write_notebook(path, body):
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('preset = "smoke"')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(body)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


@pytest.fixture
def notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    # Each notebook appends its name and the preset it received to a log in its working directory.
    for name in ("01_first", "02_second"):
        write_notebook(folder / f"{name}.ipynb",
                       f'import os\nopen("log.txt", "a").write("{name} " + preset + " " + os.getcwd() + "\\n")')
    return folder


def test_runs_notebooks_in_order_with_preset_and_cwd(notebooks, tmp_path, capsys):
    runs = reproduce.reproduce("cpu", notebooks_dir=notebooks, output_dir=tmp_path / "out",
                               times_path=tmp_path / "reproduce.json")
    assert [(r.name, r.status) for r in runs] == [("01_first", "ok"), ("02_second", "ok")]
    log = (notebooks / "log.txt").read_text().splitlines()
    assert log == [f"01_first cpu {notebooks}", f"02_second cpu {notebooks}"]
    executed = json.loads((tmp_path / "out" / "02_second.ipynb").read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in executed["cells"])
    table = reproduce.format_table(runs)
    assert "notebook" in table and "01_first" in table and "ok" in table
    assert "running 01_first.ipynb" in capsys.readouterr().err              # progress on stderr
    times = json.loads((tmp_path / "reproduce.json").read_text())
    assert times["preset"] == "cpu" and list(times["notebooks"]) == ["01_first", "02_second"]
    reproduce.reproduce("cpu", only=["01"], notebooks_dir=notebooks, output_dir=tmp_path / "out",
                        times_path=tmp_path / "reproduce.json", device="cpu")
    executed = json.loads((tmp_path / "out" / "01_first.ipynb").read_text())
    assert any('device = "cpu"' in "".join(c["source"]) for c in executed["cells"])     # passed as a parameter
    assert all(t["seconds"] > 0 and t["matmul_gflops"] > 0 and t["fft_per_s"] > 0 for t in times["notebooks"].values())


def test_only_selects_and_unknown_prefix_is_an_error(notebooks, tmp_path):
    times = tmp_path / "reproduce.json"
    reproduce.reproduce("smoke", only=["01"], notebooks_dir=notebooks, output_dir=tmp_path / "out", times_path=times)
    first = json.loads(times.read_text())["notebooks"]["01_first"]
    runs = reproduce.reproduce("smoke", only=["02"], notebooks_dir=notebooks, output_dir=tmp_path / "out",
                               times_path=times)
    assert [r.name for r in runs] == ["02_second"]
    recorded = json.loads(times.read_text())["notebooks"]
    assert recorded["01_first"] == first and list(recorded) == ["01_first", "02_second"]     # 01's entry kept
    for prefix, count in (("07", 0), ("0", 2)):                   # each entry names exactly one notebook
        with pytest.raises(ValueError, match=f"--only '{prefix}' names {count} notebooks in .*, not one"):
            reproduce.reproduce("smoke", only=[prefix], notebooks_dir=notebooks, output_dir=tmp_path / "out",
                                times_path=times)


def test_failing_notebook_stops_the_run_and_names_the_cell_error(notebooks, tmp_path, capsys):
    write_notebook(notebooks / "01_first.ipynb", 'raise KeyError("missing column alpha")')
    with pytest.raises(reproduce.NotebookFailed, match=r"01_first.ipynb failed at cell \[\d+\]: KeyError: .*missing column alpha"):
        reproduce.reproduce("smoke", notebooks_dir=notebooks, output_dir=tmp_path / "out",
                            times_path=tmp_path / "reproduce.json")
    assert not (notebooks / "log.txt").exists()          # 02 never ran
    assert json.loads((tmp_path / "reproduce.json").read_text())["notebooks"] == {}      # nothing finished
    assert "failed" in capsys.readouterr().err


def test_command_line_rejects_unknown_preset():
    result = subprocess.run([sys.executable, "-m", "primps_core", "reproduce", "--preset", "huge"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "invalid choice: 'huge'" in result.stderr


def test_an_empty_only_list_is_an_error_not_every_notebook(capsys):
    from primps_core.__main__ import main
    for only in ("", ",", " , "):
        assert main(["reproduce", "--preset", "smoke", "--only", only]) == 1
        assert "names no notebook" in capsys.readouterr().err



def test_an_interrupted_reproduction_continues_where_it_stopped(notebooks, tmp_path, monkeypatch):
    # Notebook 01 computes a cached stage; notebook 02 is interrupted the first time. Rerun, 01's
    # stage is loaded, not computed again, and 02 runs to its end.
    monkeypatch.setenv("TOY_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("TOY_LOG", str(tmp_path / "computed.txt"))
    write_notebook(notebooks / "01_first.ipynb", """import dataclasses, os
from primps_core.study.pipeline import Context, stage

@dataclasses.dataclass(frozen=True)
class Toy:
    n: int

@stage("toy_double", version=1)
def double(config, out_dir, context):
    open(os.environ["TOY_LOG"], "a").write("computed\\n")
    return 2 * config.n

assert double(Toy(21), preset=preset, context=Context(runs_dir=os.environ["TOY_RUNS"])).value == 42""")
    interrupt = tmp_path / "interrupt-once"
    interrupt.touch()
    write_notebook(notebooks / "02_second.ipynb", f"""import os
if os.path.exists({str(interrupt)!r}):
    os.remove({str(interrupt)!r})
    raise KeyboardInterrupt
open("log.txt", "a").write("second done\\n")""")
    options = dict(notebooks_dir=notebooks, output_dir=tmp_path / "out", times_path=tmp_path / "reproduce.json")
    with pytest.raises(reproduce.NotebookFailed, match="02_second"):
        reproduce.reproduce("smoke", **options)
    runs = reproduce.reproduce("smoke", **options)
    assert [(r.name, r.status) for r in runs] == [("01_first", "ok"), ("02_second", "ok")]
    assert (tmp_path / "computed.txt").read_text() == "computed\n"         # computed once, loaded on the rerun
    assert (notebooks / "log.txt").read_text() == "second done\n"


def test_a_resumed_run_never_replaces_a_from_empty_time(tmp_path):
    times, machine = tmp_path / "reproduce.json", {"cpu": "x"}
    first = [reproduce.NotebookRun("01_a", "ok", 100.0)]
    reproduce.record_times(times, first, "smoke", machine, from_empty=True)
    reproduce.record_times(times, [reproduce.NotebookRun("01_a", "ok", 3.0), reproduce.NotebookRun("02_b", "ok", 5.0)],
                           "smoke", machine, from_empty=False)
    entries = json.loads(times.read_text())["notebooks"]
    assert (entries["01_a"]["seconds"], entries["01_a"]["from_empty"]) == (100.0, True)
    assert (entries["02_b"]["seconds"], entries["02_b"]["from_empty"]) == (5.0, False)   # no earlier time: kept
    reproduce.record_times(times, [reproduce.NotebookRun("02_b", "ok", 60.0)], "smoke", machine, from_empty=True)
    entry = json.loads(times.read_text())["notebooks"]["02_b"]
    assert entry.pop("date").endswith(" UTC") and entry == {"seconds": 60.0, "from_empty": True, "cpu": "x"}


def test_a_resumed_run_records_the_code_of_the_figures_it_rewrote(tmp_path):
    times, machine = tmp_path / "reproduce.json", {"cpu": "x"}
    reproduce.record_times(times, [reproduce.NotebookRun("01_a", "ok", 100.0, {"f.py": "old"}, "c1")], "smoke",
                           machine, from_empty=True)
    reproduce.record_times(times, [reproduce.NotebookRun("01_a", "ok", 3.0, {"f.py": "new"}, "c2")], "smoke",
                           machine, from_empty=False)
    entry = json.loads(times.read_text())["notebooks"]["01_a"]
    assert (entry["seconds"], entry["from_empty"]) == (100.0, True)         # the from-empty time stays
    assert (entry["commit"], entry["code"]) == ("c2", {"f.py": "new"}) and entry["figures_date"].endswith(" UTC")


def test_a_run_starts_empty_only_without_cached_stages_or_features(tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce.paths, "RUNS_DIR", tmp_path / "runs")
    assert reproduce.starts_empty("smoke")
    (tmp_path / "runs" / "smoke" / "notebooks").mkdir(parents=True)
    assert reproduce.starts_empty("smoke")                    # executed notebooks are not stages
    stage = tmp_path / "runs" / "smoke" / "pretrain" / "abc"
    stage.mkdir(parents=True)
    (stage / "stage.json").write_text("{}")
    assert not reproduce.starts_empty("smoke") and reproduce.starts_empty("cpu")
    (tmp_path / "runs" / "cache" / "features").mkdir(parents=True)
    (tmp_path / "runs" / "cache" / "features" / "f.npy").write_text("")
    assert not reproduce.starts_empty("cpu")


def test_each_finished_notebook_records_the_code_its_kernel_loaded(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_loads.ipynb", "from primps_core import presets\nprint(presets.get_preset(preset).name)")
    runs = reproduce.reproduce("smoke", notebooks_dir=folder, output_dir=tmp_path / "out",
                               times_path=tmp_path / "reproduce.json")
    assert runs[0].status == "ok" and not (tmp_path / "out" / ".01_loads.ipynb").exists()
    entry = json.loads((tmp_path / "reproduce.json").read_text())["notebooks"]["01_loads"]
    root = reproduce.paths.ROOT
    assert {"primps_core/__init__.py", "primps_core/presets.py", "notebooks/01_loads.ipynb#code"} <= set(entry["code"])
    assert "primps_core/study/runs.py" not in entry["code"]                 # only what the kernel loaded
    assert entry["code"]["primps_core/presets.py"] == reproduce.file_digest(root / "primps_core" / "presets.py")
    assert entry["commit"] == reproduce.git_commit()


def git(root, *arguments):
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *arguments],
                   check=True, capture_output=True)


def test_a_notebook_is_current_until_a_file_it_loaded_changes(tmp_path):
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "a.py").write_text("x = 1\n")
    (root / "b.py").write_text("y = 1\n")
    write_notebook(root / "notebooks" / "01_n.ipynb", "import a")
    assert reproduce.currency({"seconds": 1.0}, root) == "not recorded"
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    entry = {"code": reproduce.code_map(root / "notebooks" / "01_n.ipynb", ["a.py"], root),
             "commit": reproduce.git_commit(root)}
    assert reproduce.currency(entry, root) == "current"
    (root / "b.py").write_text("y = 2\n")                                     # not loaded: still current
    write_notebook(root / "notebooks" / "01_n.ipynb", "import a")            # same code cells, new file
    assert reproduce.currency(entry, root) == "current"
    (root / "a.py").write_text("x = 2\n")
    assert reproduce.currency(entry, root) == "stale: a.py changed"          # not committed yet
    git(root, "commit", "-qam", "change a")
    changed_in = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
    assert reproduce.currency(entry, root) == f"stale since {changed_in}"
    write_notebook(root / "notebooks" / "01_n.ipynb", "import a\nprint(a.x)")
    (root / "a.py").write_text("x = 1\n")
    assert reproduce.changed_files(entry["code"], root) == ["notebooks/01_n.ipynb"]      # its code cells changed
