"""Legal bases as data: the index of the law texts (rules/laws.yaml), citations checked against it, one rendering.

A citation names a law as the packs cite it (the law file's name without its date, e.g. 广告法, 明码标价和禁止价格欺诈规定)
and an article by its number as an integer (9 for 第九条); optionally a paragraph (款) and a clause (项), integers too.
Integers, not Chinese numerals, so that a typo cannot hide in 第十九条 vs 第九十条: the rendering spells them out.
    legal_basis:
      - {law: 广告法, article: 9, clause: 3}
      - {law: 食品安全法, article: 73}
renders as 《广告法》第九条第（三）项；《食品安全法》第七十三条 (render_citations), the text stored on hits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

LAWS_FILE = "laws.yaml"
CITATION_KEYS = {"law", "article", "paragraph", "clause"}
_DIGITS = "零一二三四五六七八九"
_NUMERAL = "[零〇一二三四五六七八九十百]+"
_ARTICLE_LINE = re.compile(rf"^第({_NUMERAL})条[ \u3000]")
_CLAUSE_LINE = re.compile(rf"^（({_NUMERAL})）")
_FILE_NAME = re.compile(r"^(?P<name>.+)\((?P<date>\d{4}-\d{2}-\d{2})\)\.md$")


def cn_to_int(numeral: str) -> int:
    """一百零五 -> 105, 十九 -> 19, 七十三 -> 73 (the numerals of article and clause numbers, below 1000)."""
    total, digit = 0, 0
    for ch in numeral.replace("〇", "零"):
        if ch in "十百":
            total += (digit or 1) * (10 if ch == "十" else 100)
            digit = 0
        else:
            digit = _DIGITS.index(ch)
    return total + digit


def int_to_cn(number: int) -> str:
    """105 -> 一百零五, 19 -> 十九, 10 -> 十, 110 -> 一百一十 (as laws number their articles)."""
    if not 0 < number < 1000:
        raise ValueError(f"article and clause numbers run from 1 to 999, not {number}")
    hundreds, tens, ones = number // 100, number // 10 % 10, number % 10
    out = f"{_DIGITS[hundreds]}百" if hundreds else ""
    if tens:
        out += ("" if tens == 1 and not hundreds else _DIGITS[tens]) + "十"
    elif hundreds and ones:
        out += "零"
    return out + (_DIGITS[ones] if ones else "")


# -- the index of the law texts ---------------------------------------------------------------------
def _read_law(path: Path) -> dict[str, Any]:
    """One law file: its title, date and articles; paragraph and clause counts where an article has more than one."""
    named = _FILE_NAME.match(path.name)
    if not named:
        raise ValueError(f"{path}: a law file is named NAME(YYYY-MM-DD).md")
    lines = path.read_text(encoding="utf-8").splitlines()
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), None)
    if not title:
        raise ValueError(f"{path}: no '# title' line")
    articles: list[int] = []
    paragraphs: dict[int, int] = {}
    clauses: dict[int, int] = {}
    current: int | None = None
    run = 0  # the last clause number in the current paragraph
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        article = _ARTICLE_LINE.match(line)
        if article:
            current = cn_to_int(article.group(1))
            if current != len(articles) + 1:
                raise ValueError(f"{path}:{number}: 第{article.group(1)}条 follows article {len(articles)}")
            articles.append(current)
            paragraphs[current], run = 1, 0
        elif line.startswith("#"):
            current = None  # a chapter or section heading ends the article before it
        elif current is not None and line:
            clause = _CLAUSE_LINE.match(line)
            if not clause:
                paragraphs[current], run = paragraphs[current] + 1, 0
                continue
            # Numbering runs 1..k within a paragraph and may start again in the next one: the count kept is the
            # highest number, so a citation beyond it is wrong whatever paragraph it means.
            value = cn_to_int(clause.group(1))
            if value != run + 1:
                raise ValueError(f"{path}:{number}: clause （{clause.group(1)}） follows clause {run} of its paragraph")
            run = value
            clauses[current] = max(clauses.get(current, 0), value)
    if not articles:
        raise ValueError(f"{path}: no articles (lines starting 第…条)")
    return {
        "title": title, "date": named["date"], "file": path.name, "articles": articles,
        "paragraphs": {k: v for k, v in paragraphs.items() if v > 1}, "clauses": clauses,
    }


def build_index(regulations_dir: str | Path) -> dict[str, Any]:
    """{"laws": {name: {title, date, file, articles, paragraphs, clauses}}} from every NAME(DATE).md in the folder."""
    directory = Path(regulations_dir)
    paths = sorted(directory.glob("*.md"))
    if not paths:
        raise ValueError(f"{directory}: no law files (*.md)")
    laws = {}
    for path in paths:
        law = _read_law(path)
        name = path.name.split("(")[0]
        if name in laws:
            raise ValueError(f"{path}: a second file for {name} (also {laws[name]['file']})")
        laws[name] = law
    return {"laws": laws}


def dump_index(index: dict[str, Any]) -> str:
    """laws.yaml's text: one block per law, number lists on one line each (a reviewer reads the titles and dates)."""
    def flow(value: Any) -> str:
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML string (and keeps dates text)
        return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6).strip()

    out = ["# The law texts netwatch cites, indexed from ../shared/regulations/*.md. Generated: do not edit; run",
           "#   netwatch rules laws-index ../shared/regulations --out rules/laws.yaml",
           "# articles: the article numbers (第一条 = 1); paragraphs: article -> 款 count where above one;",
           "# clauses: article -> highest 项 number （一）（二）… (numbering may restart in a later paragraph).",
           "laws:"]
    for name, law in index["laws"].items():
        out.append(f"  {flow(name)}:")
        for key in ("title", "date", "file", "articles", "paragraphs", "clauses"):
            out.append(f"    {key}: {flow(law[key])}")
    return "\n".join(out) + "\n"


