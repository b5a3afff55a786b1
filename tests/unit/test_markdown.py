"""Markdown tables: header, rule, rows; a pipe inside a cell must not split it."""

from explainlab import markdown


def test_table_lines_and_escaped_pipes() -> None:
    assert markdown.table(["a", "b"], [["1", "x|y"]]) == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]
