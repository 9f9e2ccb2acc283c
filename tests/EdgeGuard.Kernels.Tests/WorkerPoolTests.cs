using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Kernels.Tests;

public sealed class WorkerPoolTests
{
    [Fact]
    public void For_RunsEveryIndexExactlyOnce()
    {
        using var pool = new WorkerPool(3);
        var hits = new int[1000];
        pool.For(hits.Length, new CountingBody(hits));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void For_WorkerIndexIsInRangeAndNeverRunsTwiceAtOnce()
    {
        using var pool = new WorkerPool(4);
        var inUse = new int[pool.DegreeOfParallelism];
        var violations = new int[1];
        pool.For(2000, new ExclusiveWorkerBody(inUse, violations));
        Assert.Equal(0, violations[0]);
    }

    [Fact]
    public void For_ExceptionInAnItem_IsRethrownOnTheCallerAndThePoolStaysUsable()
    {
        using var pool = new WorkerPool(3);
        var error = Assert.Throws<InvalidOperationException>(() => pool.For(100, new ThrowingBody(37)));
        Assert.Equal("item 37", error.Message);

        var hits = new int[50];
        pool.For(hits.Length, new CountingBody(hits));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void For_ConcurrentCallers_EachRunsAllItsItems()
    {
        using var pool = new WorkerPool(3);
        var totals = new int[4][];
        var threads = new Thread[totals.Length];
        for (int t = 0; t < threads.Length; t++)
        {
            int[] hits = totals[t] = new int[64];
            threads[t] = new Thread(() =>
            {
                for (int round = 0; round < 200; round++)
                {
                    pool.For(hits.Length, new CountingBody(hits));
                }
            });
            threads[t].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        Assert.All(totals, hits => Assert.All(hits, h => Assert.Equal(200, h)));
    }

    [Fact]
    public void For_CalledFromInsideABody_RunsInlineWithoutDeadlock()
    {
        using var pool = new WorkerPool(3);
        var hits = new int[8 * 16];
        pool.For(8, new NestingBody(pool, hits));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void For_SingleParticipant_RunsOnTheCallingThread()
    {
        using var pool = new WorkerPool(1);
        var threadIds = new int[10];
        pool.For(threadIds.Length, new ThreadRecordingBody(threadIds));
        Assert.All(threadIds, id => Assert.Equal(Environment.CurrentManagedThreadId, id));
    }

    [Fact]
    public void For_SteadyState_DoesNotAllocateOnTheCallingThread()
    {
        using var pool = new WorkerPool(3);
        var hits = new int[256];
        pool.For(hits.Length, new CountingBody(hits));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            pool.For(hits.Length, new CountingBody(hits));
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public void For_AfterDispose_Throws()
    {
        var pool = new WorkerPool(2);
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.For(4, new CountingBody(new int[4])));
    }

    [Fact]
    public void Constructor_ZeroThreads_UsesTheProcessorCount()
    {
        using var pool = new WorkerPool();
        Assert.Equal(Environment.ProcessorCount, pool.DegreeOfParallelism);
    }

    private readonly struct CountingBody(int[] hits) : IParallelBody
    {
        public void Invoke(int index, int workerIndex) => Interlocked.Increment(ref hits[index]);
    }

    private readonly struct ExclusiveWorkerBody(int[] inUse, int[] violations) : IParallelBody
    {
        public void Invoke(int index, int workerIndex)
        {
            if ((uint)workerIndex >= (uint)inUse.Length || Interlocked.Exchange(ref inUse[workerIndex], 1) != 0)
            {
                Interlocked.Increment(ref violations[0]);
                return;
            }

            Thread.SpinWait(200);
            Volatile.Write(ref inUse[workerIndex], 0);
        }
    }

    private readonly struct ThrowingBody(int failing) : IParallelBody
    {
        public void Invoke(int index, int workerIndex)
        {
            if (index == failing)
            {
                throw new InvalidOperationException("item " + index);
            }
        }
    }

    private readonly struct NestingBody(WorkerPool pool, int[] hits) : IParallelBody
    {
        public void Invoke(int index, int workerIndex) => pool.For(16, new OffsetCountingBody(hits, index * 16));
    }

    private readonly struct OffsetCountingBody(int[] hits, int offset) : IParallelBody
    {
        public void Invoke(int index, int workerIndex) => Interlocked.Increment(ref hits[offset + index]);
    }

    private readonly struct ThreadRecordingBody(int[] threadIds) : IParallelBody
    {
        public void Invoke(int index, int workerIndex) => threadIds[index] = Environment.CurrentManagedThreadId;
    }
}