# -- citations --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Citation:
    law: str
    article: int
    paragraph: int | None = None
    clause: int | None = None

    def article_text(self) -> str:
        """第九条第（三）项 / 第十六条第二款 (without the law)."""
        out = f"第{int_to_cn(self.article)}条"
        if self.paragraph:
            out += f"第{int_to_cn(self.paragraph)}款"
        if self.clause:
            out += f"第（{int_to_cn(self.clause)}）项"
        return out


def render_citations(citations: tuple[Citation, ...] | list[Citation]) -> str:
    """The display text of a legal basis: 《广告法》第九条第（三）项；《食品安全法》第七十三条.

    Consecutive citations of one law share its name: 《明码标价和禁止价格欺诈规定》第二十条第（一）项、第十九条第（二）项."""
    groups: list[tuple[str, list[str]]] = []
    for citation in citations:
        if groups and groups[-1][0] == citation.law:
            groups[-1][1].append(citation.article_text())
        else:
            groups.append((citation.law, [citation.article_text()]))
    # A title that itself quotes a law (最高人民法院关于适用《反不正当竞争法》…) nests its marks as 〈〉.
    return "；".join(f"《{law.replace('《', '〈').replace('》', '〉')}》{'、'.join(parts)}" for law, parts in groups)


class LawIndex:
    """rules/laws.yaml, loaded: checks citations."""

    def __init__(self, data: dict[str, Any], path: Path):
        self.path = path
        self.laws = data["laws"]

    def problem(self, citation: Citation) -> str | None:
        """Why the citation does not exist in the law texts, or None."""
        law = self.laws.get(citation.law)
        if law is None:
            return f"unknown law {citation.law!r} (laws: {', '.join(self.laws)}; see {self.path})"
        articles = law["articles"]
        if citation.article not in articles:
            return f"{citation.law} has no article {citation.article} (第{int_to_cn(citation.article)}条; it has 1–{articles[-1]})"
        paragraphs = law["paragraphs"].get(citation.article, 1)
        if citation.paragraph and citation.paragraph > paragraphs:
            return f"{citation.law} 第{int_to_cn(citation.article)}条 has {paragraphs} paragraph(s), not {citation.paragraph}"
        clauses = law["clauses"].get(citation.article, 0)
        if citation.clause and citation.clause > clauses:
            return f"{citation.law} 第{int_to_cn(citation.article)}条 has {clauses} clause(s), not （{int_to_cn(citation.clause)}）"
        return None


def find_laws_file(start: Path) -> Path:
    """The laws.yaml beside a rules folder (or its parent, for rules/checks and rules/signals), else the shipped one."""
    from netwatch import config

    for folder in (start, start.parent, config.rules_dir(), config.shipped_rules_dir()):
        if (folder / LAWS_FILE).is_file():
            return folder / LAWS_FILE
    raise FileNotFoundError(f"no {LAWS_FILE} near {start} nor in the installed rules")


def load_laws(path: Path) -> LawIndex:
    path = Path(path)
    return _load_laws(path.resolve(), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_laws(path: Path, _mtime: int) -> LawIndex:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("laws"), dict):
        raise ValueError(f"{path}: expected a mapping with laws:")
    for name, law in data["laws"].items():
        if not isinstance(law, dict) or not {"articles", "paragraphs", "clauses"} <= set(law):
            raise ValueError(f"{path}: law {name!r} needs articles, paragraphs and clauses")
    return LawIndex(data, path)


def parse_citation(node: Any) -> Citation:
    """One {law, article, paragraph?, clause?} mapping -> Citation; ValueError says what is wrong."""
    if not isinstance(node, dict):
        raise ValueError(f"a citation is a mapping like {{law: 广告法, article: 9, clause: 3}}, not {node!r}")
    unknown = sorted(k for k in node if not k.startswith("__") and k not in CITATION_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in a citation; allowed: {sorted(CITATION_KEYS)}")
    law = node.get("law")
    if not isinstance(law, str) or not law.strip():
        raise ValueError("a citation needs law: (the law's name as in laws.yaml, e.g. 广告法)")
    numbers = {}
    for key in ("article", "paragraph", "clause"):
        value = node.get(key)
        if value is None and key != "article":
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{key} must be a positive integer (第九条 is article: 9), not {value!r}")
        numbers[key] = value
    return Citation(law.strip(), **numbers)
