using System.CommandLine;
using System.Text.Json;
using EdgeGuard.Diagnostics;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Cli.Commands;

/// <summary><c>edgeguard verify-fixture</c>: reproduce a golden fixture and report the largest differences.</summary>
internal static class VerifyFixtureCommand
{
    private static readonly Argument<string> FixtureDir = new("fixture-dir")
    {
        Description = "Golden fixture folder: config.json, model.safetensors, cases.json.",
    };

    private static readonly Option<double> Tolerance = new("--tolerance")
    {
        Description = "Largest accepted |Δ| on logits, pooled output and hidden states.",
        DefaultValueFactory = _ => 1e-4,
    };

    public static Command Create()
    {
        var command = new Command("verify-fixture", "Run a golden fixture (reference outputs of the original DeBERTa) and print per-case max |Δ logit|. Exit 1 above tolerance.")
        {
            FixtureDir, Tolerance,
        };
        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken cancellationToken)
    {
        string dir = parsed.GetValue(FixtureDir)!;
        double tolerance = parsed.GetValue(Tolerance);
        using var pool = new WorkerPool(parsed.GetValue(CommonOptions.Threads));
        var report = GoldenFixture.Run(dir, pool);
        bool passed = report.Passed(tolerance);
        if (parsed.GetValue(CommonOptions.Json))
        {
            using var writer = new Utf8JsonWriter(Console.OpenStandardOutput());
            writer.WriteStartObject();
            writer.WriteString("fixture", dir);
            writer.WriteNumber("tolerance", tolerance);
            writer.WriteBoolean("passed", passed);
            writer.WriteNumber("max_abs_logit_delta", report.MaxLogitDelta);
            writer.WriteNumber("max_abs_pooled_delta", report.MaxPooledDelta);
            writer.WriteNumber("max_abs_hidden_delta", report.MaxHiddenDelta);
            writer.WriteStartArray("cases");
            foreach (var r in report.Cases)
            {
                writer.WriteStartObject();
                writer.WriteString("name", r.Name);
                writer.WriteNumber("max_abs_logit_delta", r.MaxLogitDelta);
                writer.WriteNumber("max_abs_pooled_delta", r.MaxPooledDelta);
                writer.WriteNumber("max_abs_hidden_delta", r.MaxHiddenDelta);
                writer.WriteString("logits_reference", r.ComparedWithHfBucketRule ? "expected_logits_hf_bucket_rule" : "expected_logits");
                if (r.OriginalRuleLogitDelta is { } original)
                {
                    writer.WriteNumber("original_rule_max_abs_logit_delta", original);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.Flush();
            Console.Out.WriteLine();
        }
        else
        {
            Console.Out.WriteLine(report.ToText(tolerance));
        }

        return passed ? ExitCodes.Ok : ExitCodes.FlaggedOrFailed;
    }
}
