"""Sphinx directives that generate parts of mcalc's docs from the code and its outputs.

Nothing these directives show is typed by hand, so none of it can drift:

- ``config-reference``: one table per section of the config schema
  (``mcalc/config/_schema.py``): key, type, default, help.
- ``config-defaults``: where each task's embedded default differs from the schema.
- ``config-files``: the files of ``configs/``, each with the comment that opens it.
- ``mcalc-api MODULE``: every public name of ``MODULE`` (an autosummary table and its
  autodoc entries); the build warns about a top-level ``mcalc`` name no such directive
  documents. Use it inside ``{eval-rst}``: docstrings are reStructuredText.
- ``bench-table FILE``: a benchmark script's JSON (``docs/_data/bench/FILE``), rendered by
  ``scripts/bench_table.py``; the build warns about a stored JSON no page renders.
- ``l2-study``: the report that ``scripts/l2_study.py`` wrote into ``docs/_data/l2/``.
- ``optional-toctree``: a ``toctree`` whose missing entries are left out (pages to come).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.directives.other import TocTree
from sphinx.util import docname_join, logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent
BENCH = DOCS / "_data" / "bench"
L2 = DOCS / "_data" / "l2"
# The load average above which scripts/_bench.py warns that a run's times mean little.
BUSY_LOAD = 0.5


# ------------------------------------------------------------------ what the pages documented

# env.<attr> maps a page to what its directives covered, so that a page that changes or
# goes away (incremental builds, parallel reads) takes its entries with it.
_RECORDS = ("mcalc_api_paths", "mcalc_bench_files")


def _record(env: Any, attr: str, items: list[str]) -> None:
    getattr(env, attr, None) or setattr(env, attr, {})
    getattr(env, attr).setdefault(env.docname, set()).update(items)


def _recorded(env: Any, attr: str) -> set[str]:
    return set().union(*getattr(env, attr, {}).values())


def _purge(app: Sphinx, env: Any, docname: str) -> None:
    for attr in _RECORDS:
        getattr(env, attr, {}).pop(docname, None)


def _merge(app: Sphinx, env: Any, docnames: Any, other: Any) -> None:
    for attr in _RECORDS:
        mine = getattr(env, attr, None) or {}
        mine.update({d: s for d, s in (getattr(other, attr, None) or {}).items() if d in docnames})
        setattr(env, attr, mine)


# ------------------------------------------------------------------ tables as docutils nodes


def _cell(content: Any) -> nodes.entry:
    entry = nodes.entry()
    if isinstance(content, nodes.Node):
        entry += nodes.paragraph("", "", content)
    else:
        entry += nodes.paragraph("", str(content))
    return entry


def _table(headers: list[str], rows: list[list[Any]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["mcalc-generated"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for h in headers:
        row += _cell(h)
    head += row
    body = nodes.tbody()
    group += body
    for r in rows:
        row = nodes.row()
        for c in r:
            row += _cell(c)
        body += row
    return table


def _literal(text: str) -> nodes.literal:
    return nodes.literal(text, text)


# ------------------------------------------------------------------ the config schema


def _type_name(annotation: Any) -> str:
    """``str | None`` -> ``str or null``; a section -> ``section``; a dict -> ``mapping``."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    names = []
    for part in typing.get_args(annotation) if union else (annotation,):
        if part is type(None):
            names.append("null")
        elif dataclasses.is_dataclass(part):
            names.append("section")
        elif typing.get_origin(part) is dict or part is dict:
            names.append("mapping")
        else:
            names.append(getattr(part, "__name__", str(part)))
    return " or ".join(names)


def _yaml_value(value: Any) -> str:
    """A default as it is written in a config file."""
    if dataclasses.is_dataclass(value):
        return "(section)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _schema_sections() -> list[tuple[str, type, str]]:
    """(prefix, dataclass, description) for the top level and every section, in order."""
    from mcalc.config import _schema

    out = [("", _schema.Config, "the experiment")]
    hints = typing.get_type_hints(_schema.Config)
    for f in dataclasses.fields(_schema.Config):
        if dataclasses.is_dataclass(hints[f.name]):
            out.append((f.name, hints[f.name], f.metadata.get("help", "")))
    # sub-sections (optimizer.schedule) follow their section
    for prefix, cls, _ in list(out[1:]):
        sub = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            inner = [a for a in typing.get_args(sub[f.name]) if dataclasses.is_dataclass(a)]
            if inner:
                out.append((f"{prefix}.{f.name}", inner[0], f.metadata.get("help", "")))
    return out


