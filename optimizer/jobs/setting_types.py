"""The machinery of the settings: one setting's metadata, its type checks, a section.

:func:`setting` declares a field with its :class:`Spec`; :func:`specs` lists a section's
fields as :class:`Field` records (name, type, default, where it lives, how it is shown);
:func:`coerce` checks and converts a value to a field's type; :class:`Section` is the base
of every settings section (it checks each field as it is built). The sections themselves
are in :mod:`optimizer.jobs.settings`.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

from ..errors import OptionError

__all__ = [
    "Field",
    "Section",
    "Spec",
    "coerce",
    "default_of",
    "is_path",
    "parse_weights",
    "setting",
    "specs",
]


def default_of(func: Callable[..., Any], name: str) -> Any:
    """The default of keyword ``name`` in ``func``'s signature (where it is written)."""
    p = inspect.signature(func).parameters[name]
    if p.default is inspect.Parameter.empty:
        raise TypeError(f"{func.__qualname__}() has no default for {name!r}")
    return p.default


@dataclass(frozen=True)
class Spec:
    """Where a setting lives and how it is shown (the metadata of one field).

    Attributes
    ----------
    help : str
        One line for people (the CLI help and the TOML documentation).
    unit : str or None
        Unit of the value, shown with the help.
    source : str or None
        Where the default comes from (a paper, a standard, a measurement).
    table : str or None
        TOML table; None: the section's :attr:`Section.TABLE`; ``""``: top level.
    key : str or None
        TOML key (default: the field name); ``toml=False``: not in scenario files.
    flag : str or None
        CLI option without the dashes (default: the field name with dashes);
        ``cli=False``: not on the command line. ``short``: a one-letter alias (``-v``).
    positional : bool
        A positional CLI argument (``flag`` is then its metavar).
    metavar, choices, const, group
        argparse details: the value's name, the allowed values, a value the option
        stores (a switch such as ``--drop-disconnected``), a mutually exclusive group.
    path : bool
        A file path (or a list of them): ``${VAR}`` is expanded and relative paths resolve
        against the scenario file's folder (unless the value is one of ``keep``).
    keep : tuple of str
        Words a path setting may hold instead of a path (``auto``).
    whole_numbers : bool
        A text setting that also takes a whole number (``zones = 12``), kept as its text
        and never read as a path.
    check : callable or None
        ``value -> None``, raising :class:`OptionError` for a bad value.
    parse : callable or None
        CLI text -> value (for lists and tables). A list setting without one is a
        repeatable CLI option: each use adds one value (``--dem A --dem B``).
    cli_help : str or None
        Help of the CLI option where it reads differently from the setting's: the
        ``--no-...`` switch of a setting that is on by default, a ``const`` switch.
    """

    help: str
    unit: str | None = None
    source: str | None = None
    table: str | None = None
    key: str | None = None
    toml: bool = True
    flag: str | None = None
    short: str | None = None
    cli: bool = True
    positional: bool = False
    metavar: str | None = None
    choices: tuple[Any, ...] | None = None
    const: Any = None
    group: str | None = None
    path: bool = False
    keep: tuple[str, ...] = ()
    whole_numbers: bool = False
    check: Callable[[Any], None] | None = None
    parse: Callable[[str], Any] | None = None
    cli_help: str | None = None


def setting(default: Any, help: str, **spec: Any) -> Any:
    """Declare one setting: its default, its help line and :class:`Spec` details."""
    return field(default=default, metadata={"spec": Spec(help=help, **spec)})


# ---------------------------------------------------------------------- field access
@dataclass(frozen=True)
class Field:
    """A setting as the derivations see it: name, type, default, where it lives."""

    name: str
    owner: type
    type: Any
    default: Any
    spec: Spec

    @property
    def table(self) -> str:
        """The TOML table (``""``: the top level)."""
        t = self.spec.table
        return self.owner.TABLE if t is None else t  # type: ignore[attr-defined]

    @property
    def key(self) -> str:
        """The TOML key."""
        return self.spec.key or self.name

    @property
    def dotted(self) -> str:
        """``table.key`` (or ``key`` at the top level): how scenario errors name it."""
        return f"{self.table}.{self.key}" if self.table else self.key

    @property
    def flag(self) -> str:
        """The CLI option's name without dashes."""
        return self.spec.flag or self.name.replace("_", "-")

    @property
    def option(self) -> str:
        """The CLI option as typed (``--gap``; a bool that defaults on: ``--no-report``)."""
        if self.spec.positional:
            return self.flag.upper()
        if self.base is bool and self.default is True and self.spec.const is None:
            return f"--no-{self.flag}"
        return f"--{self.flag}"

    @property
    def optional(self) -> bool:
        """Whether the setting may be None (not given)."""
        return _unwrap(self.type)[1]

    @property
    def base(self) -> Any:
        """The value's type without None."""
        return _unwrap(self.type)[0]

    @property
    def repeatable(self) -> bool:
        """A list setting given on the command line one value per use of its option."""
        return typing.get_origin(self.base) is tuple and self.spec.parse is None

    def describe(self, *, cli: bool = False) -> str:
        """The help line with unit and default (the ``--no-`` option's own on the CLI)."""
        s = self.spec
        if cli and s.cli_help is not None:
            return s.cli_help
        out = s.help
        if s.unit:
            out += f" [{s.unit}]"
        if s.source:
            out += f" (source: {s.source})"
        if cli and self.repeatable:
            out += " (repeat for more)"
        if not cli and s.choices is not None:
            out += f" (one of {', '.join(map(str, s.choices))})"
        if not cli and self.base is bool:
            out += f" (default: {str(self.default).lower()})"
        if (
            (s.const is None or not cli)
            and self.base is not bool
            and self.default is not None
            and self.default is not MISSING
        ):
            d = self.default
            d = ",".join(map(str, d)) if isinstance(d, tuple) else d
            out += f" (default: {d})"
        return out


