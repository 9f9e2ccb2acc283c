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

    /// <summary>The shipped default guard: <c>models/edgeguard-default/model.gguf</c>, an int8 BERT (MiniLM-L6, distilled) bundle.</summary>
    public static string DefaultModel => Path.Combine(RepoRoot, "models", "edgeguard-default", "model.gguf");

    /// <summary>The smaller shipped guard for Raspberry Pi 4-class boards: <c>models/edge-tiny/model.gguf</c> (three MiniLM layers, int8).</summary>
    public static string EdgeTinyModel => Path.Combine(RepoRoot, "models", "edge-tiny", "model.gguf");

    /// <summary>
    /// The project's earlier default, a 1.65M-parameter DeBERTa-v3 guard kept as a test model (<c>tests/models/deberta-edge</c>,
    /// a Hugging Face directory with its SentencePiece tokenizer): what tests of the DeBERTa engine and tokenizer read.
    /// </summary>
    public static string DebertaTestModel => Path.Combine(RepoRoot, "tests", "models", "deberta-edge");

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