def _default(cls: type, f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def config_reference() -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """(title, rows) per schema section; a row is (key, type, default, help)."""
    out = []
    for prefix, cls, description in _schema_sections():
        hints = typing.get_type_hints(cls)
        rows = [
            (
                f"{prefix}.{f.name}" if prefix else f.name,
                _type_name(hints[f.name]),
                _yaml_value(_default(cls, f)),
                f.metadata.get("help", ""),
            )
            for f in dataclasses.fields(cls)
            if not dataclasses.is_dataclass(hints[f.name])  # a section: its own table
        ]
        out.append((f"{prefix}: {description}" if prefix else "top-level keys", rows))
    # each built-in task's own model.<hyperparameter> keys, from its Hyper declarations
    import mcalc

    for task in mcalc.tasks():
        if task.hyper:
            rows = [
                (
                    f"model.{name}",
                    ("int" if h.static else "float") + (" (static)" if h.static else ""),
                    _yaml_value(h.default),
                    f"{h.help} — {h.describe()}" if h.help else h.describe(),
                )
                for name, h in task.hyper.items()
            ]
            out.append((f"model, task {task.name}: its hyperparameters", rows))
    return out


class ConfigReference(SphinxDirective):
    """Tables of every config key: type, schema default and help, from ``_schema.py``."""

    def run(self) -> list[nodes.Node]:
        from mcalc.config import _schema

        self.env.note_dependency(str(Path(inspect.getfile(_schema))))
        out: list[nodes.Node] = []
        for title, rows in config_reference():
            para = nodes.paragraph()
            para += nodes.strong(title, title)
            out.append(para)
            cells = [
                [_literal(key), kind, _literal(default), help_]
                for key, kind, default, help_ in rows
            ]
            out.append(_table(["key", "type", "default", "meaning"], cells, [22, 12, 16, 50]))
        return out


def _rst_escape(text: str) -> str:
    return re.sub(r"([\\*`|_<>])", r"\\\1", text)


def _schema_fields(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list) -> None:
    """Append the fields of a config-schema dataclass, from their help, to its docstring."""
    from mcalc.config import _schema

    if what != "class" or not dataclasses.is_dataclass(obj):
        return
    if getattr(obj, "__module__", "") != _schema.__name__:
        return
    hints = typing.get_type_hints(obj)
    lines.append("")
    for f in dataclasses.fields(obj):
        default = _yaml_value(_default(obj, f))
        kind = _type_name(hints[f.name])
        help_ = _rst_escape(f.metadata.get("help", ""))
        lines.append(f":ivar {f.name}: {help_} (*{kind}*, default ``{default}``)")
    lines.append("")


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and not key.endswith("args"):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


class ConfigDefaults(SphinxDirective):
    """Each task's embedded default (``mcalc.default_config``), where it differs from the schema."""

    def run(self) -> list[nodes.Node]:
        import mcalc
        from mcalc.config import _schema

        schema = _flatten(dataclasses.asdict(_schema.Config()))
        tasks = [t.name for t in mcalc.tasks()]
        defaults = {t: _flatten(dataclasses.asdict(mcalc.default_config(t))) for t in tasks}
        keys = [
            k
            for k in dict.fromkeys([k for t in tasks for k in defaults[t]])
            if any(defaults[t].get(k, schema.get(k)) != schema.get(k) for t in tasks)
        ]
        rows = [
            [
                _literal(k),
                _literal(_yaml_value(schema.get(k))),
                *(_literal(_yaml_value(defaults[t].get(k))) for t in tasks),
            ]
            for k in keys
        ]
        return [_table(["key", "schema", *tasks], rows, [24] + [14] * (len(tasks) + 1))]


class ConfigFiles(SphinxDirective):
    """The files of ``configs/``, each with the comment that opens it."""

    def run(self) -> list[nodes.Node]:
        rows = []
        for path in sorted((ROOT / "configs").glob("*.yaml")):
            self.env.note_dependency(str(path))
            about = []
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.startswith("#"):
                    break
                text = line.lstrip("#").strip()
                if text and not text.startswith("mcalc "):  # usage lines: shown on the pages
                    about.append(text)
            if not about:
                logger.warning("config-files: %s opens with no comment", path.name)
            rows.append([_literal(f"configs/{path.name}"), " ".join(about)])
        return [_table(["file", "what it shows"], rows, [30, 70])]


# ------------------------------------------------------------------ the API reference


def _public(module: Any) -> list[tuple[str, Any]]:
    return [
        (n, obj)
        for n, obj in vars(module).items()
        if not n.startswith("_") and not inspect.ismodule(obj) and n != "annotations"
    ]


class McalcApi(SphinxDirective):
    """An autosummary table and the autodoc entry of every public name of a module.

    A name that is also on the top level of ``mcalc`` is documented as ``mcalc.NAME``,
    the path users call it by.
    """

    required_arguments = 1
    # constants allowed to lack a "#:" comment for now, space-separated
    option_spec = {"undocumented": lambda arg: (arg or "").split()}

    def run(self) -> list[nodes.Node]:
        import mcalc

        modname = self.arguments[0]
        undocumented = set(self.options.get("undocumented", ()))
        module = importlib.import_module(modname)
        entries = []
        for name, obj in _public(module):
            path = f"mcalc.{name}" if getattr(mcalc, name, None) is obj else f"{modname}.{name}"
            entries.append((name, path, obj))
        _record(self.env, "mcalc_api_paths", [p for _, p, _ in entries])
        lines = [".. autosummary::", "   :nosignatures:", ""]
        # constants have no docstring of their own to summarise: listed below only
        lines += [f"   ~{p}" for _, p, obj in entries if callable(obj)]
        lines.append("")
        for name, path, obj in entries:
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                lines += [f".. autoexception:: {path}", ""]
            elif inspect.isclass(obj):
                lines += [f".. autoclass:: {path}"]
                if not issubclass(obj, tuple):  # a NamedTuple's fields are in its docstring
                    lines += ["   :members:"]
                if obj.__module__ == "mcalc.config._schema":  # fields: see _schema_fields
                    fields = ", ".join(f.name for f in dataclasses.fields(obj))
                    lines += [f"   :exclude-members: {fields}"]
                lines += [""]
            elif callable(obj):
                lines += [f".. autofunction:: {path}", ""]
            else:
                lines += _data_entry(modname, name, path, obj, name in undocumented)
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=f"<mcalc-api {modname}>"), 0, container)
        return container.children


