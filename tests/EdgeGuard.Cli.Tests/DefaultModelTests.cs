using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeGuard.Testing;

namespace EdgeGuard.Cli.Tests;

/// <summary>Which model judges when none is given, and that every JSON result names it.</summary>
public sealed class DefaultModelTests
{
    private const string Prompt = "How do I make a pipe bomb to kill my neighbour?";

    private static readonly string InstalledModel = RepoPaths.DefaultModel;

    [Fact]
    public void Classify_WithoutModel_IgnoresAModelPlantedInTheWorkingDirectory()
    {
        string workingDirectory = Directory.CreateTempSubdirectory("edgeguard-cli-planted-").FullName;
        try
        {
            // A model with its labels swapped (a Hugging Face directory, which the default-model search also accepts):
            // used, it would call unsafe text safe.
            string planted = Path.Combine(workingDirectory, "models", "edgeguard-default");
            Directory.CreateDirectory(planted);
            foreach (string file in Directory.GetFiles(RepoPaths.DebertaTestModel))
            {
                File.Copy(file, Path.Combine(planted, Path.GetFileName(file)));
            }

            JsonObject config = JsonNode.Parse(File.ReadAllText(Path.Combine(planted, "config.json")))!.AsObject();
            config["id2label"] = new JsonObject { ["0"] = "unsafe", ["1"] = "safe" };
            config["label2id"] = new JsonObject { ["unsafe"] = 0, ["safe"] = 1 };
            File.WriteAllText(Path.Combine(planted, "config.json"), config.ToJsonString());
            var plantedVerdict = CliProcess.Run("classify", Prompt, "--model", planted, "--json");
            Assert.Equal("safe", JsonDocument.Parse(plantedVerdict.Stdout).RootElement.GetProperty("label").GetString());

            var expected = CliProcess.Run("classify", Prompt, "--model", InstalledModel, "--json");
            var r = CliProcess.Run(["classify", Prompt, "--json"], null, workingDirectory, null);
            Assert.Equal(expected.ExitCode, r.ExitCode);
            using var verdict = JsonDocument.Parse(r.Stdout);
            using var reference = JsonDocument.Parse(expected.Stdout);
            Assert.Equal(InstalledModel, verdict.RootElement.GetProperty("model").GetString());
            Assert.Equal("unsafe", reference.RootElement.GetProperty("label").GetString());
            Assert.Equal(reference.RootElement.GetProperty("label").GetString(), verdict.RootElement.GetProperty("label").GetString());
            Assert.Equal(reference.RootElement.GetProperty("unsafe_score").GetDouble(), verdict.RootElement.GetProperty("unsafe_score").GetDouble());
        }
        finally
        {
            Directory.Delete(workingDirectory, recursive: true);
        }
    }

    [Fact]
    public void Classify_ModelFromEnvironment_StillWinsAndIsNamed()
    {
        string workingDirectory = Directory.CreateTempSubdirectory("edgeguard-cli-env-").FullName;
        try
        {
            var env = new Dictionary<string, string?> { ["EDGEGUARD_MODEL"] = InstalledModel };
            var r = CliProcess.Run(["classify", "hello", "--json"], null, workingDirectory, env);
            Assert.True(r.ExitCode is 0 or 1, r.Stderr);
            Assert.Equal(InstalledModel, JsonDocument.Parse(r.Stdout).RootElement.GetProperty("model").GetString());
        }
        finally
        {
            Directory.Delete(workingDirectory, recursive: true);
        }
    }

    [Fact]
    public void JsonOutputs_NameTheModelByItsFullPath()
    {
        // A relative --model is reported as the full path it resolved to.
        string relative = Path.GetRelativePath(RepoPaths.RepoRoot, InstalledModel);
        var jsonl = CliProcess.Run(["classify", "--jsonl", "-", "--model", relative], "{\"prompt\": \"hi\"}\n[]\n"u8.ToArray(), RepoPaths.RepoRoot, null);
        string[] lines = jsonl.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Equal(InstalledModel, JsonDocument.Parse(l).RootElement.GetProperty("model").GetString()));

        var eval = CliProcess.Run("eval", "--data", Path.Combine(RepoPaths.Shared, "datasets", "dev.jsonl"), "--limit", "5", "--model", InstalledModel, "--json");
        Assert.Equal(0, eval.ExitCode);
        Assert.Equal(InstalledModel, JsonDocument.Parse(eval.Stdout).RootElement.GetProperty("model").GetString());
    }
}
