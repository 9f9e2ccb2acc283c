using System.CommandLine;
using System.Text.Json;
using EdgeGuard.Diagnostics;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.Models;

namespace EdgeGuard.Cli.Commands;

/// <summary><c>edgeguard verify-fixture</c>: reproduce a golden fixture and report the largest differences.</summary>
internal static class VerifyFixtureCommand
{
    private static readonly Argument<string> FixtureDir = new("fixture-dir")
    {
        Description = "Golden fixture folder: config.json, model.safetensors, cases.json (a classifier's, or a decoder's: logits at every position, greedy continuations).",
    };

    private static readonly Option<double> Tolerance = new("--tolerance")
    {
        Description = "Largest accepted |Δ| on logits, pooled output and hidden states.",
        DefaultValueFactory = _ => 1e-4,
    };

    private static readonly Option<bool> Int8 = new("--int8")
    {
        Description = "Decoder fixtures: run the linear layers in int8 (quantised at load) and report how far they are from the reference.",
    };

    public static Command Create()
    {
        var command = new Command("verify-fixture", "Run a golden fixture (a classifier's reference outputs, or a decoder's logits and greedy continuations) and print per-case max |Δ logit| (and greedy-token agreement). Exit 1 above tolerance or on a differing greedy token.")
        {
            FixtureDir, Tolerance, Int8,
        };
        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken cancellationToken)
    {
        string dir = parsed.GetValue(FixtureDir)!;
        double tolerance = parsed.GetValue(Tolerance);
        using var pool = new WorkerPool(parsed.GetValue(CommonOptions.Threads));
        if (DecoderGoldenFixture.Holds(dir))
        {
            return RunDecoder(parsed, dir, tolerance, pool);
        }

        if (parsed.GetValue(Int8))
        {
            throw new CliUsageException("--int8 applies to decoder fixtures only.");
        }

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

    private static int RunDecoder(ParseResult parsed, string dir, double tolerance, WorkerPool pool)
    {
        DecoderFixtureReport report = DecoderGoldenFixture.Run(dir, pool, parsed.GetValue(Int8) ? ModelPrecision.Int8 : ModelPrecision.Float32);
        bool passed = report.Passed(tolerance);
        if (parsed.GetValue(CommonOptions.Json))
        {
            using var writer = new Utf8JsonWriter(Console.OpenStandardOutput());
            writer.WriteStartObject();
            writer.WriteString("fixture", dir);
            writer.WriteString("precision", report.Precision == ModelPrecision.Int8 ? "int8" : "f32");
            writer.WriteNumber("tolerance", tolerance);
            writer.WriteBoolean("passed", passed);
            writer.WriteNumber("max_abs_logit_delta", report.MaxLogitDelta);
            writer.WriteNumber("greedy_tokens_agreeing", report.AgreeingTokens);
            writer.WriteNumber("greedy_tokens_expected", report.ExpectedTokens);
            writer.WriteStartArray("cases");
            foreach (DecoderCaseResult c in report.Cases)
            {
                writer.WriteStartObject();
                writer.WriteString("name", c.Name);
                if (c.GreedyTokens is { } tokens)
                {
                    writer.WriteNumber("greedy_tokens_agreeing", c.AgreeingTokens);
                    writer.WriteNumber("greedy_tokens_expected", c.ExpectedTokenCount);
                    writer.WriteStartArray("greedy_tokens");
                    foreach (int token in tokens)
                    {
                        writer.WriteNumberValue(token);
                    }

                    writer.WriteEndArray();
                }
                else
                {
                    writer.WriteNumber("max_abs_logit_delta", c.MaxLogitDelta);
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
