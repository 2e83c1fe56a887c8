"""How the report's figures become pixels, cheaply (issue 15: a report draws twenty).

:mod:`kiemnhiem.report.plots` decides what a chart shows; this module lays its figure out and
turns it into a PNG, and nothing here changes a pixel of what matplotlib would draw in full
(``tests/report/test_plots.py`` and ``test_drawing.py`` compare them):

- empty figures unpickled from one built per size (:func:`new_figure`);
- layout by one measurement (:func:`place_axes`) instead of constrained layout, which
  measured every text twice and made saving draw the figure twice;
- value axes that make no tick outside the view (:class:`ShownMaxNLocator`);
- one Agg renderer per figure size and dpi (:class:`_SharedRendererCanvas`), so that the
  texts a report's figures share (ticks, axis labels, legends) are measured once, and a
  renderer that keeps strings' shaping and glyphs' bitmaps (:class:`_TextCachingRenderer`);
- a legend already laid out in the process not built again (:class:`_PastedLegend`) and,
  once drawn, pasted from its pixels (:func:`draw_rgba`);
- each axis' ticks made and measured once while a figure is laid out and once while it is
  drawn, not at every question matplotlib asks (:func:`_ticks_measured_once`);
- PNG as RGB, rows unfiltered, at zlib level 3 (:func:`_encode_png`).

Several of these lean on matplotlib internals (the per-glyph text API of 3.11, the
``_get_font_height_metrics`` hook, figure pickling); each falls back to matplotlib's own path
where the internal is missing, and the tests compare against a plain ``FigureCanvasAgg``.

PNG, not SVG: the runner writes ``<figure>.png`` beside each page and Word takes the same
bitmaps; SVG text would either depend on the reader's fonts (``svg.fonttype="none"``) or be
drawn as glyph outlines, which costs the same text shaping as Agg.
``benchmarks/bench_figures.py`` measures the gain.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import pickle
import struct
import threading
import zlib

import matplotlib as mpl
import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.ft2font import FT2Font

try:  # matplotlib >= 3.10; only the per-glyph drawing of 3.11 uses it (_PER_GLYPH)
    from matplotlib.ft2font import RenderMode
except ImportError:  # pragma: no cover - older matplotlib draws text through Agg's own path
    RenderMode = None
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.ticker import AutoLocator, FixedLocator, MaxNLocator

#: Space between the figure's edge, the legend and the axes' labels, in inches (constrained
#: layout's default padding, which these figures used before).
_PAD = 3 / 72


def new_figure(figsize: tuple[float, float]) -> tuple[Figure, object]:
    """A figure with one axes and no layout engine (:func:`place_axes` places the axes once).

    Constrained layout measured every text twice and made saving draw the figure twice (a
    draw without rendering to lay it out, then the real one): about a third of a report's
    figure time (``benchmarks/bench_figures.py``). These figures have one axes and one legend
    below it, so measuring once and fixing the position gives the same picture.

    The empty figure is unpickled from one built before (:func:`_skeleton`): building an
    axes and its ticks runs every artist's constructor (rcParams read, transforms and
    markers made, tick properties copied from the first tick), unpickling restores the
    finished objects at about a fifth of the cost. Each call gets its own new objects.
    """
    blob = _skeleton((float(figsize[0]), float(figsize[1])))
    if blob is None:
        fig = Figure(figsize=figsize)
        _SharedRendererCanvas(fig)
        return fig, fig.add_subplot()
    fig = pickle.loads(blob)
    _SharedRendererCanvas(fig)
    return fig, fig.axes[0]


def _skeleton(figsize: tuple[float, float]) -> bytes | None:
    """A pickled empty figure of ``figsize`` with one axes and its first ticks, built under the
    current rcParams (built again when they change: they decide every default it holds);
    None once :data:`_SKELETONS_MAX` have been built in the process."""
    rc = _rc_snapshot()
    known = _SKELETONS.get(figsize)
    if known is not None and known[0] == rc:
        return known[1]
    if len(_BUILT) >= _SKELETONS_MAX:
        return None
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    # As many ticks as a report's charts show (up to twelve years, eight values); a chart that
    # shows more has matplotlib make the rest, those it shows fewer are never drawn.
    ax.xaxis.get_major_ticks(_SKELETON_TICKS[0])
    ax.yaxis.get_major_ticks(_SKELETON_TICKS[1])
    blob = pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL)
    # Every figure pickled stays alive (_BUILT), for as long as the process. A matplotlib
    # transform tells its parents (the transforms built on it) that it changed through a
    # dict keyed by the parents' id(); unpickled, those keys are the ids of the *pickled*
    # objects. Were those freed, a new transform could be born at one of their addresses,
    # register under the same key and push out another parent, which then never hears of a
    # change: the y-axis label of an axes moved by place_axes was drawn where the axes had
    # been (in about one report in three). While the pickled objects live, no new object
    # takes their ids.
    _BUILT.append(fig)
    _SKELETONS[figsize] = (copy.deepcopy(rc), blob)
    return blob


def _rc_snapshot() -> dict:
    """The rcParams' raw values (no per-item lookup), less the backend: a figure does not
    depend on it, and its not-yet-resolved value is a placeholder equal only to itself."""
    rc = dict(dict.items(mpl.rcParams))
    rc.pop("backend", None)
    return rc


#: figsize -> (the rcParams it was built under, pickled empty figure) (:func:`_skeleton`).
_SKELETONS: dict[tuple[float, float], tuple[dict, bytes]] = {}
#: Every figure :func:`_skeleton` pickled, kept alive (see there); at most _SKELETONS_MAX (a
#: report uses three or four sizes), after which figures are built the ordinary way.
_BUILT: list[Figure] = []
_SKELETONS_MAX = 32
_SKELETON_TICKS = (12, 8)


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
            renderer = pool[key] = _TextCachingRenderer(width, height, self.figure.dpi)
        renderer.font_rc = _font_rc()
        self.renderer = renderer
        return renderer


class _TextCachingRenderer(RendererAgg):
    """Agg's renderer, with what drawing a text costs kept for the next text (issue 15).

    matplotlib >= 3.11 draws a text glyph by glyph: it shapes the string (``FT2Font._layout``),
    then places each glyph at its position to 1/64 pixel and has FreeType render it there.
    A report's twenty figures draw the same strings (years, axis labels, legend entries) and
    the same glyphs over and over, so this renderer keeps

    - each string's shaping, by font, size, dpi and shaping options;
    - each rendered glyph, by font, size, dpi, rotation, hinting, antialiasing and the
      glyph's position *within its pixel* (the 1/64 fraction matplotlib passes FreeType): a
      glyph moved by whole pixels is the same bitmap moved by whole pixels, since FreeType
      rasterises an outline relative to its own pixel-aligned box;
    - each font's line metrics (the ``_get_font_height_metrics`` hook matplotlib 3.11 asks
      the renderer before reading the font's tables for every text it measures).

    Each glyph is still composited on its own, in order, with matplotlib's own
    ``draw_text_image``, so overlapping glyphs blend as they would. ``tests/report`` checks
    the pixels against a plain ``RendererAgg``. With another matplotlib (no per-glyph API),
    drawing falls back to Agg's own ``draw_text``.

    The font settings (:func:`_font_rc`) are read when the canvas hands the renderer out
    (each measure and each drawing of a figure), not for every text: reading them was a
    third of measuring a text.
    """

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self.font_rc = _font_rc()

    def _get_font_height_metrics(self, prop):
        key = (_font_key(prop, self.font_rc), self.dpi)
        known = _FONT_HEIGHTS.get(key)
        if known is None:
            known = _FONT_HEIGHTS[key] = _font_height_metrics(prop, self.dpi)
        return known

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or not _PER_GLYPH:
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        flags = get_hinting_flag()
        font_key = _font_key(prop, self.font_rc)
        layout_key = (font_key, self.dpi, s, flags, features, language)
        glyphs = _LAYOUTS.get(layout_key)
        if glyphs is None:
            font = self._prepare_font(prop)
            glyphs = tuple(
                (item.ft_object, item.glyph_index, item.x, item.y)
                for item in font._layout(s, flags=flags, features=features, language=language)
            )
            if len(_LAYOUTS) >= _CACHE_MAX:
                _LAYOUTS.clear()
            _LAYOUTS[layout_key] = glyphs
        size = prop.get_size_in_points()
        cos = math.cos(math.radians(angle))
        sin = math.sin(math.radians(angle))
        antialiased = gc.get_antialiased()
        matrix = None
        height = self.height
        draw_image = self._renderer.draw_text_image
        for font, glyph_index, dx, dy in glyphs:  # dy is upwards, as in RendererAgg
            # Exactly the 26.6 position RendererAgg._draw_text_glyphs_and_boxes passes FreeType.
            px = round(0x40 * (x + dx * cos - dy * sin))
            py = round(0x40 * (height - y + dx * sin + dy * cos))
            key = (font, size, self.dpi, glyph_index, angle, flags, antialiased, px & 63, py & 63)
            known = _GLYPHS.get(key)
            if known is None:
                if matrix is None:
                    matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int)
                font.set_size(size, self.dpi)
                font._set_transform(matrix, [px & 63, py & 63])
                bitmap = font._render_glyph(
                    glyph_index, flags, RenderMode.NORMAL if antialiased else RenderMode.MONO
                )
                buffer = bitmap.buffer
                if not antialiased:
                    buffer *= 0xFF
                if len(_GLYPHS) >= _CACHE_MAX:
                    _GLYPHS.clear()
                known = _GLYPHS[key] = (buffer, bitmap.left, bitmap.top)
            buffer, left, top = known
            # The bitmap of the glyph at px, py is the one at (px & 63, py & 63) moved by
            # whole pixels (px >> 6, py >> 6).
            draw_image(
                buffer, left + (px >> 6), int(height) - (top + (py >> 6)) + buffer.shape[0], 0, gc
            )


def _font_key(prop, rc: tuple) -> tuple:
    """What decides the font files and size a ``FontProperties`` draws with: its own fields
    and ``rc`` (:func:`_font_rc`)."""
    return (
        tuple(prop.get_family()),
        prop.get_style(),
        prop.get_variant(),
        prop.get_weight(),
        prop.get_stretch(),
        prop.get_size_in_points(),
        prop.get_file(),
        rc,
    )


def _font_rc() -> tuple:
    """The rcParams and environment matplotlib's ``findfont`` caches its answers by, and the
    number of fonts it knows (a font added later may match better)."""
    rc = mpl.rcParams
    return (
        tuple(
            tuple(value) if isinstance(value, list) else value
            for value in (rc[name] for name in _FONT_RC)
        ),
        os.environ.get("MPL_IGNORE_SYSTEM_FONTS"),
        len(font_manager.fontManager.ttflist),
    )


def _font_height_metrics(prop, dpi: float) -> tuple:
    """``(ascent, descent, line gap)`` of the font, as matplotlib's ``Text._get_layout``
    computes them from the font's tables (same expressions, so the same floats)."""
    font = font_manager.get_font(font_manager.fontManager._find_fonts_by_props(prop))
    for table_name, linegap_key, ascent_key, descent_key in (
        ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
        ("hhea", "lineGap", "ascent", "descent"),
    ):
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        fontsize = prop.get_size_in_points()
        units_per_em = font.get_sfnt_table("head")["unitsPerEm"]
        scale = 1 / units_per_em * fontsize * dpi / 72
        return (
            table[ascent_key] * scale,
            -table[descent_key] * scale,
            table[linegap_key] * scale,
        )
    return (None, None, None)


