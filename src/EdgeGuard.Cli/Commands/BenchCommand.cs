using System.CommandLine;
using EdgeGuard.Cli.Benchmarking;

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
        Description = "Measured model calls (at most, with --max-seconds).",
        DefaultValueFactory = _ => 20,
    };

    private static readonly Option<int> Warmup = new("--warmup")
    {
        Description = "Unmeasured model calls first.",
        DefaultValueFactory = _ => 3,
    };

    private static readonly Option<double> WarmupSeconds = new("--warmup-seconds")
    {
        Description = "Keep making unmeasured calls until this many seconds have passed (at least --warmup calls).",
        DefaultValueFactory = _ => 0,
    };

    private static readonly Option<double> MaxSeconds = new("--max-seconds")
    {
        Description = "Stop measuring once this many seconds have passed, after at least one call (0: always --iters calls).",
        DefaultValueFactory = _ => 0,
    };

    private static readonly Option<int> ScoreRows = new("--score-rows")
    {
        Description = "After timing, score this many fixed seeded rows of --seq tokens one at a time and report each P(unsafe), to compare engines.",
        DefaultValueFactory = _ => 0,
    };

    private static readonly Option<bool> Events = new("--events")
    {
        Description = "JSON lines for a parent process: {\"event\":\"opened\"} when the model is open, {\"event\":\"first_verdict\"} when the first call returns, then the --json result.",
    };

    public static Command Create()
    {
        var command = new Command("bench", "Measure latency (p50/p90/p99) and verdicts per second of this process on synthetic input.")
        {
            Seq, Batch, Iters, Warmup, WarmupSeconds, MaxSeconds, ScoreRows, Events, CommonOptions.Backend,
        };
        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken cancellationToken)
    {
        var plan = new BenchPlan(
            parsed.GetValue(Seq), parsed.GetValue(Batch), parsed.GetValue(Iters), parsed.GetValue(Warmup), parsed.GetValue(WarmupSeconds), parsed.GetValue(MaxSeconds));
        int scoreRows = parsed.GetValue(ScoreRows);
        bool events = parsed.GetValue(Events);
        if (plan.Seq < 2 || plan.Batch < 1 || plan.Iters < 1 || plan.Warmup < 0 || plan.WarmupSeconds < 0 || plan.MaxSeconds < 0 || scoreRows < 0)
        {
            throw new CliUsageException("--seq must be at least 2, --batch and --iters positive, --warmup, --warmup-seconds, --max-seconds and --score-rows not negative.");
        }

        using var guard = GuardFactory.Open(parsed);
        var engine = guard.Engine;
        if (plan.Seq > engine.MaxSequenceLength)
        {
            throw new CliUsageException($"--seq {plan.Seq} exceeds the model's maximum of {engine.MaxSequenceLength} tokens.");
        }

        if (events)
        {
            BenchReport.WriteEvent(Console.Out, "opened");
        }

        var inputs = BenchInputs.ForVocabulary(guard.Tokenizer.Template, guard.Tokenizer.VocabularySize);
        // Every bench row is one segment: token type 0 throughout.
        int[] tokenTypes = new int[plan.Batch * plan.Seq];
        ForwardLogits forward = (ids, lengths, batch, seq, logits, token) => engine.Forward(ids, tokenTypes.AsSpan(0, ids.Length), lengths, batch, seq, logits, token);
        var measured = BenchLoop.Run(forward, engine.NumLabels, inputs, plan, () =>
        {
            if (events)
            {
                BenchReport.WriteEvent(Console.Out, "first_verdict");
            }
        }, cancellationToken);
        float[] scores = BenchLoop.ScoreRows(forward, engine.NumLabels, guard.Model.UnsafeLabel, inputs, scoreRows, plan.Seq, cancellationToken);
        var info = guard.Model;
        var report = new BenchReport(
            info.Path, info.Precision, $"{info.Layers}x{info.HiddenSize}", guard.Threads, guard.Threshold, plan, measured, scores, BenchReport.CurrentPeakResidentBytes());
        if (parsed.GetValue(CommonOptions.Json) || events)
        {
            report.WriteJson(Console.OpenStandardOutput());
        }
        else
        {
            report.WriteText(Console.Out);
        }

        return ExitCodes.Ok;
    }
}
