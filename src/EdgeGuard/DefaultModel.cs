namespace EdgeGuard;

/// <summary>
/// Where the model is when none is configured: <c>$EDGEGUARD_MODEL</c>, else the project's default model
/// <c>models/edgeguard-default</c> in the working directory or in a folder above the executable (a repository
/// checkout or an installed tree). The CLI and the daemon resolve it the same way.
/// </summary>
public static class DefaultModel
{
    /// <summary>Name of the default model inside <c>models/</c>: a Hugging Face directory shipped with the project.</summary>
    public const string DirectoryName = "edgeguard-default";

    /// <summary>The environment variable that names a model when none is configured.</summary>
    public const string EnvironmentVariable = "EDGEGUARD_MODEL";

    /// <summary>Where the default model is expected relative to the working directory, for messages when it is absent.</summary>
    public static string ExpectedPath => Path.Combine(Environment.CurrentDirectory, "models", DirectoryName);

    /// <summary>
    /// <paramref name="configured"/> when given; else <c>$EDGEGUARD_MODEL</c>; else the first existing default model;
    /// null when there is none.
    /// </summary>
    public static string? Find(string? configured)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        if (Exists(ExpectedPath))
        {
            return ExpectedPath;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", DirectoryName);
            if (Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static bool Exists(string path) => Directory.Exists(path) || File.Exists(path);
}
