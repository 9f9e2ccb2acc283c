namespace EdgeGuard.Daemon.Models;

/// <summary>
/// Finds the model when none is configured, the way the <c>edgeguard</c> command does: <c>$EDGEGUARD_MODEL</c>, else
/// <c>models/edgeguard-default</c> in the working directory or above the executable.
/// </summary>
internal static class ModelLocator
{
    public const string DefaultModel = "edgeguard-default";

    public const string EnvironmentVariable = "EDGEGUARD_MODEL";

    /// <summary>The path to open; when nothing is found, the default path that was expected, so the error names it.</summary>
    public static string Resolve(string? configured)
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

        string inWorkingDirectory = Path.Combine(Environment.CurrentDirectory, "models", DefaultModel);
        var candidates = new List<string> { inWorkingDirectory };
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, "models", DefaultModel));
        }

        return candidates.FirstOrDefault(c => Directory.Exists(c) || File.Exists(c)) ?? inWorkingDirectory;
    }
}
