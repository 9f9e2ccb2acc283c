using System.Diagnostics;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Deberta;

namespace EdgeGuard.Benchmarks;

/// <summary>float32 vs int8 latency of one forward (one row) of a model directory, per sequence length.</summary>
internal static class EndToEndBenchmark
{
    public static int Run(HarnessOptions options)
    {
        string path = options.Positional[0];
        int[] lengths = options.Ints("seq", [64, 128, 256, 512]);
        int iters = options.Int("iters", 10);

        // --int8-only: run just the int8 forward (for a profiler)
        bool int8Only = options.Flag("int8-only");
        using var pool = new WorkerPool(options.Int("threads", Environment.ProcessorCount));
        using HuggingFaceDirectory directory = HuggingFaceDirectory.Open(path);
        DebertaConfig config = directory.Config;
        Console.WriteLine($"# {Path.GetFileName(Path.TrimEndingDirectorySeparator(path))}: {config.NumHiddenLayers} layers × {config.HiddenSize}, threads={pool.DegreeOfParallelism}, int8 kernel {Int8Gemm.Selected}, {iters} timed calls of each, alternating, after 2 warm-up");
        var f32 = DebertaClassifier.Load(config, directory.Weights, pool, DebertaPrecision.Float32);
        var int8 = DebertaClassifier.Load(config, directory.Weights, pool, DebertaPrecision.Int8);
        Console.WriteLine("| tokens | f32 p50 ms | int8 p50 ms | speed-up |");
        Console.WriteLine("|---|---|---|---|");
        var random = new Random(5);
        foreach (int seq in lengths)
        {
            int[] ids = new int[seq];
            for (int t = 0; t < seq; t++)
            {
                ids[t] = t == 0 ? 1 : t == seq - 1 ? 2 : random.Next(260, config.VocabSize);
            }

            (double a, double b) = int8Only ? (double.NaN, Medians(int8, int8, ids, iters).Second) : Medians(f32, int8, ids, iters);
            Console.WriteLine($"| {seq} | {a:F1} | {b:F1} | {a / b:F2}× |");
        }

        return 0;
    }

    /// <summary>Median ms per forward of each engine, calls alternating so drift of the machine hits both alike.</summary>
    private static (double First, double Second) Medians(DebertaClassifier first, DebertaClassifier second, int[] ids, int iters)
    {
        float[] logits = new float[first.NumLabels];
        for (int i = 0; i < 2; i++)
        {
            first.Forward(ids, [ids.Length], 1, ids.Length, logits);
            second.Forward(ids, [ids.Length], 1, ids.Length, logits);
        }

        double[] a = new double[iters], b = new double[iters];
        for (int i = 0; i < iters; i++)
        {
            a[i] = Time(first, ids, logits);
            b[i] = Time(second, ids, logits);
        }

        Array.Sort(a);
        Array.Sort(b);
        return (a[iters / 2], b[iters / 2]);
    }

    private static double Time(DebertaClassifier classifier, int[] ids, float[] logits)
    {
        long t0 = Stopwatch.GetTimestamp();
        classifier.Forward(ids, [ids.Length], 1, ids.Length, logits);
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }
}
