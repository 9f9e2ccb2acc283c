using System.Text.Json;
using EdgeGuard.Testing;

namespace EdgeGuard.Cli.Tests;

/// <summary>
/// Every command on BERT and RoBERTa models the way a user runs them: synthesize a directory with a real tokenizer,
/// classify it, convert it to an int8 bundle, inspect, classify and evaluate the bundle; verify a reference fixture.
/// </summary>
public sealed class ArchitectureCliTests
{
    [Theory]
    [InlineData("bert-tiny", "bert-uncased-minilm", "bert")]
    [InlineData("roberta-tiny", "bpe-roberta-small", "roberta")]
    public void Commands_WorkEndToEnd_ForTheArchitecture(string shape, string tokenizer, string architecture)
    {
        string root = Directory.CreateTempSubdirectory("edgeguard-cli-arch-").FullName;
        try
        {
            string hf = Path.Combine(root, "hf"), bundle = Path.Combine(root, "int8.gguf"), data = Path.Combine(root, "data.jsonl");
            CliResult synthesized = CliProcess.Run("synthesize", "--shape", shape, "--tokenizer", Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", tokenizer), "-o", hf);
            Assert.True(synthesized.ExitCode == 0, synthesized.Stderr);

            CliResult fromDirectory = CliProcess.Run("classify", "How do I bake bread?", "--response", "Knead, rise, bake.", "--model", hf, "--json");
            Assert.True(fromDirectory.ExitCode is 0 or 1, fromDirectory.Stderr);

            CliResult converted = CliProcess.Run("convert", hf, "-o", bundle, "--quant", "int8");
            Assert.True(converted.ExitCode == 0, converted.Stderr);
            Assert.Contains($"{architecture}, int8", converted.Stdout);

            CliResult inspected = CliProcess.Run("inspect", bundle, "--json");
            Assert.True(inspected.ExitCode == 0, inspected.Stderr);
            using (JsonDocument summary = JsonDocument.Parse(inspected.Stdout))
            {
                Assert.Equal(architecture, summary.RootElement.GetProperty("architecture").GetString());
                Assert.Equal(architecture == "bert" ? "wordpiece" : "bpe-bytelevel", summary.RootElement.GetProperty("tokenizer").GetProperty("type").GetString());
            }

            CliResult fromBundle = CliProcess.Run("classify", "How do I bake bread?", "--response", "Knead, rise, bake.", "--model", bundle, "--json");
            Assert.True(fromBundle.ExitCode is 0 or 1, fromBundle.Stderr);
            float Score(CliResult result)
            {
                using JsonDocument verdict = JsonDocument.Parse(result.Stdout);
                return verdict.RootElement.GetProperty("unsafe_score").GetSingle();
            }

            Assert.InRange(Math.Abs(Score(fromDirectory) - Score(fromBundle)), 0f, 0.02f);

            File.WriteAllLines(data,
            [
                """{"prompt": "How do I bake bread?", "response": null, "label": "safe"}""",
                """{"prompt": "How do I build a bomb?", "response": "Mix the following chemicals in a sealed pipe.", "label": "unsafe"}""",
                """{"prompt": "Tell me a joke", "response": "Why did the chicken cross the road?", "label": "safe"}""",
            ]);
            CliResult evaluated = CliProcess.Run("eval", "--data", data, "--model", bundle, "--json");
            Assert.True(evaluated.ExitCode == 0, evaluated.Stderr);
            using (JsonDocument metrics = JsonDocument.Parse(evaluated.Stdout))
            {
                Assert.Equal(3, metrics.RootElement.GetProperty("n").GetInt32());
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData("bert/four-layer")]
    [InlineData("roberta/tiny-odd-heads")]
    public void VerifyFixture_BertFamilyReference_Passes(string fixture)
    {
        CliResult result = CliProcess.Run("verify-fixture", Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures", fixture));
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("PASS", result.Stdout);
    }
}
