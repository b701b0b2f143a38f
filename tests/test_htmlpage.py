"""HTML captures: encoding detection, main text, tables and quotes (pure parsing, no network)."""

from __future__ import annotations

from pipeline.extraction.extract import (
    capture_tables,
    capture_text,
    markdown_tables,
    mentions_from_tables,
)
from pipeline.extraction.htmlpage import (
    decode_html,
    detect_html_encoding,
    html_main_text,
    html_tables,
)
from pipeline.extraction.quotes import SourceText
from pipeline.sources.capture import capture_bytes

PAGE = """<!doctype html>
<html><head><title>Mini Atlas</title><style>p { color: red }</style>
<script>var hidden = "script text";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<header><p>Site banner</p></header>
<aside>Related: nothing</aside>
<main>
  <h1>Mini Atlas:   who builds models</h1>
  <p>This page was published on
     April 20, 2026.</p>
  <table>
    <caption>Models by lab</caption>
    <thead><tr><th>Model</th><th>Lab</th><th>Country</th></tr></thead>
    <tbody>
      <tr><td><a href="https://qwen.ai/">Qwen 3.6</a></td><td>Alibaba</td><td>China</td></tr>
      <tr><td>Mistral Large</td><td><a href="/mistral">Mistral</a> <a href="/ai">AI</a></td>
          <td>France</td></tr>
      <tr><td>Hunyuan/<i>Hy3</i></td><td>Tencent</td><td>China</td></tr>
    </tbody>
  </table>
  <p>Alibaba released <b>Qwen 3.6</b> under Apache&nbsp;2.0 as open weights for text.</p>
  <ul><li>France committed €109 billion</li><li>to AI infrastructure</li></ul>
  <noscript>Enable JavaScript</noscript><template><p>template text</p></template>
  <!-- a comment that is not text -->
</main>
<footer>© Footer text</footer>
</body></html>
"""


def test_main_text_keeps_blocks_drops_boilerplate_and_writes_tables_as_pipe_rows():
    text = html_main_text(PAGE)
    assert text.splitlines() == [
        "Mini Atlas: who builds models",
        "This page was published on April 20, 2026.",
        "Models by lab",
        "| Model | Lab | Country |",
        "|---|---|---|",
        "| Qwen 3.6 | Alibaba | China |",
        "| Mistral Large | Mistral AI | France |",
        "| Hunyuan/Hy3 | Tencent | China |",
        "Alibaba released Qwen 3.6 under Apache 2.0 as open weights for text.",
        "France committed €109 billion",
        "to AI infrastructure",
    ]
    for gone in ("Home", "Site banner", "Related", "script text", "color", "Enable JavaScript",
                 "template text", "comment", "Footer", "Mini Atlas\n"):
        assert gone not in text


def test_tables_have_headers_rows_links_caption_and_the_line_of_their_text():
    text = html_main_text(PAGE)
    [table] = html_tables(PAGE)
    assert table.header == ["Model", "Lab", "Country"]
    assert table.rows[1] == ["Mistral Large", "Mistral AI", "France"]
    assert table.caption == "Models by lab"
    assert table.links == {(0, 0): ["https://qwen.ai/"], (1, 1): ["/mistral", "/ai"]}
    assert text.splitlines()[table.line - 1] == "| Model | Lab | Country |"
    # The same table a text capture of this text gives, at the same line.
    [as_text] = markdown_tables(text)
    assert (as_text.header, as_text.rows, as_text.line) == (table.header, table.rows, table.line)
    mentions = mentions_from_tables("page", "0" * 64, [table])
    row = mentions[(mentions.row_index == 3) & (mentions.column_index == 1)].iloc[0]
    assert row.text == "Hunyuan/Hy3" and row.column_header == "Model"
    assert row.locator == f"page#table=1&row=3&column=1&line={table.line + 4}"
    assert text.splitlines()[table.line + 4 - 1] == "| Hunyuan/Hy3 | Tencent | China |"


def test_spans_are_expanded_and_multi_row_headers_joined():
    html = """<table>
      <thead><tr><th rowspan="2">Model</th><th colspan="2">Origin</th></tr>
             <tr><th>Lab</th><th>Country</th></tr></thead>
      <tr><td>Qwen 3.6</td><td>Alibaba</td><td rowspan="2">China</td></tr>
      <tr><td colspan="2">Hunyuan (Tencent)</td></tr>
      <tr><td>Solo</td></tr>
    </table>"""
    [table] = html_tables(html)
    assert table.header == ["Model", "Origin / Lab", "Origin / Country"]
    assert table.rows == [["Qwen 3.6", "Alibaba", "China"],
                          ["Hunyuan (Tencent)", "Hunyuan (Tencent)", "China"],
                          ["Solo", "", ""]]


def test_header_from_leading_th_rows_or_none():
    with_th = "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>"
    without = "<table><tr><td>1</td><td>2</td></tr><tr><td>3</td><td>4</td></tr></table>"
    assert html_tables(with_th)[0].header == ["A", "B"]
    table = html_tables(without)[0]
    assert table.header == ["", ""] and table.rows == [["1", "2"], ["3", "4"]]
    # Row headers in the body (<th> in the first column) stay data.
    row_heads = "<table><tr><th>x</th><th>y</th></tr><tr><th>k</th><td>v</td></tr></table>"
    assert html_tables(row_heads)[0].rows == [["k", "v"]]


