using EdgeGuard.Diagnostics;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Testing;

namespace EdgeGuard.Tests.Models;

/// <summary>Models and fixtures opened once for the whole test run (they are immutable and thread-safe).</summary>
internal static class SharedModels
{
    public const string Tiny = "tiny-buckets";
    public const string Xsmall = "xsmall-2layer";

    // Declared first: static fields initialise in order and the lazies below capture it.
    public static readonly WorkerPool Pool = new(2);

    private static readonly Lazy<GoldenFixture> TinyFixture = new(() => GoldenFixture.Open(RepoPaths.Fixture(Tiny), Pool));
    private static readonly Lazy<GoldenFixture> XsmallFixture = new(() => GoldenFixture.Open(RepoPaths.Fixture(Xsmall), Pool));
    private static readonly Lazy<HuggingFaceDirectory> TinyDirectory = new(() => HuggingFaceDirectory.Open(RepoPaths.Fixture(Tiny)));
    private static readonly Lazy<HuggingFaceDirectory> XsmallDirectory = new(() => HuggingFaceDirectory.Open(RepoPaths.Fixture(Xsmall)));
    private static readonly Lazy<DebertaClassifier> TinyClassifier = new(() => DebertaClassifier.Load(TinyDirectory.Value.Config, TinyDirectory.Value.Weights, Pool));
    private static readonly Lazy<DebertaClassifier> XsmallClassifier = new(() => DebertaClassifier.Load(XsmallDirectory.Value.Config, XsmallDirectory.Value.Weights, Pool));

    public static GoldenFixture Fixture(string name) => name == Tiny ? TinyFixture.Value : XsmallFixture.Value;

    public static HuggingFaceDirectory Directory(string name) => name == Tiny ? TinyDirectory.Value : XsmallDirectory.Value;

    public static DebertaClassifier Classifier(string name) => name == Tiny ? TinyClassifier.Value : XsmallClassifier.Value;
}
