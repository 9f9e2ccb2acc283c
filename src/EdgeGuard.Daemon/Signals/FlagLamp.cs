namespace EdgeGuard.Daemon.Signals;

/// <summary>
/// Raises a signal line while flagged verdicts occur: on at the first flagged verdict, off once none has come for the
/// hold time. The hold keeps a lamp lit long enough to be seen instead of flickering per request.
/// </summary>
internal sealed class FlagLamp : IDisposable
{
    private readonly ISignalOutput _output;
    private readonly TimeSpan _hold;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly object _gate = new();
    private long _lastFlagged;
    private bool _raised;
    private bool _disposed;

    public FlagLamp(ISignalOutput output, TimeSpan hold, TimeProvider time)
    {
        _output = output;
        _hold = hold;
        _time = time;
        _timer = time.CreateTimer(static state => ((FlagLamp)state!).Expire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public bool Raised
    {
        get
        {
            lock (_gate)
            {
                return _raised;
            }
        }
    }

    /// <summary>A flagged verdict occurred now.</summary>
    public void Flagged()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _lastFlagged = _time.GetTimestamp();
            if (!_raised)
            {
                _output.Write(true);
                _raised = true;
                _timer.Change(_hold, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void Expire()
    {
        lock (_gate)
        {
            if (!_raised || _disposed)
            {
                return;
            }

            // Flagged verdicts since the timer was set extend the hold from the latest of them.
            TimeSpan left = _hold - _time.GetElapsedTime(_lastFlagged);
            if (left > TimeSpan.Zero)
            {
                _timer.Change(left, Timeout.InfiniteTimeSpan);
                return;
            }

            _output.Write(false);
            _raised = false;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _timer.Dispose();
            if (_raised)
            {
                _output.Write(false);
                _raised = false;
            }
        }

        _output.Dispose();
    }
}
