"""The documents a cloner reads (README.md and docs/*.md) are whole inside the repository: every
relative link reaches a file of the repository, and its #anchor a heading of that file; no text
sends the reader to a folder beside the checkout (``../shared``); and the counts of notebooks and
the statuses of runs are generated, never typed into prose. Reads only the documents, so it runs
whatever state the package is in."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = re.compile(r"<!-- generated: (?P<name>[^>]+?) -->\n.*?<!-- end: (?P=name) -->", re.S)
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
OUTSIDE = re.compile(r"\.\./shared|/work/")
COUNT_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
NOTEBOOK_COUNT = re.compile(rf"\b(?:{COUNT_WORDS}|\d+)\s+notebooks\b", re.I)
STATUS = re.compile(r"still computing|still to come|not been run yet|not run yet|not yet (?:run|finished|computed)"
                    r"|predates|lost with the machine|\bpending\b", re.I)


def documents(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation other than - and _ dropped, spaces to -."""
    heading = re.sub(r"`([^`]*)`", r"\1", heading.strip())
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def prose(text: str) -> str:
    """``text`` without its code blocks."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def anchors(path: Path) -> set[str]:
    """The anchors of every heading of a markdown file, the repeated ones numbered as GitHub does."""
    found, seen = set(), {}
    for heading in re.findall(r"^#{1,6} (.+?)\s*#*$", prose(path.read_text()), flags=re.M):
        base = anchor(heading)
        found.add(base if base not in seen else f"{base}-{seen[base]}")
        seen[base] = seen.get(base, 0) + 1
    return found


def links(text: str) -> list[str]:
    """Every link target of ``text`` outside code blocks: inline links and images, reference definitions."""
    return [inline or reference for inline, reference in LINK.findall(prose(text))]


def problems(root: Path = ROOT) -> list[str]:
    """What a reader of a fresh clone could not follow: each as "DOCUMENT: what"."""
    root = root.resolve()
    found = []
    for document in documents(root):
        name, text = document.relative_to(root).as_posix(), document.read_text()
        found += [f"{name}: mentions {match!r}, outside the repository" for match in OUTSIDE.findall(text)]
        for target in links(text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target, flags=re.I):       # https:, mailto: ...
                continue
            file, _, fragment = target.partition("#")
            path = (root / file.lstrip("/") if file.startswith("/") else document.parent / file).resolve() if file \
                else document
            if not path.is_relative_to(root):
                found.append(f"{name}: {target} points outside the repository")
            elif not path.exists():
                found.append(f"{name}: {target} does not exist")
            elif fragment and (path.suffix != ".md" or fragment not in anchors(path)):
                found.append(f"{name}: {target} names no heading of {path.relative_to(root).as_posix()}")
        hand_written = GENERATED.sub("", text)
        found += [f"{name}: a count of notebooks typed into prose: {match!r}"
                  for match in NOTEBOOK_COUNT.findall(hand_written)]
        found += [f"{name}: a status typed into prose: {match!r}" for match in STATUS.findall(hand_written)]
    return found


def test_the_documents_are_whole_inside_the_repository():
    assert problems() == []


def test_the_check_finds_what_a_cloner_could_not_follow(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(b"")
    (tmp_path / "README.md").write_text(
        "# Title\n\n## Results at a glance\n\n"
        "[design](../shared/DESIGN.md) and [ok](docs/page.md#a-section--with-punctuation) "
        "[bad anchor](docs/page.md#nowhere) [missing](docs/gone.md) ![img](figures/a.png) "
        "[web](https://example.org/x) [self](#results-at-a-glance)\n\n"
        "```bash\n[not a link](nowhere.md)\n```\n"
        "`make reproduce` runs all seven notebooks; claim 3 is still computing.\n"
        "<!-- generated: timings -->\n8 notebooks, not yet run\n<!-- end: timings -->\n")
    (tmp_path / "docs" / "page.md").write_text(
        "# Page\n\n## A section — with punctuation!\n\n[back](../README.md#title) [up](../../outside.md)\n"
        "Run `../shared/tools/ci-fresh`.\n")
    assert sorted(problems(tmp_path)) == sorted([
        "README.md: mentions '../shared', outside the repository",
        "README.md: ../shared/DESIGN.md points outside the repository",
        "README.md: docs/page.md#nowhere names no heading of docs/page.md",
        "README.md: docs/gone.md does not exist",
        "README.md: a count of notebooks typed into prose: 'seven notebooks'",
        "README.md: a status typed into prose: 'still computing'",
        "docs/page.md: ../../outside.md points outside the repository",
        "docs/page.md: mentions '../shared', outside the repository"])


def test_the_anchor_rule_on_known_headings():
    assert anchor("Notebook 01 — the power spectrum") == "notebook-01--the-power-spectrum"
    assert anchor("Training: the recipe, the command line") == "training-the-recipe-the-command-line"
    assert anchor("The `cpu` preset, snake_case kept") == "the-cpu-preset-snake_case-kept"


def test_the_front_page_opens_with_what_the_study_is_its_two_commands_and_the_answer():
    text = (ROOT / "README.md").read_text()
    intro, _, rest = text.partition("\n## ")
    assert intro.startswith("# ") and len([line for line in intro.splitlines()[1:] if line.strip()]) <= 4
    sections = re.split(r"^## ", "## " + rest, flags=re.M)[1:]
    commands, claims = sections[0], sections[1]
    assert commands.startswith("Two commands") and "make reproduce" in commands and "make test" in commands
    assert claims.startswith("The claims") and "<!-- generated: claims -->" in claims
