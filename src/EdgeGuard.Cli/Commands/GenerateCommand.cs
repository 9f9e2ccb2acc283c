using System.CommandLine;
using System.Text;
using System.Text.Json;
using EdgeGuard.Generation;

namespace EdgeGuard.Cli.Commands;

/// <summary><c>edgeguard generate</c>: continue a prompt with a decoder model, alone or with offset or contrast partners.</summary>
internal static class GenerateCommand
{
    private static readonly Argument<string?> Prompt = new("prompt")
    {
        Description = "The text to continue (empty: start from the model's BOS token).",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private static readonly Option<string?> Jsonl = new("--jsonl")
    {
        Description = "Continue the 'prompt' of every line of a JSONL file ('-' for stdin); one JSON line per input line with text, tokens and finish_reason.",
    };

    public static Command Create()
    {
        var command = new Command(
            "generate",
            "Generate text with a decoder language model, streamed to stdout; with --offset (offset unlearning) or --contrast-amateur (contrastive decoding) the models decode in lock-step.")
        {
            Prompt, Jsonl,
        };
        foreach (var option in GenerationSetup.All)
        {
            command.Options.Add(option);
        }

        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken cancellationToken)
    {
        string? prompt = parsed.GetValue(Prompt);
        string? jsonl = parsed.GetValue(Jsonl);
        if (jsonl is not null && prompt is not null)
        {
            throw new CliUsageException("give either a prompt or --jsonl, not both.");
        }

        if (jsonl is null && prompt is null)
        {
            throw new CliUsageException("nothing to continue: give a prompt argument (\"\" to start from BOS) or --jsonl <file>.");
        }

        using var setup = GenerationSetup.Open(parsed);
        var generator = new Generator(setup.Group, setup.Options);
        using var interrupt = new InterruptCancellation(cancellationToken);
        return jsonl is null
            ? GenerateOne(generator, prompt!, parsed.GetValue(CommonOptions.Json), interrupt.Token)
            : GenerateJsonl(generator, jsonl, interrupt.Token);
    }

    private static int GenerateOne(Generator generator, string prompt, bool json, CancellationToken cancellationToken)
    {
        GenerationResult result;
        if (json)
        {
            result = generator.Generate(prompt, cancellationToken);
            using var writer = new Utf8JsonWriter(Console.OpenStandardOutput());
            writer.WriteStartObject();
            GenerationSetup.WriteResult(writer, result);
            writer.WriteEndObject();
            writer.Flush();
            Console.Out.WriteLine();
        }
        else
        {
            result = Stream(generator, generator.GenerateStreamingAsync(prompt, cancellationToken));
            Console.Out.WriteLine();
        }

        return Report(result);
    }

    /// <summary>Writes each piece to stdout as it comes; returns the outcome, cancelled or not.</summary>
    internal static GenerationResult Stream(Generator generator, IAsyncEnumerable<string> pieces)
    {
        var stdout = Console.Out;
        IAsyncEnumerator<string> stream = pieces.GetAsyncEnumerator();
        try
        {
            // The generator computes each token on this thread: MoveNextAsync completes synchronously.
            while (stream.MoveNextAsync().AsTask().GetAwaiter().GetResult())
            {
                stdout.Write(stream.Current);
                stdout.Flush();
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            stream.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        return generator.LastResult!;
    }

    /// <summary>Exit code of a finished generation: a cancelled one is reported on stderr.</summary>
    internal static int Report(GenerationResult result)
    {
        if (result.FinishReason != FinishReason.Cancelled)
        {
            return ExitCodes.Ok;
        }

        Console.Error.WriteLine($"edgeguard: cancelled after {result.TokenIds.Count} generated tokens");
        return ExitCodes.Error;
    }

    private static int GenerateJsonl(Generator generator, string path, CancellationToken cancellationToken)
    {
        int errors = 0;
        using var stdout = Console.OpenStandardOutput();
        using var writer = new Utf8JsonWriter(stdout);
        foreach (var record in JsonlInput.Read(path))
        {
            string? error = record.Error;
            GenerationResult? result = null;
            if (error is null)
            {
                try
                {
                    result = generator.Generate(record.Prompt!, cancellationToken);
                }
                catch (ArgumentException e)
                {
                    error = e.Message.ReplaceLineEndings(" ");
                }
            }

            writer.WriteStartObject();
            if (record.Id is not null)
            {
                writer.WritePropertyName("id");
                writer.WriteRawValue(record.Id);
            }

            writer.WriteNumber("line", record.Line);
            if (result is null)
            {
                errors++;
                Console.Error.WriteLine($"edgeguard: {path}:{record.Line}: {error}");
                writer.WriteString("error", error);
            }
            else
            {
                GenerationSetup.WriteResult(writer, result);
            }

            writer.WriteEndObject();
            writer.Flush();
            writer.Reset();
            stdout.Write("\n"u8);
            stdout.Flush();
            if (result?.FinishReason == FinishReason.Cancelled)
            {
                return Report(result);
            }
        }

        return errors > 0 ? ExitCodes.Error : ExitCodes.Ok;
    }
}
