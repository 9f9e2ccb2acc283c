using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.Kernels;

/// <summary>
/// The kernels this process computes with, chosen once at start-up from the CPU's features (under NativeAOT: from the
/// instruction sets the build enables): the int8 GEMM, the float32 GEMM, and whether GELU and activation quantisation
/// run their vector twins. Every kernel reads its choice from here, and the CLI and the daemon check a firmware
/// profile against it, so there is one answer to "what runs on this board".
/// </summary>
/// <remarks>
/// Static readonly fields, so the JIT folds each choice into a constant once the class is initialised; they are
/// computed from the hardware intrinsics directly, never through the kernel classes, which read them.
/// </remarks>
public static class KernelSet
{
    /// <summary>
    /// Environment variable naming the int8 kernel to use instead of the default choice (an <see cref="Int8GemmVariant"/>
    /// name), for measuring kernels against each other in the same binary; ignored, and said so in <see cref="Describe"/>,
    /// when unknown or not runnable here.
    /// </summary>
    public const string Int8KernelVariable = "EDGEGUARD_INT8_KERNEL";

    /// <summary>Assembly metadata key of the int8 kernel a firmware-profile build was made for (<c>make publish PROFILE=…</c>).</summary>
    public const string ProfileInt8KernelKey = "EdgeGuard.Int8Kernel";

    private static string? s_ignoredRequest;

    /// <summary>The int8 GEMM variant.</summary>
    public static readonly Int8GemmVariant Int8 = SelectInt8();

    /// <summary>The float32 GEMM variant: the widest vector size with hardware support.</summary>
    internal static readonly GemmVariant Float32Gemm =
        Vector512.IsHardwareAccelerated ? GemmVariant.Vector512
        : Vector256.IsHardwareAccelerated ? GemmVariant.Vector256
        : Vector128.IsHardwareAccelerated ? GemmVariant.Vector128
        : GemmVariant.Scalar;

    /// <summary>Whether GELU runs its <see cref="Vector{T}"/> twin.</summary>
    internal static readonly bool VectorGelu = Vector.IsHardwareAccelerated;

    /// <summary>Whether activation quantisation runs its <see cref="Vector{T}"/> twin.</summary>
    internal static readonly bool VectorActivationQuantizer = Vector.IsHardwareAccelerated;

    /// <summary>One line for logs and <c>--version</c> style output: every choice and the vector width.</summary>
    public static string Describe() =>
        $"int8 GEMM {Int8}, float32 GEMM {Float32Gemm}, GELU {(VectorGelu ? "vector" : "scalar")}, quantiser {(VectorActivationQuantizer ? "vector" : "scalar")}, Vector<float> {Vector<float>.Count} lanes"
        + (s_ignoredRequest is null ? string.Empty : $" ({s_ignoredRequest})");

    /// <summary>
    /// Why this CPU cannot run a firmware profile whose int8 kernel is <paramref name="int8Kernel"/>, or null when it can.
    /// A CPU with more than the profile needs (a Pi 5 running the Pi 4 build) is fine; one with less is not.
    /// </summary>
    /// <param name="profile">The profile's name, for the message.</param>
    /// <param name="int8Kernel">The profile's <c>int8Kernel</c> (an <see cref="Int8GemmVariant"/> name).</param>
    /// <param name="isSupported">Whether a variant runs here; <see cref="Int8Gemm.IsSupported"/> outside tests.</param>
    public static string? ProfileProblem(string profile, string int8Kernel, Func<Int8GemmVariant, bool>? isSupported = null)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(int8Kernel);
        if (!Enum.TryParse(int8Kernel, out Int8GemmVariant expected) || !Enum.IsDefined(expected))
        {
            return $"firmware profile '{profile}' names an unknown int8 kernel '{int8Kernel}' (known: {string.Join(", ", Enum.GetNames<Int8GemmVariant>())}).";
        }

        if (!(isSupported ?? Int8Gemm.IsSupported)(expected))
        {
            return $"firmware profile '{profile}' needs the int8 kernel {expected}, whose instructions this CPU lacks (it would run {Int8}). "
                + "Use the build and profile for this board (firmware-profiles/*.json), or a plain `dotnet` build, which adapts to any CPU.";
        }

        return null;
    }

    /// <summary>
    /// The variant <see cref="Int8KernelVariable"/> asks for, else the one the firmware profile of this build names, else
    /// the default: the fastest this CPU runs by the measurements in docs/performance.md.
    /// </summary>
    private static Int8GemmVariant SelectInt8()
    {
        foreach ((string source, string? name) in new[]
        {
            (Int8KernelVariable, Environment.GetEnvironmentVariable(Int8KernelVariable)),
            ("the firmware profile", ProfileInt8Kernel()),
        })
        {
            if (string.IsNullOrEmpty(name))
            {
                continue;
            }

            if (Enum.TryParse(name, out Int8GemmVariant requested) && Enum.IsDefined(requested) && Int8Gemm.IsSupported(requested))
            {
                return requested;
            }

            s_ignoredRequest ??= $"{source} asked for int8 kernel '{name}', which this CPU cannot run or which does not exist";
        }

        return DefaultInt8();
    }

    private static string? ProfileInt8Kernel() =>
        System.Reflection.Assembly.GetEntryAssembly() is { } entry
            ? System.Reflection.CustomAttributeExtensions.GetCustomAttributes<System.Reflection.AssemblyMetadataAttribute>(entry).FirstOrDefault(a => a.Key == ProfileInt8KernelKey)?.Value
            : null;

    // On AVX-512BW CPUs the offset kernel first: on a 2-core Zen 5 EPYC (AVX-512 + AVX-VNNI) it took 0.68x AvxVnni's and
    // 0.54x Avx512BW's time for DeBERTa-v3 base int8 at 128 tokens with 7-bit weights, 0.86x and 0.67x with 8-bit ones
    // (medians of 5 alternating rounds; docs/performance.md).
    private static Int8GemmVariant DefaultInt8() =>
        Avx512BW.IsSupported ? Int8GemmVariant.Avx512BWOffset
        : AvxVnni.IsSupported ? Int8GemmVariant.AvxVnni
        : Avx2.IsSupported ? Int8GemmVariant.Avx2
        : Dp.IsSupported ? Int8GemmVariant.AdvSimdDp
        : AdvSimd.IsSupported ? Int8GemmVariant.AdvSimd
        : Int8GemmVariant.Scalar;
}
