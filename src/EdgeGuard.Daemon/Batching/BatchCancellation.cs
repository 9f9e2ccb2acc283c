namespace EdgeGuard.Daemon.Batching;

/// <summary>
/// The cancellation of one batch: it fires when no job of the batch is waiting any more (each job's client has gone or
/// its deadline has passed). A batch shared by several requests runs on while any one of them still waits.
/// </summary>
internal sealed class BatchCancellation : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly CancellationTokenRegistration[] _registrations;
    private int _waiting;

    public BatchCancellation(IReadOnlyList<ClassificationJob> jobs)
    {
        _waiting = jobs.Count;
        _registrations = new CancellationTokenRegistration[jobs.Count];
        for (int i = 0; i < jobs.Count; i++)
        {
            // A token cancelled already runs the callback here, at once.
            _registrations[i] = jobs[i].Cancellation.UnsafeRegister(static state => ((BatchCancellation)state!).OneGone(), this);
        }
    }

    /// <summary>Cancelled once every job's own token is.</summary>
    public CancellationToken Token => _source.Token;

    public void Dispose()
    {
        // Disposing a registration waits for its callback if that is running, so the source outlives every callback.
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _source.Dispose();
    }

    private void OneGone()
    {
        if (Interlocked.Decrement(ref _waiting) == 0)
        {
            _source.Cancel();
        }
    }
}
