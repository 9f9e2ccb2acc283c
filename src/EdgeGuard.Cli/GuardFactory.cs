using System.CommandLine;
using EdgeGuard.Cli.Commands;

namespace EdgeGuard.Cli;

/// <summary>Opens the guard a command works with, from the common options.</summary>
internal static class GuardFactory
{
    public static Guard Open(ParseResult parsed, GuardOptions? options = null)
    {
        string model = ModelLocator.Resolve(parsed.GetValue(CommonOptions.Model));
        options ??= new GuardOptions();
        return Guard.Open(model, options with { Threads = parsed.GetValue(CommonOptions.Threads) });
    }
}
