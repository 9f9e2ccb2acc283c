using System.CommandLine;
using EdgeGuard.Cli.Commands;

namespace EdgeGuard.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        var root = new RootCommand("EdgeGuard: classify prompts and responses as safe or unsafe with a local guard model.")
        {
            CommonOptions.Model,
            CommonOptions.Json,
            CommonOptions.Verbose,
            CommonOptions.Threads,
        };
        root.Subcommands.Add(ClassifyCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ChatCommand.Create());
        root.Subcommands.Add(VerifyFixtureCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(PruneCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(SynthesizeCommand.Create());

        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                Console.Error.WriteLine($"edgeguard: error: {error.Message}");
            }

            Console.Error.WriteLine("Run 'edgeguard --help' for usage.");
            return ExitCodes.Error;
        }

        return parsed.Invoke();
    }
}
