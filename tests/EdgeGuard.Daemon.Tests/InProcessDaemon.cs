using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using EdgeGuard.Daemon.Models;

namespace EdgeGuard.Daemon.Tests;

/// <summary>
/// The daemon built as <c>edgeguardd</c> builds itself, started on 127.0.0.1 with a port the system picks and on a
/// Unix socket in a scratch directory; clients for both.
/// </summary>
internal sealed class InProcessDaemon : IAsyncDisposable
{
    private readonly WebApplication _app;

    private InProcessDaemon(WebApplication app, string socketPath, RecordingLoggerProvider logs)
    {
        _app = app;
        SocketPath = socketPath;
        Logs = logs;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First(a => a.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));
        BaseAddress = new Uri(address);
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        Socket = CreateUnixClient(socketPath);
    }

    public Uri BaseAddress { get; }

    public string SocketPath { get; }

    public HttpClient Http { get; }

    public HttpClient Socket { get; }

    public RecordingLoggerProvider Logs { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a daemon on <paramref name="model"/> with extra command-line arguments.</summary>
    public static Task<InProcessDaemon> StartAsync(TinyModels models, string model, params string[] extra) =>
        StartAsync(models, model, openModel: null, configureApp: null, extra);

    /// <summary>
    /// Starts a daemon whose models are opened by <paramref name="openModel"/> (a model that misbehaves) and whose app
    /// <paramref name="configureApp"/> may extend before it starts (a route that fails).
    /// </summary>
    public static async Task<InProcessDaemon> StartAsync(
        TinyModels models, string model, ModelOpener? openModel, Action<WebApplication>? configureApp, params string[] extra)
    {
        string socket = Path.Combine(models.NewScratch(), "edgeguardd.sock");
        string[] args = ["--model", model, "--port", "0", "--socket", socket, .. extra];
        var logs = new RecordingLoggerProvider();
        var app = DaemonApp.Build(
            args,
            logging =>
            {
                logging.ClearProviders();
                logging.AddProvider(logs);
                logging.SetMinimumLevel(LogLevel.Debug);
            },
            openModel);
        configureApp?.Invoke(app);
        await app.StartAsync();
        return new InProcessDaemon(app, socket, logs);
    }

    public static HttpClient CreateUnixClient(string socketPath)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri("http://edgeguardd"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json, string? token = null, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(json) };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return Http.SendAsync(request, cancellationToken);
    }

    public async Task<string> MetricsAsync(string? token = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>
    /// Scrapes until every line is there (or 5 s pass) and returns the last scrape: a request is counted after its
    /// response has been sent, so the client can be a moment ahead of the counters.
    /// </summary>
    public async Task<string> MetricsContainingAsync(params string[] lines)
    {
        string text = await MetricsAsync();
        for (int attempt = 0; attempt < 250 && !lines.All(l => text.Contains(l, StringComparison.Ordinal)); attempt++)
        {
            await Task.Delay(20);
            text = await MetricsAsync();
        }

        return text;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Socket.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Keeps every log line, rendered, so tests can check what the daemon writes (and what it must not).</summary>
internal sealed class RecordingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(RecordingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}