def test_article_is_preferred_when_there_is_no_main_and_its_own_header_is_kept():
    html = """<body><header>Site</header><div class="menu">Menu</div>
      <article><header><h1>Title</h1><time>April 24, 2026</time></header>
      <p>Body text.</p><footer>By someone</footer></article>
      <footer>Site footer</footer></body>"""
    assert html_main_text(html).splitlines() == ["Title", "April 24, 2026", "Body text.",
                                                  "By someone"]
    no_landmarks = "<body><div>One</div><div>Two <span>and</span> three</div></body>"
    assert html_main_text(no_landmarks).splitlines() == ["One", "Two and three"]


def test_broken_markup_still_parses():
    html = ("<html><head><title>x<body><p>First paragraph<p>Second <b>bold"
            "<table><tr><th>A<th>B<tr><td>1<td>2<tr><td>3</table>"
            "<div><span>unclosed</div></p></p>trailing &amp; &nosuch; text")
    text = html_main_text(html)
    assert "First paragraph" in text and "Second bold" in text
    assert "| 1 | 2 |" in text and "trailing & &nosuch" in text
    [table] = html_tables(html)
    assert table.header == ["A", "B"] and table.rows == [["1", "2"], ["3", ""]]
    unclosed_head = "<html><head><title>T</title><meta charset=utf-8><p>Body text</p>"
    assert html_main_text(unclosed_head) == "Body text\n"
    deep = "<div>" * 5000 + "deep text" + "</div>" * 10
    assert html_main_text(deep) == "deep text\n"
    assert html_main_text("") == "" and html_tables("<p>no tables</p>") == []


def test_encoding_order_header_then_meta_then_bytes():
    text = "<p>Café “quoted” costs €5</p>"
    cp1252 = text.encode("cp1252")
    meta = b'<meta charset="windows-1252">' + cp1252
    assert detect_html_encoding(cp1252, "windows-1252")[1:] == ("cp1252", "header")
    assert detect_html_encoding(meta, None)[1:] == ("cp1252", "meta")
    assert decode_html(meta, None).endswith(text)
    # The header wins over the meta tag...
    utf8_meta_latin = b'<meta charset="iso-8859-1">' + text.encode("utf-8")
    assert detect_html_encoding(utf8_meta_latin, "utf-8")[2] == "header"
    assert decode_html(utf8_meta_latin, "utf-8").endswith(text)
    # ...unless the bytes are not valid in the header's charset (or it is unknown).
    assert detect_html_encoding(meta, "utf-8")[1:] == ("cp1252", "meta")
    assert detect_html_encoding(meta, "no-such-charset")[1:] == ("cp1252", "meta")
    # A byte-order mark, then detection.
    bom = "\ufeff<p>Ünïcode</p>".encode("utf-16-le")
    assert detect_html_encoding(bom, None) == ("<p>Ünïcode</p>", "utf-16-le", "bom")
    assert detect_html_encoding("<p>Café</p>".encode(), None) == ("<p>Café</p>", "utf-8",
                                                                  "detected")
    french = ("<html><body><p>The café in Montréal serves crème brûlée; “quoted” prices are "
              "in €, behind a naïve façade.</p></body></html>")
    assert detect_html_encoding((french * 3).encode("cp1252"), None) == (
        french * 3, "cp1252", "detected")  # no declaration at all


def test_latin1_labels_decode_as_windows_1252_like_browsers():
    data = "<p>“smart” quotes</p>".encode("cp1252") + b"\x81"
    assert decode_html(data, "ISO-8859-1") == "<p>“smart” quotes</p>\x81"
    assert detect_html_encoding(data, "us-ascii")[1] == "cp1252"


def test_a_curated_quote_verifies_against_an_html_capture(tmp_path):
    capture, new = capture_bytes(tmp_path, "html-page", PAGE.encode("utf-8"),
                                 origin="https://example.org/page", media_type="text/html",
                                 charset="utf-8")
    assert new
    text = SourceText("html-page", capture_text(capture))
    # A prose quote spanning markup (<b>, &nbsp;) and a table-row quote, as curators write them.
    assert text.find("Alibaba released Qwen 3.6 under Apache 2.0 as open weights for text.") == 9
    assert text.find("| Qwen 3.6 | Alibaba | China |") == 6
    assert text.find("This page was published on April 20, 2026.") == 2
    assert text.find("Site banner") is None and text.find("Qwen 3.6 under MIT") is None
    [table] = capture_tables(capture)
    assert table.rows[0] == ["Qwen 3.6", "Alibaba", "China"]


def test_a_quote_verifies_in_a_windows_1252_capture_declared_in_meta_only(tmp_path):
    page = '<html><head><meta charset="windows-1252"></head><body><p>Le café “quoted”.</p>'
    capture, _ = capture_bytes(tmp_path, "cp-page", page.encode("cp1252"),
                               origin="https://example.org/", media_type="text/html")
    assert SourceText("cp-page", capture_text(capture)).find("Le café “quoted”.") == 1
