"""Property-based tests of the ratings-file parsers (sasrec.data.formats): bad input of every kind.

The strong property: a file generated as a mix of valid lines (from a strategy of valid records), invalid
lines (one strategy per kind of bad line) and blank lines parses to exactly the valid lines' records, in
order, with one reject per invalid line, each at its line number; blank lines are neither. Around it:
whole-file problems (empty file, header only, wrong header or delimiter) raise `FormatError`, bad
arguments `ValueError`, and arbitrary bytes never make a parser raise anything else.

What the parsers do, as documented in the module and tested here:
* lines end in "\\n" or "\\r\\n" (one "\\r" is dropped); the last line needs no newline;
* a blank line (nothing, or only whitespace) is None: neither a record nor a reject;
* a UTF-8 BOM is dropped from line 1 of the UTF-8 formats (the header of ml-latest/csv, the first
  record of ml-100k); ml-1m is latin-1, where those bytes are three characters and kept;
* latin-1 (ml-1m) decodes every byte, so non-UTF-8 bytes in an ID are part of the ID; in the UTF-8
  formats they make the line a "bad encoding" reject;
* IDs are stripped strings; ratings any finite float (negative and huge ones pass); timestamps
  integers within int64 (negative ones pass, "978300760.0" and "1e3" are integers);
* an empty (all-whitespace) user or item ID is not a reject: the record holds None for it (a missing
  value, for the schema check downstream to report);
* the header formats carry each extra column through as (feature name, stripped value) pairs in
  `Rating.extra`, the name sanitized and made unique; the headerless formats have no extra columns.
"""
import csv
import io
import math
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sasrec.data.formats import (
    FORMATS,
    ML_LATEST_COLUMNS,
    ColumnNames,
    FormatError,
    Rating,
    Reject,
    has_header,
    iter_lines,
    make_parser,
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
BOM = b"\xef\xbb\xbf"
# Every reason a Reject may give (the reason is short and stable: rejects.tsv shows it).
REASONS = ("bad encoding", "malformed csv", "malformed csv: NUL character", "non-numeric rating", "rating is not finite", "non-integer timestamp", "timestamp out of int64 range")
# Delimiters of the generic csv format in the mixed-file property: punctuation, so that the simple tokens
# of the invalid lines never contain one. Arbitrary delimiters are covered by their own property below.
CSV_DELIMITERS = (",", ";", "\t", "|", " ", ":", "#", "~", "^")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def is_blank(fmt, number, raw):
    """Whether physical line `number` is blank: nothing but whitespace once decoded (or as bytes)."""
    encoding = "latin-1" if fmt == "ml-1m" else "utf-8"
    raw = raw[:-1] if raw.endswith(b"\n") else raw
    raw = raw[:-1] if raw.endswith(b"\r") else raw
    if number == 1 and encoding == "utf-8" and raw.startswith(BOM):
        raw = raw[len(BOM):]
    try:
        return not raw.decode(encoding).strip()
    except UnicodeDecodeError:
        return not raw.strip()


def is_known_reason(reason):
    return reason in REASONS or reason.startswith("wrong field count: expected ")


# --- the format of one file ---------------------------------------------------------------------------


class Dialect:
    """How one generated file is written: format, encoding, separator, columns, header."""

    def __init__(self, fmt, delimiter=",", header_names=None, columns=ColumnNames()):
        self.fmt = fmt
        self.encoding = "latin-1" if fmt == "ml-1m" else "utf-8"
        self.separator = {"ml-1m": "::", "ml-100k": "\t"}.get(fmt)   # split formats
        self.delimiter = delimiter if fmt == "csv" else ","            # csv formats
        self.columns = columns
        self.header_names = header_names      # csv formats: every column of the file, in order
        # Field positions of user, item, rating, timestamp in a row.
        if header_names is None:
            self.positions = (0, 1, 2, 3)
        else:
            wanted = ML_LATEST_COLUMNS if fmt == "ml-latest" else (
                columns.user, columns.item, columns.rating, columns.timestamp)
            self.positions = tuple(header_names.index(name) for name in wanted)
        self.num_fields = 4 if header_names is None else len(header_names)
        # Feature names of the columns beyond the four, as the parser must name them.
        extra_positions = [n for n in range(self.num_fields) if n not in self.positions]
        self.extra_features = expected_feature_names(
            [header_names[n] for n in extra_positions], extra_positions) if header_names else ()

    def __repr__(self):
        return f"Dialect({self.fmt!r}, delimiter={self.delimiter!r}, header={self.header_names!r})"

    @property
    def separators(self):
        return (self.separator,) if self.separator else (self.delimiter,)

    def header(self):
        return self.write_row(self.header_names).encode("utf-8") if self.header_names else None

    def row(self, user, item, rating, timestamp, filler="x"):
        fields = [filler] * self.num_fields
        for position, value in zip(self.positions, (user, item, rating, timestamp)):
            fields[position] = value
        return fields

    def write_row(self, fields):
        """A row as text, quoted where the csv formats need it (fields never hold a newline)."""
        if self.separator:
            return self.separator.join(fields)
        out = io.StringIO()   # the writer refuses a NUL (a reject in any case): written unquoted
        csv.writer(out, delimiter=self.delimiter, lineterminator="", quoting=csv.QUOTE_MINIMAL).writerow(
            [field.replace("\x00", "<NUL>") for field in fields])
        return out.getvalue().replace("<NUL>", "\x00")

    def join_plain(self, fields):
        """A row joined by the separator with no quoting: for fields known not to need it."""
        return (self.separator or self.delimiter).join(fields)


def expected_feature_names(names, positions):
    """The feature names of extra columns `names` (at 0-based `positions`) for the names these tests use:
    a space becomes "_", an unnamed column is column_<N>, a name taken (by the ExampleGen's own
    features or an earlier extra column) gets _2, _3, ..."""
    taken, result = {"user_id", "item_id", "rating", "timestamp", "position"}, []
    for name, position in zip(names, positions):
        base = name.replace(" ", "_") if name else f"column_{position + 1}"
        feature, suffix = base, 2
        while feature in taken:
            feature, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(feature)
        result.append(feature)
    return tuple(result)


# Names of extra columns: plain, non-ASCII, to sanitize, unnamed, and names the ExampleGen's features take.
EXTRA_NAMES = ["x", "note", "genre", "é", "a b", "", "rating", "position", "rating_2"]


@st.composite
def csv_dialects(draw, fmt):
    if fmt == "ml-latest":
        extra = [name for name in draw(st.lists(st.sampled_from(EXTRA_NAMES), max_size=2))
                 if name not in ML_LATEST_COLUMNS]
        names = list(draw(st.permutations([*ML_LATEST_COLUMNS, *extra])))
        return Dialect(fmt, header_names=names)
    pool = ["user_id", "item_id", "rating", "timestamp", "who", "what", "stars", "when", "note", "Ünïcode name"]
    user, item, rating, timestamp = draw(st.permutations(pool).map(lambda p: p[:4]))
    extra = [name for name in draw(st.lists(st.sampled_from(EXTRA_NAMES), max_size=3))
             if name not in (user, item, rating, timestamp)]     # extra columns may repeat among themselves
    names = draw(st.permutations([user, item, rating, timestamp, *extra]))
    delimiter = draw(st.sampled_from(CSV_DELIMITERS))
    return Dialect(fmt, delimiter=delimiter, header_names=list(names),
                   columns=ColumnNames(user, item, rating, timestamp))


def dialects(fmt):
    if fmt in ("ml-1m", "ml-100k"):
        return st.just(Dialect(fmt))
    return csv_dialects(fmt)


def make_dialect_parser(dialect, header=None):
    return make_parser(dialect.fmt, header=header if header is not None else dialect.header(),
                       columns=dialect.columns, delimiter=dialect.delimiter)


def parse_file(dialect_or_fmt, data, **kwargs):
    """Parses a whole file the way RatingsExampleGen does: (records, rejects, results of every line)."""
    fmt = getattr(dialect_or_fmt, "fmt", dialect_or_fmt)
    lines = iter_lines(io.BytesIO(data))
    header = None
    if has_header(fmt):
        first = next(lines, None)
        header = first[1] if first else None
    if hasattr(dialect_or_fmt, "fmt"):
        parser = make_dialect_parser(dialect_or_fmt, header=header if header is not None else b"")
    else:
        parser = make_parser(fmt, header=header, **kwargs)
    results = [(number, raw, parser.parse(number, raw)) for number, raw in lines]
    records = [r for _, _, r in results if isinstance(r, Rating)]
    rejects = [r for _, _, r in results if isinstance(r, Reject)]
    return records, rejects, results


# --- valid records ------------------------------------------------------------------------------------


def ids(dialect):
    """Stripped, non-empty IDs the dialect can hold (any text its encoding writes, bar separators)."""
    if dialect.encoding == "latin-1":
        alphabet = st.characters(max_codepoint=255, blacklist_characters="\n:")
    elif dialect.separator:
        alphabet = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\t")
    else:   # csv: the writer quotes delimiters and quotes; a NUL is a reject, a newline breaks the line
        alphabet = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00")
    return st.text(alphabet, min_size=1, max_size=12).filter(lambda s: s.strip() == s and s != "")


def paddings(dialect):
    # Whitespace around a field is stripped; ml-100k's separator is a tab, so only spaces there.
    chars = " \t" if dialect.fmt == "ml-1m" else " "
    return st.text(st.sampled_from(chars), max_size=2)


@st.composite
def rating_texts(draw):
    """(text, value): every way a finite rating may be written, negative and huge ones included."""
    value = draw(st.one_of(
        st.integers(-10**6, 10**6).map(float),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([0.5, 1.0, 2.5, 5.0, -0.0, 1e308, -1e308, 5e-324])))
    forms = [repr(value), f"{value:e}", f"{value:.17g}"]
    if value.is_integer() and abs(value) < 1e15:
        forms += [str(int(value)), f"{int(value)}.", f"{value:.3f}"]
    if math.copysign(1.0, value) > 0:
        forms.append("+" + repr(value))
    text = draw(st.sampled_from(forms))
    assert math.isfinite(float(text))
    return text, float(text)


@st.composite
def timestamp_texts(draw):
    """(text, value): integers within int64, in every form the parser documents as an integer."""
    value = draw(st.one_of(st.integers(INT64_MIN, INT64_MAX), st.integers(-10**10, 10**10),
                           st.sampled_from([0, 978300760, INT64_MIN, INT64_MAX, -1])))
    forms = [str(value), f"{value}.0", f"{value}.000"]
    if value >= 0:
        forms += ["+" + str(value), "000" + str(value)]
    if value and value % 1000 == 0:
        forms.append(f"{value // 1000}e3")
    return draw(st.sampled_from(forms)), value


def blank_ids(dialect):
    """What an empty ID may look like in the dialect: nothing, or whitespace that is not a separator."""
    return st.sampled_from(["", " ", "  "] + (["\xa0", "\t"] if dialect.fmt == "ml-1m" else []))


@st.composite
def valid_lines(draw, dialect):
    """(line text, (user, item, rating, timestamp), extra) of a well-formed line; an empty ID is None."""
    pad = paddings(dialect)
    # None: the ID is empty, which is a missing value for the schema check, not a malformed line.
    user, item = (draw(st.none() | ids(dialect) | ids(dialect) | ids(dialect)) for _ in range(2))
    rating_text, rating = draw(rating_texts())
    timestamp_text, timestamp = draw(timestamp_texts())
    fields = [draw(blank_ids(dialect)) if user is None else draw(pad) + user + draw(pad),
              draw(blank_ids(dialect)) if item is None else draw(pad) + item + draw(pad),
              draw(pad) + rating_text + draw(pad), draw(pad) + timestamp_text + draw(pad)]
    filler = draw(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"),
                          max_size=5))
    extra = tuple((name, filler.strip()) for name in dialect.extra_features)
    return dialect.write_row(dialect.row(*fields, filler=filler)), (user, item, rating, timestamp), extra


