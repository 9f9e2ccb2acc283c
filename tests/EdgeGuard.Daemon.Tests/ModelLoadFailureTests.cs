using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeGuard.Daemon.Models;
using EdgeGuard.ModelFiles;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGuard.Daemon.Tests;

/// <summary>
/// Models that fail to load in every way a file can make them fail: the daemon keeps running, says why in a few hundred
/// characters, counts the failure, keeps nothing of the failed model, and never waits on a file that blocks.
/// </summary>
public sealed class ModelLoadFailureTests(TinyModels models)
{
    private const string Token = "load-token";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task LongLoadError_IsBoundedInReadyzReloadAndLogs()
    {
        string huge = "labels [" + string.Join(", ", Enumerable.Range(0, 100_000).Select(i => "LABEL_" + i)) + "]";
        await using var daemon = await InProcessDaemon.StartAsync(
            models, models.BundlePath, (path, _) => throw new ModelFileException($"{path}: none of the {huge} is unsafe."), null, "--token", Token);

        using var ready = await daemon.Http.GetAsync("/readyz");
        string readyBody = await ready.Content.ReadAsStringAsync();
        using var reload = await Reload(daemon);
        string reloadBody = await reload.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.True(readyBody.Length < 1000, $"/readyz answered {readyBody.Length} characters");
        Assert.Contains("LABEL_0", readyBody);
        Assert.Contains("…", readyBody);
        Assert.Equal((HttpStatusCode)422, reload.StatusCode);
        Assert.True(reloadBody.Length < 1000, $"/admin/reload answered {reloadBody.Length} characters");
        Assert.All(daemon.Logs.Lines, l => Assert.True(l.Length < 2000, $"a log line of {l.Length} characters"));
    }

    [Fact]
    public async Task LabelBombConfig_DoesNotInflateReadyz()
    {
        string dir = CopyOfTinyModel(config =>
        {
            config.Remove("id2label");
            config.Remove("label2id");
            config["num_labels"] = 200_000;
        });
        await using var daemon = await InProcessDaemon.StartAsync(models, dir);
        using var ready = await daemon.Http.GetAsync("/readyz");
        string body = await ready.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.True(body.Length < 1000, $"/readyz answered {body.Length} characters");
    }

    [Fact]
    public async Task FailedLoad_ReleasesTheHalfLoadedModelsMemory()
    {
        var weak = await FailOneLoadHoldingAsync(64 << 20);

        // No collection here: the daemon returns a failed load's memory itself instead of waiting for the next allocation.
        Assert.False(weak.IsAlive, "the half-loaded model is still in memory after the failed load");
    }

    [Fact]
    public async Task UnexpectedExceptionAtStart_LeavesTheDaemonRunningAndNotReady()
    {
        await using var daemon = await InProcessDaemon.StartAsync(
            models, models.BundlePath, (_, _) => throw new IndexOutOfRangeException("layer 7 of 3"), null, "--token", Token).WaitAsync(Limit);
        using var health = await daemon.Http.GetAsync("/healthz");
        using var ready = await daemon.Http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("layer 7 of 3", await ready.Content.ReadAsStringAsync());
        Assert.Contains("edgeguard_model_reloads_total{result=\"failure\"} 1\n", await daemon.MetricsAsync(Token));
    }

