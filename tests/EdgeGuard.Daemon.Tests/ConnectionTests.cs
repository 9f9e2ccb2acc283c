using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeGuard.Daemon.Tests;

/// <summary>What connections and their requests may hold: a cap on connections, idle ones closed, and no work for a client that left.</summary>
public sealed class ConnectionTests(TinyModels models)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ClientThatDisconnectsMidBatch_CancelsTheWorkItWasWaitingFor()
    {
        using var gated = new GatedClassifier();
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, (_, options) => ScriptedGuards.Create(gated, options), null);
        gated.Arm();
        using var client = new CancellationTokenSource();

        var request = daemon.PostJsonAsync("/v1/moderations", """{"input": "a request its client gives up on"}""", cancellationToken: client.Token);
        await gated.Entered.WaitAsync(Limit);
        await client.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        await gated.Cancelled.WaitAsync(Limit);

        string metrics = await daemon.MetricsContainingAsync("edgeguard_cancelled_inputs_total 1\n", "route=\"/v1/moderations\",status=\"499\"} 1\n");
        Assert.Contains("edgeguard_cancelled_inputs_total 1\n", metrics);
        Assert.Contains("edgeguard_http_requests_total{route=\"/v1/moderations\",status=\"499\"} 1\n", metrics);
    }

    [Fact]
    public async Task RequestPastItsDeadline_Is504_AndItsWorkIsCancelled()
    {
        using var gated = new GatedClassifier();
        await using var daemon = await InProcessDaemon.StartAsync(
            models, models.BundlePath, (_, options) => ScriptedGuards.Create(gated, options), null, "--deadline-ms", "300");
        gated.Arm();

        using var response = await daemon.PostJsonAsync("/v1/classify", """{"prompt": "slow"}""");
        await gated.Cancelled.WaitAsync(Limit);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
    }

    [Fact]
    public async Task ConnectionsOverMaxConnections_AreClosed_UntilOneEnds()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--max-connections", "2");
        using var first = await ConnectAsync(daemon);
        using var second = await ConnectAsync(daemon);
        Assert.StartsWith("HTTP/1.1 200", await GetHealthAsync(first));
        Assert.StartsWith("HTTP/1.1 200", await GetHealthAsync(second));

        using (var third = await ConnectAsync(daemon))
        {
            Assert.Equal(string.Empty, await GetHealthAsync(third));
        }

        first.Dispose();
        string answer = string.Empty;
        for (int attempt = 0; attempt < 100 && answer.Length == 0; attempt++)
        {
            // The server counts the closed connection out when it notices; until then a new one is still refused.
            await Task.Delay(50);
            using var next = await ConnectAsync(daemon);
            answer = await GetHealthAsync(next);
        }

        Assert.StartsWith("HTTP/1.1 200", answer);
    }

    [Fact]
    public async Task IdleConnection_IsClosedAfterIdleTimeout()
    {
        await using var daemon = await InProcessDaemon.StartAsync(models, models.BundlePath, "--idle-timeout-seconds", "1");
        using var silent = await ConnectAsync(daemon);
        using var afterOneRequest = await ConnectAsync(daemon);
        Assert.StartsWith("HTTP/1.1 200", await GetHealthAsync(afterOneRequest));

        Assert.Equal(0, await ReadUntilClosedAsync(silent));
        Assert.Equal(0, await ReadUntilClosedAsync(afterOneRequest));
    }

    private static async Task<TcpClient> ConnectAsync(InProcessDaemon daemon)
    {
        var client = new TcpClient();
        await client.ConnectAsync(daemon.BaseAddress.Host, daemon.BaseAddress.Port);
        return client;
    }

    /// <summary>The response head to one GET /healthz, or empty when the server closed the connection instead.</summary>
    private static async Task<string> GetHealthAsync(TcpClient client)
    {
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            var buffer = new byte[4096];
            using var timeout = new CancellationTokenSource(Limit);
            int read = await stream.ReadAsync(buffer, timeout.Token);
            return Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    /// <summary>Reads until the server closes the connection (0) or the limit passes (-1).</summary>
    private static async Task<int> ReadUntilClosedAsync(TcpClient client)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (true)
            {
                int read = await client.GetStream().ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    return 0;
                }
            }
        }
        catch (IOException)
        {
            return 0;
        }
        catch (OperationCanceledException)
        {
            return -1;
        }
    }
}
