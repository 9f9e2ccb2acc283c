namespace EdgeGuard.Compare;

/// <summary>One engine under comparison: a runtime, a precision, the CLI backend that runs it and the model file it reads.</summary>
/// <param name="Id">Short name used on the command line and in the JSON, e.g. <c>edgeguard-int8</c>.</param>
/// <param name="Name">Name for people, e.g. <c>EdgeGuard int8</c>.</param>
/// <param name="Runtime"><see cref="EdgeGuardRuntime"/> or <see cref="OnnxRuntime"/>.</param>
/// <param name="Precision"><c>float32</c> or <c>int8</c>.</param>
/// <param name="Backend">Value of <c>edgeguard bench --backend</c>.</param>
/// <param name="ModelFile">File name inside <c>.bench-models/&lt;shape&gt;/</c>.</param>
internal sealed record Engine(string Id, string Name, string Runtime, string Precision, string Backend, string ModelFile)
{
    public const string EdgeGuardRuntime = "EdgeGuard";
    public const string OnnxRuntime = "ONNX Runtime";
    public const string NativeBackend = "native";

    /// <summary>Every engine, in the order tables and charts list them.</summary>
    public static readonly IReadOnlyList<Engine> All =
    [
        new("edgeguard-f32", "EdgeGuard float32", EdgeGuardRuntime, "float32", NativeBackend, "f32.gguf"),
        new("edgeguard-int8", "EdgeGuard int8", EdgeGuardRuntime, "int8", NativeBackend, "int8.gguf"),
        new("ort-f32", "ORT float32", OnnxRuntime, "float32", "onnx", "f32.onnx"),
        new("ort-int8", "ORT int8", OnnxRuntime, "int8", "onnx", "int8.onnx"),
    ];

    public bool IsEdgeGuard => Runtime == EdgeGuardRuntime;

    public static Engine ById(string id) =>
        All.FirstOrDefault(e => e.Id == id)
        ?? throw new ArgumentException($"unknown engine '{id}'; engines are {string.Join(", ", All.Select(e => e.Id))}.");

    /// <summary>The engine of the other runtime with the same precision: what this one is compared against.</summary>
    public Engine Counterpart => All.First(e => e.Runtime != Runtime && e.Precision == Precision);
}
