// Package viz draws LossLab's figures: line plots (with mean ± spread bands and log axes), scatter,
// bar (with error bars) and histogram plots, heatmaps with a colour bar, filled contours with an overlaid trajectory,
// interactive 3D surfaces, small multiples and tables.
//
// The general constructors take plain Go data (slices, grids, Series) and return a *Figure (or a
// *Table); a few draw LossLab's own results directly: Training and TrainingRuns a lib/train Result,
// LandscapePath, LandscapeGrid, LayerwiseLMC and HessianDensity results of lib/landscape, and the live
// watchers below. A figure renders to SVG, PNG or a self-contained HTML page, shows itself inline in a
// GoNB notebook cell with Show, and saves itself with Save (the format follows the file extension; the
// write is atomic):
//
//	viz.Lines("Training loss", "step", "loss (nats)",
//		viz.XY("SGD", steps, sgd), viz.XY("Adam", steps, adam)).LogY().Show()
//
// Errors (bad shapes, NaN where NaN cannot be drawn, non-positive values on a log axis) do not
// panic: the constructor records the error in the figure, Err reports it, and every output method
// (Show, Save, SVG, PNG, HTML) returns it. In a notebook Show also prints it in the cell, so a bad
// figure is never a silent blank.
//
// # Missing values
//
// NaN and ±Inf values are handled per plot kind, and never silently:
//   - Lines: a non-finite y value breaks the line (and its band) at that point; the figure carries
//     a footnote that names the series and how many points were left out. A series with no finite
//     point is an error. Non-finite x values are an error.
//   - Scatter: non-finite points are left out, with the same footnote.
//   - Bar, Histogram: non-finite values are an error.
//   - Heatmap: non-finite cells are drawn grey and a footnote says so.
//   - Contour and Surface: non-finite cells are left unfilled (grey) in the static figure and out
//     of the contour lines, with a footnote; in Plotly they are gaps. A grid with no finite value is
//     an error.
//
// # House style
//
// One style for every figure: the Okabe–Ito colour-blind-safe palette for series (cycling line
// dashes after eight series), viridis for colour scales, Liberation Sans (metric-compatible with
// Arial, which browsers substitute) at 14 pt titles, 12 pt labels and 10 pt ticks, a legend only
// when there are several series (outside the data area: on the right, or in rows under the plot when
// its entries are long or the panel narrow), and a default size of
// 720×450 px. Axis labels should carry their units, e.g. "step" or "loss (nats)".
//
// # Uncertainty
//
// Bands on lines and error bars on bars come from a series' Lo and Hi. Say what they are: MeanBand
// (mean ± 1 s.d. over runs), MeanSE (mean ± 1 standard error) and Spread (an interval of the caller's)
// record it in Series.Interval, WithInterval sets it on any series, and the legend (or a footnote,
// when there is no legend) shows it.
//
// # Live pictures
//
// LiveTraining, LivePath and LiveGrid are watchers for train.Config.Watch, landscape.PathOptions.Watch and
// landscape.GridOptions.Watch: in a notebook the cell shows the training curves growing, the interpolation
// path growing from α = 0, or the plane filling in, redrawn in place every few seconds (LiveEvery), and ends
// with the static figure Training, LandscapePath or LandscapeGrid draws for the finished result. Outside a notebook they do nothing; in quick mode they draw only the final figure.
//
// # Static and interactive output
//
// Static figures are drawn with gonum.org/v1/plot. Inline display uses inline SVG, which needs no
// network and survives nbconvert to HTML. Interactive figures (zoom, hover, rotating a 3D surface)
// use Plotly: call Interactive on a figure (Surface is interactive by default). plotly.js is read
// from $LOSSLAB_PLOTLY (a path to plotly.min.js) or from the copy that InstallPlotly put under
// nb.Home()/plotly at set-up time; nothing is ever fetched from the network while plotting. In a
// notebook, plotly.js is embedded in the first interactive output of a kernel session only and later
// figures reuse window.Plotly; every interactive output also carries its static SVG, which shows
// wherever scripts do not run. Without plotly.js an interactive figure falls back to its static form
// and says so in one line.
package viz
