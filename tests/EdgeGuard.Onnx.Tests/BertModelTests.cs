using System.Text.Json;

namespace EdgeGuard.Onnx.Tests;

/// <summary>
/// The BERT-family path: WordPiece over vocab.txt with tokenizer_config.json, token_type_ids (segment 1 after the first
/// [SEP]) for graphs that take them and none for graphs that do not. The reference is PyTorch: make_test_models.py
/// wrote, for each case, the WordPiece pieces the text must give and the logits of the PyTorch model the ONNX file was
/// exported from.
/// </summary>
public sealed class BertModelTests
{
    public static TheoryData<string> CaseNames() => [.. Cases(TestModels.BertTiny).Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Tokenizer_Text_GivesTheExpectedWordPieces(string name)
    {
        var testCase = Cases(TestModels.BertTiny).Single(c => c.Name == name);
        using var guard = OnnxGuard.Open(TestModels.Directory(TestModels.BertTiny));
        var tokenizer = guard.Tokenizer;
        int[] prompt = tokenizer.Encode(testCase.Prompt);
        int[] expected = testCase.InputIds[1..(1 + testCase.PromptPieces.Length)];
        Assert.Equal(expected, prompt);
        if (testCase.Response is not null)
        {
            Assert.Equal(testCase.InputIds[(prompt.Length + 2)..^1], tokenizer.Encode(testCase.Response));
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Classify_BertWithTokenTypes_GivesPyTorchsProbability(string name)
    {
        var testCase = Cases(TestModels.BertTiny).Single(c => c.Name == name);
        using var guard = OnnxGuard.Open(TestModels.Directory(TestModels.BertTiny));
        var verdict = guard.Classify(testCase.Prompt, testCase.Response);
        Assert.Equal(testCase.InputIds.Length, verdict.TokenCount);
        Assert.Equal(UnsafeProbability(testCase.Logits), verdict.UnsafeScore, 1e-5f);
        if (testCase.Response is not null)
        {
            // The case is only evidence about token types if getting them wrong would change the answer.
            Assert.True(Math.Abs(UnsafeProbability(testCase.LogitsAllSegment0!) - UnsafeProbability(testCase.Logits)) > 1e-3);
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Classify_DistilBertWithoutTokenTypes_GivesPyTorchsProbability(string name)
    {
        var testCase = Cases(TestModels.DistilBertTiny).Single(c => c.Name == name);
        using var guard = OnnxGuard.Open(TestModels.Model(TestModels.DistilBertTiny));
        Assert.Equal(UnsafeProbability(testCase.Logits), guard.Classify(testCase.Prompt, testCase.Response).UnsafeScore, 1e-5f);
    }

    [Fact]
    public void Open_Bert_ReadsTheGraphAndConfig()
    {
        using var bert = OnnxSequenceClassifier.Open(TestModels.Model(TestModels.BertTiny), new OnnxClassifierOptions { MaxSequenceLength = 32, VocabularySize = 40 });
        using var distil = OnnxSequenceClassifier.Open(TestModels.Model(TestModels.DistilBertTiny), new OnnxClassifierOptions { MaxSequenceLength = 32, VocabularySize = 40 });
        Assert.True(bert.FeedsTokenTypeIds);
        Assert.False(distil.FeedsTokenTypeIds);

        using var guard = OnnxGuard.Open(TestModels.Directory(TestModels.DistilBertTiny));
        var info = guard.Model;
        Assert.Equal(("onnx", "f32", 1, 16, 32, 40), (info.Format, info.Precision, info.Layers, info.HiddenSize, info.MaxSequenceLength, info.VocabularySize));
        Assert.Equal(["benign", "harmful"], info.Labels);
        Assert.Equal(1, info.UnsafeLabel);
    }

    [Fact]
    public void Dispose_WithAProfilePrefix_WritesEveryNodesTimesOfEachCall()
    {
        string directory = Directory.CreateTempSubdirectory("edgeguard-onnx-profile-").FullName;
        try
        {
            var options = new OnnxClassifierOptions { MaxSequenceLength = 32, VocabularySize = 40, ProfileOutputPrefix = Path.Combine(directory, "bert") };
            int[] ids = [2, 7, 9, 3];
            using (var bert = OnnxSequenceClassifier.Open(TestModels.Model(TestModels.BertTiny), options))
            {
                bert.Forward(ids, new int[ids.Length], [ids.Length], 1, ids.Length, new float[2]);
                bert.Forward(ids, new int[ids.Length], [ids.Length], 1, ids.Length, new float[2]);
            }

            string profile = Assert.Single(Directory.GetFiles(directory, "bert*.json"));
            using var events = System.Text.Json.JsonDocument.Parse(File.ReadAllText(profile));
            var names = events.RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
            // The label probe at open and the two calls, each with its nodes' kernel times.
            Assert.Equal(3, names.Count(n => n == "model_run"));
            Assert.Contains(names, n => n!.EndsWith("_kernel_time", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Forward_TokenTypes_AreFedAsTheCallerGivesThem()
    {
        var tokenizer = EdgeGuard.Tokenization.WordPieceTokenizer.FromDirectory(TestModels.Directory(TestModels.BertTiny));
        using var bert = OnnxSequenceClassifier.Open(TestModels.Model(TestModels.BertTiny), new OnnxClassifierOptions { MaxSequenceLength = 32, VocabularySize = 40 });
        var row = EdgeGuard.Tokenization.TokenizerExtensions.EncodePair(tokenizer, "how do i bake bread ?", "mix the flour", 32);
        Assert.Contains(1, row.TokenTypeIds);
        float[] asTemplate = new float[2], allZero = new float[2];
        bert.Forward(row.Ids, row.TokenTypeIds, [row.Ids.Length], 1, row.Ids.Length, asTemplate);
        bert.Forward(row.Ids, new int[row.Ids.Length], [row.Ids.Length], 1, row.Ids.Length, allZero);
        Assert.NotEqual(asTemplate, allZero);

        int[] outOfRange = [.. row.TokenTypeIds];
        outOfRange[^1] = 2;
        var e = Assert.Throws<ArgumentException>(() => bert.Forward(row.Ids, outOfRange, [row.Ids.Length], 1, row.Ids.Length, new float[2]));
        Assert.Contains("Token type 2", e.Message);
    }

    [Fact]
    public void Classify_LongPairBeyondTheWindow_IsCoveredBySlidingWindows()
    {
        using var guard = OnnxGuard.Open(TestModels.Directory(TestModels.BertTiny));
        string response = string.Join(' ', Enumerable.Repeat("mix the flour , bake the bread .", 20));
        var verdict = guard.Classify("how do i bake bread ?", response);
        Assert.Equal(32, guard.WindowTokens);
        Assert.True(verdict.Windows > 1);
        Assert.False(verdict.Truncated);
        Assert.InRange(verdict.UnsafeScore, 0f, 1f);
    }

    [Fact]
    public void Tokenizer_DoLowerCaseFalse_KeepsCapitals()
    {
        string directory = Directory.CreateTempSubdirectory("edgeguard-bert-").FullName;
        try
        {
            foreach (string file in new[] { "model.onnx", "config.json", "vocab.txt" })
            {
                File.Copy(Path.Combine(TestModels.Directory(TestModels.BertTiny), file), Path.Combine(directory, file));
            }

            File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), "{\"do_lower_case\": false}");
            using var cased = OnnxGuard.Open(directory);
            using var uncased = OnnxGuard.Open(TestModels.Directory(TestModels.BertTiny));
            const int Unknown = 1, Hello = 22;
            Assert.Equal([Unknown], cased.Tokenizer.Encode("Hello"));
            Assert.Equal([Hello], uncased.Tokenizer.Encode("Hello"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \t\n  ")]
    [InlineData("nul\0inside\u0001\u001f\u007f")]
    [InlineData("lone \uD800 high and \uDC00 low surrogates")]
    [InlineData("emoji 👩‍👩‍👧 and 中文 and עברית")]
    public void Classify_UnusualText_GivesAVerdict(string text)
    {
        using var guard = OnnxGuard.Open(TestModels.Directory(TestModels.BertTiny));
        var verdict = guard.Classify(text, text);
        Assert.InRange(verdict.UnsafeScore, 0f, 1f);
        Assert.DoesNotContain(guard.Tokenizer.Encode(text), guard.Tokenizer.Template.Contains);
    }

    private static float UnsafeProbability(float[] logits)
    {
        float max = logits.Max();
        double sum = logits.Sum(l => Math.Exp(l - max));
        return (float)(Math.Exp(logits[1] - max) / sum);
    }

    private static IEnumerable<BertCase> Cases(string model)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TestModels.Directory(model), "cases.json")));
        return [.. document.RootElement.EnumerateArray().Select(BertCase.Read)];
    }

    private sealed record BertCase(string Name, string Prompt, string? Response, string[] PromptPieces, int[] InputIds, float[] Logits, float[]? LogitsAllSegment0)
    {
        public static BertCase Read(JsonElement e) => new(
            e.GetProperty("name").GetString()!,
            e.GetProperty("prompt").GetString()!,
            e.GetProperty("response").ValueKind == JsonValueKind.String ? e.GetProperty("response").GetString() : null,
            [.. e.GetProperty("prompt_pieces").EnumerateArray().Select(p => p.GetString()!)],
            [.. e.GetProperty("input_ids").EnumerateArray().Select(v => v.GetInt32())],
            [.. e.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle())],
            e.GetProperty("logits_all_segment_0").ValueKind == JsonValueKind.Array ? [.. e.GetProperty("logits_all_segment_0").EnumerateArray().Select(v => v.GetSingle())] : null);
    }
}
