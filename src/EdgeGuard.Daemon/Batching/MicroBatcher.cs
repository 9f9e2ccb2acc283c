using System.Diagnostics;
using System.Threading.Channels;
using EdgeGuard.Daemon.Hosting;
using EdgeGuard.Daemon.Metrics;
using EdgeGuard.Daemon.Models;
using EdgeGuard.Daemon.Signals;

namespace EdgeGuard.Daemon.Batching;

/// <summary>
/// Coalesces concurrent requests into <see cref="Guard.ClassifyBatch"/> calls: the first waiting job opens a batch,
/// which takes more jobs until it holds <c>maxBatch</c> inputs or <c>maxWait</c> has passed. The queue is bounded; a
/// full queue refuses work at once (429) rather than letting latency grow without limit. Work nobody waits for any more
/// (every client of a batch gone, or past its deadline) is not started, or is stopped where it is.
/// </summary>
internal sealed class MicroBatcher : IHostedService, IDisposable
{
    private readonly Channel<ClassificationJob> _queue;
    private readonly ModelHost _models;
    private readonly DaemonMetrics _metrics;
    private readonly FlagLamp? _lamp;
    private readonly ILogger<MicroBatcher> _logger;
    private readonly int _maxBatch;
    private readonly long _maxWaitTicks;
    private readonly List<ClassificationJob> _batch = [];
    private readonly List<GuardInput> _inputs = [];
    private Task? _loop;
    private int _queued;
    private volatile bool _stopping;