_FONT_RC = tuple(
    f"font.{key}"
    for key in (
        "family", "style", "variant", "weight", "stretch", "size",
        "serif", "sans-serif", "cursive", "fantasy", "monospace",
    )
)
#: Whether this matplotlib draws text glyph by glyph (3.11 and later) through the private
#: API :class:`_TextCachingRenderer` calls; else it leaves drawing to Agg.
_PER_GLYPH = RenderMode is not None and all(
    hasattr(FT2Font, name) for name in ("_layout", "_render_glyph", "_set_transform")
) and hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")
#: Caches of :class:`_TextCachingRenderer`, per process, cleared when full.
_LAYOUTS: dict[tuple, tuple] = {}
_GLYPHS: dict[tuple, tuple] = {}
_FONT_HEIGHTS: dict[tuple, tuple] = {}
_CACHE_MAX = 50_000


#: Per thread: (width, height, dpi) -> RendererAgg (:class:`_SharedRendererCanvas`).
_RENDERERS = threading.local()


def legend_below(fig: Figure, handles: list, ncols: int, handler_map: dict | None = None) -> None:
    """The legend centred at the foot of the figure; :func:`place_axes` puts the axes above.

    Its texts are shown as typed (never read as mathtext, as every text of the charts). Its
    gid marks it as one whose pixels :func:`draw_rgba` may reuse (and says its columns).

    When this process has laid out a legend of the same entries (labels, symbols' styles and
    handlers), columns and style in a figure of the same size, the legend is not built: a
    :class:`_PastedLegend` stands in its place, which gives that legend's extent to
    :func:`place_axes` and its pixels to :func:`draw_rgba`. Building a legend (its entries'
    symbols, texts and boxes, then laying them out to measure it) was about a seventh of
    building a chart; a report's series charts share one legend and its event studies
    another. Whatever else asks the stand-in for the legend's parts builds the real one.
    """
    kwargs = {
        "handles": handles,
        "loc": "lower center",
        "bbox_to_anchor": (0.5, 0.0),
        "bbox_transform": fig.transFigure,
        "ncols": ncols,
        "fontsize": "small",
        "frameon": False,
        "handler_map": handler_map,
    }
    gid = f"{_LEGEND_GID}:{ncols}"
    key = _legend_inputs(handles, ncols, handler_map)
    if _extent_key(fig, key, _TextCachingRenderer) in _LEGEND_EXTENTS:
        stand_in = _PastedLegend(fig, kwargs, gid, key)
        fig.legends.append(stand_in)
        stand_in._remove_method = fig.legends.remove
        fig.stale = True
        return
    _build_legend(fig, kwargs, gid, key)


