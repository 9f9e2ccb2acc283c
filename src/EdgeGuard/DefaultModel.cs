namespace EdgeGuard;

/// <summary>
/// Where the model is when none is configured: <c>$EDGEGUARD_MODEL</c>, else the project's default model
/// <c>models/edgeguard-default</c> of the installation, never of the working directory. The installation is the
/// executable's directory (an installed tree such as <c>/opt/edgeguard</c>) or, for an executable built inside an
/// EdgeGuard checkout (<c>./edgeguard</c>, <c>dotnet run</c>, the tests, <c>make publish</c>), the checkout's root.
/// <c>models/edgeguard-default</c> is a bundle, a folder holding the bundle <c>model.gguf</c> (with its model card: the
/// project ships it so, since only a bundle carries the decision threshold chosen for the model), or a Hugging Face
/// directory. The CLI and the daemon resolve it the same way.
/// </summary>
/// <remarks>
/// The working directory is not consulted because whoever can write to it would choose the model that judges: a
/// planted <c>models/edgeguard-default</c> with its labels swapped turns every flagged prompt into a safe one.
/// </remarks>
public static class DefaultModel
{
    /// <summary>Name of the default model inside <c>models/</c>: the folder shipped with the project (or a bundle file).</summary>
    public const string DirectoryName = "edgeguard-default";

    /// <summary>The bundle inside a model folder that stands for the folder.</summary>
    public const string BundleFileName = Models.ModelSource.FolderBundleFileName;

    /// <summary>The environment variable that names a model when none is configured.</summary>
    public const string EnvironmentVariable = "EDGEGUARD_MODEL";

    /// <summary>The file that marks the root of an EdgeGuard checkout.</summary>
    private const string CheckoutMarker = "EdgeGuard.sln";

    /// <summary>Folders of a checkout that builds put executables under; an executable elsewhere is not the checkout's.</summary>
    private static readonly string[] BuildFolders = ["src", "tests", "benchmarks", "artifacts"];

    /// <summary>
    /// Where this installation's default model belongs, for messages when it is absent: the checkout's
    /// <c>models/edgeguard-default</c> for an executable built in a checkout, else the one beside the executable.
    /// </summary>
    public static string ExpectedPath => Candidates(AppContext.BaseDirectory)[^1];

    /// <summary>
    /// <paramref name="configured"/> when given; else <c>$EDGEGUARD_MODEL</c>; else the installation's default model if it
    /// exists (its <c>model.gguf</c> when the folder holds one); null when there is none.
    /// </summary>
    public static string? Find(string? configured) =>
        Find(configured, Environment.GetEnvironmentVariable(EnvironmentVariable), AppContext.BaseDirectory);

    /// <summary>As <see cref="Find(string?)"/>, with the environment variable's value and the executable's directory given.</summary>
    internal static string? Find(string? configured, string? fromEnvironment, string baseDirectory)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        foreach (string candidate in Candidates(baseDirectory))
        {
            if (Directory.Exists(candidate))
            {
                string bundle = Path.Combine(candidate, BundleFileName);
                return File.Exists(bundle) ? bundle : candidate;
            }

            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Beside the executable, then at the root of the checkout it was built in, if any.</summary>
    private static List<string> Candidates(string baseDirectory)
    {
        string executableDirectory = Path.GetFullPath(baseDirectory);
        var candidates = new List<string> { Path.Combine(executableDirectory, "models", DirectoryName) };
        if (CheckoutRoot(executableDirectory) is { } root)
        {
            candidates.Add(Path.Combine(root, "models", DirectoryName));
        }

        return candidates;
    }

    /// <summary>
    /// The nearest folder above <paramref name="executableDirectory"/> that holds <c>EdgeGuard.sln</c>, if the executable
    /// lies in one of its build folders; so a marker someone drops into a shared parent (<c>/tmp</c>) adopts no installation.
    /// </summary>
    private static string? CheckoutRoot(string executableDirectory)
    {
        for (var dir = new DirectoryInfo(executableDirectory).Parent; dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, CheckoutMarker)))
            {
                string relative = Path.GetRelativePath(dir.FullName, executableDirectory);
                string first = relative.Split(Path.DirectorySeparatorChar, 2)[0];
                return Array.IndexOf(BuildFolders, first) >= 0 ? dir.FullName : null;
            }
        }

        return null;
    }
}
