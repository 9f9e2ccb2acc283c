using System.Text.Json.Serialization;

namespace EdgeGuard.Compare;

/// <summary>What one <c>edgeguard bench</c> child measured, as the harness saw it.</summary>
/// <param name="Shape">Model shape.</param>
/// <param name="Seq">Tokens per row.</param>
/// <param name="Batch">Rows per call.</param>
/// <param name="Threads">Inference threads.</param>
/// <param name="Engine">Engine id.</param>
/// <param name="Round">Round of the cell, from 0.</param>
/// <param name="Order">Position of the engine inside its round, from 0.</param>
/// <param name="ExitCode">The child's exit code.</param>
/// <param name="Error">Why the child produced no result (its last stderr line, or a protocol error); null when it did.</param>
/// <param name="OpenedMs">Launch → the child's <c>opened</c> line (runtime start-up and model open).</param>
/// <param name="FirstVerdictMs">Launch → the child's <c>first_verdict</c> line: the cold start.</param>
/// <param name="ExitedMs">Launch → the child's exit.</param>
/// <param name="PeakRssBytes">The child's resident-memory high-water mark (VmHWM) just before it exited.</param>
/// <param name="Threshold">The child's decision threshold on P(unsafe).</param>
/// <param name="LatenciesMs">Every measured call.</param>
/// <param name="UnsafeScores">P(unsafe) of the fixed rows, when this child scored them.</param>
internal sealed record ChildRun(
    string Shape,
    int Seq,
    int Batch,
    int Threads,
    string Engine,
    int Round,
    int Order,
    int ExitCode,
    string? Error,
    double? OpenedMs,
    double? FirstVerdictMs,
    double ExitedMs,
    long? PeakRssBytes,
    float? Threshold,
    double[] LatenciesMs,
    float[] UnsafeScores)
{
    [JsonIgnore]
    public bool Succeeded => Error is null;

    [JsonIgnore]
    public Cell Cell => new(Shape, Seq, Batch, Threads);
}
