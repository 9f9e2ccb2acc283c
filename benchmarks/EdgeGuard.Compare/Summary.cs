using System.Text.Json.Serialization;
using EdgeGuard.Evaluation;

namespace EdgeGuard.Compare;

/// <summary>One engine at one cell, over all its rounds. Statistics are null when no child of it succeeded.</summary>
/// <param name="Runs">Children launched.</param>
/// <param name="FailedRuns">Children that produced no result.</param>
/// <param name="Samples">Measured calls of all successful children together.</param>
/// <param name="P50Ms">Median call latency over all samples.</param>
/// <param name="P90Ms">90th percentile.</param>
/// <param name="P99Ms">99th percentile.</param>
/// <param name="VerdictsPerSecond">Rows per second of call time: batch × samples / summed latencies.</param>
/// <param name="ColdStartMs">Median over children of launch → first verdict.</param>
/// <param name="OpenedMs">Median over children of launch → model open.</param>
/// <param name="PeakRssBytes">Median over children of the peak resident memory.</param>
/// <param name="ModelBytes">Size of the model file.</param>
internal sealed record EngineCellSummary(
    string Shape,
    int Seq,
    int Batch,
    int Threads,
    string Engine,
    int Runs,
    int FailedRuns,
    int Samples,
    double? P50Ms,
    double? P90Ms,
    double? P99Ms,
    double? VerdictsPerSecond,
    double? ColdStartMs,
    double? OpenedMs,
    long? PeakRssBytes,
    long ModelBytes)
{
    [JsonIgnore]
    public Cell Cell => new(Shape, Seq, Batch, Threads);
}

/// <summary>Verdicts of two engines of one shape on the same fixed rows, over every sequence length scored.</summary>
/// <param name="Rows">Rows both engines scored.</param>
/// <param name="SameDecisions">Rows both flagged or both passed, each at its own threshold.</param>
/// <param name="MaxAbsDelta">Largest |P_a(unsafe) − P_b(unsafe)|.</param>
/// <param name="MeanAbsDelta">Mean |P_a(unsafe) − P_b(unsafe)|.</param>
internal sealed record AgreementSummary(string Shape, string EngineA, string EngineB, int Rows, int SameDecisions, double MaxAbsDelta, double MeanAbsDelta);

/// <summary>A model file under comparison.</summary>
internal sealed record ModelFile(string Shape, string Engine, string Path, long Bytes);

/// <summary>Everything derived from the raw child runs.</summary>
internal sealed record ResultSummary(IReadOnlyList<EngineCellSummary> Cells, IReadOnlyList<AgreementSummary> Agreement, IReadOnlyList<TargetCheck> Targets)
{
    public static ResultSummary Compute(CompareSettings settings, IReadOnlyList<ModelFile> models, IReadOnlyList<ChildRun> runs)
    {
        var cells = new List<EngineCellSummary>();
        foreach (Cell cell in settings.Cells())
        {
            foreach (Engine engine in settings.EngineList)
            {
                var mine = runs.Where(r => r.Engine == engine.Id && r.Cell == cell).ToList();
                long bytes = models.FirstOrDefault(m => m.Shape == cell.Shape && m.Engine == engine.Id)?.Bytes ?? 0;
                cells.Add(Summarize(cell, engine, mine, bytes));
            }
        }

        return new ResultSummary(cells, Agree(settings, runs), TargetCheck.Evaluate(settings, cells));
    }

    public EngineCellSummary? Find(Cell cell, string engine) => Cells.FirstOrDefault(c => c.Engine == engine && c.Cell == cell);

    internal static EngineCellSummary Summarize(Cell cell, Engine engine, IReadOnlyList<ChildRun> runs, long modelBytes)
    {
        var ok = runs.Where(r => r.Succeeded).ToList();
        double[] samples = [.. ok.SelectMany(r => r.LatenciesMs)];
        double? Pct(double p) => samples.Length == 0 ? null : LatencyStats.Percentile(samples, p);
        double? throughput = samples.Length == 0 ? null : cell.Batch * samples.Length / (samples.Sum() / 1000.0);
        return new EngineCellSummary(
            cell.Shape, cell.Seq, cell.Batch, cell.Threads, engine.Id, runs.Count, runs.Count - ok.Count, samples.Length,
            Pct(50), Pct(90), Pct(99), throughput,
            Median(ok.Select(r => r.FirstVerdictMs)), Median(ok.Select(r => r.OpenedMs)),
            Median(ok.Select(r => (double?)r.PeakRssBytes)) is { } rss ? (long)rss : null,
            modelBytes);
    }

    /// <summary>Every pair of engines, per shape, over the rows both scored at each sequence length.</summary>
    internal static List<AgreementSummary> Agree(CompareSettings settings, IReadOnlyList<ChildRun> runs)
    {
        var engines = settings.EngineList.ToList();
        var result = new List<AgreementSummary>();
        foreach (string shape in settings.Shapes)
        {
            for (int i = 0; i < engines.Count; i++)
            {
                for (int j = i + 1; j < engines.Count; j++)
                {
                    int rows = 0, same = 0;
                    double max = 0, sum = 0;
                    foreach (int seq in settings.Seqs)
                    {
                        ChildRun? a = Scored(runs, shape, seq, engines[i].Id), b = Scored(runs, shape, seq, engines[j].Id);
                        if (a is null || b is null)
                        {
                            continue;
                        }

                        int n = Math.Min(a.UnsafeScores.Length, b.UnsafeScores.Length);
                        for (int r = 0; r < n; r++)
                        {
                            double delta = Math.Abs((double)a.UnsafeScores[r] - b.UnsafeScores[r]);
                            rows++;
                            same += (a.UnsafeScores[r] >= a.Threshold) == (b.UnsafeScores[r] >= b.Threshold) ? 1 : 0;
                            max = Math.Max(max, delta);
                            sum += delta;
                        }
                    }

                    if (rows > 0)
                    {
                        result.Add(new AgreementSummary(shape, engines[i].Id, engines[j].Id, rows, same, max, sum / rows));
                    }
                }
            }
        }

        return result;
    }

    private static ChildRun? Scored(IReadOnlyList<ChildRun> runs, string shape, int seq, string engine) =>
        runs.FirstOrDefault(r => r.Succeeded && r.Shape == shape && r.Seq == seq && r.Engine == engine && r.UnsafeScores.Length > 0);

    internal static double? Median(IEnumerable<double?> values)
    {
        double[] present = [.. values.Where(v => v.HasValue).Select(v => v!.Value)];
        return present.Length == 0 ? null : LatencyStats.Percentile(present, 50);
    }
}
