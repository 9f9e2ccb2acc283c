using System.Diagnostics;
using System.Numerics.Tensors;
using EdgeGuard.Generation;
using EdgeGuard.Generation.Decoding;
using EdgeGuard.Generation.Logits;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Models.Llama;

namespace EdgeGuard.Benchmarks;

/// <summary>
/// A decoder at batch 1, float32 and int8: prefill of a prompt (ms) and token-by-token decoding (tokens/s, and the
/// weights one token streams, in GB/s, against the machine's memory bandwidth measured in the same process, which bounds
/// single-stream decoding); with <c>--partner</c>, what offset decoding with two partners of that shape costs against
/// the base alone, both through <see cref="Generator"/> (greedy), calls alternating.
/// </summary>
internal static class DecodeBenchmark
{
    public static int Run(HarnessOptions options)
    {
        string path = options.Positional[0];
        string? partner = options.String("partner");
        int promptLength = options.Int("prompt", 128), tokens = options.Int("tokens", 128), rounds = options.Int("rounds", 5);
        using var pool = new WorkerPool(options.Int("threads", Environment.ProcessorCount));
        using ModelSource source = ModelSource.Open(path);
        var random = new Random(11);

        // --int8-only: the int8 engine alone (an int8 bundle loads nothing else), so the peak RSS is what serving it takes.
        bool int8Only = options.Flag("int8-only");
        using DecoderModel? f32 = int8Only ? null : DecoderModel.Load(source, pool, ModelPrecision.Float32);
        using DecoderModel int8 = DecoderModel.Load(source, pool, ModelPrecision.Int8);
        int vocabulary = int8.VocabularySize;
        int[] prompt = [.. Enumerable.Range(0, promptLength).Select(_ => random.Next(vocabulary))];
        DecoderModel[] models = f32 is null ? [int8] : [f32, int8];
        var prefill = new List<double>[models.Length];
        var decode = new List<double>[models.Length];
        for (int m = 0; m < models.Length; m++)
        {
            prefill[m] = [];
            decode[m] = [];
            TimeOnce(models[m], prompt, tokens); // warm-up
        }

        for (int r = 0; r < rounds; r++)
        {
            for (int m = 0; m < models.Length; m++)
            {
                (double prefillMs, double decodeSeconds) = TimeOnce(models[m], prompt, tokens);
                prefill[m].Add(prefillMs);
                decode[m].Add(decodeSeconds);
            }
        }

        // Read before the bandwidth probe's 2 GiB array, so the peak is the models' and their sessions'.
        long peakOfModels = Process.GetCurrentProcess().PeakWorkingSet64;
        double bandwidth = MemoryBandwidth.Measure(pool.DegreeOfParallelism);
        Console.WriteLine($"# {Path.GetFileName(Path.TrimEndingDirectorySeparator(path))}, threads={pool.DegreeOfParallelism}, int8 kernel {Int8Gemm.Selected}; " +
                          $"memory bandwidth (2 GiB summed by every thread, best of 3) {bandwidth:F1} GB/s; medians of {rounds} rounds, precisions alternating");
        Console.WriteLine($"# peak RSS with {(f32 is null ? "int8 alone" : "float32 and int8 loaded together")}, before the bandwidth probe: {peakOfModels / (1024 * 1024)} MiB");
        Console.WriteLine("| precision | prefill of " + promptLength + " tokens, ms | decode tokens/s (" + tokens + " tokens after 1) | weights per token, MB | weights streamed, GB/s | share of memory bandwidth |");
        Console.WriteLine("|---|---|---|---|---|---|");
        for (int m = 0; m < models.Length; m++)
        {
            double perSecond = tokens / Median(decode[m]);
            double weightBytes = WeightBytesPerToken(int8.Config, models[m].Precision);
            double gbPerSecond = weightBytes * perSecond / 1e9;
            Console.WriteLine($"| {models[m].Precision} | {Median(prefill[m]):F1} | {perSecond:F1} | {weightBytes / 1e6:F1} | {gbPerSecond:F1} | {gbPerSecond / bandwidth:P0} |");
        }

        if (partner is not null)
        {
            OffsetCost(source, partner, pool, tokens, rounds);
        }

        Console.WriteLine($"# peak RSS {Environment.WorkingSet / (1024 * 1024)} MiB now, {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MiB peak");
        return 0;
    }

