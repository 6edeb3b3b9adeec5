"""The ratings-file line parsers of sasrec.data.formats, format by format."""
import io
import pickle
import subprocess
import sys

import pytest

from sasrec.data.formats import (
    FORMATS,
    ColumnNames,
    FormatError,
    LineParser,
    Rating,
    Reject,
    has_header,
    iter_lines,
    make_parser,
)


def reason(result):
    assert isinstance(result, Reject), result
    return result.reason


# --- formats and headers ---------------------------------------------------------------------------


def test_formats_and_has_header():
    assert FORMATS == ("ml-1m", "ml-latest", "ml-100k", "csv")
    assert [has_header(fmt) for fmt in FORMATS] == [False, True, False, True]
    with pytest.raises(ValueError, match="ml-1m, ml-latest, ml-100k, csv"):
        has_header("parquet")


def test_unknown_format_lists_formats():
    with pytest.raises(ValueError) as error:
        make_parser("ml-10m")
    assert not isinstance(error.value, FormatError)
    for fmt in FORMATS:
        assert fmt in str(error.value)


@pytest.mark.parametrize("fmt", ["ml-latest", "csv"])
@pytest.mark.parametrize("header", [None, b"", b"\n", b"  \r\n"])
def test_header_format_without_header_is_format_error(fmt, header):
    with pytest.raises(FormatError, match="empty"):
        make_parser(fmt, header=header)


def test_header_missing_columns_names_missing_and_present():
    with pytest.raises(FormatError) as error:
        make_parser("csv", header=b"user_id,movie,stars,timestamp\n")
    message = str(error.value)
    assert "'item_id'" in message and "'rating'" in message
    assert "'movie'" in message and "'stars'" in message
    assert "'user_id'" in message
    assert "\n" not in message


def test_ml_latest_header_missing_column():
    with pytest.raises(FormatError, match="'movieId'"):
        make_parser("ml-latest", header=b"userId,itemId,rating,timestamp\n")


def test_header_duplicate_column_is_format_error():
    with pytest.raises(FormatError, match="more than once"):
        make_parser("csv", header=b"user_id,item_id,rating,timestamp,rating\n")


def test_header_bad_encoding_is_format_error():
    with pytest.raises(FormatError, match="UTF-8"):
        make_parser("csv", header=b"user_id,item_\xff,rating,timestamp\n")


def test_csv_columns_must_differ_and_delimiter_one_char():
    with pytest.raises(ValueError):
        make_parser("csv", header=b"a,b,c\n", columns=ColumnNames("a", "a", "b", "c"))
    with pytest.raises(ValueError):
        make_parser("csv", header=b"a;b\n", delimiter=";;")


def test_headerless_formats_ignore_header():
    assert make_parser("ml-1m", header=b"whatever") == make_parser("ml-1m")


# --- ml-1m ------------------------------------------------------------------------------------------


@pytest.fixture
def ml1m():
    return make_parser("ml-1m")


def test_ml1m_valid(ml1m):
    assert ml1m.parse(1, b"1::1193::5::978300760\n") == Rating("1", "1193", 5.0, 978300760, 1)


def test_ml1m_crlf_and_no_newline(ml1m):
    assert ml1m.parse(7, b"1::1193::5::978300760\r\n") == Rating("1", "1193", 5.0, 978300760, 7)
    assert ml1m.parse(8, b"1::1193::5::978300760") == Rating("1", "1193", 5.0, 978300760, 8)


def test_ml1m_ids_stay_strings(ml1m):
    result = ml1m.parse(3, b" 007 :: 0042 ::4::978300760\n")
    assert result.user_id == "007" and result.item_id == "0042"


def test_ml1m_latin1(ml1m):
    result = ml1m.parse(2, "Jos\xe9::Caf\xe9::3::10\n".encode("latin-1"))
    assert result == Rating("Jos\xe9", "Caf\xe9", 3.0, 10, 2)


def test_ml1m_rating_out_of_range_and_negative_timestamp_are_accepted(ml1m):
    assert ml1m.parse(1, b"1::2::9::-5\n") == Rating("1", "2", 9.0, -5, 1)
    assert ml1m.parse(1, b"1::2::3.5::0\n").rating == 3.5


