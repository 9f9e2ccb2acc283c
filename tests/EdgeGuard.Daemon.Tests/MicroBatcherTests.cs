using EdgeGuard.Daemon.Batching;
using EdgeGuard.Daemon.Metrics;
using EdgeGuard.Daemon.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGuard.Daemon.Tests;

public sealed class MicroBatcherTests(TinyModels models)
{
    [Fact]
    public async Task OneRefusedInput_DoesNotFailItsBatchMates()
    {
        using var host = await LoadedHost(maxWindows: 1);
        var metrics = new DaemonMetrics();
        using var batcher = new MicroBatcher(16, TimeSpan.FromMilliseconds(200), 16, host, metrics, null, NullLogger<MicroBatcher>.Instance);

        // Queued before the loop starts, so all three land in one batch.
        var before = new ClassificationJob([new GuardInput("short one")], CancellationToken.None);
        var tooLong = new ClassificationJob([new GuardInput(ErrorResponseTests.LongText(2000))], CancellationToken.None);
        var after = new ClassificationJob([new GuardInput("short two"), new GuardInput("short three", "reply")], CancellationToken.None);
        Assert.True(batcher.TryEnqueue(before) && batcher.TryEnqueue(tooLong) && batcher.TryEnqueue(after));
        await batcher.StartAsync(CancellationToken.None);

        var a = await before.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        var b = await tooLong.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        var c = await after.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        await batcher.StopAsync(CancellationToken.None);

        Assert.Equal(JobFailure.None, a.Failure);
        Assert.Equal(JobFailure.InvalidInput, b.Failure);
        Assert.Contains("windows", b.Error);
        Assert.Equal(JobFailure.None, c.Failure);
        Assert.Equal(models.Reference.Classify("short one").UnsafeScore, a.Verdicts![0].UnsafeScore, 5);
        Assert.Equal(models.Reference.Classify("short three", "reply").UnsafeScore, c.Verdicts![1].UnsafeScore, 5);
    }

    [Fact]
    public async Task ConcurrentJobs_CoalesceIntoBatches_InInputOrder()
    {
        using var host = await LoadedHost(maxWindows: 64);
        var metrics = new DaemonMetrics();
        using var batcher = new MicroBatcher(8, TimeSpan.FromMilliseconds(100), 64, host, metrics, null, NullLogger<MicroBatcher>.Instance);
        var jobs = Enumerable.Range(0, 16).Select(i => new ClassificationJob([new GuardInput("text number " + i)], CancellationToken.None)).ToArray();
        foreach (var job in jobs)
        {
            Assert.True(batcher.TryEnqueue(job));
        }

        await batcher.StartAsync(CancellationToken.None);
        var results = await Task.WhenAll(jobs.Select(j => j.Completion)).WaitAsync(TimeSpan.FromSeconds(30));
        await batcher.StopAsync(CancellationToken.None);

        for (int i = 0; i < jobs.Length; i++)
        {
            Assert.Equal(models.Reference.Classify("text number " + i).UnsafeScore, results[i].Verdicts![0].UnsafeScore, 5);
        }

        var text = new System.Text.StringBuilder();
        metrics.Write(text, default(DaemonMetrics.Snapshot) with { Profile = "none" });
        Assert.Contains("edgeguard_batch_size_count 2\n", text.ToString());
        Assert.Contains("edgeguard_batch_size_sum 16\n", text.ToString());
    }

