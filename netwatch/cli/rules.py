"""`netwatch rules …`: list the packs, run their examples, check texts by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from netwatch import config
from netwatch.exits import EXIT_ERROR


def _check_definitions(ctx: click.Context) -> dict:
    """rules_dir/checks/*.yaml: the structured checks' wording, severities, legal bases and examples."""
    from netwatch.checks.definitions import load_check_definitions
    from netwatch.checks.text import PackError

    try:
        return load_check_definitions((ctx.obj or config.rules_dir()) / "checks")
    except PackError as exc:
        raise click.ClickException(str(exc)) from exc


def _engine(ctx: click.Context):
    from netwatch.checks.text import PackError, RuleEngine

    rules_dir = ctx.obj or config.rules_dir()
    try:
        return RuleEngine.from_dir(rules_dir)
    except PackError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
@click.option("--rules-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of rule packs (default: NETWATCH_RULES_DIR or ./rules).")
@click.pass_context
def rules(ctx: click.Context, rules_dir: Path | None) -> None:
    """Rule packs: list them, test them, check a text."""
    ctx.obj = rules_dir


@rules.command("list")
@click.pass_context
def list_packs(ctx: click.Context) -> None:
    """Packs with their category, legal basis, rule and example counts; then the structured checks' rules."""
    engine = _engine(ctx)
    definitions = _check_definitions(ctx)
    header = ("pack", "category", "rules", "keywords", "regexes", "hit ex.", "miss ex.", "legal basis")
    rows = []
    for pack in engine.packs:
        examples = [ex for _, ex in pack.all_examples()]
        rows.append((
            pack.id, pack.category, str(len(pack.rules)),
            str(sum(len(r.keywords) for r in pack.rules)), str(sum(len(r.regexes) for r in pack.rules)),
            str(sum(ex.expect_hit for ex in examples)), str(sum(not ex.expect_hit for ex in examples)),
            pack.legal_basis,
        ))
    _table(header, rows)
    click.echo(f"{len(rows)} packs, {sum(len(p.rules) for p in engine.packs)} rules, matcher: {engine.backend}")
    if not definitions:
        return
    click.echo("")
    header = ("check", "rule", "category", "severity", "hit ex.", "miss ex.", "title", "legal basis")
    rows = [(d.id, r.id, d.category, r.severity, str(sum(e.expect_hit for e in r.examples)),
             str(sum(not e.expect_hit for e in r.examples)), r.title, r.legal_basis)
            for d in definitions.values() for r in d.rules]
    _table(header, rows)
    click.echo(f"{len(definitions)} check definitions, {len(rows)} rules")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell + " " * (width - _width(cell)) for cell, width in zip(row, widths)).rstrip())


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@rules.command("test")
@click.argument("pack", required=False)
@click.pass_context
def test_packs(ctx: click.Context, pack: str | None) -> None:
    """Run every pack's and check definition's hit/miss examples (or one PACK's); exit 1 if any fails.

    Check definitions' examples (rules/checks/*.yaml) go through the real checks (licence, bait price, price history)."""
    from netwatch.checks.examples import run_check_examples

    engine = _engine(ctx)
    definitions = _check_definitions(ctx)
    run, failures = 0, []
    if pack is None or pack not in definitions:
        try:
            run, failures = engine.run_examples(pack)
        except KeyError as exc:
            raise click.ClickException(exc.args[0]) from exc
    checked, check_failures = run_check_examples(definitions, pack)
    run, failures = run + checked, [*failures, *check_failures]
    for failure in failures:
        click.echo(f"FAIL {failure}")
    click.echo(f"{run} examples, {len(failures)} failed")
    if failures:
        sys.exit(EXIT_ERROR)


@rules.command("laws-index")
@click.argument("regulations_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the index here (e.g. rules/laws.yaml) instead of printing it.")
def laws_index(regulations_dir: Path, out: Path | None) -> None:
    """Index the law texts in REGULATIONS_DIR (NAME(DATE).md files): titles, dates, article, paragraph, clause counts."""
    from netwatch.checks.legal import build_index, dump_index

    try:
        index = build_index(regulations_dir)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    text = dump_index(index)
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    articles = sum(len(law["articles"]) for law in index["laws"].values())
    click.echo(f"{out}: {len(index['laws'])} laws, {articles} articles")


@rules.command("check")
@click.argument("text", required=False)
@click.option("--file", "file_path", type=click.Path(dir_okay=False, allow_dash=True),
              help="Check each line of this file (UTF-8; - for stdin) as its own text.")
@click.option("--field", default="title", show_default=True,
              type=click.Choice(["title", "description", "specs", "shop_name", "shop_text", "review"]),
              help="Which field the text is (packs read only their fields).")
@click.option("--category", "categories", multiple=True,
              type=click.Choice(["food", "cosmetics", "health_food", "drug", "medical_device", "general"]),
              help="Product category of the item (repeatable); cure claims skip drugs and medical devices.")
@click.option("--json", "as_json", is_flag=True, help='Print {"hits": [...]} (with --file: one object per line).')
@click.option("--explain", is_flag=True, help="Also print the normalised text the rules read and, per hit, the "
              "original span, the text it was read as and the evasion steps it needed.")
@click.pass_context
def check(ctx: click.Context, text: str | None, file_path: str | None, field: str,
          categories: tuple[str, ...], as_json: bool, explain: bool) -> None:
    """Print the hits in TEXT, the match highlighted in its context."""
    if (text is None) == (file_path is None):
        raise click.UsageError("give either TEXT or --file F")
    engine = _engine(ctx)
    if text is not None:
        hits = engine.check(text, field, categories)
        if as_json:
            click.echo(json.dumps({"hits": [h.to_dict() for h in hits]}, ensure_ascii=False))
        else:
            _print_hits(hits, text if explain else None)
        return
    for number, line in _read_lines(file_path):
        hits = engine.check(line, field, categories)
        if as_json:
            click.echo(json.dumps({"line": number, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False))
        elif hits:
            click.echo(f"line {number}:")
            _print_hits(hits, line if explain else None, indent="  ")


def _read_lines(file_path: str):
    """(line number, text) for each line; a line that is not UTF-8 stops with its file and line."""
    stream = sys.stdin.buffer if file_path == "-" else None
    try:
        handle = stream or open(file_path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise click.ClickException(f"{file_path}: cannot read: {exc.strerror}") from exc
    try:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise click.ClickException(f"{file_path}:{number}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    finally:
        if stream is None:
            handle.close()


def _print_hits(hits, original: str | None, indent: str = "") -> None:
    if original is not None:
        from netwatch.checks.text.normalize import normalize

        click.echo(f"{indent}normalised: {normalize(original).text}")
    if not hits:
        click.echo(f"{indent}no hits")
    for hit in hits:
        before, _, after = _split_context(hit)
        shown = before + click.style(hit.match, fg="red", bold=True) + after
        click.echo(f"{indent}[{hit.category}/{hit.severity}] {hit.pack}.{hit.rule} {hit.field}[{hit.start}:{hit.end}] "
                   f"{shown.replace(chr(10), ' ')}  ({hit.legal_basis})")
        if original is not None:  # --explain: the words on the page, what the rule read, the steps it took
            steps = ", ".join(hit.steps) if hit.steps else "-"
            click.echo(f"{indent}    original {hit.start}:{hit.end} {hit.match!r}  read as {hit.normalised!r}  steps: {steps}")


def _split_context(hit) -> tuple[str, str, str]:
    """The context before the match, the match, the context after (the engine's context window)."""
    from netwatch.checks.text.engine import CONTEXT_CHARS

    index = min(hit.start, CONTEXT_CHARS)
    return hit.context[:index], hit.match, hit.context[index + len(hit.match):]


@rules.command("audit")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="TSV of text, rule (pack.rule), verdict (true/false), reason: the judged hits.")
@click.option("--column", default=None, help="FILE is a TSV: the column holding the text (default: text or title).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Report language.")
@click.pass_context
def audit_command(ctx: click.Context, file: Path, labels_path: Path | None, column: str | None, lang: str) -> None:
    """Run the packs over real texts in FILE (one per line, or a TSV) as listing titles and print, per rule,
    what they flag, the labelled precision and the unlabelled hits to review.

    Exits 1 when a labelled false positive is flagged again or a labelled true hit is lost."""
    from netwatch.checks.audit import MESSAGES, AuditInputError, audit, format_precision, read_labels, read_texts

    engine = _engine(ctx)
    try:
        texts = read_texts(file, column)
        labels = read_labels(labels_path) if labels_path else []
    except AuditInputError as exc:
        raise click.ClickException(str(exc)) from exc
    report = audit(engine, texts, labels)
    words = MESSAGES[lang]
    rows = [(r.rule, str(r.flagged), str(r.true_hits), str(len(r.false_hits)), str(len(r.unlabelled)),
             str(len(r.lost)), format_precision(r.precision, words["none"])) for r in report.rules.values()]
    _table(words["header"], rows)
    click.echo(words["summary"].format(
        texts=report.texts, flagged=report.flagged_texts, labelled=report.true_hits + report.false_hits,
        precision=format_precision(report.precision, words["none"]), fp=report.false_hits,
        unlabelled=report.unlabelled, lost=report.lost))
    for title, pairs in ((words["false"], [p for r in report.rules.values() for p in r.false_hits]),
                         (words["review"], [p for r in report.rules.values() for p in r.unlabelled])):
        if pairs:
            click.echo(f"\n{title}")
            for text, hit in pairs:  # label-file ready: text, rule, then the verdict and reason to fill in
                click.echo(f"{text}\t{hit.pack}.{hit.rule}\t\t{hit.match}")
    lost = [label for r in report.rules.values() for label in r.lost]
    if lost:
        click.echo(f"\n{words['lost']}")
        for label in lost:
            click.echo(f"{label.text}\t{label.rule}\t({labels_path}:{label.line})")
    if report.false_hits or report.lost:
        sys.exit(EXIT_ERROR)


@rules.command("evasion-cost")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--column", default=None, help="FILE is a TSV: the column holding the text (default: text or title).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Report language.")
@click.pass_context
def evasion_cost_command(ctx: click.Context, file: Path, column: str | None, lang: str) -> None:
    """What each evasion step would add on real texts in FILE if every rule opted into it: the extra
    flagged texts (all to be judged; on ordinary listings most are false)."""
    from netwatch.checks.audit import AuditInputError, evasion_cost, read_texts

    engine = _engine(ctx)
    try:
        texts = read_texts(file, column)
    except AuditInputError as exc:
        raise click.ClickException(str(exc)) from exc
    cost = evasion_cost(engine.packs, texts)
    header = ("步骤", "新增命中", "文本数") if lang == "zh" else ("step", "added hits", "texts")
    _table(header, [(step, str(len(pairs)), str(len(texts))) for step, pairs in cost.items()])
    for step, pairs in cost.items():
        for text, hit in pairs:
            click.echo(f"{step}\t{hit.pack}.{hit.rule}\t{hit.match}\t{hit.normalised}\t{text}")
