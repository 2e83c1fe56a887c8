"""The caches of :mod:`kiemnhiem.report.drawing` give matplotlib's own pixels (issue 15).

The charts themselves are compared with matplotlib's full drawing in ``test_plots.py``; here
the text cache is pushed where a cache could go wrong: the same string in another colour,
size, weight, angle or antialiasing, and at positions that differ by fractions of a pixel
and by whole pixels.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from kiemnhiem.report import drawing


def _text_figure() -> Figure:
    fig = Figure(figsize=(4, 6), dpi=100)  # 400 x 600 pixels
    # The same string in other colours, sizes, weights, angles and antialiasing; each also
    # moved by fractions of a pixel (1/64 is FreeType's step) and by whole pixels, across and
    # up: rows are 12 pixels apart, so that a row's vertical position within its pixel is
    # the same as the one above it unless ``up`` moves it.
    variants = [
        {"color": "black"},
        {"color": "#D55E00"},
        {"color": "#0072B2", "alpha": 0.5},
        {"fontsize": 9},
        {"fontsize": 11, "fontweight": "bold"},
        {"rotation": 90},
        {"rotation": 30},
        {"antialiased": False},
    ]
    row = 0
    for style in variants:
        for across, up in ((0, 0), (1 / 64, 0), (0.3, 0), (0.5, 0), (1, 0), (7, 0), (0, 0.3)):
            fig.text(0.02 + across / 400, (10 + 12 * row + up) / 600, "2015 Năm Ty", **style)
            row += 1
    return fig


def _plain_pixels(fig: Figure) -> np.ndarray:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="rgba", dpi=fig.dpi)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8).reshape(600, 400, 4)


def _cached_pixels(fig: Figure) -> np.ndarray:
    fig.set_canvas(drawing._SharedRendererCanvas(fig))
    return drawing.draw_rgba(fig).copy()


@pytest.mark.skipif(not drawing._PER_GLYPH, reason="this matplotlib draws text through Agg")
def test_cached_text_gives_the_pixels_agg_draws():
    drawing._GLYPHS.clear()
    drawing._LAYOUTS.clear()
    reference = _plain_pixels(_text_figure())
    first = _cached_pixels(_text_figure())
    glyphs = len(drawing._GLYPHS)
    second = _cached_pixels(_text_figure())
    # The second drawing renders no glyph: it is composited from the first's bitmaps ...
    assert glyphs > 0 and len(drawing._GLYPHS) == glyphs
    # ... and both are Agg's own pixels, colour, size, angle and position kept apart.
    assert np.array_equal(first, reference)
    assert np.array_equal(second, reference)


@pytest.mark.skipif(not drawing._PER_GLYPH, reason="this matplotlib draws text through Agg")
def test_one_string_keeps_one_layout_per_size_and_shares_its_glyphs():
    drawing._GLYPHS.clear()
    drawing._LAYOUTS.clear()
    fig = Figure(figsize=(4, 3), dpi=100)
    fig.text(0.1, 0.5, "2015")
    fig.text(0.3, 0.5, "2015")  # 120 pixels to the right: a whole-pixel move of the first
    fig.text(0.1, 0.2, "2015", fontsize=14)
    _cached_pixels(fig)
    layouts = [key for key in drawing._LAYOUTS if key[2] == "2015"]
    assert len(layouts) == 2  # one per size
    # 4 glyphs at 10 points, shared by both texts of that size, and 4 at 14 points ("2015"
    # has no repeated digit): 8 bitmaps, not 12.
    assert len(drawing._GLYPHS) == 8


def test_font_metrics_hook_gives_matplotlibs_own_text_boxes():
    # matplotlib measures a text's line height from the font's tables unless the renderer
    # answers _get_font_height_metrics; the cached answer must give the same boxes.
    fig = Figure(figsize=(4, 3), dpi=150)
    texts = [fig.text(0.1, 0.1 * i, "Năm\n2015", fontsize=6 + 2 * i) for i in range(1, 6)]
    plain = FigureCanvasAgg(fig).get_renderer()
    expected = [t.get_window_extent(plain).bounds for t in texts]
    cached = drawing._SharedRendererCanvas(fig).get_renderer()
    for _ in range(2):
        assert [t.get_window_extent(cached).bounds for t in texts] == expected


def test_png_is_lossless_rgb_or_rgba_with_its_resolution():
    rng = np.random.default_rng(0)
    for channels in (3, 4):
        pixels = rng.integers(0, 256, size=(7, 5, channels), dtype=np.uint8)
        with Image.open(io.BytesIO(drawing._encode_png(pixels, 150))) as image:
            assert image.mode == ("RGBA" if channels == 4 else "RGB")
            assert np.array_equal(np.asarray(image), pixels)
            # 150 dpi = 150 / 0.0254 = 5905.5 dots per metre, stored as 5906.
            assert image.info["dpi"] == pytest.approx((5906 * 0.0254,) * 2)


@pytest.mark.skipif(not drawing._PER_GLYPH, reason="this matplotlib draws text through Agg")
def test_texts_drawn_at_one_point_in_other_looks_are_not_confused():
    # Drawn straight on the renderers, every text at the same point: the first glyph of each
    # sits at the same position to the 1/64 pixel, so only the cache's key tells them apart.
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    drawing._GLYPHS.clear()
    drawing._LAYOUTS.clear()
    looks = [
        (FontProperties(size=10), 0, "black", True),
        (FontProperties(size=10), 90, "black", True),
        (FontProperties(size=10), 45, "black", True),
        (FontProperties(size=10), 0, "#D55E00", True),
        (FontProperties(size=10), 0, "black", False),
        (FontProperties(size=12), 0, "black", True),
        (FontProperties(size=10, weight="bold"), 0, "black", True),
    ]
    for look in looks:
        for x, y in ((50.0, 60.0), (50.25, 60.0)):
            plain = RendererAgg(120, 100, 100)
            cached = drawing._TextCachingRenderer(120, 100, 100)
            for renderer in (plain, cached, cached):  # the second time from the cache
                if renderer is cached:
                    renderer.clear()
                gc = renderer.new_gc()
                prop, angle, colour, antialiased = look
                gc.set_foreground(colour)
                gc.set_antialiased(antialiased)
                renderer.draw_text(gc, x, y, "2015 Ty", prop, angle)
                gc.restore()
                assert np.array_equal(
                    np.asarray(renderer.buffer_rgba()), np.asarray(plain.buffer_rgba())
                ), (look, x, y)


def test_figures_from_the_pickled_skeleton_are_new_and_follow_their_axes():
    # new_figure unpickles an empty figure built once per size; each call must give objects
    # of its own, whose transforms still hear of every change. The second failed once: an
    # unpickled transform knows its parents by the pickled objects' ids, and a transform
    # born at a freed one's address pushed a parent out (drawing.py keeps them alive).
    from matplotlib.transforms import blended_transform_factory

    figures = []
    for i in range(12):
        fig, ax = drawing.new_figure((7.5, 4.6 + (i % 3) * 0.22))
        # New transforms built on the axes' (as ax.text(..., transform=...) makes), which may
        # be born where pickled objects were.
        built_on = [blended_transform_factory(ax.transData, ax.transAxes) for _ in range(300)]
        ax.set_position([0.1, 0.2 + i / 600, 0.8, 0.6])
        ax.set_ylim(0, 10 + i)
        assert built_on[-1].transform((0, 0.5))[1] == pytest.approx(
            ax.transAxes.transform((0, 0.5))[1]
        )
        centre = ax.transAxes.transform((0.5, 0.5))
        assert ax.yaxis.label.get_transform().transform((0, 0.5))[1] == pytest.approx(centre[1])
        assert ax.xaxis.label.get_transform().transform((0.5, 0))[0] == pytest.approx(centre[0])
        tick = ax.yaxis.get_major_ticks()[1]
        tick.update_position(5.0)
        assert tick.label1.get_transform().transform((0, 5.0))[1] == pytest.approx(
            ax.transData.transform((0, 5.0))[1]
        )
        figures.append((fig, ax))
    assert len({id(ax) for _fig, ax in figures}) == len(figures)
    # The reason they do: every id an unpickled transform knows a parent by is taken by a
    # live object (the pickled one), so no new transform can be given it.
    import gc

    fig, ax = drawing.new_figure((7.5, 4.6))
    live = {id(obj) for obj in gc.get_objects()}
    for node in (ax.transAxes, ax.transData, ax.bbox, ax._position, fig.transFigure, fig.bbox):
        assert node._parents and all(key in live for key in node._parents)
    # The first figures were not moved by the later ones.
    first_fig, first_ax = figures[0]
    assert first_ax.get_position().bounds == pytest.approx((0.1, 0.2, 0.8, 0.6))
    assert first_ax.get_ylim() == (0, 10)


def test_one_skeleton_per_size_and_style():
    import matplotlib as mpl

    drawing._SKELETONS.clear()
    built = len(drawing._BUILT)
    for _ in range(3):
        drawing.new_figure((7.5, 4.2))
        drawing.new_figure((7.5, 4.6))
    assert len(drawing._BUILT) == built + 2  # one per size, then unpickled
    with mpl.rc_context({"font.size": 12, "axes.edgecolor": "red"}):
        fig, ax = drawing.new_figure((7.5, 4.2))  # other defaults: built anew, and used
        assert ax.yaxis.label.get_fontsize() == 12
        assert ax.spines["left"].get_edgecolor()[:3] == (1.0, 0.0, 0.0)
    assert len(drawing._BUILT) == built + 3
    fig, ax = drawing.new_figure((7.5, 4.6))
    assert ax.yaxis.label.get_fontsize() == 10
    assert len(drawing._BUILT) == built + 3


def _legend_chart(labels: list[str], linestyle) -> tuple[Figure, object]:
    fig, ax = drawing.new_figure((6.0, 4.0))
    handles = [
        ax.plot([0, 1], [i, i + 1], label=text, linestyle=linestyle, linewidth=2)[0]
        for i, text in enumerate(labels)
    ]
    drawing.legend_below(fig, handles, 2)
    drawing.place_axes(fig, ax)
    return fig, ax


def _savefig_pixels(fig: Figure) -> np.ndarray:
    """The figure drawn by a plain Agg canvas (which builds a stand-in's legend and draws it)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="rgba", dpi=fig.dpi)
    width, height = (int(round(v)) for v in fig.bbox.size)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8).reshape(height, width, 4)


