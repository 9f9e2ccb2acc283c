using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

[assembly: DisableRuntimeMarshalling]

namespace EdgeGuard.Native;

/// <summary>
/// The managed entry points behind the functions of <c>include/edgeguard.h</c>, which the library exports from C
/// (<c>native/edgeguard_gate.c</c>: it checks the CPU first and answers versions and status names itself); each is
/// called as <c>edgeguard_managed_&lt;function&gt;</c>. Each one checks the caller's pointers and lengths before reading
/// them, does its work through <see cref="Guard"/>, and ends in <see cref="Boundary.Fail"/> on any exception: a status
/// code and a thread-local message, never an exception crossing into C.
/// </summary>
internal static unsafe class Exports
{
    /// <summary>The prefix of the managed entry points' symbols.</summary>
    internal const string Prefix = "edgeguard_managed_";

    /// <summary>
    /// The least <c>edgeguard_model_info</c> a caller may pass: the struct of ABI 1. Fields appended later are written
    /// only to callers whose struct_size covers them; this stays the size of the ABI 1 struct.
    /// </summary>
    internal static readonly uint ModelInfoVersion1Size = (uint)sizeof(NativeModelInfo);

    [UnmanagedCallersOnly(EntryPoint = Prefix + "last_error")]
    public static byte* LastErrorMessage() => LastError.Current;

    [UnmanagedCallersOnly(EntryPoint = Prefix + "open")]
    public static int Open(byte* path, nuint pathLength, NativeOptions* options, nint* outGuard)
    {
        try
        {
            Utf8Arguments.NotNull(outGuard, "out_guard");
            *outGuard = 0;
            string modelPath = Utf8Arguments.Path(path, pathLength);
            GuardOptions guardOptions = OptionsReader.Read(options);
            GC.KeepAlive(PrebuiltTypes.Arrays);
            if (BuildProfile.Problem is { } problem)
            {
                throw new AbiException(Status.UnsupportedCpu, problem);
            }

            Guard guard;
            try
            {
                guard = Guard.Open(modelPath, guardOptions);
            }
            catch (ArgumentOutOfRangeException e) when (OptionField(e.ParamName) is { } field)
            {
                throw new AbiException(Status.InvalidArgument, $"options->{field} is {e.ActualValue}: {FirstLine(e.Message)}");
            }

            OpenGuard opened;
            try
            {
                opened = new OpenGuard(guard);
            }
            catch
            {
                guard.Dispose();
                throw;
            }

            *outGuard = GuardHandles.Add(opened);
            return (int)Status.Ok;
        }
        catch (Exception e)
        {
            return Boundary.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = Prefix + "classify")]
    public static int Classify(nint guard, byte* prompt, nuint promptLength, byte* response, nuint responseLength, NativeVerdict* outVerdict)
    {
        try
        {
            OpenGuard opened = GuardHandles.Get(guard);
            Utf8Arguments.NotNull(outVerdict, "out_verdict");
            var input = new GuardInput(Utf8Arguments.Text(prompt, promptLength, "prompt"), Utf8Arguments.OptionalText(response, responseLength, "response"));
            Verdict verdict = Run(opened, [input])[0];
            *outVerdict = opened.ToNative(verdict);
            return (int)Status.Ok;
        }
        catch (Exception e)
        {
            return Boundary.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = Prefix + "classify_batch")]
    public static int ClassifyBatch(nint guard, NativeInput* inputs, nuint count, NativeVerdict* outVerdicts)
    {
        try
        {
            OpenGuard opened = GuardHandles.Get(guard);
            if (count == 0)
            {
                return (int)Status.Ok;
            }

            Utf8Arguments.NotNull(inputs, "inputs");
            Utf8Arguments.NotNull(outVerdicts, "out_verdicts");
            if (count > AbiLimits.MaxBatchInputs)
            {
                throw new AbiException(Status.InvalidArgument, $"count is {count}; one batch takes at most {AbiLimits.MaxBatchInputs} inputs (EDGEGUARD_MAX_BATCH_INPUTS).");
            }

            var batch = new GuardInput[(int)count];
            for (int i = 0; i < batch.Length; i++)
            {
                NativeInput input = inputs[i];
                batch[i] = new GuardInput(
                    Utf8Arguments.Text((byte*)input.Prompt, input.PromptLength, $"inputs[{i}].prompt"),
                    Utf8Arguments.OptionalText((byte*)input.Response, input.ResponseLength, $"inputs[{i}].response"));
            }

            IReadOnlyList<Verdict> verdicts = Run(opened, batch);
            for (int i = 0; i < batch.Length; i++)
            {
                outVerdicts[i] = opened.ToNative(verdicts[i]);
            }

            return (int)Status.Ok;
        }
        catch (Exception e)
        {
            return Boundary.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = Prefix + "get_model_info")]
    public static int GetModelInfo(nint guard, NativeModelInfo* info)
    {
        try
        {
            OpenGuard opened = GuardHandles.Get(guard);
            Utf8Arguments.NotNull(info, "info");
            uint size = info->StructSize;
            if (size < ModelInfoVersion1Size)
            {
                throw new AbiException(Status.InvalidArgument,
                    $"info->struct_size is {size}; set it to sizeof(edgeguard_model_info) (at least {ModelInfoVersion1Size} bytes for ABI {AbiLimits.AbiVersion}).");
            }

            // An older caller's shorter struct gets the fields it knows; a newer caller's longer one keeps the fields
            // this library does not know as the caller left them.
            NativeModelInfo filled = opened.Info();
            filled.StructSize = size;
            Buffer.MemoryCopy(&filled, info, size, Math.Min(size, (uint)sizeof(NativeModelInfo)));
            return (int)Status.Ok;
        }
        catch (Exception e)
        {
            return Boundary.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = Prefix + "close")]
    public static int Close(nint guard)
    {
        try
        {
            if (guard == 0)
            {
                return (int)Status.Ok;
            }

            GuardHandles.Remove(guard).Dispose();
            return (int)Status.Ok;
        }
        catch (Exception e)
        {
            return Boundary.Fail(e);
        }
    }

