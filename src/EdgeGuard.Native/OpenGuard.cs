namespace EdgeGuard.Native;

/// <summary>
/// A guard behind a C handle, with the strings it hands out (labels, model description) as NUL-terminated UTF-8 that
/// stays at one address until the guard is closed.
/// </summary>
internal sealed unsafe class OpenGuard : IDisposable
{
    private readonly byte[][] _labels;
    private readonly nint[] _labelTable;
    private readonly byte[] _path;
    private readonly byte[] _format;
    private readonly byte[] _precision;
    private readonly byte[] _name;
    private readonly byte[] _architecture;
    private readonly byte[] _kernels;

    public OpenGuard(Guard guard)
    {
        Guard = guard;
        GuardModelInfo model = guard.Model;
        _labels = [.. model.Labels.Select(StaticText.PinnedUtf8)];
        _labelTable = GC.AllocateArray<nint>(_labels.Length, pinned: true);
        for (int i = 0; i < _labels.Length; i++)
        {
            _labelTable[i] = (nint)StaticText.Address(_labels[i]);
        }

        _path = StaticText.PinnedUtf8(model.Path);
        _format = StaticText.PinnedUtf8(model.Format);
        _precision = StaticText.PinnedUtf8(model.Precision);
        _name = StaticText.PinnedUtf8(model.Name ?? "");
        _architecture = StaticText.PinnedUtf8(model.Architecture ?? "");
        _kernels = StaticText.PinnedUtf8(Kernels.KernelSet.Describe());
    }

    public Guard Guard { get; }

    /// <summary>The C verdict of <paramref name="verdict"/>; its label points into this guard's strings.</summary>
    public NativeVerdict ToNative(Verdict verdict)
    {
        int index = LabelIndex(verdict.Label);
        return new NativeVerdict
        {
            UnsafeScore = verdict.UnsafeScore,
            Flagged = verdict.Flagged ? 1 : 0,
            LabelIndex = index,
            TokenCount = verdict.TokenCount,
            Windows = verdict.Windows,
            Truncated = verdict.Truncated ? 1 : 0,
            Label = _labelTable[index],
        };
    }

    /// <summary>Every field of <c>edgeguard_model_info</c> but its struct_size.</summary>
    public NativeModelInfo Info()
    {
        GuardModelInfo model = Guard.Model;
        return new NativeModelInfo
        {
            LabelCount = _labels.Length,
            Path = (nint)StaticText.Address(_path),
            Format = (nint)StaticText.Address(_format),
            Precision = (nint)StaticText.Address(_precision),
            Name = (nint)StaticText.Address(_name),
            Architecture = (nint)StaticText.Address(_architecture),
            Labels = (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(_labelTable)),
            UnsafeLabel = model.UnsafeLabel,
            ModelThreshold = model.Threshold,
            Threshold = Guard.Threshold,
            Layers = model.Layers,
            HiddenSize = model.HiddenSize,
            MaxSequenceLength = model.MaxSequenceLength,
            VocabularySize = model.VocabularySize,
            WindowTokens = Guard.WindowTokens,
            Threads = Guard.Threads,
            Kernels = (nint)StaticText.Address(_kernels),
        };
    }

    /// <summary>Waits for calls in flight, then releases the model. The strings are released with this object.</summary>
    public void Dispose() => Guard.Dispose();

    private int LabelIndex(string label)
    {
        var labels = Guard.Model.Labels;
        for (int i = 0; i < labels.Count; i++)
        {
            if (labels[i] == label)
            {
                return i;
            }
        }

        throw new InvalidOperationException($"The verdict's label '{label}' is not one of the model's labels.");
    }
}
