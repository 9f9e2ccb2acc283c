using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeGuard.Evaluation;

namespace EdgeGuard.Cli.Commands;

/// <summary><c>edgeguard eval</c>: accuracy of the model on a labelled JSONL dataset.</summary>
internal static class EvalCommand
{
    private static readonly Option<string> Data = new("--data", "-d")
    {
        Description = "JSONL dataset: objects with 'prompt', optional 'response', and 'label' (\"safe\" or \"unsafe\").",
        Required = true,
    };

    private static readonly Option<int?> Limit = new("--limit")
    {
        Description = "Evaluate only the first N records.",
    };

    private static readonly Option<float?> Threshold = new("--threshold")
    {
        Description = "Decision threshold on the unsafe probability (default: the model's).",
    };

    public static Command Create()
    {
        var command = new Command("eval", "Evaluate the model on a labelled dataset: F1, precision, recall, AUPRC, accuracy, confusion matrix, latency.")
        {
            Data, Limit, Threshold, CommonOptions.Backend, CommonOptions.NoSanitize,
        };
        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken cancellationToken)
    {
        string data = parsed.GetValue(Data)!;
        int limit = parsed.GetValue(Limit) ?? int.MaxValue;
        if (limit < 1)
        {
            throw new CliUsageException("--limit must be positive.");
        }

        if (!File.Exists(data))
        {
            throw new FileNotFoundException($"{data}: no such file.", data);
        }

        using var guard = GuardFactory.Open(parsed, new GuardOptions { Threshold = parsed.GetValue(Threshold), SanitizeInput = !parsed.GetValue(CommonOptions.NoSanitize) });
        using Stream input = JsonlInput.Open(data);
        long expected = Math.Min(limit, CountLines(input));
        var scores = new List<float>();
        var positives = new List<bool>();
        var latencies = new List<double>();
        int errors = 0;
        using (var progress = new ProgressBar("eval", expected))
        {
            foreach (var record in JsonlInput.Read(input))
            {
                if (scores.Count + errors >= limit)
                {
                    break;
                }

                cancellationToken.ThrowIfCancellationRequested();
                string? error = record.Error ?? (record.Label is "safe" or "unsafe" ? null : "field 'label' must be \"safe\" or \"unsafe\"");
                if (error is null)
                {
                    long start = Stopwatch.GetTimestamp();
                    try
                    {
                        var verdict = guard.Classify(record.Prompt!, record.Response, cancellationToken);
                        latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                        scores.Add(verdict.UnsafeScore);
                        positives.Add(record.Label == "unsafe");
                    }
                    catch (ArgumentException e)
                    {
                        error = e.Message.ReplaceLineEndings(" ");
                    }
                }

                if (error is not null)
                {
                    errors++;
                    Console.Error.WriteLine($"edgeguard: {data}:{record.Line}: {error}");
                }

                progress.Report(scores.Count + errors);
            }
        }

        var m = ClassificationMetrics.Compute(scores.ToArray(), positives.ToArray(), guard.Threshold);
        double p50 = LatencyStats.Percentile(latencies.ToArray(), 50);
        double p95 = LatencyStats.Percentile(latencies.ToArray(), 95);
        if (parsed.GetValue(CommonOptions.Json))
        {
            using var writer = new Utf8JsonWriter(Console.OpenStandardOutput());
            writer.WriteStartObject();
            writer.WriteNumber("n", m.Count);
            writer.WriteNumber("f1", m.F1);
            writer.WriteNumber("precision", m.Precision);
            writer.WriteNumber("recall", m.Recall);
            writer.WriteNumber("auprc", m.AveragePrecision);
            writer.WriteNumber("accuracy", m.Accuracy);
            writer.WriteNumber("threshold", guard.Threshold);
            writer.WriteStartObject("confusion");
            writer.WriteNumber("tp", m.TruePositives);
            writer.WriteNumber("fp", m.FalsePositives);
            writer.WriteNumber("tn", m.TrueNegatives);
            writer.WriteNumber("fn", m.FalseNegatives);
            writer.WriteEndObject();
            writer.WriteStartObject("latency_ms");
            WriteNumberOrNull(writer, "p50", p50);
            WriteNumberOrNull(writer, "p95", p95);
            writer.WriteEndObject();
            writer.WriteNumber("errors", errors);
            writer.WriteString("model", VerdictJson.ModelPath(guard));
            writer.WriteEndObject();
            writer.Flush();
            Console.Out.WriteLine();
        }
        else
        {
            var c = CultureInfo.InvariantCulture;
            Console.Out.WriteLine(string.Create(c, $"n={m.Count}  f1={m.F1:F4}  precision={m.Precision:F4}  recall={m.Recall:F4}  auprc={m.AveragePrecision:F4}  accuracy={m.Accuracy:F4}  threshold={guard.Threshold:F2}"));
            Console.Out.WriteLine("confusion (rows: true label, columns: verdict)");
            Console.Out.WriteLine(string.Create(c, $"            flagged  safe"));
            Console.Out.WriteLine(string.Create(c, $"  unsafe  {m.TruePositives,9}  {m.FalseNegatives,5}"));
            Console.Out.WriteLine(string.Create(c, $"  safe    {m.FalsePositives,9}  {m.TrueNegatives,5}"));
            Console.Out.WriteLine(string.Create(c, $"latency per example: p50={p50:F2} ms  p95={p95:F2} ms"));
            if (errors > 0)
            {
                Console.Out.WriteLine($"{errors} record(s) could not be evaluated (see stderr)");
            }
        }

        return errors > 0 ? ExitCodes.Error : ExitCodes.Ok;
    }

    private static void WriteNumberOrNull(Utf8JsonWriter writer, string name, double value)
    {
        if (double.IsNaN(value))
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteNumber(name, value);
        }
    }

    /// <summary>
    /// Lines of <paramref name="input"/>, for the progress bar, read from and rewound to its start; 0 (unknown) for a pipe,
    /// which can be read only once (by the evaluation), and for a device such as /dev/zero, whose length is 0.
    /// </summary>
    private static long CountLines(Stream input)
    {
        if (!input.CanSeek)
        {
            return 0;
        }

        long lines = 0;
        long remaining = input.Length;
        Span<byte> buffer = stackalloc byte[1 << 14];
        int read;
        while (remaining > 0 && (read = input.Read(buffer[..(int)Math.Min(buffer.Length, remaining)])) > 0)
        {
            lines += buffer[..read].Count((byte)'\n');
            remaining -= read;
        }

        input.Position = 0;
        return lines;
    }
}
