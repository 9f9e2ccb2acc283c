using System.Globalization;
using ScottPlot;

namespace EdgeGuard.Compare;

/// <summary>PNG charts of a run: latency, peak memory and cold start per shape and engine, and latency against input length.</summary>
internal static class Charts
{
    private const int Width = 900;
    private const int Height = 500;

    /// <summary>Writes the charts next to <paramref name="outputStem"/> and returns their file names.</summary>
    public static List<string> Write(CompareResults results, string outputStem)
    {
        CompareSettings s = results.Settings;
        ResultSummary summary = results.Summary;
        var engines = s.EngineList.ToList();
        var written = new List<string>();
        int seq = s.Seqs.Contains(128) ? 128 : s.Seqs[^1];
        int batch = s.Batches[0], threads = s.Threads.Max();
        string where = string.Create(CultureInfo.InvariantCulture, $"{seq} tokens, batch {batch}, {threads} threads");

        void Save(Plot plot, string suffix)
        {
            string path = $"{outputStem}-{suffix}.png";
            plot.SavePng(path, Width, Height);
            written.Add(Path.GetFileName(path));
        }

        Save(ShapeBars(s, engines, summary, seq, batch, threads, c => c.P50Ms, $"Latency per call, p50 ({where})", "ms"), "latency");
        Save(ShapeBars(s, engines, summary, seq, batch, threads, c => c.PeakRssBytes / 1048576.0, $"Peak resident memory of the process ({where})", "MiB"), "memory");
        Save(ShapeBars(s, engines, summary, seq, batch, threads, c => c.ColdStartMs, $"Cold start: launch to first verdict ({where})", "ms"), "cold-start");
        if (s.Seqs.Count > 1)
        {
            string shape = s.Shapes[^1];
            var plot = new Plot();
            for (int e = 0; e < engines.Count; e++)
            {
                var points = s.Seqs
                    .Select(q => (Seq: q, Ms: summary.Find(new Cell(shape, q, batch, threads), engines[e].Id)?.P50Ms))
                    .Where(p => p.Ms.HasValue)
                    .ToList();
                if (points.Count == 0)
                {
                    continue;
                }

                var line = plot.Add.Scatter(points.Select(p => (double)p.Seq).ToArray(), points.Select(p => p.Ms!.Value).ToArray(), EngineColor(engines[e]));
                line.LegendText = engines[e].Name;
                line.MarkerSize = 7;
            }

            plot.Title(string.Create(CultureInfo.InvariantCulture, $"Latency per call, p50, by input length ({shape}, batch {batch}, {threads} threads)"));
            plot.XLabel("tokens");
            plot.YLabel("ms");
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                [.. s.Seqs.Select(q => (double)q)], [.. s.Seqs.Select(q => q.ToString(CultureInfo.InvariantCulture))]);
            // Latency grows from zero tokens: start both axes at zero so slopes compare by eye.
            double highest = summary.Cells.Where(c => c.Shape == shape && c.Batch == batch && c.Threads == threads).Max(c => c.P50Ms) ?? 1;
            plot.Axes.SetLimits(0, s.Seqs.Max() * 1.05, 0, highest * 1.1);
            plot.ShowLegend(Alignment.UpperLeft);
            Save(plot, "tokens");
        }

        return written;
    }

    /// <summary>One group of bars per shape, one bar per engine, the value printed on each bar.</summary>
    private static Plot ShapeBars(
        CompareSettings s, List<Engine> engines, ResultSummary summary, int seq, int batch, int threads, Func<EngineCellSummary, double?> value, string title, string unit)
    {
        var plot = new Plot();
        var bars = new List<Bar>();
        const double groupWidth = 0.8;
        double barWidth = groupWidth / engines.Count;
        for (int g = 0; g < s.Shapes.Count; g++)
        {
            for (int e = 0; e < engines.Count; e++)
            {
                if (summary.Find(new Cell(s.Shapes[g], seq, batch, threads), engines[e].Id) is not { } cell || value(cell) is not { } v)
                {
                    continue;
                }

                bars.Add(new Bar
                {
                    Position = g - (groupWidth / 2) + ((e + 0.5) * barWidth),
                    Value = v,
                    Size = barWidth * 0.9,
                    FillColor = EngineColor(engines[e]),
                    Label = v.ToString(v >= 100 ? "F0" : "F1", CultureInfo.InvariantCulture),
                });
            }
        }

        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 11;
        for (int e = 0; e < engines.Count; e++)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = engines[e].Name, FillColor = EngineColor(engines[e]) });
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. Enumerable.Range(0, s.Shapes.Count).Select(g => (double)g)], [.. s.Shapes]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Margins(bottom: 0, top: 0.15);
        plot.Title(title);
        plot.YLabel(unit);
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>The same colour for an engine in every chart, whichever engines a run has.</summary>
    private static Color EngineColor(Engine engine) => new ScottPlot.Palettes.Category10().GetColor(Engine.All.ToList().IndexOf(engine));
}