    [Fact]
    public async Task UnexpectedExceptionOnReload_Is422WithAnErrorObject_AndCountedAsAFailure()
    {
        int opens = 0;
        await using var daemon = await InProcessDaemon.StartAsync(
            models,
            models.BundlePath,
            (path, options) => Interlocked.Increment(ref opens) == 1 ? Guard.Open(path, options) : throw new OutOfMemoryException("Array dimensions exceeded supported range."),
            null,
            "--token",
            Token);
        using var reload = await Reload(daemon);
        using var still = await daemon.PostJsonAsync("/v1/moderations", """{"input": "still serving"}""", Token);

        Assert.Equal((HttpStatusCode)422, reload.StatusCode);
        string body = await reload.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(body);
        Assert.Equal("model_invalid", json.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("Array dimensions exceeded", body);
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        Assert.Contains("edgeguard_model_reloads_total{result=\"failure\"} 1\n", await daemon.MetricsAsync(Token));
    }

    [Fact]
    public async Task HugeLayerCountConfig_DoesNotStopTheDaemon()
    {
        string dir = CopyOfTinyModel(config => config["num_hidden_layers"] = int.MaxValue);
        await using var daemon = await InProcessDaemon.StartAsync(models, dir).WaitAsync(Limit);
        using var ready = await daemon.Http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
    }

    [Fact]
    public async Task FifoAsTheModel_StartsNotReady_NamingTheProblem()
    {
        string fifo = MakeFifo(models.NewScratch(), "model.gguf");
        await using var daemon = await InProcessDaemon.StartAsync(models, fifo).WaitAsync(Limit);
        using var ready = await daemon.Http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("not a regular file", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ReloadThroughASymlinkToAFifo_Is422_AndTheNextReloadWorks()
    {
        string dir = models.NewScratch();
        string fifo = MakeFifo(dir, "pipe");
        string served = Path.Combine(dir, "model.gguf");
        File.CreateSymbolicLink(served, models.BundlePath);
        await using var daemon = await InProcessDaemon.StartAsync(models, served, "--token", Token);

        File.Delete(served);
        File.CreateSymbolicLink(served, fifo);
        using var blocked = await Reload(daemon).WaitAsync(Limit);
        File.Delete(served);
        File.CreateSymbolicLink(served, models.BundlePath);
        using var good = await Reload(daemon).WaitAsync(Limit);

        Assert.Equal((HttpStatusCode)422, blocked.StatusCode);
        Assert.Contains("not a regular file", await blocked.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
    }

    [Fact]
    public async Task FifoInsideAModelDirectory_IsRefusedBeforeOpening()
    {
        string dir = models.NewScratch();
        foreach (string file in Directory.GetFiles(models.HfDir))
        {
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        }

        File.Delete(Path.Combine(dir, "model.safetensors"));
        MakeFifo(dir, "model.safetensors");
        await using var daemon = await InProcessDaemon.StartAsync(models, dir).WaitAsync(Limit);
        using var ready = await daemon.Http.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("model.safetensors", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task LoadThatNeverReturns_DoesNotBlockShutdown_OrHoldTheReloadGate()
    {
        using var stuck = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int opens = 0;
        try
        {
            var daemon = await InProcessDaemon.StartAsync(
                models,
                models.BundlePath,
                (path, options) =>
                {
                    if (Interlocked.Increment(ref opens) == 2)
                    {
                        entered.TrySetResult();
                        stuck.Wait(TimeSpan.FromMinutes(2));
                    }

                    return Guard.Open(path, options);
                },
                null,
                "--token",
                Token,
                "--drain-seconds",
                "1");
            var host = daemon.Services.GetRequiredService<ModelHost>();
            _ = Reload(daemon);
            await entered.Task.WaitAsync(Limit);

            await daemon.DisposeAsync().AsTask().WaitAsync(Limit);

            Assert.Null(host.Current);
        }
        finally
        {
            stuck.Set();
        }
    }

    [Fact]
    public async Task LoadCancelledByShutdown_ReleasesTheGateForTheNextLoad()
    {
        using var stuck = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int opens = 0;
        var host = new ModelHost(models.BundlePath, new GuardOptions { Threads = 1 }, NullLogger<ModelHost>.Instance, (path, options) =>
        {
            if (Interlocked.Increment(ref opens) == 1)
            {
                entered.TrySetResult();
                stuck.Wait(TimeSpan.FromMinutes(2));
            }

            return Guard.Open(path, options);
        });
        try
        {
            using var stop = new CancellationTokenSource();
            var first = host.LoadAsync("first", stop.Token);
            await entered.Task.WaitAsync(Limit);
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.WaitAsync(Limit));

            var second = await host.LoadAsync("second").WaitAsync(Limit);

            Assert.True(second.Succeeded, second.Message);
        }
        finally
        {
            stuck.Set();
            host.Dispose();
        }
    }

    private async Task<WeakReference> FailOneLoadHoldingAsync(int bytes)
    {
        var weak = new WeakReference(null);
        var host = new ModelHost(models.BundlePath, new GuardOptions(), NullLogger<ModelHost>.Instance, (path, _) =>
        {
            // A model that got as far as its weights, then failed: the exception is all that refers to them.
            var weights = new byte[bytes];
            Array.Fill(weights, (byte)1);
            weak.Target = weights;
            var failure = new ModelFileException($"{path}: the classifier does not match the labels.");
            failure.Data["weights"] = weights;
            throw failure;
        });
        var outcome = await host.LoadAsync("test");
        Assert.False(outcome.Succeeded);
        host.Dispose();
        return weak;
    }

    /// <summary>The tiny Hugging Face model with its config.json edited.</summary>
    private string CopyOfTinyModel(Action<JsonObject> edit)
    {
        string dir = models.NewScratch();
        foreach (string file in Directory.GetFiles(models.HfDir))
        {
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        }

        string configPath = Path.Combine(dir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        edit(config);
        File.WriteAllText(configPath, config.ToJsonString());
        return dir;
    }

    internal static string MakeFifo(string dir, string name)
    {
        string path = Path.Combine(dir, name);
        using var mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    private static Task<HttpResponseMessage> Reload(InProcessDaemon daemon)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/admin/reload");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return daemon.Http.SendAsync(request);
    }
}
