using System.Diagnostics;
using System.Runtime.Intrinsics;
using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Benchmarks;

/// <summary>GEMM throughput per kernel variant at the DeBERTa layer shapes, on the whole pool.</summary>
internal static class GemmBenchmark
{
    public static int Run(HarnessOptions options)
    {
        bool quick = options.Flag("quick");
        int[] ms = options.Ints("m", quick ? [1, 128] : [1, 16, 128, 512]);
        (int K, int N)[] shapes = quick
            ? [(1024, 4096), (768, 3072)]
            : [(384, 384), (384, 1536), (1536, 384), (768, 768), (768, 3072), (3072, 768), (1024, 1024), (1024, 4096), (4096, 1024)];
        using var pool = new WorkerPool(options.Int("threads", Environment.ProcessorCount));
        double ghz = options.Int("mhz", NominalMegahertz()) / 1000.0;
        Console.WriteLine($"# threads={pool.DegreeOfParallelism}, clock {ghz:F3} GHz (--mhz, else /proc/cpuinfo's first 'cpu MHz')");
        Console.WriteLine("# peak = threads × GHz × ops/cycle of the variant's multiply instruction (see docs/performance.md)");
        Console.WriteLine("# weights GB/s = packed weight bytes (padded N × padded K) / time: what bounds M = 1, which reads each byte once");
        Console.WriteLine("| kernel | M | K | N | ms/call | GOP/s | % of peak | weights GB/s |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (Int8GemmVariant variant in Enum.GetValues<Int8GemmVariant>())
        {
            if (!Int8Gemm.IsSupported(variant) || variant == Int8GemmVariant.Scalar)
            {
                continue;
            }

            // 8-bit weights, and 7-bit ones too where the kernel has a faster path for them (AVX2), timed alternately
            int[] limits = Int8Gemm.PreferredWeightLimit(variant) == PackedInt8Matrix.FullWeightLimit
                ? [PackedInt8Matrix.FullWeightLimit]
                : [PackedInt8Matrix.FullWeightLimit, Int8Gemm.PreferredWeightLimit(variant)];
            double peak = pool.DegreeOfParallelism * ghz * OpsPerCycle(variant);
            foreach (var (k, n) in shapes)
            {
                foreach (int m in ms)
                {
                    // M = 1 runs the single-row kernel; the 4-row tiles on the same row are timed in turn with it, for comparison
                    bool[] singleRow = m == 1 ? [true, false] : [true];
                    var cases = limits.SelectMany(limit => singleRow.Select(row => (Limit: limit, Row: row))).ToArray();
                    double[] seconds = Time([.. cases.Select(c => Int8Call(variant, pool, m, k, n, c.Limit, c.Row))]);
                    for (int i = 0; i < cases.Length; i++)
                    {
                        string name = (cases[i].Limit == PackedInt8Matrix.FullWeightLimit ? variant.ToString() : $"{variant}, 7-bit weights")
                            + (cases[i].Row ? string.Empty : ", 4-row tiles");
                        double gops = 2.0 * m * n * k / seconds[i] / 1e9;
                        double weightBytes = (double)PackedInt8Matrix.PadRows(n) * PackedInt8Matrix.PadColumns(k);
                        Console.WriteLine(
                            $"| int8 {name} | {m} | {k} | {n} | {seconds[i] * 1e3:F3} | {gops:F1} | {100 * gops / peak:F0}% of {peak:F0} | {weightBytes / seconds[i] / 1e9:F1} |");
                    }
                }
            }
        }

        double floatPeak = pool.DegreeOfParallelism * ghz * (Vector512.IsHardwareAccelerated ? 32 : Vector256.IsHardwareAccelerated ? 32 : 16);
        foreach (var (k, n) in shapes)
        {
            foreach (int m in ms)
            {
                double seconds = TimeFloat(pool, m, k, n);
                double gflops = 2.0 * m * n * k / seconds / 1e9;
                Console.WriteLine(
                    $"| f32 {Gemm.Selected} | {m} | {k} | {n} | {seconds * 1e3:F3} | {gflops:F1} | {100 * gflops / floatPeak:F0}% of {floatPeak:F0} | {4.0 * n * k / seconds / 1e9:F1} |");
            }
        }

        return 0;
    }

    /// <summary>
    /// <c>gemm-calls</c>: exactly <c>--calls</c> int8 products of one shape on the calling thread (<c>--tiles</c>: one row through
    /// the 4-row tiles, as M = 1 ran before it had its own kernels), untimed and unchecked,
    /// for counting instructions (<c>valgrind --tool=callgrind</c>): two runs that differ only in <c>--calls</c> differ by
    /// that many calls' instructions, setup and start-up cancelling out.
    /// </summary>
    public static int RunCalls(HarnessOptions options)
    {
        string name = options.Positional.FirstOrDefault() ?? Int8Gemm.Selected.ToString();
        if (!Enum.TryParse(name, out Int8GemmVariant variant) || !Enum.IsDefined(variant) || !Int8Gemm.IsSupported(variant))
        {
            Console.Error.WriteLine($"gemm-calls: '{name}' is not an int8 kernel this CPU runs.");
            return 2;
        }

        int m = options.Int("m", 1), k = options.Int("k", 1024), n = options.Int("n", 4096), calls = options.Int("calls", 1);
        int weightLimit = options.Int("weight-bits", 8) == 7 ? PackedInt8Matrix.SevenBitWeightLimit : PackedInt8Matrix.FullWeightLimit;
        bool singleRowKernel = !options.Flag("tiles");
        var random = new Random(1);
        float[] x = Random(random, m * k), w = Random(random, n * k), bias = Random(random, n), y = new float[m * n];
        var q = new QuantizedRows(m, k, variant);
        q.Quantize(x, k, m, k);
        PackedInt8Matrix packed = PackedInt8Matrix.Quantize(w, k, n, k, weightLimit);
        for (int i = 0; i < calls; i++)
        {
            Int8Gemm.Multiply(variant, null, q, packed, bias, Int8Epilogue.Bias, [], y, singleRowKernel);
        }

        string path = singleRowKernel ? string.Empty : ", 4-row tiles";
        Console.WriteLine($"# {calls} × int8 {variant}{path} M={m} K={k} N={n} weights ±{weightLimit}, 1 thread; y[0] = {y[0]}");
        return 0;
    }

    /// <summary>
    /// Integer ops (a multiply and an add each) per cycle per core with two 256-bit vector multiply pipes (Zen 3/4;
    /// a 512-bit instruction takes both): <c>vpdpbusd</c> does 32 products per pipe-cycle; <c>vpmaddubsw</c> needs a
    /// <c>vpmaddwd</c> after it on the same pipes, so 16.
    /// </summary>
    private static double OpsPerCycle(Int8GemmVariant variant) => variant switch
    {
        Int8GemmVariant.AvxVnni => 2 * 32 * 2,
        Int8GemmVariant.Avx512BW or Int8GemmVariant.Avx512BWOffset => 2 * 16 * 2,
        Int8GemmVariant.Avx2 => 2 * 16 * 2,
        _ => 1,
    };

    private static int NominalMegahertz()
    {
        const string path = "/proc/cpuinfo";
        if (File.Exists(path))
        {
            foreach (string line in File.ReadLines(path))
            {
                if (line.StartsWith("cpu MHz", StringComparison.Ordinal)
                    && double.TryParse(line[(line.IndexOf(':') + 1)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double mhz))
                {
                    return (int)mhz;
                }
            }
        }

        // unknown: the % of peak column comes out NaN unless --mhz says
        return 0;
    }

    /// <summary>One product at that shape and weight limit, checked bit-exact against the scalar twin first.</summary>
    /// <param name="singleRowKernel">False runs one row through the 4-row tiles too (what M = 1 ran before it had its own kernels).</param>
    private static Action Int8Call(Int8GemmVariant variant, WorkerPool pool, int m, int k, int n, int weightLimit, bool singleRowKernel)
    {
        var random = new Random(1);
        float[] x = Random(random, m * k), w = Random(random, n * k), bias = Random(random, n), y = new float[m * n], check = new float[m * n];
        var q = new QuantizedRows(m, k, variant);
        q.Quantize(x, k, m, k);
        PackedInt8Matrix packed = PackedInt8Matrix.Quantize(w, k, n, k, weightLimit);
        Int8Gemm.Multiply(Int8GemmVariant.Scalar, null, q, packed, bias, Int8Epilogue.Bias, [], check);
        Int8Gemm.Multiply(variant, pool, q, packed, bias, Int8Epilogue.Bias, [], y, singleRowKernel);
        if (!check.AsSpan().SequenceEqual(y))
        {
            throw new InvalidOperationException($"{variant} disagrees with the scalar kernel at {m}×{k}×{n}.");
        }

        return () => Int8Gemm.Multiply(variant, pool, q, packed, bias, Int8Epilogue.Bias, [], y, singleRowKernel);
    }

    private static double TimeFloat(WorkerPool pool, int m, int k, int n)
    {
        var random = new Random(1);
        float[] x = Random(random, m * k), w = Random(random, n * k), bias = Random(random, n), y = new float[m * n];
        return Time([() => Gemm.MultiplyTransposed(pool, x, k, w, k, bias, y, n, m, n, k)])[0];
    }

    /// <summary>
    /// Median seconds per call of each of <paramref name="calls"/>, taking turns call by call (so drift of the machine
    /// hits all alike) over repetitions adding up to about 0.3 s each, after a warm-up.
    /// </summary>
    private static double[] Time(Action[] calls)
    {
        double once = 1e-6;
        foreach (Action call in calls)
        {
            for (int i = 0; i < 3; i++)
            {
                call();
            }

            var t = Stopwatch.StartNew();
            call();
            once = Math.Max(once, t.Elapsed.TotalSeconds);
        }

        int reps = (int)Math.Clamp(0.3 / once, 5, 2000);
        double[][] samples = [.. calls.Select(_ => new double[reps])];
        for (int i = 0; i < reps; i++)
        {
            for (int c = 0; c < calls.Length; c++)
            {
                long t0 = Stopwatch.GetTimestamp();
                calls[c]();
                samples[c][i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            }
        }

        return [.. samples.Select(s =>
        {
            Array.Sort(s);
            return s[reps / 2];
        })];
    }

    private static float[] Random(Random random, int length)
    {
        float[] values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2) - 1);
        }

        return values;
    }
}
