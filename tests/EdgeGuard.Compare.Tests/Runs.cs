namespace EdgeGuard.Compare.Tests;

/// <summary>Child runs and settings made up for the tests: the numbers are inputs, not measurements.</summary>
internal static class Runs
{
    public static CompareSettings Settings(string[]? shapes = null, int[]? threads = null, string[]? engines = null) =>
        CompareSettings.Quick with
        {
            Shapes = shapes ?? ["base"],
            Seqs = [128],
            Threads = threads ?? [1, 2],
            Engines = engines ?? [.. Engine.All.Select(e => e.Id)],
            Rounds = 2,
            AgreementRows = 3,
        };

    public static ChildRun Ok(
        string engine, Cell cell, double[] latencies, int round = 0, double firstVerdict = 1000, long peakRss = 100L << 20, float[]? scores = null, float threshold = 0.5f) =>
        new(cell.Shape, cell.Seq, cell.Batch, cell.Threads, engine, round, 0, 0, null, firstVerdict / 2, firstVerdict, firstVerdict + 500, peakRss, threshold, latencies, scores ?? []);

    public static ChildRun Failed(string engine, Cell cell, int round = 0) =>
        new(cell.Shape, cell.Seq, cell.Batch, cell.Threads, engine, round, 0, 2, "exit code 2: edgeguard: error: out of memory", null, null, 300, null, null, [], []);
}
