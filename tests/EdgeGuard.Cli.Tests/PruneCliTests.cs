using System.Text.Json;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Pruning;
using EdgeGuard.Testing;

namespace EdgeGuard.Cli.Tests;

/// <summary>
/// <c>edgeguard prune</c> against the golden of the training pipeline's antidote stage (tests/fixtures/antidote, written by
/// <c>make-antidote-golden</c>): the same rows, tokens and mask digests, zeros exactly where the masks are, and clear errors.
/// </summary>
public sealed class PruneCliTests
{
    private static readonly string Root = Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures", "antidote");
    private static readonly string CalibrationFile = Path.Combine(Root, "calibration.jsonl");

    private static JsonElement[] GoldenRuns()
    {
        using JsonDocument golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "golden.json")));
        return [.. golden.RootElement.GetProperty("runs").EnumerateArray().Select(r => r.Clone())];
    }

    private static JsonElement Run(string model, string linears, string mode) =>
        GoldenRuns().Single(r => r.GetProperty("model").GetString() == model && r.GetProperty("linears").GetString() == linears && r.GetProperty("mode").GetString() == mode);

    private static CliResult Prune(string model, JsonElement run, string output, params string[] extra) =>
        CliProcess.Run(
        [
            "prune", "--model", model, "--calibration", CalibrationFile, "--output", output, "--threads", "1",
            .. run.GetProperty("arguments").EnumerateArray().Select(a => a.GetString()!), .. extra,
        ]);

    private static JsonDocument Report(string output) => JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "antidote.json")));

    private static void AssertSameMasks(JsonElement expected, JsonElement actual)
    {
        JsonElement calibration = actual.GetProperty("calibration");
        Assert.Equal(expected.GetProperty("rows_available").GetInt32(), calibration.GetProperty("rows_available").GetInt32());
        Assert.Equal(expected.GetProperty("rows_used").GetInt32(), calibration.GetProperty("rows_used").GetInt32());
        Assert.Equal(expected.GetProperty("tokens").GetInt32(), calibration.GetProperty("tokens").GetInt32());
        Assert.Equal(expected.GetProperty("pruned").GetInt64(), actual.GetProperty("pruned").GetInt64());
        Assert.Equal(expected.GetProperty("weights_in_chosen_layers").GetInt64(), actual.GetProperty("weights_in_chosen_layers").GetInt64());
        JsonElement[] want = [.. expected.GetProperty("layers").EnumerateArray()], got = [.. actual.GetProperty("layers").EnumerateArray()];
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
        {
            string name = want[i].GetProperty("name").GetString()!;
            Assert.Equal(name, got[i].GetProperty("name").GetString());
            Assert.Equal(want[i].GetProperty("shape").GetRawText().Replace(" ", string.Empty, StringComparison.Ordinal).Replace("\n", string.Empty, StringComparison.Ordinal),
                got[i].GetProperty("shape").GetRawText().Replace(" ", string.Empty, StringComparison.Ordinal).Replace("\n", string.Empty, StringComparison.Ordinal));
            Assert.Equal(want[i].GetProperty("zeros_per_row").GetInt32(), got[i].GetProperty("zeros_per_row").GetInt32());
            Assert.True(
                want[i].GetProperty("mask_sha256").GetString() == got[i].GetProperty("mask_sha256").GetString(),
                $"{name}: the runtime's mask differs from the antidote stage's");
        }

        Assert.Equal(expected.GetProperty("mask_sha256").GetString(), actual.GetProperty("mask_sha256").GetString());
    }

    /// <summary>The mask a pruned weight shows: true where it is zero and the original was not, as <c>[out, in]</c>.</summary>
    private static bool[] ZerosAsMask(ITensorSource original, ITensorSource pruned, string tensor, int outputs, int inputs, bool inputMajor)
    {
        ReadOnlySpan<float> before = original.ReadFloat32(tensor).Span, after = pruned.ReadFloat32(tensor).Span;
        var mask = new bool[outputs * inputs];
        for (int o = 0; o < outputs; o++)
        {
            for (int i = 0; i < inputs; i++)
            {
                int stored = inputMajor ? (i * outputs) + o : (o * inputs) + i;
                Assert.NotEqual(0f, before[stored]);
                if (after[stored] == 0f)
                {
                    mask[(o * inputs) + i] = true;
                }
                else
                {
                    Assert.Equal(before[stored], after[stored]);
                }
            }
        }

        return mask;
    }

    [Theory]
    [InlineData("llama", "qkv", "wanda")]
    [InlineData("llama", "qkv", "magnitude")]
    [InlineData("llama", "all", "wanda")]
    [InlineData("llama", "all", "magnitude")]
    [InlineData("gpt2", "qkv", "wanda")]
    [InlineData("gpt2", "qkv", "magnitude")]
    [InlineData("gpt2", "all", "wanda")]
    [InlineData("gpt2", "all", "magnitude")]
    public void Prune_GoldenRun_GivesTheAntidoteStagesMasks(string model, string linears, string mode)
    {
        using var temp = new TempFolder();
        JsonElement run = Run(model, linears, mode);
        CliResult result = Prune(Path.Combine(Root, model), run, temp.Path);
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains($"mode={mode} linears={linears}", result.Stdout);
        using JsonDocument report = Report(temp.Path);
        AssertSameMasks(run, report.RootElement);
        Assert.Equal("antidote", report.RootElement.GetProperty("method").GetString());
        Assert.Equal(0.15, report.RootElement.GetProperty("dense_ratio").GetDouble());
    }

    [Fact]
    public void Prune_TextFieldsAndWhere_SelectAndTokenizeTheRowsTheStageDoes()
    {
        using JsonDocument golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "golden.json")));
        int index = 0;
        foreach (JsonElement selection in golden.RootElement.GetProperty("selections").EnumerateArray())
        {
            using var temp = new TempFolder();
            string[] where = [.. selection.GetProperty("where").EnumerateArray().SelectMany(w => new[] { "--where", w.GetString()! })];
            CliResult result = CliProcess.Run(
            [
                "prune", "--model", Path.Combine(Root, "llama"), "--calibration", CalibrationFile, "--mode", "magnitude", "--samples", "1000000",
                "--max-length", "40", "--text-fields", selection.GetProperty("text_fields").GetString()!, .. where, "--output", temp.Path, "--json",
            ]);
            Assert.True(result.ExitCode == 0, result.Stderr);
            using JsonDocument report = JsonDocument.Parse(result.Stdout);
            JsonElement calibration = report.RootElement.GetProperty("calibration");
            string which = $"selection {index++} ({selection.GetRawText()})";
            Assert.True(selection.GetProperty("rows_available").GetInt32() == calibration.GetProperty("rows_available").GetInt32(), which);
            Assert.True(selection.GetProperty("rows_used").GetInt32() == calibration.GetProperty("rows_used").GetInt32(), which);
            Assert.True(selection.GetProperty("tokens").GetInt32() == calibration.GetProperty("tokens").GetInt32(), which);
        }

        Assert.True(index >= 5);
    }

    [Fact]
    public void Prune_WandaAndMagnitude_ChooseDifferentWeights()
    {
        Assert.NotEqual(Run("llama", "all", "wanda").GetProperty("mask_sha256").GetString(), Run("llama", "all", "magnitude").GetProperty("mask_sha256").GetString());
        Assert.NotEqual(Run("gpt2", "qkv", "wanda").GetProperty("mask_sha256").GetString(), Run("gpt2", "qkv", "magnitude").GetProperty("mask_sha256").GetString());
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void Prune_HuggingFaceDirectory_ZerosSitWhereTheMasksSayAndNothingElseChanges(string model)
    {
        using var temp = new TempFolder();
        JsonElement run = Run(model, "all", "wanda");
        CliResult result = Prune(Path.Combine(Root, model), run, temp.Path);
        Assert.True(result.ExitCode == 0, result.Stderr);

        using var original = ModelSource.Open(Path.Combine(Root, model));
        using var pruned = ModelSource.Open(temp.Path);
        Assert.Equal(ModelSource.HuggingFaceFormatName, pruned.Format);
        Assert.Equal(File.ReadAllText(Path.Combine(Root, model, "config.json")), File.ReadAllText(Path.Combine(temp.Path, "config.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(Root, model, "tokenizer.json")), File.ReadAllBytes(Path.Combine(temp.Path, "tokenizer.json")));
        var layers = run.GetProperty("layers").EnumerateArray().ToDictionary(l => l.GetProperty("name").GetString()!);
        foreach (TensorInfo tensor in original.Weights.Tensors)
        {
            string reported = model == "gpt2" && !tensor.Name.StartsWith("transformer.", StringComparison.Ordinal) ? "transformer." + tensor.Name : tensor.Name;
            if (!layers.TryGetValue(reported, out JsonElement layer))
            {
                Assert.Equal(original.Weights.ReadFloat32(tensor.Name).ToArray(), pruned.Weights.ReadFloat32(tensor.Name).ToArray());
                continue;
            }

            int[] shape = [.. layer.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32())];
            bool[] mask = ZerosAsMask(original.Weights, pruned.Weights, tensor.Name, shape[0], shape[1], inputMajor: model == "gpt2");
            Assert.Equal(layer.GetProperty("mask_sha256").GetString(), AntidoteMasks.Digest(mask));
            layers.Remove(reported);
        }

        Assert.Empty(layers);
    }

    [Fact]
    public void Prune_FloatBundle_WritesAFolderBundleWithTheSameMasks()
    {
        using var temp = new TempFolder();
        string bundle = Path.Combine(temp.Path, "llama.gguf");
        CliResult converted = CliProcess.Run("convert", Path.Combine(Root, "llama"), "-o", bundle);
        Assert.True(converted.ExitCode == 0, converted.Stderr);
        string output = Path.Combine(temp.Path, "pruned");
        JsonElement run = Run("llama", "qkv", "wanda");
        CliResult result = Prune(bundle, run, output);
        Assert.True(result.ExitCode == 0, result.Stderr);
        using (JsonDocument report = Report(output))
        {
            AssertSameMasks(run, report.RootElement);
        }

        Assert.False(File.Exists(Path.Combine(output, "model.safetensors")));
        using var original = ModelSource.Open(bundle);
        using var pruned = ModelSource.Open(output);
        Assert.Equal(ModelSource.BundleFormatName, pruned.Format);
        foreach (JsonElement layer in run.GetProperty("layers").EnumerateArray())
        {
            int[] shape = [.. layer.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32())];
            string name = layer.GetProperty("name").GetString()!;
            Assert.Equal(layer.GetProperty("mask_sha256").GetString(), AntidoteMasks.Digest(ZerosAsMask(original.Weights, pruned.Weights, name, shape[0], shape[1], inputMajor: false)));
        }
    }

    [Fact]
    public void Prune_BadInput_FailsWithAClearErrorAndWritesNothing()
    {
        using var temp = new TempFolder();
        string llama = Path.Combine(Root, "llama");
        string output = Path.Combine(temp.Path, "out");

        void Refused(string[] args, string message)
        {
            CliResult result = CliProcess.Run(["prune", .. args]);
            Assert.True(result.ExitCode == 2, $"{string.Join(' ', args)}: exit {result.ExitCode}\n{result.Stdout}{result.Stderr}");
            Assert.Contains(message, result.Stderr);
            Assert.False(Directory.Exists(output), $"{string.Join(' ', args)} wrote {output}");
        }

        string missing = Path.Combine(temp.Path, "no-such.jsonl");
        Refused(["--model", llama, "--calibration", missing, "--output", output], $"{missing}: no such calibration file");
        Refused(["--model", llama, "--calibration", CalibrationFile, "--where", "label=no-such-label", "--output", output], "gives text (check --text-fields and --where)");
        string blank = Path.Combine(temp.Path, "blank.jsonl");
        File.WriteAllText(blank, "\n{\"prompt\": \"  \"}\n{\"prompt\": null}\n");
        Refused(["--model", llama, "--calibration", blank, "--output", output], "gives text");
        string broken = Path.Combine(temp.Path, "broken.jsonl");
        File.WriteAllText(broken, "{\"prompt\": \"fine\"}\n[1, 2]\n");
        Refused(["--model", llama, "--calibration", broken, "--output", output], "broken.jsonl:2: not a JSON object");
        Refused(["--model", llama, "--output", output], "--mode wanda needs --calibration");
        Refused(["--model", llama, "--calibration", CalibrationFile, "--dense-ratio", "0", "--output", output], "--dense-ratio 0 is not in (0, 1)");
        Refused(["--model", llama, "--calibration", CalibrationFile, "--dense-ratio", "1.5", "--output", output], "--dense-ratio 1.5 is not in (0, 1)");
        Refused(["--model", llama, "--calibration", CalibrationFile, "--mode", "random", "--output", output], "python3 -m edgeguard_train antidote --mode random");
        Refused(["--model", llama, "--calibration", CalibrationFile, "--max-length", "49", "--output", output], "--max-length 49 must be 1 to the model's context of 48");
        Refused(["--calibration", CalibrationFile, "--output", output], "prune needs --model");

        string encoder = Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures", "bert", "tiny-odd-heads");
        Refused(["--model", encoder, "--calibration", CalibrationFile, "--output", output], "is a sequence classifier; prune works on decoder language models");

        string int8 = Path.Combine(temp.Path, "llama-int8.gguf");
        CliResult converted = CliProcess.Run("convert", llama, "-o", int8, "--quant", "int8");
        Assert.True(converted.ExitCode == 0, converted.Stderr);
        Refused(["--model", int8, "--calibration", CalibrationFile, "--output", output], "an int8 bundle; pruning scores and zeroes float32 weights");

        Refused(["--model", llama, "--calibration", CalibrationFile, "--output", llama], "--output must differ from --model");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "model.safetensors"), "x");
        CliResult kept = CliProcess.Run("prune", "--model", llama, "--calibration", CalibrationFile, "--output", output);
        Assert.Equal(2, kept.ExitCode);
        Assert.Contains("already holds a model (--overwrite replaces it)", kept.Stderr);
        Assert.Equal("x", File.ReadAllText(Path.Combine(output, "model.safetensors")));
    }

    [Fact]
    public void Prune_MagnitudeWithoutCalibration_NeedsNoText()
    {
        using var temp = new TempFolder();
        CliResult result = CliProcess.Run("prune", "--model", Path.Combine(Root, "gpt2"), "--mode", "magnitude", "--dense-ratio", "0.15", "--linears", "all", "--output", temp.Path, "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        using JsonDocument report = JsonDocument.Parse(result.Stdout);
        Assert.Equal(0, report.RootElement.GetProperty("calibration").GetProperty("rows_used").GetInt32());
        Assert.Equal(Run("gpt2", "all", "magnitude").GetProperty("mask_sha256").GetString(), report.RootElement.GetProperty("mask_sha256").GetString());
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("edgeguard-prune-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
