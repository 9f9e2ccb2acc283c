namespace EdgeGuard.Compare;

/// <summary>One point of the matrix: a model shape and the input and threads every engine is measured at.</summary>
/// <param name="Shape">Model shape, e.g. <c>base</c> (a folder of <c>.bench-models/</c>).</param>
/// <param name="Seq">Tokens per row.</param>
/// <param name="Batch">Rows per call.</param>
/// <param name="Threads">Inference threads.</param>
internal sealed record Cell(string Shape, int Seq, int Batch, int Threads)
{
    public override string ToString() => $"{Shape} seq={Seq} batch={Batch} threads={Threads}";
}
