"""``detailed_results.html``: every PNG of the score directory embedded inline, so the page is one self-contained file."""

import base64
import html
import os
from pathlib import Path

from autodl_format.files import write_atomic

REFRESH_SECONDS = 5


def write_detailed_results(score_dir: str | os.PathLike, refresh: bool) -> Path:
    """Rewrite ``score_dir/detailed_results.html``; ``refresh`` adds a 5 s auto-reload while scoring still runs."""
    score_dir = Path(score_dir)
    head = ['<meta charset="utf-8">', "<title>Detailed results</title>"]
    if refresh:
        head.insert(1, f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">')
    images = []
    for png in sorted(score_dir.glob("*.png")):
        encoded = base64.b64encode(png.read_bytes()).decode("ascii")
        images.append(f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(png.name)}"><br>')
    if not images:
        images.append("<p>No prediction scored yet: the learning curve appears with the first prediction.</p>")
    page = "<html><head>" + "".join(head) + "</head><body>\n" + "\n".join(images) + "\n</body></html>\n"
    path = score_dir / "detailed_results.html"
    write_atomic(path, page)
    return path
