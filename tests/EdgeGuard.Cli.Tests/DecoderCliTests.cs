using System.Text.Json;
using EdgeGuard.Testing;

namespace EdgeGuard.Cli.Tests;

/// <summary><c>verify-fixture</c> and <c>convert</c> on decoder language models.</summary>
public sealed class DecoderCliTests
{
    private static string Fixture(string name) => Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures", "decoders", name);

    [Fact]
    public void VerifyFixture_Decoder_PrintsLogitDeltasAndGreedyAgreementAndPasses()
    {
        CliResult result = CliProcess.Run("verify-fixture", Fixture("llama3-rope-long"));
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("long-200", result.Stdout);
        Assert.Contains("12/12 agree", result.Stdout);
        Assert.Contains("PASS at tolerance 1e-04", result.Stdout);

        CliResult json = CliProcess.Run("verify-fixture", Fixture("gpt2-long"), "--json");
        Assert.True(json.ExitCode == 0, json.Stderr);
        using JsonDocument report = JsonDocument.Parse(json.Stdout);
        Assert.Equal("f32", report.RootElement.GetProperty("precision").GetString());
        Assert.True(report.RootElement.GetProperty("max_abs_logit_delta").GetDouble() <= 1e-4);
        Assert.Equal(20, report.RootElement.GetProperty("greedy_tokens_agreeing").GetInt32());
    }

    [Fact]
    public void VerifyFixture_DecoderInInt8_ReportsHowFarItIs()
    {
        CliResult json = CliProcess.Run("verify-fixture", Fixture("llama-gqa-tied"), "--int8", "--json", "--tolerance", "10");
        Assert.True(json.ExitCode is 0 or 1, json.Stderr);
        using JsonDocument report = JsonDocument.Parse(json.Stdout);
        Assert.Equal("int8", report.RootElement.GetProperty("precision").GetString());
        Assert.InRange(report.RootElement.GetProperty("max_abs_logit_delta").GetDouble(), 1e-4, 10);
    }

    [Fact]
    public void VerifyFixture_Int8OnAClassifierFixture_IsAUsageError()
    {
        CliResult result = CliProcess.Run("verify-fixture", Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures", "bert", "tiny-odd-heads"), "--int8");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--int8 applies to decoder fixtures only", result.Stderr);
    }

    [Fact]
    public void Convert_DecoderDirectory_WritesABundleWithoutClassifierOptions()
    {
        string root = Directory.CreateTempSubdirectory("edgeguard-cli-decoder-").FullName;
        try
        {
            string hf = Path.Combine(root, "hf");
            Directory.CreateDirectory(hf);
            foreach (string file in Directory.EnumerateFiles(Fixture("qwen2-tied-one-kv-head")))
            {
                File.Copy(file, Path.Combine(hf, Path.GetFileName(file)));
            }

            File.WriteAllText(Path.Combine(hf, "tokenizer.json"), """{"version":"1.0"}""");
            CliResult converted = CliProcess.Run("convert", hf, "-o", Path.Combine(root, "model.gguf"));
            Assert.True(converted.ExitCode == 0, converted.Stderr);
            Assert.Contains("qwen2 decoder, f32, format version 3", converted.Stdout);

            CliResult refused = CliProcess.Run("convert", hf, "-o", Path.Combine(root, "other.gguf"), "--threshold", "0.3");
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains("qwen2 is a decoder language model", refused.Stderr);
            Assert.False(File.Exists(Path.Combine(root, "other.gguf")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
