using System.Diagnostics;
using System.Numerics.Tensors;

namespace EdgeGuard.Benchmarks;

/// <summary>
/// The memory bandwidth a decoder at batch 1 is bound by: GB/s of summing a 2 GiB float array split over
/// <c>threads</c> threads, best of three passes. Shared by the decode benchmark and the llama.cpp harness, so both
/// state the same bound.
/// </summary>
internal static class MemoryBandwidth
{
    public static double Measure(int threads)
    {
        const long length = 1L << 29;
        float[] data = GC.AllocateUninitializedArray<float>((int)length);
        data.AsSpan().Fill(1f);
        double best = 0;
        for (int pass = 0; pass < 3; pass++)
        {
            long start = Stopwatch.GetTimestamp();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, part =>
            {
                long chunk = length / threads;
                _ = TensorPrimitives.Sum(data.AsSpan((int)(part * chunk), (int)chunk));
            });
            best = Math.Max(best, length * sizeof(float) / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9);
        }

        return best;
    }
}