@pytest.mark.parametrize("line, expected", [
    (b"1::2::3\n", "wrong field count: expected 4, got 3"),
    (b"1::2::3::4::5\n", "wrong field count: expected 4, got 5"),
    (b"1,2,3,4\n", "wrong field count: expected 4, got 1"),
    (b"1::2::five::4\n", "non-numeric rating"),
    (b"1::2::::4\n", "non-numeric rating"),
    (b"1::2::1_0::4\n", "non-numeric rating"),
    (b"1::2::nan::4\n", "rating is not finite"),
    (b"1::2::-inf::4\n", "rating is not finite"),
    (b"1::2::3::noon\n", "non-integer timestamp"),
    (b"1::2::3::\n", "non-integer timestamp"),
    (b"1::2::3::97830076.5\n", "non-integer timestamp"),
    (b"1::2::3::nan\n", "non-integer timestamp"),
    (b"1::2::3::9223372036854775808\n", "timestamp out of int64 range"),
    (b"1::2::3::-9223372036854775809\n", "timestamp out of int64 range"),
    (b"1::2::3::1e30\n", "timestamp out of int64 range"),
    (b"1::2::3::" + b"9" * 5000 + b"\n", "timestamp out of int64 range"),
    (b" ::::3::4::5\n", "wrong field count: expected 4, got 5"),
    (b" ::2::x::4\n", "non-numeric rating"),           # an empty ID and another problem: a reject
])
def test_ml1m_rejects(ml1m, line, expected):
    result = ml1m.parse(5, line)
    assert reason(result) == expected
    assert result.line_number == 5


@pytest.mark.parametrize("line, user, item", [
    (b" ::2::3::4\n", None, "2"),
    (b"1::::3::4\n", "1", None),
    (b"\t::\xa0::3::4\n", None, None),
])
def test_ml1m_empty_ids_are_missing_values_not_rejects(ml1m, line, user, item):
    """An empty ID is data for the schema check (a missing value), not a malformed line."""
    assert ml1m.parse(5, line) == Rating(user, item, 3.0, 4, 5)


def test_ml1m_integral_float_timestamp_and_int64_bounds(ml1m):
    assert ml1m.parse(1, b"1::2::3::978300760.0\n").timestamp == 978300760
    assert ml1m.parse(1, b"1::2::3::9223372036854775807\n").timestamp == 2**63 - 1
    assert ml1m.parse(1, b"1::2::3::-9223372036854775808\n").timestamp == -(2**63)


@pytest.mark.parametrize("line", [b"\n", b"\r\n", b"", b"   \t \n"])
def test_blank_lines_are_none(ml1m, line):
    assert ml1m.parse(4, line) is None


def test_reject_text_is_stripped_and_truncated(ml1m):
    result = ml1m.parse(1, b"x" * 500 + b"\r\n")
    assert result.text == "x" * 200


# --- ml-100k ----------------------------------------------------------------------------------------


@pytest.fixture
def ml100k():
    return make_parser("ml-100k")


def test_ml100k_valid(ml100k):
    assert ml100k.parse(1, b"196\t242\t3\t881250949\n") == Rating("196", "242", 3.0, 881250949, 1)
    assert ml100k.parse(2, b"196\t242\t3\t881250949\r\n").timestamp == 881250949


def test_ml100k_utf8_and_bom(ml100k):
    assert ml100k.parse(1, "\ufeffb\xf6b\t1\t3\t5\n".encode("utf-8")).user_id == "b\xf6b"
    assert ml100k.parse(2, "b\xf6b\t1\t3\t5\n".encode("utf-8")).user_id == "b\xf6b"


@pytest.mark.parametrize("line, expected", [
    (b"196 242 3 881250949\n", "wrong field count: expected 4, got 1"),
    (b"196\t242\t3\n", "wrong field count: expected 4, got 3"),
    (b"\xff\xfe\t242\t3\t881250949\n", "bad encoding"),
    (b"196\t242\t3\t881250949\tnote\n", "wrong field count: expected 4, got 5"),  # no header: no extra column
    (b"196\t242\tx\t881250949\n", "non-numeric rating"),
])
def test_ml100k_rejects(ml100k, line, expected):
    assert reason(ml100k.parse(2, line)) == expected


def test_ml100k_empty_item_id_is_missing(ml100k):
    assert ml100k.parse(2, b"196\t\t3\t881250949\n") == Rating("196", None, 3.0, 881250949, 2)


def test_bad_encoding_reject_text_uses_replacement(ml100k):
    result = ml100k.parse(3, b"\xff\xfe\t242\t3\t881250949\n")
    assert result.text == "\ufffd\ufffd\t242\t3\t881250949"


