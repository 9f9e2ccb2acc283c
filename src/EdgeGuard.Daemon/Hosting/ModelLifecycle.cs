using System.Runtime.InteropServices;
using EdgeGuard.Daemon.Models;

namespace EdgeGuard.Daemon.Hosting;

/// <summary>
/// Loads the model before the server starts listening (so systemd's READY means serving) and reloads it on SIGHUP.
/// A model that fails to load, in any way, does not stop the daemon: <c>/readyz</c> answers 503 with the reason until a
/// reload succeeds. A stop requested meanwhile ends the wait for a load.
/// </summary>
internal sealed class ModelLifecycle(ModelHost models, IHostApplicationLifetime lifetime, ILogger<ModelLifecycle> logger) : IHostedService, IDisposable
{
    private PosixSignalRegistration? _hangup;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            // The host cancels this token when a stop is requested before start-up has finished.
            await models.LoadAsync("start", cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // SIGTERM while the model was loading: the host stops as soon as it has started; no reloads any more.
            return;
        }
        _hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            // SIGHUP would end the process by default; here it means "reload the model".
            context.Cancel = true;
            logger.LogInformation("SIGHUP: reloading the model");
            _ = Task.Run(ReloadOnHangupAsync);
        });
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _hangup?.Dispose();
        _hangup = null;
        return Task.CompletedTask;
    }

    public void Dispose() => _hangup?.Dispose();

    private async Task ReloadOnHangupAsync()
    {
        try
        {
            await models.LoadAsync("SIGHUP", lifetime.ApplicationStopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the reload no longer matters.
        }
    }
}