    /// <summary>One prefill of <paramref name="prompt"/> (ms), then a fresh session decoding <paramref name="tokens"/> tokens after one (seconds).</summary>
    private static (double PrefillMs, double DecodeSeconds) TimeOnce(DecoderModel model, int[] prompt, int tokens)
    {
        DecoderSession session = model.CreateSession(Math.Min(model.MaxContextLength, Math.Max(prompt.Length, tokens + 1)));
        long start = Stopwatch.GetTimestamp();
        session.Prefill(prompt);
        double prefillMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;

        session.Reset();
        ReadOnlySpan<float> logits = session.Prefill(prompt.AsSpan(0, 1));
        start = Stopwatch.GetTimestamp();
        for (int t = 0; t < tokens; t++)
        {
            // Greedy, so the work per token is what a real decode does.
            logits = session.Step(TensorPrimitives.IndexOfMax(logits));
        }

        return (prefillMs, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>
    /// Offset decoding, <c>ℓ_B + α(ℓ_S′ − ℓ_S₀)</c> with S′ and S₀ two copies of <paramref name="partnerPath"/>, against B
    /// alone: int8, greedy, <paramref name="tokens"/> new tokens after a one-token prompt, the two groups alternating.
    /// </summary>
    private static void OffsetCost(ModelSource baseSource, string partnerPath, WorkerPool pool, int tokens, int rounds)
    {
        using ModelSource partnerSource = ModelSource.Open(partnerPath);
        using var b = new GenerativeModel("B", DecoderModel.Load(baseSource, pool, ModelPrecision.Int8), null);
        using var sPrime = new GenerativeModel("S'", DecoderModel.Load(partnerSource, pool, ModelPrecision.Int8), null);
        using var s0 = new GenerativeModel("S0", DecoderModel.Load(partnerSource, pool, ModelPrecision.Int8), null);
        var options = new GenerationOptions { Sampling = SamplingSettings.Greedy, MaxNewTokens = tokens };
        Generator[] generators = [new(ModelGroup.Single(b), options, tokens + 1), new(ModelGroup.Offset(b, sPrime, s0, 1f), options, tokens + 1)];
        var seconds = new List<double>[] { [], [] };
        int[] prompt = [1];
        for (int r = -1; r < rounds; r++)
        {
            for (int g = 0; g < 2; g++)
            {
                generators[g].Reset();
                long start = Stopwatch.GetTimestamp();
                GenerationResult result = generators[g].Generate(prompt);
                if (result.TokenIds.Count != tokens)
                {
                    throw new InvalidOperationException($"expected {tokens} tokens, the generator stopped after {result.TokenIds.Count} ({result.FinishReasonName})");
                }

                if (r >= 0)
                {
                    seconds[g].Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
                }
            }
        }

        double alone = tokens / Median(seconds[0]), offset = tokens / Median(seconds[1]);
        Console.WriteLine($"| offset decoding, int8, {tokens} tokens | B alone {alone:F1} tokens/s | B + S' + S0 {offset:F1} tokens/s | cost {alone / offset:F2}x |");
    }

    /// <summary>
    /// Bytes of weights one decoded token reads: every block linear and the LM head (tied or not, it is multiplied in
    /// full), at 4 bytes a weight in float32 and 1 in int8 (scales and norms are a rounding error).
    /// </summary>
    private static double WeightBytesPerToken(IModelConfig config, ModelPrecision precision)
    {
        var c = config as LlamaConfig ?? throw new ArgumentException($"the decode benchmark counts the weights of Llama-shaped decoders; this is {config.GetType().Name}");
        double perLayer = ((double)c.HiddenSize * c.HeadSize * (2 * c.NumAttentionHeads + 2 * c.KeyValueHeads)) + (3.0 * c.HiddenSize * c.IntermediateSize);
        double weights = (c.NumHiddenLayers * perLayer) + ((double)c.VocabSize * c.HiddenSize);
        return weights * (precision == ModelPrecision.Int8 ? 1 : 4);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