# --- ml-latest --------------------------------------------------------------------------------------


@pytest.fixture
def mllatest():
    return make_parser("ml-latest", header=b"userId,movieId,rating,timestamp\r\n")


def test_ml_latest_header_line_is_none_and_valid_line(mllatest):
    assert mllatest.parse(1, b"userId,movieId,rating,timestamp\n") is None
    assert mllatest.parse(2, b"1,296,5.0,1147880044\n") == Rating("1", "296", 5.0, 1147880044, 2)


def test_ml_latest_column_order_from_header():
    parser = make_parser("ml-latest", header=b"\xef\xbb\xbftimestamp, rating ,movieId,userId\n")
    assert parser.parse(2, b"1147880044,4.5,296,7\n") == Rating("7", "296", 4.5, 1147880044, 2)


@pytest.mark.parametrize("line, expected", [
    (b"1,296,5.0\n", "wrong field count: expected 4, got 3"),
    (b"1,296,5.0,1147880044,extra\n", "wrong field count: expected 4, got 5"),  # a field the header lacks
    (b"1,296,\xff,1147880044\n", "bad encoding"),
    (b'1,"296,5.0,1147880044\n', "malformed csv"),
    (b"1,296,5.0,11478800.44\n", "non-integer timestamp"),
])
def test_ml_latest_rejects(mllatest, line, expected):
    assert reason(mllatest.parse(3, line)) == expected


def test_ml_latest_empty_user_id_is_missing(mllatest):
    assert mllatest.parse(3, b",296,5.0,1147880044\n") == Rating(None, "296", 5.0, 1147880044, 3)


def test_ml_latest_extra_column_is_carried_through():
    """A column the header names beyond the four: an extra feature, for the schema check to report."""
    parser = make_parser("ml-latest", header=b"userId,movieId,rating,timestamp,tag\n")
    assert parser.extra_names == ("tag",)
    assert parser.parse(2, b"1,296,5.0,1147880044, funny \n") == Rating(
        "1", "296", 5.0, 1147880044, 2, (("tag", "funny"),))
    assert reason(parser.parse(3, b"1,296,5.0,1147880044\n")) == "wrong field count: expected 5, got 4"


@pytest.mark.parametrize("header", [b"userId,movieId,rating,tag\n", b"userId,movieId,timestamp,rating_2\n",
                                    b"userid,movieId,rating,timestamp,tag\n"])
def test_ml_latest_header_still_needs_its_four_columns(header):
    with pytest.raises(FormatError, match="lacks the column"):
        make_parser("ml-latest", header=header)


# --- generic csv ------------------------------------------------------------------------------------


def test_csv_defaults_extra_columns_and_quoted_field():
    parser = make_parser("csv", header=b"timestamp,user_id,note,item_id,rating\n")
    result = parser.parse(2, b'978300760,"Smith, J.","a ""quoted"" note",007,4\r\n')
    assert result == Rating("Smith, J.", "007", 4.0, 978300760, 2, (("note", 'a "quoted" note'),))


@pytest.mark.parametrize("header, names", [
    (b"user_id,item_id,rating,timestamp,note\n", ("note",)),
    (b"user_id,item_id,rating,timestamp,note,note\n", ("note", "note_2")),            # repeated
    (b"user_id,item_id,rating,timestamp,my note,caf\xc3\xa9,a/b\n", ("my_note", "caf\xe9", "a_b")),  # sanitized
    (b"user_id,item_id,rating,timestamp,,\n", ("column_5", "column_6")),              # unnamed
    (b"user_id,item_id,rating,timestamp,position,rating_2,rating 2\n",                 # taken names
     ("position_2", "rating_2", "rating_2_2")),
])
def test_csv_extra_column_feature_names(header, names):
    parser = make_parser("csv", header=header)
    assert parser.extra_names == names
    values = [str(n) for n in range(len(names))]
    result = parser.parse(2, b",".join([b"u", b"i", b"3", b"4", *(v.encode() for v in values)]) + b"\n")
    assert result == Rating("u", "i", 3.0, 4, 2, tuple(zip(names, values)))


def test_csv_extra_columns_with_custom_columns_keep_the_file_order():
    columns = ColumnNames(user="who", item="what", rating="stars", timestamp="when")
    parser = make_parser("csv", header=b"b;who;rating;what;stars;when;a\n", columns=columns, delimiter=";")
    assert parser.extra_names == ("b", "rating_2", "a")
    assert parser.parse(2, b"1;u;2;i;3;4;5\n").extra == (("b", "1"), ("rating_2", "2"), ("a", "5"))


