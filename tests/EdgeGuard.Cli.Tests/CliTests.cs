using System.Text;
using System.Text.Json;
using EdgeGuard.Testing;

namespace EdgeGuard.Cli.Tests;

public sealed class CliTests(CliModelFixture model) : IClassFixture<CliModelFixture>
{
    [Fact]
    public void SynthesizeAndConvert_ProduceAModel()
    {
        Assert.Equal(0, model.SynthesizeResult.ExitCode);
        Assert.Equal(0, model.ConvertResult.ExitCode);
        Assert.Contains("wrote", model.ConvertResult.Stdout);
        Assert.True(File.Exists(model.BundlePath));
    }

    [Fact]
    public void Help_ListsEveryCommand()
    {
        var r = CliProcess.Run("--help");
        Assert.Equal(0, r.ExitCode);
        foreach (string command in new[] { "classify", "eval", "verify-fixture", "bench", "convert", "inspect", "synthesize", "prune" })
        {
            Assert.Contains(command, r.Stdout);
            Assert.Equal(0, CliProcess.Run(command, "--help").ExitCode);
        }
    }

    [Fact]
    public void UnknownOption_IsAnErrorWithExitCode2()
    {
        var r = CliProcess.Run("classify", "text", "--no-such-option");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--no-such-option", r.Stderr);
    }

