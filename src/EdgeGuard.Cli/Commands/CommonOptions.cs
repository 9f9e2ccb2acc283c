using System.CommandLine;

namespace EdgeGuard.Cli.Commands;

/// <summary>Options every command accepts.</summary>
internal static class CommonOptions
{
    public static readonly Option<string?> Model = new("--model", "-m")
    {
        Description = "Model: an EdgeGuard bundle (.gguf) or a Hugging Face directory. Default: $EDGEGUARD_MODEL, else models/edgeguard-default.",
        Recursive = true,
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Machine-readable JSON output.",
        Recursive = true,
    };

    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Show stack traces of errors.",
        Recursive = true,
    };

    public static readonly Option<int> Threads = new("--threads", "-t")
    {
        Description = "Inference threads (0 = one per processor).",
        Recursive = true,
        DefaultValueFactory = _ => 0,
    };
}
