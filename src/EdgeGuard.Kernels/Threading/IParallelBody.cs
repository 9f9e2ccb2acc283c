namespace EdgeGuard.Kernels.Threading;

/// <summary>
/// The work <see cref="WorkerPool.For{TBody}(int, TBody)"/> runs once per index. Implement it on a struct so a
/// parallel loop costs no allocation: the pool copies the struct into a per-thread reusable slot.
/// </summary>
public interface IParallelBody
{
    /// <summary>Runs item <paramref name="index"/>.</summary>
    /// <param name="index">The item, in <c>[0, count)</c>.</param>
    /// <param name="workerIndex">
    /// Which participant runs the item, in <c>[0, DegreeOfParallelism)</c>; no two items run concurrently with the
    /// same value within one loop, so it can select per-worker scratch memory.
    /// </param>
    void Invoke(int index, int workerIndex);
}
