using System.Runtime.InteropServices;
using EdgeGuard.Daemon.Models;

namespace EdgeGuard.Daemon.Hosting;

/// <summary>
/// Loads the model before the server starts listening (so systemd's READY means serving) and reloads it on SIGHUP.
/// A model that fails to load does not stop the daemon: <c>/readyz</c> answers 503 with the reason until a reload succeeds.
/// </summary>
internal sealed class ModelLifecycle(ModelHost models, ILogger<ModelLifecycle> logger) : IHostedService, IDisposable
{
    private PosixSignalRegistration? _hangup;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await models.LoadAsync("start", cancellationToken).ConfigureAwait(false);
        _hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            // SIGHUP would end the process by default; here it means "reload the model".
            context.Cancel = true;
            logger.LogInformation("SIGHUP: reloading the model");
            _ = Task.Run(() => models.LoadAsync("SIGHUP"));
        });
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _hangup?.Dispose();
        _hangup = null;
        return Task.CompletedTask;
    }

    public void Dispose() => _hangup?.Dispose();
}