    public MicroBatcher(int maxBatch, TimeSpan maxWait, int capacity, ModelHost models, DaemonMetrics metrics, FlagLamp? lamp, ILogger<MicroBatcher> logger)
    {
        Debug.Assert(maxBatch >= 1 && capacity >= 1, "limits are validated with the settings");
        _maxBatch = maxBatch;
        _maxWaitTicks = (long)(maxWait.TotalSeconds * Stopwatch.Frequency);
        _models = models;
        _metrics = metrics;
        _lamp = lamp;
        _logger = logger;
        _queue = Channel.CreateBounded<ClassificationJob>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Jobs waiting for a batch.</summary>
    public int QueueDepth => Volatile.Read(ref _queued);

    /// <summary>True once the daemon has begun to stop: new work is refused with 503, not 429.</summary>
    public bool IsStopping => _stopping;

    /// <summary>Queues a job; false when the queue is full or the batcher has stopped taking work.</summary>
    public bool TryEnqueue(ClassificationJob job)
    {
        if (!_queue.Writer.TryWrite(job))
        {
            return false;
        }

        Interlocked.Increment(ref _queued);
        return true;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // The loop blocks its thread while a batch runs; a dedicated task keeps that off request threads.
        _loop = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        return Task.CompletedTask;
    }

    /// <summary>Stops taking jobs and finishes the queued ones; the server has drained its requests by then.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            await FillBatchAsync(reader).ConfigureAwait(false);
            if (_batch.Count > 0)
            {
                RunBatch();
            }
        }
    }

    private async ValueTask FillBatchAsync(ChannelReader<ClassificationJob> reader)
    {
        _batch.Clear();
        int inputs = 0;
        long deadline = 0;
        while (inputs < _maxBatch)
        {
            if (reader.TryRead(out var job))
            {
                Interlocked.Decrement(ref _queued);
                if (job.Cancellation.IsCancellationRequested)
                {
                    // The client left or its deadline passed while it waited: running it would only waste the CPU.
                    Drop(job);
                    continue;
                }

                if (_batch.Count == 0)
                {
                    deadline = Stopwatch.GetTimestamp() + _maxWaitTicks;
                }

                _batch.Add(job);
                inputs += job.Inputs.Length;
                continue;
            }

            long remaining = deadline - Stopwatch.GetTimestamp();
            if (_batch.Count == 0 || remaining <= 0)
            {
                return;
            }

            var more = reader.WaitToReadAsync().AsTask();
            var waited = await Task.WhenAny(more, Task.Delay(TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency))).ConfigureAwait(false);
            if (waited != more || !more.Result)
            {
                return;
            }
        }
    }

    private void RunBatch()
    {
        var model = _models.Acquire();
        if (model is null)
        {
            string reason = _models.NotReadyReason ?? "no model is loaded";
            foreach (var job in _batch)
            {
                job.Complete(JobResult.Fail(JobFailure.NotReady, reason));
            }

            return;
        }

        using var abandoned = new BatchCancellation(_batch);
        try
        {
            _inputs.Clear();
            foreach (var job in _batch)
            {
                _inputs.AddRange(job.Inputs);
            }

            _metrics.ObserveBatch(_inputs.Count);
            IReadOnlyList<Verdict> verdicts;
            try
            {
                verdicts = model.Guard.ClassifyBatch(_inputs, abandoned.Token);
            }
            catch (ArgumentException) when (_batch.Count > 1)
            {
                // One input the guard refuses must not fail its batch-mates: run each job on its own.
                RunJobsOneByOne(model);
                return;
            }
            catch (ArgumentException e)
            {
                _batch[0].Complete(JobResult.Fail(JobFailure.InvalidInput, e.Message));
                return;
            }

            int next = 0;
            foreach (var job in _batch)
            {
                var own = new Verdict[job.Inputs.Length];
                for (int i = 0; i < own.Length; i++)
                {
                    own[i] = verdicts[next++];
                }

                Deliver(job, model, own);
            }
        }
        catch (OperationCanceledException) when (abandoned.Token.IsCancellationRequested)
        {
            // Nobody waits for any of these verdicts any more (a 1 MB input whose client left): the work stopped.
            foreach (var job in _batch)
            {
                Drop(job);
            }
        }
        catch (Exception e)
        {
            // A failure of the engine itself is a bug: every waiting request gets a 500, the log one line (the stack at
            // Debug: a request that triggers it again and again must not flood the journal).
            _logger.LogError(
                "Batch of {Jobs} requests failed in the guard with {Exception}: {Message}",
                _batch.Count, e.GetType().Name, PrintableText.Escape(e.Message, PrintableText.MaxErrorChars));
            _logger.LogDebug(e, "Stack of the failed batch");
            foreach (var job in _batch)
            {
                job.Fault(e);
            }
        }
        finally
        {
            model.Release();
        }
    }

    private void RunJobsOneByOne(LoadedModel model)
    {
        foreach (var job in _batch)
        {
            if (job.Cancellation.IsCancellationRequested)
            {
                Drop(job);
                continue;
            }

            try
            {
                var verdicts = model.Guard.ClassifyBatch(job.Inputs, job.Cancellation);
                Deliver(job, model, verdicts as Verdict[] ?? [.. verdicts]);
            }
            catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested)
            {
                Drop(job);
            }
            catch (ArgumentException e)
            {
                job.Complete(JobResult.Fail(JobFailure.InvalidInput, e.Message));
            }
        }
    }

    /// <summary>Ends a job nobody waits for without (further) work.</summary>
    private void Drop(ClassificationJob job)
    {
        _metrics.ObserveCancelled(job.Inputs.Length);
        job.Cancel();
    }

    private void Deliver(ClassificationJob job, LoadedModel model, Verdict[] verdicts)
    {
        int flagged = 0;
        foreach (var v in verdicts)
        {
            if (v.Flagged)
            {
                flagged++;
            }
        }

        _metrics.ObserveVerdicts(verdicts.Length, flagged);
        if (flagged > 0)
        {
            _lamp?.Flagged();
        }

        var info = model.Guard.Model;
        job.Complete(new JobResult(verdicts, model.Name, model.Guard.Threshold, info.Labels[info.UnsafeLabel], JobFailure.None, null));
    }

    public void Dispose() => _queue.Writer.TryComplete();
}
