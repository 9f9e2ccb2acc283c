using EdgeGuard.Kernels.Threading;
using EdgeGuard.Models;

namespace EdgeGuard.Benchmarks;

/// <summary>Decision agreement and max |ΔP(label 1)| of the int8 engine against float32 on random token rows.</summary>
internal static class AccuracyReport
{
    public static int Run(HarnessOptions options)
    {
        int rows = options.Int("rows", 200);
        using var pool = new WorkerPool();
        Console.WriteLine("| model | rows | same decision | max abs dP(label 1) | mean abs dP |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (string path in options.Positional)
        {
            using ModelSource model = ModelSource.Open(path);
            EncoderClassifier f32 = model.LoadClassifier(pool, ModelPrecision.Float32);
            EncoderClassifier int8 = model.LoadClassifier(pool, ModelPrecision.Int8);
            var random = new Random(17);
            int same = 0;
            double max = 0, sum = 0;
            float[] a = new float[f32.NumLabels], b = new float[f32.NumLabels];
            for (int r = 0; r < rows; r++)
            {
                int length = random.Next(4, Math.Min(129, f32.MaxSequenceLength + 1));
                int[] ids = new int[length];
                for (int t = 0; t < length; t++)
                {
                    ids[t] = t == 0 ? 1 : t == length - 1 ? 2 : random.Next(3, model.Config.VocabSize);
                }

                f32.Forward(ids, [length], 1, length, a);
                int8.Forward(ids, [length], 1, length, b);
                double pa = Probability(a), pb = Probability(b);
                same += (pa >= 0.5) == (pb >= 0.5) ? 1 : 0;
                max = Math.Max(max, Math.Abs(pa - pb));
                sum += Math.Abs(pa - pb);
            }

            Console.WriteLine($"| {Path.GetFileName(Path.TrimEndingDirectorySeparator(path))} | {rows} | {same} ({100.0 * same / rows:F1}%) | {max:F5} | {sum / rows:F5} |");
        }

        return 0;
    }

    /// <summary>P(last label) of a softmax over the logits.</summary>
    private static double Probability(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity, sum = 0;
        foreach (float v in logits)
        {
            max = Math.Max(max, v);
        }

        foreach (float v in logits)
        {
            sum += Math.Exp(v - max);
        }

        return Math.Exp(logits[^1] - max) / sum;
    }
}
