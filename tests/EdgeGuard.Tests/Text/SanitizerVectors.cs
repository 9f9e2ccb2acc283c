using System.Text.Json;
using EdgeGuard.Testing;

namespace EdgeGuard.Tests.Text;

/// <summary>
/// The test vectors the training package's pytest suite checks too (tests/data/sanitizer/): hand-written cases for every
/// class of character, and the sweep the Python sanitiser wrote (<c>python3 -m edgeguard_train.sanitize_generate</c>).
/// </summary>
internal static class SanitizerVectors
{
    public static string Directory => Path.Combine(RepoPaths.RepoRoot, "tests", "data", "sanitizer");

    public static IReadOnlyList<(string Name, string Input, string Expected)> Cases()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "cases.json")));
        return document.RootElement.EnumerateArray()
            .Select(c => ($"{c.GetProperty("class").GetString()}: {c.GetProperty("name").GetString()}", Input(c), c.GetProperty("expected").GetString()!))
            .ToList();
    }

    /// <summary>The sweep: removed code point ranges, replaced ranges with their replacement, and random strings.</summary>
    public static (List<(int First, int Last)> Removed, List<(int First, int Last, string Replacement)> Replaced, List<(string Input, string Expected)> Strings) Sweep()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "sweep.json")));
        var root = document.RootElement;
        var removed = root.GetProperty("removed").EnumerateArray().Select(r => (r[0].GetInt32(), r[1].GetInt32())).ToList();
        var replaced = root.GetProperty("replaced").EnumerateArray().Select(r => (r[0].GetInt32(), r[1].GetInt32(), r[2].GetString()!)).ToList();
        var strings = root.GetProperty("strings").EnumerateArray().Select(s => (Input(s), s.GetProperty("expected").GetString()!)).ToList();
        return (removed, replaced, strings);
    }

    /// <summary>"input", or "input_utf16" (UTF-16 code units) for text with lone surrogates, which JSON strings cannot hold.</summary>
    private static string Input(JsonElement element) =>
        element.TryGetProperty("input", out var text)
            ? text.GetString()!
            : new string(element.GetProperty("input_utf16").EnumerateArray().Select(u => (char)u.GetInt32()).ToArray());
}
