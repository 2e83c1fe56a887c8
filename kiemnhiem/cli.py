"""The ``kiemnhiem`` command line: a thin layer over the Python API.

Help is in Vietnamese and English together. Exit codes (first that applies): 2 bad usage,
invalid dataset or unwritable ``--out``; 3 the lock is held; 130 SIGINT, 143 SIGTERM; 1 a
report failed; 0 otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from . import __version__
from .exceptions import DatasetError, KiemNhiemError, LockHeldError, ParameterError, RunError
from .labels import label

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


def _help(key: str) -> str:
    return f"{label(key, 'vi')} / {label(key, 'en')}"


#: ``kiemnhiem run`` options that set the documents' issuer, number and signature (field of
#: :class:`~kiemnhiem.data.issuing.DocumentSettings` = the option without its dashes).
_DOC_FLAGS = {
    "--superior-body": "cli_superior_body",
    "--issuing-body": "cli_issuing_body",
    "--doc-number": "cli_doc_number",
    "--place": "cli_place",
    "--date": "cli_date",
    "--signer-authority": "cli_signer_authority",
    "--signer-title": "cli_signer_title",
    "--signer-name": "cli_signer_name",
}
_DOC_FIELDS = {
    "superior_body": "superior_body",
    "issuing_body": "issuing_body",
    "doc_number": "number",
    "place": "place",
    "date": "issued",
    "signer_authority": "signer_authority",
    "signer_title": "signer_title",
    "signer_name": "signer_name",
}


def _document_options(args) -> dict:
    """The document settings given on the command line (checked by RunSettings)."""
    values = {field: getattr(args, dest) for dest, field in _DOC_FIELDS.items()}
    values["kind"] = args.issuer
    values["recipients"] = args.recipient
    return {k: v for k, v in values.items() if v is not None}


#: argparse's own error messages (Python 3.10-3.13 wording) and the catalog key that says them
#: in both languages; the named groups fill the label's fields. argparse offers no hook
#: other than gettext's global domain, which would translate every program in the process.
_ARGPARSE_ERRORS = (
    (re.compile(r"unrecognized arguments: (?P<args>.+)", re.S), "cli_err_unrecognized"),
    (re.compile(r"the following arguments are required: (?P<args>.+)", re.S),
     "cli_err_required"),
    (re.compile(r"argument (?P<arg>.+?): invalid choice: (?P<value>.+?) "
                r"\(choose from (?P<choices>.+)\)", re.S), "cli_err_choice"),
    (re.compile(r"argument (?P<arg>.+?): invalid (?P<kind>\w+) value: (?P<value>.+)", re.S),
     "cli_err_value"),
    (re.compile(r"argument (?P<arg>.+?): expected one argument", re.S), "cli_err_one"),
    (re.compile(r"argument (?P<arg>.+?): expected (at least one|at most one|\d+) "
                r"arguments?", re.S), "cli_err_count"),
    (re.compile(r"argument (?P<arg>.+?): not allowed with argument (?P<other>.+)", re.S),
     "cli_err_conflict"),
    (re.compile(r"ambiguous option: (?P<arg>\S+) could match (?P<matches>.+)", re.S),
     "cli_err_ambiguous"),
)
#: argparse's names of the types this command line converts with.
_KINDS = {"int": "cli_kind_int", "float": "cli_kind_float"}


def bilingual_error(message: str) -> tuple[str, str]:
    """argparse's English error ``message`` as ``(vi, en)``; one not known keeps its English
    wording after a Vietnamese lead-in, so nothing argparse says is ever lost."""
    for pattern, key in _ARGPARSE_ERRORS:
        m = pattern.fullmatch(message.strip())
        if m:
            fields = m.groupdict()
            kind = fields.pop("kind", None)
            vi = label(key, "vi", **fields, kind=label(_KINDS[kind], "vi") if kind in _KINDS
                       else kind or "")
            return vi, message
    return f"{label('cli_err_other', 'vi')}: {message}", message


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors in Vietnamese and English (exit code 2, as argparse)."""

    def error(self, message: str):
        vi, en = bilingual_error(message)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: {label('cli_error', 'vi')}: {vi}\n"
                              f"{self.prog}: {label('cli_error', 'en')}: {en}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kiemnhiem",
        description=_help("cli_description"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kiemnhiem {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    run = sub.add_parser("run", help=_help("cli_run"), description=_help("cli_run"))
    run.add_argument("dataset", nargs="?", default=None, help=_help("cli_dataset"))
    run.add_argument("--out", default="reports", help=_help("cli_out"))
    run.add_argument("--lang", choices=("vi", "en"), default="vi", help=_help("cli_lang"))
    run.add_argument("--formats", default="html", help=_help("cli_formats"))
    run.add_argument("--workers", type=int, default=None, help=_help("cli_workers"))
    # Repeatable: "--only A B" and "--only A --only B" both ask for A and B.
    run.add_argument(
        "--only",
        nargs="+",
        action="extend",
        default=None,
        metavar="UNIT:MODEL",
        help=_help("cli_only"),
    )
    run.add_argument("--force", action="store_true", help=_help("cli_force"))
    run.add_argument("--scheduler", default=None, help=_help("cli_scheduler"))
    run.add_argument("--quiet", action="store_true", help=_help("cli_quiet"))
    # Who issues the Word/PDF documents; each overrides the dataset's own setting.
    docs = run.add_argument_group(_help("cli_doc_group"))
    docs.add_argument("--issuer", metavar="party|state", default=None, help=_help("cli_issuer"))
    for flag, key in _DOC_FLAGS.items():
        docs.add_argument(flag, default=None, help=_help(key))
    docs.add_argument(
        "--recipient",
        action="append",
        default=None,
        metavar="TEXT",
        help=_help("cli_recipient"),
    )

    validate = sub.add_parser(
        "validate", help=_help("cli_validate"), description=_help("cli_validate")
    )
    validate.add_argument("dataset", help=_help("cli_dataset"))
    validate.add_argument("--include-hidden", action="store_true", help=_help("cli_include_hidden"))

    demo = sub.add_parser("demo", help=_help("cli_demo"), description=_help("cli_demo"))
    demo.add_argument("outdir", help=_help("cli_outdir"))
    demo.add_argument("--seed", type=int, default=2018, help=_help("cli_seed"))
    demo.add_argument("--units", type=int, default=None, help=_help("cli_units"))

    pilots = sub.add_parser("pilots", help=_help("cli_pilots"), description=_help("cli_pilots"))
    pilots.add_argument("dataset", nargs="?", default=None, help=_help("cli_dataset"))

    template = sub.add_parser(
        "template", help=_help("cli_template"), description=_help("cli_template")
    )
    template.add_argument("out", metavar="OUT.xlsx", help=_help("cli_template_out"))
    template.add_argument("--province", default=None, help=_help("cli_province"))
    template.add_argument("--years", default="2014-2025", help=_help("cli_years"))

    import_ = sub.add_parser("import", help=_help("cli_import"), description=_help("cli_import"))
    import_.add_argument("workbook", metavar="WORKBOOK.xlsx", help=_help("cli_workbook"))
    import_.add_argument("outdir", metavar="OUTDIR", help=_help("cli_import_outdir"))
    import_.add_argument("--include-hidden", action="store_true", help=_help("cli_include_hidden"))
    import_.add_argument("--force", action="store_true", help=_help("cli_import_force"))

    merge = sub.add_parser("merge", help=_help("cli_merge"), description=_help("cli_merge"))
    merge.add_argument("out", metavar="OUTDIR", help=_help("cli_merge_out"))
    merge.add_argument("inputs", nargs="+", metavar="IN", help=_help("cli_merge_inputs"))
    merge.add_argument("--prefer", metavar="FILE", default=None, help=_help("cli_merge_prefer"))
    merge.add_argument("--force", action="store_true", help=_help("cli_import_force"))
    merge.add_argument("--include-hidden", action="store_true", help=_help("cli_include_hidden"))

    export = sub.add_parser(
        "export", help=_help("export_cli_help"), description=_help("export_cli_paths")
    )
    export.add_argument("dataset", nargs="?", default=None, help=_help("cli_dataset"))
    export.add_argument("out", metavar="OUT.xlsx", help=_help("export_cli_out"))
    export.add_argument("--lang", choices=("vi", "en"), default="vi", help=_help("cli_lang"))
    export.add_argument("--force", action="store_true", help=_help("export_cli_force"))
    for p in (parser, *sub.choices.values()):
        _bilingual(p)
    return parser


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        prefix = f"{label('cli_usage', 'vi')} / {label('cli_usage', 'en')}: "
        return super().add_usage(usage, actions, groups, prefix)


def _bilingual(parser: argparse.ArgumentParser) -> None:
    """argparse's own words (usage, section titles, -h) in Vietnamese and English too."""
    parser.formatter_class = _Formatter
    parser._positionals.title = _help("cli_arguments")
    parser._optionals.title = _help("cli_options")
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = _help("cli_help")
        elif isinstance(action, argparse._VersionAction):
            action.help = _help("cli_version")


def _print_error(exc: KiemNhiemError) -> None:
    print(exc.render(), file=sys.stderr)


def _print_notes(notes, file=None) -> None:
    """What was converted or removed while reading (legacy text, invisible characters)."""
    if not notes:
        return
    print(f"{label('cli_notes', 'vi')}:", file=file)
    print(f"{label('cli_notes', 'en')}:", file=file)
    for note in notes:
        vi, en = note.render().split("\n", 1)
        print(f"  - {vi}\n    {en}", file=file)


def _cmd_validate(args) -> int:
    from .data.dataset import load_dataset

    try:
        ds = load_dataset(args.dataset, include_hidden=args.include_hidden)
    except DatasetError as exc:
        # The problems first, then what was converted: a refused file's legacy text is
        # converted again on the next reading, and the analyst should know it.
        _print_error(exc)
        _print_notes(exc.notes, file=sys.stderr)
        return EXIT_USAGE
    print(f"{label('cli_valid', 'vi')}: {Path(args.dataset)}")
    print(f"{label('cli_valid', 'en')}: {Path(args.dataset)}")
    _print_notes(ds.notes)
    return EXIT_OK


def _cmd_pilots(args) -> int:
    from .data.dataset import load_dataset
    from .labels import format_day

    ds = load_dataset(args.dataset)
    header = ("unit_code", "unit_name", "model", "start", "start_precision", "start_status")
    print("\t".join(header))
    for rec in ds.pilots.itertuples(index=False):
        start = format_day(rec.start.date(), "vi", rec.start_precision)
        print(
            "\t".join(
                [
                    rec.unit_code,
                    rec.unit_name,
                    rec.model,
                    start,
                    rec.start_precision,
                    rec.start_status,
                ]
            )
        )
    return EXIT_OK


def _cmd_demo(args) -> int:
    from .data.demo import write_demo

    if args.units is not None and args.units < 1:
        raise ParameterError("--units phải là số nguyên dương.", "--units must be positive.")
    path = write_demo(Path(args.outdir), seed=args.seed, units=args.units)
    print(path)
    return EXIT_OK


def _cmd_run(args) -> int:
    import logging

    from .run.publish import RunInterrupted
    from .run.runner import run_reports

    # Progress and outcomes go to stderr (INFO), only problems with --quiet (for cron).
    logger = logging.getLogger("kiemnhiem")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        result = run_reports(
            dataset=args.dataset,
            out=Path(args.out),
            lang=args.lang,
            workers=args.workers,
            only=args.only,
            force=args.force,
            quiet=args.quiet,
            formats=args.formats,
            scheduler=args.scheduler,
            document=_document_options(args),
        )
    except RunInterrupted as exc:
        logger.warning(
            f"{label('run_interrupted', 'vi', signal=exc.signum)} / "
            f"{label('run_interrupted', 'en', signal=exc.signum)}"
        )
        return exc.exit_code
    finally:
        # main() may be called again in the same process (tests, notebooks).
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    return result.exit_code


def _write(out: Path, make, done_key: str) -> int:
    """Run ``make()`` (which writes ``out``), turning OS errors into a bilingual usage error,
    and print where the result went."""
    try:
        path = make()
    except OSError as exc:
        detail = exc.strerror or exc
        raise ParameterError(
            label("wb_err_cannot_write", "vi", path=out, detail=detail),
            label("wb_err_cannot_write", "en", path=out, detail=detail),
        ) from None
    print(f"{label(done_key, 'vi')} / {label(done_key, 'en')}: {path}")
    return EXIT_OK


def _cmd_template(args) -> int:
    from .data.template import parse_years, write_template

    out = Path(args.out)
    years = parse_years(args.years)
    return _write(
        out,
        lambda: write_template(out, province=args.province, years=years),
        "cli_template_written",
    )


def _cmd_import(args) -> int:
    from .data.workbook import import_workbook

    out = Path(args.outdir)
    return _write(
        out,
        lambda: import_workbook(
            args.workbook, out, include_hidden=args.include_hidden, force=args.force
        ),
        "cli_imported",
    )


def _cmd_merge(args) -> int:
    from .data.merge import merge_datasets

    out = Path(args.out)
    result = None

    def make():
        nonlocal result
        result = merge_datasets(
            args.inputs,
            out,
            prefer=args.prefer,
            force=args.force,
            include_hidden=args.include_hidden,
        )
        return result.path

    code = _write(out, make, "cli_merged")
    counts = {
        "inputs": result.inputs,
        "values": result.values,
        "duplicates": result.duplicates,
        "resolved": result.resolved,
        "pilots": result.pilots,
    }
    print(label("cli_merge_summary", "vi", **counts))
    print(label("cli_merge_summary", "en", **counts))
    return code


def _cmd_export(args) -> int:
    from .data.dataset import load_dataset
    from .report.export import export_results

    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        raise ParameterError(
            label("export_err_suffix", "vi", path=out), label("export_err_suffix", "en", path=out)
        )
    dataset = load_dataset(args.dataset)
    return _write(
        out,
        lambda: export_results(dataset, out, lang=args.lang, overwrite=args.force),
        "export_cli_written",
    )


_COMMANDS = {
    "run": _cmd_run,
    "validate": _cmd_validate,
    "demo": _cmd_demo,
    "pilots": _cmd_pilots,
    "template": _cmd_template,
    "import": _cmd_import,
    "merge": _cmd_merge,
    "export": _cmd_export,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (``sys.exit(main())``)."""
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except LockHeldError as exc:
        _print_error(exc)
        return EXIT_LOCKED
    except (DatasetError, ParameterError, RunError) as exc:
        _print_error(exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
