using System.CommandLine;

namespace EdgeGuard.Cli.Commands;

/// <summary>Options every command accepts.</summary>
internal static class CommonOptions
{
    public static readonly Option<string?> Model = new("--model", "-m")
    {
        Description = "Model: an EdgeGuard bundle (.gguf) or a Hugging Face directory (with --backend onnx: a .onnx file or its directory). Default: $EDGEGUARD_MODEL, else models/edgeguard-default.",
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

    public static readonly Option<int> Threads = new("--threads", "-t")
    {
        Description = "Inference threads (0 = one per processor).",
        Recursive = true,
        DefaultValueFactory = _ => 0,
    };

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