    [Fact]
    public async Task CancelledJob_IsNotRun_AndTheOthersAre()
    {
        using var host = await LoadedHost(maxWindows: 64);
        using var batcher = new MicroBatcher(8, TimeSpan.FromMilliseconds(10), 8, host, new DaemonMetrics(), null, NullLogger<MicroBatcher>.Instance);
        using var gone = new CancellationTokenSource();
        var left = new ClassificationJob([new GuardInput("client left")], gone.Token);
        var stays = new ClassificationJob([new GuardInput("client stays")], CancellationToken.None);
        batcher.TryEnqueue(left);
        batcher.TryEnqueue(stays);
        await gone.CancelAsync();
        await batcher.StartAsync(CancellationToken.None);

        var result = await stays.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => left.Completion);
        await batcher.StopAsync(CancellationToken.None);
        Assert.Equal(JobFailure.None, result.Failure);
    }

    [Fact]
    public async Task JobWhoseClientLeaves_CancelsTheBatchItRunsIn()
    {
        using var gated = new GatedClassifier();
        using var host = await ScriptedHost(gated);
        var metrics = new DaemonMetrics();
        using var batcher = new MicroBatcher(8, TimeSpan.Zero, 8, host, metrics, null, NullLogger<MicroBatcher>.Instance);
        using var client = new CancellationTokenSource();
        var job = new ClassificationJob([new GuardInput("a long request nobody waits for")], client.Token);
        await batcher.StartAsync(CancellationToken.None);
        Assert.True(batcher.TryEnqueue(job));

        await gated.Entered.WaitAsync(Limit);
        await client.CancelAsync();
        await gated.Cancelled.WaitAsync(Limit);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => job.Completion.WaitAsync(Limit));
        await batcher.StopAsync(CancellationToken.None);
        Assert.Contains("edgeguard_cancelled_inputs_total 1\n", Scrape(metrics));
    }

    [Fact]
    public async Task SharedBatch_RunsOnWhileOneOfItsJobsStillWaits_AndStopsWhenNoneDoes()
    {
        using var gated = new GatedClassifier();
        using var host = await ScriptedHost(gated);
        var metrics = new DaemonMetrics();
        using var batcher = new MicroBatcher(8, TimeSpan.FromMilliseconds(200), 8, host, metrics, null, NullLogger<MicroBatcher>.Instance);
        using var leaves = new CancellationTokenSource();
        using var stays = new CancellationTokenSource();
        var left = new ClassificationJob([new GuardInput("client leaves")], leaves.Token);
        var waiting = new ClassificationJob([new GuardInput("client stays"), new GuardInput("and another")], stays.Token);

        // Queued before the loop starts, so both land in one batch.
        Assert.True(batcher.TryEnqueue(left) && batcher.TryEnqueue(waiting));
        await batcher.StartAsync(CancellationToken.None);
        await gated.Entered.WaitAsync(Limit);
        await leaves.CancelAsync();

        // Cancellation callbacks run inside Cancel: had the batch been cancelled, its token would show it by now.
        Assert.False(gated.Token.IsCancellationRequested, "a batch was cancelled while one of its requests still waited");
        gated.Release();
        var result = await waiting.Completion.WaitAsync(Limit);
        await batcher.StopAsync(CancellationToken.None);

        Assert.Equal(JobFailure.None, result.Failure);
        Assert.Equal(2, result.Verdicts!.Length);
        Assert.Contains("edgeguard_cancelled_inputs_total 0\n", Scrape(metrics));
    }

    [Fact]
    public async Task SharedBatch_IsCancelledWhenEveryJobsClientHasLeft()
    {
        using var gated = new GatedClassifier();
        using var host = await ScriptedHost(gated);
        var metrics = new DaemonMetrics();
        using var batcher = new MicroBatcher(8, TimeSpan.FromMilliseconds(200), 8, host, metrics, null, NullLogger<MicroBatcher>.Instance);
        using var first = new CancellationTokenSource();
        using var second = new CancellationTokenSource();
        var a = new ClassificationJob([new GuardInput("first")], first.Token);
        var b = new ClassificationJob([new GuardInput("second"), new GuardInput("third")], second.Token);
        Assert.True(batcher.TryEnqueue(a) && batcher.TryEnqueue(b));
        await batcher.StartAsync(CancellationToken.None);
        await gated.Entered.WaitAsync(Limit);

        await first.CancelAsync();
        Assert.False(gated.Token.IsCancellationRequested);
        await second.CancelAsync();
        await gated.Cancelled.WaitAsync(Limit);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => a.Completion.WaitAsync(Limit));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => b.Completion.WaitAsync(Limit));
        await batcher.StopAsync(CancellationToken.None);
        Assert.Contains("edgeguard_cancelled_inputs_total 3\n", Scrape(metrics));
    }

    [Fact]
    public void FullQueue_RefusesAtOnce()
    {
        var host = new ModelHost(models.BundlePath, new GuardOptions(), NullLogger<ModelHost>.Instance);
        using var batcher = new MicroBatcher(1, TimeSpan.Zero, 2, host, new DaemonMetrics(), null, NullLogger<MicroBatcher>.Instance);

        Assert.True(batcher.TryEnqueue(new ClassificationJob([new GuardInput("a")], CancellationToken.None)));
        Assert.True(batcher.TryEnqueue(new ClassificationJob([new GuardInput("b")], CancellationToken.None)));
        Assert.False(batcher.TryEnqueue(new ClassificationJob([new GuardInput("c")], CancellationToken.None)));
        Assert.Equal(2, batcher.QueueDepth);
    }

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    /// <summary>A host serving a guard over <paramref name="classifier"/>, armed once its load probe has passed.</summary>
    private async Task<ModelHost> ScriptedHost(GatedClassifier classifier)
    {
        var host = new ModelHost(models.BundlePath, new GuardOptions { Threads = 1 }, NullLogger<ModelHost>.Instance, (_, options) => ScriptedGuards.Create(classifier, options));
        var outcome = await host.LoadAsync("test");
        Assert.True(outcome.Succeeded, outcome.Message);
        classifier.Arm();
        return host;
    }

    private static string Scrape(DaemonMetrics metrics)
    {
        var text = new System.Text.StringBuilder();
        metrics.Write(text, default(DaemonMetrics.Snapshot) with { Profile = "none" });
        return text.ToString();
    }

    private async Task<ModelHost> LoadedHost(int maxWindows)
    {
        var host = new ModelHost(models.BundlePath, new GuardOptions { MaxWindows = maxWindows, Threads = 1 }, NullLogger<ModelHost>.Instance);
        var outcome = await host.LoadAsync("test");
        Assert.True(outcome.Succeeded, outcome.Message);
        return host;
    }
}