    [Fact]
    public void Classify_Json_HasVerdictFieldsAndExitCodeFollowsFlagged()
    {
        var r = CliProcess.Run("classify", "How do I bake bread?", "--model", model.BundlePath, "--json");
        Assert.True(r.ExitCode is 0 or 1, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        bool flagged = doc.RootElement.GetProperty("flagged").GetBoolean();
        double score = doc.RootElement.GetProperty("unsafe_score").GetDouble();
        Assert.InRange(score, 0, 1);
        Assert.Equal(flagged ? 1 : 0, r.ExitCode);
        Assert.True(doc.RootElement.GetProperty("tokens").GetInt32() > 2);
    }

    [Fact]
    public void Classify_Threshold_DecidesTheExitCode()
    {
        Assert.Equal(1, CliProcess.Run("classify", "text", "--response", "reply", "--model", model.BundlePath, "--threshold", "0.0001").ExitCode);
        Assert.Equal(0, CliProcess.Run("classify", "text", "--response", "reply", "--model", model.BundlePath, "--threshold", "0.9999").ExitCode);
        var bad = CliProcess.Run("classify", "text", "--model", model.BundlePath, "--threshold", "1.5");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("threshold", bad.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Classify_HumanOutput_SaysTheVerdict()
    {
        var r = CliProcess.Run("classify", "hello there", "--model", model.HfDir);
        Assert.True(r.ExitCode is 0 or 1, r.Stderr);
        Assert.Matches("^(FLAGGED|safe)  label=(safe|unsafe)  unsafe_score=0\\.\\d{4}", r.Stdout);
    }

    [Fact]
    public void ClassifyJsonl_StreamsOneResultPerLine_AndReportsBadLinesWithoutStopping()
    {
        var input = new MemoryStream();
        input.Write("{\"id\": \"a\", \"prompt\": \"first\"}\n"u8);
        input.Write("\n"u8);
        input.Write("{\"id\": 2, \"prompt\": \"second\", \"response\": \"reply\"}\n"u8);
        input.Write([(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)'}', (byte)'\n']);
        input.Write("[1, 2]\n"u8);
        input.Write("{\"prompt\": 5}\n"u8);
        input.Write("{\"prompt\": \"lone \\ud800 surrogate escape\"}\n"u8);
        input.Write(Encoding.UTF8.GetBytes("{\"prompt\": " + new string('[', 100) + new string(']', 100) + "}\n"));
        input.Write("{\"prompt\": \"last\", \"response\": null}"u8);
        string path = Path.Combine(model.Root, "in.jsonl");
        File.WriteAllBytes(path, input.ToArray());

        foreach (var r in new[] { CliProcess.Run("classify", "--jsonl", path, "--model", model.BundlePath), CliProcess.Run(["classify", "--jsonl", "-", "--model", model.BundlePath], input.ToArray(), null, null) })
        {
            Assert.Equal(2, r.ExitCode);
            string[] lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(8, lines.Length);
            var docs = lines.Select(l => JsonDocument.Parse(l).RootElement).ToArray();
            Assert.Equal("a", docs[0].GetProperty("id").GetString());
            Assert.Equal(2, docs[1].GetProperty("id").GetInt32());
            Assert.True(docs[1].TryGetProperty("unsafe_score", out _));
            Assert.Contains("UTF-8", docs[2].GetProperty("error").GetString());
            Assert.Equal(4, docs[2].GetProperty("line").GetInt32());
            Assert.Contains("object", docs[3].GetProperty("error").GetString());
            Assert.Contains("prompt", docs[4].GetProperty("error").GetString());
            Assert.True(docs[5].TryGetProperty("flagged", out _));
            Assert.Contains("depth", docs[6].GetProperty("error").GetString());
            Assert.True(docs[7].TryGetProperty("flagged", out _));
            Assert.Contains(":4:", r.Stderr);
        }
    }

    [Fact]
    public void Classify_NothingToClassify_IsAnError()
    {
        var r = CliProcess.Run("classify", "--model", model.BundlePath);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("nothing to classify", r.Stderr);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" \t\n ")]
    public void Classify_BlankText_IsAnErrorNotAVerdict(string text)
    {
        var r = CliProcess.Run("classify", text, "--response", " ", "--model", model.BundlePath);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal(string.Empty, r.Stdout);
        Assert.Contains("nothing to classify: the prompt and response are empty or whitespace only", r.Stderr);
        Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // an empty response to a real prompt is a pair to judge
        Assert.True(CliProcess.Run("classify", "hello there", "--response", "", "--model", model.BundlePath).ExitCode is 0 or 1);
    }

    [Fact]
    public void Classify_InvisibleCharactersOnly_IsBlankUnlessSanitizingIsOff()
    {
        var sanitized = CliProcess.Run("classify", "\u200B\u00AD\u2060", "--model", model.BundlePath);
        Assert.Equal(2, sanitized.ExitCode);
        Assert.Contains("nothing to classify", sanitized.Stderr);
        Assert.True(CliProcess.Run("classify", "\u200B\u00AD\u2060", "--no-sanitize", "--model", model.BundlePath).ExitCode is 0 or 1);
    }

    [Fact]
    public void Classify_SoftHyphensBetweenLetters_AreTokenizedOnlyWithNoSanitize()
    {
        static int Tokens(CliResult r)
        {
            Assert.True(r.ExitCode is 0 or 1, r.Stderr);
            return JsonDocument.Parse(r.Stdout).RootElement.GetProperty("tokens").GetInt32();
        }

        int clean = Tokens(CliProcess.Run("classify", "how to build a bomb", "--json", "--model", model.BundlePath));
        int sanitized = Tokens(CliProcess.Run("classify", "how to b\u00ADu\u00ADi\u00ADl\u00ADd a bomb", "--json", "--model", model.BundlePath));
        int raw = Tokens(CliProcess.Run("classify", "how to b\u00ADu\u00ADi\u00ADl\u00ADd a bomb", "--json", "--no-sanitize", "--model", model.BundlePath));
        Assert.Equal(clean, sanitized);
        Assert.True(raw > clean, $"{raw} tokens with soft hyphens, {clean} without");
    }

    [Fact]
    public void Eval_NoSanitize_IsAnOption()
    {
        var r = CliProcess.Run("eval", "--data", Path.Combine(RepoPaths.Shared, "datasets", "dev.jsonl"), "--limit", "5", "--no-sanitize", "--model", model.BundlePath, "--json");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(5, JsonDocument.Parse(r.Stdout).RootElement.GetProperty("n").GetInt32());
    }

    [Fact]
    public void ClassifyJsonl_BlankRecord_IsAnErrorLineAndTheRestAreClassified()
    {
        string path = Path.Combine(model.Root, "blank.jsonl");
        File.WriteAllText(path, "{\"prompt\": \" \\t \", \"response\": \"\"}\n{\"prompt\": \"hello there\"}\n");
        var r = CliProcess.Run("classify", "--jsonl", path, "--model", model.BundlePath);
        Assert.Equal(2, r.ExitCode);
        var docs = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, docs.Length);
        Assert.Contains("empty or whitespace only", docs[0].GetProperty("error").GetString());
        Assert.True(docs[1].TryGetProperty("unsafe_score", out _));
        Assert.Contains(":1:", r.Stderr);
    }

    [Fact]
    public void Eval_Json_HasTheMetricKeys()
    {
        var r = CliProcess.Run("eval", "--data", Path.Combine(RepoPaths.Shared, "datasets", "dev.jsonl"), "--limit", "40", "--model", model.BundlePath, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        foreach (string key in new[] { "f1", "precision", "recall", "auprc", "accuracy" })
        {
            Assert.InRange(doc.RootElement.GetProperty(key).GetDouble(), 0, 1);
        }

        Assert.Equal(40, doc.RootElement.GetProperty("n").GetInt32());
        var confusion = doc.RootElement.GetProperty("confusion");
        Assert.Equal(40, confusion.GetProperty("tp").GetInt32() + confusion.GetProperty("fp").GetInt32() + confusion.GetProperty("tn").GetInt32() + confusion.GetProperty("fn").GetInt32());
    }

    [Fact]
    public void Eval_MissingData_IsAnError()
    {
        var r = CliProcess.Run("eval", "--data", Path.Combine(model.Root, "absent.jsonl"), "--model", model.BundlePath);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("absent.jsonl", r.Stderr);
    }

    [Theory]
    [InlineData("tiny-buckets")]
    [InlineData("xsmall-2layer")]
    public void VerifyFixture_ReproducesTheGoldenOutputs(string fixture)
    {
        var r = CliProcess.Run("verify-fixture", RepoPaths.Fixture(fixture));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("PASS", r.Stdout);
        var strict = CliProcess.Run("verify-fixture", RepoPaths.Fixture(fixture), "--tolerance", "1e-12", "--json");
        Assert.Equal(1, strict.ExitCode);
        Assert.False(JsonDocument.Parse(strict.Stdout).RootElement.GetProperty("passed").GetBoolean());
    }

    [Fact]
    public void Bench_Json_ReportsLatencyPercentiles()
    {
        var r = CliProcess.Run("bench", "--seq", "32", "--batch", "2", "--iters", "3", "--warmup", "1", "--model", model.BundlePath, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.True(doc.RootElement.GetProperty("p50_ms").GetDouble() > 0);
        Assert.True(doc.RootElement.GetProperty("p99_ms").GetDouble() >= doc.RootElement.GetProperty("p50_ms").GetDouble());
        Assert.True(doc.RootElement.GetProperty("verdicts_per_second").GetDouble() > 0);
    }

    [Fact]
    public void Bench_Events_ReportOpenAndFirstVerdictBeforeTheResult()
    {
        var r = CliProcess.Run("bench", "--seq", "16", "--iters", "4", "--warmup", "0", "--score-rows", "3", "--model", model.BundlePath, "--events");
        Assert.Equal(0, r.ExitCode);
        string[] lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Equal("opened", JsonDocument.Parse(lines[0]).RootElement.GetProperty("event").GetString());
        Assert.Equal("first_verdict", JsonDocument.Parse(lines[1]).RootElement.GetProperty("event").GetString());
        using var result = JsonDocument.Parse(lines[2]);
        Assert.Equal(4, result.RootElement.GetProperty("latencies_ms").GetArrayLength());
        Assert.True(result.RootElement.GetProperty("peak_rss_bytes").GetInt64() > 0);
        float[] scores = [.. result.RootElement.GetProperty("unsafe_scores").EnumerateArray().Select(e => e.GetSingle())];
        Assert.Equal(3, scores.Length);
        Assert.All(scores, s => Assert.InRange(s, 0f, 1f));
    }

    [Fact]
    public void Bench_ScoredRows_AreTheSameWhateverTheBatchAndCount()
    {
        float[] Scores(params string[] extra)
        {
            var r = CliProcess.Run(["bench", "--seq", "16", "--iters", "1", "--warmup", "0", "--model", model.BundlePath, "--json", .. extra]);
            Assert.Equal(0, r.ExitCode);
            using var doc = JsonDocument.Parse(r.Stdout);
            return [.. doc.RootElement.GetProperty("unsafe_scores").EnumerateArray().Select(e => e.GetSingle())];
        }

        float[] two = Scores("--score-rows", "2");
        float[] three = Scores("--score-rows", "3", "--batch", "4");
        Assert.Equal(two, three[..2]);
    }

    [Fact]
    public void Bench_MaxSeconds_StopsBeforeIters()
    {
        var r = CliProcess.Run("bench", "--seq", "16", "--iters", "100000", "--warmup", "0", "--max-seconds", "0.2", "--model", model.BundlePath, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        int iters = doc.RootElement.GetProperty("iters").GetInt32();
        Assert.InRange(iters, 1, 99999);
        Assert.Equal(iters, doc.RootElement.GetProperty("latencies_ms").GetArrayLength());
    }

    [Fact]
    public void Inspect_ShowsConfigTensorsAndTokenizer()
    {
        var r = CliProcess.Run("inspect", model.BundlePath, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal("deberta-v2", doc.RootElement.GetProperty("config").GetProperty("model_type").GetString());
        Assert.Contains(doc.RootElement.GetProperty("tensors").EnumerateArray(), t => t.GetProperty("name").GetString() == "classifier.weight");
        Assert.Equal(2001, doc.RootElement.GetProperty("tokenizer").GetProperty("vocabulary_size").GetInt32());

        var text = CliProcess.Run("inspect", model.HfDir);
        Assert.Equal(0, text.ExitCode);
        Assert.Contains("deberta.embeddings.word_embeddings.weight", text.Stdout);
    }

    [Fact]
    public void MissingModel_IsOneLineErrorWithoutStackTrace()
    {
        var r = CliProcess.Run("classify", "x", "--model", Path.Combine(model.Root, "missing.gguf"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("missing.gguf", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void ModelFromEnvironment_IsUsedWhenNoModelOptionIsGiven()
    {
        var env = new Dictionary<string, string?> { ["EDGEGUARD_MODEL"] = model.BundlePath };
        Assert.True(CliProcess.Run(["classify", "hi"], null, model.Root, env).ExitCode is 0 or 1);
        var missing = CliProcess.Run(["classify", "hi"], null, model.Root, new Dictionary<string, string?> { ["EDGEGUARD_MODEL"] = "/nonexistent/model.gguf" });
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("/nonexistent/model.gguf", missing.Stderr);
    }

    [Fact]
    public void CorruptOrTruncatedModelFiles_AreOneLineErrors()
    {
        byte[] bundle = File.ReadAllBytes(model.BundlePath);
        string flipped = Path.Combine(model.Root, "flipped.gguf");
        byte[] copy = (byte[])bundle.Clone();
        copy[copy.Length - 100] ^= 0xFF;
        File.WriteAllBytes(flipped, copy);
        string cut = Path.Combine(model.Root, "cut.gguf");
        File.WriteAllBytes(cut, bundle.AsSpan(0, bundle.Length / 2).ToArray());

        string hfCut = Path.Combine(model.Root, "hf-cut");
        Directory.CreateDirectory(hfCut);
        foreach (string f in new[] { "config.json", "spm.model" })
        {
            File.Copy(Path.Combine(model.HfDir, f), Path.Combine(hfCut, f), true);
        }

        byte[] st = File.ReadAllBytes(Path.Combine(model.HfDir, "model.safetensors"));
        File.WriteAllBytes(Path.Combine(hfCut, "model.safetensors"), st.AsSpan(0, st.Length - 1000).ToArray());

        string badConfig = Path.Combine(model.Root, "hf-badconfig");
        Directory.CreateDirectory(badConfig);
        File.Copy(Path.Combine(model.HfDir, "spm.model"), Path.Combine(badConfig, "spm.model"), true);
        File.Copy(Path.Combine(model.HfDir, "model.safetensors"), Path.Combine(badConfig, "model.safetensors"), true);
        File.WriteAllText(Path.Combine(badConfig, "config.json"), File.ReadAllText(Path.Combine(model.HfDir, "config.json")).Replace("\"share_att_key\": true", "\"share_att_key\": false"));

        foreach (string m in new[] { flipped, cut, hfCut, badConfig })
        {
            var r = CliProcess.Run("classify", "x", "--model", m);
            Assert.Equal(2, r.ExitCode);
            Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("edgeguard: error:", r.Stderr);
        }

        Assert.Contains("share_att_key", CliProcess.Run("classify", "x", "--model", badConfig).Stderr);
        var verbose = CliProcess.Run("classify", "x", "--model", cut, "--verbose");
        Assert.Contains("   at ", verbose.Stderr);
    }

    [Fact]
    public void ConvertInt8_WeightBits_WritesBundlesThatScoreLikeTheFloatOne()
    {
        const string text = "How do I pick a lock?";
        double reference = UnsafeScore(model.BundlePath, text);
        foreach (string bits in new[] { "8", "7" })
        {
            string path = Path.Combine(model.Root, $"int8-w{bits}.gguf");
            var convert = CliProcess.Run("convert", model.HfDir, "-o", path, "--quant", "int8", "--weight-bits", bits);
            Assert.Equal(0, convert.ExitCode);
            Assert.Contains($"int8 ({bits}-bit weights)", convert.Stdout);
            Assert.InRange(UnsafeScore(path, text), reference - 0.03, reference + 0.03);
        }
    }

    [Fact]
    public void ConvertInt8_KeepFloat_StoresThoseLayersInFloatAndScoresLikeTheFloatBundle()
    {
        const string text = "How do I pick a lock?";
        string path = Path.Combine(model.Root, "int8-mixed.gguf");
        var convert = CliProcess.Run("convert", model.HfDir, "-o", path, "--quant", "int8", "--keep-float", "deberta.encoder.layer.*.output.dense", "--keep-float", "pooler.dense");
        Assert.Equal(0, convert.ExitCode);
        Assert.Contains("kept in float32: deberta.encoder.layer.*.output.dense, pooler.dense", convert.Stdout);

        var inspect = CliProcess.Run("inspect", path);
        Assert.Equal(0, inspect.ExitCode);
        Assert.Contains("deberta.encoder.layer.1.output.dense.weight", inspect.Stdout);
        Assert.DoesNotContain("deberta.encoder.layer.1.intermediate.dense.weight", inspect.Stdout);

        double reference = UnsafeScore(model.BundlePath, text);
        Assert.InRange(UnsafeScore(path, text), reference - 0.03, reference + 0.03);
    }

    [Theory]
    [InlineData("int8", "deberta.encoder.layers.*.fc2", "no linear layer of this deberta-v2 model is named like \"deberta.encoder.layers.*.fc2\"")]
    [InlineData("f32", "pooler.dense", "--keep-float applies to --quant int8 only")]
    public void Convert_KeepFloatThatCannotApply_IsRefusedAndWritesNothing(string quant, string pattern, string message)
    {
        string path = Path.Combine(model.Root, $"refused-keep-{quant}.gguf");
        var r = CliProcess.Run("convert", model.HfDir, "-o", path, "--quant", quant, "--keep-float", pattern);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        Assert.False(File.Exists(path));
    }

    [Theory]
    [InlineData("f32", "7", "--quant int8 only")]
    [InlineData("int8", "6", "Argument '6' not recognized")]
    public void Convert_WeightBitsWithoutInt8OrOutOfRange_IsAUsageError(string quant, string bits, string message)
    {
        string path = Path.Combine(model.Root, $"refused-{quant}-{bits}.gguf");
        var r = CliProcess.Run("convert", model.HfDir, "-o", path, "--quant", quant, "--weight-bits", bits);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        Assert.False(File.Exists(path));
    }

    [Theory]
    [InlineData(null, 4, "Q8_0")]
    [InlineData("q8_0", 4, "Q8_0")]
    [InlineData("f16", 3, "F16")]
    public void ConvertInt8_WordTable_IsStoredAsAskedAndScoresLikeTheFloatBundle(string? wordTable, int version, string dtype)
    {
        const string text = "How do I pick a lock?";
        string path = Path.Combine(model.Root, $"int8-table-{wordTable ?? "default"}.gguf");
        string[] options = wordTable is null ? [] : ["--word-table", wordTable];
        var convert = CliProcess.Run(["convert", model.HfDir, "-o", path, "--quant", "int8", .. options]);
        Assert.Equal(0, convert.ExitCode);
        Assert.Contains($"format version {version}", convert.Stdout);

        var inspect = CliProcess.Run("inspect", path);
        Assert.Equal(0, inspect.ExitCode);
        string tableLine = Assert.Single(inspect.Stdout.Split('\n'), l => l.Contains("deberta.embeddings.word_embeddings.weight", StringComparison.Ordinal));
        Assert.Contains($" {dtype} ", tableLine);

        double reference = UnsafeScore(model.BundlePath, text);
        Assert.InRange(UnsafeScore(path, text), reference - 0.03, reference + 0.03);
    }

    /// <summary>P(unsafe) of <paramref name="text"/> by the bundle, through <c>classify --json</c>.</summary>
    private static double UnsafeScore(string bundle, string text)
    {
        var r = CliProcess.Run("classify", text, "--model", bundle, "--json");
        Assert.True(r.ExitCode is 0 or 1, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("unsafe_score").GetDouble();
    }

    [Theory]
    [InlineData("f32", "f16", "--quant int8 only")]
    [InlineData("int8", "q4_0", "Argument 'q4_0' not recognized")]
    public void Convert_WordTableWithoutInt8OrUnknown_IsAUsageError(string quant, string wordTable, string message)
    {
        string path = Path.Combine(model.Root, $"refused-{quant}-{wordTable}.gguf");
        var r = CliProcess.Run("convert", model.HfDir, "-o", path, "--quant", quant, "--word-table", wordTable);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Convert_NotADirectory_IsAnError()
    {
        var r = CliProcess.Run("convert", model.BundlePath, "-o", Path.Combine(model.Root, "x.gguf"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("not a directory", r.Stderr);
    }
}
