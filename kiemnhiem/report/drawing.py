"""How the report's figures become pixels, cheaply (issue 15: a report draws twenty).

:mod:`kiemnhiem.report.plots` decides what a chart shows; this module lays its figure out and
turns it into a PNG, and nothing here changes a pixel of what matplotlib would draw in full
(``tests/report/test_plots.py`` compares them):

- layout by one measurement (:func:`place_axes`) instead of constrained layout, which
  measured every text twice and made saving draw the figure twice;
- one Agg renderer per figure size and dpi (:class:`_SharedRendererCanvas`), so that the
  texts a report's figures share (ticks, axis labels, legends) are shaped once;
- a legend already drawn in the process pasted from its pixels (:func:`draw_rgba`);
- PNG as RGB at zlib level 1 (:func:`png_bytes`).

PNG, not SVG: the runner writes ``<figure>.png`` beside each page and Word takes the same
bitmaps; SVG text would either depend on the reader's fonts (``svg.fonttype="none"``) or be
drawn as glyph outlines, which costs the same text shaping as Agg.
``benchmarks/bench_figures.py`` measures the gain.
"""

from __future__ import annotations

import io
import math
import threading

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.ticker import AutoLocator, FixedLocator, MaxNLocator
from PIL import Image

#: Space between the figure's edge, the legend and the axes' labels, in inches (constrained
#: layout's default padding, which these figures used before).
_PAD = 3 / 72


def new_figure(figsize: tuple[float, float]) -> tuple[Figure, object]:
    """A figure with one axes and no layout engine (:func:`place_axes` places the axes once).

    Constrained layout measured every text twice and made saving draw the figure twice (a
    draw without rendering to lay it out, then the real one): about a third of a report's
    figure time (``benchmarks/bench_figures.py``). These figures have one axes and one legend
    below it, so measuring once and fixing the position gives the same picture.
    """
    fig = Figure(figsize=figsize)
    _SharedRendererCanvas(fig)
    return fig, fig.add_subplot()


class _SharedRendererCanvas(FigureCanvasAgg):
    """An Agg canvas that draws through one renderer per figure size and dpi (per thread).

    matplotlib caches the size of every text it measures per renderer; with one renderer per
    figure, each of a report's twenty figures measured its tick labels, axis labels and legend
    texts anew (each measure shapes the string with FreeType). Sharing the renderer shares
    that cache. The price: a canvas's pixels (``buffer_rgba``) are only its own until another
    figure of the same size is drawn in the thread, so read them right after drawing, as
    :func:`png_bytes` and ``savefig`` do.
    """

    def get_renderer(self):
        width, height = self.get_width_height(physical=True)
        key = (width, height, self.figure.dpi)
        pool = getattr(_RENDERERS, "pool", None)
        if pool is None:
            pool = _RENDERERS.pool = {}
        renderer = pool.get(key)
        if renderer is None:
            if len(pool) >= 4:
                pool.clear()
            renderer = pool[key] = RendererAgg(width, height, self.figure.dpi)
        self.renderer = renderer
        return renderer


#: Per thread: (width, height, dpi) -> RendererAgg (:class:`_SharedRendererCanvas`).
_RENDERERS = threading.local()


def legend_below(fig: Figure, handles: list, ncols: int, handler_map: dict | None = None) -> None:
    """The legend centred at the foot of the figure; :func:`place_axes` puts the axes above.

    Its gid marks it as one whose pixels :func:`draw_rgba` may reuse (and says its columns).
    """
    legend = fig.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=fig.transFigure,
        ncols=ncols,
        fontsize="small",
        frameon=False,
        handler_map=handler_map,
    )
    legend.set_gid(f"{_LEGEND_GID}:{ncols}")