def test_a_legend_laid_out_and_pasted_from_the_caches_is_the_one_its_figure_would_build():
    # Legends that differ only in one label, in their number of entries (so in their height:
    # the axes above must move) or in a dash pattern that reads back as "--" from
    # get_linestyle: a cache that confused them would lay a figure out for another legend's
    # height, or paste another legend's pixels.
    drawing._LEGEND_EXTENTS.clear()
    drawing._LEGEND_PIXELS.clear()
    looks = [
        (["a", "b"], "-"),
        (["a", "c"], "-"),
        (["a", "b", "c", "d", "e"], "-"),
        (["a", "b"], "--"),
        (["a", "b"], (0, (2, 2))),
    ]
    first: dict[int, tuple] = {}
    for round_ in range(2):  # the second round from what the first left in the caches
        for i, (labels, style) in enumerate(looks):
            fig, ax = _legend_chart(labels, style)
            legend = fig.legends[0]
            # First round: each legend is new, so built; second: each is known, so not.
            assert isinstance(legend, drawing._PastedLegend) == (round_ == 1), (i, round_)
            pixels = drawing.draw_rgba(fig).copy()
            extent = legend.get_window_extent(fig.canvas.get_renderer()).bounds
            position = ax.get_position().bounds
            if round_ == 0:
                first[i] = (extent, position)
            else:
                # Laid out as when the legend was built ...
                assert (extent, position) == first[i], i
                # ... and the extent is the one the legend, built now, measures.
                built = legend._legend()
                assert built.get_window_extent(fig.canvas.get_renderer()).bounds == extent
            # The pixels are those matplotlib draws with the legend built (the stand-in
            # builds it when a plain canvas draws the figure).
            assert np.array_equal(pixels, _savefig_pixels(fig)), (i, round_)
    # The five legends were told apart: five extents, not fewer.
    assert len({extent for extent, _position in first.values()}) >= 2
    assert len(drawing._LEGEND_EXTENTS) == len(looks)


def test_a_stand_in_legend_answers_as_the_legend_it_stands_for():
    drawing._LEGEND_EXTENTS.clear()
    _legend_chart(["Năm $x$", "b"], "-")  # lays the legend out once
    fig, _ax = _legend_chart(["Năm $x$", "b"], "-")
    legend = fig.legends[0]
    assert isinstance(legend, drawing._PastedLegend)
    assert legend._built is None  # laying the figure out did not build it
    # Asked for its parts, it builds the legend, whose texts are literal like the first's.
    assert [t.get_text() for t in legend.get_texts()] == ["Năm $x$", "b"]
    assert all(not t.get_parse_math() for t in legend.get_texts())
    found = [t.get_text() for t in fig.findobj(Text) if "$" in t.get_text()]
    assert found == ["Năm $x$"]  # and the figure's walk finds them
    assert legend.get_gid().startswith(drawing._LEGEND_GID)
    assert fig.legends == [legend]  # the built legend is behind the stand-in, not beside it
