using System.Runtime.ExceptionServices;

namespace EdgeGuard.Kernels.Threading;

/// <summary>
/// Persistent threads that run parallel loops for the kernels and model graphs, without allocating per loop.
/// </summary>
/// <remarks>
/// One loop runs on the pool at a time. The caller of <see cref="For{TBody}(int, TBody)"/> always takes part
/// (as worker 0), so <c>DegreeOfParallelism - 1</c> threads are created. A loop started while the pool is busy,
/// by another thread or from inside a running body, does not wait: it runs inline on the calling thread with
/// worker index 0. Concurrent callers therefore each make progress on their own thread and one of them also gets
/// the pool; callers that share scratch memory indexed by worker must not share it across concurrent loops.
/// </remarks>
public sealed class WorkerPool : IDisposable
{
    // Spin this many SpinWait rounds before blocking: a model forward issues loops back to back, and a worker
    // that is still spinning picks up the next loop without a kernel wake-up.
    private const int SpinRounds = 30;

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private readonly ManualResetEventSlim _done = new(false, 100);
    private Job? _job;
    private int _count;
    private int _next;
    private int _pending;
    private int _generation;
    private int _busy;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _failure;

    /// <summary>Starts <c>threadCount - 1</c> worker threads; the caller of each loop is the last participant.</summary>
    /// <param name="threadCount">Total participants; 0 means <see cref="Environment.ProcessorCount"/>.</param>
    public WorkerPool(int threadCount = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threadCount);
        DegreeOfParallelism = threadCount == 0 ? Environment.ProcessorCount : threadCount;
        // ManualResetEventSlim creates its lock object on the first wait that has to block, which under load would be
        // an allocation inside some later loop; one short timed wait on the unset event creates it now.
        _done.Wait(1);
        _threads = new Thread[DegreeOfParallelism - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"EdgeGuard worker {i + 1}" };
            _threads[i].Start(i + 1);
        }
    }

    /// <summary>Number of participants in a loop (worker threads plus the caller).</summary>
    public int DegreeOfParallelism { get; }

    /// <summary>
    /// Runs <c>body.Invoke(i, worker)</c> for every <c>i</c> in <c>[0, count)</c> and returns when all are done.
    /// Items are handed out dynamically, so they may differ in cost. The first exception thrown by an item is
    /// rethrown here after the remaining running items finish; items not yet started are skipped.
    /// </summary>
    public void For<TBody>(int count, TBody body)
        where TBody : struct, IParallelBody
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count == 0)
        {
            return;
        }

        if (count == 1 || _threads.Length == 0 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++)
            {
                body.Invoke(i, 0);
            }

            return;
        }

        Job<TBody> job = Job<TBody>.ForCurrentThread();
        job.Body = body;
        try
        {
            _job = job;
            _count = count;
            _next = 0;
            _failure = null;
            _pending = _threads.Length;
            _done.Reset();
            lock (_gate)
            {
                // Interlocked: the job fields above must be visible before a spinning worker sees the new generation.
                Interlocked.Increment(ref _generation);
                Monitor.PulseAll(_gate);
            }

            RunItems(job, 0);
            _done.Wait();
            _failure?.Throw();
        }
        finally
        {
            // Release what the body references (arrays, model objects) so the slot does not keep them alive.
            job.Body = default;
            _job = null;
            _failure = null;
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Monitor.PulseAll(_gate);
        }

        foreach (Thread thread in _threads)
        {
            thread.Join();
        }

        _done.Dispose();
    }

    private void RunItems(Job job, int worker)
    {
        int count = Volatile.Read(ref _count);
        while (true)
        {
            int index = Interlocked.Increment(ref _next) - 1;
            if (index >= count)
            {
                return;
            }

            try
            {
                job.Run(index, worker);
            }
            catch (Exception e)
            {
                // Not swallowed: recorded here because an exception escaping a worker thread would end the
                // process, and rethrown on the calling thread by For.
                Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null);
                Interlocked.Exchange(ref _next, count);
                return;
            }
        }
    }

    private void WorkerLoop(object? state)
    {
        int worker = (int)state!;
        int seen = 0;
        while (WaitForLoop(ref seen))
        {
            RunItems(_job!, worker);
            if (Interlocked.Decrement(ref _pending) == 0)
            {
                _done.Set();
            }
        }
    }

    /// <summary>Waits until a loop newer than <paramref name="seen"/> is posted; false once disposed.</summary>
    private bool WaitForLoop(ref int seen)
    {
        var spinner = default(SpinWait);
        for (int round = 0; round < SpinRounds; round++)
        {
            int generation = Volatile.Read(ref _generation);
            if (generation != seen)
            {
                seen = generation;
                return true;
            }

            if (_disposed)
            {
                return false;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }

        lock (_gate)
        {
            while (_generation == seen && !_disposed)
            {
                Monitor.Wait(_gate);
            }

            if (_disposed)
            {
                return false;
            }

            seen = _generation;
            return true;
        }
    }

    private abstract class Job
    {
        public abstract void Run(int index, int worker);
    }

    private sealed class Job<TBody> : Job
        where TBody : struct, IParallelBody
    {
        [ThreadStatic]
        private static Job<TBody>? t_current;

        public TBody Body;

        // One slot per calling thread and body type: a thread posts at most one loop at a time, so it can reuse it.
        public static Job<TBody> ForCurrentThread() => t_current ??= new Job<TBody>();

        public override void Run(int index, int worker) => Body.Invoke(index, worker);
    }
}
