namespace EdgeGuard.ModelFiles;

/// <summary>
/// Named weights of one model, whatever file they come from (a safetensors file, a bundle).
/// Model graphs load through this interface only, so every container is validated the same way.
/// </summary>
public interface ITensorSource : IDisposable
{
    /// <summary>Where the tensors come from, for error messages (a path).</summary>
    string Origin { get; }

    /// <summary>Every tensor in the source.</summary>
    IReadOnlyCollection<TensorInfo> Tensors { get; }

    /// <summary>The tensor called <paramref name="name"/>, or null.</summary>
    TensorInfo? Find(string name);

    /// <summary>
    /// The tensor's elements as float32, row-major. Zero-copy when stored as aligned F32;
    /// converted into a new array otherwise. Valid until the source is disposed.
    /// </summary>
    /// <exception cref="ModelFileException">No such tensor.</exception>
    ReadOnlyMemory<float> ReadFloat32(string name);
}