def place_axes(fig: Figure, ax) -> None:
    """Place ``ax`` so that it, its ticks, labels and title fill the figure above the legend.

    Measured with the canvas's own renderer, whose text metrics the drawing then reuses. Twice
    when a value axis picks its ticks by the axes' length (matplotlib's default locator): the
    second pass measures the tick labels chosen for the final height.
    """
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    pad = _PAD * fig.dpi
    floor = pad
    for legend in fig.legends:
        floor = max(floor, legend.get_window_extent(renderer).y1 + pad)
    auto = not all(
        isinstance(axis.get_major_locator(), (FixedLocator, MaxNLocator))
        and not isinstance(axis.get_major_locator(), AutoLocator)
        for axis in (ax.xaxis, ax.yaxis)
    )
    for _ in range(2 if auto else 1):
        inner = ax.get_window_extent(renderer)
        tight = ax.get_tightbbox(renderer)
        left = pad + max(inner.x0 - tight.x0, 0.0)
        right = width - pad - max(tight.x1 - inner.x1, 0.0)
        bottom = floor + max(inner.y0 - tight.y0, 0.0)
        top = height - pad - max(tight.y1 - inner.y1, 0.0)
        if right - left < 0.2 * width or top - bottom < 0.2 * height:
            return  # a figure too small for its texts: keep matplotlib's default position
        ax.set_position(
            [left / width, bottom / height, (right - left) / width, (top - bottom) / height]
        )


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (without a timestamp, so equal figures give equal bytes).

    Drawn once by Agg (:func:`draw_rgba`) and encoded by Pillow (which ``savefig`` also uses)
    as RGB at zlib level 1: the figures are opaque, so the alpha channel only cost bytes, and
    level 1 makes files as small as the default level 6 on these flat-coloured charts in about
    two thirds of the time. Lossless: a palette (PNG-8) would be four times smaller but merged
    the transition year's light hatching into a flat grey.
    """
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    original = fig.dpi
    if dpi != original:
        fig.dpi = dpi
    try:
        pixels = draw_rgba(fig)
    finally:
        if fig.dpi != original:
            fig.dpi = original
    image = Image.fromarray(pixels, "RGBA")
    if image.getextrema()[3][0] == 255:
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="png", dpi=(dpi, dpi), compress_level=1)
    return buffer.getvalue()


#: Legends already drawn: key (:func:`_legend_key`) -> (left, bottom, pixels), in pixels from
#: the figure's left and bottom edges. A report's series charts share one legend (the unit,
#: the windows, the events) and its event studies another; drawing their text was about half
#: of drawing a figure, glyph by glyph. Bounded, and per process (each kernel has its own).
_LEGEND_PIXELS: dict[tuple, tuple[int, int, np.ndarray]] = {}
_LEGEND_PIXELS_MAX = 24
_LEGEND_GID = "kiemnhiem-legend-below"
#: rcParams that change how a legend looks.
_LEGEND_RC = ("font.", "legend.", "text.", "lines.", "patch.", "hatch.", "figure.facecolor")


def draw_rgba(fig: Figure) -> np.ndarray:
    """The figure drawn by Agg at its dpi, as an RGBA array (rows from the top).

    A legend below the axes (:func:`legend_below`) that this process has drawn before, in a
    figure of the same width, dpi and style, is pasted from its pixels instead of drawn again:
    the key holds every text and the style of every symbol of the legend, so equal keys mean
    equal pixels; the legend stands alone on the figure's background (the axes are placed
    above it), so the pasted block replaces exactly what drawing it would have produced.
    """
    canvas = fig.canvas
    legend = fig.legends[0] if len(fig.legends) == 1 and not fig.texts else None
    key = _legend_key(fig, legend) if legend is not None and legend.get_visible() else None
    known = _LEGEND_PIXELS.get(key) if key is not None else None
    if known is not None:
        legend.set_visible(False)
    try:
        raw, (width, height) = canvas.print_to_buffer()
    finally:
        if known is not None:
            legend.set_visible(True)
    pixels = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 4)
    if key is None:
        return pixels
    pixels = pixels.copy()
    if known is not None:
        left, bottom, block = known
        rows = block.shape[0]
        pixels[height - bottom - rows : height - bottom, left : left + block.shape[1]] = block
        return pixels
    box = legend.get_window_extent(canvas.get_renderer())
    left, right = max(int(math.floor(box.x0)) - 1, 0), min(int(math.ceil(box.x1)) + 1, width)
    bottom, top = max(int(math.floor(box.y0)) - 1, 0), min(int(math.ceil(box.y1)) + 1, height)
    if right > left and top > bottom:
        if len(_LEGEND_PIXELS) >= _LEGEND_PIXELS_MAX:
            _LEGEND_PIXELS.clear()
        _LEGEND_PIXELS[key] = (
            left,
            bottom,
            pixels[height - top : height - bottom, left:right].copy(),
        )
    return pixels


def _legend_key(fig: Figure, legend) -> tuple | None:
    """Everything that decides a legend's pixels, or None when it may not be pasted."""
    gid = str(legend.get_gid() or "")
    if not gid.startswith(_LEGEND_GID):
        return None
    import matplotlib as mpl

    rc = tuple(
        (name, str(value))
        for name, value in sorted(mpl.rcParams.items())
        if name.startswith(_LEGEND_RC)
    )
    symbols = tuple(_artist_style(handle) for handle in legend.legend_handles)
    texts = tuple(text.get_text() for text in legend.get_texts())
    # The height too: Agg lays hatching out from the canvas's top edge.
    size = (int(fig.bbox.width), int(fig.bbox.height))
    look = (legend.get_title().get_text(), legend.get_frame_on(), str(fig.get_facecolor()))
    return (gid, texts, symbols, size, fig.dpi, look, rc)


def _artist_style(artist) -> tuple:
    """What a legend symbol looks like, from its public getters."""
    style: list = [type(artist).__name__]
    for getter in (
        "get_color",
        "get_facecolor",
        "get_edgecolor",
        "get_linestyle",
        "get_linewidth",
        "get_marker",
        "get_markersize",
        "get_markerfacecolor",
        "get_markeredgecolor",
        "get_markeredgewidth",
        "get_alpha",
        "get_hatch",
        "get_sizes",
        "get_linewidths",
        "get_text",
        "get_fontsize",
        "get_fontweight",
        "get_position",
    ):
        method = getattr(artist, getter, None)
        if method is None:
            continue
        try:
            value = method()
        except (TypeError, ValueError, AttributeError):
            continue
        if isinstance(value, np.ndarray):
            value = (value.shape, value.round(6).tobytes())
        elif not isinstance(value, (str, int, float, bool, type(None))):
            value = repr(value)
        style.append(value)
    paths = getattr(artist, "get_paths", None)
    if paths is not None:
        style.append(tuple(np.asarray(p.vertices).round(6).tobytes() for p in paths()))
    return tuple(style)
