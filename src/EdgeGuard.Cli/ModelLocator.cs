using EdgeGuard.ModelFiles;

namespace EdgeGuard.Cli;

/// <summary>Finds the model a command uses when <c>--model</c> is not given.</summary>
internal static class ModelLocator
{
    /// <summary>The default model inside <c>models/</c>: a Hugging Face directory shipped with the project.</summary>
    public const string DefaultModel = "edgeguard-default";

    public const string EnvironmentVariable = "EDGEGUARD_MODEL";

    /// <summary>
    /// <c>--model</c> if given; else <c>$EDGEGUARD_MODEL</c>; else <c>models/edgeguard-default</c> in the working
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

        var candidates = new List<string> { Path.Combine(Environment.CurrentDirectory, "models", DefaultModel) };
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, "models", DefaultModel));
        }

        foreach (string candidate in candidates)
        {
            if (Directory.Exists(candidate) || File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new ModelFileException(
            $"no model given and no default model found (models/{DefaultModel} is not there). Pass --model <bundle.gguf or Hugging Face directory>, or set {EnvironmentVariable}.");
    }
}
