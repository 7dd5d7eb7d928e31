"""Reports as PDF: a page of the project printed by WeasyPrint, as the office circulates it.

WeasyPrint lays out the HTML and CSS itself (paged media: `@page` size, margins and page numbers)
and draws the text through Pango with the fonts installed (the CJK font: Debian's
fonts-wqy-microhei; `make browser` installs it and Pango). No browser and no network are needed;
the page's images are inline SVG. Imported only when a PDF is written: WeasyPrint loads Pango at
import, and a machine without it still writes the HTML and CSVs and says why no PDF came.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def write_pdf(html_path: Path, pdf_path: Path) -> str | None:
    """Print the page at `html_path` to `pdf_path`; returns None, or why no PDF was written."""
    try:
        import weasyprint
    except OSError as err:  # WeasyPrint loads Pango when imported
        reason = f"PDF not written: WeasyPrint needs Pango (Debian: apt-get install libpango-1.0-0): {err}"
        log.warning(reason)
        return reason
    document = weasyprint.HTML(filename=str(html_path), base_url=str(html_path.parent)).render()
    pdf_path.write_bytes(document.write_pdf())
    return None