def _build_legend(fig: Figure, kwargs: dict, gid: str, key: tuple):
    """The legend :func:`legend_below` describes, built by ``Figure.legend`` (last in
    ``fig.legends``), its texts literal, marked with its inputs' key and how it looked."""
    legend = fig.legend(**kwargs)
    legend.set_gid(gid)
    for text in legend.findobj(Text):
        text.set_parse_math(False)
    legend._kiemnhiem_key = key
    legend._kiemnhiem_look = _legend_look(legend)
    return legend


def _legend_look(legend) -> tuple:
    """What of a built legend may be changed after :func:`legend_below` (through
    ``fig.legends``) and would change its pixels: then it is drawn, not pasted."""
    return (
        tuple(text.get_text() for text in legend.get_texts()),
        legend.get_title().get_text(),
        legend.get_frame_on(),
        tuple(_artist_style(handle) for handle in legend.legend_handles),
    )


def _legend_inputs(handles: list, ncols: int, handler_map: dict | None) -> tuple:
    """Everything :func:`legend_below`'s legend is built from: each entry's label, the
    handler that draws its symbol and the style of the artist it copies, the columns and the
    legend's rcParams (read when the legend is built)."""
    merged = Legend.get_default_handler_map()
    if handler_map:
        merged = {**merged, **handler_map}
    entries = tuple(
        (
            str(handle.get_label()),
            id(Legend.get_legend_handler(merged, handle)),
            _artist_style(handle),
        )
        for handle in handles
    )
    return (ncols, entries, _legend_rc())


