using EdgeGuard.Daemon.Signals;

namespace EdgeGuard.Daemon.Tests;

public sealed class FlagLampTests
{
    [Fact]
    public void FlaggedVerdict_RaisesTheLine_UntilNoneForTheHoldTime()
    {
        var time = new ManualTime();
        var output = new RecordingOutput();
        using var lamp = new FlagLamp(output, TimeSpan.FromSeconds(2), time);

        lamp.Flagged();
        time.Advance(TimeSpan.FromSeconds(1));
        lamp.Flagged();
        time.Advance(TimeSpan.FromSeconds(1.5));

        Assert.True(lamp.Raised);
        Assert.Equal([true], output.Writes);

        time.Advance(TimeSpan.FromSeconds(0.5));

        Assert.False(lamp.Raised);
        Assert.Equal([true, false], output.Writes);
    }

    [Fact]
    public void NoFlaggedVerdict_NeverTouchesTheLine()
    {
        var time = new ManualTime();
        var output = new RecordingOutput();
        using (new FlagLamp(output, TimeSpan.FromSeconds(1), time))
        {
            time.Advance(TimeSpan.FromSeconds(5));
        }

        Assert.Empty(output.Writes);
        Assert.True(output.Disposed);
    }

    [Fact]
    public void Dispose_LowersARaisedLine()
    {
        var output = new RecordingOutput();
        var lamp = new FlagLamp(output, TimeSpan.FromSeconds(60), new ManualTime());
        lamp.Flagged();
        lamp.Dispose();

        Assert.Equal([true, false], output.Writes);
    }

    private sealed class RecordingOutput : ISignalOutput
    {
        public List<bool> Writes { get; } = [];

        public bool Disposed { get; private set; }

        public void Write(bool raised) => Writes.Add(raised);

        public void Dispose() => Disposed = true;
    }

    /// <summary>Time that moves only when the test says; due timers fire inside <see cref="Advance"/>.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private readonly List<ManualTimer> _timers = [];
        private long _now;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _now;

        public void Advance(TimeSpan by)
        {
            long end = _now + by.Ticks;
            while (true)
            {
                var due = _timers.Where(t => t.DueAt is { } d && d <= end).OrderBy(t => t.DueAt).FirstOrDefault();
                if (due is null)
                {
                    break;
                }

                _now = Math.Max(_now, due.DueAt!.Value);
                due.Fire();
            }

            _now = end;
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = new ManualTimer(this, callback, state);
            _timers.Add(timer);
            timer.Change(dueTime, period);
            return timer;
        }

        private sealed class ManualTimer(ManualTime time, TimerCallback callback, object? state) : ITimer
        {
            public long? DueAt { get; private set; }

            public void Fire()
            {
                DueAt = null;
                callback(state);
            }

            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : time._now + dueTime.Ticks;
                return true;
            }

            public void Dispose() => DueAt = null;

            public ValueTask DisposeAsync()
            {
                Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }
}
