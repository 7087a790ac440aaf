"""The README: its Python code runs, its prose stays short, and its table of studies is the one
``results/answers.json`` renders (acdc_core.lab.answers)."""
import json
import re
from pathlib import Path

import pytest

from acdc_core.lab import answers
from acdc_core.lab.answers import BEGIN, END, rewrite, studies_table, table_in

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RECORDED = ROOT / "results" / "answers.json"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
MOST_PROSE_WORDS = 800


def code_blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def prose_words(text: str) -> int:
    """Words outside code blocks, tables, images and the marker comments."""
    prose = FENCE.sub("", text)
    lines = [line for line in prose.splitlines()
             if not line.startswith(("|", "![", "<!--"))]
    return len(" ".join(lines).split())


def test_readme_python_blocks_run():
    blocks = code_blocks(README.read_text(encoding="utf-8"), "python")
    assert len(blocks) >= 2, "the quick start shows the layers and the DCT"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_prose_fits_two_screens():
    assert prose_words(README.read_text(encoding="utf-8")) <= MOST_PROSE_WORDS


def test_readme_links_to_pages_that_exist():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    assert any(link.startswith("docs/") and link.endswith(".md") for link in local)
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"


def test_docs_pages_open_with_one_title():
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        titles = re.findall(r"^# ", text, re.M)
        assert text.startswith("# ") and len(titles) == 1, f"{page.name}: one H1, first"
        for link in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", text):
            assert (page.parent / link).is_file(), f"{page.name} links to missing {link}"


@pytest.mark.skipif(not RECORDED.is_file(),
                    reason="results/answers.json is not recorded yet: `make refresh` records it")
def test_readme_table_is_the_rendering_of_the_recorded_answers():
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert table_in(README) == studies_table(recorded), (
        "the README's table of studies is stale: run `python -m acdc_core.lab.answers README.md`")


def write_answers(path: Path) -> Path:
    path.write_text(json.dumps({
        "speed_study": {"question": "Is it fast?", "findings": ["Yes, above N = 600.", "More."],
                        "provenance": {}},
        "mnist": {"question": "Does it learn\nMNIST?", "findings": ["97.5% | 98.6% accuracy."],
                  "provenance": {}},
    }), encoding="utf-8")
    return path


EXPECTED = """| Study | Question | Recorded answer |
| --- | --- | --- |
| [mnist](notebooks/mnist.ipynb) | Does it learn MNIST? | 97.5% \\| 98.6% accuracy. |
| [speed_study](notebooks/speed_study.ipynb) | Is it fast? | Yes, above N = 600. |"""


def test_studies_table_has_a_row_per_notebook_with_its_first_finding(tmp_path):
    recorded = json.loads(write_answers(tmp_path / "answers.json").read_text())
    assert studies_table(recorded) == EXPECTED


def test_rewrite_replaces_only_the_marked_block(tmp_path):
    source = write_answers(tmp_path / "answers.json")
    page = tmp_path / "README.md"
    before, after = "# Title\n\ntext before\n", "\ntext after\n"
    page.write_text(f"{before}{BEGIN}\nplaceholder\n{END}{after}", encoding="utf-8")
    assert rewrite(page, source) is True
    assert page.read_text(encoding="utf-8") == f"{before}{BEGIN}\n{EXPECTED}\n{END}{after}"
    assert rewrite(page, source) is False  # already up to date
    assert table_in(page) == EXPECTED


@pytest.mark.parametrize("text", ["no markers\n", f"{END}\nx\n{BEGIN}\n",
                                  f"{BEGIN}\na\n{END}\n{BEGIN}\nb\n{END}\n"])
def test_rewrite_refuses_a_file_without_one_marked_block(tmp_path, text):
    page = tmp_path / "README.md"
    page.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="marker lines"):
        rewrite(page, write_answers(tmp_path / "answers.json"))
    assert page.read_text(encoding="utf-8") == text


def test_rewrite_refuses_missing_or_incomplete_answers(tmp_path):
    page = tmp_path / "README.md"
    page.write_text(f"{BEGIN}\nx\n{END}\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="make refresh"):
        rewrite(page, tmp_path / "absent.json")
    incomplete = tmp_path / "answers.json"
    incomplete.write_text(json.dumps({"mnist": {"question": "Q?", "findings": []}}))
    with pytest.raises(ValueError, match="mnist has no findings"):
        rewrite(page, incomplete)
    assert page.read_text(encoding="utf-8") == f"{BEGIN}\nx\n{END}\n"


def test_command_line_rewrites_and_reports(tmp_path, capsys):
    page = tmp_path / "README.md"
    page.write_text(f"{BEGIN}\nx\n{END}\n", encoding="utf-8")
    source = write_answers(tmp_path / "answers.json")
    assert answers.main([str(page), "--answers", str(source)]) == 0
    assert "rewritten" in capsys.readouterr().out
    assert answers.main([str(tmp_path / "missing.md"), "--answers", str(source)]) == 2
    assert "missing.md" in capsys.readouterr().err