def test_csv_custom_columns_and_delimiter():
    columns = ColumnNames(user="who", item="what", rating="stars", timestamp="when")
    parser = make_parser("csv", header=b"who;what;stars;when\n", columns=columns, delimiter=";")
    assert parser.parse(2, b"u1;i1;2.5;100\n") == Rating("u1", "i1", 2.5, 100, 2)
    assert reason(parser.parse(3, b"u1,i1,2.5,100\n")) == "wrong field count: expected 4, got 1"


def test_csv_tab_delimiter():
    parser = make_parser("csv", header=b"user_id\titem_id\trating\ttimestamp\n", delimiter="\t")
    assert parser.parse(2, b"a\tb\t1\t2\n") == Rating("a", "b", 1.0, 2, 2)


@pytest.mark.parametrize("line, expected", [
    (b"1,2,3\n", "wrong field count: expected 4, got 3"),
    (b"1,2,abc,4\n", "non-numeric rating"),
    (b"1,2,NaN,4\n", "rating is not finite"),
    (b"1,2,3,yesterday\n", "non-integer timestamp"),
    (b"1,2,3,4,5\n", "wrong field count: expected 4, got 5"),
    (b",,3,4,5\n", "wrong field count: expected 4, got 5"),
    (b"\xff\xfe,2,3,4\n", "bad encoding"),
    (b"1,2,3,4\x00\n", "malformed csv: NUL character"),
])
def test_csv_rejects(line, expected):
    parser = make_parser("csv", header=b"user_id,item_id,rating,timestamp\n")
    assert reason(parser.parse(2, line)) == expected


@pytest.mark.parametrize("line, user, item", [(b"1,,3,4\n", "1", None), (b'"",2,3,4\n', None, "2"),
                                              (b' , ,3,4\n', None, None)])
def test_csv_empty_ids_are_missing(line, user, item):
    parser = make_parser("csv", header=b"user_id,item_id,rating,timestamp\n")
    assert parser.parse(2, line) == Rating(user, item, 3.0, 4, 2)


# --- parser object and line iteration ---------------------------------------------------------------


@pytest.mark.parametrize("fmt, header", [
    ("ml-1m", None), ("ml-100k", None),
    ("ml-latest", b"userId,movieId,rating,timestamp\n"),
    ("csv", b"x,user_id,item_id,rating,timestamp\n"),
])
def test_parser_pickles(fmt, header):
    parser = make_parser(fmt, header=header)
    clone = pickle.loads(pickle.dumps(parser))
    assert isinstance(clone, LineParser)
    assert clone == parser and hash(clone) == hash(parser)
    line = {"ml-1m": b"1::2::3::4\n", "ml-100k": b"1\t2\t3\t4\n",
            "ml-latest": b"1,2,3,4\n", "csv": b"x,1,2,3,4\n"}[fmt]
    extra = (("x", "x"),) if fmt == "csv" else ()
    assert clone.parse(2, line) == parser.parse(2, line) == Rating("1", "2", 3.0, 4, 2, extra)


def test_iter_lines_numbers_from_one_and_keeps_bytes():
    data = b"a::1::2::3\r\n\nb::1::2::3\nlast"
    assert list(iter_lines(io.BytesIO(data))) == [
        (1, b"a::1::2::3\r\n"), (2, b"\n"), (3, b"b::1::2::3\n"), (4, b"last")]
    assert list(iter_lines(io.BytesIO(b""))) == []


def test_file_round_trip(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_bytes(b"userId,movieId,rating,timestamp\n1,10,4.0,5\n\n1,11,bad,6\n2,10,3.5,7\n")
    with open(path, "rb") as f:
        lines = iter_lines(f)
        _, header = next(lines)
        parser = make_parser("ml-latest", header=header)
        results = [parser.parse(n, raw) for n, raw in lines]
    assert results == [Rating("1", "10", 4.0, 5, 2), None, Reject(4, "non-numeric rating", "1,11,bad,6"),
                       Rating("2", "10", 3.5, 7, 5)]


def test_no_heavy_imports():
    """These modules serve the CLI's fast paths: no TensorFlow, Beam or TFX."""
    code = ("import sys, sasrec.data.formats, sasrec.data.download, sasrec.data.synthetic;"
            "bad = [m for m in ('tensorflow', 'apache_beam', 'tfx') if m in sys.modules];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