# --- invalid lines, one strategy per kind -------------------------------------------------------------


TOKENS = st.text(string.ascii_letters + string.digits, min_size=1, max_size=6)
BAD_RATINGS = ["", "five", "1_0", "1.2.3", "nan", "NaN", "-nan", "inf", "-Infinity", "1e400", "-1e400", "0x10",
               "--4", "4-", "1e", ".", "+", "4 5", "٣x", "\x00"]
BAD_TIMESTAMPS = ["", "noon", "1.5", "97830076.5", str(INT64_MAX + 1), str(INT64_MIN - 1), "1e30", "-1e30",
                  "9" * 50, "9" * 5000, "nan", "inf", "-inf", "1e", "0x1F", "1_000", "1e-3", "12:30", "\x00"]
BAD_BYTES = [b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80", b"\xf8\x88\x80\x80\x80"]


def field_chars(dialect):
    """Characters of a single field's text in any dialect (a field never holds a separator or newline)."""
    return st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00\t:",
                         max_codepoint=255 if dialect.encoding == "latin-1" else None)


def simple_row(dialect, draw):
    """A well-formed row of alphanumeric tokens, as fields (no quoting needed)."""
    return dialect.row(draw(TOKENS), draw(TOKENS), str(draw(st.integers(1, 5))), str(draw(st.integers(0, 10**9))),
                       filler=draw(TOKENS))


