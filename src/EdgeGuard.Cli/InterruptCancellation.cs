using System.Runtime.InteropServices;

namespace EdgeGuard.Cli;

/// <summary>
/// Turns the first Ctrl-C (SIGINT) or SIGTERM into cancellation of a long command, so it stops at its next check and
/// reports what it did instead of dying mid-line; a second signal ends the process at once, as usual.
/// </summary>
/// <remarks>
/// The command actions run synchronously inside the parser's invocation, before its own signal handling is in place,
/// so a command that wants to end gracefully registers here.
/// </remarks>
internal sealed class InterruptCancellation : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;

    public InterruptCancellation(CancellationToken outer)
    {
        _source = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Cancelled by the first signal or by the outer token.</summary>
    public CancellationToken Token => _source.Token;

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _source.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (_source.IsCancellationRequested)
        {
            return;
        }

        context.Cancel = true;
        _source.Cancel();
    }
}
