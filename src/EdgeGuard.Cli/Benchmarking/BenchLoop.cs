using System.Diagnostics;
using System.Numerics.Tensors;

namespace EdgeGuard.Cli.Benchmarking;

/// <summary>Computes the logits of <paramref name="batch"/> rows of <paramref name="seq"/> tokens; any backend's engine.</summary>
internal delegate void ForwardLogits(ReadOnlySpan<int> ids, ReadOnlySpan<int> lengths, int batch, int seq, Span<float> logits, CancellationToken cancellationToken);

/// <summary>How long and how much <c>edgeguard bench</c> measures.</summary>
/// <param name="Seq">Tokens per row, special tokens included.</param>
/// <param name="Batch">Rows per call.</param>
/// <param name="Iters">Measured calls at most.</param>
/// <param name="Warmup">Unmeasured calls first, at least.</param>
/// <param name="WarmupSeconds">Unmeasured calls go on until this much time has passed (0: just <see cref="Warmup"/> calls).</param>
/// <param name="MaxSeconds">Measured calls stop once this much time has passed, after at least one (0: no limit).</param>
internal sealed record BenchPlan(int Seq, int Batch, int Iters, int Warmup, double WarmupSeconds, double MaxSeconds);

/// <summary>What one bench run measured: the duration of every measured call and the time they took together.</summary>
/// <param name="LatenciesMs">Milliseconds per measured call, in the order they ran.</param>
/// <param name="MeasuredSeconds">Wall time of the measured calls, loop included.</param>
internal sealed record BenchMeasurement(double[] LatenciesMs, double MeasuredSeconds);

/// <summary>
/// The backend-independent part of <c>edgeguard bench</c>: warm-up, timed calls and scoring of fixed rows, around a
/// <see cref="ForwardLogits"/> that a backend supplies.
/// </summary>
internal static class BenchLoop
{
    /// <summary>
    /// Warms up, then times calls on the fixed batch. <paramref name="firstVerdict"/> runs as soon as the first call
    /// returns, so a parent process can time start-up to first verdict.
    /// </summary>
    public static BenchMeasurement Run(ForwardLogits forward, int numLabels, BenchInputs inputs, BenchPlan plan, Action firstVerdict, CancellationToken cancellationToken)
    {
        int[] ids = inputs.TimedBatch(plan.Batch, plan.Seq);
        int[] lengths = new int[plan.Batch];
        Array.Fill(lengths, plan.Seq);
        float[] logits = new float[plan.Batch * numLabels];
        bool first = true;

        long warmupStarted = Stopwatch.GetTimestamp();
        for (int i = 0; i < plan.Warmup || Stopwatch.GetElapsedTime(warmupStarted).TotalSeconds < plan.WarmupSeconds; i++)
        {
            forward(ids, lengths, plan.Batch, plan.Seq, logits, cancellationToken);
            if (first)
            {
                first = false;
                firstVerdict();
            }
        }

        var latencies = new List<double>(plan.Iters);
        long started = Stopwatch.GetTimestamp();
        while (latencies.Count < plan.Iters && (latencies.Count == 0 || plan.MaxSeconds <= 0 || Stopwatch.GetElapsedTime(started).TotalSeconds < plan.MaxSeconds))
        {
            long t0 = Stopwatch.GetTimestamp();
            forward(ids, lengths, plan.Batch, plan.Seq, logits, cancellationToken);
            latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            if (first)
            {
                first = false;
                firstVerdict();
            }
        }

        return new BenchMeasurement([.. latencies], Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>
    /// P(<paramref name="unsafeLabel"/>) of each of <paramref name="rows"/> fixed rows of <paramref name="seq"/> tokens, one row
    /// per call so the score of a row does not depend on batch-mates.
    /// </summary>
    public static float[] ScoreRows(ForwardLogits forward, int numLabels, int unsafeLabel, BenchInputs inputs, int rows, int seq, CancellationToken cancellationToken)
    {
        int[] ids = inputs.ScoredRows(rows, seq);
        float[] logits = new float[numLabels];
        float[] scores = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            forward(ids.AsSpan(r * seq, seq), [seq], 1, seq, logits, cancellationToken);
            TensorPrimitives.SoftMax(logits, logits);
            scores[r] = logits[unsafeLabel];
        }

        return scores;
    }
}