@st.composite
def invalid_lines(draw, dialect):
    """(kind, line bytes) of a line that must be a Reject."""
    kinds = ["few_fields", "many_fields", "wrong_delimiter", "bad_rating", "bad_timestamp", "huge_timestamp"]
    if dialect.encoding == "utf-8":
        kinds.append("bad_encoding")
    if not dialect.separator:
        kinds += ["unbalanced_quote", "text_after_quote", "nul"]
    kind = draw(st.sampled_from(kinds))
    fields = simple_row(dialect, draw)
    u, i, r, t = dialect.positions
    if kind == "few_fields":
        text = dialect.join_plain(fields[:draw(st.integers(1, dialect.num_fields - 1))])
    elif kind == "many_fields":
        text = dialect.join_plain(fields + draw(st.lists(TOKENS, min_size=1, max_size=3)))
    elif kind == "wrong_delimiter":
        others = [d for d in (",", ";", "\t", "|", "::", " ", "/") if d not in dialect.separators
                  and dialect.separators[0] not in d and (dialect.fmt != "ml-1m" or d != " ")]
        text = draw(st.sampled_from(others)).join(fields)
    elif kind == "bad_rating":
        fields[r] = draw(st.one_of(
            st.sampled_from(BAD_RATINGS),
            st.text(field_chars(dialect), max_size=8)
            .filter(lambda s: not _is_float(s))))
        text = dialect.write_row(fields)
    elif kind == "bad_timestamp":
        fields[t] = draw(st.one_of(
            st.sampled_from(BAD_TIMESTAMPS),
            st.decimals(allow_nan=False, allow_infinity=False).filter(lambda d: d != d.to_integral_value()).map(str),
            st.text(field_chars(dialect), max_size=8)
            .filter(lambda s: not _is_int64(s))))
        text = dialect.write_row(fields)
    elif kind == "huge_timestamp":
        fields[t] = str(draw(st.one_of(st.integers(INT64_MAX + 1, 10**40), st.integers(-10**40, INT64_MIN - 1))))
        text = dialect.write_row(fields)
    elif kind == "bad_encoding":
        fields[draw(st.sampled_from([u, i]))] = "@@BAD@@"
        line = dialect.join_plain(fields).encode("utf-8")
        return kind, line.replace(b"@@BAD@@", draw(TOKENS).encode() + draw(st.sampled_from(BAD_BYTES)))
    elif kind == "unbalanced_quote":
        fields[draw(st.sampled_from([u, i, r, t]))] = '"' + draw(TOKENS)
        text = dialect.join_plain(fields)
    elif kind == "text_after_quote":
        fields[draw(st.sampled_from([u, i, r, t]))] = '"' + draw(TOKENS) + '"' + draw(TOKENS)
        text = dialect.join_plain(fields)
    else:   # a NUL byte anywhere in a csv line
        fields[draw(st.sampled_from([u, i, r, t]))] += "\x00"
        text = dialect.join_plain(fields)
    return kind, text.encode(dialect.encoding, errors="replace")   # "?" for what latin-1 lacks: still bad


