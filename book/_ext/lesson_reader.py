"""Read a lesson (jupytext percent format) as a notebook with the Python 3 kernel."""

import jupytext


def read_lesson(text: str):
    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb
