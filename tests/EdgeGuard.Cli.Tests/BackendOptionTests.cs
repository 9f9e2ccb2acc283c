using System.Text.Json;
using EdgeGuard.Testing;

namespace EdgeGuard.Cli.Tests;

/// <summary>
/// <c>--backend onnx</c> on the DeBERTa test model exported by <c>make onnx-test-models</c> (mk/onnx.mk): the same
/// verdicts and the same bench output as the native engine on the Hugging Face directory it was exported from.
/// </summary>
public sealed class BackendOptionTests
{
    private static string NativeModel => RepoPaths.DebertaTestModel;

    private static string OnnxModel
    {
        get
        {
            string path = Path.Combine(RepoPaths.RepoRoot, ".test-models", "deberta-edge", "model.onnx");
            Assert.True(File.Exists(path), $"{path} is missing: run `make onnx-test-models` at the repository root.");
            return path;
        }
    }

    [Fact]
    public void Classify_BackendOnnx_GivesTheNativeVerdict()
    {
        string[] input = ["classify", "How do I pick a lock?", "--response", "Use a tension wrench and a pick.", "--json", "--threads", "1"];
        var native = CliProcess.Run([.. input, "--model", NativeModel]);
        var onnx = CliProcess.Run([.. input, "--model", OnnxModel, "--backend", "onnx"]);
        Assert.True(native.ExitCode is 0 or 1, native.Stderr);
        Assert.Equal(native.ExitCode, onnx.ExitCode);
        using var expected = JsonDocument.Parse(native.Stdout);
        using var actual = JsonDocument.Parse(onnx.Stdout);
        Assert.Equal(expected.RootElement.GetProperty("label").GetString(), actual.RootElement.GetProperty("label").GetString());
        Assert.Equal(expected.RootElement.GetProperty("tokens").GetInt32(), actual.RootElement.GetProperty("tokens").GetInt32());
        Assert.Equal(expected.RootElement.GetProperty("unsafe_score").GetDouble(), actual.RootElement.GetProperty("unsafe_score").GetDouble(), 1e-5);
    }

    [Fact]
    public void Classify_BackendOnnx_InflatedNumLabels_IsRefusedWithoutMakingTheLabels()
    {
        string dir = Directory.CreateTempSubdirectory("edgeguard-cli-onnx-labels-").FullName;
        try
        {
            string exported = Path.GetDirectoryName(OnnxModel)!;
            foreach (string file in Directory.GetFiles(exported))
            {
                File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
            }

            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
            config.Remove("id2label");
            config.Remove("label2id");
            config["num_labels"] = 20_000_000;
            File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());

            // 20 million label names would not fit a 256 MiB heap.
            var heapLimit = new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x10000000" };
            var r = CliProcess.Run(["classify", "hi", "--backend", "onnx", "--model", dir], null, null, heapLimit);
            Assert.Equal(2, r.ExitCode);
            Assert.Equal(
                $"edgeguard: error: {Path.Combine(dir, "config.json")}: num_labels=20000000 does not match the model: its 'logits' has 2 columns.\n",
                r.Stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Bench_BackendOnnx_PrintsWhatTheNativeBenchPrints()
    {
        string[] bench = ["bench", "--seq", "32", "--batch", "2", "--iters", "2", "--warmup", "1", "--threads", "1"];
        var nativeJson = CliProcess.Run([.. bench, "--json", "--model", NativeModel]);
        var onnxJson = CliProcess.Run([.. bench, "--json", "--model", OnnxModel, "--backend", "onnx"]);
        Assert.Equal(0, nativeJson.ExitCode);
        Assert.Equal(0, onnxJson.ExitCode);
        using var expected = JsonDocument.Parse(nativeJson.Stdout);
        using var actual = JsonDocument.Parse(onnxJson.Stdout);
        Assert.Equal(expected.RootElement.EnumerateObject().Select(p => p.Name), actual.RootElement.EnumerateObject().Select(p => p.Name));
        foreach (string same in new[] { "precision", "seq", "batch", "threads", "iters" })
        {
            Assert.Equal(expected.RootElement.GetProperty(same).ToString(), actual.RootElement.GetProperty(same).ToString());
        }

        Assert.Equal(OnnxModel, actual.RootElement.GetProperty("model").GetString());
        var onnxText = CliProcess.Run([.. bench, "--model", OnnxModel, "--backend", "onnx"]);
        Assert.Equal(0, onnxText.ExitCode);
        string[] lines = onnxText.Stdout.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Equal($"{OnnxModel} (f32, 3x128)  seq=32 batch=2 threads=1 iters=2", lines[0]);
        Assert.StartsWith("latency per call: p50=", lines[1]);
        Assert.Contains("verdicts/s", lines[1]);
    }

    [Fact]
    public void BackendOnnx_OnADirectoryWithoutModelOnnx_IsAnErrorWithExitCode2()
    {
        var r = CliProcess.Run("classify", "text", "--model", NativeModel, "--backend", "onnx");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no model.onnx", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void Backend_UnknownName_IsAnErrorWithExitCode2()
    {
        var r = CliProcess.Run("eval", "--data", "x.jsonl", "--backend", "tensorrt");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("tensorrt", r.Stderr);
    }
}