def _is_float(text):
    try:
        return math.isfinite(float(text.strip())) and "_" not in text
    except ValueError:
        return False


def _is_int64(text):
    try:
        return INT64_MIN <= int(text.strip()) <= INT64_MAX and "_" not in text
    except ValueError:
        return False


BLANKS = st.sampled_from([b"", b" ", b"\t", b"  \t ", b"\r", b" \r"])
NEWLINES = st.sampled_from([b"\n", b"\r\n"])


@st.composite
def ratings_files(draw, fmt):
    """(dialect, file bytes, expected records, expected reject line numbers -> kind)."""
    dialect = draw(dialects(fmt))
    body = draw(st.lists(st.one_of(
        valid_lines(dialect).map(lambda v: ("valid", v)),
        invalid_lines(dialect).map(lambda v: ("invalid", v)),
        BLANKS.map(lambda v: ("blank", v))), max_size=25))
    lines, records, rejects = [], [], {}
    header = dialect.header()
    if header is not None:
        lines.append((draw(st.sampled_from([b"", BOM])) + header))
    for kind, value in body:
        number = len(lines) + 1
        if kind == "valid":
            text, (user, item, rating, timestamp), extra = value
            raw = text.encode(dialect.encoding)
            records.append(Rating(user, item, rating, timestamp, number, extra))
        elif kind == "invalid":
            rejects[number], raw = value
        else:
            raw = value
        if number == 1 and fmt == "ml-100k" and draw(st.booleans()):
            raw = BOM + raw      # dropped from line 1 of the UTF-8 formats
        lines.append(raw)
    endings = [draw(NEWLINES) for _ in lines]
    if lines and draw(st.booleans()):
        endings[-1] = b""          # no newline at the end of the file
    if lines and endings[-1] == b"" and lines[-1] in (b"\r", b" \r"):
        endings[-1] = b"\n"        # a lone trailing "\r" would read as the end of the line before
    data = b"".join(line + ending for line, ending in zip(lines, endings))
    return dialect, data, records, rejects


