using EdgeGuard.ModelFiles;

namespace EdgeGuard.Cli;

/// <summary>Finds the model a command uses when <c>--model</c> is not given.</summary>
internal static class ModelLocator
{
    /// <summary>File name of the default model inside <c>models/</c>.</summary>
    public const string DefaultModelFile = "default.gguf";

    public const string EnvironmentVariable = "EDGEGUARD_MODEL";

    /// <summary>
    /// <c>--model</c> if given; else <c>$EDGEGUARD_MODEL</c>; else <c>models/default.gguf</c> in the working
    /// directory or above the executable (a repository checkout or an installed tree).
    /// </summary>
    public static string Resolve(string? explicitModel)
    {
        if (!string.IsNullOrEmpty(explicitModel))
        {
            return explicitModel;
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        var candidates = new List<string> { Path.Combine(Environment.CurrentDirectory, "models", DefaultModelFile) };
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, "models", DefaultModelFile));
        }

        foreach (string candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new ModelFileException(
            $"no model given and no default model found (models/{DefaultModelFile} does not exist yet). Pass --model <bundle.gguf or Hugging Face directory>, or set {EnvironmentVariable}.");
    }
}
