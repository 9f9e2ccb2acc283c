using System.Globalization;
using System.Text;
using EdgeGuard.Testing;
using EdgeGuard.Text;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Text;

public sealed class InputSanitizerTests
{
    [Fact]
    public void Sanitize_SharedCases_GiveTheExpectedText()
    {
        var cases = SanitizerVectors.Cases();
        Assert.True(cases.Count > 100);
        var failures = cases
            .Where(c => InputSanitizer.Sanitize(c.Input) != c.Expected)
            .Select(c => $"{c.Name}: got {Escape(InputSanitizer.Sanitize(c.Input))}, expected {Escape(c.Expected)}")
            .ToList();
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public void Sanitize_EveryCodePoint_MatchesThePythonSweep()
    {
        var (removed, replaced, _) = SanitizerVectors.Sweep();
        var expected = new Dictionary<int, string>();
        foreach (var (first, last) in removed)
        {
            for (int cp = first; cp <= last; cp++)
            {
                expected[cp] = string.Empty;
            }
        }

        foreach (var (first, last, replacement) in replaced)
        {
            for (int cp = first; cp <= last; cp++)
            {
                expected[cp] = replacement;
            }
        }

        var failures = new List<string>();
        for (int cp = 0; cp <= 0x10FFFF; cp++)
        {
            // A surrogate code point alone is a lone UTF-16 unit.
            string text = cp is >= 0xD800 and <= 0xDFFF ? ((char)cp).ToString() : char.ConvertFromUtf32(cp);
            string want = expected.TryGetValue(cp, out var e) ? e : text;
            string got = InputSanitizer.Sanitize(text);
            if (got != want && failures.Count < 20)
            {
                failures.Add($"U+{cp:X4}: got {Escape(got)}, expected {Escape(want)}");
            }

            if (InputSanitizer.IsSanitized(text) != (want == text) && failures.Count < 20)
            {
                failures.Add($"U+{cp:X4}: IsSanitized is {InputSanitizer.IsSanitized(text)}");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public void Sanitize_RandomStrings_MatchThePythonSweep()
    {
        var strings = SanitizerVectors.Sweep().Strings;
        Assert.True(strings.Count >= 800);
        var failures = strings
            .Where(s => InputSanitizer.Sanitize(s.Input) != s.Expected || InputSanitizer.Sanitize(s.Input.AsSpan()) != s.Expected)
            .Select(s => $"{Escape(s.Input)}: got {Escape(InputSanitizer.Sanitize(s.Input))}, expected {Escape(s.Expected)}")
            .Take(20)
            .ToList();
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public void Sanitize_SanitizedText_IsAFixedPoint()
    {
        foreach (var (input, _) in SanitizerVectors.Sweep().Strings)
        {
            string once = InputSanitizer.Sanitize(input);
            Assert.Same(once, InputSanitizer.Sanitize(once));
        }
    }

    [Theory]
    [InlineData("How do I bake bread?")]
    [InlineData("tabs\tand\nnewlines\r\n stay")]
    [InlineData("café, 中文, עברית, emoji 😀, Ω")]
    [InlineData("")]
    public void Sanitize_CleanText_ReturnsTheSameInstanceWithoutAllocating(string text)
    {
        Assert.Same(text, InputSanitizer.Sanitize(text));
        Assert.True(InputSanitizer.IsSanitized(text));
        long before = GC.GetAllocatedBytesForCurrentThread();
        string result = InputSanitizer.Sanitize(text);
        bool clean = InputSanitizer.IsSanitized(text);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        Assert.Same(text, result);
        Assert.True(clean);
    }

    [Fact]
    public void Sanitize_LongTextWithOneSoftHyphenAtTheEnd_KeepsTheRest()
    {
        string text = string.Concat(Enumerable.Repeat("How do I bake bread? ", 500));
        Assert.Equal(text + "ok", InputSanitizer.Sanitize(text + "o\u00ADk"));
    }

    [Fact]
    public void Tables_AreTheUnicodeVersionTheDocsName()
    {
        Assert.Equal("14.0.0", SanitizerTables.UnicodeVersion);
        string record = File.ReadAllText(Path.Combine(RepoPaths.RepoRoot, "docs", "decisions", "0009-input-sanitizing.md"));
        Assert.Contains($"Unicode {SanitizerTables.UnicodeVersion}", record, StringComparison.Ordinal);
    }

    /// <summary>
    /// The fold is what tokenizers without NFKC lack; the DeBERTa test model's nmt_nfkc already folds the same characters
    /// the same way, except those newer than its map and the fullwidth tilde it keeps on purpose. So for that model the
    /// fold changes nothing but those five.
    /// </summary>
    [Fact]
    public void Fold_NfkcSentencePieceTokenizer_AlreadyFoldsAllButFiveCharacters()
    {
        var tokenizer = DebertaTokenizer.FromFile(Path.Combine(RepoPaths.DebertaTestModel, "spm.model"));
        var differing = new List<int>();
        var keys = SanitizerTables.FoldKeys;
        for (int i = 0; i < keys.Length; i++)
        {
            string original = "x" + char.ConvertFromUtf32(keys[i]) + "y";
            if (!tokenizer.Encode(original).AsSpan().SequenceEqual(tokenizer.Encode(InputSanitizer.Sanitize(original))))
            {
                differing.Add(keys[i]);
            }
        }

        Assert.True(keys.Length > 1400);
        Assert.Equal([0xA7F2, 0xA7F3, 0xA7F4, 0xFF5E, 0x107A5], differing);
    }

    private static string Escape(string text)
    {
        var builder = new StringBuilder("\"");
        foreach (char c in text)
        {
            builder.Append(c is >= ' ' and <= '~' ? c.ToString() : string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}"));
        }

        return builder.Append('"').ToString();
    }
}