# --- the strong property ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(data=st.data())
def test_mixed_file_gives_exactly_the_valid_records_and_one_reject_per_bad_line(fmt, data):
    dialect, content, expected_records, expected_rejects = data.draw(ratings_files(fmt))
    records, rejects, results = parse_file(dialect, content)
    assert records == expected_records
    assert {r.line_number: r for r in rejects}.keys() == expected_rejects.keys(), \
        [(r.line_number, r.reason, expected_rejects.get(r.line_number)) for r in rejects]
    assert len(rejects) == len(expected_rejects)
    for reject in rejects:
        assert is_known_reason(reject.reason), reject
    # Each reject shows its own line (newline dropped, decoded leniently, at most 200 characters).
    raw_by_number = {number: raw for number, raw, _ in results}
    for reject in rejects:
        raw = raw_by_number[reject.line_number].rstrip(b"\n")
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        if reject.line_number == 1 and dialect.encoding == "utf-8" and raw.startswith(BOM):
            raw = raw[len(BOM):]
        assert reject.text == raw.decode(dialect.encoding, errors="replace")[:200]


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(data=st.data())
def test_each_kind_of_bad_line_is_rejected_alone(fmt, data):
    """One bad line between two good ones: one reject at its number, the good lines unchanged."""
    dialect = data.draw(dialects(fmt))
    first, second = data.draw(valid_lines(dialect)), data.draw(valid_lines(dialect))
    kind, bad = data.draw(invalid_lines(dialect))
    header = dialect.header()
    lines = ([header] if header else []) + [first[0].encode(dialect.encoding), bad,
                                            second[0].encode(dialect.encoding)]
    records, rejects, _ = parse_file(dialect, b"\n".join(lines))
    offset = 1 if header else 0
    assert records == [Rating(*first[1], offset + 1, first[2]), Rating(*second[1], offset + 3, second[2])]
    assert [r.line_number for r in rejects] == [offset + 2], (kind, rejects)
    expected_reason = {
        "bad_encoding": "bad encoding", "huge_timestamp": "timestamp out of int64 range",
        "unbalanced_quote": "malformed csv", "text_after_quote": "malformed csv", "nul": "malformed csv",
        "few_fields": "wrong field count", "many_fields": "wrong field count", "wrong_delimiter": "wrong field count",
        "bad_timestamp": "", "bad_rating": "",
    }[kind]
    assert rejects[0].reason.startswith(expected_reason), (kind, rejects[0])


