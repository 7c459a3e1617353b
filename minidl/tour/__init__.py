"""The tour: minidl's front door. ``minidl tour`` runs every chapter on the bundled digits.

A chapter is one small function made a :class:`Chapter` by :func:`chapter`; it trains or measures
something, saves its figures through the :class:`TourContext`, and returns a
:class:`ChapterResult` (a few lines for the terminal and the numbers for ``--json``).
Adding a chapter means adding one module to ``minidl/tour/chapters/`` and listing it in
``minidl.tour.chapters.CHAPTERS``, the table of contents.
"""

from minidl.tour.core import Chapter, ChapterResult, TourContext, chapter, registered_chapters, run_tour

__all__ = ["Chapter", "ChapterResult", "TourContext", "chapter", "registered_chapters", "run_tour"]