def _data_entry(modname: str, name: str, path: str, obj: Any, undocumented: bool) -> list[str]:
    """A constant, with the ``#:`` comment above its assignment in the module defining it."""
    from sphinx.pycode.parser import Parser

    package = importlib.import_module(modname)
    for sub in sorted(Path(package.__file__).parent.glob("_*.py")):
        parser = Parser(sub.read_text(encoding="utf-8"))
        parser.parse()
        doc = parser.comments.get(("", name))
        if doc:
            body = [f"   {line}" for line in doc.splitlines()]
            return [f".. py:data:: {path}", f"   :value: {obj!r}", "", *body, ""]
    if not undocumented:
        logger.warning("mcalc-api: %s has no '#:' comment where it is assigned", path)
    return [f".. py:data:: {path}", f"   :value: {obj!r}", ""]


def _resolve_by_name(app: Sphinx, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a Python cross-reference that names an object by another of its paths.

    Docstrings say ``:func:`default_tol``` or ``:class:`mcalc.config.Config```; the API
    page documents each object once, under the path users call (``mcalc.Config``).
    A reference to a private name (``mcalc._concurrency...``) is shown as code, unlinked.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    if target.startswith("_") or "._" in target:
        return contnode
    domain = env.get_domain("py")
    objtypes = set(domain.objtypes_for_role(node["reftype"]) or ())
    last = target.rsplit(".", 1)[-1]
    found = [
        name
        for name, obj in domain.objects.items()
        if name.rsplit(".", 1)[-1] == last and obj.objtype in objtypes and not obj.aliased
    ]
    if len(found) != 1:
        return None
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], found[0], node, contnode
    )


def _check_api_coverage(app: Sphinx, env: Any) -> None:
    import mcalc

    documented = _recorded(env, "mcalc_api_paths")
    if not documented:
        return
    missing = [f"mcalc.{n}" for n, _ in _public(mcalc) if f"mcalc.{n}" not in documented]
    if missing:
        logger.warning(
            "mcalc-api: public names of mcalc that no 'mcalc-api' directive documents: %s",
            ", ".join(missing),
        )


# ------------------------------------------------------------------ benchmark tables


def _bench_table_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_mcalc_bench_table", ROOT / "scripts" / "bench_table.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


