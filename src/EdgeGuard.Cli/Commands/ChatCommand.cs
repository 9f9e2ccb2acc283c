using System.CommandLine;
using System.Text;
using System.Text.Json;
using EdgeGuard.Generation;

namespace EdgeGuard.Cli.Commands;

/// <summary><c>edgeguard chat</c>: a conversation through the model's chat template, one user turn per line of stdin.</summary>
internal static class ChatCommand
{
    private static readonly Option<string?> System = new("--system")
    {
        Description = "A system message that opens the conversation.",
    };

    public static Command Create()
    {
        var command = new Command(
            "chat",
            "Chat with a decoder language model through its chat template: each line of stdin is a user turn, each reply is streamed to stdout followed by a newline (--json: one JSON line per reply).")
        {
            System,
        };
        foreach (var option in GenerationSetup.All)
        {
            command.Options.Add(option);
        }

        CommandRunner.SetAction(command, Run);
        return command;
    }

    private static int Run(ParseResult parsed, CancellationToken outerToken)
    {
        using var setup = GenerationSetup.Open(parsed);
        using var interrupt = new InterruptCancellation(outerToken);
        CancellationToken cancellationToken = interrupt.Token;
        var chat = new ChatSession(setup.Group, setup.Options, parsed.GetValue(System));
        bool json = parsed.GetValue(CommonOptions.Json);
        int errors = 0;
        long lineNumber = 0;
        using var stdin = Console.OpenStandardInput();
        foreach (byte[]? line in JsonlInput.Lines(stdin))
        {
            lineNumber++;
            string? error = line is null ? JsonlInput.TooLongError
                : !global::System.Text.Unicode.Utf8.IsValid(line) ? "line is not valid UTF-8; skipped"
                : null;
            string message = error is null ? Encoding.UTF8.GetString(line!).TrimEnd('\r') : string.Empty;
            if (error is null && string.IsNullOrWhiteSpace(message))
            {
                continue;
            }

            GenerationResult? result = null;
            if (error is null)
            {
                try
                {
                    result = json
                        ? chat.Send(message, cancellationToken)
                        : GenerateCommand.Stream(chat.Generator, chat.SendStreamingAsync(message, cancellationToken));
                }
                catch (ArgumentException e)
                {
                    error = e.Message.ReplaceLineEndings(" ");
                }
            }

            if (result is null)
            {
                errors++;
                Console.Error.WriteLine($"edgeguard: stdin:{lineNumber}: {error}");
                continue;
            }

            if (json)
            {
                using var writer = new Utf8JsonWriter(Console.OpenStandardOutput());
                writer.WriteStartObject();
                GenerationSetup.WriteResult(writer, result);
                writer.WriteEndObject();
                writer.Flush();
            }

            Console.Out.WriteLine();
            Console.Out.Flush();
            if (result.FinishReason == FinishReason.Cancelled)
            {
                return GenerateCommand.Report(result);
            }
        }

        return errors > 0 ? ExitCodes.Error : ExitCodes.Ok;
    }
}