def _legend_rc() -> tuple:
    # dict.items: the raw values, without RcParams' per-item lookup (validated when set).
    return tuple(
        (name, str(value))
        for name, value in sorted(dict.items(mpl.rcParams))
        if name.startswith(_LEGEND_RC)
    )


def _extent_key(fig: Figure, key: tuple, renderer_kind: type) -> tuple:
    """A legend's extent, in the figure's pixels, depends on its inputs, the figure's size
    and dpi and the kind of renderer that measures it (its text metrics)."""
    return (key, fig.bbox.width, fig.bbox.height, fig.dpi, renderer_kind)


def _legend_extent(fig: Figure, legend, renderer):
    """The legend's window extent, kept for the next legend :func:`legend_below` would build
    the same (its :class:`_PastedLegend` answers it)."""
    key = getattr(legend, "_kiemnhiem_key", None)
    if key is None or isinstance(legend, _PastedLegend):
        return legend.get_window_extent(renderer)
    if _legend_look(legend) != legend._kiemnhiem_look:
        return legend.get_window_extent(renderer)
    if renderer is None:
        renderer = fig._get_renderer()
    ekey = _extent_key(fig, key, type(renderer))
    known = _LEGEND_EXTENTS.get(ekey)
    if known is None:
        if len(_LEGEND_EXTENTS) >= _LEGEND_PIXELS_MAX:
            _LEGEND_EXTENTS.clear()
        known = _LEGEND_EXTENTS[ekey] = legend.get_window_extent(renderer).frozen()
    return known.frozen()


