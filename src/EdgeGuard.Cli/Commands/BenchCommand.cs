using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeGuard.Evaluation;

namespace EdgeGuard.Cli.Commands;

/// <summary><c>edgeguard bench</c>: latency and throughput of the engine in this process on synthetic input.</summary>
internal static class BenchCommand
{
    private static readonly Option<int> Seq = new("--seq")
    {
        Description = "Tokens per sequence, special tokens included.",
        DefaultValueFactory = _ => 128,
    };

    private static readonly Option<int> Batch = new("--batch")
    {
        Description = "Sequences per model call.",
        DefaultValueFactory = _ => 1,
    };

    private static readonly Option<int> Iters = new("--iters")
    {
        Description = "Measured model calls.",
        DefaultValueFactory = _ => 20,
    };

    private static readonly Option<int> Warmup = new("--warmup")
    {
        Description = "Unmeasured model calls first.",
        DefaultValueFactory = _ => 3,
    };

    public static Command Create()
    {
        var command = new Command("bench", "Measure latency (p50/p90/p99) and verdicts per second of this process on synthetic input.")
        {
            Seq, Batch, Iters, Warmup, CommonOptions.Backend,
        };
        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken cancellationToken)
    {
        int seq = parsed.GetValue(Seq), batch = parsed.GetValue(Batch), iters = parsed.GetValue(Iters), warmup = parsed.GetValue(Warmup);
        if (seq < 2 || batch < 1 || iters < 1 || warmup < 0)
        {
            throw new CliUsageException("--seq must be at least 2, --batch and --iters positive, --warmup not negative.");
        }

        using var guard = GuardFactory.Open(parsed);
        var engine = guard.Engine;
        if (seq > engine.MaxSequenceLength)
        {
            throw new CliUsageException($"--seq {seq} exceeds the model's maximum of {engine.MaxSequenceLength} tokens.");
        }

        // Ordinary tokens drawn with a fixed seed: the same input every run, whatever the backend. Ids below 260 are
        // DeBERTa-v3's special and byte pieces and the last id its appended [MASK], so none of them is drawn.
        var tokenizer = guard.Tokenizer;
        const int FirstDrawnId = 260;
        int endDrawnId = tokenizer.VocabularySize - 1;
        if (endDrawnId <= FirstDrawnId)
        {
            throw new CliUsageException($"the model's vocabulary has {tokenizer.VocabularySize} ids; bench draws its input from ids {FirstDrawnId} and up.");
        }

        var random = new Random(12345);
        int[] ids = new int[batch * seq];
        int[] lengths = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            lengths[b] = seq;
            for (int t = 0; t < seq; t++)
            {
                ids[(b * seq) + t] = t == 0 ? tokenizer.ClsId : t == seq - 1 ? tokenizer.SepId : random.Next(FirstDrawnId, endDrawnId);
            }
        }

        float[] logits = new float[batch * engine.NumLabels];
        for (int i = 0; i < warmup; i++)
        {
            engine.Forward(ids, lengths, batch, seq, logits, cancellationToken);
        }

        var latencies = new double[iters];
        long started = Stopwatch.GetTimestamp();
        for (int i = 0; i < iters; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            engine.Forward(ids, lengths, batch, seq, logits, cancellationToken);
            latencies[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }

        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        double p50 = LatencyStats.Percentile(latencies, 50), p90 = LatencyStats.Percentile(latencies, 90), p99 = LatencyStats.Percentile(latencies, 99);
        double perSecond = batch * iters / seconds;
        var info = guard.Model;
        if (parsed.GetValue(CommonOptions.Json))
        {
            using var writer = new Utf8JsonWriter(Console.OpenStandardOutput());
            writer.WriteStartObject();
            writer.WriteString("model", info.Path);
            writer.WriteString("precision", info.Precision);
            writer.WriteNumber("seq", seq);
            writer.WriteNumber("batch", batch);
            writer.WriteNumber("threads", guard.Threads);
            writer.WriteNumber("iters", iters);
            writer.WriteNumber("p50_ms", p50);
            writer.WriteNumber("p90_ms", p90);
            writer.WriteNumber("p99_ms", p99);
            writer.WriteNumber("verdicts_per_second", perSecond);
            writer.WriteEndObject();
            writer.Flush();
            Console.Out.WriteLine();
        }
        else
        {
            Console.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{info.Path} ({info.Precision}, {info.Layers}x{info.HiddenSize})  seq={seq} batch={batch} threads={guard.Threads} iters={iters}"));
            Console.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"latency per call: p50={p50:F2} ms  p90={p90:F2} ms  p99={p99:F2} ms   throughput: {perSecond:F1} verdicts/s"));
        }

        return ExitCodes.Ok;
    }
}
