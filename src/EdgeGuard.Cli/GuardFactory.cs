using System.CommandLine;
using EdgeGuard.Cli.Commands;

namespace EdgeGuard.Cli;

/// <summary>Opens the guard a command works with, from the common options.</summary>
internal static class GuardFactory
{
    /// <summary>Values of <c>--backend</c>.</summary>
    public const string NativeBackend = "native", OnnxBackend = "onnx";

    public static Guard Open(ParseResult parsed, GuardOptions? options = null)
    {
        bool onnx = parsed.GetValue(CommonOptions.Backend) == OnnxBackend;
#if !EDGEGUARD_ONNX
        if (onnx)
        {
            throw new CliUsageException(
                $"this build has no ONNX Runtime backend; use --backend {NativeBackend}, or a build that has one: `dotnet build` (./edgeguard), or `make publish PROFILE=... EDGEGUARD_ONNX=true` (-p:EdgeGuardOnnx=true).");
        }
#endif

        string model = ModelLocator.Resolve(parsed.GetValue(CommonOptions.Model));
        options ??= new GuardOptions();
        options = options with { Threads = parsed.GetValue(CommonOptions.Threads) };
#if EDGEGUARD_ONNX
        if (onnx)
        {
            return EdgeGuard.Onnx.OnnxGuard.Open(model, options);
        }
#endif

        return Guard.Open(model, options);
    }
}