_FIELDS: dict[type, tuple[Field, ...]] = {}


def specs(cls: type) -> tuple[Field, ...]:
    """The settings of a section class, in declaration order."""
    hit = _FIELDS.get(cls)
    if hit is None:
        hints = typing.get_type_hints(cls)
        hit = tuple(
            Field(f.name, cls, hints[f.name], f.default, f.metadata["spec"])
            for f in fields(cls)
            if "spec" in f.metadata
        )
        _FIELDS[cls] = hit
    return hit


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """``(type without None, whether None is allowed)``."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), True
    return tp, False


# ---------------------------------------------------------------------- values
_NAMES = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
}


def _expected(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is tuple:
        return "an array"
    if origin is dict:
        return "an inline table"
    return _NAMES.get(tp, str(tp))


def coerce(value: Any, tp: Any) -> Any:
    """``value`` as type ``tp`` (lists as tuples, whole numbers as floats), or an error text.

    Raises
    ------
    ValueError
        With the text ``is <value>; expected <what>``.
    """
    base, optional = _unwrap(tp)
    if value is None and optional:
        return None
    bad = ValueError(f"is {value!r}; expected {_expected(base)}")
    origin = typing.get_origin(base)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad
        item = typing.get_args(base)[0]
        try:
            return tuple(coerce(v, item) for v in value)
        except ValueError:
            raise bad from None
    if origin is dict:
        if not isinstance(value, Mapping):
            raise bad
        item = typing.get_args(base)[1]
        try:
            return {str(k): coerce(v, item) for k, v in value.items()}
        except ValueError:
            raise bad from None
    if base is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if base is str:
        if not isinstance(value, str):
            raise bad
        return value
    raise TypeError(f"setting type {tp!r} is not supported")


@dataclass(frozen=True)
class Section:
    """A group of settings: one TOML table (or part of one) and one block of options.

    Subclasses declare their fields with :func:`setting`. Construction checks every value
    (type, choices, the field's own check, then :meth:`check` across fields) and raises
    :class:`OptionError` naming the field.
    """

    TABLE: ClassVar[str] = ""
    #: heading of the section's options in ``--help``
    TITLE: ClassVar[str] = "options"
    #: the API functions whose keywords these settings are (defaults must agree; the job
    #: functions of :mod:`optimizer.jobs.pipeline` and :mod:`optimizer.jobs.batch` are
    #: checked by the tests, which know them)
    API: ClassVar[tuple[Callable[..., Any], ...]] = ()

    def __post_init__(self) -> None:
        for f in specs(type(self)):
            value = _whole(f, getattr(self, f.name))
            try:
                value = coerce(value, f.type)
            except ValueError as exc:
                raise OptionError(f.name, str(exc)) from None
            object.__setattr__(self, f.name, value)
            if value is None:
                continue
            if f.spec.choices is not None and value not in f.spec.choices:
                raise OptionError(
                    f.name,
                    f"is {value!r}; choose one of {', '.join(map(str, f.spec.choices))}",
                )
            if f.spec.check is not None:
                f.spec.check(value)
        self.check()

    def check(self) -> None:
        """Checks across fields (none by default)."""

    def values(self) -> dict[str, Any]:
        """Field name -> value: the keywords of the API this section feeds."""
        return {f.name: getattr(self, f.name) for f in specs(type(self))}


def _positive(name: str, *, strict: bool = True, at_most: float | None = None):
    def check(v: float) -> None:
        ok = math.isfinite(v) and (v > 0 if strict else v >= 0)
        if at_most is not None:
            ok = ok and v <= at_most
        if not ok:
            rule = "> 0" if strict else ">= 0"
            if at_most is not None:
                rule += f" and <= {at_most:g}"
            raise OptionError(name, f"is {v!r}; must be a number {rule}")

    return check


def _whole(f: Field, value: Any) -> Any:
    """A whole number given to a text setting that takes one, as its text."""
    if f.spec.whole_numbers and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def is_path(f: Field, value: str) -> bool:
    """Whether a text value of a path setting names a file (not a kept word or number)."""
    return (
        f.spec.path and value not in f.spec.keep and not (f.spec.whole_numbers and value.isdigit())
    )


# ---------------------------------------------------------------------- CLI parsers
def _parse_numbers(count: int, what: str) -> Callable[[str], tuple[float, ...]]:
    def parse(text: str) -> tuple[float, ...]:
        try:
            vals = tuple(float(v) for v in text.split(","))
        except ValueError:
            raise ValueError(f"{text}: give {what}") from None
        if len(vals) != count:
            raise ValueError(f"{text}: give {what}")
        return vals

    return parse


def parse_weights(text: str) -> dict[str, float]:
    """``"internal=0.5,external=0.5"`` -> ``{"internal": 0.5, "external": 0.5}``."""
    out: dict[str, float] = {}
    for part in str(text).split(","):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[key.strip()] = float(val)
        except ValueError:
            raise ValueError(
                f"{text!r}: write name=value pairs such as internal=0.5,external=0.5"
            ) from None
    return out


def _parse_words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())