class _PastedLegend(Artist):
    """Stands in ``fig.legends`` for a legend :func:`legend_below` has built before.

    It answers the legend's extent (:func:`place_axes`) from the one measured then, and
    :func:`draw_rgba` pastes the pixels drawn then. Anything else builds the legend (by
    the same ``Figure.legend`` call, once) and is answered by it: drawing it otherwise (a
    plain ``savefig``), its children (``findobj``), texts, handles and other attributes.
    """

    zorder = Legend.zorder

    def __init__(self, fig: Figure, kwargs: dict, gid: str, key: tuple):
        super().__init__()
        self.set_figure(fig)
        self.set_gid(gid)
        self._kiemnhiem_key = key
        self._kwargs = kwargs
        self._built = None

    def _legend(self):
        if self._built is None:
            fig = self.get_figure(root=False)
            legends = list(fig.legends)
            try:
                self._built = _build_legend(fig, self._kwargs, self.get_gid(), self._kiemnhiem_key)
            finally:
                fig.legends[:] = legends  # the built legend lives here, not in the list
        return self._built

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_built", "_kwargs", "_kiemnhiem_key"):
            raise AttributeError(name)
        return getattr(self._legend(), name)

    def draw(self, renderer):
        if self.get_visible():
            self._legend().draw(renderer)
        self.stale = False

    def get_window_extent(self, renderer=None):
        if self._built is None:
            fig = self.get_figure(root=False)
            if renderer is None:
                renderer = fig._get_renderer()
            known = _LEGEND_EXTENTS.get(_extent_key(fig, self._kiemnhiem_key, type(renderer)))
            if known is not None:
                return known.frozen()
        return self._legend().get_window_extent(renderer)

    def get_tightbbox(self, renderer=None):
        return self.get_window_extent(renderer)

    def get_children(self):
        return self._legend().get_children()


class ShownMaxNLocator(MaxNLocator):
    """:class:`~matplotlib.ticker.MaxNLocator`'s ticks less those outside the view.

    matplotlib asks for ticks a step beyond each end of the axis, then makes, labels and
    positions a tick object for each before leaving out those it does not draw: on a report's
    value axes about one tick in five, each costing as much as a drawn one. Dropping them
    here (with a margin far wider than matplotlib's own test, so no drawn tick is lost) gives
    the same drawing with fewer ticks made.
    """

    def __call__(self):
        return _in_view(self.axis, super().__call__())


class ShownAutoLocator(AutoLocator):
    """matplotlib's default :class:`~matplotlib.ticker.AutoLocator`, as
    :class:`ShownMaxNLocator`."""

    def __call__(self):
        return _in_view(self.axis, super().__call__())


def _in_view(axis, locs):
    low, high = sorted(axis.get_view_interval())
    slack = 1e-6 * (high - low)
    locs = np.asarray(locs)
    return locs[(locs >= low - slack) & (locs <= high + slack)]


def place_axes(fig: Figure, ax) -> None:
    """Place ``ax`` so that it, its ticks, labels and title fill the figure above the legend.

    Measured with the canvas's own renderer, whose text metrics the drawing then reuses. Twice
    when a value axis picks its ticks by the axes' length (matplotlib's default locator): the
    second pass measures the tick labels chosen for the final height.
    """
    with _ticks_measured_once(fig):
        _place_axes(fig, ax)


def _place_axes(fig: Figure, ax) -> None:
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    pad = _PAD * fig.dpi
    floor = pad
    for legend in fig.legends:
        floor = max(floor, _legend_extent(fig, legend, renderer).y1 + pad)
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


@contextlib.contextmanager
def _ticks_measured_once(fig: Figure):
    """Within the block, each axis makes and measures its ticks once per state of its axes.

    matplotlib asks an axis for its ticks (locator, formatter, each tick placed and labelled)
    and their labels' boxes again and again while it lays out or draws one figure: the axes'
    tight box, the title's placement (which measures the value axis in full to place a
    possible offset text), each axis label's placement, each spine's extent, then the axis'
    own drawing: 21 times per figure for the ticks, 13 for their labels' boxes, and the value
    axis' whole tight box twice per pass of :func:`place_axes`. Nothing they
    depend on changes in between, except the axes' position (:func:`place_axes` moves it
    between its passes), so the answers are kept, keyed by that position, the figure's size
    and dpi and the locator and formatter in use; a key that changes computes anew. The
    cached methods are instance attributes, removed when the block ends.
    """
    patched = []
    for ax in fig.axes:
        axes_state = _axes_state(ax)
        for axis in ax._axis_map.values():
            patched += _memoise(axis, "_update_ticks", axes_state, axis, list)
            patched += _memoise(axis, "_get_ticklabel_bboxes", axes_state, axis, _two_lists)
            patched += _memoise(axis, "get_tightbbox", axes_state, axis, _frozen)
        for spine in ax.spines.values():
            if spine.axis is not None:
                patched += _memoise(spine, "get_window_extent", axes_state, spine.axis, _frozen)
    try:
        yield
    finally:
        for obj, name in patched:
            obj.__dict__.pop(name, None)


