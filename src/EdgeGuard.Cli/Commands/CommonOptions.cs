using System.CommandLine;
using System.Globalization;

namespace EdgeGuard.Cli.Commands;

/// <summary>Options every command accepts.</summary>
internal static class CommonOptions
{
    public static readonly Option<string?> Model = new("--model", "-m")
    {
        Description = "Model: an EdgeGuard bundle (.gguf) or a Hugging Face directory (with --backend onnx: a .onnx file or its directory). Default: $EDGEGUARD_MODEL, else the installation's models/edgeguard-default (never the working directory's).",
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

    /// <summary>Which engine runs the model; only the commands that classify take it.</summary>
    public static readonly Option<string> Backend = CreateBackend();

    /// <summary>Turns input sanitising off; only the commands that classify take it.</summary>
    public static readonly Option<bool> NoSanitize = new("--no-sanitize")
    {
        Description = "Classify the text exactly as given, without input sanitising (which removes invisible and control characters, "
            + "undoes bidi overrides and folds styled letters to ASCII). For measuring what sanitising changes.",
    };

    /// <summary>
    /// Most inference threads <c>--threads</c> accepts. A fixed number, so a script that runs on one board runs on every
    /// other: far above the cores of any board EdgeGuard targets, and low enough that the pool starts in milliseconds
    /// (a pool of 100,000 threads takes the process down before it can report an error).
    /// </summary>
    public const int MaxThreads = 256;

    public static readonly Option<int> Threads = CreateThreads();

    private static Option<int> CreateThreads()
    {
        var option = new Option<int>("--threads", "-t")
        {
            Description = $"Inference threads, 1 to {MaxThreads} (0 = one per processor).",
            Recursive = true,
            DefaultValueFactory = _ => 0,
        };
        option.Validators.Add(result =>
        {
            // A value that is not a number is the parser's error already; only a number can be out of range.
            if (result.Tokens.Count == 1 && int.TryParse(result.Tokens[0].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int threads)
                && threads is < 0 or > MaxThreads)
            {
                result.AddError($"--threads {threads} is out of range: give 1 to {MaxThreads} threads, or 0 for one per processor.");
            }
        });
        return option;
    }

    private static Option<string> CreateBackend()
    {
        var option = new Option<string>("--backend")
        {
            Description = "Inference engine: native (the built-in engine; --model is a bundle or a Hugging Face directory) or onnx "
                + "(ONNX Runtime; --model is a .onnx file or a directory with model.onnx, config.json and spm.model or vocab.txt).",
            DefaultValueFactory = _ => GuardFactory.NativeBackend,
        };
        option.AcceptOnlyFromAmong(GuardFactory.NativeBackend, GuardFactory.OnnxBackend);
        return option;
    }
}
