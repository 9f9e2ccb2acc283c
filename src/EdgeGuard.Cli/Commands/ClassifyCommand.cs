using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeGuard.Text;

namespace EdgeGuard.Cli.Commands;

/// <summary><c>edgeguard classify</c>: one prompt (and response), or a JSONL stream of them.</summary>
internal static class ClassifyCommand
{
    private static readonly Argument<string?> Text = new("text")
    {
        Description = "The prompt to classify.",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private static readonly Option<string?> Response = new("--response", "-r")
    {
        Description = "The model's response to the prompt; the verdict then judges the response.",
    };

    private static readonly Option<string?> Jsonl = new("--jsonl")
    {
        Description = "Classify every line of a JSONL file ('-' for stdin) with 'prompt' and optional 'response'; one JSON result per line.",
    };

    private static readonly Option<float?> Threshold = new("--threshold")
    {
        Description = "Decision threshold on the unsafe probability (default: the model's).",
    };

    private static readonly Option<bool> Truncate = new("--truncate")
    {
        Description = "Cut long input to one window instead of classifying sliding windows over all of it.",
    };

    public static Command Create()
    {
        var command = new Command("classify", "Classify a prompt, or a prompt and response, as safe or unsafe. Exit code 1 when flagged.")
        {
            Text, Response, Jsonl, Threshold, Truncate, CommonOptions.Backend, CommonOptions.NoSanitize,
        };
        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken cancellationToken)
    {
        string? text = parsed.GetValue(Text);
        string? jsonl = parsed.GetValue(Jsonl);
        if (jsonl is not null && (text is not null || parsed.GetValue(Response) is not null))
        {
            throw new CliUsageException("give either a text (with --response) or --jsonl, not both.");
        }

        if (jsonl is null && text is null)
        {
            throw new CliUsageException("nothing to classify: give a text argument or --jsonl <file>.");
        }

        bool sanitize = !parsed.GetValue(CommonOptions.NoSanitize);
        if (jsonl is null && IsBlank(text, parsed.GetValue(Response), sanitize))
        {
            throw new CliUsageException($"nothing to classify: {Blank}.");
        }

        var options = new GuardOptions
        {
            Threshold = parsed.GetValue(Threshold),
            LongInput = parsed.GetValue(Truncate) ? LongInputMode.Truncate : LongInputMode.SlidingWindow,
            SanitizeInput = sanitize,
        };
        using var guard = GuardFactory.Open(parsed, options);
        return jsonl is null
            ? ClassifyOne(guard, text!, parsed.GetValue(Response), parsed.GetValue(CommonOptions.Json), cancellationToken)
            : ClassifyJsonl(guard, jsonl, sanitize, cancellationToken);
    }

    private const string Blank = "the prompt and response are empty or whitespace only";

    /// <summary>
    /// No words to judge. The model would still score the bare [CLS] [SEP] (the default model flags it), but on the
    /// command line that almost always means a script passed an empty variable, which a verdict would hide; the
    /// library and the daemon do return the model's verdict for such input. Text the model would see as blank (only
    /// invisible characters, when sanitising) is blank too.
    /// </summary>
    private static bool IsBlank(string? prompt, string? response, bool sanitize) => IsBlank(prompt, sanitize) && IsBlank(response, sanitize);

    private static bool IsBlank(string? text, bool sanitize) =>
        string.IsNullOrWhiteSpace(text) || (sanitize && string.IsNullOrWhiteSpace(InputSanitizer.Sanitize(text)));

    private static int ClassifyOne(Guard guard, string text, string? response, bool json, CancellationToken cancellationToken)
    {
        var verdict = guard.Classify(text, response, cancellationToken);
        if (json)
        {
            using var writer = new Utf8JsonWriter(Console.OpenStandardOutput());
            VerdictJson.Write(writer, verdict, guard.Threshold, null, null, VerdictJson.ModelPath(guard));
            writer.Flush();
            Console.Out.WriteLine();
        }
        else
        {
            Console.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{(verdict.Flagged ? "FLAGGED" : "safe")}  label={verdict.Label}  unsafe_score={verdict.UnsafeScore:F4}  threshold={guard.Threshold:F2}  tokens={verdict.TokenCount}  windows={verdict.Windows}{(verdict.Truncated ? "  truncated" : string.Empty)}"));
        }

        return verdict.Flagged ? ExitCodes.FlaggedOrFailed : ExitCodes.Ok;
    }

    private static int ClassifyJsonl(Guard guard, string path, bool sanitize, CancellationToken cancellationToken)
    {
        bool anyFlagged = false;
        int errors = 0;
        string model = VerdictJson.ModelPath(guard);
        using var stdout = Console.OpenStandardOutput();
        using var writer = new Utf8JsonWriter(stdout);
        foreach (var record in JsonlInput.Read(path))
        {
            cancellationToken.ThrowIfCancellationRequested();
            string? error = record.Error ?? (IsBlank(record.Prompt, record.Response, sanitize) ? Blank : null);
            Verdict? verdict = null;
            if (error is null)
            {
                try
                {
                    verdict = guard.Classify(record.Prompt!, record.Response, cancellationToken);
                }
                catch (ArgumentException e)
                {
                    error = e.Message.ReplaceLineEndings(" ");
                }
            }

            if (verdict is null)
            {
                errors++;
                Console.Error.WriteLine($"edgeguard: {path}:{record.Line}: {error}");
                VerdictJson.WriteError(writer, record.Line, record.Id, error!, model);
            }
            else
            {
                anyFlagged |= verdict.Flagged;
                VerdictJson.Write(writer, verdict, guard.Threshold, record.Line, record.Id, model);
            }

            writer.Flush();
            writer.Reset();
            stdout.Write("\n"u8);
            stdout.Flush();
        }

        return errors > 0 ? ExitCodes.Error : anyFlagged ? ExitCodes.FlaggedOrFailed : ExitCodes.Ok;
    }
}