def _axes_state(ax):
    """What the kept answers depend on that may change in a block: the axes' active position
    (``ax.bbox`` is it in the figure's pixels: with the figure's size and dpi), and which
    locator and formatter are in use. The view limits, which a block does not change, are not
    read: reading them (``ax.viewLim``) cost as much as a fifth of what was kept."""
    fig = ax.get_figure(root=True)
    position, inches = ax._position, fig.bbox_inches

    def state(axis):
        major, minor = axis.major, axis.minor
        return (
            position.get_points().tobytes(),
            inches.get_points().tobytes(),
            fig.dpi,
            id(major.locator),
            id(major.formatter),
            id(minor.locator),
            id(minor.formatter),
        )

    return state


def _frozen(bbox):
    return None if bbox is None else bbox.frozen()


def _two_lists(pair):
    return list(pair[0]), list(pair[1])


def _memoise(obj, name: str, axes_state, axis, copy_out) -> list:
    """``obj.name`` answered from a cache keyed by the axes' state and the arguments (by
    identity: ticks and renderers), as :func:`_ticks_measured_once` describes."""
    if name in obj.__dict__:
        return []  # already inside a block (nested): keep the outer one's cache
    method = getattr(obj, name)
    known: dict = {}

    def cached(*args, **kwargs):
        if kwargs:
            return method(*args, **kwargs)
        key = (
            axes_state(axis),
            tuple(tuple(map(id, a)) if isinstance(a, list) else id(a) for a in args),
        )
        if key in known:
            value = known[key]
        else:
            value = known[key] = method(*args)
        return value if copy_out is None else copy_out(value)

    setattr(obj, name, cached)
    return [(obj, name)]


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (without a timestamp, so equal figures give equal bytes).

    Drawn once by Agg (:func:`draw_rgba`) and written by :func:`_encode_png`: RGB when the
    figure is opaque (the alpha channel only cost bytes), lossless. A palette (PNG-8) would be
    four times smaller but merged the transition year's light hatching into a flat grey.
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
    if bool((pixels[..., 3] == 255).all()):
        return _encode_png(pixels[..., :3], dpi)
    return _encode_png(pixels, dpi)


def _encode_png(pixels: np.ndarray, dpi: float) -> bytes:
    """A PNG of ``pixels`` (rows from the top; RGB or RGBA, 8 bits) with its resolution.

    Written here rather than by Pillow (which ``savefig`` uses): Pillow filters every row
    adaptively (tries each PNG filter, keeps the best), which on these flat-coloured charts
    made files *larger* than no filter at all and took half of the encoding time. Unfiltered
    rows at zlib level 3: on a report's twenty charts (``benchmarks/bench_figures.py``)
    about 2.5 times faster than Pillow at level 1 and a tenth smaller (1030 KiB against
    1164 KiB of PNG for unit 124); level 6 would be 8 % smaller again at twice the time.
    """
    height, width, channels = pixels.shape
    rows = np.empty((height, width * channels + 1), dtype=np.uint8)
    rows[:, 0] = 0  # filter type 0 (None) on every row
    rows[:, 1:].reshape(height, width, channels)[...] = pixels  # one copy, even from RGBA's RGB
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if channels == 4 else 2, 0, 0, 0)
    per_metre = int(dpi / 0.0254 + 0.5)  # as Pillow writes it: 100 dpi -> 3937
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
            _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 3)),
            _png_chunk(b"IEND", b""),
        )
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF)
    )


