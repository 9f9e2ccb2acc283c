namespace EdgeGuard.Compare.Tests;

public sealed class ChildLauncherTests
{
    private static readonly Cell Cell = new("xsmall", 32, 1, 2);

    [Fact]
    public void BenchArguments_OnnxEngine_AsksForItsBackend_NativeEngineUsesTheDefault()
    {
        var settings = Runs.Settings();
        var onnx = ChildLauncher.BenchArguments(Engine.ById("ort-int8"), Cell, "m.onnx", settings, scoreRows: false);
        var native = ChildLauncher.BenchArguments(Engine.ById("edgeguard-int8"), Cell, "m.gguf", settings, scoreRows: false);
        Assert.Equal(["--backend", "onnx"], onnx.SkipWhile(a => a != "--backend"));
        Assert.DoesNotContain("--backend", native);
        Assert.DoesNotContain("--score-rows", native);
        Assert.Equal(["bench", "--events"], native.Take(2));
    }

    [Fact]
    public void BenchArguments_ScoringChild_AsksForTheAgreementRows()
    {
        var args = ChildLauncher.BenchArguments(Engine.All[0], Cell, "m.gguf", Runs.Settings(), scoreRows: true);
        Assert.Equal("3", args[args.ToList().IndexOf("--score-rows") + 1]);
    }

    [Fact]
    public void Run_TimesTheEventsAndReadsTheResult()
    {
        string cli = Script(
            "echo '{\"event\":\"opened\"}'",
            "sleep 0.2",
            "echo '{\"event\":\"first_verdict\"}'",
            "echo '{\"peak_rss_bytes\":4096,\"threshold\":0.5,\"latencies_ms\":[1,2],\"unsafe_scores\":[]}'");
        var run = new ChildLauncher(cli).Run(Engine.All[0], Cell, "m.gguf", Runs.Settings(), round: 1, order: 0, scoreRows: false);
        Assert.True(run.Succeeded, run.Error);
        Assert.True(run.FirstVerdictMs - run.OpenedMs >= 150, $"opened {run.OpenedMs} ms, first verdict {run.FirstVerdictMs} ms");
        Assert.Equal([1.0, 2.0], run.LatenciesMs);
        Assert.Equal(4096, run.PeakRssBytes);
        Assert.Equal(1, run.Round);
    }

    [Fact]
    public void Run_FailingChild_KeepsItsLastErrorLine()
    {
        string cli = Script("echo '{\"event\":\"opened\"}'", "echo 'edgeguard: error: --seq 600 exceeds the model maximum' >&2", "exit 2");
        var run = new ChildLauncher(cli).Run(Engine.All[0], Cell, "m.gguf", Runs.Settings(), round: 0, order: 0, scoreRows: false);
        Assert.False(run.Succeeded);
        Assert.Equal(2, run.ExitCode);
        Assert.Equal("exit code 2: edgeguard: error: --seq 600 exceeds the model maximum", run.Error);
    }

    [Fact]
    public void LocateModels_Missing_NamesTheFilesAndTheMakeCommand()
    {
        string dir = Directory.CreateTempSubdirectory("compare-models-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "base"));
            File.WriteAllBytes(Path.Combine(dir, "base", "int8.gguf"), new byte[10]);
            var settings = Runs.Settings(shapes: ["base", "large"], engines: ["edgeguard-int8", "ort-int8"]) with { ModelsDirectory = dir };
            var (found, missing) = CompareRunner.LocateModels(settings);
            Assert.Equal(10, Assert.Single(found).Bytes);
            Assert.Equal(
                [Path.Combine(dir, "base", "int8.onnx"), Path.Combine(dir, "large", "int8.gguf"), Path.Combine(dir, "large", "int8.onnx")],
                missing);
            Assert.Equal("make bench-models SHAPES=\"base large\"", CompareRunner.MakeModelsCommand(["base", "large"]));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A stand-in CLI: a shell script that prints what a bench child would.</summary>
    private static string Script(params string[] lines)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("compare-cli-").FullName, "edgeguard");
        File.WriteAllText(path, "#!/bin/sh\n" + string.Join('\n', lines) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return path;
    }
}
