using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace EdgeGuard.Daemon.Tests;

/// <summary>Load on loopback, bounded in count and time: many clients at once, and clients that leave mid-batch.</summary>
public sealed class LoadTests(TinyModels models, ITestOutputHelper output)
{
    [Fact]
    public async Task TwoThousandRequests_At32Concurrent_AllSucceed()
    {
        const int Requests = 2000;
        const int Concurrency = 32;
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Concurrency }) { BaseAddress = daemon.BaseAddress };
        var latencies = new double[Requests];
        var failures = new List<string>();
        int next = -1;
        var clock = Stopwatch.StartNew();

        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Requests)
            {
                long started = Stopwatch.GetTimestamp();
                string body = i % 2 == 0
                    ? $$"""{"input": "load request {{i}}: is this text safe to show?"}"""
                    : $$"""{"prompt": "request {{i}}", "response": "a response to judge"}""";
                using var response = await http.PostAsync(i % 2 == 0 ? "/v1/moderations" : "/v1/classify", InProcessDaemon.Json(body));
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    string error = $"{i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                    lock (failures)
                    {
                        failures.Add(error);
                    }
                }
            }
        }));
        clock.Stop();

        Array.Sort(latencies);
        double p50 = latencies[Requests / 2], p99 = latencies[(int)(Requests * 0.99)];
        string metrics = await daemon.MetricsAsync();
        string batches = metrics.Split('\n').First(l => l.StartsWith("edgeguard_batch_size_count", StringComparison.Ordinal));
        output.WriteLine($"load: {Requests} requests, {Concurrency} concurrent, {failures.Count} errors, {clock.Elapsed.TotalSeconds:F1} s, " +
            $"{Requests / clock.Elapsed.TotalSeconds:F0} req/s, p50 {p50:F1} ms, p99 {p99:F1} ms, max {latencies[^1]:F1} ms; {batches}");
        Assert.Empty(failures);
        Assert.True(p99 < 5000, $"p99 {p99:F0} ms");
    }

    [Fact]
    public async Task ClientsThatDisconnectMidBatch_DoNotDisturbTheirBatchMates()
    {
        // A long gathering window holds all requests in one batch while half of the clients give up.
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--max-batch", "64", "--max-wait-ms", "1500");
        var leaving = new List<Task<HttpResponseMessage>>();
        var staying = new List<Task<HttpResponseMessage>>();
        using var gone = new CancellationTokenSource();
        for (int i = 0; i < 16; i++)
        {
            string body = JsonSerializer.Serialize(new { input = "text " + i });
            if (i % 2 == 0)
            {
                leaving.Add(daemon.PostJsonAsync("/v1/moderations", body, cancellationToken: gone.Token));
            }
            else
            {
                staying.Add(daemon.PostJsonAsync("/v1/moderations", body));
            }
        }

        await Task.Delay(500);
        await gone.CancelAsync();

        foreach (var task in leaving)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task);
        }

        var kept = await Task.WhenAll(staying);
        for (int i = 0; i < kept.Length; i++)
        {
            Assert.Equal(HttpStatusCode.OK, kept[i].StatusCode);
            using var json = JsonDocument.Parse(await kept[i].Content.ReadAsStringAsync());
            float expected = models.Reference.Classify("text " + (2 * i + 1)).UnsafeScore;
            Assert.Equal(expected, json.RootElement.GetProperty("results")[0].GetProperty("category_scores").GetProperty("unsafe").GetSingle(), 5);
        }

        string metrics = await daemon.MetricsContainingAsync("status=\"499\"} 8\n", "status=\"200\"} 8\n");
        Assert.Contains("edgeguard_http_requests_total{route=\"/v1/moderations\",status=\"499\"} 8\n", metrics);
        Assert.Contains("edgeguard_http_requests_total{route=\"/v1/moderations\",status=\"200\"} 8\n", metrics);
    }
}
