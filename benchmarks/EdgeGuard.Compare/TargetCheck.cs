namespace EdgeGuard.Compare;

/// <summary>
/// One of the targets for EdgeGuard against ONNX Runtime, at one shape and precision: the measured values,
/// their ratio and whether it is within the limit. Values are null where the run did not measure them.
/// </summary>
/// <param name="Measure"><c>latency p50</c>, <c>peak RSS</c> or <c>cold start</c>.</param>
/// <param name="Shape">Model shape.</param>
/// <param name="Precision"><c>float32</c> or <c>int8</c>.</param>
/// <param name="Limit">Largest EdgeGuard / ONNX Runtime ratio that meets the target.</param>
/// <param name="Unit"><c>ms</c> or <c>MiB</c>.</param>
/// <param name="EdgeGuard">EdgeGuard's value.</param>
/// <param name="OnnxRuntime">ONNX Runtime's value.</param>
internal sealed record TargetCheck(
    string Measure, string Shape, string Precision, Cell Cell, double Limit, string Unit, double? EdgeGuard, double? OnnxRuntime)
{
    public const string Latency = "latency p50";
    public const string PeakRss = "peak RSS";
    public const string ColdStart = "cold start";

    /// <summary>The cell the issue states its latency target at: one row of 128 tokens on 2 threads. Memory and cold start are read there too.</summary>
    public static Cell ReferenceCell(string shape) => new(shape, 128, 1, 2);

    public double? Ratio => EdgeGuard is { } e && OnnxRuntime is { } o && o > 0 ? e / o : null;

    public bool? Met => Ratio is { } r ? r <= Limit : null;

    /// <summary>
    /// The targets: EdgeGuard int8 ≤ 0.7× ORT int8 p50 latency on base and large; peak RSS ≤ 0.5× and cold start
    /// ≤ 0.3× ORT's for the same model and precision, on every shape of the run.
    /// </summary>
    public static List<TargetCheck> Evaluate(CompareSettings settings, IReadOnlyList<EngineCellSummary> cells)
    {
        var checks = new List<TargetCheck>();
        foreach (string shape in new[] { "base", "large" })
        {
            checks.Add(Check(cells, Latency, shape, "int8", 0.7, "ms", c => c.P50Ms));
        }

        foreach (string shape in settings.Shapes)
        {
            foreach (string precision in new[] { "float32", "int8" })
            {
                checks.Add(Check(cells, PeakRss, shape, precision, 0.5, "MiB", c => c.PeakRssBytes / 1048576.0));
            }
        }

        foreach (string shape in settings.Shapes)
        {
            foreach (string precision in new[] { "float32", "int8" })
            {
                checks.Add(Check(cells, ColdStart, shape, precision, 0.3, "ms", c => c.ColdStartMs));
            }
        }

        return checks;
    }

    private static TargetCheck Check(IReadOnlyList<EngineCellSummary> cells, string measure, string shape, string precision, double limit, string unit, Func<EngineCellSummary, double?> value)
    {
        Cell cell = ReferenceCell(shape);
        Engine edgeGuard = Engine.All.First(e => e.IsEdgeGuard && e.Precision == precision);
        double? Value(Engine engine) => cells.FirstOrDefault(c => c.Engine == engine.Id && c.Cell == cell) is { } found ? value(found) : null;
        return new TargetCheck(measure, shape, precision, cell, limit, unit, Value(edgeGuard), Value(edgeGuard.Counterpart));
    }
}
