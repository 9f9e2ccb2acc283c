using System.CommandLine;
using System.Text.Json;
using EdgeGuard.Cli.Commands;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Cli;

/// <summary>Runs a command body and turns the errors users can cause into one line on stderr and exit code 2.</summary>
internal static class CommandRunner
{
    public static void SetAction(Command command, Func<ParseResult, CancellationToken, int> body)
    {
        command.SetAction((parsed, cancellationToken) => Task.FromResult(Run(parsed, body, cancellationToken)));
    }

    private static int Run(ParseResult parsed, Func<ParseResult, CancellationToken, int> body, CancellationToken cancellationToken)
    {
        bool verbose = parsed.GetValue(CommonOptions.Verbose);
        try
        {
            return body(parsed, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("edgeguard: cancelled");
            return ExitCodes.Error;
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"edgeguard: error: {OneLine(e.Message)}");
            if (verbose)
            {
                Console.Error.WriteLine(e);
            }

            return ExitCodes.Error;
        }
        catch (Exception e)
        {
            // Not something the user did: say so, keep the process alive long enough to report it.
            Console.Error.WriteLine($"edgeguard: internal error: {e.GetType().Name}: {OneLine(e.Message)}{(verbose ? string.Empty : " (run with --verbose for details)")}");
            if (verbose)
            {
                Console.Error.WriteLine(e);
            }

            return ExitCodes.Error;
        }
    }

    private static bool IsUserError(Exception e) =>
        e is ModelFileException or CliUsageException or ArgumentException or IOException or UnauthorizedAccessException or JsonException or InvalidDataException;

    /// <summary>One line of bounded length, whatever the message quotes (a path, a file's content).</summary>
    private static string OneLine(string message) => ErrorText.OneBoundedLine(message);
}

/// <summary>A command was used wrongly in a way the parser cannot see (e.g. two inputs given at once).</summary>
internal sealed class CliUsageException(string message) : Exception(message);