    /// <summary>
    /// Classifies inputs the boundary has already checked; what <see cref="Guard"/> still refuses with an
    /// <see cref="ArgumentException"/> is input needing more windows than <see cref="GuardOptions.MaxWindows"/>.
    /// </summary>
    private static IReadOnlyList<Verdict> Run(OpenGuard opened, GuardInput[] inputs)
    {
        try
        {
            return opened.Guard.ClassifyBatch(inputs);
        }
        catch (ArgumentException e)
        {
            throw new AbiException(Status.InputTooLong, FirstLine(e.Message));
        }
    }

    /// <summary>The <c>edgeguard_options</c> field behind a <see cref="GuardOptions"/> property that refused its value.</summary>
    private static string? OptionField(string? property) => property switch
    {
        nameof(GuardOptions.Threads) => "threads",
        nameof(GuardOptions.Threshold) => "threshold",
        nameof(GuardOptions.WindowTokens) => "window_tokens",
        nameof(GuardOptions.WindowStride) => "window_stride",
        nameof(GuardOptions.MaxWindows) => "max_windows",
        nameof(GuardOptions.MaxBatch) => "max_batch",
        nameof(GuardOptions.UnsafeLabel) => "unsafe_label",
        _ => null,
    };

    private static string FirstLine(string message)
    {
        int end = message.AsSpan().IndexOfAny('\r', '\n');
        string line = end < 0 ? message : message[..end];

        // ArgumentException appends " (Parameter 'Name')", which names a C# property the C caller never sees.
        int parameter = line.LastIndexOf(" (Parameter '", StringComparison.Ordinal);
        return parameter < 0 ? line : line[..parameter];
    }
}
