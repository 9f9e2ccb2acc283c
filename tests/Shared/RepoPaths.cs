namespace EdgeGuard.Testing;

/// <summary>Locations tests read: the repository root and the shared fixtures beside it.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> Root = new(FindRoot);

    public static string RepoRoot => Root.Value;

    /// <summary><c>../shared</c> relative to the repository root: fixtures, tokenizers, datasets.</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string Fixture(string name) => Path.Combine(Shared, "fixtures", "deberta", name);

    public static string Tokenizer(string name) => Path.Combine(Shared, "tokenizers", name);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EdgeGuard.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("EdgeGuard.sln not found above " + AppContext.BaseDirectory);
    }
}