# --- arbitrary bytes: never a crash, never a silently dropped line ------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=200, deadline=None)
@given(line=st.binary(max_size=60) | st.lists(st.sampled_from(
    [b"1", b"::", b":", b"\t", b",", b";", b'"', b" ", b"\r", b"\x00", b"\xff", b"\xc3\xa9", b"5", b"-", b".",
     b"e", b"nan", b"\xef\xbb\xbf", b"\xa0", b"9" * 25]), max_size=12).map(b"".join),
       number=st.integers(1, 10**9))
def test_any_line_is_a_rating_a_reject_or_blank(fmt, line, number):
    dialect = Dialect(fmt) if fmt in ("ml-1m", "ml-100k") else Dialect(
        fmt, header_names=list(ML_LATEST_COLUMNS) if fmt == "ml-latest" else ["user_id", "item_id", "rating",
                                                                              "timestamp"])
    line = line.replace(b"\n", b"")           # iter_lines never yields a newline inside a line
    parser = make_dialect_parser(dialect)
    result = parser.parse(number, line + b"\n")
    if number == 1 and dialect.header_names:
        assert result is None                 # the header line
        return
    if is_blank(fmt, number, line + b"\n"):
        assert result is None                 # blank lines only
    elif isinstance(result, Rating):
        for id_ in (result.user_id, result.item_id):    # None where the ID is empty (a missing value)
            assert id_ is None or (id_ and id_ == id_.strip())
        assert math.isfinite(result.rating) and INT64_MIN <= result.timestamp <= INT64_MAX
        assert result.line_number == number
    else:
        assert isinstance(result, Reject), result
        assert result.line_number == number and is_known_reason(result.reason)
        assert len(result.text) <= 200


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300) | st.lists(st.binary(max_size=30), max_size=10).map(b"\n".join))
def test_random_file_is_records_and_rejects_or_one_format_error(fmt, data):
    try:
        records, rejects, results = parse_file(fmt, data)
    except FormatError as error:
        assert has_header(fmt)                        # only a header can be wrong as a whole
        assert str(error) and "\n" not in str(error)
        return
    first = 2 if has_header(fmt) else 1
    assert [number for number, _, _ in results] == list(range(first, first + len(results)))
    for number, raw, result in results:
        if is_blank(fmt, number, raw):
            assert result is None
        else:
            assert isinstance(result, (Rating, Reject)) and result.line_number == number


# --- headers and arguments: one clear error --------------------------------------------------------------


