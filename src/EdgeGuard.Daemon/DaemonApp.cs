using EdgeGuard.Daemon.Batching;
using EdgeGuard.Daemon.Hosting;
using EdgeGuard.Daemon.Http;
using EdgeGuard.Daemon.Metrics;
using EdgeGuard.Daemon.Models;
using EdgeGuard.Daemon.Signals;

namespace EdgeGuard.Daemon;

/// <summary>Builds the daemon: configuration, listeners, services and routes. Tests build it in-process the same way.</summary>
internal static class DaemonApp
{
    /// <param name="args">The command line.</param>
    /// <param name="configureLogging">Replaces the log providers (tests record the lines).</param>
    /// <param name="openModel">Opens model files; <see cref="Guard.Open(string, GuardOptions?)"/> unless a test substitutes a misbehaving model.</param>
    public static WebApplication Build(string[] args, Action<ILoggingBuilder>? configureLogging = null, ModelOpener? openModel = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            // appsettings.json ships beside the executable; the working directory of a service is not ours.
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddCommandLine(args, new Dictionary<string, string>(DaemonSettings.SwitchMappings));
        string? profileName = builder.Configuration[DaemonSettings.Section + ":Profile"];
        var profile = string.IsNullOrWhiteSpace(profileName) ? null : FirmwareProfile.Load(profileName);
        var settings = DaemonSettings.Read(builder.Configuration, profile);
        configureLogging?.Invoke(builder.Logging);

        builder.Services.AddSystemd();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(settings.DrainSeconds));
        // Listeners are tried here, where a failure is a configuration error (exit 2, one line), rather than when the
        // server starts, where it would abort the host with a stack trace.
        if (settings.Port >= 0)
        {
            ListenAddress.CheckBindable(settings.Host, settings.Port);
        }

        if (settings.Socket is not null)
        {
            UnixSocketFile.PrepareForBind(settings.Socket);
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = settings.MaxBodyBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;

            // Every connection holds a socket and buffers: their number is bounded, idle ones are closed, and a client
            // gets as long for its headers as for its body.
            kestrel.Limits.MaxConcurrentConnections = settings.MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = 0;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(settings.IdleTimeoutSeconds);
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromMilliseconds(settings.BodyTimeoutMs);
            if (settings.Port >= 0)
            {
                kestrel.Listen(settings.Host, settings.Port);
            }

            if (settings.Socket is not null)
            {
                kestrel.ListenUnixSocket(settings.Socket);
            }
        });

        var services = builder.Services;
        services.AddSingleton(settings);
        services.AddSingleton<DaemonMetrics>();
        services.AddSingleton(sp => new ModelHost(
            settings.Model,
            new GuardOptions
            {
                Threads = settings.Threads,
                MaxWindows = settings.MaxWindows,
                // Windows per forward pass follow the same limit, so the profile sizes both the batches and their passes.
                MaxBatch = settings.MaxBatch,
            },
            sp.GetRequiredService<ILogger<ModelHost>>(),
            openModel));
        services.AddSingleton(sp => CreateLamp(settings, sp.GetRequiredService<ILogger<FlagLamp>>()));
        services.AddSingleton(sp => new MicroBatcher(
            settings.MaxBatch,
            TimeSpan.FromMilliseconds(settings.MaxWaitMs),
            settings.QueueCapacity,
            sp.GetRequiredService<ModelHost>(),
            sp.GetRequiredService<DaemonMetrics>(),
            sp.GetRequiredService<LampHolder>().Lamp,
            sp.GetRequiredService<ILogger<MicroBatcher>>()));
        services.AddSingleton(sp => new GuardClient(
            sp.GetRequiredService<MicroBatcher>(), sp.GetRequiredService<ModelHost>(), settings.DeadlineMs, sp.GetRequiredService<ILogger<GuardClient>>()));
        services.AddSingleton(new JsonBody(settings.MaxBodyBytes, settings.BodyTimeoutMs));
        // Opened here, where a model that cannot be opened is a configuration error (exit 2, one line); handed over
        // through a factory so that the container disposes it (an instance registered as such stays the caller's).
        var generators = GeneratorHost.Open(settings.Generator, settings.Threads);
        services.AddSingleton(_ => generators);
        services.AddSingleton<ModerationEndpoints>();
        services.AddSingleton<GenerationEndpoints>();
        services.AddSingleton<ServiceEndpoints>();

        // Hosted services start in this order before the server and stop after it: the model is loaded before the
        // first request, and the batcher finishes queued work after the server has drained its requests.
        services.AddHostedService<ModelLifecycle>();
        services.AddHostedService(sp => sp.GetRequiredService<MicroBatcher>());

        var app = builder.Build();
        app.UseMiddleware<RequestGate>();
        app.Services.GetRequiredService<ModerationEndpoints>().Map(app);
        app.Services.GetRequiredService<GenerationEndpoints>().Map(app);
        app.Services.GetRequiredService<ServiceEndpoints>().Map(app);

        if (settings.Socket is { } socket)
        {
            app.Lifetime.ApplicationStarted.Register(() => UnixSocketFile.Restrict(socket));
            app.Lifetime.ApplicationStopped.Register(() => UnixSocketFile.Remove(socket));
        }

        return app;
    }

    private static LampHolder CreateLamp(DaemonSettings settings, ILogger<FlagLamp> logger)
    {
        if (settings.GpioLine is not { } line)
        {
            return new LampHolder(null);
        }

        int chip = int.TryParse(settings.GpioChip, System.Globalization.CultureInfo.InvariantCulture, out int c) ? c : 0;
        try
        {
            var output = new GpioSignalOutput(chip, line);
            logger.LogInformation("Flag lamp on GPIO chip {Chip} line {Line}, held {HoldMs} ms", chip, line, settings.GpioHoldMs);
            return new LampHolder(new FlagLamp(output, TimeSpan.FromMilliseconds(settings.GpioHoldMs), TimeProvider.System));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException or InvalidOperationException or DllNotFoundException)
        {
            // A missing lamp must not take the guard down with it.
            logger.LogError("Flag lamp on GPIO chip {Chip} line {Line} unavailable: {Error}. Serving without it.", chip, line, e.Message);
            return new LampHolder(null);
        }
    }
}

/// <summary>The optional lamp as a service (the container cannot hold a null singleton).</summary>
internal sealed class LampHolder(FlagLamp? lamp) : IDisposable
{
    public FlagLamp? Lamp { get; } = lamp;

    public void Dispose() => Lamp?.Dispose();
}
