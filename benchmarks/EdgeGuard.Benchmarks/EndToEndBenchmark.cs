using System.Diagnostics;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Models;

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
        using ModelSource model = ModelSource.Open(path);
        IModelConfig config = model.Config;
        Console.WriteLine($"# {Path.GetFileName(Path.TrimEndingDirectorySeparator(path))}: {config.NumHiddenLayers} layers × {config.HiddenSize}, threads={pool.DegreeOfParallelism}, int8 kernel {Int8Gemm.Selected}, {iters} timed calls of each, alternating, after 2 warm-up");
        var f32 = model.LoadClassifier(pool, ModelPrecision.Float32);

        // --weight-bits 7|8: the int8 engine's weights (default: what the kernel multiplies fastest); a kernel faster
        // on 7-bit weights (AVX2) is also timed on 8-bit ones, in the same alternation.
        int preferred = options.Int("weight-bits", 0) switch
        {
            7 => PackedInt8Matrix.SevenBitWeightLimit,
            8 => PackedInt8Matrix.FullWeightLimit,
            _ => Int8Gemm.PreferredWeightLimit(Int8Gemm.Selected),
        };
        var int8 = model.LoadClassifier(pool, ModelPrecision.Int8, preferred);
        EncoderClassifier? int8Full = preferred == PackedInt8Matrix.FullWeightLimit || int8Only
            ? null
            : model.LoadClassifier(pool, ModelPrecision.Int8, PackedInt8Matrix.FullWeightLimit);
        string bits = preferred == PackedInt8Matrix.SevenBitWeightLimit ? "7-bit" : "8-bit";
        EncoderClassifier[] engines = int8Only ? [int8] : int8Full is null ? [f32, int8] : [f32, int8, int8Full];
        Console.WriteLine(int8Full is null
            ? $"| tokens | f32 p50 ms | int8 ({bits} weights) p50 ms | speed-up |"
            : $"| tokens | f32 p50 ms | int8 ({bits} weights) p50 ms | speed-up | int8 (8-bit weights) p50 ms | speed-up |");
        Console.WriteLine(int8Full is null ? "|---|---|---|---|" : "|---|---|---|---|---|---|");
        var random = new Random(5);
        foreach (int seq in lengths)
        {
            int[] ids = new int[seq];
            for (int t = 0; t < seq; t++)
            {
                ids[t] = t == 0 ? 1 : t == seq - 1 ? 2 : random.Next(260, config.VocabSize);
            }

            double[] p50 = Medians(engines, ids, iters);
            if (int8Only)
            {
                Console.WriteLine($"| {seq} | NaN | {p50[0]:F1} | NaN |");
            }
            else
            {
                string row = $"| {seq} | {p50[0]:F1} | {p50[1]:F1} | {p50[0] / p50[1]:F2}× |";
                Console.WriteLine(int8Full is null ? row : $"{row} {p50[2]:F1} | {p50[0] / p50[2]:F2}× |");
            }
        }

        return 0;
    }

    /// <summary>Median ms per forward of each engine, calls alternating so drift of the machine hits all alike.</summary>
    private static double[] Medians(EncoderClassifier[] engines, int[] ids, int iters)
    {
        float[] logits = new float[engines[0].NumLabels];
        for (int i = 0; i < 2; i++)
        {
            foreach (EncoderClassifier engine in engines)
            {
                engine.Forward(ids, [ids.Length], 1, ids.Length, logits);
            }
        }

        double[][] times = [.. engines.Select(_ => new double[iters])];
        for (int i = 0; i < iters; i++)
        {
            for (int e = 0; e < engines.Length; e++)
            {
                times[e][i] = Time(engines[e], ids, logits);
            }
        }

        return [.. times.Select(t =>
        {
            Array.Sort(t);
            return t[iters / 2];
        })];
    }

    private static double Time(EncoderClassifier classifier, int[] ids, float[] logits)
    {
        long t0 = Stopwatch.GetTimestamp();
        classifier.Forward(ids, [ids.Length], 1, ids.Length, logits);
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }
}