# Found by this property: a NUL delimiter made csv.reader raise TypeError out of make_parser.
@example(header=b"\x00", fmt="csv", delimiter="\x00")
@example(header=b"user_id\x00item_id\x00rating\x00timestamp\n", fmt="csv", delimiter="\x00")
@settings(max_examples=200, deadline=None)
@given(header=st.none() | st.binary(max_size=80) | st.lists(st.sampled_from(
    ["user_id", "item_id", "rating", "timestamp", "userId", "movieId", ",", ";", "\t", '"', " ", "\x00", "\ufeff",
     "é"]), max_size=10).map(lambda parts: "".join(parts).encode("utf-8")),
       fmt=st.sampled_from(["ml-latest", "csv"]),
       delimiter=st.sampled_from([",", ";", "\t", "|", " "]) | st.text(max_size=3))
def test_header_is_a_parser_or_one_clear_error(header, fmt, delimiter):
    try:
        parser = make_parser(fmt, header=header, delimiter=delimiter)
    except FormatError as error:          # the file: empty, lacks or doubles a column, not UTF-8, not CSV
        message = str(error)
        assert message and "\n" not in message and "header" in message.lower()
        return
    except ValueError as error:           # the arguments: a delimiter of the wrong length or a quote
        assert fmt == "csv" and (len(delimiter) != 1 or delimiter in "\r\n\"\x00")
        assert "delimiter" in str(error)
        return
    # A parser came out: the header names every wanted column once.
    wanted = ML_LATEST_COLUMNS if fmt == "ml-latest" else ("user_id", "item_id", "rating", "timestamp")
    text = header.rstrip(b"\r\n").decode("utf-8")
    names = [n.strip() for n in next(csv.reader([text[1:] if text.startswith("\ufeff") else text],
                                                delimiter=parser.delimiter))]
    assert all(names.count(name) == 1 for name in wanted)
    assert parser.parse(1, header) is None


@settings(max_examples=100, deadline=None)
@given(fmt=st.text(max_size=12).filter(lambda f: f not in FORMATS))
def test_unknown_format_is_value_error(fmt):
    with pytest.raises(ValueError, match="unknown ratings format") as error:
        make_parser(fmt, header=b"user_id,item_id,rating,timestamp\n")
    assert not isinstance(error.value, FormatError)
    with pytest.raises(ValueError, match="unknown ratings format"):
        has_header(fmt)


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_wrong_delimiter_for_the_whole_file_is_format_error(delimiter):
    """A file written with one delimiter and read with the other: the header says so."""
    data = delimiter.join(["user_id", "item_id", "rating", "timestamp"]).encode() + b"\n1,2,3,4\n"
    other = ";" if delimiter == "," else ","
    with pytest.raises(FormatError, match="delimiter"):
        parse_file("csv", data, delimiter=other)


def test_file_of_another_format_is_all_rejects():
    """An ml-latest file read as ml-1m or ml-100k: every line (header too) a wrong-field-count reject."""
    data = b"userId,movieId,rating,timestamp\r\n1,296,5.0,1147880044\r\n1,306,3.5,1147868817\r\n"
    for fmt in ("ml-1m", "ml-100k"):
        records, rejects, _ = parse_file(fmt, data)
        assert records == []
        assert [(r.line_number, r.reason) for r in rejects] == [
            (n, "wrong field count: expected 4, got 1") for n in (1, 2, 3)]
    with pytest.raises(FormatError, match="lacks the column"):   # and an ml-1m file read as ml-latest
        parse_file("ml-latest", b"1::1193::5::978300760\n")


# --- edge cases, decided and documented -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("content", [b"", b"\n", b"\r\n", b"\n\n  \n"])
def test_empty_file(fmt, content):
    """Header formats: one FormatError naming the emptiness. Headerless ones: nothing, nothing rejected."""
    if has_header(fmt):
        with pytest.raises(FormatError, match="empty"):
            parse_file(fmt, content)
    else:
        assert parse_file(fmt, content)[:2] == ([], [])


@pytest.mark.parametrize("fmt, header", [("ml-latest", b"userId,movieId,rating,timestamp"),
                                         ("csv", b"user_id,item_id,rating,timestamp")])
