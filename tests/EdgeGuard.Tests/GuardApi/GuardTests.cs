using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tests.GuardApi;

public sealed class GuardTests(TinyModelFixture model) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void Classify_ReturnsAProbabilityAndTheLabelItImplies()
    {
        using var guard = Guard.Open(model.BundlePath);
        var v = guard.Classify("How do I bake bread?");
        Assert.InRange(v.UnsafeScore, 0f, 1f);
        Assert.Equal(v.UnsafeScore >= guard.Threshold, v.Flagged);
        Assert.Equal(v.Flagged ? "unsafe" : "safe", v.Label);
        Assert.Equal(guard.Tokenizer.Encode("How do I bake bread?").Length + 2, v.TokenCount);
        Assert.Equal(1, v.Windows);
        Assert.False(v.Truncated);
    }

    [Fact]
    public void Classify_HuggingFaceDirectoryAndBundle_GiveBitIdenticalScores()
    {
        using var fromDir = Guard.Open(model.HfDir);
        using var fromBundle = Guard.Open(model.BundlePath);
        foreach (var (prompt, response) in new[] { ("hello", (string?)null), ("tell me a story", "once upon a time"), (new string('x', 3000), "y") })
        {
            Assert.Equal(fromDir.Classify(prompt, response).UnsafeScore, fromBundle.Classify(prompt, response).UnsafeScore);
        }
    }

    [Fact]
    public void ClassifyBatch_EqualsOneByOne()
    {
        using var guard = Guard.Open(model.BundlePath);
        GuardInput[] inputs = [new("short"), new("a much longer prompt with many more words in it", "and a response"), new(string.Empty), new("mid length text here", null)];
        var batch = guard.ClassifyBatch(inputs);
        for (int i = 0; i < inputs.Length; i++)
        {
            var single = guard.Classify(inputs[i].Prompt, inputs[i].Response);
            Assert.Equal(single.UnsafeScore, batch[i].UnsafeScore, 1e-5f);
            Assert.Equal(single.TokenCount, batch[i].TokenCount);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \t\n  ")]
    [InlineData("nul\0inside\u0001\u001f\u007f")]
    [InlineData("lone \uD800 high and \uDC00 low surrogates")]
    [InlineData("[SEP] [CLS] [MASK] [PAD] [UNK]")]
    [InlineData("emoji 👩‍👩‍👧 and 中文 and עברית")]
    public void Classify_UnusualText_GivesAVerdict(string text)
    {
        using var guard = Guard.Open(model.BundlePath);
        var v = guard.Classify(text, text);
        Assert.InRange(v.UnsafeScore, 0f, 1f);
    }

    [Fact]
    public void Classify_TextSpellingSpecialTokens_AddsNoControlTokens()
    {
        using var guard = Guard.Open(model.BundlePath);
        var tokenizer = Assert.IsType<EdgeGuard.Tokenization.DebertaTokenizer>(guard.Tokenizer);
        int[] ids = tokenizer.Encode("ignore this [SEP] [CLS] new segment [MASK]");
        Assert.DoesNotContain(ids, id => id == tokenizer.SepId || id == tokenizer.ClsId || id == tokenizer.MaskId || id == tokenizer.PadId);
    }

    [Fact]
    public void Classify_LongResponse_IsCoveredBySlidingWindowsNotTruncated()
    {
        using var guard = Guard.Open(model.BundlePath, new GuardOptions { WindowTokens = 64 });
        string response = string.Join(' ', Enumerable.Range(0, 400).Select(i => "word" + i));
        var v = guard.Classify("question", response);
        Assert.False(v.Truncated);
        Assert.True(v.Windows > 1);
        Assert.True(v.TokenCount > 64);
    }

    [Fact]
    public void Classify_TruncateMode_SaysSo()
    {
        using var guard = Guard.Open(model.BundlePath, new GuardOptions { WindowTokens = 64, LongInput = LongInputMode.Truncate });
        var v = guard.Classify(string.Join(' ', Enumerable.Range(0, 400).Select(i => "word" + i)));
        Assert.True(v.Truncated);
        Assert.Equal(1, v.Windows);
    }

    [Fact]
    public void Classify_WindowScoreIsTheMaximumOverWindows()
    {
        using var whole = Guard.Open(model.BundlePath);
        var tokenizer = whole.Tokenizer;
        string first = string.Join(' ', Enumerable.Range(0, 20).Select(i => "alpha" + i));
        string second = string.Join(' ', Enumerable.Range(0, 20).Reverse().Select(i => "alpha" + i));
        int n = tokenizer.Encode(first).Length;
        Assert.Equal(n, tokenizer.Encode(second).Length);
        Assert.Equal(tokenizer.Encode(first).Concat(tokenizer.Encode(second)), tokenizer.Encode(first + " " + second));

        // Windows of exactly one half each, without overlap: the halves are classified as they are alone.
        using var windowed = Guard.Open(model.BundlePath, new GuardOptions { WindowTokens = n + 2, WindowStride = n });
        var v = windowed.Classify(first + " " + second);
        Assert.Equal(2, v.Windows);
        float expected = Math.Max(whole.Classify(first).UnsafeScore, whole.Classify(second).UnsafeScore);
        Assert.Equal(expected, v.UnsafeScore, 1e-6f);
    }

    [Fact]
    public void Classify_OneMegabyteOfText_GivesAVerdictOrAClearLimitError()
    {
        string text = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 1024 * 1024 / 45));
        using var limited = Guard.Open(model.BundlePath, new GuardOptions { MaxWindows = 10 });
        var e = Assert.Throws<ArgumentException>(() => limited.Classify(text));
        Assert.Contains("MaxWindows", e.Message);

        using var guard = Guard.Open(model.BundlePath, new GuardOptions { MaxBatch = 32, MaxWindows = 4096 });
        var v = guard.Classify(text);
        Assert.True(v.Windows > 100);
        Assert.InRange(v.UnsafeScore, 0f, 1f);
    }

    [Fact]
    public void Classify_ConcurrentCallers_GetTheSameVerdictsAsSequential()
    {
        using var guard = Guard.Open(model.BundlePath, new GuardOptions { Threads = 2 });
        string[] texts = Enumerable.Range(0, 24).Select(i => $"text number {i} " + new string('z', i * 7)).ToArray();
        float[] sequential = texts.Select(t => guard.Classify(t).UnsafeScore).ToArray();
        float[] concurrent = new float[texts.Length];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 6 }, i => concurrent[i] = guard.Classify(texts[i]).UnsafeScore);
        Assert.Equal(sequential, concurrent);
    }

    [Fact]
    public void Classify_Cancelled_Throws()
    {
        using var guard = Guard.Open(model.BundlePath);
        Assert.ThrowsAny<OperationCanceledException>(() => guard.Classify("text", null, new CancellationToken(canceled: true)));
    }

    [Fact]
    public void Classify_AfterDispose_Throws()
    {
        var guard = Guard.Open(model.BundlePath);
        guard.Dispose();
        Assert.Throws<ObjectDisposedException>(() => guard.Classify("text"));
    }

    [Fact]
    public void Open_MissingPath_FailsWithModelFileException()
    {
        var e = Assert.Throws<ModelFileException>(() => Guard.Open(Path.Combine(model.Root, "nope.gguf")));
        Assert.Contains("nope.gguf", e.Message);
    }

    [Fact]
    public void Open_DirectoryWithoutTokenizer_NamesTheMissingFile()
    {
        string dir = Path.Combine(model.Root, "no-spm");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(model.HfDir, "config.json"), Path.Combine(dir, "config.json"), true);
        File.Copy(Path.Combine(model.HfDir, "model.safetensors"), Path.Combine(dir, "model.safetensors"), true);
        var e = Assert.Throws<ModelFileException>(() => Guard.Open(dir));
        Assert.Contains("spm.model", e.Message);
    }

    [Fact]
    public void Open_TokenizerLargerThanTheEmbeddingTable_IsRefused()
    {
        string dir = Path.Combine(model.Root, "vocab-mismatch");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(model.HfDir, "config.json"), Path.Combine(dir, "config.json"), true);
        File.Copy(Path.Combine(model.HfDir, "model.safetensors"), Path.Combine(dir, "model.safetensors"), true);
        File.Copy(Path.Combine(Testing.RepoPaths.Tokenizer("spm-unigram-8k"), "spm.model"), Path.Combine(dir, "spm.model"), true);
        var e = Assert.Throws<ModelFileException>(() => Guard.Open(dir));
        Assert.Contains("vocab_size", e.Message);
    }

    [Fact]
    public void Open_CorruptBundle_FailsWithModelFileException()
    {
        string path = Path.Combine(model.Root, "corrupt.gguf");
        byte[] bytes = File.ReadAllBytes(model.BundlePath);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(path, bytes);
        Assert.Throws<ModelFileException>(() => Guard.Open(path));
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length / 3).ToArray());
        Assert.Throws<ModelFileException>(() => Guard.Open(path));
    }

    [Fact]
    public void Open_InvalidOptions_AreRefusedBeforeLoading()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Guard.Open(model.BundlePath, new GuardOptions { Threshold = 1.5f }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Guard.Open(model.BundlePath, new GuardOptions { WindowTokens = 2 }));
    }
}
