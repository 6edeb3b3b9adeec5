"""Parsers for the lines of a ratings file, one format each.

Formats (see `FORMATS`):

* ``ml-1m``: MovieLens 1M ``ratings.dat``, ``UserID::MovieID::Rating::Timestamp``, latin-1, no header.
* ``ml-latest``: MovieLens latest/20M/25M ``ratings.csv``, header naming ``userId``, ``movieId``, ``rating``
  and ``timestamp`` (in any order), utf-8, comma-separated.
* ``ml-100k``: MovieLens 100K ``u.data``, tab-separated ``user item rating timestamp``, utf-8, no header.
* ``csv``: any CSV file with a header row that names the user, item, rating and timestamp columns
  (`ColumnNames`); utf-8; configurable delimiter.

A file is read as raw lines (`iter_lines`); `make_parser` builds a `LineParser` for the format (from the
header line for the formats that have one) and `LineParser.parse` turns each line into a `Rating`, a
`Reject` (a malformed line, with a short stable reason) or None (a blank line: nothing or only whitespace).
Lines end in LF or CRLF; the last needs neither. A UTF-8 BOM before line 1 is dropped by the UTF-8
formats (ml-1m reads those bytes as latin-1 characters). Problems with the whole file (a header that lacks
a named column, an empty file in a format with a header) raise `FormatError`; an empty file in ml-1m or
ml-100k simply has no lines.

IDs stay strings end to end ("007" is not 7). Ratings must be finite numbers but are not range-checked
here, and timestamps must be integers within int64 (negative ones pass): the schema check downstream
judges the values. Standard library only: this module is imported on the CLI's fast paths.

What is a malformed line (a `Reject`, counted against the run's reject limit) and what is data for the
schema check to judge (a `Rating`, whose problems ExampleValidator reports as anomalies):

* An empty (or all-whitespace) user or item ID is not a malformed line: the `Rating` holds None for
  that ID, which the ExampleGen writes as a feature with no value, and the curated schema's
  ``value_count { min: 1 }`` reports it ("Missing values"). A line with an empty ID *and* another
  problem is a reject for the other problem.
* Columns beyond the four (header formats only): each one the header names is carried through in
  `Rating.extra` as ``(feature name, value)`` pairs, the feature named after the header by
  `extra_feature_names`, so that the schema check reports it as a column the schema does not list
  ("New column"). A file whose extra columns are expected needs a schema that lists them.
* The headerless formats (``ml-1m``, ``ml-100k``) have no names for an extra field, so a line with more
  (or fewer) than four fields stays a malformed line: "wrong field count".
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import BinaryIO, Iterator, List, Optional, Sequence, Tuple, Union

FORMATS = ("ml-1m", "ml-latest", "ml-100k", "csv")

# Columns of the ml-latest (ML-20M/25M) ratings.csv header.
ML_LATEST_COLUMNS = ("userId", "movieId", "rating", "timestamp")

_HEADER_FORMATS = ("ml-latest", "csv")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_MAX_REJECT_TEXT = 200
_UTF8_BOM = b"\xef\xbb\xbf"
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
# The features the ExampleGen writes for every rating: an extra column may not take one of these names.
RESERVED_FEATURES = ("user_id", "item_id", "rating", "timestamp", "position")
_NOT_IN_FEATURE_NAME = re.compile(r"[^\w.-]")


@dataclass(frozen=True)
class ColumnNames:
    """Header names of the four columns a generic ``csv`` ratings file must have."""

    user: str = "user_id"
    item: str = "item_id"
    rating: str = "rating"
    timestamp: str = "timestamp"


@dataclass(frozen=True)
class Rating:
    """One well-formed line: IDs as strings, the rating as a finite float, the timestamp in int64.

    An ID is None where the line's field is empty (the schema check reports it as a missing value).
    `extra` holds the line's columns beyond the four, as ``(feature name, stripped value)`` pairs in
    the header's order (header formats only; empty for the others).
    """

    user_id: Optional[str]
    item_id: Optional[str]
    rating: float
    timestamp: int
    line_number: int
    extra: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Reject:
    """A malformed line: why, and the line itself (decoded leniently, at most 200 characters)."""

    line_number: int
    reason: str
    text: str


class FormatError(ValueError):
    """The file as a whole does not fit the format (header lacks a column, file empty, ...)."""


def has_header(fmt: str) -> bool:
    """Whether files of format `fmt` start with a header line (line 1) that names the columns."""
    _check_format(fmt)
    return fmt in _HEADER_FORMATS


def iter_lines(fileobj: BinaryIO) -> Iterator[Tuple[int, bytes]]:
    """Yields (line_number, raw_line) for a binary file object; numbers start at 1, newlines are kept."""
    for line_number, raw in enumerate(fileobj, 1):
        yield line_number, raw


def make_parser(
    fmt: str,
    header: Optional[bytes] = None,
    columns: ColumnNames = ColumnNames(),
    delimiter: str = ",",
) -> "LineParser":
    """A parser for the lines of a ratings file of format `fmt`.

    `header` is the file's raw first line, required by the header formats (``ml-latest``, ``csv``) and
    ignored by the others. `columns` names the four columns of a ``csv`` file and `delimiter` is its
    field separator; ``ml-latest`` always uses its own column names and a comma.
    """
    _check_format(fmt)
    if fmt == "ml-1m":
        return LineParser(fmt, encoding="latin-1", separator="::", delimiter=None,
                          indices=(0, 1, 2, 3), num_fields=4, has_header=False)
    if fmt == "ml-100k":
        return LineParser(fmt, encoding="utf-8", separator="\t", delimiter=None,
                          indices=(0, 1, 2, 3), num_fields=4, has_header=False)

    if fmt == "ml-latest":
        wanted = ML_LATEST_COLUMNS
        delimiter = ","
        flags = "pass `--format csv` with the column names the file uses"
    else:
        check_csv_options(columns, delimiter)
        wanted = (columns.user, columns.item, columns.rating, columns.timestamp)
        flags = "name the columns that hold them in the options for the csv format"

    names = _header_names(fmt, header, delimiter)
    missing = [name for name in wanted if name not in names]
    if missing:
        raise FormatError(
            f"The header (line 1) of the {fmt} ratings file lacks the column(s) "
            f"{', '.join(repr(n) for n in missing)} (its columns are "
            f"{', '.join(repr(n) for n in names) or 'none'}); {flags}, or check that the file and "
            f"its delimiter {delimiter!r} are the ones you meant.")
    doubled = [name for name in wanted if names.count(name) > 1]
    if doubled:
        raise FormatError(
            f"The header (line 1) of the {fmt} ratings file names the column(s) "
            f"{', '.join(repr(n) for n in doubled)} more than once; rename the duplicates so each "
            f"column the parser reads is named once.")
    indices = tuple(names.index(name) for name in wanted)
    extra_indices = tuple(index for index in range(len(names)) if index not in indices)
    return LineParser(fmt, encoding="utf-8", separator=None, delimiter=delimiter,
                      indices=indices, num_fields=len(names), has_header=True,
                      extra_names=extra_feature_names([names[index] for index in extra_indices],
                                                      [index + 1 for index in extra_indices]),
                      extra_indices=extra_indices)


def extra_feature_names(header_names: Sequence[str], columns: Sequence[int]) -> Tuple[str, ...]:
    """Feature names for extra columns: the header's name, with each character other than a letter,
    digit, ``_``, ``.`` or ``-`` replaced by ``_``; ``column_<N>`` (`columns`: 1-based positions) for an
    unnamed column; ``_2``, ``_3``, ... appended to a name already taken (by an earlier extra column or
    by one of `RESERVED_FEATURES`, which the ExampleGen writes itself)."""
    taken = set(RESERVED_FEATURES)
    result = []
    for name, column in zip(header_names, columns):
        base = _NOT_IN_FEATURE_NAME.sub("_", name) if name else f"column_{column}"
        feature, suffix = base, 2
        while feature in taken:
            feature, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(feature)
        result.append(feature)
    return tuple(result)


def check_csv_options(columns: ColumnNames, delimiter: str) -> None:
    """Raises ValueError unless `columns` and `delimiter` can describe a ``csv`` ratings file."""
    # csv.reader itself refuses a NUL delimiter, with a TypeError.
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"\x00":
        raise ValueError(f"the csv delimiter must be one character other than a quote, a newline or NUL, "
                         f"got {delimiter!r}")
    wanted = (columns.user, columns.item, columns.rating, columns.timestamp)
    if len(set(wanted)) != 4:
        raise ValueError(f"the user, item, rating and timestamp columns must be four different "
                         f"columns, got {wanted}")


class LineParser:
    """Turns the raw lines of one ratings file into `Rating`, `Reject` or None.

    Holds plain attributes only, so it pickles (Beam ships it to its workers).
    """

    def __init__(self, fmt: str, encoding: str, separator: Optional[str], delimiter: Optional[str],
                 indices: Tuple[int, int, int, int], num_fields: int, has_header: bool,
                 extra_names: Tuple[str, ...] = (), extra_indices: Tuple[int, ...] = ()) -> None:
        if len(extra_names) != len(extra_indices):
            raise ValueError("extra_names and extra_indices must have the same length")
        self.fmt = fmt
        self.encoding = encoding
        self.separator = separator      # str.split separator (ml-1m, ml-100k), or None for csv formats
        self.delimiter = delimiter      # csv.reader delimiter (ml-latest, csv), or None
        self.indices = indices          # field positions of user, item, rating, timestamp
        self.num_fields = num_fields
        self.has_header = has_header
        self.extra_names = tuple(extra_names)      # feature names of the other columns (header formats)
        self.extra_indices = tuple(extra_indices)  # and their field positions

    def __repr__(self) -> str:
        return (f"LineParser(fmt={self.fmt!r}, num_fields={self.num_fields}, indices={self.indices}, "
                f"delimiter={self.delimiter!r}, extra_names={self.extra_names})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LineParser) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(tuple(sorted(vars(self).items())))

    def parse(self, line_number: int, raw: bytes) -> Union[Rating, Reject, None]:
        """Parses physical line `line_number` (1-based) of the file; `raw` may keep its newline.

        Returns None for blank lines and, in header formats, for line 1 (the header itself). An empty
        ID is None in the `Rating` (see the module docstring), not a reject.
        """
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if line_number == 1:
            if self.has_header:
                return None
            if raw.startswith(_UTF8_BOM) and self.encoding == "utf-8":
                raw = raw[len(_UTF8_BOM):]
        if not raw.strip():
            return None
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError:
            return self._reject(line_number, "bad encoding", raw)
        if not text.strip():
            return None

        if self.separator is not None:
            fields: Sequence[str] = text.split(self.separator)
        else:
            if "\x00" in text:
                return self._reject(line_number, "malformed csv: NUL character", raw)
            try:
                rows = list(csv.reader([text], delimiter=self.delimiter, strict=True))
            except csv.Error:
                return self._reject(line_number, "malformed csv", raw)
            if len(rows) != 1:
                return self._reject(line_number, "malformed csv", raw)
            fields = rows[0]
        if len(fields) != self.num_fields:
            return self._reject(
                line_number, f"wrong field count: expected {self.num_fields}, got {len(fields)}", raw)

        u, i, r, t = self.indices
        user_id = fields[u].strip() or None      # empty: a missing value for the schema check
        item_id = fields[i].strip() or None

        rating_text = fields[r].strip()
        try:
            if "_" in rating_text:
                raise ValueError(rating_text)
            rating = float(rating_text)
        except ValueError:
            return self._reject(line_number, "non-numeric rating", raw)
        if not math.isfinite(rating):
            return self._reject(line_number, "rating is not finite", raw)

        timestamp = _parse_timestamp(fields[t].strip())
        if isinstance(timestamp, str):
            return self._reject(line_number, timestamp, raw)
        if self.extra_indices:
            extra = tuple(zip(self.extra_names, (fields[index].strip() for index in self.extra_indices)))
            return Rating(user_id, item_id, rating, timestamp, line_number, extra)
        return Rating(user_id, item_id, rating, timestamp, line_number)

    def _reject(self, line_number: int, reason: str, raw: bytes) -> Reject:
        text = raw.decode(self.encoding, errors="replace")[:_MAX_REJECT_TEXT]
        return Reject(line_number, reason, text)


def _parse_timestamp(text: str) -> Union[int, str]:
    """The timestamp as an int, or the reject reason. Integral decimals like "978300760.0" pass."""
    if _INTEGER.match(text):
        if len(text.lstrip("+-").lstrip("0")) > 19:     # before int(): huge digit strings are slow
            return "timestamp out of int64 range"
        value = int(text)
    else:
        if not text or "_" in text:
            return "non-integer timestamp"
        try:
            number = Decimal(text)
        except InvalidOperation:
            return "non-integer timestamp"
        if not number.is_finite():
            return "non-integer timestamp"
        if number.adjusted() > 19:      # |number| >= 1e20: outside int64 whatever its digits
            return "timestamp out of int64 range"
        if number != number.to_integral_value():
            return "non-integer timestamp"
        value = int(number)
    if not _INT64_MIN <= value <= _INT64_MAX:
        return "timestamp out of int64 range"
    return value


def _header_names(fmt: str, header: Optional[bytes], delimiter: str) -> List[str]:
    if header is None or not header.strip():
        raise FormatError(
            f"The {fmt} format needs a header line naming the columns, but the ratings file is "
            f"empty; pass a non-empty ratings file or pick the --format that matches it.")
    raw = header.rstrip(b"\r\n")
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FormatError(
            f"The header (line 1) of the {fmt} ratings file is not valid UTF-8 ({error}); convert the "
            f"file to UTF-8 or pick the --format that matches it.") from None
    try:
        rows = list(csv.reader([text], delimiter=delimiter, strict=True))
    except csv.Error as error:
        raise FormatError(
            f"The header (line 1) of the {fmt} ratings file is not a valid CSV row ({error}); fix the "
            f"header or pass the delimiter the file uses.") from None
    if len(rows) != 1:
        raise FormatError(
            f"The header (line 1) of the {fmt} ratings file is not a valid CSV row; fix the header "
            f"or pass the delimiter the file uses.")
    return [name.strip() for name in rows[0]]


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown ratings format {fmt!r}; expected one of {', '.join(FORMATS)}")
