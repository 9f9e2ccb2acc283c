using System.Net;
using System.Text.Json;

namespace EdgeGuard.Daemon.Tests;

/// <summary>Signals and crashes, against <c>edgeguardd</c> running as its own process.</summary>
public sealed class ProcessLifecycleTests(TinyModels models, ITestOutputHelper output)
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Sigterm_DrainsInFlightRequests_ThenExitsAndRemovesTheSocket()
    {
        string socket = Path.Combine(models.NewScratch(), "edgeguardd.sock");
        using var daemon = DaemonProcess.Start(models.BundlePath, socket, "--max-batch", "1", "--max-windows", "512", "--drain-seconds", "60", "--deadline-ms", "60000");
        await daemon.WaitReadyAsync(StartLimit);

        string body = JsonSerializer.Serialize(new { input = ErrorResponseTests.LongText(1500) });
        var inFlight = Enumerable.Range(0, 6).Select(_ => daemon.Client.PostAsync("/v1/moderations", InProcessDaemon.Json(body))).ToArray();
        await WaitForQueueAsync(daemon);
        daemon.Signal("TERM");

        var responses = await Task.WhenAll(inFlight);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.True(daemon.WaitForExit(TimeSpan.FromSeconds(60)), daemon.Output);
        Assert.Equal(0, daemon.ExitCode);
        Assert.False(File.Exists(socket), "the socket file is removed at stop");
    }

    [Fact]
    public async Task Kill9_ThenRestartOnTheSameSocketPath_Serves()
    {
        string socket = Path.Combine(models.NewScratch(), "edgeguardd.sock");
        using (var first = DaemonProcess.Start(models.BundlePath, socket))
        {
            await first.WaitReadyAsync(StartLimit);
            first.KillHard();
            Assert.True(first.WaitForExit(TimeSpan.FromSeconds(30)));
        }

        Assert.True(File.Exists(socket), "kill -9 leaves the socket file behind");
        using var second = DaemonProcess.Start(models.BundlePath, socket);
        TimeSpan ready = await second.WaitReadyAsync(StartLimit);
        using var response = await second.Client.PostAsync("/v1/moderations", InProcessDaemon.Json("""{"input": "after a crash"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        output.WriteLine($"start to /readyz 200 (dotnet edgeguardd.dll, tiny bundle): {ready.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task SecondDaemon_OnALiveSocket_RefusesToStart_AndTheFirstKeepsServing()
    {
        string socket = Path.Combine(models.NewScratch(), "edgeguardd.sock");
        using var first = DaemonProcess.Start(models.BundlePath, socket);
        await first.WaitReadyAsync(StartLimit);
        using var second = DaemonProcess.Start(models.BundlePath, socket);

        Assert.True(second.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Equal(2, second.ExitCode);
        Assert.Contains("another process is listening", second.Output);
        using var response = await first.Client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Sighup_ReloadsTheModel_ACorruptFileKeepsTheOldOneServing()
    {
        string dir = models.NewScratch();
        string served = Path.Combine(dir, "model.gguf");
        File.Copy(models.BundlePath, served);
        using var daemon = DaemonProcess.Start(served, Path.Combine(dir, "edgeguardd.sock"));
        await daemon.WaitReadyAsync(StartLimit);

        File.Copy(models.CorruptPath, served + ".new");
        File.Move(served + ".new", served, overwrite: true);
        daemon.Signal("HUP");
        await WaitForMetricAsync(daemon, "edgeguard_model_reloads_total{result=\"failure\"} 1\n");
        using var during = await daemon.Client.PostAsync("/v1/moderations", InProcessDaemon.Json("""{"input": "old model"}"""));

        Assert.Equal(HttpStatusCode.OK, during.StatusCode);
        Assert.Contains("Still serving", daemon.Output);

        File.Copy(models.BundlePath, served + ".new");
        File.Move(served + ".new", served, overwrite: true);
        daemon.Signal("HUP");
        await WaitForMetricAsync(daemon, "edgeguard_model_reloads_total{result=\"success\"} 2\n");
        Assert.False(daemon.HasExited);
    }

    private static async Task WaitForQueueAsync(DaemonProcess daemon)
    {
        for (int i = 0; i < 500; i++)
        {
            string metrics = await daemon.MetricsAsync();
            if (!metrics.Contains("edgeguard_queue_depth 0\n", StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(10);
        }

        throw new TimeoutException("the requests never queued");
    }

    private static async Task WaitForMetricAsync(DaemonProcess daemon, string line)
    {
        for (int i = 0; i < 500; i++)
        {
            if ((await daemon.MetricsAsync()).Contains(line, StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"metrics never showed {line.Trim()}:\n{daemon.Output}");
    }
}