#: Legends already drawn: key (:func:`_legend_key`) -> (left, bottom, pixels), in pixels from
#: the figure's left and bottom edges. A report's series charts share one legend (the unit,
#: the windows, the events) and its event studies another; drawing their text was about half
#: of drawing a figure, glyph by glyph. Bounded, and per process (each kernel has its own).
_LEGEND_PIXELS: dict[tuple, tuple[int, int, np.ndarray]] = {}
_LEGEND_PIXELS_MAX = 24
#: Legends laid out: (inputs, figure size, dpi, renderer kind) (:func:`_extent_key`) -> window
#: extent; :func:`legend_below` puts a :class:`_PastedLegend` where one is known. Bounded.
_LEGEND_EXTENTS: dict[tuple, object] = {}
_LEGEND_GID = "kiemnhiem-legend-below"
#: rcParams that change how a legend looks.
_LEGEND_RC = ("font.", "legend.", "text.", "lines.", "patch.", "hatch.", "figure.facecolor")


def draw_rgba(fig: Figure) -> np.ndarray:
    """The figure drawn by Agg at its dpi, as an RGBA array (rows from the top).

    A legend below the axes (:func:`legend_below`) that this process has drawn before, in a
    figure of the same size, dpi and style, is pasted from its pixels instead of drawn again:
    the key (:func:`_legend_key`) holds everything the legend was built from (every label,
    the handler and the style of every symbol) and what drawing reads, so equal keys mean
    equal pixels; the legend stands alone on the figure's background (the axes are placed
    above it), so the pasted block replaces exactly what drawing it would have produced.
    Ticks are made and measured once for the drawing (:func:`_ticks_measured_once`).
    """
    canvas = fig.canvas
    legend = fig.legends[0] if len(fig.legends) == 1 and not fig.texts else None
    key = _legend_key(fig, legend) if legend is not None and legend.get_visible() else None
    known = _LEGEND_PIXELS.get(key) if key is not None else None
    if known is not None:
        legend.set_visible(False)
    try:
        with _ticks_measured_once(fig):
            raw, (width, height) = canvas.print_to_buffer()
    finally:
        if known is not None:
            legend.set_visible(True)
    pixels = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 4)
    if key is None:
        return pixels
    if known is not None:
        pixels = pixels.copy()  # print_to_buffer's bytes are read-only
        left, bottom, block = known
        rows = block.shape[0]
        pixels[height - bottom - rows : height - bottom, left : left + block.shape[1]] = block
        return pixels
    box = _legend_extent(fig, legend, canvas.get_renderer())
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
    """Everything that decides a legend's pixels, or None when it may not be pasted: the
    inputs :func:`legend_below` built it from (:func:`_legend_inputs`), unless it was
    changed since; the figure's size (Agg lays hatching out from the canvas's top edge),
    dpi and background; the rcParams that drawing reads."""
    gid = str(legend.get_gid() or "")
    key = getattr(legend, "_kiemnhiem_key", None)
    if not gid.startswith(_LEGEND_GID) or key is None:
        return None
    built = legend._built if isinstance(legend, _PastedLegend) else legend
    if built is not None and _legend_look(built) != built._kiemnhiem_look:
        return None
    size = (fig.bbox.width, fig.bbox.height)
    return (gid, key, size, fig.dpi, str(fig.get_facecolor()), _legend_rc())


def _artist_style(artist) -> tuple:
    """What a legend symbol looks like, from its public getters (and its dash pattern)."""
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
        "get_hatch_linewidth",
        "get_capstyle",
        "get_joinstyle",
        "get_dash_capstyle",
        "get_solid_capstyle",
        "get_dash_joinstyle",
        "get_solid_joinstyle",
        "get_drawstyle",
        "get_fillstyle",
        "get_antialiased",
        "get_gapcolor",
        "get_markerfacecoloralt",
        "get_array",
        "get_number",  # plots' event entries: the number their handler draws
    ):
        method = getattr(artist, getter, None)
        if method is None:
            continue
        try:
            value = method()
        except (TypeError, ValueError, AttributeError):
            continue
        if isinstance(value, np.ndarray):
            rounded = value.round(6) if value.dtype.kind == "f" else value
            value = (value.shape, str(value.dtype), np.asarray(rounded).tobytes())
        elif not isinstance(value, (str, int, float, bool, type(None))):
            value = repr(value)
        style.append(value)
    # A dash pattern given as (offset, (on, off)) reads back as "--" from get_linestyle.
    dashes = getattr(artist, "_unscaled_dash_pattern", None)
    if dashes is not None:
        style.append(repr(dashes))
    paths = getattr(artist, "get_paths", None)
    if paths is not None:
        style.append(tuple(np.asarray(p.vertices).round(6).tobytes() for p in paths()))
    return tuple(style)