@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n", b"\n\n", b"\r\n \r\n"])
@pytest.mark.parametrize("bom", [b"", BOM])
def test_header_only_file(fmt, header, ending, bom):
    assert parse_file(fmt, bom + header + ending)[:2] == ([], [])


@pytest.mark.parametrize("fmt, line", [("ml-1m", b"1::10::4::5"), ("ml-100k", b"1\t10\t4\t5"),
                                       ("ml-latest", b"1,10,4,5"), ("csv", b"1,10,4,5")])
def test_line_endings_bom_and_no_trailing_newline(fmt, line):
    header = {"ml-latest": b"userId,movieId,rating,timestamp", "csv": b"user_id,item_id,rating,timestamp"}.get(fmt)
    for newline in (b"\n", b"\r\n"):
        lines = ([header] if header else []) + [line, b"", line]
        first = len(lines) - 2
        for trailing in (b"", newline):
            data = newline.join(lines) + trailing
            records, rejects, _ = parse_file(fmt, data)
            assert rejects == [] and [(r.line_number, r.user_id, r.timestamp) for r in records] == [
                (first, "1", 5), (first + 2, "1", 5)]
    # A BOM before line 1 is dropped by the UTF-8 formats; latin-1 ml-1m keeps those bytes as characters.
    records, rejects, _ = parse_file(fmt, BOM + b"\n".join(([header] if header else []) + [line]))
    assert rejects == [] and len(records) == 1
    assert records[0].user_id == ("\xef\xbb\xbf1" if fmt == "ml-1m" else "1")


def test_non_utf8_id_latin1_versus_utf8():
    """The same bytes: an ID in latin-1 ml-1m, a 'bad encoding' reject in the UTF-8 formats."""
    assert parse_file("ml-1m", b"Jos\xe9::Caf\xe9::3::10\n")[0] == [Rating("Jos\xe9", "Caf\xe9", 3.0, 10, 1)]
    records, rejects, _ = parse_file("ml-100k", b"Jos\xe9\tCaf\xe9\t3\t10\nJos\xc3\xa9\t1\t3\t10\n")
    assert records == [Rating("Jos\xe9", "1", 3.0, 10, 2)]
    assert [(r.line_number, r.reason, r.text) for r in rejects] == [(1, "bad encoding", "Jos\ufffd\tCaf\ufffd\t3\t10")]
    for fmt, header in (("ml-latest", b"userId,movieId,rating,timestamp\n"),
                        ("csv", b"user_id,item_id,rating,timestamp\n")):
        records, rejects, _ = parse_file(fmt, header + b"Jos\xe9,1,3,10\n\xff\xfe,1,3,10\n2,1,3,10")
        assert records == [Rating("2", "1", 3.0, 10, 4)]
        assert [(r.line_number, r.reason) for r in rejects] == [(2, "bad encoding"), (3, "bad encoding")]


@example(value=INT64_MAX)
@example(value=INT64_MIN - 1)
@settings(max_examples=100, deadline=None)
@given(value=st.integers(INT64_MIN, INT64_MAX) | st.integers(-10**30, 10**30))
def test_huge_and_negative_timestamps(value):
    result = make_parser("ml-1m").parse(3, f"u::i::-3.5::{value}\n".encode())
    if INT64_MIN <= value <= INT64_MAX:
        assert result == Rating("u", "i", -3.5, value, 3)
    else:
        assert isinstance(result, Reject) and result.reason == "timestamp out of int64 range"


@settings(max_examples=100, deadline=None)
@given(value=st.floats())
def test_huge_negative_and_non_finite_ratings(value):
    result = make_parser("ml-100k").parse(2, f"u\ti\t{value!r}\t7\n".encode())
    if math.isfinite(value):
        assert result == Rating("u", "i", value, 7, 2)
    else:
        assert isinstance(result, Reject) and result.reason == "rating is not finite"
