using System.Text.RegularExpressions;
using EdgeGuard.Testing;

namespace EdgeGuard.Tests.Architecture;

/// <summary>
/// The dependency rules of the runtime library (docs/architectures.md): the file formats know no architecture, no
/// tokenizer and no guard; the model layer knows no hosting. Checked on the sources, so a new <c>using</c> breaks it.
/// </summary>
public sealed partial class LayeringTests
{
    private static readonly string Library = Path.Combine(RepoPaths.RepoRoot, "src", "EdgeGuard");

    [Theory]
    [InlineData("ModelFiles", "EdgeGuard.Models")]
    [InlineData("ModelFiles", "EdgeGuard.Tokenization")]
    [InlineData("ModelFiles", "EdgeGuard.Backends")]
    [InlineData("Tokenization", "EdgeGuard.Models")]
    [InlineData("Models", "Microsoft.AspNetCore")]
    [InlineData("Models", "Microsoft.Extensions.Hosting")]
    [InlineData("Models", "EdgeGuard.Backends")]
    [InlineData("Models", "EdgeGuard.Generation")]
    public void Folder_DoesNotImport(string folder, string forbiddenNamespace)
    {
        string[] offenders = [.. Directory.EnumerateFiles(Path.Combine(Library, folder), "*.cs", SearchOption.AllDirectories)
            .Where(file => Imports(File.ReadAllText(file), forbiddenNamespace))
            .Select(file => Path.GetRelativePath(RepoPaths.RepoRoot, file))];
        Assert.True(offenders.Length == 0, $"{folder}/ must not use {forbiddenNamespace}: {string.Join(", ", offenders)}");
    }

    [Fact]
    public void Check_SeesAnImport() => Assert.True(Imports("using EdgeGuard.Models.Bert;\nnamespace X;", "EdgeGuard.Models"));

    private static bool Imports(string source, string ns) =>
        UsingDirective().Matches(source).Any(m => m.Groups[1].Value == ns || m.Groups[1].Value.StartsWith(ns + ".", StringComparison.Ordinal))
        || source.Contains(ns + ".", StringComparison.Ordinal) && !source.Contains("namespace " + ns, StringComparison.Ordinal) && QualifiedUse(source, ns);

    private static bool QualifiedUse(string source, string ns) =>
        source.Split('\n').Any(line => !line.TrimStart().StartsWith("///", StringComparison.Ordinal) && !line.TrimStart().StartsWith("//", StringComparison.Ordinal) && line.Contains(ns + ".", StringComparison.Ordinal));

    [GeneratedRegex(@"^\s*using\s+(?:static\s+)?([A-Za-z0-9_.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex UsingDirective();
}