class BenchTable(SphinxDirective):
    """The table ``scripts/bench_table.py`` renders from ``docs/_data/bench/FILE``."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        path = BENCH / self.arguments[0]
        if not path.is_file():
            raise self.error(
                f"bench-table: {path.relative_to(ROOT)} does not exist; write it with "
                f"`python scripts/<bench script>.py --json {path.relative_to(ROOT)}`"
            )
        self.env.note_dependency(str(path))
        _record(self.env, "mcalc_bench_files", [path.name])
        data = json.loads(path.read_text(encoding="utf-8"))
        text = _bench_table_module().table(str(path))
        warnings = []
        if data.get("quick"):
            warnings.append(
                "These numbers come from a `--quick` run (tiny sizes): they only show that the "
                "script works."
            )
        load = data.get("environment", {}).get("load_average_1min")
        if load is not None and load > BUSY_LOAD:
            warnings.append(
                f"This run started with a load average of {load:.2f}: other processes competed "
                "for the cores, so its times are not representative. Rerun it on a quiet machine."
            )
        if warnings:
            text = "```{warning}\n" + "\n\n".join(warnings) + "\n```\n\n" + text
        container = nodes.container()
        self.state.nested_parse(StringList(text.splitlines(), source=str(path)), 0, container)
        return container.children


def _check_bench_files(app: Sphinx, env: Any) -> None:
    rendered = _recorded(env, "mcalc_bench_files")
    stored = {p.name for p in BENCH.glob("*.json")}
    if stored - rendered:
        logger.warning(
            "bench-table: docs/_data/bench holds %s, which no page renders",
            ", ".join(sorted(stored - rendered)),
        )


# ------------------------------------------------------------------ the L2 study


class L2Study(SphinxDirective):
    """The findings, tables and figures of the report in ``docs/_data/l2/l2-study-*/``."""

    def run(self) -> list[nodes.Node]:
        studies = sorted(L2.glob("l2-study-*/report.md"))
        if len(studies) != 1:
            raise self.error(
                f"l2-study: expected one report in docs/_data/l2/l2-study-*/, found {len(studies)}; "
                "remove the old folder after `python scripts/l2_study.py --out docs/_data/l2`"
            )
        report = studies[0]
        self.env.note_dependency(str(report))
        findings = json.loads((report.parent / "findings.json").read_text(encoding="utf-8"))
        failed = [k for k, v in findings.items() if v is False]
        if failed:
            logger.warning("l2-study: claims that did not hold: %s", ", ".join(failed))
        here = Path(self.env.doc2path(self.env.docname)).parent
        folder = report.parent.relative_to(here).as_posix()
        lines: list[str] = []
        for line in report.read_text(encoding="utf-8").splitlines():
            if not lines and not line.startswith("## "):
                continue  # the title and introduction: the page has its own
            if line.startswith("Sweep folder:"):
                continue  # a path on the machine that ran the study
            line = re.sub(r"!\[([^\]]*)\]\(([^)/]+\.png)\)", rf"![\1]({folder}/\2)", line)
            line = re.sub(r"^## ", "### ", line)
            lines.append(line)
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=str(report)), 0, container)
        return container.children


# ------------------------------------------------------------------ toctree of pages to come


class OptionalTocTree(TocTree):
    """A ``toctree`` that leaves out entries whose page does not exist (yet)."""

    def run(self) -> list[nodes.Node]:
        found = self.env.found_docs

        def exists(entry: str) -> bool:
            return not entry.strip() or docname_join(self.env.docname, entry.strip()) in found

        kept = [(e, i) for e, i in zip(self.content, self.content.items, strict=True) if exists(e)]
        if not any(e.strip() for e, _ in kept):
            return []
        self.content = StringList([e for e, _ in kept], items=[i for _, i in kept])
        return super().run()


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("config-reference", ConfigReference)
    app.add_directive("config-defaults", ConfigDefaults)
    app.add_directive("config-files", ConfigFiles)
    app.add_directive("mcalc-api", McalcApi)
    app.add_directive("bench-table", BenchTable)
    app.add_directive("l2-study", L2Study)
    app.add_directive("optional-toctree", OptionalTocTree)
    app.connect("env-check-consistency", _check_api_coverage)
    app.connect("env-check-consistency", _check_bench_files)
    app.connect("missing-reference", _resolve_by_name)
    app.connect("autodoc-process-docstring", _schema_fields)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
